package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// analysis returns an analysis whose verdicts the judge computed from the
// counts: errors and requests of each arm, and latency histograms.
func analysis(t *testing.T, plan rollout.Plan, when, stage int, cReq, cErr, bReq, bErr float64, slowCanary bool) ramp.Analysis {
	t.Helper()
	bounds := ramp.LatencyBounds()
	hist := func(n float64, slow bool) *judge.Histogram {
		h := &judge.Histogram{Bounds: bounds, Counts: make([]float64, len(bounds)), Count: n}
		for i, b := range bounds {
			switch {
			case b >= 0.05:
				h.Counts[i] = n
			case b >= 0.025 && !slow:
				h.Counts[i] = n * 0.995
			case b >= 0.01:
				h.Counts[i] = n * 0.5
			}
		}
		return h
	}
	var in []judge.Input
	for _, g := range plan.Guards {
		in = append(in, judge.Input{Guard: g.Guard,
			Canary:   judge.Arm{Requests: cReq, Errors: cErr, Latency: hist(cReq, slowCanary)},
			Baseline: judge.Arm{Requests: bReq, Errors: bErr, Latency: hist(bReq, false)}})
	}
	vs := judge.EvaluateAll(in, judge.Options{Alpha: plan.Alpha, CanaryPercent: plan.Stages[stage].Percent})
	start := []int{1, 30}[stage]
	d := judge.Decide(judge.DecideInput{Verdicts: vs, Stage: stage, InStage: time.Duration(when-start) * time.Second, MinDuration: 20 * time.Second})
	return ramp.Analysis{Time: at(when), Stage: stage, Decision: string(d.Action), Reason: d.Reason, Verdicts: mustJSON(t, vs)}
}

// rolledBack is a rollout that passed its first stage, was paused and
// resumed by alice, and was rolled back by the judge at 25 % on a
// critical error rate.
func rolledBack(t *testing.T) Input {
	plan := rollout.Templates()["demo"]
	plan.Normalize()
	st := rollout.State{Canary: "on", Baseline: "off", StageStarted: at(30), Transitions: []rollout.Transition{
		{Time: at(1), Action: ramp.ActionRolloutStart, From: 0, To: 0, Percent: 5, Status: ramp.RolloutRunning, Actor: "alice", Reason: "started by alice"},
		{Time: at(8), Action: ramp.ActionRolloutPause, From: 0, To: 0, Percent: 5, Status: ramp.RolloutPaused, Actor: "alice", Reason: "deploy freeze"},
		{Time: at(10), Action: ramp.ActionRolloutResume, From: 0, To: 0, Percent: 5, Status: ramp.RolloutRunning, Actor: "alice", Reason: "resumed by alice"},
		{Time: at(30), Action: ramp.ActionRolloutPromote, From: 0, To: 1, Percent: 25, Status: ramp.RolloutRunning, Actor: rollout.Actor, Reason: "all 2 guards pass after 29s in stage (minimum 20s)"},
		{Time: at(40), Action: ramp.ActionRolloutRollback, From: 1, To: 1, Percent: 0, Status: ramp.RolloutRolledBack, Actor: rollout.Actor, Reason: "critical: error-rate: canary error rate 20% above 5%"},
	}}
	ro := &ramp.Rollout{ID: 7, Flag: "checkout-v2", Environment: "production", Status: ramp.RolloutRolledBack, Stage: 1,
		Plan: mustJSON(t, plan), State: mustJSON(t, st), Reason: st.Transitions[4].Reason, CreatedBy: "alice",
		CreatedAt: at(1), UpdatedAt: at(40)}
	analyses := []ramp.Analysis{
		analysis(t, plan, 12, 0, 40, 0, 800, 2, false), // too little canary data: hold
		analysis(t, plan, 20, 0, 600, 3, 11000, 50, false),
		analysis(t, plan, 30, 0, 1000, 5, 19000, 95, false), // promote
		analysis(t, plan, 35, 1, 2000, 400, 6000, 30, true),
		analysis(t, plan, 40, 1, 4000, 800, 12000, 60, true), // rollback
	}
	audit := []ramp.AuditEntry{
		{ID: 1, Time: at(-100), Actor: "alice", Action: ramp.ActionFlagCreate, Kind: "flag", Key: "checkout-v2"},
		{ID: 2, Time: at(1), Actor: "alice", Action: ramp.ActionRolloutCreate, Kind: "rollout", Key: "checkout-v2", Environment: "production"},
		{ID: 3, Time: at(1), Actor: "alice", Action: ramp.ActionRolloutStart, Kind: "rollout", Key: "checkout-v2", Environment: "production"},
		{ID: 4, Time: at(8), Actor: "alice", Action: ramp.ActionRolloutPause, Kind: "rollout", Key: "checkout-v2", Environment: "production"},
		{ID: 5, Time: at(10), Actor: "alice", Action: ramp.ActionRolloutResume, Kind: "rollout", Key: "checkout-v2", Environment: "production"},
		{ID: 6, Time: at(30), Actor: rollout.Actor, Action: ramp.ActionRolloutPromote, Kind: "rollout", Key: "checkout-v2", Environment: "production"},
		{ID: 7, Time: at(32), Actor: "bob", Action: ramp.ActionFlagPercentage, Kind: "flag", Key: "checkout-v2", Environment: "staging"},
		{ID: 8, Time: at(40), Actor: rollout.Actor, Action: ramp.ActionRolloutRollback, Kind: "rollout", Key: "checkout-v2", Environment: "production"},
	}
	return Input{Rollout: ro, Analyses: analyses, Audit: audit, Server: "http://127.0.0.1:8080", Now: at(100)}
}

func TestBuildRolledBack(t *testing.T) {
	r, err := Build(rolledBack(t))
	if err != nil {
		t.Fatal(err)
	}
	if !r.RolledBack() || r.End != at(40) || r.Canary != "on" || r.Baseline != "off" {
		t.Errorf("report: rolled back %v, end %v, canary %q baseline %q", r.RolledBack(), r.End, r.Canary, r.Baseline)
	}
	var rows []string
	for _, e := range r.Timeline {
		rows = append(rows, e.Kind+" "+e.Action+" "+e.Actor)
	}
	want := []string{
		"transition rollout.create alice",
		"transition rollout.start alice",
		"transition rollout.pause alice",
		"transition rollout.resume alice",
		"analysis hold rollout-controller",
		"transition rollout.promote rollout-controller",
		"transition rollout.rollback rollout-controller",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if len(r.Stages) != 2 {
		t.Fatalf("%d stage runs, want 2: %+v", len(r.Stages), r.Stages)
	}
	s0, s1 := r.Stages[0], r.Stages[1]
	if s0.Percent != 5 || s0.Outcome != ramp.ActionRolloutPromote || s0.Analyses != 3 || s0.Decisions["promote"] != 1 || s0.To != at(30) {
		t.Errorf("first stage run %+v", s0)
	}
	if s1.Percent != 25 || s1.Outcome != ramp.ActionRolloutRollback || s1.Analyses != 2 || s1.EndedBy != rollout.Actor {
		t.Errorf("second stage run %+v", s1)
	}
	if len(s1.Verdicts) != 2 || s1.Verdicts[0].Outcome != judge.Critical || s1.Verdicts[0].Canary.Requests != 4000 {
		t.Errorf("second stage's verdicts %+v", s1.Verdicts)
	}
	// bob changed staging, not production: not part of this rollout.
	names := map[string]string{}
	for _, a := range r.Actors {
		names[a.Name] = actionList(a.Actions)
	}
	if len(names) != 2 || names["alice"] != "rollout.create, rollout.pause, rollout.resume, rollout.start" ||
		names[rollout.Actor] != "rollout.promote, rollout.rollback" {
		t.Errorf("actors %v", names)
	}
	// The canary's error rate over time: no point for the analysis without
	// enough data? It had requests in both arms, so it is drawn; the second
	// stage starts a new line.
	if r.ErrorRate == nil || len(r.ErrorRate.Canary) != 5 || !r.ErrorRate.Canary[3].NewStage || r.ErrorRate.Canary[4].Value != 20 {
		t.Errorf("error-rate series %+v", r.ErrorRate)
	}
	if r.Latency == nil || len(r.Latency.Canary) != 5 {
		t.Errorf("latency series %+v", r.Latency)
	}
	pcts := []float64{}
	for _, s := range r.Percent {
		pcts = append(pcts, s.Value)
	}
	if got := fmtFloats(pcts); got != "0 5 5 5 25 0" {
		t.Errorf("percentages over time %s", got)
	}
}

func fmtFloats(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = trimFloat(x, 3)
	}
	return strings.Join(parts, " ")
}

// svgSeries parses an SVG with encoding/xml and returns the names of its
// series groups and whether it has a path.
func svgSeries(t *testing.T, svg []byte) (names []string, paths int) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return names, paths
		}
		if err != nil {
			t.Fatalf("SVG is not XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			attrs := map[string]string{}
			for _, a := range se.Attr {
				attrs[a.Name.Local] = a.Value
			}
			if se.Name.Local == "g" && attrs["class"] == "series" {
				names = append(names, attrs["data-name"])
			}
			if se.Name.Local == "path" {
				paths++
			}
		}
	}
}

func TestCharts(t *testing.T) {
	r, err := Build(rolledBack(t))
	if err != nil {
		t.Fatal(err)
	}
	charts, err := r.Charts()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		ChartErrorRate: {"canary (on)", "baseline (off)"},
		ChartLatency:   {"canary (on)", "baseline (off)"},
		ChartPercent:   {"percentage"},
	}
	if len(charts) != 3 {
		t.Fatalf("%d charts", len(charts))
	}
	for _, c := range charts {
		names, paths := svgSeries(t, c.SVG)
		if strings.Join(names, ",") != strings.Join(want[c.Name], ",") || paths != len(names) {
			t.Errorf("%s chart: series %v, %d paths", c.Name, names, paths)
		}
	}
}

func TestMarkdown(t *testing.T) {
	in := rolledBack(t)
	in.Rollout.Reason = "critical | *boom* [link](http://x) <b>"
	r, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r, []Image{{Title: "Error rate", Path: "checkout-v2-7-error-rate.svg"}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# Rollout report: checkout-v2 in production",
		"**Outcome: rolled back to 0%.**",
		"![Error rate](checkout-v2-7-error-rate.svg)",
		"| rolled back `rollout.rollback` | 2 | 0% | rollout-controller |",
		"### 2. stage 2 of 4 at 25%",
		"| error-rate | **critical** | 4000 req, 800 err, rate 20% | 12000 req, 60 err, rate 0.5% |",
		"critical above 5%",
		"| alice | rollout.create, rollout.pause, rollout.resume, rollout.start |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the Markdown report lacks %q", want)
		}
	}
	// Server text cannot add markup or break tables.
	if strings.Contains(out, "[link](http://x)") || strings.Contains(out, "<b>") || strings.Contains(out, "critical | *boom*") {
		t.Errorf("unescaped reason in:\n%s", out)
	}
	// Every table row has the columns of its header.
	checkTables(t, out)
	if t.Failed() {
		t.Log(out)
	}
}

// checkTables fails when a Markdown table row has a different number of
// cells than its header.
func checkTables(t *testing.T, md string) {
	t.Helper()
	cells := func(line string) int {
		line = strings.ReplaceAll(line, `\|`, "")
		return strings.Count(line, "|") - 1
	}
	want := 0
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			want = 0
			continue
		}
		if want == 0 {
			want = cells(line)
			continue
		}
		if n := cells(line); n != want {
			t.Errorf("table row with %d cells, header has %d: %s", n, want, line)
		}
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	in := rolledBack(t)
	in.Rollout.Reason = `<script>alert(1)</script>`
	r, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script") {
		t.Errorf("the HTML has a script")
	}
	// No external request: no src or href, no url(), no link element, and
	// the only URL is the SVG namespace.
	for _, re := range []string{`(?i)\ssrc=`, `(?i)\shref=`, `(?i)url\(`, `(?i)<link`, `(?i)@import`} {
		if regexp.MustCompile(re).MatchString(out) {
			t.Errorf("the HTML matches %s", re)
		}
	}
	for _, u := range regexp.MustCompile(`https?://[^\s"<]+`).FindAllString(out, -1) {
		if u != "http://www.w3.org/2000/svg" && u != "http://127.0.0.1:8080" {
			t.Errorf("the HTML names %s", u)
		}
	}
	if n := strings.Count(out, "<svg "); n != 3 {
		t.Errorf("%d inline SVG charts, want 3", n)
	}
	for _, want := range []string{"<h2 id=\"timeline\">", "rollout.rollback", "class=\"v-critical\"", "alice", "rollout-controller", "&lt;script&gt;"} {
		if !strings.Contains(out, want) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
	// Each inline SVG is well-formed XML with its series.
	for _, m := range regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(out, -1) {
		if names, _ := svgSeries(t, []byte(m)); len(names) == 0 {
			t.Errorf("an inline chart has no series")
		}
	}
}

// TestKillSwitchEndsTheRollout checks a rollout aborted by the kill switch,
// which leaves no transition in the rollout's state, only audit rows.
func TestKillSwitchEndsTheRollout(t *testing.T) {
	plan := rollout.Plan{Stages: []rollout.Stage{{Percent: 10, Duration: rollout.Duration(time.Hour)}, {Percent: 100}},
		Guards: []rollout.Guard{{Guard: judge.Guard{Name: "errors", Metric: judge.ErrorRate}}}}
	plan.Normalize()
	st := rollout.State{Canary: "on", Baseline: "off", Transitions: []rollout.Transition{
		{Time: at(0), Action: ramp.ActionRolloutStart, To: 0, Percent: 10, Status: ramp.RolloutRunning, Actor: "alice"}}}
	ro := &ramp.Rollout{ID: 3, Flag: "search", Environment: "production", Status: ramp.RolloutAborted, Plan: mustJSON(t, plan),
		State: mustJSON(t, st), Reason: "kill switch by carol", CreatedAt: at(0), UpdatedAt: at(50)}
	audit := []ramp.AuditEntry{
		{Time: at(50), Actor: "carol", Action: ramp.ActionFlagRollback, Kind: "flag", Key: "search", Environment: "production"},
		{Time: at(50), Actor: "carol", Action: ramp.ActionRolloutAbort, Kind: "rollout", Key: "search", Environment: "production"},
	}
	r, err := Build(Input{Rollout: ro, Audit: audit, Now: at(60)})
	if err != nil {
		t.Fatal(err)
	}
	if !r.RolledBack() || len(r.Stages) != 1 || r.Stages[0].Outcome != ramp.ActionRolloutAbort || r.Stages[0].EndedBy != "carol" {
		t.Errorf("stages %+v", r.Stages)
	}
	var got []string
	for _, e := range r.Timeline {
		got = append(got, e.Action+" "+e.Actor)
	}
	if strings.Join(got, ", ") != "rollout.start alice, flag.rollback carol, rollout.abort carol" {
		t.Errorf("timeline %v", got)
	}
	if last := r.Percent[len(r.Percent)-1]; last.Value != 0 || last.Time != at(50) {
		t.Errorf("the percentage does not end at 0: %+v", r.Percent)
	}
	// No error-rate figures: the chart says so instead of drawing.
	charts, err := r.Charts()
	if err != nil {
		t.Fatal(err)
	}
	if names, paths := svgSeries(t, charts[0].SVG); len(names) != 0 || paths != 0 || !bytes.Contains(charts[0].SVG, []byte("no figures yet")) {
		t.Errorf("error-rate chart without figures: %v, %d paths", names, paths)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	if _, err := Build(Input{}); err == nil {
		t.Error("a report without a rollout was built")
	}
	if _, err := Build(Input{Rollout: &ramp.Rollout{Plan: json.RawMessage(`{"stages":`)}}); err == nil {
		t.Error("a report with a broken plan was built")
	}
}
