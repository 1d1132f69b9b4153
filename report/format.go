package report

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/report/chart"
	"github.com/ramp-flags/ramp/rollout"
)

// Chart names, used in file names: FLAG-ID-NAME.svg.
const (
	ChartErrorRate = "error-rate"
	ChartLatency   = "latency"
	ChartPercent   = "percentage"
)

// Chart is one drawn chart of a report.
type Chart struct {
	// Name is ChartErrorRate, ChartLatency or ChartPercent.
	Name  string
	Title string
	SVG   []byte
}

// Charts draws the report's three charts: the canary's and the baseline's
// error rate, their latency quantile, and the canary's percentage, each
// over the rollout's time with its stages shaded. A chart whose guard the
// plan lacks, or that has no figures yet, says so in its plot.
func (r *Report) Charts() ([]Chart, error) {
	bands := make([]chart.Band, 0, len(r.Stages))
	for _, s := range r.Stages {
		if s.To.After(s.From) {
			bands = append(bands, chart.Band{From: s.From, To: s.To, Label: formatPercent(s.Percent)})
		}
	}
	pair := func(p *Pair, title, unit, missing string, scale func(float64) string) chart.Chart {
		c := chart.Chart{Title: title, YLabel: unit, YFormat: scale, Bands: bands, From: r.Start, To: r.End, Empty: missing}
		if p == nil {
			return c
		}
		c.Empty = "no figures yet: no analysis had requests in both arms"
		c.Series = []chart.Series{
			{Name: "canary (" + orNone(r.Canary) + ")", Points: points(p.Canary), Color: "#d62728"},
			{Name: "baseline (" + orNone(r.Baseline) + ")", Points: points(p.Baseline), Color: "#1f77b4", Dashed: true},
		}
		return c
	}
	q := "latency"
	for _, g := range r.Plan.Guards {
		if r.Latency != nil && g.Name == r.Latency.Guard {
			q = quantileName(g.Quantile) + " latency"
		}
	}
	charts := []struct {
		name string
		c    chart.Chart
	}{
		{ChartErrorRate, pair(r.ErrorRate, "Error rate, canary vs baseline", "error rate (%)", "the plan has no error-rate guard",
			func(v float64) string { return trimFloat(v, 3) + "%" })},
		{ChartLatency, pair(r.Latency, strings.ToUpper(q[:1])+q[1:]+", canary vs baseline", q+" (ms)", "the plan has no latency guard",
			func(v float64) string { return trimFloat(v, 3) + " ms" })},
		{ChartPercent, chart.Chart{Title: "Canary percentage", YLabel: "users on " + orNone(r.Canary) + " (%)", YMax: 100, Bands: bands,
			From: r.Start, To: r.End, YFormat: func(v float64) string { return trimFloat(v, 3) + "%" },
			Series: []chart.Series{{Name: "percentage", Points: points(r.Percent), Step: true, End: r.End, Color: "#2ca02c"}}}},
	}
	out := make([]Chart, 0, len(charts))
	for _, c := range charts {
		svg, err := c.c.SVG()
		if err != nil {
			return nil, fmt.Errorf("draw the %s chart: %w", c.name, err)
		}
		out = append(out, Chart{Name: c.name, Title: c.c.Title, SVG: svg})
	}
	return out, nil
}

func points(ss []Sample) []chart.Point {
	ps := make([]chart.Point, len(ss))
	for i, s := range ss {
		ps[i] = chart.Point{X: s.Time, Y: s.Value, Break: s.NewStage && i > 0}
	}
	return ps
}

func decodeVerdicts(raw json.RawMessage) ([]judge.Verdict, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var vs []judge.Verdict
	if err := json.Unmarshal(raw, &vs); err != nil {
		return nil, fmt.Errorf("decode verdicts: %w", err)
	}
	return vs, nil
}

// Outcome says in words how the rollout ended, or where it is.
func (r *Report) Outcome() string {
	switch r.Status {
	case ramp.RolloutPromoted:
		return "promoted: every stage passed, " + formatPercent(r.Plan.Stages[len(r.Plan.Stages)-1].Percent) + " of users get " + orNone(r.Canary)
	case ramp.RolloutRolledBack:
		return "rolled back to 0%"
	case ramp.RolloutAborted:
		return "aborted, set back to 0%"
	case ramp.RolloutPaused:
		return "paused (under way)"
	case ramp.RolloutRunning:
		return "running (under way)"
	}
	return string(r.Status)
}

// guard returns the plan's guard of the name.
func (r *Report) guard(name string) (rollout.Guard, bool) {
	for _, g := range r.Plan.Guards {
		if g.Name == name {
			return g, true
		}
	}
	return rollout.Guard{}, false
}

// Threshold says what a guard allows, with the plan's numbers.
func Threshold(g judge.Guard) string {
	var parts []string
	switch g.Metric {
	case judge.ErrorRate:
		s := "canary ≤ baseline"
		if g.Margin > 0 {
			s += fmt.Sprintf(" +%s", trimFloat(100*g.Margin, 4)+"%")
		}
		if g.AbsMargin > 0 {
			if g.Margin > 0 {
				s += " or"
			}
			s += fmt.Sprintf(" +%s pp", trimFloat(100*g.AbsMargin, 4))
		}
		parts = append(parts, s)
		if g.Critical > 0 {
			parts = append(parts, "critical above "+trimFloat(100*g.Critical, 4)+"%")
		}
	case judge.Latency:
		q := g.Quantile
		if q == 0 {
			q = judge.DefaultQuantile
		}
		m := g.Margin
		if m == 0 {
			m = judge.DefaultLatencyMargin
		}
		parts = append(parts, fmt.Sprintf("canary %s ≤ baseline's +%s%%", quantileName(q), trimFloat(100*m, 4)))
		if g.Critical > 0 {
			parts = append(parts, fmt.Sprintf("critical above %s", formatSeconds(g.Critical)))
		}
	case judge.Throughput:
		m := g.Margin
		if m == 0 {
			m = judge.DefaultThroughputTolerance
		}
		parts = append(parts, fmt.Sprintf("canary's share within ±%s%% of the stage percentage", trimFloat(100*m, 4)))
	}
	min := g.MinRequests
	if min == 0 {
		min = judge.DefaultMinRequests
	}
	parts = append(parts, fmt.Sprintf("at least %s requests an arm", trimFloat(min, 6)))
	return strings.Join(parts, "; ")
}

// armFigures formats one arm's figures for a verdict.
func armFigures(v judge.Verdict, f judge.Figures) string {
	parts := []string{formatCount(f.Requests) + " req"}
	switch v.Metric {
	case judge.Latency:
		if f.Latency > 0 {
			parts = append(parts, quantileName(v.Quantile)+" "+formatSeconds(f.Latency))
		}
		if f.SlowerThan > 0 {
			parts = append(parts, fmt.Sprintf("%s slower than %s", pct(f.Slow), formatSeconds(f.SlowerThan)))
		}
	case judge.Throughput:
		parts = append(parts, "share "+pct(f.Share))
	default:
		parts = append(parts, formatCount(f.Errors)+" err", "rate "+pct(f.ErrorRate))
	}
	return strings.Join(parts, ", ")
}

// statistic formats a verdict's tests: each test's observed and reference
// proportions, allowance, p-value against its level and Λ.
func statistic(v judge.Verdict) string {
	if len(v.Tests) == 0 {
		return "no test ran"
	}
	parts := make([]string, len(v.Tests))
	for i, t := range v.Tests {
		sig := "not significant"
		if t.Significant {
			sig = "significant"
		}
		parts[i] = fmt.Sprintf("%s: %s vs %s (allowed +%s), p=%s vs α=%s, Λ=%s, %s",
			t.Name, pct(t.Observed), pct(t.Reference), pct(t.Allowed), sci(t.PValue), sci(t.Alpha), sci(t.Lambda), sig)
	}
	return strings.Join(parts, "; ")
}

// quantileName names a quantile: 0.99 is p99, 0.999 p99.9.
func quantileName(q float64) string {
	if q == 0 {
		q = judge.DefaultQuantile
	}
	return "p" + trimFloat(100*q, 4)
}

func formatPercent(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) + "%" }

// pct formats a fraction as a percentage with up to three significant
// decimals: 0.01234 is 1.234%.
func pct(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return trimFloat(100*x, 3) + "%"
}

// trimFloat formats x with at most digits decimals and no trailing zeros.
func trimFloat(x float64, digits int) string {
	s := strconv.FormatFloat(x, 'f', digits, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

func sci(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	if x != 0 && (math.Abs(x) < 0.001 || math.Abs(x) >= 1e5) {
		return strconv.FormatFloat(x, 'e', 1, 64)
	}
	return strconv.FormatFloat(x, 'g', 3, 64)
}

func formatCount(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatInt(int64(x), 10)
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}

// formatSeconds formats a latency: 12 ms, 1.5 s.
func formatSeconds(s float64) string {
	if s < 1 {
		return trimFloat(1000*s, 2) + " ms"
	}
	return trimFloat(s, 3) + " s"
}

// formatTime formats a time in UTC to the second.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// formatDuration prints a duration with its two largest units: 3d4h,
// 2h15m, 45s, 1.5s.
func formatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + formatDuration(-d)
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	if d < time.Minute {
		return trimFloat(d.Seconds(), 1) + "s"
	}
	units := []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	var b strings.Builder
	n := 0
	for _, u := range units {
		if v := d / u.size; v > 0 && n < 2 {
			fmt.Fprintf(&b, "%d%s", v, u.name)
			d -= v * u.size
			n++
		} else if n > 0 {
			n++
		}
	}
	return b.String()
}

// elapsed formats the time since the rollout started: +1m20s.
func (r *Report) elapsed(t time.Time) string {
	if r.Start.IsZero() {
		return "-"
	}
	// Whole seconds between the times as the timeline prints them.
	return "+" + formatDuration(t.Truncate(time.Second).Sub(r.Start.Truncate(time.Second)))
}

// stageName names a stage run: "stage 2 of 4 (25%)".
func (r *Report) stageName(i int) string {
	return fmt.Sprintf("stage %d of %d", i+1, len(r.Plan.Stages))
}

// actionWords names an audit action or a decision for people.
func actionWords(a string) string {
	words := map[string]string{
		ramp.ActionRolloutCreate: "created", ramp.ActionRolloutStart: "started", ramp.ActionRolloutPromote: "promoted",
		ramp.ActionRolloutStepBack: "stepped back", ramp.ActionRolloutRollback: "rolled back", ramp.ActionRolloutPause: "paused",
		ramp.ActionRolloutResume: "resumed", ramp.ActionRolloutAbort: "aborted", ramp.ActionRolloutComplete: "completed",
		ramp.ActionFlagRollback: "kill switch", ramp.ActionFlagPercentage: "percentage set", string(judge.Hold): "holding",
	}
	if w, ok := words[a]; ok {
		return w
	}
	return a
}

// actionList formats an actor's counted actions: "rollout.promote ×2,
// rollout.rollback".
func actionList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if m[k] > 1 {
			keys[i] = fmt.Sprintf("%s ×%d", k, m[k])
		}
	}
	return strings.Join(keys, ", ")
}

// decisionList formats a run's decisions: "3 hold, 1 promote".
func decisionList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func percentCell(p float64) string {
	if math.IsNaN(p) {
		return "-"
	}
	return formatPercent(p)
}

func stageCell(r *Report, i int) string {
	if i < 0 {
		return "-"
	}
	return strconv.Itoa(i + 1)
}
