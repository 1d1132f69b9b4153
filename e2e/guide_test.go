package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp/guide"
	"github.com/ramp-flags/ramp/internal/promtest"
)

// guideCommands returns the ramp commands of a guide's shell blocks that
// start with prefix, without their comments.
func guideCommands(md, prefix string) [][]string {
	var out [][]string
	inShell := false
	for _, line := range strings.Split(md, "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			inShell = true
		case strings.HasPrefix(line, "```"):
			inShell = false
		case inShell && strings.HasPrefix(line, prefix):
			if i := strings.Index(line, "#"); i >= 0 {
				line = line[:i]
			}
			out = append(out, strings.Fields(line))
		}
	}
	return out
}

// TestGuide renders the deployment guide of real flags on a real server
// and checks that nothing is left unfilled, that it holds the plan's real
// numbers, and that the commands it prints work: each "ramp set" sets the
// stage's percentage and "ramp rollback" the kill switch.
func TestGuide(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	s := startServerAt(t, "127.0.0.1:0", t.TempDir(), "admin", "--webhook", hook.URL+"/ramp")
	const flag = "pay-v2"
	s.mustRamp("flag", "create", flag, "--type", "boolean")

	// No plan yet: the standard template, said so.
	out := s.mustRamp("guide", flag)
	if ph := guide.Placeholders(out); len(ph) > 0 {
		t.Errorf("unfilled placeholders: %q", ph)
	}
	ts, err := s.client().RolloutTemplates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	std := ts["standard"]
	hookURL, _ := url.Parse(hook.URL)
	wants := []string{
		"# Deployment guide: pay-v2 in production",
		"so this guide uses the default plan and thresholds: the `standard` template",
		"export RAMP_SERVER=" + s.url,
		"ramp rollout start pay-v2 --template standard --env production",
		fmt.Sprintf("The judge looks every %s.", std.Interval),
		"webhook " + hookURL.Host,
		"Checked by ramp preflight",
		"- [x] ✔",
		"ramp_flag: pay-v2",
		`ramp_flag_errors_total{flag="pay-v2",variant="on",environment="production"}`,
	}
	for i, st := range std.Stages {
		d := "-"
		if st.Duration > 0 {
			d = st.Duration.String()
		}
		wants = append(wants, fmt.Sprintf("| %d | %s%% | %s |", i+1, strconv.FormatFloat(st.Percent, 'f', -1, 64), d))
	}
	for _, g := range std.Guards {
		if g.Critical > 0 && g.Metric == "error_rate" {
			wants = append(wants, fmt.Sprintf("canary error rate above %s%%", strconv.FormatFloat(100*g.Critical, 'f', -1, 64)))
		}
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("the guide lacks %q", w)
		}
	}

	// Every "ramp set" the guide prints sets its stage's percentage, and
	// its "ramp rollback" turns the flag off.
	sets := guideCommands(out, "ramp set ")
	if len(sets) != len(std.Stages) {
		t.Fatalf("the guide prints %d set commands for %d stages: %v", len(sets), len(std.Stages), sets)
	}
	for i, args := range sets {
		s.mustRamp(args[1:]...)
		if p := statusPercentage(t, s, flag, "production"); p != std.Stages[i].Percent {
			t.Errorf("after %q the flag serves %v%%, want %v", strings.Join(args, " "), p, std.Stages[i].Percent)
		}
	}
	rb := guideCommands(out, "ramp rollback ")
	if len(rb) != 1 {
		t.Fatalf("rollback commands %v", rb)
	}
	s.mustRamp(rb[0][1:]...)
	if p := statusPercentage(t, s, flag, "production"); p != 0 {
		t.Errorf("after %q the flag serves %v%%, want 0", strings.Join(rb[0], " "), p)
	}

	// A plan file of its own, in staging: its numbers, and its commands.
	plan := filepath.Join(t.TempDir(), "pay-plan.yaml")
	if err := os.WriteFile(plan, []byte(`stages:
  - percent: 2.5
    duration: 90m
  - percent: 40
    duration: 36h
  - percent: 100
guards:
  - name: pay-errors
    metric: error_rate
    margin: 0.2
    critical: 0.03
    minRequests: 500
interval: 30s
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out = s.mustRamp("guide", flag, "--env", "staging", "-f", plan)
	if ph := guide.Placeholders(out); len(ph) > 0 {
		t.Errorf("unfilled placeholders with a plan file: %q", ph)
	}
	for _, w := range []string{
		"# Deployment guide: pay-v2 in staging",
		"**Plan:** read from `" + plan + "`.",
		"ramp rollout start pay-v2 -f " + plan + " --env staging",
		"| 1 | 2.5% | 1h30m |", "| 2 | 40% | 1d12h |", "| 3 | 100% | - |",
		"The judge looks every 30s.",
		"canary error rate above 3%",
		"by more than +20% of it",
		"pay-errors 500",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("the guide of the plan file lacks %q", w)
		}
	}
	for _, args := range guideCommands(out, "ramp set ") {
		s.mustRamp(args[1:]...)
	}
	if p := statusPercentage(t, s, flag, "staging"); p != 100 {
		t.Errorf("after the plan file's set commands staging serves %v%%, want 100", p)
	}
	if rb := guideCommands(out, "ramp rollback "); len(rb) != 1 || strings.Join(rb[0], " ") != "ramp rollback pay-v2 --env staging" {
		t.Errorf("rollback command of the staging guide: %v", rb)
	} else {
		s.mustRamp(rb[0][1:]...)
		if p := statusPercentage(t, s, flag, "staging"); p != 0 {
			t.Errorf("after the staging rollback staging serves %v%%", p)
		}
	}

	// A flag with a rollout under way: its plan.
	s.mustRamp("rollout", "start", flag, "--stages", "10:2h,60:1d,100", "--guard", "error-rate,critical=2%")
	out = s.mustRamp("guide", flag)
	if ph := guide.Placeholders(out); len(ph) > 0 {
		t.Errorf("unfilled placeholders with a running rollout: %q", ph)
	}
	for _, w := range []string{"the plan of rollout 1 (running)", "| 1 | 10% | 2h |", "| 2 | 60% | 1d |", "canary error rate above 2%", "ramp set pay-v2 60 --env production"} {
		if !strings.Contains(out, w) {
			t.Errorf("the guide of the running rollout lacks %q", w)
		}
	}

	// Errors.
	if r := s.ramp(nil, "guide", "no-such-flag"); r.code != 1 || !strings.Contains(r.stderr, "no-such-flag") {
		t.Errorf("guide of an unknown flag: exit %d, stderr %s", r.code, r.stderr)
	}
	if r := s.ramp(nil, "guide", flag, "--prometheus", "not a url"); r.code != 2 {
		t.Errorf("guide --prometheus 'not a url': exit %d, stderr %s", r.code, r.stderr)
	}
	if r := s.ramp(nil, "guide", flag, "-f", plan, "--template", "fast"); r.code != 2 {
		t.Errorf("guide -f and --template: exit %d", r.code)
	}
}

// TestGuideWithPrometheus writes the guide of a plan that reads a real
// Prometheus: the guide names the server's Prometheus and checks it, and
// says so when it is down.
func TestGuideWithPrometheus(t *testing.T) {
	prom := promtest.Start(t, nil)
	s := startServerAt(t, "127.0.0.1:0", t.TempDir(), "admin", "--prometheus-url", prom.URL)
	s.mustRamp("flag", "create", "cart-v2", "--type", "boolean")
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(plan, []byte("stages:\n  - percent: 10\n    duration: 2h\n  - percent: 100\nguards:\n  - name: cart-errors\n    metric: error_rate\n    critical: 0.04\nsource: prometheus\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := s.mustRamp("guide", "cart-v2", "-f", plan)
	if ph := guide.Placeholders(out); len(ph) > 0 {
		t.Errorf("unfilled placeholders: %q", ph)
	}
	for _, w := range []string{
		"Prometheus, queried by the server through its HTTP API at " + prom.URL,
		"| Prometheus | `curl -fsS " + prom.URL + "/-/healthy` | ✔ healthy |",
		"This plan's judge runs the stage queries below at every analysis.",
		`sum(increase(ramp_flag_requests_total{flag="cart-v2",variant="on",environment="production"}[7200s]))`,
		"### Metric source down: the rollout holds",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("the guide lacks %q", w)
		}
	}

	// Prometheus down: the guide is still written, and says so.
	prom.Stop()
	r := s.ramp(nil, "guide", "cart-v2", "-f", plan, "--prometheus", prom.URL)
	if r.code != 0 || !strings.Contains(r.stdout, "| Prometheus | `curl -fsS "+prom.URL+"/-/healthy` | ✘ unreachable: ") {
		t.Errorf("guide with Prometheus down: exit %d\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}
