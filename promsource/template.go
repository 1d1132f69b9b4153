package promsource

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/rollout"
)

// The metric names and labels the SDK exposes for every flag evaluation
// it is told the outcome of. They are the contract between the SDK's
// instrumentation and the default queries; docs/metrics.md describes them.
const (
	// RequestsMetric counts requests served, by flag, variant and
	// environment.
	RequestsMetric = "ramp_flag_requests_total"
	// ErrorsMetric counts the requests among them that failed.
	ErrorsMetric = "ramp_flag_errors_total"
	// DurationMetric is the histogram of request durations in seconds.
	DurationMetric = "ramp_flag_request_duration_seconds"

	// LabelFlag, LabelVariant and LabelEnvironment are the labels of the
	// three metrics: the flag key, the variant key served and the
	// environment key.
	LabelFlag        = "flag"
	LabelVariant     = "variant"
	LabelEnvironment = "environment"
)

// DefaultBuckets returns the default bucket bounds of DurationMetric in
// seconds: the SDK's, ramp.LatencyBounds (65 bounds from 1ms to 65.5s,
// each about 2^¼ above the last). A new slice is returned on every call.
func DefaultBuckets() []float64 { return ramp.LatencyBounds() }

// The default query templates, over the SDK's metric names. Each gives
// one number for one variant of one flag in one environment: its increase
// over the window, evaluated at the window's end.
const (
	DefaultRequestsQuery = `sum(increase(` + RequestsMetric + `{` + matchers + `}[{{window}}]))`
	DefaultErrorsQuery   = `sum(increase(` + ErrorsMetric + `{` + matchers + `}[{{window}}]))`
	DefaultBucketsQuery  = `sum by (le) (increase(` + DurationMetric + `_bucket{` + matchers + `}[{{window}}]))`

	matchers = LabelFlag + `="{{flag}}",` + LabelVariant + `="{{variant}}",` + LabelEnvironment + `="{{env}}"`
)

// DefaultQueries returns the default query templates.
func DefaultQueries() rollout.Queries {
	return rollout.Queries{Requests: DefaultRequestsQuery, Errors: DefaultErrorsQuery, Buckets: DefaultBucketsQuery}
}

// Placeholders of a query template.
const (
	placeFlag    = "flag"
	placeVariant = "variant"
	placeEnv     = "env"
	placeWindow  = "window"
)

// CheckQueries reports whether the non-empty templates of q can be
// expanded, with the first problem of each in one error, or nil. A plan
// that reads the Prometheus source should be checked when it is created:
// Arms fails on a template it cannot expand, which holds the rollout.
func CheckQueries(q rollout.Queries) error {
	var errs []string
	for _, t := range []struct{ name, tmpl string }{{"requests", q.Requests}, {"errors", q.Errors}, {"buckets", q.Buckets}} {
		if t.tmpl == "" {
			continue
		}
		if _, err := expand(t.tmpl, vars{flag: "f", variant: "v", env: "e", window: time.Minute}); err != nil {
			errs = append(errs, t.name+" query: "+err.Error())
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(errs, "; "))
}

// vars are the values of the placeholders.
type vars struct {
	flag, variant, env string
	window             time.Duration
	// rng, if set, stands for {{window}} instead of window: a checked
	// range such as "5m" or a Grafana variable such as $__rate_interval.
	rng string
}

// WithDefaults returns q with each empty template replaced by the
// default one, as the source fills them in before each query.
func WithDefaults(q rollout.Queries) rollout.Queries {
	return rollout.Queries{
		Requests: template(q, seriesRequests),
		Errors:   template(q, seriesErrors),
		Buckets:  template(q, seriesBuckets),
	}
}

// Expand returns the query a template gives for one flag, variant and
// environment over a window, exactly as the source sends it: values are
// escaped for their strings and the window is written in whole seconds,
// rounded up. It fails, saying how to fix the template, where CheckQueries
// would. Alert rules and guides use it to show the guard's own queries.
func Expand(tmpl, flag, variant, env string, window time.Duration) (string, error) {
	if window <= 0 {
		return "", fmt.Errorf("window %v: use a positive duration", window)
	}
	return expand(tmpl, vars{flag: flag, variant: variant, env: env, window: window})
}

// ExpandRange is Expand with the window given as the text of a PromQL
// range: a duration such as "5m" or "1h30m", or one of Grafana's interval
// variables $__interval, $__rate_interval and $__range, which dashboards
// use so that the range follows the graph's resolution. Any other text is
// an error, so that the range cannot add to the query.
func ExpandRange(tmpl, flag, variant, env, rng string) (string, error) {
	if !rangePattern.MatchString(rng) {
		return "", fmt.Errorf("range %q: use a PromQL duration such as 5m, or $__interval, $__rate_interval or $__range", rng)
	}
	return expand(tmpl, vars{flag: flag, variant: variant, env: env, rng: rng})
}

// rangePattern matches the ranges ExpandRange accepts.
var rangePattern = regexp.MustCompile(`^(\$__(interval|rate_interval|range)|([0-9]+(ms|[smhdwy]))+)$`)

// windowText formats a window for PromQL in whole seconds, rounded up so
// that the range covers all of it.
func windowText(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10) + "s"
}

// expand replaces the placeholders of tmpl in one pass, so that a value
// is never read as a template. {{flag}}, {{variant}} and {{env}} must
// stand inside a double-quoted PromQL string, and their values are escaped
// for it: a key cannot end the string and add to the query, whatever its
// characters. {{window}} may stand anywhere outside a string, such as in
// a range selector. Spaces inside the braces are allowed: {{ flag }}.
//
// The scan follows PromQL's lexer as far as placement needs: strings in
// double quotes, single quotes and backticks, with backslash escapes in
// the first two, and comments from # to the end of the line.
func expand(tmpl string, v vars) (string, error) {
	var b strings.Builder
	b.Grow(len(tmpl) + 64)
	var quote byte // the quote of the string the scan is in, or 0
	comment := false
	for i := 0; i < len(tmpl); {
		c := tmpl[i]
		if c == '{' && strings.HasPrefix(tmpl[i:], "{{") {
			name, n, ok := placeholder(tmpl[i:])
			if ok {
				switch name {
				case placeFlag, placeVariant, placeEnv:
					if quote != '"' || comment {
						return "", fmt.Errorf("{{%s}} must stand inside double quotes, as in %s=\"{{%s}}\"", name, labelOf(name), name)
					}
					b.WriteString(escape(map[string]string{placeFlag: v.flag, placeVariant: v.variant, placeEnv: v.env}[name]))
				case placeWindow:
					if quote != 0 || comment {
						return "", fmt.Errorf("{{window}} must stand outside strings and comments, as in [{{window}}]")
					}
					if v.rng != "" {
						b.WriteString(v.rng)
					} else {
						b.WriteString(windowText(v.window))
					}
				default:
					return "", fmt.Errorf("unknown placeholder {{%s}}: use {{flag}}, {{variant}}, {{env}} or {{window}}", name)
				}
				i += n
				continue
			}
		}
		switch {
		case comment:
			if c == '\n' {
				comment = false
			}
		case quote == 0:
			switch c {
			case '"', '\'', '`':
				quote = c
			case '#':
				comment = true
			}
		case c == quote:
			quote = 0
		case c == '\\' && quote != '`' && i+1 < len(tmpl):
			// An escaped character cannot end the string: copy both.
			b.WriteByte(c)
			i++
			c = tmpl[i]
		}
		b.WriteByte(c)
		i++
	}
	if quote != 0 {
		return "", fmt.Errorf("a string opened with %c is not closed", quote)
	}
	return b.String(), nil
}

// placeholder reads a placeholder at the start of s, "{{name}}" with
// optional spaces around the name, and returns the name and the length.
func placeholder(s string) (name string, n int, ok bool) {
	end := strings.Index(s, "}}")
	if end < 0 {
		return "", 0, false
	}
	name = strings.TrimSpace(s[2:end])
	if name == "" {
		return "", 0, false
	}
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "", 0, false
		}
	}
	return name, end + 2, true
}

// labelOf returns the SDK's label for a placeholder, for messages.
func labelOf(name string) string {
	if name == placeEnv {
		return LabelEnvironment
	}
	return name
}

// escape returns s escaped for the inside of a double-quoted PromQL
// string. PromQL unquotes strings with Go's rules, so Go's quoting is
// exact: backslashes, quotes, control characters and invalid UTF-8 all
// come out as escapes.
func escape(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// CheckGuard checks the query templates of a guard, for the controller to
// reject a plan with bad templates before its rollout starts.
func (s *Source) CheckGuard(g rollout.Guard) error { return CheckQueries(g.Queries) }

var _ rollout.GuardChecker = (*Source)(nil)
