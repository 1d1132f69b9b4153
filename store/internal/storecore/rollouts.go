package storecore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
)

// RolloutColumns are the columns of the rollouts table in the order the
// stores scan them.
const RolloutColumns = "id, flag, environment, status, stage, plan, state, reason, version, created_by, created_at, updated_at"

// rolloutAudit is the before and after of a rollout's audit row: the
// rollout and what its flag served in the environment.
type rolloutAudit struct {
	Rollout    *ramp.Rollout `json:"rollout"`
	On         bool          `json:"on"`
	Percentage float64       `json:"percentage"`
}

// RolloutAuditJSON returns the JSON of a rollout for an audit row: r and
// what f, which may be nil, serves in r's environment.
func RolloutAuditJSON(r *ramp.Rollout, f *ramp.Flag) (string, error) {
	a := rolloutAudit{Rollout: r}
	if f != nil {
		if fe := f.Environments[r.Environment]; fe != nil {
			a.On = fe.On
		}
		a.Percentage = f.Percentage(r.Environment)
	}
	return MarshalJSON(a)
}

// RolloutNotFound returns the ENOTFOUND error of a rollout that does not
// exist.
func RolloutNotFound(id int64) error {
	return ramp.Errorf(ramp.ENOTFOUND, "rollout %d does not exist", id)
}

// CheckRolloutPlan returns the EINVALID error of a rollout whose plan is
// not JSON, or nil.
func CheckRolloutPlan(r *ramp.Rollout) error {
	if !json.Valid(r.Plan) {
		return ramp.Errorf(ramp.EINVALID, "the rollout plan is not JSON")
	}
	return nil
}

// ActiveRolloutExists returns the ECONFLICT error of creating a rollout of
// flag in env while rollout active is still going on there.
func ActiveRolloutExists(flag, env string, active int64) error {
	return &ramp.Error{Code: ramp.ECONFLICT, Message: fmt.Sprintf("flag %q already has rollout %d in %s; abort it or wait for it to end", flag, active, env)}
}

// NewRollout returns r ready to be stored as a new rollout created by c's
// actor at now: at version 1, pending unless r names a status.
func NewRollout(c ramp.Change, r *ramp.Rollout, now time.Time) ramp.Rollout {
	n := *r
	n.Status = ramp.RolloutPending
	if r.Status != "" {
		n.Status = r.Status
	}
	n.Version, n.CreatedBy, n.CreatedAt, n.UpdatedAt = 1, c.Actor, now, now
	return n
}

// NewRolloutAudit returns the audit row of creating rollout r of flag f.
func NewRolloutAudit(c ramp.Change, r *ramp.Rollout, f *ramp.Flag) (Audit, error) {
	after, err := RolloutAuditJSON(r, f)
	if err != nil {
		return Audit{}, err
	}
	return Audit{Actor: c.Actor, Action: ActionOr(c, ramp.ActionRolloutCreate), Kind: "rollout", Key: r.Flag, Environment: r.Environment, After: after}, nil
}

// cloneRollout returns a copy of r that shares no memory with it.
func cloneRollout(r *ramp.Rollout) *ramp.Rollout {
	n := *r
	n.Plan = bytes.Clone(r.Plan)
	n.State = bytes.Clone(r.State)
	return &n
}

// RolloutUpdate is an update of a rollout and its flag worked out by
// UpdateRollout, for a store to write.
type RolloutUpdate struct {
	// Rollout is the rollout to store, with its next version.
	Rollout *ramp.Rollout
	// Flag is the flag after the update: the stored one if FlagChanged is
	// false, else the one to store, validated and with its next version.
	Flag        *ramp.Flag
	FlagChanged bool
	// Audit is the update's one audit row.
	Audit Audit
}

// UpdateRollout works out the update of rollout cur and its stored flag f,
// whose stored JSON is fdata, by change c. It calls fn on copies of both
// (fn's error comes back as a FnError); fn returns the audit action, empty
// for c.Action. It refuses a change of the rollout's ID, flag or
// environment or of the flag's key, and a state that is not JSON. If fn
// changed the flag, it reads the scope and normalizes, validates and
// versions the flag as UpdateFlag does. The caller checks c.IfVersion
// against cur before it reads f.
func UpdateRollout(c ramp.Change, cur *ramp.Rollout, f *ramp.Flag, fdata string, now time.Time,
	fn func(*ramp.Rollout, *ramp.Flag) (string, error), scope func() (ramp.Scope, error)) (*RolloutUpdate, error) {
	nr := cloneRollout(cur)
	nf := f.Clone()
	action, err := fn(nr, nf)
	if err != nil {
		return nil, FnError{err}
	}
	if action == "" {
		action = c.Action
	}
	if action == "" {
		return nil, errors.New("update rollout: no audit action")
	}
	if nr.ID != cur.ID || nr.Flag != cur.Flag || nr.Environment != cur.Environment {
		return nil, ramp.Errorf(ramp.EINVALID, "a rollout's id, flag and environment cannot change")
	}
	if nf.Key != f.Key {
		return nil, KeyChanged("flag", f.Key, nf.Key)
	}
	if nr.State != nil && !json.Valid(nr.State) {
		return nil, ramp.Errorf(ramp.EINVALID, "the rollout state is not JSON")
	}
	u := &RolloutUpdate{Rollout: nr, Flag: f}
	ndata, err := MarshalJSON(nf)
	if err != nil {
		return nil, err
	}
	if ndata != fdata {
		sc, err := scope()
		if err != nil {
			return nil, err
		}
		if err := finishFlag(nf, f, sc, now); err != nil {
			return nil, err
		}
		u.Flag, u.FlagChanged = nf, true
	}
	nr.Version, nr.UpdatedAt = cur.Version+1, now
	before, err := RolloutAuditJSON(cur, f)
	if err != nil {
		return nil, err
	}
	after, err := RolloutAuditJSON(nr, u.Flag)
	if err != nil {
		return nil, err
	}
	u.Audit = Audit{Actor: c.Actor, Action: action, Kind: "rollout", Key: cur.Flag, Environment: cur.Environment, Before: before, After: after}
	return u, nil
}

// AbortRollout returns active rollout r aborted by actor at now for the
// reason, with its next version, and its audit row. before and after are
// r's flag around the change that aborts it; either may be nil.
func AbortRollout(actor, reason string, r *ramp.Rollout, before, after *ramp.Flag, now time.Time) (*ramp.Rollout, Audit, error) {
	n := *r
	n.Status, n.Reason, n.Version, n.UpdatedAt = ramp.RolloutAborted, reason, r.Version+1, now
	b, err := RolloutAuditJSON(r, before)
	if err != nil {
		return nil, Audit{}, err
	}
	a, err := RolloutAuditJSON(&n, after)
	if err != nil {
		return nil, Audit{}, err
	}
	return &n, Audit{Actor: actor, Action: ramp.ActionRolloutAbort, Kind: "rollout", Key: r.Flag, Environment: r.Environment, Before: b, After: a}, nil
}
