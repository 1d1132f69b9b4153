package judge

import "math"

// maxLogLambda caps the logarithm of a likelihood ratio so that Λ stays a
// finite number that JSON can carry. e^700 is far beyond any threshold.
const maxLogLambda = 700

// The mixing prior of every test is a mixture of three normal scales,
// τ, 4τ and 16τ, weighted 0.7, 0.2 and 0.1. Most of the weight sits on
// the regression size a guard is tuned for (τ); the rest keeps the test
// quick on regressions many times larger, which a single small τ finds
// late at low traffic (see docs/judge.md). A weighted average of test
// martingales is a test martingale, so the guarantee is unchanged; the
// price is ln(1/0.7) ≈ 0.36 on the log threshold of the main scale.
var (
	tauScales  = [...]float64{1, 4, 16}
	tauWeights = [...]float64{0.7, 0.2, 0.1}
)

// seqTest is the outcome of one mixture sequential probability ratio test
// (mSPRT).
type seqTest struct {
	logLambda float64
	pValue    float64
}

// mixtureTest runs the one-sided mSPRT of H0: θ ≤ 0 against θ > 0, where d
// is the estimate of θ (already net of any allowed margin) and v its
// variance, with the mixture of scales tau·tauScales. For one scale τ the
// prior is N(0, τ²) folded onto θ > 0, which gives
//
//	Λ_τ = 2 Φ(z·√r) · (1 + τ²/v)^(−1/2) · exp(r·z²/2),  z = d/√v,  r = τ²/(v + τ²).
//
// The factor 2Φ(·) is what the half-normal prior adds to the two-sided
// ratio (1 + τ²I)^(−1/2)·exp(τ²I²d²/(2(1+τ²I))), I = 1/v. Under H0 Λ is a
// nonnegative supermartingale (for a normal estimate), so P(Λ ever ≥ 1/α)
// ≤ α however often one looks: Ville's inequality.
func mixtureTest(d, v, tau float64) seqTest {
	if !(v > 0) || !(tau > 0) || math.IsNaN(d) || math.IsInf(d, 0) || math.IsInf(v, 0) {
		return seqTest{pValue: 1}
	}
	var lls [len(tauScales)]float64
	top := math.Inf(-1)
	for i, s := range tauScales {
		lls[i] = math.Log(tauWeights[i]) + logMixtureLR(d, v, tau*s)
		top = max(top, lls[i])
	}
	sum := 0.0
	for _, ll := range lls {
		sum += math.Exp(ll - top)
	}
	ll := min(top+math.Log(sum), maxLogLambda)
	if math.IsNaN(ll) {
		// Only extreme inputs (an underflowing variance) get here.
		if d > 0 {
			ll = maxLogLambda
		} else {
			ll = math.Inf(-1)
		}
	}
	p := 1.0
	if ll > 0 {
		p = math.Exp(-ll)
	}
	return seqTest{logLambda: ll, pValue: p}
}

// logMixtureLR is ln Λ_τ for one scale τ.
func logMixtureLR(d, v, tau float64) float64 {
	t2 := tau * tau
	r := t2 / (v + t2)
	z := d / math.Sqrt(v)
	return -0.5*math.Log1p(t2/v) + 0.5*r*z*z + math.Ln2 + logNormCDF(z*math.Sqrt(r))
}

// normCDF is the standard normal distribution function Φ.
func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// logNormCDF is ln Φ(x), accurate far into the lower tail where Φ(x)
// underflows.
func logNormCDF(x float64) float64 {
	if x > -30 {
		return math.Log(normCDF(x))
	}
	// Mills ratio: Φ(x) ≈ φ(x)/|x| · (1 − 1/x² + 3/x⁴).
	x2 := x * x
	return -0.5*x2 - math.Log(-x) - 0.5*math.Log(2*math.Pi) + math.Log1p(-1/x2+3/(x2*x2))
}

// adjusted returns a proportion estimate with half an event added to the
// events and one to the trials, (k+½)/(n+1), so that zero events (or all
// events) still give a variance above zero. It is used for variances
// only; reported rates are the raw k/n.
func adjusted(k, n float64) float64 { return (k + 0.5) / (n + 1) }

// propVar is the variance of a proportion estimated from k events in n
// trials, with the pseudo-count of adjusted.
func propVar(k, n float64) float64 {
	p := adjusted(k, n)
	return p * (1 - p) / n
}
