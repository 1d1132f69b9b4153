package guide

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/promrules"
	"github.com/ramp-flags/ramp/rollout"
)

func standardInput(t *testing.T) Input {
	t.Helper()
	plan := rollout.Templates()["standard"]
	plan.Normalize()
	tg := promrules.Target{Flag: "checkout-v2", Environment: "production", Canary: "on", Baseline: "off", Plan: plan, Origin: "template standard", Default: true}
	f, err := promrules.Generate(tg, promrules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return Input{
		Target: tg, Template: "standard",
		Server: Server{URL: "http://127.0.0.1:8080", Healthy: true, Ready: true, Migrations: 7, Avail: 7, GoVersion: "go1.26.8", ResidentBytes: 42 << 20,
			Webhooks: []Webhook{{Name: "hooks.example.com", Sent: 3}}},
		Prometheus:  &Prometheus{URL: "http://127.0.0.1:9090", Err: "unreachable: connection refused"},
		Checklist:   []Check{{Name: "Server healthy", OK: true, Required: true, Detail: "answers"}, {Name: "Flag at 0% before the rollout", Required: true, Detail: "serves 5%", Fix: "ramp rollback checkout-v2 --env production"}},
		ChecklistBy: "ramp guide",
		Rules:       rules,
		Commands:    []string{"set", "rollback", "rollout", "report", "alerts"},
		Generated:   time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC),
	}
}

func TestGuideStandardPlan(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, standardInput(t)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if ph := Placeholders(out); len(ph) > 0 {
		t.Errorf("unfilled placeholders: %q", ph)
	}
	// The latency guard's numbers, whatever the template holds.
	var lat judge.Guard
	for _, g := range rollout.Templates()["standard"].Guards {
		if g.Metric == judge.Latency {
			lat = g.Guard
		}
	}
	for _, want := range []string{
		fmt.Sprintf("canary p99 more than +%s%% above the baseline's", trim(100*lat.Margin)),
		fmt.Sprintf("error-rate 100, p99-latency %s", count(minRequests(lat))),
		"# Deployment guide: checkout-v2 in production",
		"the flag has no rollout plan in production yet, so this guide uses the default plan and thresholds: the `standard` template",
		"| 1 | 5% | 3d |", "| 2 | 25% | 4d |", "| 3 | 50% | 4d |", "| 4 | 100% | - |",
		"ramp set checkout-v2 5 --env production   # stage 1",
		"ramp set checkout-v2 100 --env production   # stage 4",
		"ramp rollback checkout-v2 --env production",
		"ramp rollout start checkout-v2 --template standard --env production",
		"canary error rate above 5%",
		"+0.1 percentage points",
		"The judge looks every 5m.",
		"| Prometheus | `curl -fsS http://127.0.0.1:9090/-/healthy` | ✘ unreachable: connection refused |",
		"webhook hooks.example.com",
		"ramp_flag: checkout-v2",
		"ramp_flag_errors_total{flag=\"checkout-v2\",variant=\"on\",environment=\"production\"}",
		"- [ ] ✘ **Flag at 0% before the rollout**: serves 5% Fix: ramp rollback checkout-v2 --env production",
		"ramp report checkout-v2 --env production -o reports/",
		"ramp alerts checkout-v2 --env production",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the guide lacks %q", want)
		}
	}
	// Only commands the binary has are named.
	if strings.Contains(out, "ramp preflight") {
		t.Errorf("the guide names ramp preflight, which the command list lacks")
	}
	for i := 1; i <= 10; i++ {
		if !strings.Contains(out, "\n## "+strings.TrimSpace(strings.Split("1. Architecture|2. Dependencies|3. Pre-deployment|4. Stages|5. Commands|6. Queries|7. Alert rules|8. Decision tree|9. Troubleshooting|10. Cleanup", "|")[i-1])) {
			t.Errorf("section %d missing", i)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestGuideOwnPlanNumbers(t *testing.T) {
	in := standardInput(t)
	in.Template, in.PlanFile = "", "rollout.yaml"
	in.Target.Default = false
	in.Target.Plan = rollout.Plan{
		Stages: []rollout.Stage{{Percent: 2.5, Duration: rollout.Duration(90 * time.Minute)}, {Percent: 40, Duration: rollout.Duration(36 * time.Hour)}, {Percent: 100}},
		Guards: []rollout.Guard{
			{Guard: judge.Guard{Name: "checkout-errors", Metric: judge.ErrorRate, Margin: 0.2, Critical: 0.03, MinRequests: 500}},
			{Guard: judge.Guard{Name: "p90", Metric: judge.Latency, Quantile: 0.9, Margin: 0.5, Critical: 0.8}},
		},
		OnWarning: judge.Rollback, Source: rollout.SourcePrometheus,
	}
	in.Target.Plan.Normalize()
	in.Rules = nil
	in.RulesErr = "no rules for this test"
	var b bytes.Buffer
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if ph := Placeholders(out); len(ph) > 0 {
		t.Errorf("unfilled placeholders: %q", ph)
	}
	for _, want := range []string{
		"**Plan:** read from `rollout.yaml`.",
		"ramp rollout start checkout-v2 -f rollout.yaml --env production",
		"ramp set checkout-v2 2.5 --env production   # stage 1",
		"ramp set checkout-v2 40 --env production   # stage 2",
		"| 1 | 2.5% | 1h30m |", "| 2 | 40% | 1d12h |",
		"canary error rate above the baseline's by more than +20% of it",
		"canary error rate above 3%",
		"canary p90 above 800 ms",
		"checkout-errors 500, p90 100",
		"**roll back** to 0% (the plan's onWarning)",
		"histogram_quantile(0.9",
		"No alert rules: no rules for this test.",
		"Metric source down",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the guide lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestPlaceholders(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"run [command to set 5%] now", []string{"[command to set 5%]"}},
		{"rate([metric_name]_errors_total[5m])", []string{"[metric_name]"}},
		{"error rate above [threshold]", []string{"[threshold]"}},
		{`flag="{{flag}}"`, []string{"{{flag}}"}},
		{"set it to <percent>", []string{"<percent>"}},
		{"TODO: fill in", []string{"TODO"}},
		{"rate(x[5m]) and x[1h30m] and [90s]", nil},
		{"see [the docs](docs/guide.md)", nil},
		{"- [x] ✔ done\n- [ ] ✘ not done", nil},
		{"summary: error rate {{ $value }} on {{ $labels.flag }}", nil},
		{"{{ if gt $value 0.5 }}high{{ else }}low{{ end }}", nil},
		{"query {{ window }}", []string{"{{ window }}"}},
		{"guards: []", nil},
	} {
		if got := Placeholders(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Placeholders(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}
