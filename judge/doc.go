// Package judge decides a guarded rollout: it compares a canary against
// its baseline per guard and turns the verdicts of one analysis into an
// action (promote, hold, step back, roll back), following the runbook's
// decision tree. It is pure: no I/O, no clock (times are passed in), no
// global state, so the rollout controller, "ramp simulate" and the tests
// run the same decisions on the same figures.
//
// # Guards and verdicts
//
// A Guard is one condition of a rollout plan: an error rate no worse than
// the baseline's (plus a margin), a latency quantile no more than a margin
// above the baseline's, or a canary share of traffic close to the stage
// percentage. Evaluate judges one guard on both arms' figures (Arm),
// cumulative since the stage started, and returns a Verdict: Pass,
// Warning (a significant regression beyond the margin), Critical (a
// significant breach of an absolute limit) or Inconclusive (too little or
// unusable data), with every figure it used and one sentence for people.
// EvaluateAll judges all guards of an analysis and shares the false-alarm
// rate among them. Decide applies the decision tree.
//
// # Statistics
//
// Every comparison is a test of a proportion (errors per request, requests
// slower than a bucket bound, canary requests per request) with a mixture
// sequential probability ratio test (mSPRT): for an estimated difference d
// with variance v and a normal prior N(0, τ²) on the true difference,
//
//	Λ = (1 + τ²/v)^(−1/2) · exp(τ²d²/(2v(v + τ²))),
//
// folded onto positive differences (one-sided: only "worse" matters),
// which multiplies Λ by 2Φ(d/√v · √(τ²/(v + τ²))). Under the null
// hypothesis Λ is a supermartingale, so the chance that it ever reaches
// 1/α is at most α however often the judge looks: the always-valid
// p-value min(1, 1/Λ) may be checked every interval for days. The prior
// mixes three scales, τ, 4τ and 16τ, weighted 0.7, 0.2 and 0.1, which
// keeps the guarantee and makes the test quick on regressions much larger
// than τ as well.
//
// τ is the regression the test is quickest to find. For error rates it is
// the larger of the baseline's rate and the allowed margin (at least 0.1
// percentage points): most power for a doubling. For latency it is 1 − q
// (1 point for p99): most power when the canary's slow tail doubles. For
// critical limits it is the limit (error rates) or 1 − q (latency).
//
// Variances use a pseudo-count, (e+½)/(n+1), so arms without errors need
// no special case; below Guard.MinRequests per arm a verdict is
// Inconclusive. docs/judge.md explains the choices with measurements.
package judge
