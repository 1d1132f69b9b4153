// Package promrules writes the Prometheus rules that watch one flag's
// rollout in one environment: recording rules for the error rate, the
// latency quantiles and the traffic of the canary and the baseline, and
// alerting rules for each guard of the rollout plan, absolute (the
// guard's critical limit) and against the baseline (the guard's margin).
// Alerts carry the labels ramp's Alertmanager receiver reads (ramp_flag,
// ramp_env, severity), so that a critical one rolls the flag back
// (docs/alerts.md).
//
// Everything starts from a Target: the flag, the environment, the two
// variants and the plan. Resolve reads one from a ramp server; a Target
// can also be filled in by hand. Then:
//
//   - Generate returns the rules as a File, and File.Marshal writes it as
//     YAML for Prometheus's rule_files (it passes promtool check rules).
//   - Target.ErrorRatio, Target.LatencyQuantile, Target.RequestRate and
//     Target.Requests return the PromQL of one figure of one variant over a
//     range, built from the guard's query templates (package promsource),
//     for guides and dashboards to show the very queries the rules and
//     the rollout controller run.
//
// The package does no I/O but Resolve's calls to the server; its functions
// are safe for concurrent use.
package promrules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

// Target is one flag's rollout in one environment, as the rules and
// queries see it.
type Target struct {
	// Flag and Environment are the keys of the flag and the environment.
	Flag        string
	Environment string
	// Canary is the variant rolled out; Baseline is the variant the rest
	// of the users get (the environment's off variant).
	Canary   string
	Baseline string
	// Plan is the rollout plan whose guards the alerts follow.
	Plan rollout.Plan
	// Origin says where Plan came from, for people: "rollout 12
	// (running)", or "template standard" when the flag has no rollout.
	Origin string
	// Default is true when the flag has no rollout in the environment and
	// Plan is a template's.
	Default bool
	// RolloutID and RolloutStatus are those of the rollout Plan came
	// from; zero when Default.
	RolloutID     int64
	RolloutStatus ramp.RolloutStatus
}

// DefaultTemplate is the template whose plan Resolve uses for a flag that
// has no rollout in the environment: the runbook's standard schedule and
// guards.
const DefaultTemplate = "standard"

// Reader is what Resolve reads from the server: *client.Client implements
// it.
type Reader interface {
	GetFlag(ctx context.Context, key string) (*ramp.Flag, error)
	ListRollouts(ctx context.Context, f client.RolloutFilter) ([]*client.RolloutView, error)
	RolloutTemplates(ctx context.Context) (map[string]rollout.Plan, error)
}

var _ Reader = (*client.Client)(nil)

// Resolve reads the flag and its rollout in env from the server and
// returns the Target: the plan of the active rollout, or else of the most
// recent one, with the variants that rollout compares. When the flag has
// never had a rollout in env, the plan is the named template's (empty
// means DefaultTemplate), the canary the variant "ramp set" would roll
// out, and Default is true. Errors of the server (such as a flag that does
// not exist) are returned as the client gives them; an unknown template or
// environment is an error that lists the known ones.
func Resolve(ctx context.Context, r Reader, flag, env, template string) (Target, error) {
	if env == "" {
		env = ramp.EnvProduction
	}
	if template == "" {
		template = DefaultTemplate
	}
	f, err := r.GetFlag(ctx, flag)
	if err != nil {
		return Target{}, err
	}
	if f.Environments[env] == nil {
		envs := make([]string, 0, len(f.Environments))
		for e := range f.Environments {
			envs = append(envs, e)
		}
		slices.Sort(envs)
		return Target{}, fmt.Errorf("flag %s has no environment %q: use one of %s", flag, env, strings.Join(envs, ", "))
	}
	t := Target{Flag: flag, Environment: env, Baseline: f.OffVariantKey(env)}
	v, err := latestRollout(ctx, r, flag, env)
	if err != nil {
		return Target{}, err
	}
	if v != nil {
		if t.Plan, err = v.DecodePlan(); err != nil {
			return Target{}, fmt.Errorf("rollout %d: %w", v.ID, err)
		}
		st, err := v.DecodeState()
		if err != nil {
			return Target{}, fmt.Errorf("rollout %d: %w", v.ID, err)
		}
		t.Canary = st.Canary
		if st.Baseline != "" {
			t.Baseline = st.Baseline
		}
		t.Origin = fmt.Sprintf("rollout %d (%s)", v.ID, v.Status)
		t.RolloutID, t.RolloutStatus = v.ID, v.Status
	} else {
		ts, err := r.RolloutTemplates(ctx)
		if err != nil {
			return Target{}, err
		}
		p, ok := ts[template]
		if !ok {
			names := make([]string, 0, len(ts))
			for n := range ts {
				names = append(names, n)
			}
			slices.Sort(names)
			return Target{}, fmt.Errorf("template %q does not exist: use one of %s", template, strings.Join(names, ", "))
		}
		t.Plan, t.Default = p, true
		t.Origin = "template " + template
	}
	t.Plan.Normalize()
	if t.Canary == "" {
		if t.Canary, err = f.RolloutVariant(env, t.Plan.Variant); err != nil {
			return Target{}, fmt.Errorf("flag %s in %s: which variant to watch: %w", flag, env, err)
		}
	}
	return t, t.Check()
}

// latestRollout returns the flag's active rollout in env, or else its
// most recent one, or nil.
func latestRollout(ctx context.Context, r Reader, flag, env string) (*client.RolloutView, error) {
	for _, active := range []bool{true, false} {
		vs, err := r.ListRollouts(ctx, client.RolloutFilter{Flag: flag, Environment: env, Active: active, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(vs) > 0 {
			return vs[0], nil
		}
	}
	return nil, nil
}

// Check reports whether the target can be watched: keys present, two
// different variants, and a plan whose guards are valid.
func (t Target) Check() error {
	var errs []string
	for _, k := range []struct{ what, key string }{{"flag", t.Flag}, {"environment", t.Environment}, {"canary variant", t.Canary}, {"baseline variant", t.Baseline}} {
		if k.key == "" {
			errs = append(errs, k.what+" is required")
		}
	}
	if t.Canary != "" && t.Canary == t.Baseline {
		errs = append(errs, fmt.Sprintf("the canary and the baseline are the same variant %q", t.Canary))
	}
	for _, g := range t.Plan.Guards {
		if err := g.Guard.Validate(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return errors.New("cannot watch the rollout: " + strings.Join(errs, "; "))
	}
	return nil
}

// guard returns the first guard of the plan with the metric, and whether
// there is one.
func (t Target) guard(m judge.Metric) (rollout.Guard, bool) {
	for _, g := range t.Plan.Guards {
		if g.Metric == m {
			return g, true
		}
	}
	return rollout.Guard{}, false
}
