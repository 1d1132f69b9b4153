package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/ramp-flags/ramp"
)

func newRollout(flag, env string) *ramp.Rollout {
	return &ramp.Rollout{Flag: flag, Environment: env, Plan: json.RawMessage(`{"stages":[{"percent":5},{"percent":100}]}`)}
}

// testRollouts checks creation, the one-active-rollout rule, and that a
// rollout update changes the rollout and its flag in one transaction with
// one audit row.
func testRollouts(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	mustCreateFlag(t, s, newFlag("guarded"))
	c := ramp.Change{Actor: "release-owner"}

	if _, err := s.CreateRollout(ctx, c, newRollout("nope", "production")); ramp.ErrorCode(err) != ramp.ENOTFOUND {
		t.Errorf("rollout of an unknown flag: %v", err)
	}
	if _, err := s.CreateRollout(ctx, c, newRollout("guarded", "nowhere")); ramp.ErrorCode(err) != ramp.ENOTFOUND {
		t.Errorf("rollout in an unknown environment: %v", err)
	}
	r, err := s.CreateRollout(ctx, c, newRollout("guarded", "production"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == 0 || r.Status != ramp.RolloutPending || r.Version != 1 || r.CreatedBy != "release-owner" {
		t.Fatalf("created rollout %+v", r)
	}
	if _, err := s.CreateRollout(ctx, c, newRollout("guarded", "production")); ramp.ErrorCode(err) != ramp.ECONFLICT {
		t.Errorf("second active rollout: %v, want a conflict", err)
	}
	if _, err := s.CreateRollout(ctx, c, newRollout("guarded", "staging")); err != nil {
		t.Errorf("a rollout in another environment: %v", err)
	}

	flagBefore := mustGetFlag(t, s, "guarded")
	var r2 *ramp.Rollout
	entry := oneAudit(t, s, wantAudit{Actor: "controller", Action: ramp.ActionRolloutPromote, Kind: "rollout", Key: "guarded", Environment: "production", Before: true, After: true}, func() {
		var f *ramp.Flag
		r2, f, err = s.UpdateRollout(ctx, ramp.Change{Actor: "controller", Action: ramp.ActionRolloutPromote, IfVersion: 1}, r.ID, func(r *ramp.Rollout, f *ramp.Flag) (string, error) {
			r.Status, r.Stage, r.State = ramp.RolloutRunning, 1, json.RawMessage(`{"n":1}`)
			return "", f.SetPercentage("production", 5, "")
		})
		if err != nil {
			t.Fatal(err)
		}
		if f.Version != flagBefore.Version+1 || f.Percentage("production") != 5 {
			t.Errorf("flag after the update: version %d, %v%%", f.Version, f.Percentage("production"))
		}
	})
	if r2.Version != 2 || r2.Stage != 1 || r2.Status != ramp.RolloutRunning || string(r2.State) != `{"n":1}` {
		t.Errorf("updated rollout %+v", r2)
	}
	var after struct{ Percentage float64 }
	if err := json.Unmarshal(entry.After, &after); err != nil || after.Percentage != 5 {
		t.Errorf("audit after %s: want the flag's percentage 5", entry.After)
	}
	if got, err := s.GetRollout(ctx, r.ID); err != nil || got.Version != 2 || got.Stage != 1 {
		t.Errorf("GetRollout: %+v, %v", got, err)
	}

	// A stale version and an error from fn change nothing.
	noAudit(t, s, "stale rollout update", func() {
		_, _, err := s.UpdateRollout(ctx, ramp.Change{Actor: "x", Action: ramp.ActionRolloutPromote, IfVersion: 1}, r.ID, func(*ramp.Rollout, *ramp.Flag) (string, error) { return "", nil })
		var e *ramp.Error
		if !errors.As(err, &e) || e.Code != ramp.ECONFLICT || e.Version != 2 {
			t.Errorf("stale update: %v, want a conflict at version 2", err)
		}
	})
	boom := errors.New("boom")
	noAudit(t, s, "failed rollout update", func() {
		_, _, err := s.UpdateRollout(ctx, ramp.Change{Actor: "x", Action: ramp.ActionRolloutPromote}, r.ID, func(r *ramp.Rollout, f *ramp.Flag) (string, error) {
			r.Stage = 7
			_ = f.SetPercentage("production", 50, "")
			return "", boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("fn error: %v", err)
		}
	})
	if f := mustGetFlag(t, s, "guarded"); f.Percentage("production") != 5 {
		t.Errorf("a failed update changed the flag to %v%%", f.Percentage("production"))
	}
	// An invalid flag change is rejected with the rollout untouched.
	noAudit(t, s, "invalid flag change", func() {
		_, _, err := s.UpdateRollout(ctx, ramp.Change{Actor: "x", Action: ramp.ActionRolloutPromote}, r.ID, func(r *ramp.Rollout, f *ramp.Flag) (string, error) {
			f.Environments["production"].Fallthrough.Variant = "missing"
			return "", nil
		})
		if ramp.ErrorCode(err) != ramp.EINVALID {
			t.Errorf("invalid flag: %v", err)
		}
	})

	active, err := s.ListRollouts(ctx, ramp.RolloutFilter{Flag: "guarded", Active: true})
	if err != nil || len(active) != 2 {
		t.Fatalf("active rollouts: %d, %v", len(active), err)
	}
	oneAudit(t, s, wantAudit{Actor: "x", Action: ramp.ActionRolloutComplete, Kind: "rollout", Key: "guarded", Environment: "production", Before: true, After: true}, func() {
		// The action fn returns wins over the change's.
		if _, _, err := s.UpdateRollout(ctx, ramp.Change{Actor: "x", Action: ramp.ActionRolloutPromote}, r.ID, func(r *ramp.Rollout, f *ramp.Flag) (string, error) {
			r.Status = ramp.RolloutPromoted
			return ramp.ActionRolloutComplete, nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	active, _ = s.ListRollouts(ctx, ramp.RolloutFilter{Flag: "guarded", Environment: "production", Active: true})
	if len(active) != 0 {
		t.Errorf("a promoted rollout is still active")
	}
	if _, err := s.CreateRollout(ctx, c, newRollout("guarded", "production")); err != nil {
		t.Errorf("a new rollout after the last ended: %v", err)
	}
}

// testRolloutKillSwitch checks that the kill switch and deletions abort
// active rollouts in the same transaction.
func testRolloutKillSwitch(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	mustCreateFlag(t, s, newFlag("risky"))
	prod, err := s.CreateRollout(ctx, ramp.Change{Actor: "a"}, newRollout("risky", "production"))
	if err != nil {
		t.Fatal(err)
	}
	staging, err := s.CreateRollout(ctx, ramp.Change{Actor: "a"}, newRollout("risky", "staging"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateFlag(ctx, ramp.Change{Actor: "oncall", Action: ramp.ActionFlagRollback, Environment: "production"}, "risky", func(f *ramp.Flag) error {
		f.Rollback("production")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetRollout(ctx, prod.ID)
	if got.Status != ramp.RolloutAborted || got.Reason == "" {
		t.Errorf("after the kill switch the production rollout is %s (%q), want aborted with a reason", got.Status, got.Reason)
	}
	if got, _ := s.GetRollout(ctx, staging.ID); got.Status != ramp.RolloutPending {
		t.Errorf("the kill switch in production touched the staging rollout: %s", got.Status)
	}
	entries := listAudit(t, s, ramp.AuditFilter{Kind: "rollout", Key: "risky", Limit: 1})
	if len(entries) != 1 || entries[0].Action != ramp.ActionRolloutAbort || entries[0].Actor != "oncall" {
		t.Errorf("abort audit: %+v", entries)
	}
	if err := s.DeleteFlag(ctx, ramp.Change{Actor: "b"}, "risky"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetRollout(ctx, staging.ID); got.Status != ramp.RolloutAborted {
		t.Errorf("deleting the flag left its rollout %s", got.Status)
	}
}

func testAnalyses(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ctx := context.Background()
	mustCreateFlag(t, s, newFlag("judged"))
	r, err := s.CreateRollout(ctx, ramp.Change{Actor: "a"}, newRollout("judged", "production"))
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range []string{"hold", "hold", "promote"} {
		if _, err := s.AddAnalysis(ctx, ramp.Analysis{RolloutID: r.ID, Stage: i / 2, Decision: d, Verdicts: json.RawMessage(`[{"guard":"errors","outcome":"pass"}]`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddAnalysis(ctx, ramp.Analysis{RolloutID: r.ID, Verdicts: json.RawMessage(`{`)}); ramp.ErrorCode(err) != ramp.EINVALID {
		t.Errorf("bad verdict JSON: %v", err)
	}
	all, err := s.ListAnalyses(ctx, r.ID, 0)
	if err != nil || len(all) != 3 || all[0].Decision != "hold" || all[2].Decision != "promote" || all[2].Time.IsZero() {
		t.Fatalf("analyses: %+v, %v", all, err)
	}
	last, _ := s.ListAnalyses(ctx, r.ID, 2)
	if len(last) != 2 || last[1].ID != all[2].ID {
		t.Errorf("the last two analyses: %+v", last)
	}
}
