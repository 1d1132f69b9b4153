package promrules

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

// Defaults of Options' zero fields.
const (
	// DefaultWindow is the range of the rates the rules compute.
	DefaultWindow = 5 * time.Minute
	// DefaultCriticalFor is how long a critical condition holds before
	// its alert fires: long enough that one bad scrape does not pull the
	// kill switch, short enough to act within minutes.
	DefaultCriticalFor = 2 * time.Minute
	// DefaultWarningFor is how long a condition against the baseline holds
	// before its warning fires.
	DefaultWarningFor = 10 * time.Minute
)

// Options tune the rules. Zero fields take the defaults.
type Options struct {
	// Window is the range over which the recording rules measure each
	// variant. Default DefaultWindow.
	Window time.Duration
	// CriticalFor is the for: of the critical alerts. Default
	// DefaultCriticalFor.
	CriticalFor time.Duration
	// WarningFor is the for: of the warnings. Default DefaultWarningFor.
	WarningFor time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.CriticalFor == 0 {
		o.CriticalFor = DefaultCriticalFor
	}
	if o.WarningFor == 0 {
		o.WarningFor = DefaultWarningFor
	}
	if o.Window < time.Second || o.Window%time.Second != 0 {
		return o, fmt.Errorf("window %v: use whole seconds, at least 1s, such as 5m", o.Window)
	}
	if o.CriticalFor < 0 || o.WarningFor < 0 {
		return o, fmt.Errorf("for durations must not be negative")
	}
	return o, nil
}

// File is a Prometheus rule file. Marshal writes it; the YAML field names
// are Prometheus's.
type File struct {
	// Comment is written at the top of the file, one "# " line per line.
	Comment string  `json:"-" yaml:"-"`
	Groups  []Group `json:"groups" yaml:"groups"`
}

// Group is a rule group. Its rules are evaluated in order, so the
// recording rules come before the alerts that read them.
type Group struct {
	Name  string `json:"name" yaml:"name"`
	Rules []Rule `json:"rules" yaml:"rules"`
}

// Rule is a recording rule (Record set) or an alerting rule (Alert set).
type Rule struct {
	Record      string            `json:"record,omitempty" yaml:"record,omitempty"`
	Alert       string            `json:"alert,omitempty" yaml:"alert,omitempty"`
	Expr        string            `json:"expr" yaml:"expr"`
	For         string            `json:"for,omitempty" yaml:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`
}

// Alerts returns the alerting rules of the file, in order.
func (f *File) Alerts() []Rule {
	var out []Rule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	return out
}

// Marshal writes the file as YAML, its comment first.
func (f *File) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(f.Comment, "\n"), "\n") {
		if f.Comment == "" {
			break
		}
		buf.WriteString(strings.TrimRight("# "+line, " ") + "\n")
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode rules: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode rules: %w", err)
	}
	return buf.Bytes(), nil
}

// The labels of the recorded series and of the alerts.
const (
	// LabelArm tells the canary's recorded series from the baseline's.
	LabelArm = "arm"
	// LabelGuard names the plan's guard a recorded series or alert is for.
	LabelGuard = "guard"
	// LabelRampFlag, LabelRampEnv and LabelSeverity are the labels ramp's
	// alert receiver reads: the flag to roll back, its environment, and
	// whether the alert is severe enough to do it.
	LabelRampFlag = "ramp_flag"
	LabelRampEnv  = "ramp_env"
	LabelSeverity = "severity"
	// LabelRampGuard names the guard in an alert, for people and routes.
	LabelRampGuard = "ramp_guard"
)

// Arms, the values of LabelArm.
const (
	ArmCanary   = "canary"
	ArmBaseline = "baseline"
)

// Severities of the alerts. With the receiver's default configuration a
// critical alert rolls the flag back and a warning does not.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
)

// RecordRequests and friends name the recorded series; the suffix is the
// window, such as "5m".
const (
	// RecordRequests is the number of requests one arm served over the
	// window, as the guard counts them.
	RecordRequests = "flag_variant:ramp_flag_requests:increase"
	// RecordErrorRatio is the share of one arm's requests that failed.
	RecordErrorRatio = "flag_variant:ramp_flag_errors:ratio_rate"
	// RecordLatencyPrefix, followed by the quantile ("p99_rate"), is a
	// latency quantile of one arm, in seconds.
	RecordLatencyPrefix = "flag_variant:ramp_flag_request_duration_seconds:"
)

// Generate returns the rules that watch t: for every error-rate and
// latency guard of its plan, recording rules for both arms and
//
//   - an alert with severity critical when the canary's figure exceeds the
//     guard's critical limit (guards without one get none), and
//   - an alert with severity warning when it exceeds the baseline's by
//     more than the guard's margin,
//
// each only once both arms (the canary alone, for the critical alert)
// served the guard's minRequests in the window. Throughput guards cannot
// roll a rollout back and get no alert. The file's comment says where
// the plan came from and which guards have no alert. It fails on a
// target that does not pass Check or on a query template it cannot
// expand.
func Generate(t Target, o Options) (*File, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &generator{t: t, o: o, win: model.Duration(o.Window).String()}
	var notes []string
	for _, guard := range t.Plan.Guards {
		switch guard.Metric {
		case judge.ErrorRate:
			err = g.errorRate(guard)
		case judge.Latency:
			err = g.latency(guard)
		default:
			notes = append(notes, fmt.Sprintf("Guard %s (%s) has no alert: it can hold a rollout, not roll it back.", guard.Name, guard.Metric))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("guard %s: %w", guard.Name, err)
		}
		if guard.Critical == 0 {
			notes = append(notes, fmt.Sprintf("Guard %s has no critical limit, so no critical alert: give it one, such as --guard %s,critical=%s.",
				guard.Name, guard.Name, map[judge.Metric]string{judge.ErrorRate: "2%", judge.Latency: "800ms"}[guard.Metric]))
		}
	}
	if len(g.alerts) == 0 {
		notes = append(notes, "The plan has no error-rate or latency guard: there is nothing to alert on.")
	}
	f := &File{
		Comment: g.comment(notes),
		Groups:  []Group{{Name: "ramp-" + t.Flag + "-" + t.Environment, Rules: append(g.records, g.alerts...)}},
	}
	return f, nil
}

type generator struct {
	t       Target
	o       Options
	win     string
	records []Rule
	alerts  []Rule
}

func (g *generator) comment(notes []string) string {
	t := g.t
	var b strings.Builder
	fmt.Fprintf(&b, "Prometheus rules for the rollout of flag %s in %s (canary %q, baseline %q),\n", t.Flag, t.Environment, t.Canary, t.Baseline)
	fmt.Fprintf(&b, "written by ramp alerts from the guards of %s.\n", t.Origin)
	if t.Default {
		fmt.Fprintf(&b, "The flag has no rollout in %s yet: these are the template's default guards and\n", t.Environment)
		b.WriteString("thresholds. Write the rules again once its rollout has a plan of its own.\n")
	}
	for _, n := range notes {
		b.WriteString(n + "\n")
	}
	b.WriteString("Load with rule_files in prometheus.yml; check with: promtool check rules FILE.\n")
	b.WriteString("Alerts with severity critical roll the flag back through ramp's Alertmanager receiver (docs/alerts.md).")
	return b.String()
}

// record adds a recording rule for one arm and returns the selector of
// its series.
func (g *generator) record(name, expr, arm, variant, guard string) string {
	labels := map[string]string{
		"flag": g.t.Flag, "environment": g.t.Environment, "variant": variant,
		LabelArm: arm, LabelGuard: guard,
	}
	g.records = append(g.records, Rule{Record: name, Expr: expr, Labels: labels})
	return name + "{" + matcher("flag", g.t.Flag) + "," + matcher("environment", g.t.Environment) + "," +
		matcher(LabelGuard, guard) + "," + matcher(LabelArm, arm) + "}"
}

// arms records a figure for both arms and returns their selectors.
func (g *generator) arms(name, guard string, expr func(variant string) (string, error)) (canary, baseline string, err error) {
	c, err := expr(g.t.Canary)
	if err != nil {
		return "", "", err
	}
	b, err := expr(g.t.Baseline)
	if err != nil {
		return "", "", err
	}
	return g.record(name, c, ArmCanary, g.t.Canary, guard), g.record(name, b, ArmBaseline, g.t.Baseline, guard), nil
}

func (g *generator) alert(name, expr, severity string, guard rollout.Guard, summary, description string) {
	f := g.o.WarningFor
	if severity == SeverityCritical {
		f = g.o.CriticalFor
	}
	g.alerts = append(g.alerts, Rule{
		Alert: name,
		Expr:  expr,
		For:   model.Duration(f).String(),
		Labels: map[string]string{
			LabelSeverity: severity, LabelRampFlag: g.t.Flag, LabelRampEnv: g.t.Environment, LabelRampGuard: guard.Name,
		},
		Annotations: map[string]string{"summary": summary, "description": description},
	})
}

func minRequests(guard rollout.Guard) float64 {
	if guard.MinRequests > 0 {
		return guard.MinRequests
	}
	return judge.DefaultMinRequests
}

func (g *generator) errorRate(guard rollout.Guard) error {
	t, q, rng := g.t, guard.Queries, g.win
	reqC, reqB, err := g.arms(RecordRequests+g.win, guard.Name, func(v string) (string, error) {
		return requests(q, t.Flag, v, t.Environment, rng)
	})
	if err != nil {
		return err
	}
	ratioC, ratioB, err := g.arms(RecordErrorRatio+g.win, guard.Name, func(v string) (string, error) {
		return errorRatio(q, t.Flag, v, t.Environment, rng)
	})
	if err != nil {
		return err
	}
	minReq := number(minRequests(guard))
	enough := fmt.Sprintf("%s >= %s", reqC, minReq)
	both := enough + fmt.Sprintf("\nand ignoring(variant, %s) %s >= %s", LabelArm, reqB, minReq)
	base := g.origin(guard)
	if guard.Critical > 0 {
		g.alert(alertName(t.Flag, guard.Name, "Critical"),
			fmt.Sprintf("%s > %s\nand %s", ratioC, number(guard.Critical), enough),
			SeverityCritical, guard,
			fmt.Sprintf("%s: canary error rate above %s in %s", t.Flag, percent(guard.Critical), t.Environment),
			fmt.Sprintf("Variant %q of flag %s failed {{ $value | humanizePercentage }} of its requests in %s over the last %s "+
				"(at least %s requests), above the critical limit of %s of guard %s%s. "+
				"Routed to ramp's alert receiver, this alert rolls the flag back to 0%% in %s.",
				t.Canary, t.Flag, t.Environment, g.win, minReq, percent(guard.Critical), guard.Name, base, t.Environment))
	}
	// group_left keeps the canary's labels on the comparison's result (a
	// one-to-one match would drop those ignored), so that the "and" with
	// the canary's request count matches it.
	threshold := ratioB
	var allowance string
	switch {
	case guard.Margin > 0 && guard.AbsMargin > 0:
		threshold = fmt.Sprintf("(%s + clamp_min(%s * %s, %s))", ratioB, ratioB, number(guard.Margin), number(guard.AbsMargin))
		allowance = fmt.Sprintf("the larger of %s of the baseline's rate and %s points", percent(guard.Margin), percentPoints(guard.AbsMargin))
	case guard.Margin > 0:
		threshold = fmt.Sprintf("(%s * %s)", ratioB, number(1+guard.Margin))
		allowance = fmt.Sprintf("%s of the baseline's rate", percent(guard.Margin))
	case guard.AbsMargin > 0:
		threshold = fmt.Sprintf("(%s + %s)", ratioB, number(guard.AbsMargin))
		allowance = fmt.Sprintf("%s points", percentPoints(guard.AbsMargin))
	default:
		allowance = "nothing"
	}
	g.alert(alertName(t.Flag, guard.Name, "AboveBaseline"),
		fmt.Sprintf("%s > ignoring(variant, %s) group_left() %s\nand %s", ratioC, LabelArm, threshold, both),
		SeverityWarning, guard,
		fmt.Sprintf("%s: canary error rate above the baseline's in %s", t.Flag, t.Environment),
		fmt.Sprintf("Variant %q of flag %s failed {{ $value | humanizePercentage }} of its requests in %s over the last %s, "+
			"against %s for the baseline %q; guard %s%s allows %s more. "+
			"A warning: %s",
			t.Canary, t.Flag, t.Environment, g.win, liveValue(ratioB, "humanizePercentage"), t.Baseline, guard.Name, base, allowance, g.onWarning()))
	return nil
}

func (g *generator) latency(guard rollout.Guard) error {
	t, q, rng := g.t, guard.Queries, g.win
	quantile := guard.Quantile
	if quantile == 0 {
		quantile = judge.DefaultQuantile
	}
	margin := guard.Margin
	if margin == 0 {
		margin = judge.DefaultLatencyMargin
	}
	pq := quantileName(quantile)
	countC, countB, err := g.arms(RecordRequests+g.win, guard.Name, func(v string) (string, error) {
		return observations(q, t.Flag, v, t.Environment, rng)
	})
	if err != nil {
		return err
	}
	latC, latB, err := g.arms(RecordLatencyPrefix+pq+"_rate"+g.win, guard.Name, func(v string) (string, error) {
		return latencyQuantile(q, quantile, t.Flag, v, t.Environment, rng)
	})
	if err != nil {
		return err
	}
	minReq := number(minRequests(guard))
	enough := fmt.Sprintf("%s >= %s", countC, minReq)
	both := enough + fmt.Sprintf("\nand ignoring(variant, %s) %s >= %s", LabelArm, countB, minReq)
	base := g.origin(guard)
	if guard.Critical > 0 {
		g.alert(alertName(t.Flag, guard.Name, "Critical"),
			fmt.Sprintf("%s > %s\nand %s", latC, number(guard.Critical), enough),
			SeverityCritical, guard,
			fmt.Sprintf("%s: canary %s latency above %s in %s", t.Flag, pq, seconds(guard.Critical), t.Environment),
			fmt.Sprintf("The %s latency of variant %q of flag %s was {{ $value | humanizeDuration }} in %s over the last %s "+
				"(at least %s requests), above the critical limit of %s of guard %s%s. "+
				"Routed to ramp's alert receiver, this alert rolls the flag back to 0%% in %s.",
				pq, t.Canary, t.Flag, t.Environment, g.win, minReq, seconds(guard.Critical), guard.Name, base, t.Environment))
	}
	g.alert(alertName(t.Flag, guard.Name, "AboveBaseline"),
		fmt.Sprintf("%s > ignoring(variant, %s) group_left() %s * %s\nand %s", latC, LabelArm, latB, number(1+margin), both),
		SeverityWarning, guard,
		fmt.Sprintf("%s: canary %s latency more than %s above the baseline's in %s", t.Flag, pq, percent(margin), t.Environment),
		fmt.Sprintf("The %s latency of variant %q of flag %s was {{ $value | humanizeDuration }} in %s over the last %s, "+
			"against %s for the baseline %q; guard %s%s allows %s more. "+
			"A warning: %s",
			pq, t.Canary, t.Flag, t.Environment, g.win, liveValue(latB, "humanizeDuration"), t.Baseline, guard.Name, base, percent(margin), g.onWarning()))
	return nil
}

// onWarning says what the rollout controller does about a regression.
func (g *generator) onWarning() string {
	what := "steps the rollout back one stage"
	if g.t.Plan.OnWarning == judge.Rollback {
		what = "rolls the rollout back to 0%"
	}
	return "ramp's rollout controller " + what + " when its own test finds the regression significant."
}

// origin returns " (of rollout 12 (running))" for descriptions.
func (g *generator) origin(rollout.Guard) string {
	if g.t.Origin == "" {
		return ""
	}
	return " (" + g.t.Origin + ")"
}

// liveValue returns an alert template that shows the current value of a
// recorded series, such as the baseline's error rate.
func liveValue(selector, humanize string) string {
	return "{{ with query `" + selector + "` }}{{ . | first | value | " + humanize + " }}{{ end }}"
}

// matcher returns a PromQL label matcher with the value quoted.
func matcher(label, value string) string { return label + "=" + strconv.Quote(value) }

// alertName returns an alert name from the flag key, the guard name and a
// suffix, in Prometheus's CamelCase: checkout-v2, error-rate, Critical →
// CheckoutV2ErrorRateCritical.
func alertName(flag, guard, suffix string) string {
	name := camel(flag) + camel(guard) + suffix
	if name == "" || unicode.IsDigit(rune(name[0])) {
		name = "Flag" + name
	}
	return name
}

// camel joins the ASCII letter and digit runs of s, each capitalised.
func camel(s string) string {
	var b strings.Builder
	upper := true
	for _, r := range s {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if upper {
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
			upper = false
		default:
			upper = true
		}
	}
	return b.String()
}

// quantileName returns "p99" for 0.99, "p99_9" for 0.999.
func quantileName(q float64) string {
	return "p" + strings.ReplaceAll(strconv.FormatFloat(q*100, 'f', -1, 64), ".", "_")
}

// percent writes a fraction as a percentage for people: 0.05 → 5%.
func percent(x float64) string { return percentPoints(x) + "%" }

// percentPoints writes a rate difference in percentage points: 0.001 → 0.1.
func percentPoints(x float64) string {
	// Rounded to a millionth of a point, so that 0.001 is 0.1, not
	// 0.10000000000000001.
	return strconv.FormatFloat(math.Round(x*1e8)/1e6, 'f', -1, 64)
}

// seconds writes a latency for people: 0.8 → 800ms.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).String()
}
