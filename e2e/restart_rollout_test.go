package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

// TestRolloutSurvivesKill9 kills the server with SIGKILL twice in the
// middle of a guarded rollout driven by SDK-reported counts, and restarts
// it each time on the same data directory and address. The rollout must
// go on from the stage it was at: every stage is promoted exactly once,
// in order, none is skipped, and none is left before its minimum
// duration, counted from when the stage went live.
func TestRolloutSurvivesKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, "admin")
	addr := strings.TrimPrefix(s.url, "http://")
	ctx := t.Context()
	const flag = "checkout-v4"
	s.mustRamp("flag", "create", flag, "--type", "boolean")
	// A healthy application: about 5,000 requests a second, the same
	// latencies and no errors on both code paths.
	startSDKApp(t, s, appTraffic{flags: []string{flag}, perTick: 50, latencyMS: 1, spreadMS: 20})

	const stage = 3 * time.Second
	plan := rollout.Plan{
		Stages: []rollout.Stage{
			{Percent: 5, Duration: rollout.Duration(stage)},
			{Percent: 25, Duration: rollout.Duration(stage)},
			{Percent: 50, Duration: rollout.Duration(stage)},
			{Percent: 100},
		},
		Guards:   []rollout.Guard{{Guard: judge.Guard{Name: "errors", Metric: judge.ErrorRate, Critical: 0.05, AbsMargin: 0.001}}},
		Interval: rollout.Duration(time.Second),
	}
	v, err := s.client().StartRollout(ctx, client.StartRolloutRequest{Flag: flag, Environment: "production", Plan: &plan})
	if err != nil {
		t.Fatal(err)
	}
	id := v.ID

	// Kill the server one second into the second stage, and again one
	// second into the third, each time while it is running the rollout.
	for _, at := range []int{1, 2} {
		waitFor(t, 60*time.Second, fmt.Sprintf("stage %d", at), func() bool {
			v, err := s.client().GetRollout(ctx, id)
			return err == nil && v.Stage == at
		})
		time.Sleep(time.Second)
		before, err := s.client().GetRollout(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		s.kill()
		t.Logf("killed the server at stage %d (%s), %v into the stage", before.Stage, before.Status, time.Since(stageStart(t, before)).Round(time.Millisecond))
		s = startServerAt(t, addr, dir, "admin")
		after, err := s.client().GetRollout(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if after.Status != before.Status || after.Stage < before.Stage || after.Stage > before.Stage+1 {
			t.Fatalf("after the restart the rollout is %s at stage %d; before the kill it was %s at stage %d",
				after.Status, after.Stage, before.Status, before.Stage)
		}
	}

	ended := waitEnded(t, s, map[string]int64{flag: id}, 60*time.Second)
	if v := ended[flag]; v.Status != ramp.RolloutPromoted {
		t.Fatalf("the rollout ended %s (%s), want promoted", v.Status, v.Reason)
	}
	if p := statusPercentage(t, s, flag, "production"); p != 100 {
		t.Errorf("the flag serves %v%%, want 100", p)
	}

	// Each transition once, in order, in the audit log ...
	want := []string{"admin " + ramp.ActionRolloutStart,
		rollout.Actor + " " + ramp.ActionRolloutPromote, rollout.Actor + " " + ramp.ActionRolloutPromote,
		rollout.Actor + " " + ramp.ActionRolloutComplete}
	if got := rolloutAudit(t, s, flag); !slices.Equal(got, want) {
		t.Errorf("rollout transitions in the audit log, oldest first:\n got %q\nwant %q", got, want)
	}
	// ... and in the rollout's state: stage after stage, with the
	// percentages of the plan, each stage left no sooner than its minimum
	// duration after it went live.
	st, err := ended[flag].DecodeState()
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		from, to int
		percent  float64
	}
	var got []step
	for _, tr := range st.Transitions {
		got = append(got, step{tr.From, tr.To, tr.Percent})
	}
	wantSteps := []step{{0, 0, 5}, {0, 1, 25}, {1, 2, 50}, {2, 3, 100}}
	if !slices.Equal(got, wantSteps) {
		t.Fatalf("transitions (from, to, percent): got %v, want %v", got, wantSteps)
	}
	for i := 1; i < len(st.Transitions); i++ {
		if in := st.Transitions[i].Time.Sub(st.Transitions[i-1].Time); in < stage {
			t.Errorf("stage %d was left after %v, before its minimum %v", i-1, in, stage)
		}
	}
}
