package judge

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Metric is what a guard measures.
type Metric string

// Metrics a guard can watch.
const (
	// ErrorRate compares the share of failed requests: errors / requests.
	ErrorRate Metric = "error_rate"
	// Latency compares a latency quantile read from histogram buckets.
	Latency Metric = "latency"
	// Throughput checks that the canary receives the share of requests its
	// stage percentage says (a sample ratio mismatch check). It can only
	// pass or hold a rollout, never roll it back.
	Throughput Metric = "throughput"
)

// Defaults applied to zero fields of a Guard.
const (
	// DefaultAlpha is the false-alarm rate of a whole analysis: the chance
	// that a canary no worse than its baseline is ever stepped back or
	// rolled back during a stage, however often the judge looks.
	DefaultAlpha = 0.01
	// DefaultMinRequests is the number of requests each arm needs before a
	// guard gives anything but an inconclusive verdict.
	DefaultMinRequests = 100
	// DefaultQuantile is the latency quantile of a latency guard.
	DefaultQuantile = 0.99
	// DefaultLatencyMargin is the margin of a latency guard: the canary's
	// quantile may be 10% above the baseline's.
	DefaultLatencyMargin = 0.10
	// DefaultThroughputTolerance is the margin of a throughput guard: the
	// canary's share of requests may be 20% off its stage percentage
	// (4% to 6% at a 5% stage) before the rollout is held.
	DefaultThroughputTolerance = 0.20
)

// Guard is one condition a canary must meet, as written in a rollout plan.
// Rates and shares are fractions (0.05 is 5%); latencies are seconds, the
// unit of Prometheus histograms. Zero fields take the documented defaults;
// Validate rejects values that cannot be meant.
type Guard struct {
	// Name identifies the guard in verdicts, reports and the console.
	Name string `json:"name" yaml:"name"`
	// Metric is error_rate, latency or throughput.
	Metric Metric `json:"metric" yaml:"metric"`
	// Quantile is the latency quantile the guard protects, such as 0.99
	// (default) or 0.9. Latency guards only.
	Quantile float64 `json:"quantile,omitempty" yaml:"quantile,omitempty"`
	// Margin is the regression allowed before the guard warns, relative to
	// the baseline: 0.1 lets the canary's error rate be 10% above the
	// baseline's (0.55% against 0.50%), or its latency quantile 10% above.
	// Zero takes the default: 0 (no worse than the baseline) for error-rate
	// guards, 0.1 for latency guards. For a throughput guard it is the
	// tolerated relative deviation of the canary's share of requests
	// (default 0.2).
	Margin float64 `json:"margin,omitempty" yaml:"margin,omitempty"`
	// AbsMargin is an absolute allowance added on top for error-rate
	// guards: the canary may exceed the baseline by the larger of
	// Margin×baseline and AbsMargin. 0.001 allows 0.1 percentage points,
	// which keeps a near-zero baseline from making every error a
	// regression.
	AbsMargin float64 `json:"absMargin,omitempty" yaml:"absMargin,omitempty"`
	// Critical is an absolute limit whose significant breach rolls the
	// canary back to 0% at once: an error rate (0.05 = 5%) for error-rate
	// guards, a latency in seconds for the guard's quantile for latency
	// guards. Zero disables the critical test.
	Critical float64 `json:"critical,omitempty" yaml:"critical,omitempty"`
	// MinRequests is the number of requests each arm needs before the
	// guard decides anything; below it the verdict is inconclusive.
	// Default 100.
	MinRequests float64 `json:"minRequests,omitempty" yaml:"minRequests,omitempty"`
	// Tau is the scale τ of the mixing prior of the sequential test, in the
	// units of the compared proportion: the regression size the test is
	// quickest to find. Zero chooses it from the data (see the package
	// documentation); set it only to tune detection speed.
	Tau float64 `json:"tau,omitempty" yaml:"tau,omitempty"`
}

// Validate reports whether the guard can be evaluated, with every problem
// in one error. A rollout plan should be validated when it is created:
// Evaluate turns an invalid guard into an inconclusive verdict, which
// holds a rollout forever.
func (g Guard) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	if strings.TrimSpace(g.Name) == "" {
		bad("name is required")
	}
	switch g.Metric {
	case ErrorRate:
		if g.Quantile != 0 {
			bad("quantile is for latency guards")
		}
		if !finite(g.Critical) || g.Critical < 0 || g.Critical > 1 {
			bad("critical %v is not an error rate: use a fraction from 0 to 1 (0.05 is 5%%)", g.Critical)
		}
		if !finite(g.AbsMargin) || g.AbsMargin < 0 || g.AbsMargin >= 1 {
			bad("absMargin %v is not a rate difference: use a fraction from 0 to 1 (0.001 is 0.1 percentage points)", g.AbsMargin)
		}
	case Latency:
		if !finite(g.Quantile) || g.Quantile < 0 || g.Quantile >= 1 || (g.Quantile != 0 && g.Quantile < 0.5) {
			bad("quantile %v: use a fraction from 0.5 to below 1, such as 0.99", g.Quantile)
		}
		if !finite(g.Critical) || g.Critical < 0 {
			bad("critical %v is not a latency: use seconds, such as 0.8", g.Critical)
		}
		if g.AbsMargin != 0 {
			bad("absMargin is for error-rate guards")
		}
	case Throughput:
		if g.Quantile != 0 || g.Critical != 0 || g.AbsMargin != 0 {
			bad("a throughput guard takes only margin and minRequests")
		}
		if finite(g.Margin) && g.Margin >= 1 {
			bad("margin %v: a throughput tolerance is a fraction below 1, such as 0.2", g.Margin)
		}
	case "":
		bad("metric is required: error_rate, latency or throughput")
	default:
		bad("metric %q: use error_rate, latency or throughput", g.Metric)
	}
	if !finite(g.Margin) || g.Margin < 0 || g.Margin > 10 {
		bad("margin %v: use a fraction from 0 to 10 (0.1 is +10%%)", g.Margin)
	}
	if !finite(g.MinRequests) || g.MinRequests < 0 {
		bad("minRequests %v: use a number of requests, 0 for the default %d", g.MinRequests, DefaultMinRequests)
	}
	if !finite(g.Tau) || g.Tau < 0 || g.Tau >= 1 {
		bad("tau %v: use a fraction from 0 to 1, 0 for the default", g.Tau)
	}
	if len(errs) == 0 {
		return nil
	}
	name := g.Name
	if strings.TrimSpace(name) == "" {
		name = "(unnamed)"
	}
	return errors.New("guard " + name + ": " + strings.Join(errs, "; "))
}

// signals reports whether the guard can warn or be critical, and so takes
// a share of the analysis's false-alarm rate.
func (g Guard) signals() bool { return g.Metric == ErrorRate || g.Metric == Latency }

func (g Guard) minRequests() float64 {
	if g.MinRequests > 0 {
		return g.MinRequests
	}
	return DefaultMinRequests
}

func (g Guard) quantile() float64 {
	if g.Quantile > 0 {
		return g.Quantile
	}
	return DefaultQuantile
}

// margin returns the relative margin with the metric's default.
func (g Guard) margin() float64 {
	if g.Margin > 0 {
		return g.Margin
	}
	switch g.Metric {
	case Latency:
		return DefaultLatencyMargin
	case Throughput:
		return DefaultThroughputTolerance
	}
	return 0
}
