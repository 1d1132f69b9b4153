package judge

import (
	"math"
	"testing"
)

// TestMixtureMatchesReference checks one scale of the mixture likelihood
// ratio against the reference formula for the two-sided normal mixture
// times the half-normal factor, and against a numerical integral of the
// likelihood ratio over the folded prior.
func TestMixtureMatchesReference(t *testing.T) {
	for _, c := range []struct{ d, v, tau float64 }{
		{0.005, 1.13e-6, 0.005},
		{0.001, 1e-6, 0.005},
		{-0.002, 1e-6, 0.005},
		{0.05, 6e-4, 0.005},
		{0.02, 1e-5, 0.01},
		{0, 1e-4, 0.01},
	} {
		I := 1 / c.v
		t2 := c.tau * c.tau
		twoSided := math.Pow(1+t2*I, -0.5) * math.Exp(t2*I*I*c.d*c.d/(2*(1+t2*I)))
		z := c.d * math.Sqrt(I)
		want := 2 * normCDF(z*math.Sqrt(t2*I/(1+t2*I))) * twoSided
		got := math.Exp(logMixtureLR(c.d, c.v, c.tau))
		if math.Abs(got-want) > 1e-9*max(1, want) {
			t.Errorf("d=%g v=%g tau=%g: Λ %g, reference %g", c.d, c.v, c.tau, got, want)
		}
		// ∫₀^∞ 2/τ φ(θ/τ) exp(I(θd − θ²/2)) dθ by Simpson's rule.
		const steps = 200000
		hi := 12 * c.tau
		h := hi / steps
		f := func(th float64) float64 {
			return 2 / c.tau * math.Exp(-th*th/(2*t2)) / math.Sqrt(2*math.Pi) * math.Exp(I*(th*c.d-th*th/2))
		}
		sum := f(0) + f(hi)
		for i := 1; i < steps; i++ {
			w := 2.0
			if i%2 == 1 {
				w = 4
			}
			sum += w * f(float64(i)*h)
		}
		integral := sum * h / 3
		if math.Abs(integral-want) > 1e-6*max(1, want) {
			t.Errorf("d=%g v=%g tau=%g: integral %g, formula %g", c.d, c.v, c.tau, integral, want)
		}
	}
}

func TestMixtureTest(t *testing.T) {
	// No evidence: Λ below 1, p = 1.
	if s := mixtureTest(0, 1e-4, 0.01); s.pValue != 1 {
		t.Errorf("d=0: p %v, want 1", s.pValue)
	}
	// Degenerate inputs never signal.
	for _, c := range [][3]float64{{math.NaN(), 1, 1}, {1, 0, 1}, {1, 1, 0}, {math.Inf(1), 1, 1}, {1, math.Inf(1), 1}, {1, -1, 1}} {
		if s := mixtureTest(c[0], c[1], c[2]); s.pValue != 1 {
			t.Errorf("mixtureTest%v: p %v, want 1", c, s.pValue)
		}
	}
	// Overwhelming evidence stays finite.
	s := mixtureTest(1, 1e-12, 0.01)
	if s.logLambda != maxLogLambda || s.pValue != math.Exp(-maxLogLambda) {
		t.Errorf("huge evidence: %+v", s)
	}
	// The p-value falls as the estimate grows.
	prev := 1.0
	for d := 0.0; d < 0.02; d += 0.0005 {
		p := mixtureTest(d, 1e-6, 0.005).pValue
		if p > prev {
			t.Fatalf("p-value rises from %g to %g at d=%g", prev, p, d)
		}
		prev = p
	}
}

func TestLogNormCDF(t *testing.T) {
	for _, x := range []float64{-50, -38, -31, -30, -29.9, -10, -1, 0, 1, 5} {
		got := logNormCDF(x)
		if math.IsNaN(got) || math.IsInf(got, 0) {
			t.Errorf("logNormCDF(%v) = %v", x, got)
		}
		if x > -37 {
			if want := math.Log(normCDF(x)); math.Abs(got-want) > 1e-6*math.Abs(want)+1e-12 {
				t.Errorf("logNormCDF(%v) = %v, want %v", x, got, want)
			}
		}
	}
	// Continuous where the approximation takes over.
	if a, b := logNormCDF(-30.0000001), logNormCDF(-29.9999999); math.Abs(a-b) > 1e-4 {
		t.Errorf("jump at -30: %v vs %v", a, b)
	}
}
