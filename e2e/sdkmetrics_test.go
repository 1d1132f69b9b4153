package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

// TestGuardedRolloutWithSDKCounts runs two guarded rollouts on the real
// server with no Prometheus at all: an application embeds the Go SDK,
// evaluates two flags per request, measures each request's code path with
// Observe, and the SDK reports the counts to the server, where the
// rollout controller reads them. The canary of one flag fails a fifth of
// its requests and is rolled back on its own; the other is healthy and
// promoted to 100 %.
func TestGuardedRolloutWithSDKCounts(t *testing.T) {
	s := startServer(t, t.TempDir(), "admin")
	admin := s.client()
	ctx := t.Context()

	const bad, good = "checkout-bad", "checkout-good"
	for _, key := range []string{bad, good} {
		s.mustRamp("flag", "create", key, "--type", "boolean")
	}
	// The application: about 10,000 requests a second, each evaluating
	// both flags for its user and running the code path of the variant it
	// got. The new path of the bad flag fails one request in five.
	startSDKApp(t, s, appTraffic{flags: []string{bad, good}, perTick: 100, latencyMS: 1, spreadMS: 20,
		failEvery: map[flagVariant]int64{{bad, "on"}: 5}})

	plan := rollout.Plan{
		Stages:   []rollout.Stage{{Percent: 5, Duration: rollout.Duration(3 * time.Second)}, {Percent: 100}},
		Guards:   []rollout.Guard{{Guard: judge.Guard{Name: "errors", Metric: judge.ErrorRate, Critical: 0.05, AbsMargin: 0.001}}},
		Interval: rollout.Duration(time.Second),
	}
	ids := map[string]int64{}
	for _, key := range []string{bad, good} {
		v, err := admin.StartRollout(ctx, client.StartRolloutRequest{Flag: key, Environment: "production", Plan: &plan})
		if err != nil {
			t.Fatalf("start the rollout of %s: %v", key, err)
		}
		if v.Status != ramp.RolloutRunning {
			t.Fatalf("%s: rollout %s after start", key, v.Status)
		}
		ids[key] = v.ID
	}

	ended := waitEnded(t, s, ids, 60*time.Second)

	if v := ended[bad]; v.Status != ramp.RolloutRolledBack || !strings.Contains(v.Reason, "critical") {
		t.Errorf("%s: rollout %s (%s), want rolled_back for a critical error rate", bad, v.Status, v.Reason)
	}
	if v := ended[good]; v.Status != ramp.RolloutPromoted {
		t.Errorf("%s: rollout %s (%s), want promoted", good, v.Status, v.Reason)
	}
	if p := statusPercentage(t, s, bad, "production"); p != 0 {
		t.Errorf("%s serves %v%% after the rollback, want 0", bad, p)
	}
	if p := statusPercentage(t, s, good, "production"); p != 100 {
		t.Errorf("%s serves %v%% after the promotion, want 100", good, p)
	}

	// The judge decided on the counts the SDK reported: both arms had
	// requests, and the bad canary's errors.
	for key, id := range ids {
		as, err := admin.ListAnalyses(ctx, id, 0)
		if err != nil || len(as) == 0 {
			t.Fatalf("%s: analyses %v, %v", key, as, err)
		}
		last := as[len(as)-1]
		vs, err := client.DecodeVerdicts(last.Verdicts)
		if err != nil || len(vs) != 1 {
			t.Fatalf("%s: verdicts %s: %v", key, last.Verdicts, err)
		}
		v := vs[0]
		if v.Canary.Requests < judge.DefaultMinRequests || v.Baseline.Requests < judge.DefaultMinRequests {
			t.Errorf("%s: the last analysis saw %v canary and %v baseline requests", key, v.Canary.Requests, v.Baseline.Requests)
		}
		if key == bad && (v.Outcome != judge.Critical || v.Canary.ErrorRate < 0.1 || v.Baseline.Errors != 0) {
			t.Errorf("%s: last verdict %s, canary %+v, baseline %+v", key, v.Outcome, v.Canary, v.Baseline)
		}
	}

	// The rollback is the controller's, in the audit log.
	var actions []string
	entries, err := admin.ListAudit(ctx, client.AuditFilter{Actor: rollout.Actor})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		actions = append(actions, e.Action+" "+e.Key)
	}
	got := strings.Join(actions, ", ")
	t.Logf("controller: %s", got)
	if !strings.Contains(got, ramp.ActionRolloutRollback+" "+bad) || strings.Contains(got, ramp.ActionRolloutRollback+" "+good) {
		t.Errorf("the controller's audit entries: %s; want a rollback of %s only", got, bad)
	}
}
