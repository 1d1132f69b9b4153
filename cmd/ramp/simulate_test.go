package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSimulate(t *testing.T) {
	url := closedURL(t) // simulate needs no server
	out, errOut, code := rampCLI(t, url, nil, "simulate", "--runs", "200")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"traffic:  1000 req/s, canary 5%, baseline errors 0.5%",
		"regression: canary errors ×2; analysis every 1m0s for 30m0s; 200 runs, seed 1",
		"judge:    error rate (margin +0%, critical 5%), p99 latency (margin +10%); alpha 0.01",
		"fixed:    error rate > 1% over each 1m0s interval (or no data) fails; 1 failed check rolls back",
		"regression rolled back", "median time to rollback", "p90 time to rollback",
		"A/A wrongly rolled back", "fixed threshold",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, errOut, code = rampCLI(t, url, nil, "simulate", "--runs", "100", "--error-multiplier", "1", "--p99-multiplier", "1.5",
		"--compare-fixed-p99", "500ms", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep simulateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.Regression == nil || rep.Regression.Judge.Runs != 100 || rep.AA.Judge.Runs != 100 || rep.Regression.Fixed == nil {
		t.Fatalf("report %+v", rep)
	}
	if rep.Regression.Judge.RolledBack < 95 {
		t.Errorf("+50%% p99 rolled back in %d of 100 runs", rep.Regression.Judge.RolledBack)
	}
	if rep.Fixed == nil || rep.Fixed.MaxP99 != 0.5 || rep.Scenario.P99Multiplier != 1.5 {
		t.Errorf("report settings %+v %+v", rep.Fixed, rep.Scenario)
	}

	// An A/A scenario reports only the A/A rows.
	out, _, code = rampCLI(t, url, nil, "simulate", "--runs", "50", "--error-multiplier", "1", "--compare-fixed", "0", "--guards", "error_rate")
	if code != exitOK || strings.Contains(out, "regression rolled back") || strings.Contains(out, "fixed threshold") || !strings.Contains(out, "none (A/A)") {
		t.Errorf("A/A without fixed analysis (exit %d):\n%s", code, out)
	}

	out, _, code = rampCLI(t, url, nil, "simulate", "--runs", "20", "--error-abs-margin", "0.1", "--error-margin", "10")
	if code != exitOK || !strings.Contains(out, "error rate (margin +10% or +0.1 points, critical 5%)") {
		t.Errorf("margins (exit %d):\n%s", code, out)
	}

	out, _, code = rampCLI(t, url, nil, "simulate", "--runs", "20", "-o", "yaml")
	if code != exitOK || !strings.Contains(out, "rolledBackPercent:") {
		t.Errorf("yaml output (exit %d):\n%s", code, out)
	}
}

func TestSimulateUsage(t *testing.T) {
	url := closedURL(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--rps", "0"}, "the request rate 0 must be above 0"},
		{[]string{"--canary", "100"}, "canary percentage"},
		{[]string{"--interval", "1m", "--duration", "30s"}, "must be at least one interval"},
		{[]string{"--buckets", "fast"}, `--buckets "fast"`},
		{[]string{"--buckets", "0.2,0.1"}, "ascending"},
		{[]string{"--guards", "cpu"}, `--guards "cpu"`},
		{[]string{"--error-critical", "500"}, "--error-critical 500: use a percentage"},
		{[]string{"--baseline-error", "-1"}, "--baseline-error -1: use a percentage"},
		{[]string{"--error-critical", "50", "--guards", "error_rate,latency,cpu"}, `--guards "error_rate,latency,cpu"`},
		{[]string{"--runs", "0"}, "runs 0"},
		{[]string{"--latency-margin", "0"}, "needs a margin above 0"},
		{[]string{"--error-tau", "200"}, "--error-tau 200"},
		{[]string{"--error-abs-margin", "-1"}, "--error-abs-margin -1"},
		{[]string{"extra"}, `takes no arguments`},
		{[]string{"--rps", "x"}, `invalid argument "x"`},
	} {
		_, errOut, code := rampCLI(t, url, nil, append([]string{"simulate"}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("simulate %v: exit %d, stderr %q; want exit 2 with %q", c.args, code, errOut, c.want)
		}
	}
	out, _, code := rampCLI(t, url, nil, "simulate", "--help")
	if code != exitOK || !strings.Contains(out, "ramp simulate --rps 1000 --canary 5 --baseline-error 0.5 --error-multiplier 2") {
		t.Errorf("help (exit %d) lacks the example:\n%s", code, out)
	}
}
