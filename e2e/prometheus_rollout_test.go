package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/internal/promtest"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/notify"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/sdk"
)

// promMinWindow is the shortest window the server queries from
// Prometheus in these tests: four scrapes at the one-second scrape
// interval of promtest.
const promMinWindow = 4 * time.Second

// promStack is what a guarded rollout over Prometheus needs, all real: an
// HTTP application instrumented with the Go SDK that serves its metrics
// on its own port, a Prometheus scraping it every second, a ramp server
// reading that Prometheus and notifying a webhook receiver, and a load
// generator sending requests to the application.
type promStack struct {
	t    *testing.T
	s    *server
	prom *promtest.Server
	hook *hookRecorder
	app  *sdk.Client
	url  string // the application's base URL

	// load is the requests per second per flag; zero pauses the load.
	load atomic.Int64
	// sent counts the requests the load generator sent, failed those the
	// application answered with a 5xx.
	sent, failed atomic.Int64
}

// faultyPath is how the new code path of a failing flag behaves: it is
// slower, and fails every fourth request.
const (
	faultyDelay = 20 * time.Millisecond
	faultyEvery = 4
)

// startPromStack starts the stack with one route per flag, /FLAG?user=ID.
// The flags are created as boolean flags; the "on" variant of those in
// faulty runs the faulty path.
func startPromStack(t *testing.T, flags []string, faulty ...string) *promStack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := &promStack{t: t, hook: newHookRecorder(t), url: "http://" + ln.Addr().String()}
	st.prom = promtest.Start(t, []string{ln.Addr().String()})
	st.s = startServerAt(t, "127.0.0.1:0", t.TempDir(), "admin",
		"--prometheus-url", st.prom.URL, "--prometheus-min-window", promMinWindow.String(), "--webhook", st.hook.URL)
	for _, key := range flags {
		st.s.mustRamp("flag", "create", key, "--type", "boolean")
	}
	st.app = startProductionSDK(t, st.s, "shop", sdk.Config{})
	routes := make([]flagRoute, len(flags))
	for i, key := range flags {
		routes[i] = flagRoute{path: "/" + key, flag: key}
		if slices.Contains(faulty, key) {
			routes[i].onDelay, routes[i].onFailEvery = faultyDelay, faultyEvery
		}
	}
	serveSDKApp(t, ln, st.app, routes...)

	loadCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { st.generate(loadCtx, flags) })
	t.Cleanup(func() {
		stop()
		wg.Wait()
	})
	return st
}

// generate sends st.load requests a second to each flag's route, each
// for a new user, until ctx ends. Requests that find every worker busy
// are skipped, so that a slow application slows the load rather than
// piling it up.
func (st *promStack) generate(ctx context.Context, flags []string) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer hc.CloseIdleConnections()
	jobs := make(chan string, 64)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for u := range jobs {
				resp, err := hc.Get(u)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				st.sent.Add(1)
				if resp.StatusCode >= 500 {
					st.failed.Add(1)
				}
			}
		})
	}
	defer func() {
		close(jobs)
		wg.Wait()
	}()
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	user, owed := 0, 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		owed += float64(st.load.Load()) * tick.Seconds()
		for ; owed >= 1; owed-- {
			user++
			for _, key := range flags {
				select {
				case jobs <- fmt.Sprintf("%s/%s?user=u%d", st.url, key, user):
				default:
				}
			}
		}
	}
}

// promPlan is a plan over Prometheus in compressed time: 10 % and 50 %
// for stage each, then everyone, with an error-rate guard and a p99 guard
// with the templates' +10 % margin, which the SDK's buckets resolve.
func promPlan(stage time.Duration) rollout.Plan {
	return rollout.Plan{
		Source: rollout.SourcePrometheus,
		Stages: []rollout.Stage{{Percent: 10, Duration: rollout.Duration(stage)}, {Percent: 50, Duration: rollout.Duration(stage)}, {Percent: 100}},
		Guards: []rollout.Guard{
			{Guard: judge.Guard{Name: "errors", Metric: judge.ErrorRate, Critical: 0.05, AbsMargin: 0.001}},
			{Guard: judge.Guard{Name: "p99", Metric: judge.Latency, Quantile: 0.99, Margin: 0.1}},
		},
		Interval: rollout.Duration(time.Second),
	}
}

// TestGuardedRolloutWithPrometheus runs two guarded rollouts whose figures
// come from a real Prometheus scraping a real application instrumented
// with the SDK: the canary of one flag is healthy and is promoted through
// every stage to 100 %; the canary of the other is slow and fails a
// quarter of its requests, and is rolled back to 0 % on its own. The
// audit log has every transition with its actor, and the webhook heard of
// them.
func TestGuardedRolloutWithPrometheus(t *testing.T) {
	t.Parallel()
	const good, bad = "search-v2", "checkout-v2"
	st := startPromStack(t, []string{good, bad}, bad)
	st.load.Store(300)
	admin := st.s.client()
	ctx := t.Context()

	plan := promPlan(4 * time.Second)
	ids := map[string]int64{}
	for _, key := range []string{good, bad} {
		v, err := admin.StartRollout(ctx, client.StartRolloutRequest{Flag: key, Environment: "production", Plan: &plan})
		if err != nil {
			t.Fatalf("start the rollout of %s: %v", key, err)
		}
		ids[key] = v.ID
	}
	ended := waitEnded(t, st.s, ids, 90*time.Second)
	t.Logf("load: %d requests sent, %d failed", st.sent.Load(), st.failed.Load())

	if v := ended[good]; v.Status != ramp.RolloutPromoted {
		t.Errorf("%s: rollout %s (%s), want promoted", good, v.Status, v.Reason)
	}
	if v := ended[bad]; v.Status != ramp.RolloutRolledBack || !strings.Contains(v.Reason, "critical") {
		t.Errorf("%s: rollout %s (%s), want rolled_back on a critical guard", bad, v.Status, v.Reason)
	}
	if p := statusPercentage(t, st.s, good, "production"); p != 100 {
		t.Errorf("%s serves %v%%, want 100", good, p)
	}
	if p := statusPercentage(t, st.s, bad, "production"); p != 0 {
		t.Errorf("%s serves %v%%, want 0", bad, p)
	}

	// The judge saw Prometheus's figures: requests in both arms for every
	// guard, the canary's errors and slowness for the bad flag, none for
	// the good one.
	for key, id := range ids {
		as, err := admin.ListAnalyses(ctx, id, 0)
		if err != nil || len(as) == 0 {
			t.Fatalf("%s: analyses %v, %v", key, as, err)
		}
		vs, err := client.DecodeVerdicts(as[len(as)-1].Verdicts)
		if err != nil || len(vs) != 2 {
			t.Fatalf("%s: last verdicts %s: %v", key, as[len(as)-1].Verdicts, err)
		}
		for _, v := range vs {
			if v.Canary.Requests < judge.DefaultMinRequests || v.Baseline.Requests < judge.DefaultMinRequests {
				t.Errorf("%s: guard %s saw %v canary and %v baseline requests", key, v.Guard, v.Canary.Requests, v.Baseline.Requests)
			}
			switch {
			case key == good && v.Outcome != judge.Pass:
				t.Errorf("%s: last verdict of %s is %s: %s", key, v.Guard, v.Outcome, v.Summary)
			case key == bad && v.Guard == "errors" && (v.Outcome != judge.Critical || v.Canary.ErrorRate < 0.1 || v.Baseline.Errors != 0):
				t.Errorf("%s: errors verdict %s: %s", key, v.Outcome, v.Summary)
			case key == bad && v.Guard == "p99" && v.Canary.P99 < faultyDelay.Seconds():
				t.Errorf("%s: canary p99 %vs, want at least the faulty path's %v", key, v.Canary.P99, faultyDelay)
			}
		}
	}

	// The audit log has each transition once, in order, with its actor:
	// the start is the admin's, the rest the controller's.
	want := map[string][]string{
		good: {"admin " + ramp.ActionRolloutStart, rollout.Actor + " " + ramp.ActionRolloutPromote, rollout.Actor + " " + ramp.ActionRolloutComplete},
		bad:  {"admin " + ramp.ActionRolloutStart, rollout.Actor + " " + ramp.ActionRolloutRollback},
	}
	for key, w := range want {
		if got := rolloutAudit(t, st.s, key); !slices.Equal(got, w) {
			t.Errorf("%s: rollout transitions in the audit log, oldest first:\n got %q\nwant %q", key, got, w)
		}
	}

	// The webhook heard of the promotions, the completion and the rollback.
	for _, e := range []struct {
		flag, event string
		percent     float64
	}{
		{good, ramp.ActionRolloutPromote, 50},
		{good, ramp.ActionRolloutComplete, 100},
		{bad, ramp.ActionRolloutRollback, 0},
	} {
		st.hook.waitFor(t, e.event+" of "+e.flag, func(p notify.Payload) bool {
			return p.Flag == e.flag && p.Event == e.event && p.Percent == e.percent && p.Actor == rollout.Actor && p.Decision != nil
		})
	}
}

// TestPrometheusRolloutHoldsWithoutData checks the faults of the
// Prometheus source against a real Prometheus: while its queries return
// no series (the application has no traffic yet), and while Prometheus is
// down, every verdict is inconclusive and the rollout holds its stage
// well past the stage's minimum duration; once data comes back it
// promotes again and completes.
func TestPrometheusRolloutHoldsWithoutData(t *testing.T) {
	t.Parallel()
	const flag = "search-v3"
	st := startPromStack(t, []string{flag})
	admin := st.s.client()
	ctx := t.Context()
	const stage = 3 * time.Second
	plan := promPlan(stage)
	v, err := admin.StartRollout(ctx, client.StartRolloutRequest{Flag: flag, Environment: "production", Plan: &plan})
	if err != nil {
		t.Fatal(err)
	}
	id := v.ID
	get := func() *client.RolloutView {
		t.Helper()
		v, err := admin.GetRollout(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// holds checks that the rollout stays at stage for d and that the
	// analyses made from `from` on, once the window is long enough to be
	// queried, held on inconclusive verdicts whose summary has want.
	holds := func(what string, stage int, from time.Time, d time.Duration, want string) {
		t.Helper()
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if v := get(); v.Status != ramp.RolloutRunning || v.Stage != stage {
				t.Fatalf("%s: the rollout is %s at stage %d, want running at stage %d (%s)", what, v.Status, v.Stage, stage, v.Reason)
			}
		}
		as, err := admin.ListAnalyses(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, a := range as {
			if a.Time.Before(from) || a.Stage != stage {
				continue
			}
			vs, err := client.DecodeVerdicts(a.Verdicts)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				if v.Outcome != judge.Inconclusive {
					t.Errorf("%s: analysis at %v: %s is %s (%s), want inconclusive", what, a.Time, v.Guard, v.Outcome, v.Summary)
				}
			}
			if a.Decision != string(judge.Hold) {
				t.Errorf("%s: analysis at %v decided %s (%s), want hold", what, a.Time, a.Decision, a.Reason)
			}
			if strings.Contains(a.Reason, want) {
				seen++
			}
		}
		if seen < 2 {
			t.Errorf("%s: %d analyses held with %q; the analyses were:\n%s", what, seen, want, analysesText(as))
		}
	}

	// No traffic: the queries run (the stage is older than the minimum
	// window) and return no series.
	st.prom.WaitScraped(t, time.Now(), 20*time.Second)
	start, err := v.DecodeState()
	if err != nil {
		t.Fatal(err)
	}
	holds("empty query results", 0, start.StageStarted.Add(promMinWindow), stage+promMinWindow+2*time.Second, "too little data: canary has 0")

	// Traffic: the first stage passes and the rollout is promoted.
	st.load.Store(300)
	waitFor(t, 60*time.Second, "the promotion to the second stage", func() bool { return get().Stage == 1 })
	// Prometheus goes down at once, well before the second stage is old
	// enough to be queried.
	st.prom.Stop()
	down := time.Now()
	t.Logf("Prometheus stopped %v after the promotion", down.Sub(stageStart(t, get())).Round(time.Millisecond))
	holds("Prometheus down", 1, down, stage+promMinWindow+2*time.Second, "no data: prometheus requests query")

	// Prometheus is back: the rollout completes.
	st.prom.Restart(t)
	ended := waitEnded(t, st.s, map[string]int64{flag: id}, 60*time.Second)
	if v := ended[flag]; v.Status != ramp.RolloutPromoted {
		t.Fatalf("after Prometheus came back the rollout is %s (%s), want promoted", v.Status, v.Reason)
	}
	want := []string{"admin " + ramp.ActionRolloutStart, rollout.Actor + " " + ramp.ActionRolloutPromote, rollout.Actor + " " + ramp.ActionRolloutComplete}
	if got := rolloutAudit(t, st.s, flag); !slices.Equal(got, want) {
		t.Errorf("rollout transitions in the audit log, oldest first:\n got %q\nwant %q", got, want)
	}
	st.hook.waitFor(t, "a hold notification naming the failed query", func(p notify.Payload) bool {
		return p.Event == rollout.ActionHold && strings.Contains(p.Reason, "prometheus requests query")
	})
}

// waitEnded polls the rollouts until none is active and returns them by
// flag.
func waitEnded(t *testing.T, s *server, ids map[string]int64, d time.Duration) map[string]*client.RolloutView {
	t.Helper()
	ended := map[string]*client.RolloutView{}
	deadline := time.Now().Add(d)
	for len(ended) < len(ids) {
		if time.Now().After(deadline) {
			var states []string
			for key, id := range ids {
				if v, err := s.client().GetRollout(t.Context(), id); err == nil {
					states = append(states, fmt.Sprintf("%s: %s at stage %d, latest %+v", key, v.Status, v.Stage, v.Latest))
				}
			}
			t.Fatalf("the rollouts did not end within %v:\n%s\nserver log:\n%s", d, strings.Join(states, "\n"), s.logs())
		}
		for key, id := range ids {
			if ended[key] != nil {
				continue
			}
			v, err := s.client().GetRollout(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if !v.Status.Active() {
				ended[key] = v
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ended
}

// rolloutAudit returns the flag's rollout transitions in the audit log,
// oldest first, as "actor action", leaving out the creation of rollouts.
func rolloutAudit(t *testing.T, s *server, flag string) []string {
	t.Helper()
	entries, err := s.client().ListAudit(t.Context(), client.AuditFilter{Kind: "rollout", Key: flag, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range slices.Backward(entries) {
		if e.Action != ramp.ActionRolloutCreate {
			got = append(got, e.Actor+" "+e.Action)
		}
	}
	return got
}

func stageStart(t *testing.T, v *client.RolloutView) time.Time {
	t.Helper()
	st, err := v.DecodeState()
	if err != nil {
		t.Fatal(err)
	}
	return st.StageStarted
}

func analysesText(as []ramp.Analysis) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "  %s stage %d %s: %s\n", a.Time.Format("15:04:05.000"), a.Stage, a.Decision, a.Reason)
	}
	return b.String()
}
