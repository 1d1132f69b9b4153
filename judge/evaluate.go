package judge

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Outcome is a guard's verdict.
type Outcome string

// Outcomes, from the least to the most severe for the rollout. Decide
// turns them into an action.
const (
	// Pass: enough data and no significant regression.
	Pass Outcome = "pass"
	// Inconclusive: too little or unusable data, or a check that must hold
	// the rollout (sample ratio mismatch). Never promotes, never rolls back.
	Inconclusive Outcome = "inconclusive"
	// Warning: a significant regression beyond the guard's margin.
	Warning Outcome = "warning"
	// Critical: a significant breach of the guard's absolute limit.
	Critical Outcome = "critical"
)

// Test names in Verdict.Tests.
const (
	TestRegression  = "regression"   // canary against baseline, beyond the margin
	TestCritical    = "critical"     // canary against the absolute limit
	TestSampleRatio = "sample_ratio" // canary's share of requests against the stage percentage
)

// maxBucketRatio is the coarsest spacing of latency buckets around the
// quantile a latency guard accepts: with bounds further apart than
// 1.5×(1+margin) the test could only see regressions far beyond the
// margin, so the verdict is inconclusive instead of a blind pass.
const maxBucketRatio = 1.5

// defaultMinTau is the smallest mixing scale of an error-rate regression
// test (0.1 percentage points), so that a baseline without errors does not
// make the test blind.
const defaultMinTau = 0.001

// Options are the settings of one analysis shared by its guards.
type Options struct {
	// Alpha is the false-alarm rate of the whole analysis, 0 for
	// DefaultAlpha. It is split equally (Bonferroni) among the Guards
	// guards that can warn, so adding guards does not add false rollbacks.
	Alpha float64 `json:"alpha,omitempty"`
	// Guards is the number of error-rate and latency guards in the
	// analysis; values below 1 count as 1. EvaluateAll sets it.
	Guards int `json:"guards,omitempty"`
	// CanaryPercent is the stage's canary percentage (5 for 5%), which
	// throughput guards compare the canary's share of requests to.
	CanaryPercent float64 `json:"canaryPercent,omitempty"`
}

// alpha returns the level of one guard's tests and an error for options
// that are not usable.
func (o Options) alpha() (float64, error) {
	a := o.Alpha
	if a == 0 {
		a = DefaultAlpha
	}
	if !(a > 0 && a <= 0.5) {
		return 0, fmt.Errorf("alpha %v: use a false-alarm rate above 0 and at most 0.5, such as 0.01", o.Alpha)
	}
	return a / float64(max(o.Guards, 1)), nil
}

// Verdict is one guard's judgement of one look, with the figures it was
// made from. Every number is finite, so a Verdict always encodes to JSON;
// field names are stable because reports and the console read them.
type Verdict struct {
	// Guard is the guard's name.
	Guard string `json:"guard"`
	// Metric is the guard's metric.
	Metric Metric `json:"metric"`
	// Outcome is pass, warning, critical or inconclusive.
	Outcome Outcome `json:"outcome"`
	// Summary says in one sentence what the figures show and why.
	Summary string `json:"summary"`
	// Quantile is the latency quantile of a latency guard (0.99 for p99).
	Quantile float64 `json:"quantile,omitempty"`
	// Canary and Baseline are the arms' figures.
	Canary   Figures `json:"canary"`
	Baseline Figures `json:"baseline"`
	// Tests are the sequential tests that ran, in the order regression,
	// critical (or sample_ratio). None ran when the data was unusable.
	Tests []Test `json:"tests,omitempty"`
}

// Figures are one arm's numbers as the judge saw them. Latencies are in
// seconds; rates and shares are fractions.
type Figures struct {
	// Requests, Errors and ErrorRate are the arm's counts and their ratio
	// (0 without requests). For a latency guard Requests is the
	// histogram's count when the arm has no request count.
	Requests  float64 `json:"requests"`
	Errors    float64 `json:"errors"`
	ErrorRate float64 `json:"errorRate"`
	// P50, P90 and P99 are estimated from the latency histogram.
	P50 float64 `json:"p50,omitempty"`
	P90 float64 `json:"p90,omitempty"`
	P99 float64 `json:"p99,omitempty"`
	// Latency is the guard's quantile (the same as P99 for a p99 guard).
	Latency float64 `json:"latency,omitempty"`
	// Slow is the share of requests slower than SlowerThan, the bucket
	// bound the latency regression test used for this arm.
	Slow       float64 `json:"slow,omitempty"`
	SlowerThan float64 `json:"slowerThan,omitempty"`
	// Share is the arm's share of both arms' requests (throughput guards).
	Share float64 `json:"share,omitempty"`
}

// Test is one sequential test of H0: Observed − Reference ≤ Allowed (for
// sample_ratio: |Observed − Reference| ≤ Allowed) with a mixture
// likelihood ratio.
type Test struct {
	// Name is regression, critical or sample_ratio.
	Name string `json:"name"`
	// Observed is the canary's proportion: its error rate, its share of
	// slow requests, or its share of all requests.
	Observed float64 `json:"observed"`
	// Reference is what it is compared to: the baseline's proportion, the
	// critical limit, or the expected share.
	Reference float64 `json:"reference"`
	// Allowed is the difference H0 tolerates (the margin in rate units).
	Allowed float64 `json:"allowed"`
	// StdErr is the standard error of Observed − Reference.
	StdErr float64 `json:"stdErr"`
	// Tau is the scale of the normal mixing prior.
	Tau float64 `json:"tau"`
	// Lambda is the mixture likelihood ratio Λ (capped at e^700).
	Lambda float64 `json:"lambda"`
	// PValue is the always-valid p-value of this look, min(1, 1/Λ). The
	// smallest PValue over the looks of a stage is also valid.
	PValue float64 `json:"pValue"`
	// Alpha is the level PValue was compared to, after the Bonferroni split.
	Alpha float64 `json:"alpha"`
	// Significant is PValue ≤ Alpha with the estimate beyond Allowed.
	Significant bool `json:"significant"`
}

// Input is one guard with both arms' figures, for EvaluateAll.
type Input struct {
	Guard    Guard `json:"guard"`
	Canary   Arm   `json:"canary"`
	Baseline Arm   `json:"baseline"`
}

// EvaluateAll evaluates every input as one analysis: opts.Alpha is shared
// among the error-rate and latency guards (opts.Guards is set to their
// number). The verdicts are in the order of the inputs.
func EvaluateAll(in []Input, opts Options) []Verdict {
	opts.Guards = 0
	for _, x := range in {
		if x.Guard.signals() {
			opts.Guards++
		}
	}
	out := make([]Verdict, len(in))
	for i, x := range in {
		out[i] = Evaluate(x.Guard, x.Canary, x.Baseline, opts)
	}
	return out
}

// Evaluate judges one guard on the canary's and the baseline's cumulative
// figures. It never panics and never fails: invalid guards, options or
// data (NaN, infinities, negative or decreasing counts; errors above
// requests, for the guards that read errors: a latency guard judges the
// histogram alone) give an inconclusive verdict whose Summary says what
// is wrong.
// It is pure and safe for concurrent use.
func Evaluate(g Guard, canary, baseline Arm, opts Options) Verdict {
	v := Verdict{Guard: g.Name, Metric: g.Metric, Outcome: Inconclusive}
	v.Canary, v.Baseline = armFigures(canary), armFigures(baseline)
	if err := g.Validate(); err != nil {
		v.Summary = "invalid " + err.Error()
		return v
	}
	alpha, err := opts.alpha()
	if err != nil {
		v.Summary = "invalid options: " + err.Error()
		return v
	}
	switch g.Metric {
	case ErrorRate:
		evalErrorRate(&v, g, canary, baseline, alpha)
	case Latency:
		v.Quantile = g.quantile()
		evalLatency(&v, g, canary, baseline, alpha)
	case Throughput:
		evalThroughput(&v, g, canary, baseline, opts)
	}
	return v
}

// Unavailable returns the inconclusive verdict of a guard whose figures
// could not be read, such as when the metric source is down or a query
// returned no series. Reason says what happened, for people.
func Unavailable(g Guard, reason string) Verdict {
	return Verdict{Guard: g.Name, Metric: g.Metric, Outcome: Inconclusive, Summary: "no data: " + reason}
}

// armFigures copies the counts of an arm that are usable numbers.
func armFigures(a Arm) Figures {
	var f Figures
	if checkArm(a) == nil {
		f.Requests, f.Errors = a.Requests, a.Errors
		if a.Requests > 0 {
			f.ErrorRate = a.Errors / a.Requests
		}
	} else {
		f.Requests, f.Errors = finiteOr0(a.Requests), finiteOr0(a.Errors)
	}
	return f
}

func finiteOr0(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// tooFew returns the inconclusive sentence for arms below the minimum, or "".
func tooFew(nc, nb, min float64, what string) string {
	var short []string
	if nc < min {
		short = append(short, fmt.Sprintf("canary has %s %s", count(nc), what))
	}
	if nb < min {
		short = append(short, fmt.Sprintf("baseline has %s", count(nb)))
	}
	if short == nil {
		return ""
	}
	return fmt.Sprintf("too little data: %s, needs %s per arm", strings.Join(short, " and "), count(min))
}

// newTest runs the one-sided test of observed − reference > allowed.
func newTest(name string, observed, reference, allowed, variance, tau, alpha float64) Test {
	d := observed - reference - allowed
	s := mixtureTest(d, variance, tau)
	return Test{
		Name: name, Observed: observed, Reference: reference, Allowed: allowed,
		StdErr: math.Sqrt(variance), Tau: tau, Lambda: math.Exp(s.logLambda), PValue: s.pValue, Alpha: alpha,
		Significant: d > 0 && s.pValue <= alpha,
	}
}

func evalErrorRate(v *Verdict, g Guard, c, b Arm, alpha float64) {
	if err := checkArm(c); err != nil {
		v.Summary = "unusable canary data: " + err.Error()
		return
	}
	if err := checkArm(b); err != nil {
		v.Summary = "unusable baseline data: " + err.Error()
		return
	}
	if s := tooFew(c.Requests, b.Requests, g.minRequests(), "requests"); s != "" {
		v.Summary = s
		return
	}
	pc, pb := v.Canary.ErrorRate, v.Baseline.ErrorRate
	allowed := max(g.Margin*pb, g.AbsMargin)
	tau := g.Tau
	if tau == 0 {
		// Most power for a regression as large as the baseline rate itself
		// (a doubling), or as the margin when that is larger.
		tau = max(pb, allowed, defaultMinTau)
	}
	reg := newTest(TestRegression, pc, pb, allowed, propVar(c.Errors, c.Requests)+propVar(b.Errors, b.Requests), tau, alpha)
	v.Tests = append(v.Tests, reg)
	rates := fmt.Sprintf("canary error rate %s vs baseline %s%s", pct(pc), pct(pb), relChange(pc, pb))
	if g.Critical > 0 {
		crit := newTest(TestCritical, pc, g.Critical, 0, propVar(c.Errors, c.Requests), g.Critical, alpha)
		v.Tests = append(v.Tests, crit)
		if crit.Significant {
			v.Outcome = Critical
			v.Summary = fmt.Sprintf("canary error rate %s is above the critical %s, significant (%s); baseline %s",
				pct(pc), pct(g.Critical), pCompare(crit), pct(pb))
			return
		}
	}
	if reg.Significant {
		v.Outcome = Warning
		v.Summary = fmt.Sprintf("%s, a significant regression%s (%s)", rates, marginText(allowed), pCompare(reg))
		return
	}
	v.Outcome = Pass
	v.Summary = fmt.Sprintf("%s, no significant regression%s (%s)", rates, marginText(allowed), pCompare(reg))
}

func evalLatency(v *Verdict, g Guard, c, b Arm, alpha float64) {
	hc, err := c.Latency.check()
	if err != nil {
		v.Summary = "unusable canary data: " + err.Error()
		return
	}
	hb, err := b.Latency.check()
	if err != nil {
		v.Summary = "unusable baseline data: " + err.Error()
		return
	}
	q, m := g.quantile(), g.margin()
	fill := func(f *Figures, h hist) {
		if f.Requests == 0 {
			f.Requests = h.total
		}
		if h.total > 0 {
			f.P50, f.P90, f.P99, f.Latency = h.quantile(0.5), h.quantile(0.9), h.quantile(0.99), h.quantile(q)
		}
	}
	fill(&v.Canary, hc)
	fill(&v.Baseline, hb)
	if s := tooFew(hc.total, hb.total, g.minRequests(), "latency observations"); s != "" {
		v.Summary = s
		return
	}
	name := quantileName(q)
	lc, lb := v.Canary.Latency, v.Baseline.Latency
	lat := fmt.Sprintf("canary %s %s vs baseline %s%s", name, secs(lc), secs(lb), relChange(lc, lb))

	// Critical: the canary's quantile is above Critical exactly when more
	// than 1−q of its requests are slower than Critical; a bucket bound at
	// or above Critical makes the test conservative.
	var crit *Test
	if g.Critical > 0 {
		i := hc.ceil(g.Critical)
		if i < 0 {
			v.Summary = fmt.Sprintf("critical %s %s is above the largest finite bucket bound %s: the histogram cannot show it; add buckets",
				name, secs(g.Critical), secs(hc.bounds[len(hc.bounds)-1]))
			return
		}
		sc := hc.above(i)
		t := newTest(TestCritical, sc, 1-q, 0, propVar(sc*hc.total, hc.total), 1-q, alpha)
		crit = &t
	}

	// Regression: compare the share of canary requests slower than X with
	// the share of baseline requests slower than Xb, where X ≥ (1+m)·Xb. If
	// the canary is at most (1+m) times slower than the baseline, its share
	// above X is at most the baseline's above X/(1+m), hence at most the
	// baseline's above Xb: the test cannot fire on a regression within the
	// margin, whatever the buckets. X is the first bound at or above (1+m)
	// times the baseline's quantile, Xb the last bound at or below X/(1+m).
	var reg *Test
	var why string
	if x := hb.ceil((1 + m) * lb); x < 0 {
		why = fmt.Sprintf("the baseline's %s ×%.2f is beyond the largest finite bucket bound %s, so the buckets cannot show a regression; add buckets",
			name, 1+m, secs(hb.bounds[len(hb.bounds)-1]))
	} else {
		X := hb.bounds[x]
		xc, xb := hc.ceil(X), hb.floor(X/(1+m))
		switch {
		case xc < 0 || hc.bounds[xc] != X:
			why = fmt.Sprintf("the canary's histogram has no bucket bound %s like the baseline's; give both arms the same buckets", secs(X))
		case xb < 0 || X/hb.bounds[xb] > maxBucketRatio*(1+m):
			// The test would be valid but blind to any regression
			// smaller than X/Xb: say so rather than pass.
			why = fmt.Sprintf("the buckets around %s are too coarse to see a +%s regression; use bucket bounds at most %.1f× apart there",
				secs(X), pctShort(m), maxBucketRatio)
		default:
			Xb := hb.bounds[xb]
			sc, sb := hc.above(xc), hb.above(xb)
			v.Canary.Slow, v.Canary.SlowerThan = sc, X
			v.Baseline.Slow, v.Baseline.SlowerThan = sb, Xb
			tau := g.Tau
			if tau == 0 {
				// Most power when the canary's tail beyond the quantile is
				// about twice the baseline's: 1 point more slow requests
				// for a p99 guard.
				tau = 1 - q
			}
			t := newTest(TestRegression, sc, sb, 0, propVar(sc*hc.total, hc.total)+propVar(sb*hb.total, hb.total), tau, alpha)
			reg = &t
		}
	}
	v.Tests = appendTest(appendTest(v.Tests, reg), crit)
	switch {
	case crit != nil && crit.Significant:
		v.Outcome = Critical
		v.Summary = fmt.Sprintf("canary %s %s is above the critical %s: %s of its requests are slower than %s, significant (%s)",
			name, secs(lc), secs(g.Critical), pct(crit.Observed), secs(hc.bounds[hc.ceil(g.Critical)]), pCompare(*crit))
	case reg == nil:
		v.Summary = lat + "; " + why
	default:
		shares := fmt.Sprintf("%s of canary requests slower than %s vs %s of baseline slower than %s",
			pct(v.Canary.Slow), secs(v.Canary.SlowerThan), pct(v.Baseline.Slow), secs(v.Baseline.SlowerThan))
		if reg.Significant {
			v.Outcome = Warning
			v.Summary = fmt.Sprintf("%s; %s: a significant regression beyond +%s (%s)", lat, shares, pctShort(m), pCompare(*reg))
		} else {
			v.Outcome = Pass
			v.Summary = fmt.Sprintf("%s; %s: no significant regression beyond +%s (%s)", lat, shares, pctShort(m), pCompare(*reg))
		}
	}
}

func appendTest(ts []Test, t *Test) []Test {
	if t == nil {
		return ts
	}
	return append(ts, *t)
}

func evalThroughput(v *Verdict, g Guard, c, b Arm, opts Options) {
	if err := checkArm(c); err != nil {
		v.Summary = "unusable canary data: " + err.Error()
		return
	}
	if err := checkArm(b); err != nil {
		v.Summary = "unusable baseline data: " + err.Error()
		return
	}
	want := opts.CanaryPercent / 100
	if !(want > 0 && want < 1) {
		v.Summary = fmt.Sprintf("no expected canary share: the stage percentage %v must be above 0 and below 100", opts.CanaryPercent)
		return
	}
	if s := tooFew(c.Requests, b.Requests, g.minRequests(), "requests"); s != "" {
		v.Summary = s
		return
	}
	n := c.Requests + b.Requests
	got := c.Requests / n
	v.Canary.Share, v.Baseline.Share = got, 1-got
	tol := g.margin() * want
	alpha := DefaultAlpha
	if opts.Alpha != 0 {
		alpha = opts.Alpha
	}
	// Too little canary traffic is as suspicious as too much: one test
	// per side, each at half the level.
	variance := want * (1 - want) / n
	hi := mixtureTest(got-want-tol, variance, tol)
	lo := mixtureTest(want-got-tol, variance, tol)
	p := min(1, 2*min(hi.pValue, lo.pValue))
	t := Test{Name: TestSampleRatio, Observed: got, Reference: want, Allowed: tol, StdErr: math.Sqrt(variance),
		Tau: tol, Lambda: math.Exp(max(hi.logLambda, lo.logLambda)) / 2, PValue: p, Alpha: alpha,
		Significant: math.Abs(got-want) > tol && p <= alpha}
	v.Tests = append(v.Tests, t)
	if t.Significant {
		v.Summary = fmt.Sprintf("sample ratio mismatch: the canary has %s of requests, expected %s ±%s (%s); check the bucketing and the metric labels",
			pct(got), pct(want), pct(tol), pCompare(t))
		return
	}
	v.Outcome = Pass
	v.Summary = fmt.Sprintf("the canary has %s of requests, expected %s ±%s", pct(got), pct(want), pct(tol))
}

// pct formats a fraction as a percentage with two decimals: 1.02%.
func pct(x float64) string { return strconv.FormatFloat(100*x, 'f', 2, 64) + "%" }

// pctShort formats a fraction as a percentage without trailing zeros: 10%.
func pctShort(x float64) string { return strconv.FormatFloat(100*x, 'f', -1, 64) + "%" }

// relChange formats the relative change of a against b: " (+104%)".
func relChange(a, b float64) string {
	if !(b > 0) {
		return ""
	}
	return fmt.Sprintf(" (%+.0f%%)", 100*(a/b-1))
}

func marginText(allowed float64) string {
	if allowed == 0 {
		return ""
	}
	return " beyond the allowed +" + strconv.FormatFloat(100*allowed, 'g', 3, 64) + " points"
}

// pCompare formats a test's p-value against its level.
func pCompare(t Test) string {
	op := "≥"
	if t.PValue <= t.Alpha {
		op = "≤"
	}
	return "p=" + pFormat(t.PValue) + " " + op + " " + strconv.FormatFloat(t.Alpha, 'g', 3, 64)
}

func pFormat(p float64) string {
	if p < 0.0001 {
		return strconv.FormatFloat(p, 'e', 1, 64)
	}
	return strconv.FormatFloat(p, 'g', 2, 64)
}

// secs formats seconds as a short duration: 312ms, 1.25s.
func secs(s float64) string {
	switch {
	case s < 0.001:
		return strconv.FormatFloat(s*1e6, 'f', 0, 64) + "µs"
	case s < 1:
		return strconv.FormatFloat(s*1000, 'g', 3, 64) + "ms"
	}
	return strconv.FormatFloat(s, 'g', 3, 64) + "s"
}

// quantileName names a quantile: p99, p50, p99.9.
func quantileName(q float64) string {
	return "p" + strconv.FormatFloat(100*q, 'g', 4, 64)
}

// count formats a count without a fraction when it has none.
func count(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}
