package sim

import (
	"fmt"
	"math"
	"testing"

	"github.com/ramp-flags/ramp/judge"
)

// expected returns the expected cumulative histogram of n log-normal
// latencies with the median (seconds) and σ 0.47 (p99 three times the
// median) over bounds.
func expected(bounds []float64, median, n float64) *judge.Histogram {
	p := cells(bounds, math.Log(median), 0.47)
	h := &judge.Histogram{Bounds: bounds, Counts: make([]float64, len(bounds)), Count: n}
	cum := 0.0
	for i := range bounds {
		cum += p[i] * n
		h.Counts[i] = math.Round(cum)
	}
	return h
}

// TestSDKBucketsDecideTenPercent checks, on expected (noise-free)
// histograms of 20,000 requests per arm, that a p99 guard with the
// templates' +10 % margin decides over the SDK's buckets at every latency
// from 2 ms to 10 s: it passes a canary as fast as the baseline or 5 %
// slower, and warns on one 50 % slower. Over client_golang's default
// buckets the same guard cannot decide and holds.
func TestSDKBucketsDecideTenPercent(t *testing.T) {
	g := judge.Guard{Name: "p99", Metric: judge.Latency, Quantile: 0.99, Margin: 0.1, MinRequests: 1000}
	const n = 20000
	for _, median := range []float64{0.002, 0.007, 0.03, 0.1, 0.4, 1.5, 3.3} {
		base := judge.Arm{Requests: n, Latency: expected(DefaultBuckets(), median, n)}
		for _, c := range []struct {
			slower float64
			want   judge.Outcome
		}{{1, judge.Pass}, {1.05, judge.Pass}, {1.5, judge.Warning}} {
			t.Run(fmt.Sprintf("median %gs, canary ×%g", median, c.slower), func(t *testing.T) {
				canary := judge.Arm{Requests: n, Latency: expected(DefaultBuckets(), median*c.slower, n)}
				if v := judge.Evaluate(g, canary, base, judge.Options{}); v.Outcome != c.want {
					t.Errorf("%s, want %s: %s", v.Outcome, c.want, v.Summary)
				}
			})
		}
		old := judge.Arm{Requests: n, Latency: expected(PrometheusBuckets(), median, n)}
		if v := judge.Evaluate(g, old, old, judge.Options{}); median >= 0.007 && median <= 1.5 && v.Outcome != judge.Inconclusive {
			t.Errorf("median %gs over client_golang's buckets: %s (%s), want inconclusive", median, v.Outcome, v.Summary)
		}
	}
}
