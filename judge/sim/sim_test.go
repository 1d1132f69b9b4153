package sim_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/judge/sim"
)

// config is the target scenario of DESIGN.md: 1,000 req/s, a 5% canary, a 0.5%
// baseline error rate, the judge's default guards and Flagger's default
// analysis with a 1% threshold.
func config(errMult, p99Mult float64, runs int) sim.Config {
	return sim.Config{
		Scenario: sim.Scenario{
			RPS: 1000, CanaryPercent: 5, BaselineErrorRate: 0.005, ErrorMultiplier: errMult,
			LatencyMedian: 0.1, LatencyP99: 0.3, P99Multiplier: p99Mult,
			Interval: time.Minute, Duration: 30 * time.Minute, Buckets: sim.DefaultBuckets(),
		},
		Guards: []judge.Guard{
			{Name: "error-rate", Metric: judge.ErrorRate, Critical: 0.05},
			{Name: "latency-p99", Metric: judge.Latency, Quantile: 0.99, Margin: 0.1},
		},
		Alpha: 0.01,
		Fixed: sim.Fixed{MaxErrorRate: 0.01, Threshold: 1},
		Runs:  runs,
		Seed:  1,
	}
}

// TestTargets holds the judge to the targets of DESIGN.md, measured the
// way docs/benchmarks.md does.
func TestTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 3,000 stages")
	}
	reg, err := sim.Run(context.Background(), config(2, 1, 1000))
	if err != nil {
		t.Fatal(err)
	}
	if m := reg.Judge.MedianMinutes; m == nil || *m > 3 {
		t.Errorf("2x error regression: median time to rollback %v min, want ≤ 3", deref(m))
	}
	aa, err := sim.Run(context.Background(), config(1, 1, 1000))
	if err != nil {
		t.Fatal(err)
	}
	if aa.Judge.RolledBackPercent > 1 {
		t.Errorf("A/A: %.1f%% wrongly rolled back, want ≤ 1%%", aa.Judge.RolledBackPercent)
	}
	lat, err := sim.Run(context.Background(), config(1, 1.5, 1000))
	if err != nil {
		t.Fatal(err)
	}
	if lat.Judge.RolledBackPercent < 99 {
		t.Errorf("+50%% p99: %.1f%% rolled back, want ≥ 99%%", lat.Judge.RolledBackPercent)
	}
	t.Logf("2x errors: %+v\nA/A: %+v\n+50%% p99: %+v", reg.Judge, aa.Judge, lat.Judge)
}

func deref(p *float64) float64 {
	if p == nil {
		return math.Inf(1)
	}
	return *p
}

func TestDeterministic(t *testing.T) {
	c := config(1.5, 1.2, 60)
	c.Workers = 1
	a, err := sim.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	c.Workers = 7
	b, _ := sim.Run(context.Background(), c)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("results depend on the number of workers:\n%+v\n%+v", a, b)
	}
	c.Seed = 2
	d, _ := sim.Run(context.Background(), c)
	if reflect.DeepEqual(a, d) {
		t.Errorf("seeds 1 and 2 give the same result %+v", a)
	}
}

// TestNoDataFailsOnlyTheFixedAnalysis: at a trickle of traffic most
// intervals have no canary request. Flagger's analysis counts them as
// failures and rolls back; the judge holds.
func TestNoDataFailsOnlyTheFixedAnalysis(t *testing.T) {
	c := config(1, 1, 200)
	c.Scenario.RPS = 0.2
	r, err := sim.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Judge.RolledBack != 0 || r.Judge.Held != c.Runs {
		t.Errorf("judge: %+v, want every run held", r.Judge)
	}
	if r.Fixed == nil || r.Fixed.RolledBack != c.Runs || *r.Fixed.MedianMinutes != 1 {
		t.Errorf("fixed: %+v, want every run rolled back at the first interval", r.Fixed)
	}
}

func TestRegressionStart(t *testing.T) {
	c := config(5, 1, 200)
	c.Scenario.RegressionStart = 10 * time.Minute
	r, err := sim.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Judge.RolledBack < 190 || r.Judge.Early > 2 {
		t.Errorf("judge: %+v", r.Judge)
	}
	if m := r.Judge.MedianMinutes; m == nil || *m > 5 {
		t.Errorf("5x from minute 10: median %v min after the start, want ≤ 5", deref(m))
	}
}

func TestValidate(t *testing.T) {
	good := config(2, 1, 10)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		change func(*sim.Config)
		want   string
	}{
		{func(c *sim.Config) { c.Scenario.RPS = 0 }, "request rate"},
		{func(c *sim.Config) { c.Scenario.RPS = math.NaN() }, "request rate"},
		{func(c *sim.Config) { c.Scenario.CanaryPercent = 100 }, "canary percentage"},
		{func(c *sim.Config) { c.Scenario.BaselineErrorRate = -0.1 }, "baseline error rate"},
		{func(c *sim.Config) { c.Scenario.ErrorMultiplier = 300 }, "error multiplier"},
		{func(c *sim.Config) { c.Scenario.LatencyP99 = 0.05 }, "latency median"},
		{func(c *sim.Config) { c.Scenario.P99Multiplier = 0.2 }, "p99 multiplier"},
		{func(c *sim.Config) { c.Scenario.Interval = 0 }, "interval"},
		{func(c *sim.Config) { c.Scenario.Duration = time.Second }, "duration"},
		{func(c *sim.Config) { c.Scenario.RegressionStart = time.Hour }, "regression start"},
		{func(c *sim.Config) { c.Scenario.Buckets = []float64{0.2, 0.1} }, "ascending"},
		{func(c *sim.Config) { c.Guards = nil }, "no guards"},
		{func(c *sim.Config) { c.Guards[0].Critical = 2 }, "critical 2"},
		{func(c *sim.Config) { c.Alpha = 1 }, "alpha"},
		{func(c *sim.Config) { c.Fixed.Threshold = 0 }, "threshold"},
		{func(c *sim.Config) { c.Runs = 0 }, "runs"},
	} {
		cfg := config(2, 1, 10)
		cfg.Guards = append([]judge.Guard(nil), cfg.Guards...)
		c.change(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one about %q", err, c.want)
		}
		if _, err := sim.Run(context.Background(), cfg); err == nil {
			t.Errorf("Run accepted an invalid config (%s)", c.want)
		}
	}
}

func TestBuckets(t *testing.T) {
	b := sim.DefaultBuckets()
	if len(b) != 65 || b[0] != 0.001 || b[64] != 65.5 || !slices.Equal(b, ramp.LatencyBounds()) {
		t.Errorf("default buckets %v, want the SDK's", b)
	}
	if p := sim.PrometheusBuckets(); len(p) != 11 || p[0] != 0.005 || p[10] != 10 {
		t.Errorf("Prometheus buckets %v", p)
	}
}

func TestAA(t *testing.T) {
	s := config(3, 2, 1).Scenario
	s.RegressionStart = time.Minute
	aa := s.AA()
	if aa.Regressed() || aa.RegressionStart != 0 || !s.Regressed() {
		t.Errorf("AA of %+v is %+v", s, aa)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sim.Run(ctx, config(2, 1, 100000)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
}
