package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/report"
	"github.com/ramp-flags/ramp/rollout"
)

func testReport(t *testing.T) *report.Report {
	t.Helper()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	plan := rollout.Plan{Stages: []rollout.Stage{{Percent: 5, Duration: rollout.Duration(time.Hour)}, {Percent: 100}},
		Guards: []rollout.Guard{{Guard: judge.Guard{Name: "errors", Metric: judge.ErrorRate, Critical: 0.05}}}}
	st := rollout.State{Canary: "on", Baseline: "off", Transitions: []rollout.Transition{
		{Time: t0, Action: ramp.ActionRolloutStart, Percent: 5, Status: ramp.RolloutRunning, Actor: "alice"}}}
	pb, _ := json.Marshal(plan)
	sb, _ := json.Marshal(st)
	r, err := report.Build(report.Input{Rollout: &ramp.Rollout{ID: 4, Flag: "checkout-v2", Environment: "production",
		Status: ramp.RolloutRunning, Plan: pb, State: sb, CreatedAt: t0}, Now: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWriteReportPaths(t *testing.T) {
	r := testReport(t)
	dir := t.TempDir()
	for _, c := range []struct {
		format, out string
		files       []string
	}{
		{reportMarkdown, dir + "/a/", []string{"a/checkout-v2-4.md", "a/checkout-v2-4-error-rate.svg", "a/checkout-v2-4-latency.svg", "a/checkout-v2-4-percentage.svg"}},
		{reportMarkdown, filepath.Join(dir, "b.md"), []string{"b.md", "b-error-rate.svg", "b-latency.svg", "b-percentage.svg"}},
		{reportHTML, filepath.Join(dir, "c.html"), []string{"c.html"}},
		{reportHTML, dir, []string{"checkout-v2-4.html"}},
	} {
		var stdout, stderr bytes.Buffer
		a := newApp(nil, &stdout, &stderr, os.Getenv)
		if err := a.writeReport(r, c.format, c.out); err != nil {
			t.Fatalf("%s to %s: %v", c.format, c.out, err)
		}
		for _, f := range c.files {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil || len(b) == 0 {
				t.Errorf("%s to %s: %s not written: %v", c.format, c.out, f, err)
			}
		}
		if stdout.Len() != 0 || !strings.Contains(stderr.String(), "wrote the report of rollout 4") {
			t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
		}
	}
	// No temporary file is left behind.
	matches, _ := filepath.Glob(filepath.Join(dir, "*", ".*"))
	more, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(matches)+len(more) > 0 {
		t.Errorf("temporary files left: %v %v", matches, more)
	}
	// Without -o, to stdout.
	var stdout, stderr bytes.Buffer
	if err := newApp(nil, &stdout, &stderr, os.Getenv).writeReport(r, reportMarkdown, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "# Rollout report: checkout-v2 in production") {
		t.Errorf("stdout %q", stdout.String())
	}
	// A directory that cannot be written is an error, not a partial report.
	if err := newApp(nil, &stdout, &stderr, os.Getenv).writeReport(r, reportMarkdown, filepath.Join(dir, "b.md", "x.md")); err == nil {
		t.Errorf("writing below a file succeeded")
	}
}

func TestReportAndGuideUsage(t *testing.T) {
	for _, args := range [][]string{
		{"report", "checkout-v2", "-o", "json"},
		{"report", "checkout-v2", "--format", "pdf"},
		{"report"},
		{"report", "a", "b"},
		{"guide", "checkout-v2", "-o", "json"},
		{"guide", "checkout-v2", "-f", "plan.yaml", "--template", "fast"},
		{"guide", "checkout-v2", "--prometheus", "prometheus:9090"},
		{"guide"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), args, nil, &stdout, &stderr, func(string) string { return "" }); code != exitUsage {
			t.Errorf("ramp %v: exit %d, want %d; stderr %s", args, code, exitUsage, stderr.String())
		}
	}
}

func TestParseServerMetrics(t *testing.T) {
	body := `# HELP go_info Information about the Go environment.
go_info{version="go1.26.8"} 1
process_resident_memory_bytes 2.5165824e+07
ramp_notifications_failed_total{target="hooks.example.com"} 2
ramp_notifications_sent_total{target="hooks.example.com"} 5
ramp_notifications_sent_total{target="slack \"team\""} 1
`
	v, rss, hooks := parseServerMetrics([]byte(body))
	if v != "go1.26.8" || rss != 25165824 || len(hooks) != 2 {
		t.Fatalf("go %q rss %v hooks %+v", v, rss, hooks)
	}
	if hooks[0].Name != "hooks.example.com" || hooks[0].Sent != 5 || hooks[0].Failed != 2 || hooks[1].Name != `slack "team"` {
		t.Errorf("hooks %+v", hooks)
	}
}
