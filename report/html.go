package report

import (
	"html/template"
	"io"
	"time"

	"github.com/ramp-flags/ramp/judge"
)

// WriteHTML writes the report as one self-contained HTML page: styles and
// charts inline, no script, nothing fetched from anywhere. Text from the
// server is escaped by html/template.
func WriteHTML(w io.Writer, r *Report) error {
	charts, err := r.Charts()
	if err != nil {
		return err
	}
	type svgChart struct {
		Name, Title string
		SVG         template.HTML
	}
	data := struct {
		R      *Report
		Charts []svgChart
	}{R: r}
	for _, c := range charts {
		// The SVG is ours: every text in it is escaped by package chart.
		data.Charts = append(data.Charts, svgChart{Name: c.Name, Title: c.Title, SVG: template.HTML(c.SVG)})
	}
	return htmlTemplate.Execute(w, data)
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"time":      formatTime,
	"clock":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"elapsed":   func(r *Report, t time.Time) string { return r.elapsed(t) },
	"dur":       func(from, to time.Time) string { return formatDuration(to.Sub(from).Truncate(time.Second)) },
	"mindur":    formatDuration,
	"words":     actionWords,
	"stage":     stageCell,
	"stageName": func(r *Report, i int) string { return r.stageName(i) },
	"pcent":     percentCell,
	"percent":   formatPercent,
	"dash":      orDash,
	"none":      orNone,
	"summary":   stageSummary,
	"sci":       sci,
	"decisions": decisionList,
	"actions":   actionList,
	"arm":       armFigures,
	"stat":      statistic,
	"threshold": func(r *Report, name string) string {
		if g, ok := r.guard(name); ok {
			return Threshold(g.Guard)
		}
		return "-"
	},
	"guardThreshold": Threshold,
	"inc":            func(i int) int { return i + 1 },
	"outcomeClass":   func(o judge.Outcome) string { return "v-" + string(o) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rollout report: {{.R.Flag}} in {{.R.Environment}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.6rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}
code{background:#f3f3f3;padding:0 .2rem;border-radius:3px}
.outcome{font-size:1.1rem;padding:.6rem .8rem;border-radius:4px;background:#eef6ee;border:1px solid #9c9}
.outcome.bad{background:#fbeeee;border-color:#d99}
.charts svg{max-width:100%;height:auto;display:block;margin:.5rem 0 1rem;border:1px solid #eee}
.v-pass{color:#1a7f37;font-weight:bold}.v-warning{color:#b26b00;font-weight:bold}
.v-critical{color:#c62828;font-weight:bold}.v-inconclusive{color:#666;font-weight:bold}
.muted{color:#666}
</style>
</head>
<body>
<h1>Rollout report: {{.R.Flag}} in {{.R.Environment}}</h1>
<p class="outcome{{if .R.RolledBack}} bad{{end}}"><strong>Outcome: {{.R.Outcome}}.</strong>{{with .R.Reason}} {{.}}{{end}}</p>
<table class="facts">
<tr><th>Rollout</th><td>{{.R.ID}} of flag <code>{{.R.Flag}}</code> in <code>{{.R.Environment}}</code></td></tr>
<tr><th>Status</th><td><code>{{.R.Status}}</code></td></tr>
<tr><th>Canary / baseline</th><td><code>{{none .R.Canary}}</code> / <code>{{none .R.Baseline}}</code></td></tr>
<tr><th>Plan</th><td>{{summary .R.Plan}}; analysis every {{.R.Plan.Interval}}, source <code>{{.R.Plan.Source}}</code>, on warning <code>{{.R.Plan.OnWarning}}</code>, α = {{sci .R.Plan.Alpha}}</td></tr>
<tr><th>Started</th><td>{{time .R.Start}}{{with .R.CreatedBy}} by {{.}}{{end}}</td></tr>
{{if .R.Status.Active}}<tr><th>Under way for</th><td>{{dur .R.Start .R.End}}</td></tr>{{else}}<tr><th>Ended</th><td>{{time .R.End}} ({{dur .R.Start .R.End}} after the start)</td></tr>{{end}}
<tr><th>Analyses</th><td>{{.R.Analyses}}</td></tr>
{{with .R.Server}}<tr><th>Server</th><td>{{.}}</td></tr>{{end}}
<tr><th>Report made</th><td>{{time .R.Generated}}</td></tr>
</table>

<h2 id="charts">Charts</h2>
<p class="muted">Error rate and latency are the judge's figures at each analysis: cumulative since the stage went live, so each stage's line starts afresh. Shaded bands are the stage runs.</p>
<div class="charts">
{{range .Charts}}<figure id="chart-{{.Name}}">{{.SVG}}</figure>
{{end}}</div>

<h2 id="timeline">Timeline</h2>
<table class="timeline">
<tr><th>time (UTC)</th><th>since start</th><th>event</th><th>stage</th><th>canary %</th><th>actor</th><th>detail</th></tr>
{{range .R.Timeline}}<tr><td>{{clock .Time}}</td><td>{{elapsed $.R .Time}}</td><td>{{words .Action}} <code>{{.Action}}</code></td><td>{{stage $.R .Stage}}</td><td>{{pcent .Percent}}</td><td>{{dash .Actor}}</td><td>{{dash .Detail}}</td></tr>
{{end}}</table>

<h2 id="stages">Stages</h2>
{{if not .R.Stages}}<p>No stage went live.</p>{{end}}
{{range $i, $s := .R.Stages}}<section class="stage">
<h3>{{$i | inc}}. {{stageName $.R $s.Index}} at {{percent $s.Percent}}</h3>
<ul>
<li>Live: {{time $s.From}} to {{time $s.To}} ({{dur $s.From $s.To}}; minimum {{mindur $s.MinDuration}})</li>
<li>Analyses: {{$s.Analyses}} ({{decisions $s.Decisions}})</li>
{{if $s.Outcome}}<li>Ended: {{words $s.Outcome}} <code>{{$s.Outcome}}</code> by {{dash $s.EndedBy}}{{with $s.EndReason}}: {{.}}{{end}}</li>{{else}}<li>Under way</li>{{end}}
</ul>
{{with $s.Last}}<p>Last analysis, {{time .Time}}: <strong>{{.Decision}}</strong> — {{.Reason}}</p>
{{if $s.Verdicts}}<table class="verdicts">
<tr><th>guard</th><th>verdict</th><th>canary</th><th>baseline</th><th>statistic</th><th>threshold</th></tr>
{{range $s.Verdicts}}<tr><td>{{.Guard}}</td><td class="{{outcomeClass .Outcome}}">{{.Outcome}}</td><td>{{arm . .Canary}}</td><td>{{arm . .Baseline}}</td><td>{{stat .}}</td><td>{{threshold $.R .Guard}}</td></tr>
{{end}}</table>
<ul>{{range $s.Verdicts}}<li>{{.Guard}}: {{.Summary}}</li>{{end}}</ul>
{{else}}<p>No verdict recorded.</p>{{end}}
{{else}}<p>No analysis in this stage.</p>{{end}}
</section>
{{end}}

<h2 id="actors">Who did what</h2>
<table class="actors">
<tr><th>actor</th><th>actions</th><th>first</th><th>last</th></tr>
{{range .R.Actors}}<tr><td>{{.Name}}</td><td>{{actions .Actions}}</td><td>{{time .First}}</td><td>{{time .Last}}</td></tr>
{{end}}</table>

<h2 id="plan">Plan</h2>
<table class="plan-stages">
<tr><th>stage</th><th>percent</th><th>minimum duration</th></tr>
{{range $i, $s := .R.Plan.Stages}}<tr><td>{{$i | inc}}</td><td>{{percent $s.Percent}}</td><td>{{if $s.Duration}}{{$s.Duration}}{{else}}-{{end}}</td></tr>
{{end}}</table>
<table class="plan-guards">
<tr><th>guard</th><th>metric</th><th>threshold</th></tr>
{{range .R.Plan.Guards}}<tr><td>{{.Name}}</td><td><code>{{.Metric}}</code></td><td>{{guardThreshold .Guard}}</td></tr>
{{end}}</table>
</body>
</html>
`))
