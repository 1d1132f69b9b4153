package e2e

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/internal/promtest"
	"github.com/ramp-flags/ramp/preflight"
)

// preflightRules is an alerting rule file for the flag checkout, labelled
// as ramp alerts labels its rules.
const preflightRules = `groups:
  - name: ramp-checkout
    rules:
      - alert: RampCheckoutCanaryErrors
        expr: sum(rate(ramp_flag_errors_total{flag="checkout",variant="on"}[5m])) > 0.05
        for: 2m
        labels:
          severity: critical
          ramp_flag: checkout
          ramp_env: production
        annotations:
          summary: the canary of checkout fails
`

// preflightTraffic is the traffic of the application in the preflight
// tests: about 5,000 requests a second per flag, each taking 2-4 ms, one
// in 200 failing on the off path and none on the on path.
func preflightTraffic(flags ...string) appTraffic {
	tr := appTraffic{flags: flags, perTick: 50, latencyMS: 2, spreadMS: 3, failEvery: map[flagVariant]int64{}}
	for _, key := range flags {
		tr.failEvery[flagVariant{key, "off"}] = 200
	}
	return tr
}

// runPreflight runs ramp preflight with -o json and decodes the report.
func runPreflight(t *testing.T, s *server, args ...string) (preflight.Report, result) {
	t.Helper()
	r := s.ramp(nil, append([]string{"preflight"}, append(args, "-o", "json")...)...)
	var rep preflight.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("ramp preflight %v: exit %d, stdout not a JSON report: %v\n%s\nstderr: %s", args, r.code, err, r.stdout, r.stderr)
	}
	return rep, r
}

// check returns the check with the ID, failing the test if it is missing.
func check(t *testing.T, rep preflight.Report, id string) preflight.Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", id, rep.Checks)
	return preflight.Check{}
}

// wantFailed checks that the preflight exited 1 with the check failing
// for the reason, and that the check has a fix.
func wantFailed(t *testing.T, what string, rep preflight.Report, r result, id, reason string) {
	t.Helper()
	c := check(t, rep, id)
	if r.code != 1 || rep.OK || c.OK || !c.Required || !strings.Contains(c.Reason, reason) || c.Fix == "" {
		t.Errorf("%s: exit %d, ok %v; check %+v; want exit 1 and %s failing with %q and a fix", what, r.code, rep.OK, c, id, reason)
	}
	if !strings.Contains(r.stderr, id) {
		t.Errorf("%s: stderr %q does not name the failed check %s", what, r.stderr, id)
	}
}

// TestPreflight runs ramp preflight against a real stack: the server, an
// application embedding the SDK that reports counts and exposes its
// metrics, a real Prometheus scraping it with the flag's alert rules
// loaded, and a webhook. The checklist passes; then each item is broken
// for real and fails with its reason.
func TestPreflight(t *testing.T) {
	rulesFile := filepath.Join(t.TempDir(), "ramp-checkout.rules.yml")
	if err := os.WriteFile(rulesFile, []byte(preflightRules), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	prom := promtest.Start(t, []string{ln.Addr().String()}, promtest.RuleFiles(rulesFile))
	hook := newHookRecorder(t)
	s := startServerAt(t, "127.0.0.1:0", t.TempDir(), "admin", "--prometheus-url", prom.URL, "--webhook", hook.URL,
		"--prometheus-min-window", "4s")
	for _, key := range []string{"checkout", "search", "billing"} {
		s.mustRamp("flag", "create", key, "--type", "boolean")
	}
	// The application evaluates checkout and search, not billing.
	app := startSDKApp(t, s, preflightTraffic("checkout", "search"))
	serveSDKApp(t, ln, app.client)
	prom.WaitScraped(t, time.Now(), 30*time.Second)

	// Healthy: every required check passes.
	var rep preflight.Report
	var r result
	waitFor(t, 30*time.Second, "a passing preflight", func() bool {
		rep, r = runPreflight(t, s, "checkout", "--min-free-disk", "1MiB")
		return r.code == 0
	})
	if !rep.OK || rep.Flag != "checkout" || rep.Environment != "production" || len(rep.Checks) != 15 {
		t.Errorf("report %+v", rep)
	}
	for _, c := range rep.Checks {
		if c.Required && !c.OK {
			t.Errorf("required check failed on a healthy setup: %+v", c)
		}
		t.Logf("%s %v: %s", c.ID, c.OK, c.Reason)
	}
	if c := check(t, rep, preflight.IDPrometheusRules); !strings.Contains(c.Reason, "RampCheckoutCanaryErrors") {
		t.Errorf("rules check %+v", c)
	}
	if c := check(t, rep, preflight.IDPrometheusMetrics); !strings.Contains(c.Reason, "off (baseline) and on (canary)") {
		t.Errorf("metrics check %+v", c)
	}
	if c := check(t, rep, preflight.IDBaseline); c.OK || c.Required {
		t.Errorf("baseline check without a baseline %+v, want a failing advice", c)
	}
	// The JSON shape: the fields the deployment guide reads.
	var raw struct {
		Checks []map[string]any `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"id", "name", "required", "ok", "reason"} {
		if _, ok := raw.Checks[0][field]; !ok {
			t.Errorf("JSON check lacks %q: %v", field, raw.Checks[0])
		}
	}
	// The checklist as people read it.
	table := s.mustRamp("preflight", "checkout", "--min-free-disk", "1MiB")
	if !strings.Contains(table, "✔ server is healthy") || !strings.Contains(table, "ready to start the rollout") || !strings.Contains(table, "✘ a baseline is recorded (advice)") {
		t.Errorf("checklist:\n%s", table)
	}
	t.Logf("ramp preflight checkout:\n%s", table)
	// With a baseline recorded, the advice passes too.
	s.mustRamp("baseline", "checkout", "--record", "--source", "sdk", "--window", "2s")
	rep, _ = runPreflight(t, s, "checkout", "--min-free-disk", "1MiB")
	if c := check(t, rep, preflight.IDBaseline); !c.OK {
		t.Errorf("baseline check after recording %+v", c)
	}
	// A baseline from Prometheus, over what it scraped of the application.
	// increase() needs two scrapes in the window: the first ones may be
	// only a second old.
	var bv client.BaselineView
	var rec result
	waitFor(t, 20*time.Second, "a baseline recorded from Prometheus", func() bool {
		rec = s.ramp(nil, "baseline", "checkout", "--record", "--source", "prometheus", "--window", "6s", "-o", "json")
		return rec.code == 0 || !strings.Contains(rec.stderr, "served no requests")
	})
	if rec.code != 0 {
		t.Fatalf("ramp baseline --record --source prometheus: exit %d: %s", rec.code, rec.stderr)
	}
	if err := json.Unmarshal([]byte(rec.stdout), &bv); err != nil {
		t.Fatal(err)
	}
	if b := bv.Stored; b == nil || b.Source != "prometheus" || b.Variant != "off" || b.Requests < 1000 || b.ErrorRate < 0.002 || b.ErrorRate > 0.01 || b.P99 <= 0 || b.P99 > 0.005 {
		t.Errorf("baseline from Prometheus %+v", bv.Stored)
	}
	if bv.Live == nil || bv.Live.Source != "prometheus" {
		t.Errorf("live figures %+v (%s), want from Prometheus", bv.Live, bv.LiveError)
	}

	t.Run("rules missing", func(t *testing.T) {
		rep, r := runPreflight(t, s, "search", "--min-free-disk", "1MiB")
		wantFailed(t, "search", rep, r, preflight.IDPrometheusRules, `none labelled ramp_flag="search"`)
		if c := check(t, rep, preflight.IDPrometheusMetrics); !c.OK {
			t.Errorf("search's metrics %+v", c)
		}
	})
	t.Run("metrics missing", func(t *testing.T) {
		rep, r := runPreflight(t, s, "billing", "--min-free-disk", "1MiB")
		wantFailed(t, "billing", rep, r, preflight.IDPrometheusMetrics, "has no series; missing off and on")
		wantFailed(t, "billing", rep, r, preflight.IDSDKMetrics, "no SDK reported requests")
	})
	t.Run("flag not at 0%", func(t *testing.T) {
		s.mustRamp("set", "checkout", "5%")
		defer s.mustRamp("rollback", "checkout")
		rep, r := runPreflight(t, s, "checkout", "--min-free-disk", "1MiB")
		wantFailed(t, "checkout at 5%", rep, r, preflight.IDFlagAtZero, "serves on to 5% of users")
		if c := check(t, rep, preflight.IDKillSwitch); !c.OK || !strings.Contains(c.Reason, "would turn production off (from 5%)") {
			t.Errorf("kill switch dry run at 5%%: %+v", c)
		}
		// The dry run wrote nothing: still at 5 %.
		if p := statusPercentage(t, s, "checkout", "production"); p != 5 {
			t.Errorf("after the preflight checkout serves %v%%, want 5", p)
		}
	})
	t.Run("unknown flag", func(t *testing.T) {
		rep, r := runPreflight(t, s, "nope", "--min-free-disk", "1MiB")
		wantFailed(t, "nope", rep, r, preflight.IDFlagExists, `flag "nope" does not exist`)
		wantFailed(t, "nope", rep, r, preflight.IDKillSwitch, "does not exist")
	})
	t.Run("unknown environment", func(t *testing.T) {
		rep, r := runPreflight(t, s, "checkout", "--env", "qa", "--min-free-disk", "1MiB")
		wantFailed(t, "qa", rep, r, preflight.IDKillSwitch, `environment "qa" does not exist`)
	})
	t.Run("plan invalid", func(t *testing.T) {
		plan := filepath.Join(t.TempDir(), "plan.yaml")
		os.WriteFile(plan, []byte("stages:\n  - {percent: 50, duration: 1h}\n  - {percent: 25}\nguards: []\n"), 0o644)
		rep, r := runPreflight(t, s, "checkout", "-f", plan, "--min-free-disk", "1MiB")
		wantFailed(t, "bad plan", rep, r, preflight.IDPlanValid, "does not rise above the previous stage")
		rep, r = runPreflight(t, s, "checkout", "--template", "nope", "--min-free-disk", "1MiB")
		wantFailed(t, "unknown template", rep, r, preflight.IDPlanValid, `"nope" is not a template`)
	})
	t.Run("disk", func(t *testing.T) {
		rep, r := runPreflight(t, s, "checkout", "--min-free-disk", "100000TiB")
		wantFailed(t, "disk", rep, r, preflight.IDServerDisk, "below the")
	})
	t.Run("prometheus given unreachable", func(t *testing.T) {
		rep, r := runPreflight(t, s, "checkout", "--prometheus", "http://127.0.0.1:1", "--min-free-disk", "1MiB")
		wantFailed(t, "--prometheus down", rep, r, preflight.IDPrometheusReach, "no answer from Prometheus")
	})
	t.Run("prometheus down", func(t *testing.T) {
		prom.Stop()
		defer prom.Restart(t)
		rep, r := runPreflight(t, s, "checkout", "--min-free-disk", "1MiB")
		wantFailed(t, "Prometheus stopped", rep, r, preflight.IDPrometheusReach, "no answer from Prometheus")
		wantFailed(t, "Prometheus stopped", rep, r, preflight.IDPrometheusRules, "not reachable")
	})
	t.Run("server down", func(t *testing.T) {
		r := s.ramp(nil, "preflight", "checkout", "--server", "http://127.0.0.1:1", "-o", "json")
		var rep preflight.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("no JSON report: %v\n%s", err, r.stdout)
		}
		wantFailed(t, "server down", rep, r, preflight.IDServerReady, "cannot reach the ramp server")
	})
	t.Run("usage", func(t *testing.T) {
		if r := s.ramp(nil, "preflight"); r.code != 2 {
			t.Errorf("no flag: exit %d, want 2", r.code)
		}
		if r := s.ramp(nil, "preflight", "checkout", "--prometheus", "prometheus:9090"); r.code != 2 {
			t.Errorf("--prometheus without scheme: exit %d, want 2", r.code)
		}
	})
}

// TestPreflightWithoutPrometheusOrWebhook checks a server with neither:
// the Prometheus items pass as not needed for an sdk plan, the
// notification item fails, and a plan that reads Prometheus fails.
func TestPreflightWithoutPrometheusOrWebhook(t *testing.T) {
	s := startServer(t, t.TempDir(), "admin")
	s.mustRamp("flag", "create", "checkout", "--type", "boolean")
	startSDKApp(t, s, preflightTraffic("checkout"))
	var rep preflight.Report
	var r result
	waitFor(t, 30*time.Second, "the SDK's counts", func() bool {
		rep, r = runPreflight(t, s, "checkout", "--min-free-disk", "1MiB")
		return check(t, rep, preflight.IDSDKMetrics).OK
	})
	wantFailed(t, "no webhook", rep, r, preflight.IDNotifications, "the server has no webhook")
	if c := check(t, rep, preflight.IDPrometheusReach); !c.OK || c.Required {
		t.Errorf("no Prometheus with an sdk plan: %+v, want a passing advice", c)
	}
	if len(rep.Failed()) != 1 {
		t.Errorf("failed %+v, want the notification check only", rep.Failed())
	}
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	os.WriteFile(plan, []byte("source: prometheus\nstages:\n  - {percent: 5, duration: 1h}\n  - {percent: 100}\nguards:\n  - {name: errors, metric: error_rate}\n"), 0o644)
	rep, r = runPreflight(t, s, "checkout", "-f", plan, "--min-free-disk", "1MiB")
	wantFailed(t, "prometheus plan", rep, r, preflight.IDPlanValid, "which this server does not have")
	wantFailed(t, "prometheus plan", rep, r, preflight.IDPrometheusReach, "the plan reads Prometheus")

	// A Prometheus that sends its alerts to an Alertmanager stands for the
	// alert receiver path.
	prom := promtest.Start(t, nil, promtest.Alertmanagers("127.0.0.1:9"))
	waitFor(t, 30*time.Second, "Prometheus's Alertmanager in the preflight", func() bool {
		rep, _ = runPreflight(t, s, "checkout", "--prometheus", prom.URL, "--min-free-disk", "1MiB")
		return check(t, rep, preflight.IDNotifications).OK
	})
	if c := check(t, rep, preflight.IDNotifications); !strings.Contains(c.Reason, "1 Alertmanager(s)") || !strings.Contains(c.Reason, "/api/v1/alerts/alertmanager") {
		t.Errorf("notification check with an Alertmanager: %+v", c)
	}
}
