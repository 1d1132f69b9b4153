package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

// TestBaselineWithSDKCounts records a baseline from the counts the SDK
// reports to the real server, shows it next to the live figures, and runs
// a guarded rollout whose last stage, at 100 %, has no live baseline: it is
// judged against the stored one and completes, its verdicts keeping the
// stored figures.
func TestBaselineWithSDKCounts(t *testing.T) {
	s := startServer(t, t.TempDir(), "admin")
	admin := s.client()
	ctx := t.Context()
	const key = "checkout"
	s.mustRamp("flag", "create", key, "--type", "boolean")

	// Nothing reported yet: nothing to record.
	r := s.ramp(nil, "baseline", key, "--record", "--window", "1m")
	if r.code != 1 || !strings.Contains(r.stderr, "served no requests") {
		t.Errorf("record without traffic: exit %d, stderr %q; want 1 and why", r.code, r.stderr)
	}
	r = s.ramp(nil, "baseline", key, "--window", "0s")
	if r.code != 2 {
		t.Errorf("--window 0s: exit %d, want 2", r.code)
	}

	// An application serving about 5,000 requests a second, each taking
	// 2-4 ms; the off path fails one in 200, the on path none.
	app := startSDKApp(t, s, appTraffic{flags: []string{key}, perTick: 50, latencyMS: 2, spreadMS: 3,
		failEvery: map[flagVariant]int64{{key, "off"}: 200}})
	// Let the application run at 0 % for a few seconds, reported.
	time.Sleep(4 * time.Second)
	out := s.mustRamp("baseline", key, "--record", "--window", "3s", "-o", "json")
	var v client.BaselineView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("baseline -o json: %v\n%s", err, out)
	}
	b := v.Stored
	if b == nil || b.Source != "sdk" || b.Variant != "off" || b.RecordedBy != "admin" {
		t.Fatalf("stored baseline %+v", b)
	}
	// About 5,000 requests a second over 3 seconds, one in 200 failed,
	// every one between 2 and 4 ms.
	if b.Requests < 3000 || b.Requests > 20000 || b.ErrorRate < 0.003 || b.ErrorRate > 0.007 {
		t.Errorf("recorded %v requests, error rate %v; want about 15,000 and 0.5%%", b.Requests, b.ErrorRate)
	}
	if b.P50 < 0.0015 || b.P99 > 0.005 || b.P99 < b.P50 {
		t.Errorf("recorded p50 %v p99 %v; want within 2-4 ms", b.P50, b.P99)
	}
	if d := b.To.Sub(b.From); d != 3*time.Second || b.Throughput < 1000 {
		t.Errorf("window %v, throughput %v/s", d, b.Throughput)
	}
	if v.Live == nil || v.Live.Baseline.Requests == 0 || v.Live.Canary.Variant != "on" || v.Live.Canary.Requests != 0 {
		t.Errorf("live figures %+v", v.Live)
	}

	table := s.mustRamp("baseline", key)
	for _, want := range []string{"STORED (off)", "NOW off (baseline)", "NOW on (canary)", "error rate", "p99", "from sdk"} {
		if !strings.Contains(table, want) {
			t.Errorf("baseline table lacks %q:\n%s", want, table)
		}
	}
	t.Logf("ramp baseline %s:\n%s", key, table)
	if y := s.mustRamp("baseline", key, "-o", "yaml"); !strings.Contains(y, "stored:") || !strings.Contains(y, "p99:") {
		t.Errorf("baseline -o yaml:\n%s", y)
	}

	// The recording is in the audit log.
	entries, err := admin.ListAudit(ctx, client.AuditFilter{Kind: "baseline"})
	if err != nil || len(entries) != 1 || entries[0].Action != ramp.ActionBaselineRecord || entries[0].Key != key {
		t.Errorf("audit %+v, %v", entries, err)
	}
	if out := s.mustRamp("audit", "--flag", key); !strings.Contains(out, ramp.ActionBaselineRecord) {
		t.Errorf("ramp audit --flag %s does not show the recording:\n%s", key, out)
	}

	// A rollout whose last stage, at 100 %, is watched for 3 seconds.
	plan := rollout.Plan{
		Stages:   []rollout.Stage{{Percent: 50, Duration: rollout.Duration(2 * time.Second)}, {Percent: 100, Duration: rollout.Duration(3 * time.Second)}},
		Guards:   []rollout.Guard{{Guard: judge.Guard{Name: "errors", Metric: judge.ErrorRate, AbsMargin: 0.002, Critical: 0.2}}},
		Interval: rollout.Duration(time.Second),
	}
	ro, err := admin.StartRollout(ctx, client.StartRolloutRequest{Flag: key, Plan: &plan})
	if err != nil {
		t.Fatal(err)
	}
	var end *client.RolloutView
	waitFor(t, 60*time.Second, "the rollout to end", func() bool {
		end, err = admin.GetRollout(ctx, ro.ID)
		return err == nil && !end.Status.Active()
	})
	if end.Status != ramp.RolloutPromoted {
		t.Fatalf("rollout %s (%s), want promoted", end.Status, end.Reason)
	}
	as, err := admin.ListAnalyses(ctx, ro.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := as[len(as)-1]
	var vs []rollout.Verdict
	if err := json.Unmarshal(last.Verdicts, &vs); err != nil || len(vs) != 1 {
		t.Fatalf("verdicts %s: %v", last.Verdicts, err)
	}
	got := vs[0]
	if last.Stage != 1 || got.Outcome != judge.Pass || got.StoredBaseline == nil {
		t.Fatalf("the promoting analysis: stage %d, %+v; want a pass at 100%% against the stored baseline", last.Stage, got)
	}
	if got.Baseline.Requests != b.Requests || got.Baseline.Errors != b.Errors || got.StoredBaseline.RecordedAt.IsZero() {
		t.Errorf("verdict baseline %+v, stored %+v; want the recorded %v/%v", got.Baseline, got.StoredBaseline, b.Requests, b.Errors)
	}
	if got.Canary.Requests < judge.DefaultMinRequests || !strings.HasPrefix(got.Summary, "against the stored baseline of off") {
		t.Errorf("canary %+v, summary %q", got.Canary, got.Summary)
	}
	// The promotion from 50 % was decided on the live baseline.
	promoted := false
	for _, a := range as {
		if a.Stage != 0 || a.Decision != string(judge.Promote) {
			continue
		}
		promoted = true
		var early []rollout.Verdict
		if err := json.Unmarshal(a.Verdicts, &early); err != nil || early[0].StoredBaseline != nil || early[0].Baseline.Requests < judge.DefaultMinRequests {
			t.Errorf("the promotion from 50%% was not decided on the live baseline: %s", a.Verdicts)
		}
	}
	if !promoted {
		t.Error("no analysis promoted the 50% stage")
	}
	app.close()
}
