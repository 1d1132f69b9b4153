package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

// canarySource is a metric source with 0.5 % errors in the baseline and a
// canary error rate the test sets.
type canarySource struct {
	mu        sync.Mutex
	canaryErr float64
}

func (s *canarySource) set(rate float64) { s.mu.Lock(); s.canaryErr = rate; s.mu.Unlock() }

func (s *canarySource) Arms(context.Context, rollout.Query) (judge.Arm, judge.Arm, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return judge.Arm{Requests: 20000, Errors: 20000 * s.canaryErr}, judge.Arm{Requests: 380000, Errors: 1900}, nil
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rolloutEnv is the real API on a real store, with a rollout controller
// the test ticks by hand on its own clock, and a boolean flag "checkout".
type rolloutEnv struct {
	t     *testing.T
	url   string
	store *sqlite.Store
	ctl   *rollout.Controller
	clock *testClock
	src   *canarySource
}

func newRolloutEnv(t *testing.T) *rolloutEnv {
	t.Helper()
	ctx := context.Background()
	clk := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ramp.db"), sqlite.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src := &canarySource{canaryErr: 0.005}
	ctl := rollout.New(rollout.Config{Store: st, Sources: map[string]rollout.Source{rollout.SourceSDK: src}, Now: clk.Now})
	sum := sha256.Sum256([]byte("test-token"))
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Store: st, AdminTokenHash: sum[:], Rollouts: ctl, RolloutStore: st}))
	t.Cleanup(srv.Close)
	_, err = st.CreateFlag(ctx, ramp.Change{Actor: "dev"}, &ramp.Flag{Key: "checkout", Type: ramp.TypeBoolean, DefaultVariant: "off",
		Variants: []ramp.Variant{{Key: "on", Value: json.RawMessage("true")}, {Key: "off", Value: json.RawMessage("false")}}})
	if err != nil {
		t.Fatal(err)
	}
	return &rolloutEnv{t: t, url: srv.URL, store: st, ctl: ctl, clock: clk, src: src}
}

// ramp runs the command line and fails the test unless it exits with code.
func (e *rolloutEnv) ramp(code int, args ...string) (stdout, stderr string) {
	e.t.Helper()
	stdout, stderr, got := rampCLI(e.t, e.url, nil, args...)
	if got != code {
		e.t.Fatalf("ramp %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, stdout, stderr)
	}
	return stdout, stderr
}

func (e *rolloutEnv) tick() {
	e.t.Helper()
	if err := e.ctl.Tick(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *rolloutEnv) percent(env string) float64 {
	e.t.Helper()
	f, err := e.store.GetFlag(context.Background(), "checkout")
	if err != nil {
		e.t.Fatal(err)
	}
	return f.Percentage(env)
}

// view decodes the JSON of a rollout command.
func view(t *testing.T, out string) client.RolloutView {
	t.Helper()
	var v client.RolloutView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	return v
}

func TestRolloutCommands(t *testing.T) {
	e := newRolloutEnv(t)

	out, _ := e.ramp(exitOK, "rollout", "start", "checkout", "--template", "demo")
	if !strings.Contains(out, "started rollout 1 of checkout in production: 5% for 20s, 25% for 20s, 50% for 20s, 100%") {
		t.Errorf("start printed:\n%s", out)
	}
	if p := e.percent("production"); p != 5 {
		t.Errorf("after start the flag serves %v%%, want 5", p)
	}
	_, stderr := e.ramp(exitFailure, "rollout", "start", "checkout", "--template", "demo")
	if !strings.Contains(stderr, "already has rollout 1 in production") {
		t.Errorf("second start: %s", stderr)
	}

	e.clock.Add(5 * time.Second)
	e.tick()
	out, _ = e.ramp(exitOK, "rollout", "status", "checkout")
	for _, want := range []string{
		"Status:       running, stage 1 of 4 at 5%",
		"Variants:     on (canary) against off (baseline)",
		"Analysis:     every 2s from sdk; on warning step_back; alpha 0.01",
		"1      5%       20s           current [",
		"2      25%      20s           pending",
		"4      100%     -             pending",
		"error-rate   error_rate  pass          100/20,000 failed (0.50%)  1,900/380,000 failed (0.50%)",
		"    canary error rate",
		"p99-latency  latency     inconclusive",
		"Decision: hold: inconclusive: p99-latency: unusable canary data: no latency histogram",
		"rollout.start  →1     5%       running  admin  started by admin",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not show %q:\n%s", want, out)
		}
	}

	out, _ = e.ramp(exitOK, "rollout", "pause", "checkout", "--reason", "deploy freeze")
	if strings.TrimSpace(out) != "checkout in production: rollout 1 paused at stage 1 of 4, 5%: deploy freeze" {
		t.Errorf("pause printed %q", out)
	}
	_, stderr = e.ramp(exitFailure, "rollout", "pause", "checkout")
	if !strings.Contains(stderr, "rollout 1 is paused; it cannot pause") {
		t.Errorf("second pause: %s", stderr)
	}
	out, stderr = e.ramp(exitOK, "rollout", "resume", "checkout", "--reason", "freeze over")
	if !strings.Contains(out, "rollout 1 running at stage 1 of 4, 5%") || stderr != "" {
		t.Errorf("resume printed %q, %q", out, stderr)
	}
	out, _ = e.ramp(exitOK, "rollout", "promote", "checkout", "-o", "json")
	if v := view(t, out); v.Status != ramp.RolloutRunning || v.Stage != 1 {
		t.Errorf("after promote: %s at stage %d", v.Status, v.Stage)
	}
	if p := e.percent("production"); p != 25 {
		t.Errorf("after promote the flag serves %v%%, want 25", p)
	}

	out, _ = e.ramp(exitOK, "rollout", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[1])[:6], " ") != "1 checkout production running 2/4 25%" {
		t.Errorf("list:\n%s", out)
	}

	// --id names the rollout; a flag or an environment given with it must
	// match.
	_, stderr = e.ramp(exitFailure, "rollout", "abort", "other", "--id", "1")
	if !strings.Contains(stderr, "rollout 1 is a rollout of checkout, not other") {
		t.Errorf("abort with a wrong flag: %s", stderr)
	}
	_, stderr = e.ramp(exitFailure, "rollout", "abort", "--id", "1", "--env", "staging")
	if !strings.Contains(stderr, "rollout 1 is in production, not staging") {
		t.Errorf("abort with a wrong environment: %s", stderr)
	}
	out, _ = e.ramp(exitOK, "rollout", "abort", "--id", "1", "--reason", "tickets")
	if strings.TrimSpace(out) != "checkout in production: rollout 1 aborted, back to 0%: tickets" {
		t.Errorf("abort printed %q", out)
	}
	if p := e.percent("production"); p != 0 {
		t.Errorf("after abort the flag serves %v%%", p)
	}
	_, stderr = e.ramp(exitFailure, "rollout", "promote", "checkout")
	if !strings.Contains(stderr, "checkout has no active rollout in production; the last one, 1, was aborted") {
		t.Errorf("promote without an active rollout: %s", stderr)
	}
	_, stderr = e.ramp(exitFailure, "rollout", "status", "checkout", "--env", "staging")
	if !strings.Contains(stderr, "checkout has no rollout in staging; start one with: ramp rollout start checkout --env staging") {
		t.Errorf("status without a rollout: %s", stderr)
	}

	out, _ = e.ramp(exitOK, "rollout", "list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "ID") {
		t.Errorf("list of active rollouts after abort:\n%s", out)
	}
	out, _ = e.ramp(exitOK, "rollout", "list", "--all", "--flag", "checkout", "-o", "json")
	var list []client.RolloutView
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 || list[0].Status != ramp.RolloutAborted || list[0].Reason != "tickets" {
		t.Errorf("list --all -o json: %s (%v)", out, err)
	}

	out, _ = e.ramp(exitOK, "rollout", "status", "checkout", "-o", "json")
	v := view(t, out)
	st, err := v.DecodeState()
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, tr := range st.Transitions {
		actions = append(actions, tr.Action)
	}
	if want := "rollout.start rollout.pause rollout.resume rollout.promote rollout.abort"; strings.Join(actions, " ") != want {
		t.Errorf("transitions %v, want %s", actions, want)
	}
	if v.Latest == nil || v.Latest.Decision != "hold" {
		t.Errorf("latest analysis %+v", v.Latest)
	}

	// The kill switch ends the rollout without a transition in its state;
	// status shows the end from the rollout's record.
	e.ramp(exitOK, "rollout", "start", "checkout", "--stages", "5:1h,100", "--guard", "error-rate")
	e.ramp(exitOK, "rollback", "checkout")
	out, _ = e.ramp(exitOK, "rollout", "status", "checkout")
	for _, want := range []string{"Status:       aborted at stage 1 of 2, now 0%", "Reason:       kill switch by admin",
		"1      5%       1h            aborted here", "rollout.abort  1      0%       aborted  -      kill switch by admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("status after the kill switch does not show %q:\n%s", want, out)
		}
	}
}

// watch runs "ramp rollout status --watch" in the background and returns
// a function that waits for its result.
func (e *rolloutEnv) watch(args ...string) func() (stdout, stderr string, code int) {
	type result struct {
		stdout, stderr string
		code           int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := rampCLI(e.t, e.url, nil, append([]string{"rollout", "status", "checkout", "--watch", "--refresh", "100ms"}, args...)...)
		done <- result{out, errOut, code}
	}()
	return func() (string, string, int) {
		select {
		case r := <-done:
			return r.stdout, r.stderr, r.code
		case <-time.After(30 * time.Second):
			e.t.Fatal("rollout status --watch did not end")
			return "", "", 0
		}
	}
}

func TestRolloutWatchExitStatus(t *testing.T) {
	e := newRolloutEnv(t)

	// A healthy canary is promoted through both stages: exit 0.
	e.ramp(exitOK, "rollout", "start", "checkout", "--stages", "50:1m,100", "--guard", "error-rate")
	wait := e.watch()
	time.Sleep(300 * time.Millisecond)
	e.clock.Add(2 * time.Minute)
	e.tick()
	stdout, stderr, code := wait()
	if code != exitOK {
		t.Fatalf("watch of a promoted rollout: exit %d, stderr %s", code, stderr)
	}
	if strings.Count(stdout, "== ") == 0 || strings.Contains(stdout, clearScreen) {
		t.Errorf("watch printed no block, or cleared a screen that is not a terminal:\n%s", stdout)
	}
	if !strings.Contains(stdout, "Status:       promoted: done, 100%") || !strings.Contains(stdout, "rollout.complete") {
		t.Errorf("last block does not show the promotion:\n%s", stdout)
	}

	// A failing canary is rolled back: exit 1, and the reason on stderr.
	e.src.set(0.2)
	e.ramp(exitOK, "rollout", "start", "checkout", "--stages", "50:1m,100", "--guard", "error-rate", "-o", "json")
	wait = e.watch("-o", "json")
	time.Sleep(300 * time.Millisecond)
	e.clock.Add(time.Minute)
	e.tick()
	stdout, stderr, code = wait()
	if code != exitFailure || !strings.Contains(stderr, "rollout 2 of checkout in production was rolled back: critical: error-rate:") {
		t.Fatalf("watch of a rolled-back rollout: exit %d, stderr %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if last := view(t, lines[len(lines)-1]); last.Status != ramp.RolloutRolledBack || last.Latest == nil || last.Latest.Decision != "rollback" {
		t.Errorf("last JSON line: %s", lines[len(lines)-1])
	}
	if p := e.percent("production"); p != 0 {
		t.Errorf("after the rollback the flag serves %v%%", p)
	}

	// Watching an ended rollout reports how it ended at once.
	_, stderr, code = rampCLI(t, e.url, nil, "rollout", "status", "checkout", "--watch")
	if code != exitFailure || !strings.Contains(stderr, "was rolled back") {
		t.Errorf("watch of an ended rollout: exit %d, %s", code, stderr)
	}
}

func TestRolloutWatchStopsWithContext(t *testing.T) {
	e := newRolloutEnv(t)
	e.ramp(exitOK, "rollout", "start", "checkout", "--template", "standard")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var out, errOut strings.Builder
	env := map[string]string{"RAMP_SERVER": e.url, "RAMP_TOKEN": "test-token"}
	code := run(ctx, []string{"rollout", "status", "checkout", "--watch", "--refresh", "100ms"}, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	if code != exitFailure || !strings.Contains(errOut.String(), "stopped watching rollout 1 of checkout in production: it is still running") {
		t.Errorf("exit %d, stderr %s", code, errOut.String())
	}
	if n := strings.Count(out.String(), "== "); n != 1 {
		t.Errorf("an unchanged rollout was printed %d times:\n%s", n, out.String())
	}
}

func TestRolloutStartPlans(t *testing.T) {
	e := newRolloutEnv(t)
	example := filepath.Join("..", "..", "docs", "examples", "rollout.yaml")
	tests := []struct {
		name string
		args []string
		code int
		msg  string // in stderr, or in stdout when the command succeeds
	}{
		{"no plan", []string{"checkout"}, exitUsage, "needs exactly one of -f FILE, --template NAME or --stages LIST"},
		{"two plans", []string{"checkout", "--template", "demo", "--stages", "5:1h,100"}, exitUsage, "exactly one of"},
		{"bad key", []string{"Checkout!", "--template", "demo"}, exitUsage, "flag key"},
		{"unknown template", []string{"checkout", "--template", "slow"}, exitUsage, `"slow" is not a template: use one of demo, fast, standard`},
		{"bad stage percent", []string{"checkout", "--stages", "5:1h,abc"}, exitUsage, `stage 2: "abc" is not a percentage`},
		{"bad stage duration", []string{"checkout", "--stages", "5:1week,100"}, exitUsage, `stage 1: "1week" is not a duration`},
		{"empty stage", []string{"checkout", "--stages", "5:1h,,100"}, exitUsage, "stage 2 is empty"},
		{"falling stages", []string{"checkout", "--stages", "50:1h,20"}, exitUsage, "stages[1].percent: 20% does not rise above the previous stage's 50%"},
		{"stage without duration", []string{"checkout", "--stages", "5,100"}, exitUsage, "stages[0].duration: is required"},
		{"unknown preset", []string{"checkout", "--stages", "5:1h,100", "--guard", "errors"}, exitUsage, `"errors" is not a guard preset`},
		{"bad guard setting", []string{"checkout", "--stages", "5:1h,100", "--guard", "error-rate,critical"}, exitUsage, `"critical" is not a setting`},
		{"invalid guard", []string{"checkout", "--stages", "5:1h,100", "--guard", "error-rate,critical=150%"}, exitUsage, "critical 1.5 is not an error rate"},
		{"bad on-warning", []string{"checkout", "--template", "demo", "--on-warning", "panic"}, exitUsage, `onWarning: "panic": use step_back or rollback`},
		{"missing file", []string{"checkout", "-f", "no-such-plan.yaml"}, exitFailure, "no-such-plan.yaml"},
		{"example dry run", []string{"checkout", "-f", example, "--dry-run"}, exitOK, "  - percent: 5\n    duration: 3d\n"},
		{"stages dry run", []string{"checkout", "--stages", "5%:90m,100", "--guard", "p99-latency,critical=800ms", "--interval", "30s", "--dry-run"},
			exitOK, "stages:\n  - percent: 5\n    duration: 1h30m\n  - percent: 100\nguards:\n  - name: p99-latency\n    metric: latency\n    quantile: 0.99\n    margin: 0.1\n    critical: 0.8\n    minRequests: 1000\ninterval: 30s\n"},
		{"template with override dry run", []string{"checkout", "--template", "standard", "--on-warning", "rollback", "--dry-run"}, exitOK, "onWarning: rollback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := rampCLI(t, e.url, nil, append([]string{"rollout", "start"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			where := stderr
			if code == exitOK {
				where = stdout
			}
			if !strings.Contains(where, tt.msg) {
				t.Errorf("output does not contain %q:\n%s", tt.msg, where)
			}
		})
	}
	if p := e.percent("production"); p != 0 {
		t.Errorf("rejected starts and dry runs changed the flag: %v%%", p)
	}

	// A plan from stdin, with the flags overriding it.
	plan := "stages:\n  - percent: 10\n    duration: 1h\n  - percent: 100\nguards:\n  - name: errors\n    metric: error_rate\n"
	stdout, stderr, code := rampCLI(t, e.url, strings.NewReader(plan), "rollout", "start", "checkout", "-f", "-", "--env", "staging", "--interval", "10s", "-o", "json")
	if code != exitOK {
		t.Fatalf("start -f -: exit %d: %s", code, stderr)
	}
	v := view(t, stdout)
	p, err := v.DecodePlan()
	if err != nil || v.Environment != "staging" || time.Duration(p.Interval) != 10*time.Second || p.Guards[0].Name != "errors" {
		t.Errorf("started %+v with plan %+v (%v)", v.Rollout, p, err)
	}
	if e.percent("staging") != 10 {
		t.Errorf("staging serves %v%%, want 10", e.percent("staging"))
	}
}

// TestExamplePlan checks that docs/examples/rollout.yaml parses, is valid,
// and is the runbook's plan.
func TestExamplePlan(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "docs", "examples", "rollout.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := parsePlanFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("the example plan is invalid: %s", planError(err))
	}
	var stages []string
	for _, s := range p.Stages {
		stages = append(stages, formatPercent(s.Percent)+":"+s.Duration.String())
	}
	if got := strings.Join(stages, ","); got != "5%:3d,25%:4d,50%:4d,100%:0s" {
		t.Errorf("stages %s", got)
	}
	if len(p.Guards) != 2 || p.Guards[0].Metric != judge.ErrorRate || p.Guards[0].Critical != 0.05 ||
		p.Guards[1].Metric != judge.Latency || p.Guards[1].Quantile != 0.99 || p.Guards[1].Margin != 1 {
		t.Errorf("guards %+v", p.Guards)
	}
	if p.Source != rollout.SourceSDK || p.OnWarning != judge.StepBack || time.Duration(p.Interval) != 5*time.Minute {
		t.Errorf("settings %+v", p)
	}
}

func TestParsePlanFileErrors(t *testing.T) {
	tests := []struct{ name, yaml, msg string }{
		{"empty", "", "the file is empty"},
		{"comments only", "# nothing\n", "the file is empty"},
		{"list", "- percent: 5\n", "line 1: a plan is a mapping"},
		{"unknown field", "stages:\n  - percent: 5\n    durations: 1h\n", "line 3: field durations not found"},
		{"unknown guard field", "stages: []\nguards:\n  - name: e\n    metric: error_rate\n    threshold: 0.1\n", "line 5: field threshold not found"},
		{"number duration", "stages:\n  - percent: 5\n    duration: 3600\n", "line 3: duration 3600 has no unit"},
		{"number interval", "interval: 60\n", "line 1: interval 60 has no unit"},
		{"bad duration", "stages:\n  - percent: 5\n    duration: soon\n", `"soon" is not a duration`},
		{"two documents", "stages: []\n---\nstages: []\n", "more than one YAML document"},
		{"bad yaml", "stages: [\n", "line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parsePlanFile(strings.NewReader(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %v, want one containing %q", err, tt.msg)
			}
		})
	}
	p, err := parsePlanFile(strings.NewReader("stages:\n  - percent: 100\n    duration: 0\n"))
	if err != nil || len(p.Stages) != 1 || p.Stages[0].Duration != 0 {
		t.Errorf("duration 0: %+v, %v", p, err)
	}
}

func TestParseGuard(t *testing.T) {
	tests := []struct {
		spec string
		want judge.Guard
		err  string
	}{
		{"error-rate", judge.Guard{Name: "error-rate", Metric: judge.ErrorRate, AbsMargin: 0.001, Critical: 0.05}, ""},
		{"error-rate,critical=2%,margin=0.1", judge.Guard{Name: "error-rate", Metric: judge.ErrorRate, AbsMargin: 0.001, Critical: 0.02, Margin: 0.1}, ""},
		{"p99-latency,critical=800ms", judge.Guard{Name: "p99-latency", Metric: judge.Latency, Quantile: 0.99, Margin: 0.1, MinRequests: 1000, Critical: 0.8}, ""},
		{"p90-latency,critical=1.5,name=slow", judge.Guard{Name: "slow", Metric: judge.Latency, Quantile: 0.9, Margin: 0.1, Critical: 1.5}, ""},
		{"name=e, metric=error_rate, absMargin=0.1%, minRequests=500, tau=0.002", judge.Guard{Name: "e", Metric: judge.ErrorRate, AbsMargin: 0.001, MinRequests: 500, Tau: 0.002}, ""},
		{"throughput", judge.Guard{Name: "throughput", Metric: judge.Throughput}, ""},
		{"metric=error_rate", judge.Guard{}, "needs a name"},
		{"latency", judge.Guard{}, `"latency" is not a guard preset`},
		{"error-rate,colour=red", judge.Guard{}, `unknown setting "colour"`},
		{"error-rate,margin=lots", judge.Guard{}, "margin=lots is not a number"},
		{"p99-latency,critical=soon", judge.Guard{}, "critical=soon: use seconds"},
		{"error-rate,=1", judge.Guard{}, `"=1" is not a setting`},
	}
	for _, tt := range tests {
		g, err := parseGuard(tt.spec)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !isUsage(err) {
				t.Errorf("parseGuard(%q) error %v, want a usage error containing %q", tt.spec, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(g.Guard, tt.want) {
			t.Errorf("parseGuard(%q) = %+v, %v; want %+v", tt.spec, g.Guard, err, tt.want)
		}
	}
}

func TestParseStages(t *testing.T) {
	got, err := parseStages("5:72h, 25%:4d,50:1d12h,100")
	want := []rollout.Stage{
		{Percent: 5, Duration: rollout.Duration(72 * time.Hour)},
		{Percent: 25, Duration: rollout.Duration(96 * time.Hour)},
		{Percent: 50, Duration: rollout.Duration(36 * time.Hour)},
		{Percent: 100},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseStages = %+v, %v", got, err)
	}
}

// TestRolloutTemplatesRoundTrip checks that a template printed by
// "rollout templates NAME" is a plan file "rollout start -f" reads back
// unchanged.
func TestRolloutTemplatesRoundTrip(t *testing.T) {
	e := newRolloutEnv(t)
	all, _ := e.ramp(exitOK, "rollout", "templates")
	for _, name := range []string{"demo:", "fast:", "standard:"} {
		if !strings.Contains(all, "\n"+name) && !strings.HasPrefix(all, name) {
			t.Errorf("templates do not list %s:\n%s", name, all)
		}
	}
	for name, want := range rollout.Templates() {
		out, _ := e.ramp(exitOK, "rollout", "templates", name)
		got, err := parsePlanFile(strings.NewReader(out))
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		want.Normalize()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s read back as %+v, want %+v", name, got, want)
		}
	}
	out, _ := e.ramp(exitOK, "rollout", "templates", "-o", "json")
	var ts map[string]rollout.Plan
	if err := json.Unmarshal([]byte(out), &ts); err != nil || len(ts) != 3 {
		t.Errorf("templates -o json: %v\n%s", err, out)
	}
	_, stderr := e.ramp(exitUsage, "rollout", "templates", "slow")
	if !strings.Contains(stderr, `"slow" is not a template`) {
		t.Errorf("unknown template: %s", stderr)
	}
}

func TestRolloutUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"rollout", "pause"},
		{"rollout", "status", "a", "b"},
		{"rollout", "abort", "--id", "-3"},
		{"rollout", "status", "checkout", "--refresh", "1ms"},
		{"rollout", "list", "--limit", "5000"},
		{"rollout", "frobnicate"},
	} {
		_, stderr, code := rampCLI(t, closedURL(t), nil, args...)
		if code != exitUsage {
			t.Errorf("ramp %s: exit %d, want %d; stderr %s", strings.Join(args, " "), code, exitUsage, stderr)
		}
	}
}

func TestPrintRolloutStatus(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.Local)
	plan := rollout.Templates()["standard"]
	plan.Normalize()
	st := rollout.State{Canary: "on", Baseline: "off", StageStarted: t0.Add(72 * time.Hour), Transitions: []rollout.Transition{
		{Time: t0, Action: ramp.ActionRolloutStart, Percent: 5, Status: ramp.RolloutRunning, Actor: "alice", Reason: "started by alice"},
		{Time: t0.Add(72 * time.Hour), Action: ramp.ActionRolloutPromote, From: 0, To: 1, Percent: 25, Status: ramp.RolloutRunning, Actor: rollout.Actor, Reason: "all 2 guards pass"},
	}}
	verdicts := []judge.Verdict{
		{Guard: "error-rate", Metric: judge.ErrorRate, Outcome: judge.Pass, Summary: "canary error rate 0.50% vs baseline 0.53%",
			Canary: judge.Figures{Requests: 2400, Errors: 12, ErrorRate: 0.005}, Baseline: judge.Figures{Requests: 45600, Errors: 240, ErrorRate: 0.00526}},
		{Guard: "p99-latency", Metric: judge.Latency, Outcome: judge.Warning, Quantile: 0.99, Summary: "canary p99 420ms vs baseline 300ms (+40%)",
			Canary: judge.Figures{Requests: 2400, Latency: 0.42}, Baseline: judge.Figures{Requests: 45600, Latency: 0.3}},
	}
	mustJSON := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v := &client.RolloutView{
		Rollout: ramp.Rollout{ID: 7, Flag: "checkout-v2", Environment: "production", Status: ramp.RolloutRunning, Stage: 1,
			Plan: mustJSON(plan), State: mustJSON(st), Version: 3, CreatedBy: "alice", CreatedAt: t0},
		Latest: &ramp.Analysis{ID: 9, RolloutID: 7, Time: t0.Add(96 * time.Hour), Stage: 1, Decision: "hold", Reason: "all 2 guards pass; 3d of the stage's 4d minimum left",
			Verdicts: mustJSON(verdicts)},
	}
	var b strings.Builder
	printRolloutStatus(&b, v, t0.Add(96*time.Hour)) // one day into the 4-day stage
	out := b.String()
	for _, want := range []string{
		"Rollout:      7\n",
		"Status:       running, stage 2 of 4 at 25%\n",
		"Analysis:     every 5m from sdk; on warning step_back; alpha 0.01\n",
		"Started:      2026-11-01 09:00:00 by alice\n",
		"1      5%       3d            done\n",
		"2      25%      4d            current [██████░░░░░░░░░░░░░░░░░░]  25%  1d in stage, 3d left\n",
		"3      50%      4d            pending\n",
		"4      100%     -             pending\n",
		"Latest analysis: 2026-11-05 09:00:00, stage 2\n",
		"error-rate   error_rate  pass     12/2,400 failed (0.50%)  240/45,600 failed (0.53%)\n    canary error rate 0.50% vs baseline 0.53%\n",
		"p99-latency  latency     warning  p99 420ms of 2,400       p99 300ms of 45,600\n    canary p99 420ms vs baseline 300ms (+40%)\n",
		"Decision: hold: all 2 guards pass; 3d of the stage's 4d minimum left\n",
		"2026-11-01 09:00:00  rollout.start    →1     5%       running  alice               started by alice\n",
		"2026-11-04 09:00:00  rollout.promote  1→2    25%      running  rollout-controller  all 2 guards pass\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not contain %q:\n%s", want, out)
		}
	}

	// Past the minimum, the bar is full and says what the stage waits for;
	// paused, the row says so.
	v.Status = ramp.RolloutPaused
	b.Reset()
	printRolloutStatus(&b, v, t0.Add(200*time.Hour))
	if want := "paused [████████████████████████] 100%  5d8h in stage, minimum reached, promoted once every guard passes"; !strings.Contains(b.String(), want) {
		t.Errorf("status past the minimum does not contain %q:\n%s", want, b.String())
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                             "0s",
		45 * time.Second:              "45s",
		90 * time.Second:              "1m30s",
		72 * time.Hour:                "3d",
		28*time.Hour + 48*time.Minute: "1d4h",
		24*time.Hour + 12*time.Minute: "1d",
		2*time.Hour + 15*time.Minute:  "2h15m",
		1500 * time.Millisecond:       "2s",
		-time.Minute:                  "-1m",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if got := formatCount(1234567); got != "1,234,567" {
		t.Errorf("formatCount = %q", got)
	}
	if got := formatCount(12.5); got != "12.5" {
		t.Errorf("formatCount = %q", got)
	}
}
