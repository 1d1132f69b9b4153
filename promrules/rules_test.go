package promrules_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/promrules"
	"github.com/ramp-flags/ramp/rollout"
)

// standardTarget is a flag without a rollout, watched with the standard
// template's guards.
func standardTarget() promrules.Target {
	p := rollout.Templates()["standard"]
	p.Normalize()
	return promrules.Target{Flag: "checkout-v2", Environment: "production", Canary: "on", Baseline: "off",
		Plan: p, Origin: "template standard", Default: true}
}

// fullTarget has every kind of guard, with critical limits and custom
// queries.
func fullTarget() promrules.Target {
	t := standardTarget()
	t.Default, t.Origin = false, "rollout 7 (running)"
	t.Plan.Guards = []rollout.Guard{
		{Guard: judge.Guard{Name: "error-rate", Metric: judge.ErrorRate, Margin: 0.1, AbsMargin: 0.001, Critical: 0.02, MinRequests: 50}},
		{Guard: judge.Guard{Name: "p99-latency", Metric: judge.Latency, Quantile: 0.99, Margin: 0.2, Critical: 0.8}},
		{Guard: judge.Guard{Name: "p90-shop", Metric: judge.Latency, Quantile: 0.9, Critical: 0.25},
			Queries: rollout.Queries{Buckets: `sum by (le) (increase(http_request_duration_seconds_bucket{job="shop",ff="{{variant}}"}[{{window}}]))`}},
		{Guard: judge.Guard{Name: "traffic", Metric: judge.Throughput}},
	}
	return t
}

func TestGenerateStandard(t *testing.T) {
	f, err := promrules.Generate(standardTarget(), promrules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	t.Logf("\n%s", text)
	// The template's own thresholds, whatever they are today.
	tg := standardTarget()
	errG, latG := tg.Plan.Guards[0].Guard, tg.Plan.Guards[1].Guard
	if errG.Metric != judge.ErrorRate || latG.Metric != judge.Latency || errG.Critical == 0 || latG.Critical != 0 {
		t.Fatalf("the standard template changed shape: %+v", tg.Plan.Guards)
	}
	minReq := func(g judge.Guard) string {
		if g.MinRequests == 0 {
			return "100"
		}
		return strconv.FormatFloat(g.MinRequests, 'g', -1, 64)
	}
	for _, want := range []string{
		"> " + strconv.FormatFloat(errG.Critical, 'g', -1, 64) + "\n", // the critical error rate
		"+ " + strconv.FormatFloat(errG.AbsMargin, 'g', -1, 64) + ")", // its absolute margin
		"* " + strconv.FormatFloat(1+latG.Margin, 'g', -1, 64) + "\n", // the latency margin
		">= " + minReq(errG) + "\n", ">= " + minReq(latG) + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rules lack %q", want)
		}
	}
	for _, want := range []string{
		"# Prometheus rules for the rollout of flag checkout-v2 in production",
		"The flag has no rollout in production yet",
		"Guard p99-latency has no critical limit",
		// The promsource templates, expanded over the window.
		`sum(increase(ramp_flag_errors_total{flag="checkout-v2",variant="on",environment="production"}[5m]))`,
		`histogram_quantile(0.99, sum by (le) (increase(ramp_flag_request_duration_seconds_bucket{flag="checkout-v2",variant="off",environment="production"}[5m])))`,
		"alert: CheckoutV2ErrorRateCritical",
		"alert: CheckoutV2ErrorRateAboveBaseline",
		"alert: CheckoutV2P99LatencyAboveBaseline",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rules lack %q", want)
		}
	}
	if strings.Contains(text, "P99LatencyCritical") {
		t.Error("a critical latency alert without a critical limit")
	}
	checkRoundTrip(t, f, out)
	promtoolCheck(t, out)
}

func TestGenerateFull(t *testing.T) {
	f, err := promrules.Generate(fullTarget(), promrules.Options{Window: 90 * time.Second, CriticalFor: time.Minute, WarningFor: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	t.Logf("\n%s", text)
	alerts := map[string]promrules.Rule{}
	for _, r := range f.Alerts() {
		alerts[r.Alert] = r
	}
	for name, want := range map[string]struct{ severity, forText, expr string }{
		"CheckoutV2ErrorRateCritical":       {"critical", "1m", "> 0.02\nand"},
		"CheckoutV2ErrorRateAboveBaseline":  {"warning", "5m", "clamp_min("},
		"CheckoutV2P99LatencyCritical":      {"critical", "1m", "> 0.8\nand"},
		"CheckoutV2P99LatencyAboveBaseline": {"warning", "5m", "* 1.2\nand"},
		"CheckoutV2P90ShopCritical":         {"critical", "1m", "> 0.25\nand"},
		"CheckoutV2P90ShopAboveBaseline":    {"warning", "5m", "* 1.1\nand"}, // the judge's default margin
	} {
		r, ok := alerts[name]
		if !ok {
			t.Errorf("no alert %s", name)
			continue
		}
		if r.Labels["severity"] != want.severity || r.For != want.forText || !strings.Contains(r.Expr, want.expr) {
			t.Errorf("%s: severity %q, for %q, expr %s; want %q, %q, containing %q", name, r.Labels["severity"], r.For, r.Expr, want.severity, want.forText, want.expr)
		}
		if r.Labels["ramp_flag"] != "checkout-v2" || r.Labels["ramp_env"] != "production" {
			t.Errorf("%s: labels %v lack the receiver's ramp_flag and ramp_env", name, r.Labels)
		}
		if r.Annotations["summary"] == "" || !strings.Contains(r.Annotations["description"], "{{ $value") {
			t.Errorf("%s: annotations %v", name, r.Annotations)
		}
	}
	if len(alerts) != 6 {
		t.Errorf("%d alerts, want 6 (none for the throughput guard)", len(alerts))
	}
	for _, want := range []string{
		"[1m30s]", // the window
		`http_request_duration_seconds_bucket{job="shop",ff="on"}`,
		"flag_variant:ramp_flag_request_duration_seconds:p90_rate1m30s",
		">= 50", // the guard's minRequests
		"Guard traffic (throughput) has no alert",
		"rollout 7 (running)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rules lack %q", want)
		}
	}
	if strings.Contains(text, "no rollout in production yet") {
		t.Error("says the flag has no rollout")
	}
	checkRoundTrip(t, f, out)
	promtoolCheck(t, out)
}

func TestGenerateRejects(t *testing.T) {
	for name, c := range map[string]struct {
		change func(*promrules.Target)
		o      promrules.Options
		want   string
	}{
		"no flag":         {change: func(t *promrules.Target) { t.Flag = "" }, want: "flag is required"},
		"same variants":   {change: func(t *promrules.Target) { t.Baseline = t.Canary }, want: "same variant"},
		"bad template":    {change: func(t *promrules.Target) { t.Plan.Guards[0].Queries.Errors = `sum(x{flag={{flag}}})` }, want: "double quotes"},
		"invalid guard":   {change: func(t *promrules.Target) { t.Plan.Guards[0].Critical = 2 }, want: "not an error rate"},
		"fraction window": {o: promrules.Options{Window: 1500 * time.Millisecond}, want: "whole seconds"},
	} {
		t.Run(name, func(t *testing.T) {
			tg := fullTarget()
			if c.change != nil {
				c.change(&tg)
			}
			_, err := promrules.Generate(tg, c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v; want one containing %q", err, c.want)
			}
		})
	}
}

func TestQueries(t *testing.T) {
	tg := fullTarget()
	for _, c := range []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{"requests", func() (string, error) { return tg.Requests("on", "5m") },
			`sum(increase(ramp_flag_requests_total{flag="checkout-v2",variant="on",environment="production"}[5m]))`},
		{"rate", func() (string, error) { return tg.RequestRate("off", "$__rate_interval") },
			`sum(increase(ramp_flag_requests_total{flag="checkout-v2",variant="off",environment="production"}[$__rate_interval])) / ($__rate_interval_ms / 1000)`},
		{"rate over 2m", func() (string, error) { return tg.RequestRate("on", "2m") }, `[2m])) / 120`},
		{"error ratio", func() (string, error) { return tg.ErrorRatio("on", "1h") },
			`(sum(increase(ramp_flag_errors_total{flag="checkout-v2",variant="on",environment="production"}[1h]))) / (sum(increase(ramp_flag_requests_total{flag="checkout-v2",variant="on",environment="production"}[1h])))`},
		{"p50", func() (string, error) { return tg.LatencyQuantile("on", 0.5, "$__interval") },
			`histogram_quantile(0.5, sum by (le) (increase(ramp_flag_request_duration_seconds_bucket{flag="checkout-v2",variant="on",environment="production"}[$__interval])))`},
	} {
		got, err := c.got()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else if !strings.Contains(got, c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	for _, rng := range []string{"", "5 m", "1m]) or vector(1", "$__range_ms"} {
		if q, err := tg.ErrorRatio("on", rng); err == nil {
			t.Errorf("range %q accepted: %s", rng, q)
		}
	}
	if q, err := tg.LatencyQuantile("on", 1.5, "5m"); err == nil {
		t.Errorf("quantile 1.5 accepted: %s", q)
	}
}

// checkRoundTrip reads the YAML back and compares it with the file.
func checkRoundTrip(t *testing.T, f *promrules.File, out []byte) {
	t.Helper()
	var back promrules.File
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatalf("the rules are not YAML: %v", err)
	}
	if len(back.Groups) != 1 || len(back.Groups[0].Rules) != len(f.Groups[0].Rules) {
		t.Fatalf("read back %d groups", len(back.Groups))
	}
	for i, r := range back.Groups[0].Rules {
		if r.Expr != f.Groups[0].Rules[i].Expr {
			t.Errorf("rule %d: expr %q read back as %q", i, f.Groups[0].Rules[i].Expr, r.Expr)
		}
	}
}

// promtoolCheck runs promtool check rules on the file: the Debian package
// prometheus installs it (./test.sh does).
func promtoolCheck(t *testing.T, out []byte) {
	t.Helper()
	bin := findPromtool()
	if bin == "" {
		msg := "promtool is not installed: install the Debian package prometheus (./test.sh does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED, NOT RUN: " + msg)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := exec.Command(bin, "check", "rules", path).CombinedOutput()
	t.Logf("promtool check rules:\n%s", res)
	if err != nil {
		t.Fatalf("promtool check rules failed: %v", err)
	}
}

func findPromtool() string {
	for _, p := range []string{"promtool", "/usr/bin/promtool"} {
		if bin, err := exec.LookPath(p); err == nil {
			return bin
		}
	}
	return ""
}
