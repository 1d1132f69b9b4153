package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/client"
)

// TestGuardedRolloutWithCLI drives a guarded rollout by hand with the ramp
// command against a real server: start from a template, pause, resume,
// promote and abort, then the kill switch on a running rollout, and the
// audit trail of it all. No application reports figures here, so every
// analysis is inconclusive and the controller only holds: every transition
// is a person's.
func TestGuardedRolloutWithCLI(t *testing.T) {
	s := startServer(t, t.TempDir(), "")
	const flag = "checkout-v3"
	s.mustRamp("flag", "create", flag, "--type", "boolean")

	out := s.mustRamp("rollout", "start", flag, "--template", "demo")
	if !strings.Contains(out, "started rollout") || !strings.Contains(out, "5% for 20s, 25% for 20s, 50% for 20s, 100%") {
		t.Errorf("rollout start printed:\n%s", out)
	}

	status := func() client.RolloutView {
		t.Helper()
		var v client.RolloutView
		if err := json.Unmarshal([]byte(s.mustRamp("rollout", "status", flag, "-o", "json")), &v); err != nil {
			t.Fatalf("rollout status -o json: %v", err)
		}
		return v
	}
	lastPercent := func(v client.RolloutView) float64 {
		t.Helper()
		st, err := v.DecodeState()
		if err != nil || len(st.Transitions) == 0 {
			t.Fatalf("state %+v: %v", st, err)
		}
		return st.Transitions[len(st.Transitions)-1].Percent
	}

	v := status()
	if v.Flag != flag || v.Environment != "production" || v.Status != "running" || v.Stage != 0 || lastPercent(v) != 5 {
		t.Errorf("after start: %s at stage %d, %v%%", v.Status, v.Stage, lastPercent(v))
	}
	if p := statusPercentage(t, s, flag, "production"); p != 5 {
		t.Errorf("after start the flag serves %v%%, want 5", p)
	}
	table := s.mustRamp("rollout", "status", flag)
	for _, want := range []string{"Status:       running, stage 1 of 4 at 5%", "current [", "rollout.start"} {
		if !strings.Contains(table, want) {
			t.Errorf("rollout status does not show %q:\n%s", want, table)
		}
	}

	s.mustRamp("rollout", "pause", flag, "--reason", "deploy freeze")
	if v := status(); v.Status != "paused" || v.Reason != "deploy freeze" {
		t.Errorf("after pause: %s, reason %q", v.Status, v.Reason)
	}
	s.mustRamp("rollout", "resume", flag)
	if v := status(); v.Status != "running" {
		t.Errorf("after resume: %s", v.Status)
	}
	s.mustRamp("rollout", "promote", flag)
	if v := status(); v.Status != "running" || v.Stage != 1 || lastPercent(v) != 25 {
		t.Errorf("after promote: %s at stage %d, %v%%", v.Status, v.Stage, lastPercent(v))
	}
	if p := statusPercentage(t, s, flag, "production"); p != 25 {
		t.Errorf("after promote the flag serves %v%%, want 25", p)
	}
	s.mustRamp("rollout", "abort", flag, "--reason", "support tickets")
	if v := status(); v.Status != "aborted" || v.Reason != "support tickets" {
		t.Errorf("after abort: %s, reason %q", v.Status, v.Reason)
	}
	if p := statusPercentage(t, s, flag, "production"); p != 0 {
		t.Errorf("after abort the flag serves %v%%, want 0", p)
	}
	// A script gating on the rollout sees that it did not end promoted.
	if r := s.ramp(nil, "rollout", "status", flag, "--watch"); r.code != 1 || !strings.Contains(r.stderr, "was aborted: support tickets") {
		t.Errorf("rollout status --watch of an aborted rollout: exit %d, stderr %s", r.code, r.stderr)
	}
	if r := s.ramp(nil, "rollout", "promote", flag); r.code != 1 || !strings.Contains(r.stderr, "has no active rollout in production") {
		t.Errorf("promote without an active rollout: exit %d, stderr %s", r.code, r.stderr)
	}

	// The kill switch aborts a running rollout and wins over it.
	s.mustRamp("rollout", "start", flag, "--stages", "10:1h,100", "--guard", "error-rate")
	if p := statusPercentage(t, s, flag, "production"); p != 10 {
		t.Errorf("after the second start the flag serves %v%%, want 10", p)
	}
	s.mustRamp("rollback", flag)
	if v := status(); v.Status != "aborted" || v.Reason != "kill switch by bootstrap" {
		t.Errorf("after the kill switch: %s, reason %q", v.Status, v.Reason)
	}
	if p := statusPercentage(t, s, flag, "production"); p != 0 {
		t.Errorf("after the kill switch the flag serves %v%%, want 0", p)
	}
	if out := s.mustRamp("rollout", "list"); strings.Contains(out, flag) {
		t.Errorf("an active rollout is left after the kill switch:\n%s", out)
	}

	// The audit log has every transition with its actor. Rollout rows have
	// kind "rollout" and the flag's key, so they are selected by --key:
	// "ramp audit --flag" selects kind "flag" only.
	var entries []struct{ Actor, Action, Environment string }
	if err := json.Unmarshal([]byte(s.mustRamp("audit", "--key", flag, "-o", "json")), &entries); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(entries) - 1; i >= 0; i-- { // oldest first
		e := entries[i]
		if e.Actor != "bootstrap" {
			t.Errorf("audit entry %+v: want actor bootstrap", e)
		}
		got = append(got, e.Action)
	}
	want := []string{"flag.create",
		"rollout.create", "rollout.start", "rollout.pause", "rollout.resume", "rollout.promote", "rollout.abort",
		"rollout.create", "rollout.start", "flag.rollback", "rollout.abort"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("audit, oldest first:\n got %v\nwant %v", got, want)
	}
}

// TestRolloutWatchGatesOnPromotion checks the exit status scripts rely on:
// a watch of a rollout that ends promoted exits 0.
func TestRolloutWatchGatesOnPromotion(t *testing.T) {
	s := startServer(t, t.TempDir(), "")
	s.mustRamp("flag", "create", "search-v2", "--type", "boolean")
	s.mustRamp("rollout", "start", "search-v2", "--stages", "50:1h,100", "--env", "staging")
	out := s.mustRamp("rollout", "promote", "search-v2", "--env", "staging")
	if !strings.Contains(out, "completed: promoted, 100%") {
		t.Errorf("promote from the second-last stage printed %q", out)
	}
	r := s.ramp(nil, "rollout", "status", "search-v2", "--env", "staging", "--watch")
	if r.code != 0 || !strings.Contains(r.stdout, "Status:       promoted: done, 100%") {
		t.Errorf("watch of a promoted rollout: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if p := statusPercentage(t, s, "search-v2", "staging"); p != 100 {
		t.Errorf("staging serves %v%%, want 100", p)
	}
}
