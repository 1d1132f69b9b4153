package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/judge/sim"
)

// simulateReport is what "ramp simulate" prints.
type simulateReport struct {
	Scenario sim.Scenario  `json:"scenario"`
	Guards   []judge.Guard `json:"guards"`
	Alpha    float64       `json:"alpha"`
	Fixed    *sim.Fixed    `json:"fixed,omitempty"`
	Runs     int           `json:"runs"`
	Seed     uint64        `json:"seed"`
	// Regression is the scenario as given; absent when it has no
	// regression. AA is the same traffic without the regression.
	Regression *sim.Result `json:"regression,omitempty"`
	AA         sim.Result  `json:"aa"`
	Elapsed    string      `json:"elapsed"`
}

func newSimulateCmd(a *app) *cobra.Command {
	var (
		s                                 sim.Scenario
		canaryErr, baseErr                float64
		median, p99                       time.Duration
		cfg                               sim.Config
		guards, buckets                   string
		errMargin, errCritical, latMargin float64
		latCritical, fixedP99             time.Duration
		fixedErr                          float64
		minRequests, errTau, errAbsMargin float64
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Measure what the judge does on synthetic canary traffic",
		Long: `Run the rollout judge many times on synthetic traffic of one stage and report
how often a regression is rolled back and how fast, and how often a healthy
canary (the same traffic without the regression: an A/A test) is rolled back
by mistake. Beside the judge, the same traffic goes through a fixed-threshold
analysis the way Flagger runs it by default: every interval the canary's error
rate over that interval alone is compared with --compare-fixed; one failed
check, or an interval without requests, rolls back.

Requests are Poisson, errors binomial, latencies log-normal (--latency-median,
--latency-p99) counted into histogram buckets. --p99-multiplier makes the
canary's tail heavier (its median stays). The judge sees counts cumulative
since the stage started and analyses every --interval; a run ends with a
rollback, or at --duration. Times are minutes of traffic after the start of
the regression. Runs are deterministic for a --seed.

Percentages are given in percent: --canary 5 is 5%, --baseline-error 0.5 is
0.5%, --error-margin 10 allows the canary's error rate 10% above the
baseline's.`,
		Example: `  ramp simulate --rps 1000 --canary 5 --baseline-error 0.5 --error-multiplier 2
  ramp simulate --error-multiplier 1 --p99-multiplier 1.5 --compare-fixed-p99 500ms
  ramp simulate --rps 50 --error-multiplier 1 --runs 10000 -o json

The first line is the scenario of docs/benchmarks.md: a 2x error regression at
a 5% canary of 1,000 req/s, against Flagger's default analysis with a 1%
threshold. The second is a +50% p99 regression, also against a fixed 500ms p99
threshold. The third asks how often each analysis rolls back a healthy canary
at 50 req/s.`,
		Args: argsExactly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, p := range []struct {
				flag   string
				v, max float64
			}{{"baseline-error", baseErr, 100}, {"error-critical", errCritical, 100}, {"compare-fixed", fixedErr, 100},
				{"error-margin", errMargin, 1000}, {"latency-margin", latMargin, 1000}, {"error-tau", errTau, 100},
				{"error-abs-margin", errAbsMargin, 99}} {
				if !(p.v >= 0 && p.v <= p.max) {
					return usageErrorf("--%s %v: use a percentage from 0 to %v, such as 0.5 for 0.5%%", p.flag, p.v, p.max)
				}
			}
			s.BaselineErrorRate = baseErr / 100
			s.ErrorMultiplier = canaryErr
			s.LatencyMedian, s.LatencyP99 = median.Seconds(), p99.Seconds()
			b, err := parseBuckets(buckets)
			if err != nil {
				return err
			}
			s.Buckets = b
			cfg.Scenario = s
			if latMargin == 0 {
				return usageErrorf("--latency-margin 0: a latency guard needs a margin above 0, such as 10")
			}
			cfg.Guards, err = simGuards(guards, errMargin/100, errCritical/100, latMargin/100, latCritical, minRequests)
			if err != nil {
				return err
			}
			for i := range cfg.Guards {
				if cfg.Guards[i].Metric == judge.ErrorRate {
					cfg.Guards[i].Tau = errTau / 100
					cfg.Guards[i].AbsMargin = errAbsMargin / 100
				}
			}
			cfg.Fixed.MaxErrorRate, cfg.Fixed.MaxP99 = fixedErr/100, fixedP99.Seconds()
			if err := cfg.Validate(); err != nil {
				return usageErrorf("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
			}
			start := time.Now()
			rep := simulateReport{Scenario: s, Guards: cfg.Guards, Alpha: cfg.Alpha, Runs: cfg.Runs, Seed: cfg.Seed}
			if cfg.Fixed.MaxErrorRate > 0 || cfg.Fixed.MaxP99 > 0 {
				rep.Fixed = &cfg.Fixed
			}
			if s.Regressed() {
				r, err := sim.Run(cmd.Context(), cfg)
				if err != nil {
					return err
				}
				rep.Regression = &r
			}
			aa := cfg
			aa.Scenario = s.AA()
			rep.AA, err = sim.Run(cmd.Context(), aa)
			if err != nil {
				return err
			}
			rep.Elapsed = time.Since(start).Round(time.Millisecond).String()
			return a.render(rep, func(w io.Writer) { printSimulation(w, rep) })
		},
	}
	f := cmd.Flags()
	f.Float64Var(&s.RPS, "rps", 1000, "requests per second, canary and baseline together")
	f.Float64Var(&s.CanaryPercent, "canary", 5, "canary share of requests, in percent")
	f.Float64Var(&baseErr, "baseline-error", 0.5, "baseline error rate, in percent")
	f.Float64Var(&canaryErr, "error-multiplier", 2, "canary error rate as a multiple of the baseline's (1: no regression)")
	f.DurationVar(&median, "latency-median", 100*time.Millisecond, "median latency of both arms")
	f.DurationVar(&p99, "latency-p99", 300*time.Millisecond, "baseline p99 latency")
	f.Float64Var(&s.P99Multiplier, "p99-multiplier", 1, "canary p99 latency as a multiple of the baseline's (1: no regression)")
	f.DurationVar(&s.RegressionStart, "regression-start", 0, "time into the stage when the regression begins")
	f.DurationVar(&s.Interval, "interval", time.Minute, "analysis interval")
	f.DurationVar(&s.Duration, "duration", 30*time.Minute, "stage duration: a run ends with it")
	f.StringVar(&buckets, "buckets", "fine", `latency buckets: "fine" (the SDK's: 1ms to 65.5s, factor 2^¼), "prometheus" (client_golang's DefBuckets) or bounds in seconds, such as 0.1,0.2,0.4`)
	f.StringVar(&guards, "guards", "error_rate,latency", "guards the judge runs: error_rate, latency or both")
	f.Float64Var(&errMargin, "error-margin", 0, "error-rate guard: allowed regression, in percent of the baseline's rate")
	f.Float64Var(&errAbsMargin, "error-abs-margin", 0, "error-rate guard: allowed regression in percentage points, when larger than --error-margin's")
	f.Float64Var(&errCritical, "error-critical", 5, "error-rate guard: critical error rate, in percent (0: none)")
	f.Float64Var(&latMargin, "latency-margin", 10, "latency guard: allowed p99 regression, in percent (above 0)")
	f.DurationVar(&latCritical, "latency-critical", 0, "latency guard: critical p99 (0: none)")
	f.Float64Var(&errTau, "error-tau", 0, "error-rate guard: scale τ of the sequential test's prior, in percentage points (0: the baseline's error rate)")
	f.Float64Var(&minRequests, "min-requests", judge.DefaultMinRequests, "requests each arm needs before a verdict")
	f.Float64Var(&cfg.Alpha, "alpha", judge.DefaultAlpha, "false-alarm rate of the judge over a stage, shared by its guards")
	f.IntVar(&cfg.Runs, "runs", 1000, "number of simulated stages")
	f.Uint64Var(&cfg.Seed, "seed", 1, "random seed")
	f.Float64Var(&fixedErr, "compare-fixed", 1, "fixed-threshold analysis: highest passing error rate per interval, in percent (0: none)")
	f.DurationVar(&fixedP99, "compare-fixed-p99", 0, "fixed-threshold analysis: highest passing p99 per interval (0: none)")
	f.IntVar(&cfg.Fixed.Threshold, "compare-fixed-threshold", 1, "fixed-threshold analysis: failed checks that roll back")
	return cmd
}

// simGuards builds the guards named in list.
func simGuards(list string, errMargin, errCritical, latMargin float64, latCritical time.Duration, minRequests float64) ([]judge.Guard, error) {
	var gs []judge.Guard
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if seen[name] {
			continue
		}
		seen[name] = true
		switch name {
		case "error_rate", "errors":
			gs = append(gs, judge.Guard{Name: "error-rate", Metric: judge.ErrorRate, Margin: errMargin, Critical: errCritical, MinRequests: minRequests})
		case "latency":
			gs = append(gs, judge.Guard{Name: "latency-p99", Metric: judge.Latency, Quantile: 0.99, Margin: latMargin, Critical: latCritical.Seconds(), MinRequests: minRequests})
		default:
			return nil, usageErrorf("--guards %q: use error_rate, latency or error_rate,latency", list)
		}
	}
	return gs, nil
}

// parseBuckets reads --buckets.
func parseBuckets(s string) ([]float64, error) {
	switch s {
	case "fine":
		return sim.DefaultBuckets(), nil
	case "prometheus":
		return sim.PrometheusBuckets(), nil
	}
	var b []float64
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, usageErrorf(`--buckets %q: use "fine", "prometheus" or bounds in seconds such as 0.1,0.2,0.4`, s)
		}
		b = append(b, x)
	}
	return b, nil
}

func printSimulation(w io.Writer, r simulateReport) {
	s := r.Scenario
	fmt.Fprintf(w, "traffic:  %s req/s, canary %s, baseline errors %s, latency median %s p99 %s\n",
		strconv.FormatFloat(s.RPS, 'g', -1, 64), formatPercent(s.CanaryPercent), formatPercent(100*s.BaselineErrorRate),
		seconds(s.LatencyMedian), seconds(s.LatencyP99))
	reg := "none (A/A)"
	if s.Regressed() {
		var parts []string
		if s.ErrorMultiplier != 1 {
			parts = append(parts, fmt.Sprintf("canary errors ×%g", s.ErrorMultiplier))
		}
		if s.P99Multiplier != 1 {
			parts = append(parts, fmt.Sprintf("canary p99 ×%g", s.P99Multiplier))
		}
		reg = strings.Join(parts, ", ")
		if s.RegressionStart > 0 {
			reg += " from " + s.RegressionStart.String()
		}
	}
	fmt.Fprintf(w, "regression: %s; analysis every %s for %s; %d runs, seed %d (%s)\n",
		reg, s.Interval, s.Duration, r.Runs, r.Seed, r.Elapsed)
	var gs []string
	for _, g := range r.Guards {
		gs = append(gs, describeGuard(g))
	}
	fmt.Fprintf(w, "judge:    %s; alpha %g\n", strings.Join(gs, ", "), r.Alpha)
	if f := r.Fixed; f != nil {
		fmt.Fprintf(w, "fixed:    %s\n", describeFixed(*f, s.Interval))
	}
	fmt.Fprintln(w)

	tw := newTable(w)
	head := []string{"", "judge"}
	if r.Fixed != nil {
		head = append(head, "fixed threshold")
	}
	row(tw, head...)
	// line prints one figure of res for the judge and the fixed analysis.
	line := func(label string, res *sim.Result, f func(sim.Summary) string) {
		cols := []string{label, f(res.Judge)}
		if res.Fixed != nil {
			cols = append(cols, f(*res.Fixed))
		}
		row(tw, cols...)
	}
	if reg := r.Regression; reg != nil {
		line("regression rolled back", reg, func(x sim.Summary) string { return share(x.RolledBack, x.Runs) })
		line("  median time to rollback", reg, func(x sim.Summary) string { return minutes(x.MedianMinutes) })
		line("  p90 time to rollback", reg, func(x sim.Summary) string { return minutes(x.P90Minutes) })
		if reg.Judge.Early > 0 || (reg.Fixed != nil && reg.Fixed.Early > 0) {
			line("  before the regression began", reg, func(x sim.Summary) string { return share(x.Early, x.Runs) })
		}
		if reg.Judge.Held > 0 {
			line("  held (inconclusive)", reg, func(x sim.Summary) string { return share(x.Held, x.Runs) })
		}
	}
	line("A/A wrongly rolled back", &r.AA, func(x sim.Summary) string { return share(x.RolledBack, x.Runs) })
	line("A/A promoted", &r.AA, func(x sim.Summary) string { return share(x.Promoted, x.Runs) })
	line("A/A held (inconclusive)", &r.AA, func(x sim.Summary) string { return share(x.Held, x.Runs) })
	tw.Flush()
}

func describeGuard(g judge.Guard) string {
	switch g.Metric {
	case judge.ErrorRate:
		s := fmt.Sprintf("error rate (margin +%s", formatPercent(100*g.Margin))
		if g.AbsMargin > 0 {
			s += fmt.Sprintf(" or +%g points", 100*g.AbsMargin)
		}
		if g.Critical > 0 {
			s += ", critical " + formatPercent(100*g.Critical)
		}
		return s + ")"
	case judge.Latency:
		s := fmt.Sprintf("p%g latency (margin +%s", 100*g.Quantile, formatPercent(100*g.Margin))
		if g.Critical > 0 {
			s += ", critical " + seconds(g.Critical)
		}
		return s + ")"
	}
	return string(g.Metric)
}

func describeFixed(f sim.Fixed, interval time.Duration) string {
	var parts []string
	if f.MaxErrorRate > 0 {
		parts = append(parts, "error rate > "+formatPercent(100*f.MaxErrorRate))
	}
	if f.MaxP99 > 0 {
		parts = append(parts, "p99 > "+seconds(f.MaxP99))
	}
	checks := "1 failed check rolls back"
	if f.Threshold > 1 {
		checks = fmt.Sprintf("%d failed checks roll back", f.Threshold)
	}
	return fmt.Sprintf("%s over each %s interval (or no data) fails; %s", strings.Join(parts, " or "), interval, checks)
}

func share(k, n int) string {
	return fmt.Sprintf("%.1f%% (%d/%d)", 100*float64(k)/float64(n), k, n)
}

func minutes(m *float64) string {
	if m == nil {
		return "never"
	}
	return (time.Duration(*m * float64(time.Minute))).Round(time.Second).String()
}

func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Microsecond).String()
}
