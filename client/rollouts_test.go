package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// steadySource reports the same healthy figures for every guard: 0.5 %
// errors in both arms.
type steadySource struct{}

func (steadySource) Arms(context.Context, rollout.Query) (judge.Arm, judge.Arm, error) {
	return judge.Arm{Requests: 10000, Errors: 50}, judge.Arm{Requests: 190000, Errors: 950}, nil
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const adminToken = "rollout-test-token"

// newRolloutServer serves the real API on a real store, with a rollout
// controller the test ticks by hand, and a boolean flag "checkout".
func newRolloutServer(t *testing.T) (*client.Client, *rollout.Controller, *fakeClock) {
	t.Helper()
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ramp.db"), sqlite.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctl := rollout.New(rollout.Config{Store: st, Sources: map[string]rollout.Source{rollout.SourceSDK: steadySource{}}, Now: clk.Now})
	sum := sha256.Sum256([]byte(adminToken))
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Store: st, AdminTokenHash: sum[:], Rollouts: ctl, RolloutStore: st}))
	t.Cleanup(srv.Close)
	c := client.New(srv.URL, adminToken)
	_, err = c.CreateFlag(ctx, &ramp.Flag{Key: "checkout", Type: ramp.TypeBoolean, DefaultVariant: "off",
		Variants: []ramp.Variant{{Key: "on", Value: json.RawMessage("true")}, {Key: "off", Value: json.RawMessage("false")}}})
	if err != nil {
		t.Fatal(err)
	}
	return c, ctl, clk
}

func TestRolloutLifecycle(t *testing.T) {
	c, ctl, clk := newRolloutServer(t)
	ctx := context.Background()

	ts, err := c.RolloutTemplates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	std, ok := ts["standard"]
	if !ok || len(ts) != 3 || len(std.Stages) != 4 || time.Duration(std.Stages[0].Duration) != 72*time.Hour || std.Source != rollout.SourceSDK {
		t.Fatalf("templates %+v", ts)
	}

	v, err := c.StartRollout(ctx, client.StartRolloutRequest{Flag: "checkout", Template: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if v.ID == 0 || v.Status != ramp.RolloutRunning || v.Stage != 0 || v.Environment != ramp.EnvProduction || v.CreatedBy != "admin" {
		t.Fatalf("started %+v", v.Rollout)
	}
	if _, err := c.StartRollout(ctx, client.StartRolloutRequest{Flag: "checkout", Template: "demo"}); !client.IsConflict(err) {
		t.Errorf("second active rollout: %v, want a conflict", err)
	}

	got, err := c.GetRollout(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Latest != nil {
		t.Errorf("latest analysis %+v before any tick", got.Latest)
	}
	plan, err := got.DecodePlan()
	if err != nil || len(plan.Stages) != 4 || plan.Stages[0].Percent != 5 {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	st, err := got.DecodeState()
	if err != nil || st.Canary != "on" || st.Baseline != "off" || len(st.Transitions) != 1 || st.Transitions[0].Action != ramp.ActionRolloutStart {
		t.Fatalf("state %+v, %v", st, err)
	}

	// One analysis: the error-rate guard passes on the steady figures, the
	// latency guard has no histogram; the decision holds.
	clk.Add(time.Second)
	if err := ctl.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetRollout(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := got.LatestVerdicts()
	if err != nil || len(vs) != 2 {
		t.Fatalf("verdicts %+v, %v", vs, err)
	}
	if vs[0].Guard != "error-rate" || vs[0].Outcome != judge.Pass || vs[0].Canary.Requests != 10000 || vs[0].Baseline.ErrorRate != 0.005 {
		t.Errorf("error-rate verdict %+v", vs[0])
	}
	if vs[1].Outcome != judge.Inconclusive || got.Latest.Decision != string(judge.Hold) {
		t.Errorf("latency verdict %+v, decision %q", vs[1], got.Latest.Decision)
	}
	as, err := c.ListAnalyses(ctx, v.ID, 10)
	if err != nil || len(as) != 1 || as[0].ID != got.Latest.ID {
		t.Errorf("analyses %+v, %v", as, err)
	}

	moves := []struct {
		name   string
		do     func() (*client.RolloutView, error)
		status ramp.RolloutStatus
		stage  int
		reason string
	}{
		{"pause", func() (*client.RolloutView, error) { return c.PauseRollout(ctx, v.ID, "deploy freeze") }, ramp.RolloutPaused, 0, "deploy freeze"},
		{"resume", func() (*client.RolloutView, error) { return c.ResumeRollout(ctx, v.ID, "") }, ramp.RolloutRunning, 0, ""},
		{"promote", func() (*client.RolloutView, error) { return c.PromoteRollout(ctx, v.ID, "") }, ramp.RolloutRunning, 1, ""},
		{"abort", func() (*client.RolloutView, error) { return c.AbortRollout(ctx, v.ID, "tickets") }, ramp.RolloutAborted, 1, "tickets"},
	}
	for _, m := range moves {
		got, err := m.do()
		if err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if got.Status != m.status || got.Stage != m.stage || got.Reason != m.reason {
			t.Errorf("after %s: status %s, stage %d, reason %q; want %s, %d, %q", m.name, got.Status, got.Stage, got.Reason, m.status, m.stage, m.reason)
		}
	}
	if _, err := c.ResumeRollout(ctx, v.ID, ""); !client.IsConflict(err) {
		t.Errorf("resume of an aborted rollout: %v, want a conflict", err)
	}
	fl, err := c.GetFlag(ctx, "checkout")
	if err != nil || fl.Percentage(ramp.EnvProduction) != 0 {
		t.Errorf("after abort the flag serves %v%% (%v)", fl.Percentage(ramp.EnvProduction), err)
	}

	active, err := c.ListRollouts(ctx, client.RolloutFilter{Flag: "checkout", Active: true})
	if err != nil || len(active) != 0 {
		t.Errorf("active rollouts %v, %v", active, err)
	}
	all, err := c.ListRollouts(ctx, client.RolloutFilter{Flag: "checkout", Environment: ramp.EnvProduction, Limit: 5})
	if err != nil || len(all) != 1 || all[0].ID != v.ID || all[0].Status != ramp.RolloutAborted {
		t.Errorf("all rollouts %v, %v", all, err)
	}
}

func TestStartRolloutWithPlan(t *testing.T) {
	c, _, _ := newRolloutServer(t)
	ctx := context.Background()
	plan := &rollout.Plan{
		Stages: []rollout.Stage{{Percent: 10, Duration: rollout.Duration(time.Hour)}, {Percent: 100}},
		Guards: []rollout.Guard{{Guard: judge.Guard{Name: "errors", Metric: judge.ErrorRate, Critical: 0.05}}},
	}
	v, err := c.StartRollout(ctx, client.StartRolloutRequest{Flag: "checkout", Environment: "staging", Plan: plan})
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.DecodePlan()
	if err != nil || got.Interval != rollout.Duration(rollout.DefaultInterval) || got.OnWarning != judge.StepBack || len(got.Guards) != 1 {
		t.Errorf("stored plan %+v, %v: want the defaults filled in", got, err)
	}
	fl, err := c.GetFlag(ctx, "checkout")
	if err != nil || fl.Percentage("staging") != 10 || fl.Percentage(ramp.EnvProduction) != 0 {
		t.Errorf("flag after start: %v", err)
	}

	bad := &rollout.Plan{Stages: []rollout.Stage{{Percent: 50}, {Percent: 20}}}
	_, err = c.StartRollout(ctx, client.StartRolloutRequest{Flag: "checkout", Plan: bad})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Code() != ramp.EINVALID || len(apiErr.Errors) < 2 {
		t.Errorf("invalid plan: %v", err)
	}
	if _, err := c.GetRollout(ctx, 999); !client.IsNotFound(err) {
		t.Errorf("unknown rollout: %v", err)
	}
	if _, err := c.ListAnalyses(ctx, 999, 0); !client.IsNotFound(err) {
		t.Errorf("analyses of an unknown rollout: %v", err)
	}
}

// TestMoveRequests checks the requests of the moves: the path, and a
// reason body only when there is a reason.
func TestMoveRequests(t *testing.T) {
	type seen struct{ method, path, body string }
	var got []seen
	var mu sync.Mutex
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.Path, string(b)})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":7,"flag":"f","environment":"production","status":"paused","stage":0,"plan":{"stages":[]},"version":3}`)
	})
	ctx := context.Background()
	if _, err := c.PauseRollout(ctx, 7, "freeze"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PromoteRollout(ctx, 7, ""); err != nil {
		t.Fatal(err)
	}
	v, err := c.AbortRollout(ctx, 7, "")
	if err != nil || v.ID != 7 || v.Version != 3 {
		t.Fatalf("abort: %+v, %v", v, err)
	}
	want := []seen{
		{"POST", "/api/v1/rollouts/7/pause", `{"reason":"freeze"}`},
		{"POST", "/api/v1/rollouts/7/promote", ""},
		{"POST", "/api/v1/rollouts/7/abort", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("requests %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestDecodeVerdicts(t *testing.T) {
	for _, raw := range []string{"", "null"} {
		if vs, err := client.DecodeVerdicts(json.RawMessage(raw)); err != nil || vs != nil {
			t.Errorf("DecodeVerdicts(%q) = %v, %v", raw, vs, err)
		}
	}
	vs, err := client.DecodeVerdicts(json.RawMessage(`[{"guard":"g","metric":"latency","outcome":"warning","summary":"s","quantile":0.99,"canary":{"requests":10,"errors":0,"errorRate":0,"p99":0.3},"baseline":{"requests":20,"errors":0,"errorRate":0}}]`))
	if err != nil || len(vs) != 1 || vs[0].Outcome != judge.Warning || vs[0].Canary.P99 != 0.3 {
		t.Errorf("verdicts %+v, %v", vs, err)
	}
	if _, err := client.DecodeVerdicts(json.RawMessage(`{"guard":"g"}`)); err == nil {
		t.Error("an object decoded as a list of verdicts")
	}
	var v client.RolloutView
	if vs, err := v.LatestVerdicts(); err != nil || vs != nil {
		t.Errorf("no analysis: %v, %v", vs, err)
	}
}
