// Package sim runs the judge on synthetic canary traffic, many times, to
// measure what a guard configuration does before it is used: how often a
// regression is rolled back and how fast, and how often a healthy canary
// is rolled back by mistake. Beside the judge it runs a fixed-threshold
// analysis the way Flagger does by default, on the same traffic.
//
// Each run draws per-interval counts for both arms: requests are Poisson,
// errors binomial, and latencies log-normal, counted into histogram
// buckets with a multinomial draw (exact for small counts, a normal
// approximation for large ones), so a thousand runs take seconds. The
// judge sees cumulative counts since the stage started, as the rollout
// controller gives it; the fixed-threshold analysis sees each interval
// alone, as Flagger's queries over [interval] do.
//
// Runs are deterministic: run i draws from a PCG generator seeded with
// (Seed, i), so results do not depend on the number of workers.
package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
)

// Scenario is the traffic of one stage.
type Scenario struct {
	// RPS is the total request rate of both arms, per second.
	RPS float64 `json:"rps"`
	// CanaryPercent is the canary's share of requests, in percent.
	CanaryPercent float64 `json:"canaryPercent"`
	// BaselineErrorRate is the baseline's error rate, a fraction.
	BaselineErrorRate float64 `json:"baselineErrorRate"`
	// ErrorMultiplier multiplies the canary's error rate (1: no regression).
	ErrorMultiplier float64 `json:"errorMultiplier"`
	// LatencyMedian and LatencyP99 shape the baseline's log-normal latency,
	// in seconds.
	LatencyMedian float64 `json:"latencyMedian"`
	LatencyP99    float64 `json:"latencyP99"`
	// P99Multiplier multiplies the canary's p99 latency, keeping its median:
	// a heavier tail, the regression a p99 guard is for (1: none).
	P99Multiplier float64 `json:"p99Multiplier"`
	// RegressionStart is when the canary's regression begins; before it the
	// canary is as healthy as the baseline.
	RegressionStart time.Duration `json:"regressionStart"`
	// Interval is the time between two analyses.
	Interval time.Duration `json:"interval"`
	// Duration is the stage's minimum duration; a run ends with it.
	Duration time.Duration `json:"duration"`
	// Buckets are the latency histogram's finite upper bounds, in seconds.
	Buckets []float64 `json:"buckets"`
}

// Regressed reports whether the canary is worse than the baseline.
func (s Scenario) Regressed() bool { return s.ErrorMultiplier != 1 || s.P99Multiplier != 1 }

// AA returns the scenario without its regression: an A/A test.
func (s Scenario) AA() Scenario {
	s.ErrorMultiplier, s.P99Multiplier, s.RegressionStart = 1, 1, 0
	return s
}

// Fixed is a fixed-threshold analysis as Flagger runs it by default: each
// interval, each metric of the canary alone over that interval is
// compared with a fixed maximum; a missing value (no requests: NaN) is a
// failed check too; after Threshold failed checks the canary is rolled
// back.
type Fixed struct {
	// MaxErrorRate is the highest passing error rate, a fraction; 0 skips
	// the error check.
	MaxErrorRate float64 `json:"maxErrorRate,omitempty"`
	// MaxP99 is the highest passing p99 latency in seconds; 0 skips it.
	MaxP99 float64 `json:"maxP99,omitempty"`
	// Threshold is the number of failed checks that roll back (Flagger's
	// default is 1).
	Threshold int `json:"threshold"`
}

func (f Fixed) enabled() bool { return f.MaxErrorRate > 0 || f.MaxP99 > 0 }

// Config is a simulation: a scenario, the judge's guards and options, the
// fixed-threshold analysis to compare with, and the number of runs.
type Config struct {
	// Scenario is the traffic.
	Scenario Scenario
	// Guards are the judge's guards; all of them see the same arms.
	Guards []judge.Guard
	// Alpha is the judge's false-alarm rate, 0 for judge.DefaultAlpha.
	Alpha float64
	// Fixed is the comparison; a zero Fixed skips it.
	Fixed Fixed
	// Runs is the number of stages simulated.
	Runs int
	// Seed makes the runs reproducible.
	Seed uint64
	// Workers is the number of runs simulated at once; 0 means GOMAXPROCS.
	Workers int
}

// Summary is what one analysis did over all runs. Times are minutes of
// traffic from the start of the regression (of the stage, in an A/A run)
// to the rollback; a percentile is nil when fewer runs than it needs were
// rolled back.
type Summary struct {
	// Runs is the number of stages simulated.
	Runs int `json:"runs"`
	// RolledBack counts runs rolled back (or stepped back) before the end
	// of the stage; Early those of them rolled back before the regression
	// started.
	RolledBack int `json:"rolledBack"`
	Early      int `json:"early,omitempty"`
	// Critical and Warning split the judge's rollbacks by the outcome
	// that caused them.
	Critical int `json:"critical,omitempty"`
	Warning  int `json:"warning,omitempty"`
	// Promoted counts runs that passed the stage; Held those that ended
	// with an inconclusive verdict.
	Promoted int `json:"promoted"`
	Held     int `json:"held"`
	// RolledBackPercent is RolledBack as a percentage of Runs.
	RolledBackPercent float64 `json:"rolledBackPercent"`
	// MedianMinutes and P90Minutes are percentiles of the time to rollback
	// over all runs, counting runs never rolled back as infinitely late.
	MedianMinutes *float64 `json:"medianMinutes"`
	P90Minutes    *float64 `json:"p90Minutes"`
}

// Result holds the judge's summary and, when configured, the fixed
// threshold's.
type Result struct {
	// Judge is what the judge did.
	Judge Summary `json:"judge"`
	// Fixed is what the fixed-threshold analysis did on the same traffic.
	Fixed *Summary `json:"fixed,omitempty"`
}

// Validate reports whether the configuration can be simulated, naming
// every problem.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	s := c.Scenario
	pos := func(x float64) bool { return x > 0 && !math.IsInf(x, 1) }
	if !pos(s.RPS) {
		bad("the request rate %v must be above 0", s.RPS)
	}
	if !(s.CanaryPercent > 0 && s.CanaryPercent < 100) {
		bad("the canary percentage %v must be above 0 and below 100", s.CanaryPercent)
	}
	if !(s.BaselineErrorRate >= 0 && s.BaselineErrorRate < 1) {
		bad("the baseline error rate %v must be from 0 to below 1", s.BaselineErrorRate)
	}
	if !(s.ErrorMultiplier >= 0) || s.BaselineErrorRate*s.ErrorMultiplier > 1 {
		bad("the error multiplier %v must be at least 0 and keep the canary's error rate at most 100%%", s.ErrorMultiplier)
	}
	if !pos(s.LatencyMedian) || !(s.LatencyP99 > s.LatencyMedian) || math.IsInf(s.LatencyP99, 1) {
		bad("the latency median (%v s) must be above 0 and below the p99 (%v s)", s.LatencyMedian, s.LatencyP99)
	}
	if !pos(s.P99Multiplier) || s.P99Multiplier*s.LatencyP99 <= s.LatencyMedian {
		bad("the p99 multiplier %v must keep the canary's p99 above its median", s.P99Multiplier)
	}
	if s.Interval <= 0 {
		bad("the interval %v must be above 0", s.Interval)
	}
	if s.Duration < s.Interval {
		bad("the duration %v must be at least one interval (%v)", s.Duration, s.Interval)
	} else if s.Interval > 0 && s.Duration/s.Interval > 100000 {
		bad("the duration %v holds more than 100000 intervals of %v", s.Duration, s.Interval)
	}
	if s.RegressionStart < 0 || s.RegressionStart >= s.Duration {
		bad("the regression start %v must be from 0 to before the end of the stage (%v)", s.RegressionStart, s.Duration)
	}
	if len(s.Buckets) == 0 {
		bad("no latency buckets")
	}
	for i, b := range s.Buckets {
		if !pos(b) || (i > 0 && b <= s.Buckets[i-1]) {
			bad("latency buckets must be positive and ascending: %v", s.Buckets)
			break
		}
	}
	if len(c.Guards) == 0 {
		bad("no guards")
	}
	for _, g := range c.Guards {
		if err := g.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if !(c.Alpha >= 0 && c.Alpha <= 0.5) {
		bad("alpha %v must be from 0 (the default, 0.01) to 0.5", c.Alpha)
	}
	if c.Fixed.MaxErrorRate < 0 || c.Fixed.MaxErrorRate > 1 || c.Fixed.MaxP99 < 0 || math.IsNaN(c.Fixed.MaxP99) {
		bad("the fixed thresholds must be an error rate from 0 to 1 and a latency of at least 0")
	}
	if c.Fixed.enabled() && c.Fixed.Threshold < 1 {
		bad("the fixed analysis's threshold %d must be at least 1 failed check", c.Fixed.Threshold)
	}
	if c.Runs < 1 || c.Runs > 1000000 {
		bad("runs %d must be from 1 to 1000000", c.Runs)
	}
	return errors.Join(errs...)
}

// outcome is what one analysis did in one run.
type outcome struct {
	done       bool
	rolledBack bool
	promoted   bool
	critical   bool
	at         time.Duration // when it acted
}

// Run simulates cfg.Runs stages and summarises both analyses. It returns
// an error for an invalid configuration, or ctx's error if ctx ends first.
// It runs cfg.Workers goroutines and returns when they are done; the
// result depends only on cfg, not on the number of workers.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	m := newModel(cfg.Scenario)
	judged := make([]outcome, cfg.Runs)
	fixed := make([]outcome, cfg.Runs)
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, cfg.Runs) {
		wg.Go(func() {
			st := newRunState(m)
			for i := range next {
				judged[i], fixed[i] = st.run(cfg, m, rand.New(rand.NewPCG(cfg.Seed, uint64(i))))
			}
		})
	}
	var err error
feed:
	for i := range cfg.Runs {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return Result{}, err
	}
	res := Result{Judge: summarize(judged, cfg.Scenario, true)}
	if cfg.Fixed.enabled() {
		s := summarize(fixed, cfg.Scenario, false)
		res.Fixed = &s
	}
	return res, nil
}

// model holds what every run of a scenario shares.
type model struct {
	s             Scenario
	intervals     int
	canaryRate    float64 // requests per interval
	baselineRate  float64
	healthy, sick []float64 // canary latency cell probabilities; healthy is also the baseline's
}

func newModel(s Scenario) *model {
	iv := s.Interval.Seconds()
	z99 := math.Sqrt2 * math.Erfinv(0.98)
	mu := math.Log(s.LatencyMedian)
	sigma := math.Log(s.LatencyP99/s.LatencyMedian) / z99
	sigmaSick := math.Log(s.P99Multiplier*s.LatencyP99/s.LatencyMedian) / z99
	return &model{
		s:            s,
		intervals:    int(s.Duration / s.Interval),
		canaryRate:   s.RPS * s.CanaryPercent / 100 * iv,
		baselineRate: s.RPS * (1 - s.CanaryPercent/100) * iv,
		healthy:      cells(s.Buckets, mu, sigma),
		sick:         cells(s.Buckets, mu, sigmaSick),
	}
}

// cells returns the probability of each bucket (and of the +Inf bucket,
// last) under a log-normal distribution.
func cells(bounds []float64, mu, sigma float64) []float64 {
	p := make([]float64, len(bounds)+1)
	prev := 0.0
	for i, b := range bounds {
		f := 0.5 * math.Erfc(-(math.Log(b)-mu)/(sigma*math.Sqrt2))
		p[i] = f - prev
		prev = f
	}
	p[len(bounds)] = 1 - prev
	return p
}

// arm accumulates one arm's counts.
type arm struct {
	requests, errors int64
	cells            []int64 // per bucket, not cumulative; last is +Inf
	// interval values of the last draw
	ivRequests, ivErrors int64
	ivCells              []int64
}

func (a *arm) reset() {
	a.requests, a.errors = 0, 0
	clear(a.cells)
}

// draw adds one interval of traffic.
func (a *arm) draw(r *rand.Rand, rate, errRate float64, probs []float64) {
	n := poisson(r, rate)
	e := binomial(r, n, errRate)
	clear(a.ivCells)
	multinomial(r, n, probs, a.ivCells)
	a.ivRequests, a.ivErrors = n, e
	a.requests += n
	a.errors += e
	for i, c := range a.ivCells {
		a.cells[i] += c
	}
}

// histogram fills h with the cumulative histogram of cells.
func histogram(h *judge.Histogram, bounds []float64, cells []int64) {
	h.Bounds = bounds
	if cap(h.Counts) < len(bounds) {
		h.Counts = make([]float64, len(bounds))
	}
	h.Counts = h.Counts[:len(bounds)]
	var c int64
	for i := range bounds {
		c += cells[i]
		h.Counts[i] = float64(c)
	}
	h.Count = float64(c + cells[len(bounds)])
}

// runState is one worker's reusable memory.
type runState struct {
	canary, baseline arm
	hc, hb, hi       judge.Histogram
	inputs           []judge.Input
}

func newRunState(m *model) *runState {
	n := len(m.s.Buckets) + 1
	st := &runState{}
	for _, a := range []*arm{&st.canary, &st.baseline} {
		a.cells, a.ivCells = make([]int64, n), make([]int64, n)
	}
	return st
}

// run simulates one stage and returns what the judge and the fixed
// analysis did.
func (st *runState) run(cfg Config, m *model, r *rand.Rand) (judged, fixed outcome) {
	s := m.s
	st.canary.reset()
	st.baseline.reset()
	failures := 0
	opts := judge.Options{Alpha: cfg.Alpha, CanaryPercent: s.CanaryPercent}
	for k := 1; k <= m.intervals; k++ {
		now := time.Duration(k) * s.Interval
		errRate, probs := s.BaselineErrorRate, m.healthy
		if now-s.Interval >= s.RegressionStart {
			errRate, probs = s.BaselineErrorRate*s.ErrorMultiplier, m.sick
		}
		st.canary.draw(r, m.canaryRate, errRate, probs)
		st.baseline.draw(r, m.baselineRate, s.BaselineErrorRate, m.healthy)

		if !judged.done {
			judged = st.judge(cfg, opts, now)
		}
		if cfg.Fixed.enabled() && !fixed.done {
			if st.fixedFails(cfg.Fixed) {
				failures++
			}
			if failures >= cfg.Fixed.Threshold {
				fixed = outcome{done: true, rolledBack: true, at: now}
			} else if k == m.intervals {
				fixed = outcome{done: true, promoted: true, at: now}
			}
		}
		if judged.done && (fixed.done || !cfg.Fixed.enabled()) {
			break
		}
	}
	return judged, fixed
}

// judge runs one analysis on the cumulative counts.
func (st *runState) judge(cfg Config, opts judge.Options, now time.Duration) outcome {
	histogram(&st.hc, cfg.Scenario.Buckets, st.canary.cells)
	histogram(&st.hb, cfg.Scenario.Buckets, st.baseline.cells)
	c := judge.Arm{Requests: float64(st.canary.requests), Errors: float64(st.canary.errors), Latency: &st.hc}
	b := judge.Arm{Requests: float64(st.baseline.requests), Errors: float64(st.baseline.errors), Latency: &st.hb}
	st.inputs = st.inputs[:0]
	for _, g := range cfg.Guards {
		st.inputs = append(st.inputs, judge.Input{Guard: g, Canary: c, Baseline: b})
	}
	d := judge.Decide(judge.DecideInput{
		Verdicts:    judge.EvaluateAll(st.inputs, opts),
		InStage:     now,
		MinDuration: cfg.Scenario.Duration,
	})
	switch d.Action {
	case judge.Rollback, judge.StepBack:
		crit := false
		for _, v := range d.Verdicts {
			crit = crit || v.Outcome == judge.Critical
		}
		return outcome{done: true, rolledBack: true, critical: crit, at: now}
	case judge.Promote:
		return outcome{done: true, promoted: true, at: now}
	}
	if now >= cfg.Scenario.Duration {
		return outcome{done: true, at: now}
	}
	return outcome{}
}

// fixedFails reports whether the last interval fails the fixed analysis.
func (st *runState) fixedFails(f Fixed) bool {
	c := &st.canary
	if f.MaxErrorRate > 0 {
		rate := math.NaN()
		if c.ivRequests > 0 {
			rate = float64(c.ivErrors) / float64(c.ivRequests)
		}
		// NaN fails: Flagger treats "no values" as a failed check.
		if !(rate <= f.MaxErrorRate) {
			return true
		}
	}
	if f.MaxP99 > 0 {
		histogram(&st.hi, st.hc.Bounds, c.ivCells)
		if !(st.hi.Quantile(0.99) <= f.MaxP99) {
			return true
		}
	}
	return false
}

// summarize counts the outcomes of one analysis; split says whether to
// split rollbacks into critical and warning (the judge's only).
func summarize(os []outcome, s Scenario, split bool) Summary {
	sum := Summary{Runs: len(os)}
	times := make([]float64, 0, len(os))
	for _, o := range os {
		switch {
		case o.rolledBack:
			sum.RolledBack++
			if o.at <= s.RegressionStart {
				sum.Early++
			}
			switch {
			case !split:
			case o.critical:
				sum.Critical++
			default:
				sum.Warning++
			}
			times = append(times, (o.at - min(o.at, s.RegressionStart)).Minutes())
		case o.promoted:
			sum.Promoted++
		default:
			sum.Held++
		}
	}
	sum.RolledBackPercent = 100 * float64(sum.RolledBack) / float64(len(os))
	slices.Sort(times)
	sum.MedianMinutes = percentile(times, len(os), 0.5)
	sum.P90Minutes = percentile(times, len(os), 0.9)
	return sum
}

// percentile returns the nearest-rank q-percentile of n values of which
// only the sorted finite ones are given (the others are +Inf), or nil.
func percentile(sorted []float64, n int, q float64) *float64 {
	rank := int(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		return nil
	}
	v := sorted[rank-1]
	return &v
}

// DefaultBuckets returns the simulation's default latency buckets, the
// ones the SDK measures with (ramp.LatencyBounds): 65 bounds from 1ms to
// 65.5s, each 2^¼ (about 19%) above the last, the resolution of a
// Prometheus native histogram of schema 2. A latency guard's margin should
// not be much finer than the bucket spacing.
func DefaultBuckets() []float64 { return ramp.LatencyBounds() }

// PrometheusBuckets returns client_golang's DefBuckets, the buckets of a
// histogram declared without any: 5ms to 10s in steps of 2 to 2.5.
func PrometheusBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
}

// ExponentialBuckets returns count bounds from start, each factor times
// the last.
func ExponentialBuckets(start, factor float64, count int) []float64 {
	b := make([]float64, count)
	for i := range b {
		b[i] = start * math.Pow(factor, float64(i))
	}
	return b
}
