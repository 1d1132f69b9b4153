// Package rollout runs guarded rollouts: a plan of stages, each promoted
// only when the judge finds the canary no worse than the baseline, and
// rolled back or stepped back when it is.
//
// The Controller is a state machine persisted in the store: every
// transition is one store transaction holding the rollout, the flag's new
// percentage and the audit row, taken only if the rollout is still at the
// version the decision was made on. A restarted (or second) controller
// therefore resumes where the rollout is and never takes a transition
// twice.
package rollout

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
)

// Plan is how one flag is rolled out in one environment.
type Plan struct {
	// Variant is the variant rolled out; empty picks it as the percentage
	// command does (on for booleans, the only other variant otherwise).
	Variant string `json:"variant,omitempty" yaml:"variant,omitempty"`
	// Stages are the percentages in order, each held at least its
	// duration. The last stage's duration may be zero: reaching it
	// completes the rollout.
	Stages []Stage `json:"stages" yaml:"stages"`
	// Guards are what the canary must meet at every stage.
	Guards []Guard `json:"guards" yaml:"guards"`
	// Interval is how often the judge looks. Default one minute.
	Interval Duration `json:"interval,omitempty" yaml:"interval,omitempty"`
	// OnWarning is what a significant regression does: step_back
	// (default) or rollback.
	OnWarning judge.Action `json:"onWarning,omitempty" yaml:"onWarning,omitempty"`
	// Alpha is the false-alarm rate of an analysis, shared by the guards.
	// Default 0.01.
	Alpha float64 `json:"alpha,omitempty" yaml:"alpha,omitempty"`
	// Source is where figures come from: "sdk" (counts the SDKs report,
	// the default) or "prometheus".
	Source string `json:"source,omitempty" yaml:"source,omitempty"`
}

// Stage is one step of a plan.
type Stage struct {
	Percent float64 `json:"percent" yaml:"percent"`
	// Duration is the least time the stage is live before a promotion.
	Duration Duration `json:"duration,omitempty" yaml:"duration,omitempty"`
}

// Guard is a judge guard and, for the Prometheus source, the queries that
// measure it.
type Guard struct {
	judge.Guard `yaml:",inline"`
	// Queries are PromQL templates for the Prometheus source; empty ones
	// take the built-in templates over the SDK's metric names.
	Queries Queries `json:"queries,omitzero" yaml:"queries,omitempty"`
}

// Queries are PromQL templates with the placeholders {{flag}},
// {{variant}}, {{env}} and {{window}}. Each must give one number per
// variant: increases over the window.
type Queries struct {
	Requests string `json:"requests,omitempty" yaml:"requests,omitempty"`
	Errors   string `json:"errors,omitempty" yaml:"errors,omitempty"`
	// Buckets gives the latency histogram's cumulative buckets, one series
	// per le label.
	Buckets string `json:"buckets,omitempty" yaml:"buckets,omitempty"`
}

// Sources of figures.
const (
	SourceSDK        = "sdk"
	SourcePrometheus = "prometheus"
)

// DefaultInterval is the analysis interval of a plan that names none.
const DefaultInterval = time.Minute

// Normalize fills in defaults.
func (p *Plan) Normalize() {
	if p.Interval == 0 {
		p.Interval = Duration(DefaultInterval)
	}
	if p.OnWarning == "" {
		p.OnWarning = judge.StepBack
	}
	if p.Alpha == 0 {
		p.Alpha = judge.DefaultAlpha
	}
	if p.Source == "" {
		p.Source = SourceSDK
	}
}

// Validate checks the plan and returns an EINVALID *ramp.Error naming each
// problem, or nil.
func (p *Plan) Validate() error {
	var fields []ramp.FieldError
	add := func(field, format string, args ...any) {
		fields = append(fields, ramp.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if len(p.Stages) == 0 {
		add("stages", "at least one stage is required, for example 5%% for 1h, then 100%%")
	}
	prev := 0.0
	for i, s := range p.Stages {
		f := fmt.Sprintf("stages[%d]", i)
		if _, ok := ramp.PercentToBuckets(s.Percent); !ok || s.Percent == 0 {
			add(f+".percent", "%v is not a stage percentage: use a number above 0 and up to 100, with at most three decimals", s.Percent)
		} else if s.Percent <= prev {
			add(f+".percent", "%v%% does not rise above the previous stage's %v%%", s.Percent, prev)
		}
		prev = s.Percent
		if s.Duration < 0 {
			add(f+".duration", "is negative")
		}
		if i < len(p.Stages)-1 && s.Duration == 0 {
			add(f+".duration", "is required for every stage but the last: how long the stage must pass before a promotion")
		}
	}
	names := map[string]bool{}
	for i, g := range p.Guards {
		f := fmt.Sprintf("guards[%d]", i)
		if err := g.Guard.Validate(); err != nil {
			add(f, "%v", err)
		}
		if names[g.Name] {
			add(f+".name", "guard %q is defined twice", g.Name)
		}
		names[g.Name] = true
	}
	if p.Interval < Duration(time.Second) {
		add("interval", "%v is too short: use at least 1s", time.Duration(p.Interval))
	}
	switch p.OnWarning {
	case judge.StepBack, judge.Rollback:
	default:
		add("onWarning", "%q: use step_back or rollback", p.OnWarning)
	}
	if p.Alpha <= 0 || p.Alpha >= 0.5 || math.IsNaN(p.Alpha) {
		add("alpha", "%v: use a false-alarm rate between 0 and 0.5, such as 0.01", p.Alpha)
	}
	switch p.Source {
	case SourceSDK, SourcePrometheus:
	default:
		add("source", "%q: use sdk or prometheus", p.Source)
	}
	if len(fields) > 0 {
		return &ramp.Error{Code: ramp.EINVALID, Message: "rollout plan is invalid", Fields: fields}
	}
	return nil
}

// Duration is a time.Duration written as text: Go's units ("90s", "1h30m")
// plus days ("4d"), as plans speak of days.
type Duration time.Duration

// ParseDuration parses "4d", "72h", "30s", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration: use forms like 30s, 15m, 72h or 4d", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: use forms like 30s, 15m, 72h or 4d", s)
	}
	return days + d, nil
}

// String formats the duration as plans write it: "4d", "1d12h", "90m",
// "30s", without zero units.
func (d Duration) String() string {
	td := time.Duration(d)
	if td <= 0 || td%time.Second != 0 {
		return td.String()
	}
	var b strings.Builder
	for _, u := range []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := td / u.size; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.name)
			td -= n * u.size
		}
	}
	return b.String()
}

// MarshalText writes the duration as text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "4d", "72h" and the like.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Templates are ready-made plans, by name.
func Templates() map[string]Plan {
	errorGuard := Guard{Guard: judge.Guard{Name: "error-rate", Metric: judge.ErrorRate, AbsMargin: 0.001, Critical: 0.05}}
	// p99 at most 10 % above the baseline's, which the SDK's buckets (2^¼
	// apart, docs/metrics.md) resolve. A p99 needs a larger sample than an
	// error rate: 1,000 requests per arm put 10 in the tail. The demo's
	// compressed stages see fewer, so it asks for 200.
	latencyGuard := func(minRequests float64) Guard {
		return Guard{Guard: judge.Guard{Name: "p99-latency", Metric: judge.Latency, Quantile: 0.99, Margin: 0.1, MinRequests: minRequests}}
	}
	stages := func(d ...time.Duration) []Stage {
		pcts := []float64{5, 25, 50, 100}
		s := make([]Stage, len(pcts))
		for i := range pcts {
			s[i] = Stage{Percent: pcts[i], Duration: Duration(d[i])}
		}
		return s
	}
	day := 24 * time.Hour
	return map[string]Plan{
		// The runbook's schedule: 5 % for 72h, 25 % and 50 % for 4 days
		// each, then everyone.
		"standard": {Stages: stages(72*time.Hour, 4*day, 4*day, 0), Guards: []Guard{errorGuard, latencyGuard(1000)}, Interval: Duration(5 * time.Minute)},
		// A working day: an hour at 5 %, two at 25 % and at 50 %.
		"fast": {Stages: stages(time.Hour, 2*time.Hour, 2*time.Hour, 0), Guards: []Guard{errorGuard, latencyGuard(1000)}, Interval: Duration(time.Minute)},
		// Compressed time for demos and tests: 20 seconds a stage.
		"demo": {Stages: stages(20*time.Second, 20*time.Second, 20*time.Second, 0), Guards: []Guard{errorGuard, latencyGuard(200)}, Interval: Duration(2 * time.Second)},
	}
}

// DecodePlan reads a plan stored in a rollout.
func DecodePlan(raw json.RawMessage) (Plan, error) {
	var p Plan
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, fmt.Errorf("decode rollout plan: %w", err)
	}
	return p, nil
}
