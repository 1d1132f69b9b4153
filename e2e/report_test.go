package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

// rampAs runs the CLI against s with another token, as another person.
func rampAs(t *testing.T, s *server, token string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rampBin, args...)
	cmd.Env = append(os.Environ(), "RAMP_SERVER="+s.url, "RAMP_TOKEN="+token)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run ramp %v: %v", args, err)
	}
	return r
}

// svgSeriesNames parses an SVG with encoding/xml and returns the names of
// its series and how many data points it draws.
func svgSeriesNames(t *testing.T, path string) (names []string, points int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	root := true
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return names, points
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root && (se.Name.Local != "svg" || se.Name.Space != "http://www.w3.org/2000/svg") {
			t.Fatalf("%s: root element %v, want svg", path, se.Name)
		}
		root = false
		for _, a := range se.Attr {
			if se.Name.Local == "g" && a.Name.Local == "data-name" {
				names = append(names, a.Value)
			}
		}
		if se.Name.Local == "circle" {
			points++
		}
	}
}

// TestRolloutReport runs a compressed guarded rollout driven by counts the
// Go SDK reports: the canary is healthy at 5 %, is promoted to 25 % by the
// judge, then breaks and is rolled back on a critical error rate; a person
// pauses and resumes it on the way. "ramp report" must tell that story
// with the figures the judge used, name who did what, draw the charts, and
// exit 1 because the rollout ended in a rollback. A healthy flag rolled
// out alongside gets a report that exits 0.
func TestRolloutReport(t *testing.T) {
	s := startServer(t, t.TempDir(), "admin")
	admin := s.client()
	ctx := t.Context()

	const bad, good = "checkout-v3", "search-v3"
	for _, key := range []string{bad, good} {
		s.mustRamp("flag", "create", key, "--type", "boolean")
	}
	alice, err := admin.CreateToken(ctx, client.TokenRequest{Name: "alice", Kind: ramp.TokenAdmin})
	if err != nil {
		t.Fatal(err)
	}
	// The application: about 10,000 requests a second evaluating both
	// flags. The new path of the bad flag fails one request in five once
	// it breaks.
	app := startSDKApp(t, s, appTraffic{flags: []string{bad, good}, perTick: 100, latencyMS: 1, spreadMS: 20})

	plan := rollout.Plan{
		Stages: []rollout.Stage{{Percent: 5, Duration: rollout.Duration(3 * time.Second)}, {Percent: 25, Duration: rollout.Duration(3 * time.Second)}, {Percent: 100}},
		Guards: []rollout.Guard{
			{Guard: judge.Guard{Name: "errors", Metric: judge.ErrorRate, Critical: 0.05, AbsMargin: 0.001}},
			{Guard: judge.Guard{Name: "p99", Metric: judge.Latency, Quantile: 0.99, Margin: 1}},
		},
		Interval: rollout.Duration(time.Second),
		// A regression rolls back too, so that the story is the same
		// whichever of the error-rate tests is significant first.
		OnWarning: judge.Rollback,
	}
	ids := map[string]int64{}
	for _, key := range []string{bad, good} {
		v, err := admin.StartRollout(ctx, client.StartRolloutRequest{Flag: key, Environment: "production", Plan: &plan})
		if err != nil {
			t.Fatalf("start the rollout of %s: %v", key, err)
		}
		ids[key] = v.ID
	}
	// alice pauses and resumes the bad flag's rollout during its first stage.
	if r := rampAs(t, s, alice.Secret, "rollout", "pause", bad, "--reason", "checking the dashboards"); r.code != 0 {
		t.Fatalf("pause: %d %s", r.code, r.stderr)
	}
	if r := rampAs(t, s, alice.Secret, "rollout", "resume", bad); r.code != 0 {
		t.Fatalf("resume: %d %s", r.code, r.stderr)
	}

	// Break the canary once the judge has promoted it to 25 %.
	var final map[string]*client.RolloutView
	deadline := time.Now().Add(90 * time.Second)
	for len(final) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the rollouts did not end within 90s\nserver log:\n%s", s.logs())
		}
		final = map[string]*client.RolloutView{}
		for key, id := range ids {
			v, err := admin.GetRollout(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if key == bad && v.Stage == 1 && v.Status == ramp.RolloutRunning {
				app.setFailEvery(bad, "on", 5)
			}
			if !v.Status.Active() {
				final[key] = v
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v := final[bad]; v.Status != ramp.RolloutRolledBack || !strings.Contains(v.Reason, "errors:") {
		t.Fatalf("%s: %s (%s), want rolled back on its error rate", bad, v.Status, v.Reason)
	}
	if v := final[good]; v.Status != ramp.RolloutPromoted {
		t.Fatalf("%s: %s (%s), want promoted", good, v.Status, v.Reason)
	}

	// The Markdown report with its charts.
	dir := t.TempDir()
	r := s.ramp(nil, "report", bad, "-o", dir+"/")
	if r.code != 1 || !strings.Contains(r.stderr, "was rolled back: "+final[bad].Reason) {
		t.Fatalf("report of a rolled-back rollout: exit %d, want 1\nstderr: %s", r.code, r.stderr)
	}
	stem := fmt.Sprintf("%s-%d", bad, ids[bad])
	md, err := os.ReadFile(filepath.Join(dir, stem+".md"))
	if err != nil {
		t.Fatal(err)
	}
	report := string(md)
	t.Logf("report:\n%s", report)

	// The timeline, oldest first, with each actor.
	var events []string
	row := regexp.MustCompile("(?m)^\\| [0-9-]+ [0-9:]+ \\| \\+[^|]+ \\| [^`|]+`([a-z._]+)` \\| [^|]+ \\| [^|]+ \\| ([^|]+) \\|")
	for _, m := range row.FindAllStringSubmatch(report, -1) {
		if m[1] == "hold" {
			continue
		}
		events = append(events, m[1]+" by "+strings.TrimSpace(m[2]))
	}
	want := []string{
		"rollout.create by admin", "rollout.start by admin", "rollout.pause by alice", "rollout.resume by alice",
		"rollout.promote by rollout-controller", "rollout.rollback by rollout-controller",
	}
	if strings.Join(events, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}

	// The figures of the last stage are those of the judge's last analysis.
	as, err := admin.ListAnalyses(ctx, ids[bad], 0)
	if err != nil || len(as) == 0 {
		t.Fatalf("analyses: %v %v", len(as), err)
	}
	last := as[len(as)-1]
	vs, err := client.DecodeVerdicts(last.Verdicts)
	if err != nil {
		t.Fatal(err)
	}
	var ev judge.Verdict
	for _, v := range vs {
		if v.Guard == "errors" {
			ev = v
		}
	}
	if ev.Outcome != judge.Critical && ev.Outcome != judge.Warning {
		t.Fatalf("the last verdict of guard errors is %s", ev.Outcome)
	}
	figures := fmt.Sprintf("| errors | **%s** | %d req, %d err, rate ", ev.Outcome, int64(ev.Canary.Requests), int64(ev.Canary.Errors))
	for _, w := range []string{
		"**Outcome: rolled back to 0%.**",
		"### 2. stage 2 of 3 at 25%",
		"Ended: rolled back `rollout.rollback` by rollout-controller: " + strings.ReplaceAll(final[bad].Reason[:20], "_", `\_`),
		figures,
		fmt.Sprintf("| %d req, %d err, rate ", int64(ev.Baseline.Requests), int64(ev.Baseline.Errors)),
		"critical above 5%",
		"regression: ", "p=", "α=",
		"| alice | rollout.pause, rollout.resume |",
		"![Error rate, canary vs baseline](" + stem + "-error-rate.svg)",
	} {
		if !strings.Contains(report, w) {
			t.Errorf("the report lacks %q", w)
		}
	}

	// The charts are SVG with both arms, drawn from the analyses.
	for _, c := range []struct {
		name   string
		series []string
	}{{"error-rate", []string{"canary (on)", "baseline (off)"}}, {"latency", []string{"canary (on)", "baseline (off)"}}, {"percentage", []string{"percentage"}}} {
		names, points := svgSeriesNames(t, filepath.Join(dir, stem+"-"+c.name+".svg"))
		if strings.Join(names, ",") != strings.Join(c.series, ",") || points < 2*len(c.series) {
			t.Errorf("%s chart: series %v with %d points", c.name, names, points)
		}
	}

	// The HTML report is one self-contained file.
	page := filepath.Join(dir, "report.html")
	if r := s.ramp(nil, "report", "--id", fmt.Sprint(ids[bad]), "-o", page); r.code != 1 {
		t.Errorf("html report: exit %d, stderr %s", r.code, r.stderr)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(html, []byte("<svg ")); n != 3 || bytes.Contains(html, []byte(" src=")) || bytes.Contains(html, []byte(" href=")) || bytes.Contains(html, []byte("<script")) {
		t.Errorf("the HTML report has %d inline charts, or refers to other files", n)
	}
	if !bytes.Contains(html, []byte("rollout.rollback")) || !bytes.Contains(html, []byte("alice")) {
		t.Errorf("the HTML report lacks the rollback or alice")
	}

	// A promoted rollout's report exits 0; to stdout without -o.
	r = s.ramp(nil, "report", good)
	if r.code != 0 || !strings.Contains(r.stdout, "**Outcome: promoted: every stage passed, 100% of users get on.**") {
		t.Errorf("report of a promoted rollout: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// Bad usage is exit 2.
	if r := s.ramp(nil, "report", bad, "-o", "json"); r.code != 2 || !strings.Contains(r.stderr, "--format md or html") {
		t.Errorf("report -o json: exit %d, stderr %s", r.code, r.stderr)
	}
	if r := s.ramp(nil, "report", bad, "--format", "pdf"); r.code != 2 {
		t.Errorf("report --format pdf: exit %d", r.code)
	}
}
