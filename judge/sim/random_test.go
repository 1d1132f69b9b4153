package sim

import (
	"math"
	"math/rand/v2"
	"testing"
)

func meanVar(xs []float64) (m, v float64) {
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, v / float64(len(xs)-1)
}

func TestBinomialMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		n int64
		p float64
	}{{10, 0.3}, {3000, 0.005}, {3000, 0.01}, {57000, 0.005}, {100, 0.9}, {1000000, 0.5}, {5000, 0.0001}} {
		xs := make([]float64, 20000)
		for i := range xs {
			k := binomial(r, c.n, c.p)
			if k < 0 || k > c.n {
				t.Fatalf("Binomial(%d, %g) gave %d", c.n, c.p, k)
			}
			xs[i] = float64(k)
		}
		m, v := meanVar(xs)
		wm, wv := float64(c.n)*c.p, float64(c.n)*c.p*(1-c.p)
		if se := math.Sqrt(wv / float64(len(xs))); math.Abs(m-wm) > 5*se {
			t.Errorf("Binomial(%d, %g): mean %g, want %g ± %g", c.n, c.p, m, wm, 5*se)
		}
		if math.Abs(v/wv-1) > 0.1 {
			t.Errorf("Binomial(%d, %g): variance %g, want %g", c.n, c.p, v, wv)
		}
	}
	for _, c := range []struct {
		n    int64
		p    float64
		want int64
	}{{0, 0.5, 0}, {-1, 0.5, 0}, {10, 0, 0}, {10, -1, 0}, {10, math.NaN(), 0}, {10, 1, 10}, {10, 2, 10}} {
		if got := binomial(r, c.n, c.p); got != c.want {
			t.Errorf("Binomial(%d, %g) = %d, want %d", c.n, c.p, got, c.want)
		}
	}
}

func TestPoissonMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, lambda := range []float64{0.03, 1, 15, 99, 3000, 57000} {
		xs := make([]float64, 20000)
		for i := range xs {
			xs[i] = float64(poisson(r, lambda))
		}
		m, v := meanVar(xs)
		if se := math.Sqrt(lambda / float64(len(xs))); math.Abs(m-lambda) > 5*se {
			t.Errorf("Poisson(%g): mean %g", lambda, m)
		}
		if math.Abs(v/lambda-1) > 0.1 {
			t.Errorf("Poisson(%g): variance %g", lambda, v)
		}
	}
	if poisson(r, 0) != 0 || poisson(r, math.NaN()) != 0 {
		t.Error("Poisson of 0 or NaN is not 0")
	}
}

func TestMultinomial(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	probs := cells(DefaultBuckets(), math.Log(0.1), 0.47)
	sum := 0.0
	for _, p := range probs {
		if p < 0 {
			t.Fatalf("negative cell probability %g", p)
		}
		sum += p
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Fatalf("cell probabilities sum to %g", sum)
	}
	out := make([]int64, len(probs))
	const draws, n = 2000, 3000
	for range draws {
		multinomial(r, n, probs, out)
	}
	var total int64
	for i, c := range out {
		total += c
		want := probs[i] * draws * n
		if math.Abs(float64(c)-want) > 6*math.Sqrt(want)+1 {
			t.Errorf("cell %d: %d, want %.0f", i, c, want)
		}
	}
	if total != draws*n {
		t.Errorf("multinomial drew %d, want %d", total, draws*n)
	}
}

func TestLogNormalP99(t *testing.T) {
	// With a bucket bound at the p99, 99% of the mass is below it.
	m := newModel(Scenario{RPS: 1, CanaryPercent: 5, LatencyMedian: 0.1, LatencyP99: 0.3, P99Multiplier: 1.5,
		Interval: 1, Duration: 1, Buckets: []float64{0.1, 0.3, 0.45}})
	if got := m.healthy[0]; math.Abs(got-0.5) > 1e-9 {
		t.Errorf("P(L ≤ median) = %g", got)
	}
	if got := m.healthy[0] + m.healthy[1]; math.Abs(got-0.99) > 1e-9 {
		t.Errorf("P(L ≤ p99) = %g", got)
	}
	if got := m.sick[0] + m.sick[1] + m.sick[2]; math.Abs(got-0.99) > 1e-9 {
		t.Errorf("canary P(L ≤ 1.5 p99) = %g", got)
	}
	if got := m.sick[0]; math.Abs(got-0.5) > 1e-9 {
		t.Errorf("canary median moved: P(L ≤ median) = %g", got)
	}
}
