package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/sdk"
)

// TestDemo tells the whole story in-process, with shorter stages: the
// rollout is promoted twice, the regression is injected at 50%, the judge
// rolls it back, and the demo exits 0 with the audit trail and the report.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo runs for about 17 seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	start := time.Now()
	code := run(ctx, []string{"demo", "--stage-duration", "6s", "--timeout", "60s", "--seed", "3"}, strings.NewReader(""), &out, &errOut,
		func(string) string { return "" })
	t.Logf("demo took %v", time.Since(start).Round(time.Millisecond))
	if code != exitOK {
		t.Fatalf("exit %d\nstderr: %s\nstdout:\n%s", code, errOut.String(), out.String())
	}
	s := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`export RAMP_SERVER=http://127\.0\.0\.1:\d+ RAMP_TOKEN=ramp_admin_`),
		regexp.MustCompile(`plan +5% 6s → 25% 6s → 50% 6s → 100%`),
		regexp.MustCompile(`\+\d+\.\ds +start +1/4 +5% `),
		regexp.MustCompile(`\+\d+\.\ds +promote +1→2 +25% +all \d guards pass`),
		regexp.MustCompile(`\+\d+\.\ds +promote +2→3 +50% +all \d guards pass`),
		regexp.MustCompile(`\+\d+\.\ds +REGRESSION +3/4 +50% +injected into variant on: errors 0\.5% → 8%, latency ×2`),
		// The regression raises errors and latency: either guard may
		// see it first, depending on the traffic each look has.
		regexp.MustCompile(`\+\d+\.\ds +rollback +3/4 +0% +(regression|critical): (error-rate|p99-latency): `),
		regexp.MustCompile(`(error-rate +(warning|critical) +canary [\d,]+/[\d,]+ failed|p99-latency +(warning|critical) +canary p99 \d+ms of [\d,]+)`),
		regexp.MustCompile(`10,000 users evaluated: every one gets off`),
		regexp.MustCompile(`\$ ramp audit --flag checkout-v2\nTIME +ACTOR +ACTION +KEY +ENVIRONMENT\n`),
		regexp.MustCompile(`rollout-controller +rollout\.rollback +checkout-v2 +production`),
		regexp.MustCompile(`regression injected at \+\d+\.\ds; rolled back to 0% at \+\d+\.\ds: [\d.]+m?s later`),
		regexp.MustCompile(`requests served: on [\d,]+ \([\d,]+ failed\), off [\d,]+ \([\d,]+ failed\)`),
	} {
		if !want.MatchString(s) {
			t.Errorf("output lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", s)
	}
	if strings.Contains(s, "\x1b[") {
		t.Error("output to a buffer has terminal escapes")
	}
}

func TestDemoUsage(t *testing.T) {
	url := closedURL(t)
	out, _, code := rampCLI(t, url, nil, "demo", "--help")
	if code != exitOK || !strings.Contains(out, "Examples:\n  ramp demo\n") || strings.Contains(out, "stage-duration") {
		t.Errorf("help (exit %d):\n%s", code, out)
	}
	for _, args := range [][]string{
		{"demo", "extra"},
		{"demo", "--timeout", "1s"},
		{"demo", "--stage-duration", "10ms"},
		{"demo", "--rps", "1"},
		{"demo", "-o", "json"},
	} {
		if _, errOut, code := rampCLI(t, url, nil, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d: %s", args, code, exitUsage, errOut)
		}
	}
}

// TestDemoLatencyGuard checks that the demo widens a latency guard's
// margin only as far as the buckets need, and leaves it out when no
// margin helps.
func TestDemoLatencyGuard(t *testing.T) {
	tmpl := rollout.Guard{Guard: judge.Guard{Name: "p99-latency", Metric: judge.Latency, Quantile: 0.99, Margin: 0.1}}
	fine := []float64{0.001}
	for fine[len(fine)-1] < 10 {
		fine = append(fine, fine[len(fine)-1]*1.2)
	}
	prom := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	for _, tc := range []struct {
		name   string
		bounds []float64
		ok     bool
		margin float64
	}{
		{"fine buckets keep the margin", fine, true, 0.1},
		{"Prometheus's default buckets need a wide margin", prom, true, 1},
		{"one bucket cannot show a quantile", []float64{0.001, 10}, false, 0},
	} {
		g, ok, note := demoLatencyGuard(tmpl, tc.bounds)
		if ok != tc.ok || (ok && g.Margin != tc.margin) {
			t.Errorf("%s: got ok %v, margin %v (%s); want ok %v, margin %v", tc.name, ok, g.Margin, note, tc.ok, tc.margin)
		}
		if (note == "") != (ok && tc.margin == 0.1) {
			t.Errorf("%s: note %q", tc.name, note)
		}
	}
	// Whatever the SDK's buckets are, the demo's plan is valid.
	d := &demo{s: demoSettings{stage: 3 * time.Second}}
	p := d.demoPlan()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := demoLatencyGuard(tmpl, sdk.LatencyBounds()); ok && len(p.Guards) != 2 {
		t.Errorf("plan guards %+v", p.Guards)
	}
}

func TestTidyReason(t *testing.T) {
	for in, want := range map[string]string{
		"all 2 guards pass after 7.218934512s in stage (minimum 7s)":    "all 2 guards pass after 7.2s in stage (minimum 7s)",
		"all 2 guards pass; 412.58614ms of the stage's 7s minimum left": "all 2 guards pass; 413ms of the stage's 7s minimum left",
		"canary p99 128ms vs baseline 0.5% (+10%)":                      "canary p99 128ms vs baseline 0.5% (+10%)",
		"after 1m2.25s in stage":                                        "after 1m2.3s in stage",
	} {
		if got := tidyReason(in); got != want {
			t.Errorf("tidyReason(%q) = %q, want %q", in, got, want)
		}
	}
}
