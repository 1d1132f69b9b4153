package httpapi

import (
	"net/http"
	"strconv"

	"github.com/ramp-flags/ramp"
)

// killSwitchPlan is the answer of the kill switch in dry-run mode
// (POST .../rollback?dry_run=true): what the kill switch would do, checked
// as the real one checks it, with nothing written.
type killSwitchPlan struct {
	DryRun      bool   `json:"dryRun"`
	Flag        string `json:"flag"`
	Environment string `json:"environment"`
	// WouldChange is false when the flag is already off in the environment
	// (the kill switch would still write its audit row).
	WouldChange bool       `json:"wouldChange"`
	Before      envServing `json:"before"`
	After       envServing `json:"after"`
	// AbortsRollout is the ID of the active rollout the kill switch would
	// abort, if any.
	AbortsRollout *int64 `json:"abortsRollout,omitempty"`
	// Actions are the audit actions the kill switch would write.
	Actions []string `json:"actions"`
}

// envServing is what a flag serves in one environment.
type envServing struct {
	On         bool    `json:"on"`
	Percentage float64 `json:"percentage"`
	Variant    string  `json:"variant,omitempty"`
	OffVariant string  `json:"offVariant"`
}

func serving(f *ramp.Flag, env string) envServing {
	e := envServing{Percentage: f.Percentage(env), Variant: f.RolledOut(env), OffVariant: f.OffVariantKey(env)}
	if fe := f.Environments[env]; fe != nil {
		e.On = fe.On
	}
	return e
}

// dryRunParam reads the dry_run query parameter of q: true, false, 1 or 0.
func dryRunParam(q map[string]string) (bool, error) {
	v, ok := q["dry_run"]
	if !ok || v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, ramp.Errorf(ramp.EBADREQUEST, "dry_run=%q is not true or false", v)
	}
	return b, nil
}

// rollbackDryRun checks that the kill switch of the flag in env would
// work, and says what it would change, without writing: the flag is read,
// turned off on a copy and validated as the store would validate it, and
// the active rollout it would abort is looked up.
func (s *Server) rollbackDryRun(w http.ResponseWriter, r *http.Request, key, env string) error {
	ctx := r.Context()
	f, err := s.store.GetFlag(ctx, key)
	if err != nil {
		return err
	}
	after := f.Clone()
	after.Rollback(env)
	envs, err := s.store.ListEnvironments(ctx)
	if err != nil {
		return err
	}
	segs, err := s.store.ListSegments(ctx)
	if err != nil {
		return err
	}
	var sc ramp.Scope
	for _, e := range envs {
		sc.Environments = append(sc.Environments, e.Key)
	}
	for _, sg := range segs {
		sc.Segments = append(sc.Segments, sg.Key)
	}
	after.Normalize(sc.Environments)
	if err := after.Validate(sc); err != nil {
		return err
	}
	p := killSwitchPlan{DryRun: true, Flag: key, Environment: env, Before: serving(f, env), After: serving(after, env),
		Actions: []string{ramp.ActionFlagRollback}}
	p.WouldChange = p.Before != p.After
	if s.rolloutStore != nil {
		active, err := s.rolloutStore.ListRollouts(ctx, ramp.RolloutFilter{Flag: key, Environment: env, Active: true, Limit: 1})
		if err != nil {
			return err
		}
		if len(active) > 0 {
			id := active[0].ID
			p.AbortsRollout = &id
			p.Actions = append(p.Actions, ramp.ActionRolloutAbort)
		}
	}
	return writeJSON(w, http.StatusOK, p)
}
