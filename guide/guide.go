// Package guide writes the deployment guide of one flag's rollout in one
// environment as Markdown: the runbook a release owner follows, with every
// value filled in from the real configuration — the server and its
// dependencies with the result of their health checks, the pre-deployment
// checklist, the stages with their durations and thresholds, the exact
// commands to set each percentage and to roll back, the PromQL queries,
// the alert rules, the decision tree with the plan's numbers, and what to
// do about each failure ramp detects.
//
// Write does no I/O but writing to its writer: the caller gathers the
// Input (the ramp command reads it from a server).
package guide

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/promrules"
	"github.com/ramp-flags/ramp/promsource"
	"github.com/ramp-flags/ramp/rollout"
)

// Input is everything the guide says.
type Input struct {
	// Target is the flag, the environment, the variants and the plan.
	Target promrules.Target
	// PlanFile is the file the plan was read from, "" if it was not.
	PlanFile string
	// Template is the name of the template the plan is, "" if it is not.
	Template string
	// RolloutID and RolloutStatus describe the rollout the plan is from,
	// zero when it is not from one.
	RolloutID     int64
	RolloutStatus string
	// Percent is what the flag serves the canary in the environment now.
	Percent float64
	Server  Server
	// Prometheus is the Prometheus the plan or the alert rules use, nil
	// when none was given.
	Prometheus *Prometheus
	// Checklist is the pre-deployment checklist; ChecklistBy names what
	// checked it, such as "ramp preflight".
	Checklist   []Check
	ChecklistBy string
	// Rules is the YAML of the alert rules; RulesErr says why there are
	// none.
	Rules    []byte
	RulesErr string
	// Commands are the names of the ramp commands this binary has, to
	// refer only to those that exist (preflight, alerts, dashboard...).
	Commands []string
	// Generated is when the guide is written.
	Generated time.Time
}

// Server is what the guide knows of the ramp server.
type Server struct {
	URL string
	// Healthy and Ready are the answers of /healthz and /readyz; the Err
	// fields say why not.
	Healthy           bool
	HealthErr         string
	Ready             bool
	ReadyErr          string
	Migrations, Avail int
	// Version, GoVersion, StoreDriver, Uptime and the memory and disk
	// figures come from the server's GET /api/v1/server; InfoErr says why
	// they could not be read.
	Version, GoVersion string
	StoreDriver        string
	Uptime             time.Duration
	HeapBytes          float64
	DiskPath           string
	DiskFree           float64
	// Sources are the metric sources plans may name on this server.
	Sources []string
	// PrometheusURL is the Prometheus the server queries, "" if none;
	// PrometheusOK and PrometheusErr are the server's check of it.
	PrometheusURL string
	PrometheusOK  bool
	PrometheusErr string
	// AlertPath and AlertSeverities describe the Alertmanager receiver.
	AlertPath       string
	AlertSeverities []string
	// WebhookCount is the number of webhook targets the server has.
	WebhookCount int
	InfoErr      string
	// ResidentBytes comes from the server's /metrics, zero when it could
	// not be read.
	ResidentBytes float64
	// Webhooks are the notification targets the server sends rollout
	// events to, with their counts.
	Webhooks []Webhook
	// MetricsErr says why /metrics could not be read.
	MetricsErr string
}

// Webhook is a notification target of the server.
type Webhook struct {
	Name         string
	Sent, Failed float64
}

// Prometheus is a Prometheus server and the result of its health check.
type Prometheus struct {
	URL     string
	Healthy bool
	Err     string
}

// Check is one item of the checklist.
type Check struct {
	Name     string
	OK       bool
	Required bool
	// Detail says what was found; Fix what to do when it failed.
	Detail, Fix string
}

// Write writes the guide.
func Write(w io.Writer, in Input) error {
	g := &writer{in: in, t: in.Target, bw: bufio.NewWriter(w)}
	g.title()
	g.architecture()
	g.dependencies()
	g.checklist()
	g.stages()
	g.commands()
	g.queries()
	g.alerts()
	g.decisionTree()
	g.troubleshooting()
	g.cleanup()
	if g.err != nil {
		return g.err
	}
	return g.bw.Flush()
}

type writer struct {
	in  Input
	t   promrules.Target
	bw  *bufio.Writer
	err error
}

func (g *writer) p(format string, args ...any) { fmt.Fprintf(g.bw, format, args...) }

func (g *writer) has(cmd string) bool { return slices.Contains(g.in.Commands, cmd) }

// env is the --env flag of the commands, always written out so that a
// command copied for production never acts on another environment.
func (g *writer) env() string { return "--env " + shellWord(g.t.Environment) }

func (g *writer) flag() string { return shellWord(g.t.Flag) }

func (g *writer) title() {
	t := g.t
	g.p("# Deployment guide: %s in %s\n\n", t.Flag, t.Environment)
	g.p("Written by `ramp guide` on %s from the configuration of the ramp server at %s.\n", g.in.Generated.UTC().Format("2006-01-02 15:04 UTC"), g.in.Server.URL)
	g.p("It rolls out the variant `%s` of the flag `%s` to the users of `%s` who now get `%s`, stage by stage, judged by ramp.\n\n", t.Canary, t.Flag, t.Environment, t.Baseline)
	switch {
	case g.in.PlanFile != "":
		g.p("**Plan:** read from `%s`.\n\n", g.in.PlanFile)
	case g.in.RolloutID != 0:
		g.p("**Plan:** the plan of rollout %d (%s) of this flag in %s.\n\n", g.in.RolloutID, g.in.RolloutStatus, t.Environment)
	case t.Default:
		g.p("**Plan:** the flag has no rollout plan in %s yet, so this guide uses the default plan and thresholds: the `%s` template. Give your own with `ramp guide %s %s -f plan.yaml`.\n\n", t.Environment, g.in.Template, g.flag(), g.env())
	default:
		g.p("**Plan:** the `%s` template.\n\n", g.in.Template)
	}
	g.p("The flag serves `%s` to %s of users in %s now.\n\n", t.Canary, percent(g.in.Percent), t.Environment)
	g.p("Contents: 1. Architecture · 2. Dependencies and health checks · 3. Pre-deployment checklist · 4. Stages · 5. Commands · 6. Queries · 7. Alert rules · 8. Decision tree · 9. Troubleshooting · 10. Cleanup\n\n")
	g.p("The commands below talk to the server through `$RAMP_SERVER`, and authenticate with an admin token in `$RAMP_TOKEN` (`ramp token create --admin` makes one; `ramp serve` writes the first to `admin-token` in its data directory):\n\n```sh\nexport RAMP_SERVER=%s\n```\n\n", shellWord(g.in.Server.URL))
}

func (g *writer) architecture() {
	t, s := g.t, g.in.Server
	g.p("## 1. Architecture\n\n")
	src := "SDK-reported counts: the applications' Go SDK reports requests, errors and latency per variant to `POST " + s.URL + "/sdk/v1/metrics`, and the server sums them over each stage"
	if t.Plan.Source == rollout.SourcePrometheus {
		src = "Prometheus, queried by the server through its HTTP API"
		if s.PrometheusURL != "" {
			src += " at " + s.PrometheusURL
		} else {
			src += "; this server has none configured (`ramp serve --prometheus-url`), so the rollout would hold"
		}
	}
	store := "store"
	if s.StoreDriver != "" {
		store = s.StoreDriver + " store"
	}
	g.p("```\n")
	g.p("application (Go SDK) ── evaluates %s in-process, serves %s or %s ──▶ reports counts\n", t.Flag, t.Canary, t.Baseline)
	g.p("        ▲ SSE stream (percentage changes within milliseconds)\n")
	g.p("ramp server %s\n", s.URL)
	g.p("  ├─ %s (flags, rollouts, audit log)\n", store)
	g.p("  ├─ rollout controller ── every %s ──▶ judge ◀── figures: %s\n", t.Plan.Interval, t.Plan.Source)
	g.p("  ├─ notifier ──▶ %s\n", webhookList(s.Webhooks, s.WebhookCount))
	g.p("  └─ alert receiver ◀── Alertmanager (POST %s)\n", g.alertPath())
	g.p("```\n\n")
	g.p("- **ramp server** at %s", s.URL)
	if s.Version != "" {
		g.p(", version %s", s.Version)
	}
	if s.GoVersion != "" {
		g.p(", built with %s", s.GoVersion)
	}
	if s.Uptime > 0 {
		g.p(", up %s", rollout.Duration(s.Uptime.Truncate(time.Second)))
	}
	if s.ResidentBytes > 0 {
		g.p(", %s resident memory", bytesText(s.ResidentBytes))
	}
	g.p(". It holds the flag, runs the rollout controller and serves the SDKs.\n")
	g.p("- **Store**: ")
	if s.StoreDriver != "" {
		g.p("%s, ", s.StoreDriver)
	}
	if s.Ready {
		g.p("ready, schema at migration %d of %d", s.Migrations, s.Avail)
	} else {
		g.p("not ready: %s", orText(s.ReadyErr, "the readiness check failed"))
	}
	if s.DiskPath != "" {
		g.p("; %s free in %s", bytesText(s.DiskFree), s.DiskPath)
	}
	g.p(".\n")
	g.p("- **Figures for the judge**: %s.", src)
	if len(s.Sources) > 0 {
		g.p(" This server offers the sources %s.", strings.Join(s.Sources, ", "))
	}
	g.p("\n- **Notifications**: ")
	if len(s.Webhooks) == 0 && s.WebhookCount == 0 {
		g.p("no webhook is configured; start the server with `--webhook` or `--slack-webhook` and the receiver's address to hear of every stage change, hold and rollback.\n")
	} else {
		g.p("every rollout event goes to %s.\n", webhookList(s.Webhooks, s.WebhookCount))
	}
	sev := "its rolling-back severities"
	if len(s.AlertSeverities) > 0 {
		sev = "the severity " + strings.Join(s.AlertSeverities, " or ")
	}
	g.p("- **Alert receiver**: `%s%s` rolls the flag back when an alert with the label `ramp_flag=\"%s\"` and %s fires (section 7).\n\n", s.URL, g.alertPath(), t.Flag, sev)
}

// alertPath is the path of the server's Alertmanager receiver.
func (g *writer) alertPath() string {
	if g.in.Server.AlertPath != "" {
		return g.in.Server.AlertPath
	}
	return "/api/v1/alerts/alertmanager"
}

func (g *writer) dependencies() {
	s := g.in.Server
	g.p("## 2. Dependencies and health checks\n\n")
	g.p("Checked when this guide was written; run the command to check again.\n\n")
	g.p("| dependency | check | result |\n|---|---|---|\n")
	g.p("| ramp server | `curl -fsS %s/healthz` | %s |\n", s.URL, result(s.Healthy, s.HealthErr, "answers"))
	ready := "ready"
	if s.Ready {
		ready = fmt.Sprintf("ready, migrations %d of %d", s.Migrations, s.Avail)
	}
	g.p("| store | `curl -fsS %s/readyz` | %s |\n", s.URL, result(s.Ready, s.ReadyErr, ready))
	if s.InfoErr == "" {
		info := "version " + orText(s.Version, "unknown")
		if s.DiskPath != "" {
			info += fmt.Sprintf(", %s free disk", bytesText(s.DiskFree))
		}
		if s.HeapBytes > 0 {
			info += fmt.Sprintf(", %s heap", bytesText(s.HeapBytes))
		}
		g.p("| server resources | `curl -fsS -H \"Authorization: Bearer $RAMP_TOKEN\" %s/api/v1/server` | ✔ %s |\n", s.URL, info)
	}
	if p := g.in.Prometheus; p != nil {
		g.p("| Prometheus | `curl -fsS %s/-/healthy` | %s |\n", strings.TrimRight(p.URL, "/"), result(p.Healthy, p.Err, "healthy"))
	} else if g.t.Plan.Source == rollout.SourcePrometheus {
		g.p("| Prometheus | not checked: give its address to `ramp guide` with `--prometheus` | ✘ unknown |\n")
	}
	if g.t.Plan.Source == rollout.SourceSDK {
		g.p("| SDK reports | `ramp rollout status %s %s` shows requests in both arms once a stage is live | checked by the judge at every analysis |\n", g.flag(), g.env())
	}
	for _, wh := range s.Webhooks {
		state := fmt.Sprintf("✔ %s events sent, %s failed", count(wh.Sent), count(wh.Failed))
		if wh.Failed > 0 {
			state = fmt.Sprintf("✘ %s events sent, %s failed", count(wh.Sent), count(wh.Failed))
		}
		g.p("| webhook %s | `curl -fsS -H \"Authorization: Bearer $RAMP_TOKEN\" %s/metrics \\| grep 'target=\"%s\"'` | %s |\n", wh.Name, s.URL, wh.Name, state)
	}
	if s.MetricsErr != "" {
		g.p("\nThe server's /metrics could not be read (%s), so its webhooks are not listed by name.\n", s.MetricsErr)
	}
	if s.InfoErr != "" {
		g.p("\nThe server's description (GET /api/v1/server) could not be read: %s.\n", s.InfoErr)
	}
	g.p("\n")
}

func (g *writer) checklist() {
	g.p("## 3. Pre-deployment checklist\n\n")
	if len(g.in.Checklist) == 0 {
		g.p("No check was run.\n\n")
		return
	}
	g.p("Checked by %s when this guide was written.", g.in.ChecklistBy)
	if g.has("preflight") {
		g.p(" Check again before you start, and gate on it in a script: `ramp preflight %s %s` exits non-zero when a required item fails.", g.flag(), g.env())
	}
	g.p("\n\n")
	failed := 0
	for _, c := range g.in.Checklist {
		mark := "- [x] ✔"
		if !c.OK {
			mark = "- [ ] ✘"
			if c.Required {
				failed++
			}
		}
		opt := ""
		if !c.Required {
			opt = " (optional)"
		}
		g.p("%s **%s**%s: %s", mark, c.Name, opt, c.Detail)
		if !c.OK && c.Fix != "" {
			g.p(" Fix: %s", c.Fix)
		}
		g.p("\n")
	}
	if failed > 0 {
		g.p("\n**%d required item(s) fail: fix them before the first stage.**\n", failed)
	}
	g.p("\n")
}

func (g *writer) stages() {
	t := g.t
	p := t.Plan
	g.p("## 4. Stages\n\n")
	g.p("The judge looks every %s. A stage is promoted once every guard passes and the stage has been live at least its minimum duration; durations are wall-clock time.\n\n", p.Interval)
	g.p("| stage | users on `%s` | minimum duration | promoted when |\n|---|---|---|---|\n", t.Canary)
	for i, s := range p.Stages {
		d, when := "-", "reaching it completes the rollout"
		if s.Duration > 0 {
			d = s.Duration.String()
			when = "every guard passes after " + s.Duration.String()
			if i == len(p.Stages)-1 {
				when += "; then the rollout completes"
			}
		}
		g.p("| %d | %s | %s | %s |\n", i+1, percent(s.Percent), d, when)
	}
	g.p("\nEach stage, every guard compares the canary (`%s`) with the baseline (`%s`) over the stage so far:\n\n", t.Canary, t.Baseline)
	g.p("| guard | metric | warning (regression against the baseline) | critical (absolute limit) | needs |\n|---|---|---|---|---|\n")
	for _, gd := range p.Guards {
		warn, crit := thresholds(gd.Guard)
		g.p("| %s | `%s` | %s | %s | %s requests per arm |\n", gd.Name, gd.Metric, warn, crit, count(minRequests(gd.Guard)))
	}
	g.p("\nThe false-alarm rate of an analysis is α = %s, shared by the guards that can warn; a warning does `%s`. The plan as YAML, for `ramp rollout start -f`:\n\n", strconv.FormatFloat(p.Alpha, 'g', -1, 64), p.OnWarning)
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := errors.Join(enc.Encode(p), enc.Close()); err != nil {
		g.err = fmt.Errorf("write the plan as YAML: %w", err)
		return
	}
	g.p("```yaml\n%s```\n\n", b.String())
}

func (g *writer) commands() {
	t := g.t
	f, env := g.flag(), g.env()
	g.p("## 5. Commands\n\n")
	g.p("### Guarded rollout (ramp moves the stages)\n\n```sh\n")
	switch {
	case g.in.Template != "" && g.in.PlanFile == "":
		g.p("ramp rollout start %s --template %s %s\n", f, shellWord(g.in.Template), env)
	default:
		file := "plan.yaml"
		if g.in.PlanFile != "" {
			file = g.in.PlanFile
			g.p("# the plan of section 4, in %s\n", file)
		} else {
			g.p("# the plan of section 4, saved as %s\n", file)
		}
		g.p("ramp rollout start %s -f %s %s\n", f, shellWord(file), env)
	}
	g.p("ramp rollout status %s %s --watch     # exits 0 when promoted, 1 when rolled back or aborted\n", f, env)
	g.p("ramp rollout pause %s %s --reason \"deploy freeze\"\n", f, env)
	g.p("ramp rollout resume %s %s\n", f, env)
	g.p("ramp rollout promote %s %s             # skip the rest of the current stage: your decision, audited\n", f, env)
	g.p("ramp rollout abort %s %s --reason \"errors in checkout\"  # stop and set back to 0%%\n", f, env)
	if g.has("report") {
		g.p("ramp report %s %s -o reports/          # the rollout report; exits 1 when it ended at 0%%\n", f, env)
	}
	g.p("```\n\n")
	g.p("### Each stage by hand\n\nWithout a guarded rollout, set each stage's percentage yourself once its checks pass. A `ramp set` during a guarded rollout changes the percentage under it; pause the rollout first.\n\n```sh\n")
	for i, s := range t.Plan.Stages {
		g.p("ramp set %s %s %s   # stage %d\n", f, strconv.FormatFloat(s.Percent, 'f', -1, 64), env, i+1)
	}
	g.p("```\n\n")
	g.p("### Roll back (kill switch)\n\nEveryone in %s gets `%s` at once; a running rollout is aborted in the same change. Always available, whatever the rollout is doing.\n\n```sh\nramp rollback %s %s\nramp status %s                          # check: %s is off at 0%% in %s\n```\n\n", t.Environment, t.Baseline, f, env, f, t.Flag, t.Environment)
	g.p("### Who did what\n\n```sh\nramp audit --key %s\n```\n\n", f)
}

func (g *writer) queries() {
	t := g.t
	g.p("## 6. Queries\n\n")
	g.p("PromQL over the SDK's metrics (`%s`, `%s`, `%s`), for a Prometheus that scrapes the applications. ", promsource.RequestsMetric, promsource.ErrorsMetric, promsource.DurationMetric)
	if t.Plan.Source == rollout.SourceSDK {
		g.p("This plan's judge reads SDK-reported counts, not these queries: they are for dashboards and for checking by hand.\n\n")
	} else {
		g.p("This plan's judge runs the stage queries below at every analysis.\n\n")
	}
	rng := "5m"
	type q struct{ what, expr string }
	var qs []q
	add := func(what string, expr string, err error) {
		if err != nil {
			g.err = fmt.Errorf("build the %s query: %w", what, err)
			return
		}
		qs = append(qs, q{what, expr})
	}
	for _, v := range []struct{ name, variant string }{{"canary", t.Canary}, {"baseline", t.Baseline}} {
		e, err := t.ErrorRatio(v.variant, rng)
		add(fmt.Sprintf("Error ratio of the %s (%s), over 5m", v.name, v.variant), e, err)
	}
	for _, gd := range t.Plan.Guards {
		if gd.Metric != judge.Latency {
			continue
		}
		qn := quantile(gd.Guard)
		for _, v := range []struct{ name, variant string }{{"canary", t.Canary}, {"baseline", t.Baseline}} {
			e, err := t.LatencyQuantile(v.variant, qn, rng)
			add(fmt.Sprintf("%s latency of the %s (%s) in seconds, over 5m", quantileName(qn), v.name, v.variant), e, err)
		}
		break
	}
	for _, v := range []struct{ name, variant string }{{"canary", t.Canary}, {"baseline", t.Baseline}} {
		e, err := t.RequestRate(v.variant, rng)
		add(fmt.Sprintf("Requests per second of the %s (%s), over 5m", v.name, v.variant), e, err)
	}
	if len(t.Plan.Stages) > 0 && t.Plan.Stages[0].Duration > 0 {
		win := time.Duration(t.Plan.Stages[0].Duration)
		// The first error-rate guard's queries, else the first guard's.
		i := slices.IndexFunc(t.Plan.Guards, func(g rollout.Guard) bool { return g.Metric == judge.ErrorRate })
		if i < 0 && len(t.Plan.Guards) > 0 {
			i = 0
		}
		if i >= 0 {
			gd := t.Plan.Guards[i]
			qs2 := promsource.WithDefaults(gd.Queries)
			e, err := promsource.Expand(qs2.Requests, t.Flag, t.Canary, t.Environment, win)
			add(fmt.Sprintf("What the judge counts for guard %s at the end of stage 1: the canary's requests over %s", gd.Name, rollout.Duration(win)), e, err)
			if gd.Metric == judge.ErrorRate {
				e, err := promsource.Expand(qs2.Errors, t.Flag, t.Canary, t.Environment, win)
				add(fmt.Sprintf("... and its errors over %s", rollout.Duration(win)), e, err)
			}
		}
	}
	for _, x := range qs {
		g.p("%s:\n\n```promql\n%s\n```\n\n", x.what, x.expr)
	}
}

func (g *writer) alerts() {
	g.p("## 7. Alert rules\n\n")
	if len(g.in.Rules) == 0 {
		g.p("No alert rules: %s.\n\n", orText(g.in.RulesErr, "none could be generated"))
		return
	}
	g.p("Prometheus rules for this rollout: critical alerts carry `ramp_flag` and `severity: critical`, so Alertmanager routed to `%s/api/v1/alerts/alertmanager` pulls the kill switch; warnings tell people.", g.in.Server.URL)
	if g.has("alerts") {
		g.p(" Write them to a file with `ramp alerts %s %s > %s-rules.yaml`, check them with `promtool check rules %s-rules.yaml` and add the file to Prometheus's `rule_files`.", g.flag(), g.env(), g.t.Flag, g.t.Flag)
	}
	g.p("\n\n```yaml\n%s", g.in.Rules)
	if !strings.HasSuffix(string(g.in.Rules), "\n") {
		g.p("\n")
	}
	g.p("```\n\n")
}

func (g *writer) decisionTree() {
	t := g.t
	p := t.Plan
	g.p("## 8. Decision tree\n\n")
	g.p("Every %s the judge gives each guard a verdict; the first matching row decides:\n\n", p.Interval)
	g.p("| # | when | ramp does |\n|---|---|---|\n")
	n := 0
	row := func(when, does string) {
		n++
		g.p("| %d | %s | %s |\n", n, when, does)
	}
	var crit, warn []string
	for _, gd := range p.Guards {
		w, c := thresholds(gd.Guard)
		if gd.Critical > 0 {
			crit = append(crit, gd.Name+": "+c)
		}
		if gd.Metric != judge.Throughput {
			warn = append(warn, gd.Name+": "+w)
		}
	}
	if len(crit) > 0 {
		row("critical — "+strings.Join(crit, "; ")+", significantly", "**roll back** to 0% at once; the rollout ends `rolled_back`")
	}
	onWarn := "**step back** one stage (in stage 1: roll back)"
	if p.OnWarning == judge.Rollback {
		onWarn = "**roll back** to 0% (the plan's onWarning)"
	}
	if len(warn) > 0 {
		row("warning — "+strings.Join(warn, "; ")+", significantly", onWarn)
	}
	row(fmt.Sprintf("inconclusive — fewer than the guard's minimum requests in either arm (%s), the metric source down, or unusable figures", minList(p.Guards)), "**hold**: never promote, never roll back on missing data; look again in "+p.Interval.String())
	var mins []string
	for i, s := range p.Stages {
		if s.Duration > 0 {
			mins = append(mins, fmt.Sprintf("stage %d (%s) %s", i+1, percent(s.Percent), s.Duration))
		}
	}
	row("every guard passes and the stage has been live its minimum: "+strings.Join(mins, ", "), "**promote** to the next stage; from the last, the rollout ends `promoted`")
	row("every guard passes, minimum not reached", "**hold** until it is")
	g.p("\nThe kill switch (`ramp rollback %s %s`) and a critical alert win over all of these at any time. Every decision is kept as an analysis; `ramp rollout status %s %s` shows the latest with its figures.\n\n", g.flag(), g.env(), g.flag(), g.env())
}

func (g *writer) troubleshooting() {
	t := g.t
	f, env := g.flag(), g.env()
	g.p("## 9. Troubleshooting\n\n")
	g.p("What ramp detects on its own, what it shows, and what to do.\n\n")
	item := func(title, shows, do string) {
		g.p("### %s\n\n- **Shows:** %s\n- **Do:** %s\n\n", title, shows, do)
	}
	min := minList(t.Plan.Guards)
	if t.Plan.Source == rollout.SourceSDK {
		item("No data: the rollout holds",
			fmt.Sprintf("`ramp rollout status %s %s` says `hold`, the verdicts `inconclusive` with `too little data` and the requests each arm still needs (%s).", f, env, min),
			fmt.Sprintf("Check that the applications evaluate `%s` with the Go SDK and call `Observe` (or use `sdk.Middleware`) on the code path of each variant, with an SDK token of the `%s` environment; counts arrive one report interval (10s by default) after the requests. At %s, a stage needs enough traffic for the canary to reach its minimum: `ramp simulate` tells how long.", t.Flag, t.Environment, percent(firstPercent(t.Plan))))
	} else {
		item("No data: the rollout holds",
			fmt.Sprintf("`inconclusive: too little data` in `ramp rollout status %s %s`; the queries of section 6 return no series.", f, env),
			"Run the queries of section 6 in Prometheus: no series means the applications do not export the SDK's metrics for this flag (`sdk/promexport`) or Prometheus does not scrape them.")
	}
	if t.Plan.Source == rollout.SourcePrometheus {
		pu := "its URL"
		if g.in.Prometheus != nil {
			pu = g.in.Prometheus.URL
		}
		item("Metric source down: the rollout holds",
			"`inconclusive` with the failed query and Prometheus's answer, or `no prometheus metric source is configured`.",
			fmt.Sprintf("Check Prometheus (`curl -fsS %s/-/healthy`); start `ramp serve` with `--prometheus-url %s`. The rollout resumes by itself when figures come back.", strings.TrimRight(pu, "/"), pu))
	} else {
		item("Metric source unreadable: the rollout holds",
			"`inconclusive` with the store's error, or `no sdk metric source is configured`.",
			fmt.Sprintf("Check `curl -fsS %s/readyz`. The rollout resumes by itself when figures come back.", g.in.Server.URL))
	}
	item("Stale SDK: applications serve an old percentage",
		"`ramp_stream_clients` on the server's `/metrics` lower than the number of application instances; the applications log reconnects to the stream. SDKs that cannot reach the server keep serving their last snapshot, and report no counts, so the judge holds.",
		fmt.Sprintf("Check the applications reach %s (`curl -fsS %s/healthz` from their hosts) and use an SDK token of `%s`. A percentage change reaches connected SDKs within milliseconds.", g.in.Server.URL, g.in.Server.URL, t.Environment))
	item("Rolled back by the judge",
		"status `rolled_back`, reason `critical: ...` or `regression: ...` with the guard's figures; a webhook event.",
		fmt.Sprintf("Read the verdicts: `ramp rollout status %s %s`%s. Fix the new code path, then start a new rollout.", f, env, g.reportHint()))
	item("Rolled back by an alert",
		fmt.Sprintf("the flag off at 0%% in %s and the rollout `aborted`, its reason `kill switch by` the alert receiver's token name with the alert's name in parentheses; the same actor in the audit log.", t.Environment),
		fmt.Sprintf("`ramp audit --key %s` names the alert; look at it in Prometheus before you start again.", f))
	item("Stepped back",
		"a `rollout.step_back` transition with reason `regression: ...`: the canary was significantly worse than the baseline beyond the margin, not beyond the critical limit.",
		"The rollout goes on from the previous stage; if it steps back again, abort it and look at the figures.")
	if slices.ContainsFunc(t.Plan.Guards, func(g rollout.Guard) bool { return g.Metric == judge.Throughput }) {
		item("Sample ratio mismatch: the rollout holds",
			"a throughput guard `inconclusive` because the canary's share of requests is off its stage percentage.",
			"Some instances do not evaluate the flag, or serve a cached percentage: check every instance runs the SDK and is connected.")
	}
	item("Rollout refused",
		"`flag ... already has rollout ... in "+t.Environment+"; abort it or wait for it to end`, or `rollout plan is invalid` naming each field.",
		fmt.Sprintf("`ramp rollout list` shows the active rollout; check a plan with `ramp rollout start %s -f plan.yaml %s --dry-run`.", f, env))
	if len(g.in.Server.Webhooks) > 0 || g.in.Server.WebhookCount > 0 {
		item("Notifications not arriving",
			"`ramp_notifications_failed_total` or `ramp_notifications_dropped_total` of a target rising on the server's `/metrics`.",
			"Check the target URL accepts a POST from the server; ramp retries with backoff and logs each failure.")
	}
}

func (g *writer) cleanup() {
	t := g.t
	g.p("## 10. Cleanup\n\n")
	g.p("Once %s serves `%s` to 100%% of users and the rollout is promoted, keep the flag for the time you still want the kill switch, then remove the flag checks and the old code path (`%s`), deploy, and delete the flag:\n\n```sh\n", t.Environment, t.Canary, t.Baseline)
	if g.has("refs") {
		g.p("ramp refs %s .          # where the code still reads the flag: the worklist\n", g.flag())
	}
	if g.has("stale") {
		g.p("ramp stale                          # flags that serve one variant to everyone\n")
	}
	g.p("ramp flag delete %s\n```\n", g.flag())
}

// reportHint names the report command when the binary has it.
func (g *writer) reportHint() string {
	if !g.has("report") {
		return ""
	}
	return fmt.Sprintf(", and the whole story with charts: `ramp report %s %s -o reports/`", g.flag(), g.env())
}

// thresholds says what a guard's warning and critical verdicts mean, with
// its numbers.
func thresholds(gd judge.Guard) (warning, critical string) {
	critical = "none"
	switch gd.Metric {
	case judge.ErrorRate:
		warning = "canary error rate above the baseline's"
		var allow []string
		if gd.Margin > 0 {
			allow = append(allow, "+"+percent(100*gd.Margin)+" of it")
		}
		if gd.AbsMargin > 0 {
			allow = append(allow, "+"+trim(100*gd.AbsMargin)+" percentage points")
		}
		if len(allow) > 0 {
			warning += " by more than " + strings.Join(allow, " or ")
		}
		if gd.Critical > 0 {
			critical = "canary error rate above " + percent(100*gd.Critical)
		}
	case judge.Latency:
		q := quantileName(quantile(gd))
		m := gd.Margin
		if m == 0 {
			m = judge.DefaultLatencyMargin
		}
		warning = fmt.Sprintf("canary %s more than +%s above the baseline's", q, percent(100*m))
		if gd.Critical > 0 {
			critical = fmt.Sprintf("canary %s above %s", q, seconds(gd.Critical))
		}
	case judge.Throughput:
		m := gd.Margin
		if m == 0 {
			m = judge.DefaultThroughputTolerance
		}
		warning = fmt.Sprintf("never: holds when the canary's share of requests is more than ±%s off the stage percentage", percent(100*m))
	}
	return warning, critical
}

func minRequests(gd judge.Guard) float64 {
	if gd.MinRequests > 0 {
		return gd.MinRequests
	}
	return judge.DefaultMinRequests
}

func minList(gs []rollout.Guard) string {
	parts := make([]string, len(gs))
	for i, gd := range gs {
		parts[i] = gd.Name + " " + count(minRequests(gd.Guard))
	}
	if len(parts) == 0 {
		return "no guard"
	}
	return strings.Join(parts, ", ")
}

func quantile(gd judge.Guard) float64 {
	if gd.Quantile > 0 {
		return gd.Quantile
	}
	return judge.DefaultQuantile
}

func quantileName(q float64) string { return "p" + trim(100*q) }

func firstPercent(p rollout.Plan) float64 {
	if len(p.Stages) == 0 {
		return 0
	}
	return p.Stages[0].Percent
}

func webhookList(ws []Webhook, n int) string {
	if len(ws) == 0 {
		if n > 0 {
			return fmt.Sprintf("%d webhook target(s)", n)
		}
		return "no webhook configured"
	}
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.Name
	}
	return strings.Join(names, ", ")
}

func result(ok bool, err, good string) string {
	if ok {
		return "✔ " + good
	}
	return "✘ " + orText(err, "failed")
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func percent(p float64) string { return trim(p) + "%" }

func trim(x float64) string {
	s := strconv.FormatFloat(x, 'f', 4, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

func count(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatInt(int64(x), 10)
	}
	return trim(x)
}

func seconds(s float64) string {
	if s < 1 {
		return trim(1000*s) + " ms"
	}
	return trim(s) + " s"
}

func bytesText(b float64) string {
	switch {
	case b >= 1<<30:
		return trim(math.Round(b/(1<<30)*10)/10) + " GiB"
	case b >= 1<<20:
		return trim(math.Round(b/(1<<20)*10)/10) + " MiB"
	}
	return trim(math.Round(b/(1<<10))) + " KiB"
}

// shellWord quotes s for a POSIX shell when it needs it. Keys and names of
// ramp need no quoting; a file name may.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Leftover placeholders: [command to set 5%], [metric_name], {{flag}},
// <threshold>, TODO. PromQL ranges ([5m]), Markdown links and checkboxes,
// empty YAML lists and Prometheus's alert templates ({{ $value }}) are not
// placeholders.
var (
	bracketed     = regexp.MustCompile(`\[([^\]\n]*)\](\()?`)
	promRange     = regexp.MustCompile(`^([0-9]+(ms|[smhdwy]))+$`)
	braces        = regexp.MustCompile(`\{\{\s*([^}]*)\}\}`)
	angled        = regexp.MustCompile(`<[A-Za-z][A-Za-z _-]*>`)
	templateIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	todo          = regexp.MustCompile(`\b(TODO|FIXME|TBD|XXX)\b`)
	checkboxCue   = regexp.MustCompile(`^\s*- $`)
)

// Placeholders returns the unfilled placeholders of a guide or any
// template-made text, in order, or none.
func Placeholders(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		for _, m := range bracketed.FindAllStringSubmatchIndex(line, -1) {
			inner := line[m[2]:m[3]]
			link := m[4] >= 0
			switch {
			case link, inner == "", promRange.MatchString(inner):
			case (inner == "x" || inner == " ") && checkboxCue.MatchString(line[:m[0]]):
			default:
				out = append(out, line[m[0]:m[1]])
			}
		}
		for _, m := range braces.FindAllStringSubmatch(line, -1) {
			// {{flag}} is a placeholder; {{ $value }}, {{ .Labels }} and
			// {{ if ... }}...{{ end }} are Prometheus's alert templates.
			name := strings.TrimSpace(m[1])
			if templateIdent.MatchString(name) && name != "end" && name != "else" {
				out = append(out, m[0])
			}
		}
		out = append(out, angled.FindAllString(line, -1)...)
		out = append(out, todo.FindAllString(line, -1)...)
	}
	return out
}
