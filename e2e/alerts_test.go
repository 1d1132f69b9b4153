package e2e

//lint:file-ignore SA1019 the classic dashboard schema (v1) is the one every Grafana imports and provisions; schema v2 (dashboardv2) needs Grafana 12 feature toggles, and Grafana 13 migrates v1 on load.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	gdash "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/dashboard"
	"github.com/ramp-flags/ramp/internal/promtest"
	"github.com/ramp-flags/ramp/promrules"
	"github.com/ramp-flags/ramp/sdk"
)

// TestAlertsAndDashboardOnRealPrometheus runs what "ramp alerts" and "ramp
// dashboard" write against a real Prometheus that scrapes a real
// application: an HTTP service instrumented with the SDK's Middleware and
// exported with promexport, whose canary path fails one request in four,
// and the ramp server's own /metrics.
//
// The rules, written by the binary from a paused rollout's plan, must load
// with every rule healthy, the canary's critical error-rate alert must
// fire with the labels the alert receiver reads, and so must the warnings
// against the baseline (which fails nothing and is faster), while the
// critical latency alert (the canary is far below its 2s limit) must not. Every PromQL expression of the
// dashboard must be valid and return numbers, the stage-change annotation
// included (the rollout is promoted while the traffic runs).
func TestAlertsAndDashboardOnRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the real Prometheus test (about 40s)")
	}
	const flag = "checkout-v2"
	s := startServer(t, t.TempDir(), "admin")
	s.mustRamp("flag", "create", flag, "--type", "boolean")
	// A rollout held at its first stage: the rules follow its plan, and
	// the controller stays out of the way of the test's traffic.
	s.mustRamp("rollout", "start", flag, "--stages", "20:1h,50:1h,100", "--interval", "1h",
		"--guard", "error-rate,critical=10%", "--guard", "p99-latency,critical=2s,minRequests=100")
	s.mustRamp("rollout", "pause", flag)

	// The rules, as an operator writes them, with a short window and for:
	// so that the test sees them fire.
	rulesPath := filepath.Join(t.TempDir(), "checkout-v2.yml")
	r := s.ramp(nil, "alerts", flag, "--window", "15s", "--critical-for", "3s", "--warning-for", "3s", "-o", rulesPath)
	if r.code != 0 {
		t.Fatalf("ramp alerts: exit %d: %s", r.code, r.stderr)
	}
	if r.stdout != "" || !strings.Contains(r.stderr, "wrote 4 alerts for checkout-v2 in production to "+rulesPath) {
		t.Errorf("ramp alerts -o FILE printed %q, %q", r.stdout, r.stderr)
	}
	raw, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "rollout 1 (paused)") {
		t.Errorf("the rules do not say they follow rollout 1:\n%s", raw)
	}
	var file promrules.File
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatalf("the rules are not YAML: %v", err)
	}
	promtoolCheck(t, rulesPath)

	app := startCheckoutApp(t, s, flag)
	metricsProxy := startMetricsProxy(t, s)
	prom := promtest.Start(t, []string{app + "/metrics", metricsProxy.URL + "/metrics"},
		promtest.RuleFiles(rulesPath), promtest.ScrapeInterval(time.Second), promtest.EvaluationInterval(time.Second))
	begin := time.Now()
	prom.WaitScraped(t, begin, 20*time.Second)

	stop := startTraffic(t, app)
	defer stop()

	// The rules are loaded, as many as the file has, in its group.
	group := waitRulesHealthy(t, prom.URL, file)
	t.Logf("group %s: %d rules loaded, all healthy", group.Name, len(group.Rules))

	// The canary's critical error-rate alert fires, with the receiver's
	// labels; the latency alert stays silent.
	var firing, warning, slower promAlert
	for deadline := time.Now().Add(60 * time.Second); firing.State == "" || warning.State == "" || slower.State == ""; time.Sleep(200 * time.Millisecond) {
		seen := alerts(t, prom.URL)
		for _, a := range seen {
			if a.State != "firing" {
				continue
			}
			switch a.Labels["alertname"] {
			case "CheckoutV2ErrorRateCritical":
				firing = a
			case "CheckoutV2ErrorRateAboveBaseline":
				warning = a
			case "CheckoutV2P99LatencyAboveBaseline":
				slower = a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("CheckoutV2ErrorRateCritical, CheckoutV2ErrorRateAboveBaseline and CheckoutV2P99LatencyAboveBaseline not all firing within 60s; alerts: %+v", seen)
		}
	}
	for _, w := range []promAlert{warning, slower} {
		if w.Labels["severity"] != "warning" || w.Labels["variant"] != "on" || !strings.Contains(w.Annotations["description"], "for the baseline \"off\"") {
			t.Errorf("warning %v: %s", w.Labels, w.Annotations["description"])
		}
	}
	if !strings.Contains(warning.Annotations["description"], "against 0% for the baseline") {
		t.Errorf("the error-rate warning does not give the baseline's rate: %s", warning.Annotations["description"])
	}
	t.Logf("warnings: %s; %s", warning.Annotations["description"], slower.Annotations["description"])
	t.Logf("firing: %v, value %s", firing.Labels, firing.Value)
	for k, v := range map[string]string{"severity": "critical", "ramp_flag": flag, "ramp_env": "production", "ramp_guard": "error-rate"} {
		if firing.Labels[k] != v {
			t.Errorf("alert label %s = %q, want %q", k, firing.Labels[k], v)
		}
	}
	if v, err := strconv.ParseFloat(firing.Value, 64); err != nil || v < 0.1 || v > 0.5 {
		t.Errorf("alert value %q: want the canary's error rate, about 0.25", firing.Value)
	}
	if !strings.Contains(firing.Annotations["description"], "above the critical limit of 10% of guard error-rate") {
		t.Errorf("description %q", firing.Annotations["description"])
	}
	for _, a := range alerts(t, prom.URL) {
		if a.Labels["alertname"] == "CheckoutV2P99LatencyCritical" {
			t.Errorf("the canary is fast, but %s is %s at %s", a.Labels["alertname"], a.State, a.Value)
		}
	}
	waitRulesHealthy(t, prom.URL, file) // still healthy with data flowing

	// A stage change while the traffic runs, for the annotation.
	s.mustRamp("rollout", "promote", flag)
	time.Sleep(4 * time.Second)

	// The dashboard, as the binary writes it, read back through the
	// foundation SDK's types.
	r = s.ramp(nil, "dashboard", flag)
	if r.code != 0 {
		t.Fatalf("ramp dashboard: exit %d: %s", r.code, r.stderr)
	}
	plugins.RegisterDefaultPlugins()
	var d gdash.Dashboard
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("the dashboard does not read back into the foundation SDK's Dashboard: %v", err)
	}
	queries := dashboard.Queries(d)
	if len(queries) != 12 {
		t.Errorf("%d queries, want 12 (1 percentage, 2 error rates, 6 latencies, 2 throughputs, 1 annotation)", len(queries))
	}
	end := time.Now()
	for _, q := range queries {
		expr := strings.NewReplacer("$__rate_interval_ms", "10000", "$__rate_interval", "10s").Replace(q.Expr)
		series, max := queryRange(t, prom.URL, expr, begin, end)
		t.Logf("%-45s %-20s %d series, max %.4g", q.Panel, q.Legend, series, max)
		if series == 0 {
			t.Errorf("%s %q returned no data: %s", q.Panel, q.Legend, expr)
		}
		switch {
		case q.Panel == dashboard.PanelRollout && max != 50:
			t.Errorf("rollout percentage peaks at %v, want 50 after the promotion", max)
		case q.Panel == dashboard.PanelErrorRate && strings.HasPrefix(q.Legend, "canary") && (max < 0.1 || max > 0.5):
			t.Errorf("canary error rate peaks at %v, want about 0.25", max)
		case q.Panel == dashboard.PanelErrorRate && strings.HasPrefix(q.Legend, "baseline") && max != 0:
			t.Errorf("baseline error rate peaks at %v, want 0", max)
		case q.Panel == dashboard.PanelThroughput && max <= 0:
			t.Errorf("throughput %v", max)
		}
	}
}

// promAlert is an alert of Prometheus's /api/v1/alerts.
type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	Value       string            `json:"value"`
}

func alerts(t *testing.T, base string) []promAlert {
	t.Helper()
	var body struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	promGet(t, base+"/api/v1/alerts", &body)
	return body.Data.Alerts
}

type ruleGroup struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	Rules []struct {
		Name      string `json:"name"`
		Type      string `json:"type"`
		Health    string `json:"health"`
		LastError string `json:"lastError"`
	} `json:"rules"`
}

// waitRulesHealthy waits until Prometheus's rules API shows the file's
// group with all its rules evaluated without error, and returns it.
func waitRulesHealthy(t *testing.T, base string, file promrules.File) ruleGroup {
	t.Helper()
	want := file.Groups[0]
	var got ruleGroup
	var why string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var body struct {
			Data struct {
				Groups []ruleGroup `json:"groups"`
			} `json:"data"`
		}
		promGet(t, base+"/api/v1/rules", &body)
		why = fmt.Sprintf("group %s not loaded: %d groups", want.Name, len(body.Data.Groups))
		for _, g := range body.Data.Groups {
			if g.Name != want.Name {
				continue
			}
			got = g
			var names, wantNames []string
			bad := ""
			for _, r := range g.Rules {
				names = append(names, r.Name)
				if r.Health != "ok" {
					bad += fmt.Sprintf(" %s is %s (%s);", r.Name, r.Health, r.LastError)
				}
			}
			for _, r := range want.Rules {
				wantNames = append(wantNames, r.Record+r.Alert)
			}
			switch {
			case !slices.Equal(names, wantNames):
				why = fmt.Sprintf("rules %v, want %v", names, wantNames)
			case bad != "":
				why = bad
			default:
				return got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules not loaded and healthy within 30s: %s", why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// queryRange runs expr over [from, to] every second and returns the
// number of series and the largest value.
func queryRange(t *testing.T, base, expr string, from, to time.Time) (int, float64) {
	t.Helper()
	q := url.Values{"query": {expr}, "start": {strconv.FormatInt(from.Unix(), 10)}, "end": {strconv.FormatInt(to.Unix()+1, 10)}, "step": {"1"}}
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	promGet(t, base+"/api/v1/query_range?"+q.Encode(), &body)
	if body.Status != "success" {
		t.Errorf("query %s: %s", expr, body.Error)
	}
	max := math.Inf(-1)
	for _, r := range body.Data.Result {
		for _, v := range r.Values {
			s, _ := v[1].(string)
			if x, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(x) && x > max {
				max = x
			}
		}
	}
	return len(body.Data.Result), max
}

func promGet(t *testing.T, u string, out any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// startCheckoutApp starts an HTTP service that embeds the SDK and returns
// its base URL: /checkout runs the code path of the variant the Middleware
// evaluated for the user; the new path fails one request in four. /metrics
// is the SDK's promexport collector.
func startCheckoutApp(t *testing.T, s *server, flag string) string {
	t.Helper()
	ctx := t.Context()
	c := startProductionSDK(t, s, "shop", sdk.Config{})
	waitFor(t, 10*time.Second, "the SDK to know the flag", func() bool {
		return c.BoolDetail(ctx, flag, sdk.EvalContext{TargetingKey: "u"}, false).ErrorCode == ""
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveSDKApp(t, ln, c, flagRoute{path: "/checkout", flag: flag, onDelay: 3 * time.Millisecond, onFailEvery: 4})
	app := "http://" + ln.Addr().String()
	// The series start at zero once the flag is served (docs/metrics.md).
	if _, err := http.Get(app + "/checkout?user=warmup"); err != nil {
		t.Fatal(err)
	}
	return app
}

// startMetricsProxy serves the ramp server's /metrics, which needs a token,
// to a Prometheus configured without one.
func startMetricsProxy(t *testing.T, s *server) *httptest.Server {
	t.Helper()
	tok, err := s.client().CreateToken(t.Context(), client.TokenRequest{Name: "prometheus", Kind: ramp.TokenSDK, Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, s.url+"/metrics", nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header.Set("Authorization", "Bearer "+tok.Secret)
		req.Header.Set("Accept", r.Header.Get("Accept"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(p.Close)
	return p
}

// startTraffic sends about 150 requests a second, one user each, until
// the returned function is called.
func startTraffic(t *testing.T, base string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for range 3 {
				n++
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/checkout?user=user-%d", base, n), nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// promtoolCheck runs promtool check rules on a file; the Debian package
// prometheus installs promtool with Prometheus (./test.sh does).
func promtoolCheck(t *testing.T, path string) {
	t.Helper()
	bin := ""
	for _, p := range []string{"promtool", "/usr/bin/promtool"} {
		if b, err := exec.LookPath(p); err == nil {
			bin = b
			break
		}
	}
	if bin == "" {
		msg := "promtool is not installed: install the Debian package prometheus (./test.sh does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED, NOT RUN: " + msg)
	}
	out, err := exec.Command(bin, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	t.Logf("promtool check rules: %s", strings.TrimSpace(string(out)))
}
