package rollout_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

// fullPlan ends with a watched stage at 100 %: no live baseline there.
func fullPlan() rollout.Plan {
	return rollout.Plan{
		Stages: []rollout.Stage{
			{Percent: 50, Duration: rollout.Duration(5 * time.Minute)},
			{Percent: 100, Duration: rollout.Duration(5 * time.Minute)},
		},
		Guards:   []rollout.Guard{{Guard: judge.Guard{Name: "errors", Metric: judge.ErrorRate, AbsMargin: 0.001, Critical: 0.2}}},
		Interval: rollout.Duration(time.Minute),
	}
}

// recordBaseline stores a baseline of the off variant: an hour at 1,000
// requests a second with 0.5 % errors.
func (f *fixture) recordBaseline(source, variant string) {
	f.t.Helper()
	end := f.clock.Now()
	_, err := f.store.SaveBaseline(context.Background(), ramp.Change{Actor: "alice"}, ramp.Baseline{
		Flag: "checkout", Environment: "production", Source: source,
		Figures: ramp.Figures{Variant: variant, From: end.Add(-time.Hour), To: end, Requests: 3.6e6, Errors: 18000, ErrorRate: 0.005, Throughput: 1000},
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) baselineController() *rollout.Controller {
	return rollout.New(rollout.Config{Store: f.store, Sources: map[string]rollout.Source{rollout.SourceSDK: f.src},
		Notifier: f.notes, Now: f.clock.Now, Baselines: f.store})
}

// lastVerdicts returns the verdicts of the rollout's latest analysis as
// the controller records them.
func (f *fixture) lastVerdicts(id int64) (ramp.Analysis, []rollout.Verdict) {
	f.t.Helper()
	as, err := f.store.ListAnalyses(context.Background(), id, 0)
	if err != nil || len(as) == 0 {
		f.t.Fatalf("analyses: %v, %v", as, err)
	}
	last := as[len(as)-1]
	var vs []rollout.Verdict
	if err := json.Unmarshal(last.Verdicts, &vs); err != nil {
		f.t.Fatal(err)
	}
	return last, vs
}

// TestStageAtFullHoldsWithoutBaseline shows the gap the stored baseline
// fills: at 100 % nobody gets the off variant, and the guard stays
// inconclusive for ever.
func TestStageAtFullHoldsWithoutBaseline(t *testing.T) {
	f := newFixture(t)
	ctl := f.baselineController() // no baseline recorded
	r, err := ctl.Start(context.Background(), "alice", "checkout", "production", fullPlan())
	if err != nil {
		t.Fatal(err)
	}
	f.run(30*time.Minute, ctl)
	got := f.rollout(r.ID)
	if got.Status != ramp.RolloutRunning || got.Stage != 1 {
		t.Fatalf("%s at stage %d, want running at the 100%% stage", got.Status, got.Stage)
	}
	a, vs := f.lastVerdicts(r.ID)
	if a.Decision != string(judge.Hold) || vs[0].Outcome != judge.Inconclusive || vs[0].StoredBaseline != nil || !strings.Contains(vs[0].Summary, "baseline has 0") {
		t.Errorf("decision %s, verdict %+v; want hold, inconclusive for want of a baseline", a.Decision, vs[0])
	}
}

// TestStageAtFullUsesStoredBaseline checks that the 100 % stage is judged
// against the recorded baseline: a healthy canary completes the rollout,
// and the verdicts keep the stored figures.
func TestStageAtFullUsesStoredBaseline(t *testing.T) {
	f := newFixture(t)
	f.recordBaseline(rollout.SourceSDK, "off")
	ctl := f.baselineController()
	r, err := ctl.Start(context.Background(), "alice", "checkout", "production", fullPlan())
	if err != nil {
		t.Fatal(err)
	}
	f.run(6*time.Minute, ctl)
	if got := f.rollout(r.ID); got.Stage != 1 {
		t.Fatalf("stage %d after 6 minutes, want the 100%% stage", got.Stage)
	}
	// At 50 % the live baseline has plenty: the stored one is not used.
	as, _ := f.store.ListAnalyses(context.Background(), r.ID, 0)
	var first []rollout.Verdict
	if err := json.Unmarshal(as[0].Verdicts, &first); err != nil || first[0].StoredBaseline != nil {
		t.Errorf("the 50%% stage used the stored baseline: %s", as[0].Verdicts)
	}
	f.run(7*time.Minute, ctl)
	got := f.rollout(r.ID)
	if got.Status != ramp.RolloutPromoted || f.percentage() != 100 {
		t.Fatalf("%s at %v%% (%s), want promoted at 100%%", got.Status, f.percentage(), got.Reason)
	}
	_, vs := f.lastVerdicts(r.ID)
	v := vs[0]
	if v.Outcome != judge.Pass || v.StoredBaseline == nil || v.StoredBaseline.Requests != 3.6e6 || v.StoredBaseline.RecordedBy != "alice" {
		t.Fatalf("last verdict %+v, want a pass against the stored baseline", v)
	}
	if v.Baseline.Requests != 3.6e6 || v.Baseline.Errors != 18000 || math.Abs(v.Baseline.ErrorRate-0.005) > 1e-12 {
		t.Errorf("verdict baseline figures %+v, want the stored 3.6M/18,000", v.Baseline)
	}
	if !strings.HasPrefix(v.Summary, "against the stored baseline of off") {
		t.Errorf("summary %q does not say it was judged against the stored baseline", v.Summary)
	}
	// Readers of plain judge verdicts read the record unchanged.
	var plain []judge.Verdict
	a, _ := f.lastVerdicts(r.ID)
	if err := json.Unmarshal(a.Verdicts, &plain); err != nil || plain[0].Baseline.Requests != 3.6e6 {
		t.Errorf("as judge verdicts: %+v, %v", plain, err)
	}
}

// TestStageAtFullCatchesRegressionAgainstStoredBaseline checks that a
// canary that regresses at 100 % is stepped back, as the stored baseline
// shows it worse than before the rollout.
func TestStageAtFullCatchesRegressionAgainstStoredBaseline(t *testing.T) {
	f := newFixture(t)
	f.recordBaseline(rollout.SourceSDK, "off")
	ctl := f.baselineController()
	r, err := ctl.Start(context.Background(), "alice", "checkout", "production", fullPlan())
	if err != nil {
		t.Fatal(err)
	}
	f.run(6*time.Minute, ctl)
	f.src.mu.Lock()
	f.src.canaryErr = 0.02 // four times the baseline's, from now on
	f.src.mu.Unlock()
	f.run(3*time.Minute, ctl)
	// Stepped back to 50 %, where the live baseline shows the regression
	// too: in the first stage, a warning rolls back.
	want := []string{ramp.ActionRolloutCreate, ramp.ActionRolloutStart, ramp.ActionRolloutPromote, ramp.ActionRolloutStepBack, ramp.ActionRolloutRollback}
	if a := f.rolloutAudit(); !equal(a, want) {
		t.Errorf("audit %v, want %v", a, want)
	}
	as, err := f.store.ListAnalyses(context.Background(), r.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range as {
		if a.Decision != string(judge.StepBack) {
			continue
		}
		var vs []rollout.Verdict
		if err := json.Unmarshal(a.Verdicts, &vs); err != nil {
			t.Fatal(err)
		}
		found = true
		if vs[0].Outcome != judge.Warning || vs[0].StoredBaseline == nil || vs[0].Baseline.Requests != 3.6e6 {
			t.Errorf("the step back's verdict %+v, want a warning against the stored baseline", vs[0])
		}
	}
	if !found {
		t.Error("no analysis decided the step back")
	}
}

// TestStoredBaselineMustFit checks that a baseline of another variant or
// source does not stand in: its buckets or meaning may differ.
func TestStoredBaselineMustFit(t *testing.T) {
	for _, tc := range []struct{ source, variant string }{{rollout.SourcePrometheus, "off"}, {rollout.SourceSDK, "on"}} {
		f := newFixture(t)
		f.recordBaseline(tc.source, tc.variant)
		ctl := f.baselineController()
		r, err := ctl.Start(context.Background(), "alice", "checkout", "production", fullPlan())
		if err != nil {
			t.Fatal(err)
		}
		f.run(15*time.Minute, ctl)
		if got := f.rollout(r.ID); got.Status != ramp.RolloutRunning || got.Stage != 1 {
			t.Errorf("baseline of %s from %s: %s at stage %d, want held at 100%%", tc.variant, tc.source, got.Status, got.Stage)
		}
	}
}

// TestMeasure checks the figures Measure derives from a source.
func TestMeasure(t *testing.T) {
	src := &fixedSource{canary: judge.Arm{Requests: 100, Errors: 3},
		baseline: judge.Arm{Requests: 7200, Errors: 36, Latency: &judge.Histogram{Bounds: []float64{0.1, 0.2, math.Inf(1)}, Counts: []float64{3600, 7200, 7200}}}}
	to := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	c, b, err := rollout.Measure(context.Background(), src, "checkout", "production", "on", "off", to.Add(-time.Hour), to)
	if err != nil {
		t.Fatal(err)
	}
	if c.Variant != "on" || c.Requests != 100 || c.ErrorRate != 0.03 || c.P99 != 0 {
		t.Errorf("canary %+v", c)
	}
	if b.Variant != "off" || b.Throughput != 2 || b.ErrorRate != 0.005 || b.P50 != 0.1 || math.Abs(b.P99-0.198) > 1e-9 {
		t.Errorf("baseline %+v, want 2/s, 0.5%%, p50 100ms, p99 198ms", b)
	}
	if b.Latency == nil || len(b.Latency.Bounds) != 2 || b.Latency.Count != 7200 {
		t.Errorf("baseline histogram %+v, want the finite bounds and the +Inf bucket as count", b.Latency)
	}
	if len(src.metrics) != 2 || src.metrics[0] != judge.ErrorRate || src.metrics[1] != judge.Latency {
		t.Errorf("asked the source for %v, want an error-rate and a latency guard", src.metrics)
	}
	if _, _, err := rollout.Measure(context.Background(), src, "checkout", "production", "on", "off", to, to); err == nil {
		t.Error("an empty window gave no error")
	}
}

type fixedSource struct {
	canary, baseline judge.Arm
	metrics          []judge.Metric
}

func (s *fixedSource) Arms(ctx context.Context, q rollout.Query) (judge.Arm, judge.Arm, error) {
	s.metrics = append(s.metrics, q.Guard.Metric)
	return s.canary, s.baseline, nil
}

// TestThinBaselineUsesStored checks the other case: a stage below 100 %
// whose live baseline has too little data while the canary has enough is
// judged against the stored baseline; with both short, the guard waits
// for data on the live arms.
func TestThinBaselineUsesStored(t *testing.T) {
	for _, tc := range []struct {
		name       string
		canary     float64
		wantStored bool
	}{{"canary has enough", 1000, true}, {"both short", 10, false}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.recordBaseline(rollout.SourceSDK, "off")
			src := &fixedSource{canary: judge.Arm{Requests: tc.canary, Errors: tc.canary / 200}, baseline: judge.Arm{Requests: 10}}
			ctl := rollout.New(rollout.Config{Store: f.store, Sources: map[string]rollout.Source{rollout.SourceSDK: src}, Now: f.clock.Now, Baselines: f.store})
			r, err := ctl.Start(context.Background(), "alice", "checkout", "production", fullPlan())
			if err != nil {
				t.Fatal(err)
			}
			f.run(time.Minute, ctl)
			_, vs := f.lastVerdicts(r.ID)
			if got := vs[0].StoredBaseline != nil; got != tc.wantStored {
				t.Fatalf("stored baseline used: %v, want %v; verdict %+v", got, tc.wantStored, vs[0])
			}
			if tc.wantStored && (vs[0].Outcome != judge.Pass || vs[0].Baseline.Requests != 3.6e6) {
				t.Errorf("verdict %+v, want a pass against the stored 3.6M requests", vs[0])
			}
			if !tc.wantStored && (vs[0].Outcome != judge.Inconclusive || vs[0].Baseline.Requests != 10) {
				t.Errorf("verdict %+v, want inconclusive on the live arms", vs[0])
			}
		})
	}
}
