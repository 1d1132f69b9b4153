package judge_test

import (
	"math"
	"testing"

	"github.com/ramp-flags/ramp/judge"
)

// FuzzEvaluate feeds arbitrary guards, counts and histograms to Evaluate
// and Decide. They must never panic; every verdict must be well formed and
// encode to JSON; unusable numbers must give an inconclusive verdict.
func FuzzEvaluate(f *testing.F) {
	f.Add(uint8(0), 0.99, 0.1, 0.05, 9000.0, 92.0, 171000.0, 855.0, 0.1, 0.2, 0.4, 0.5, 0.9, 1.0, 0.6, 0.95, 1.0)
	f.Add(uint8(1), 0.99, 0.1, 0.4, 5000.0, 25.0, 100000.0, 500.0, 0.1, 0.2, 0.4, 0.5, 0.9, 1.0, 0.6, 0.95, 1.0)
	f.Add(uint8(2), 0.0, 0.2, 0.0, 1500.0, 0.0, 58500.0, 0.0, 0.1, 0.2, 0.4, 0.5, 0.9, 1.0, 0.6, 0.95, 1.0)
	f.Add(uint8(0), 0.0, 0.0, 0.0, math.NaN(), 1.0, 100.0, 1.0, 0.1, 0.2, 0.4, 0.5, 0.9, 1.0, 0.6, 0.95, 1.0)
	f.Add(uint8(1), 0.5, 0.0, 0.0, 100.0, 0.0, 100.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.4, 0.6, 0.95, 1.0)
	f.Add(uint8(1), 0.99, 10.0, 1e300, 1e15, 1e15, 1e15, 0.0, 1e-300, 1e300, math.Inf(1), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
	f.Fuzz(func(t *testing.T, metric uint8, quantile, margin, critical, nc, ec, nb, eb, b1, b2, b3, c1, c2, c3, d1, d2, d3 float64) {
		g := judge.Guard{Name: "g", Metric: []judge.Metric{judge.ErrorRate, judge.Latency, judge.Throughput, "bogus"}[metric%4],
			Quantile: quantile, Margin: margin, Critical: critical}
		if g.Metric != judge.Latency {
			g.Quantile = 0
		}
		if g.Metric == judge.Throughput {
			g.Critical = 0
		}
		bounds := []float64{b1, b2, b3}
		canary := judge.Arm{Requests: nc, Errors: ec, Latency: &judge.Histogram{Bounds: bounds, Counts: []float64{c1 * nc, c2 * nc, c3 * nc}, Count: nc}}
		baseline := judge.Arm{Requests: nb, Errors: eb, Latency: &judge.Histogram{Bounds: bounds, Counts: []float64{d1 * nb, d2 * nb, d3 * nb}, Count: nb}}
		opts := judge.Options{Alpha: margin / 10, Guards: int(metric % 5), CanaryPercent: critical * 100}
		v := judge.Evaluate(g, canary, baseline, opts)
		checkVerdict(t, v)
		bad := func(xs ...float64) bool {
			for _, x := range xs {
				if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
					return true
				}
			}
			return false
		}
		if (g.Metric == judge.ErrorRate || g.Metric == judge.Throughput) && bad(nc, ec, nb, eb) && v.Outcome != judge.Inconclusive {
			t.Fatalf("bad counts give %s: %s", v.Outcome, v.Summary)
		}
		// The last bound may be +Inf: its count is then the total.
		lastBad := !math.IsInf(b3, 1) && bad(b3)
		if g.Metric == judge.Latency && (bad(nc, nb, b1, b2, c1, c2, c3, d1, d2, d3) || lastBad) && v.Outcome != judge.Inconclusive {
			t.Fatalf("bad histogram gives %s: %s", v.Outcome, v.Summary)
		}
		d := judge.Decide(judge.DecideInput{Verdicts: []judge.Verdict{v}, Stage: int(metric % 3)})
		if v.Outcome == judge.Inconclusive && d.Action != judge.Hold {
			t.Fatalf("inconclusive verdict gives %s", d.Action)
		}
	})
}
