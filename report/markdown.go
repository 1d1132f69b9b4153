package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

// Image is a chart file a Markdown report links to.
type Image struct {
	Title string
	// Path is the link, relative to the Markdown file.
	Path string
}

// WriteMarkdown writes the report as Markdown, with an image link to each
// of images (the SVG files of Charts, written next to it by the caller).
// Text from the server (reasons, actor names, keys) is escaped so that it
// cannot break a table or add markup.
func WriteMarkdown(w io.Writer, r *Report, images []Image) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	p("# Rollout report: %s in %s\n\n", md(r.Flag), md(r.Environment))
	p("**Outcome: %s.**", md(r.Outcome()))
	if r.Reason != "" {
		p(" %s", md(r.Reason))
	}
	p("\n\n")
	p("| | |\n|---|---|\n")
	row := func(k, v string) { p("| %s | %s |\n", k, v) }
	row("Rollout", fmt.Sprintf("%d of flag `%s` in `%s`", r.ID, code(r.Flag), code(r.Environment)))
	row("Status", "`"+code(string(r.Status))+"`")
	row("Canary / baseline", fmt.Sprintf("`%s` / `%s`", code(orNone(r.Canary)), code(orNone(r.Baseline))))
	row("Plan", md(stageSummary(r.Plan))+fmt.Sprintf("; analysis every %s, source `%s`, on warning `%s`, α = %s",
		r.Plan.Interval, code(r.Plan.Source), code(string(r.Plan.OnWarning)), sci(r.Plan.Alpha)))
	row("Started", formatTime(r.Start)+byWhom(r.CreatedBy))
	if r.Status.Active() {
		row("Under way for", formatDuration(r.End.Sub(r.Start).Truncate(time.Second)))
	} else {
		row("Ended", formatTime(r.End)+fmt.Sprintf(" (%s after the start)", formatDuration(r.End.Sub(r.Start).Truncate(time.Second))))
	}
	row("Analyses", fmt.Sprintf("%d", r.Analyses))
	if r.Server != "" {
		row("Server", md(r.Server))
	}
	row("Report made", formatTime(r.Generated))
	p("\n")

	if len(images) > 0 {
		p("## Charts\n\n")
		p("Error rate and latency are the judge's figures at each analysis: cumulative since the stage went live, so each stage's line starts afresh. Shaded bands are the stage runs.\n\n")
		for _, im := range images {
			p("![%s](%s)\n\n", md(im.Title), im.Path)
		}
	}

	p("## Timeline\n\n")
	p("Transitions of the rollout, the analyses where the judge began to hold, and changes to the flag by hand during the rollout. Stages count from 1.\n\n")
	p("| time (UTC) | since start | event | stage | canary %% | actor | detail |\n|---|---|---|---|---|---|---|\n")
	for _, e := range r.Timeline {
		p("| %s | %s | %s `%s` | %s | %s | %s | %s |\n", e.Time.UTC().Format("2006-01-02 15:04:05"), r.elapsed(e.Time),
			md(actionWords(e.Action)), code(e.Action), stageCell(r, e.Stage), percentCell(e.Percent), md(orDash(e.Actor)), md(orDash(e.Detail)))
	}
	p("\n")

	p("## Stages\n\n")
	if len(r.Stages) == 0 {
		p("No stage went live.\n\n")
	}
	for i, s := range r.Stages {
		p("### %d. %s at %s\n\n", i+1, md(r.stageName(s.Index)), formatPercent(s.Percent))
		p("- Live: %s to %s (%s; minimum %s)\n", formatTime(s.From), formatTime(s.To), formatDuration(s.To.Sub(s.From).Truncate(time.Second)), formatDuration(s.MinDuration))
		p("- Analyses: %d (%s)\n", s.Analyses, decisionList(s.Decisions))
		if s.Outcome != "" {
			p("- Ended: %s `%s` by %s", md(actionWords(s.Outcome)), code(s.Outcome), md(orDash(s.EndedBy)))
			if s.EndReason != "" {
				p(": %s", md(s.EndReason))
			}
			p("\n")
		} else {
			p("- Under way\n")
		}
		if s.Last == nil {
			p("\nNo analysis in this stage.\n\n")
			continue
		}
		p("\nLast analysis, %s: **%s** — %s\n\n", formatTime(s.Last.Time), md(s.Last.Decision), md(s.Last.Reason))
		if len(s.Verdicts) == 0 {
			p("No verdict recorded.\n\n")
			continue
		}
		p("| guard | verdict | canary | baseline | statistic | threshold |\n|---|---|---|---|---|---|\n")
		for _, v := range s.Verdicts {
			th := "-"
			if g, ok := r.guard(v.Guard); ok {
				th = Threshold(g.Guard)
			}
			p("| %s | **%s** | %s | %s | %s | %s |\n", md(v.Guard), md(string(v.Outcome)), md(armFigures(v, v.Canary)),
				md(armFigures(v, v.Baseline)), md(statistic(v)), md(th))
		}
		p("\n")
		for _, v := range s.Verdicts {
			p("- %s: %s\n", md(v.Guard), md(v.Summary))
		}
		p("\n")
	}

	p("## Who did what\n\n")
	p("| actor | actions | first | last |\n|---|---|---|---|\n")
	for _, a := range r.Actors {
		p("| %s | %s | %s | %s |\n", md(a.Name), md(actionList(a.Actions)), formatTime(a.First), formatTime(a.Last))
	}
	p("\n")

	p("## Plan\n\n")
	p("| stage | percent | minimum duration |\n|---|---|---|\n")
	for i, s := range r.Plan.Stages {
		d := "-"
		if s.Duration > 0 {
			d = s.Duration.String()
		}
		p("| %d | %s | %s |\n", i+1, formatPercent(s.Percent), d)
	}
	p("\n| guard | metric | threshold |\n|---|---|---|\n")
	for _, g := range r.Plan.Guards {
		p("| %s | `%s` | %s |\n", md(g.Name), code(string(g.Metric)), md(Threshold(g.Guard)))
	}
	p("\n")
	return bw.Flush()
}

func byWhom(actor string) string {
	if actor == "" {
		return ""
	}
	return " by " + md(actor)
}

// mdEscaper escapes the characters that make Markdown markup or end a
// table cell.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "#", `\#`, "~", `\~`, "\r", " ", "\n", " ",
)

// md escapes text from the server for a Markdown paragraph or table cell.
func md(s string) string { return mdEscaper.Replace(s) }

// code makes s safe inside a code span: backticks cannot close it and a
// pipe cannot end a table cell.
func code(s string) string {
	return strings.NewReplacer("`", "'", "|", "¦", "\n", " ", "\r", " ").Replace(s)
}
