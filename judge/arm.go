package judge

import (
	"fmt"
	"math"
	"sort"
)

// Arm is what one side of the comparison (the canary or the baseline)
// served for one guard: counts cumulative since the stage started, such as
// increase(requests_total[<time in stage>]). Counts are float64 because
// Prometheus's increase() extrapolates to fractions.
//
// The sequential test's guarantee holds for cumulative counts. A sliding
// window works too, but then a look no longer carries everything seen
// before it and the false-alarm rate is only approximately Alpha.
type Arm struct {
	// Requests is the number of requests served.
	Requests float64 `json:"requests"`
	// Errors is the number of those requests that failed.
	Errors float64 `json:"errors"`
	// Latency is the latency histogram of the requests, needed by latency
	// guards only.
	Latency *Histogram `json:"latency,omitempty"`
}

// Histogram is a Prometheus-style cumulative histogram: Counts[i]
// observations were at most Bounds[i] seconds, and Count is the total (the
// le="+Inf" bucket). Bounds ascend strictly; counts never decrease. A final
// +Inf bound is accepted and taken as Count.
type Histogram struct {
	// Bounds are the buckets' upper bounds (le), in seconds.
	Bounds []float64 `json:"bounds"`
	// Counts are the cumulative counts of the buckets.
	Counts []float64 `json:"counts"`
	// Count is the number of observations, the +Inf bucket.
	Count float64 `json:"count"`
}

// hist is a checked histogram with finite bounds only.
type hist struct {
	bounds []float64
	cum    []float64
	total  float64
}

// check returns the histogram in a form the judge can compute on, or an
// error that says what is wrong with it.
func (h *Histogram) check() (hist, error) {
	if h == nil {
		return hist{}, fmt.Errorf("no latency histogram")
	}
	if len(h.Bounds) != len(h.Counts) {
		return hist{}, fmt.Errorf("latency histogram has %d bounds and %d counts", len(h.Bounds), len(h.Counts))
	}
	bounds, cum, total := h.Bounds, h.Counts, h.Count
	if n := len(bounds); n > 0 && math.IsInf(bounds[n-1], 1) {
		inf := cum[n-1]
		if total == 0 {
			total = inf
		} else if inf != total {
			return hist{}, fmt.Errorf("latency histogram's +Inf bucket %v differs from its count %v", inf, total)
		}
		bounds, cum = bounds[:n-1], cum[:n-1]
	}
	if !validCount(total) {
		return hist{}, fmt.Errorf("latency histogram count %v is not a count", total)
	}
	if len(bounds) == 0 {
		return hist{}, fmt.Errorf("latency histogram has no finite bucket")
	}
	prevB, prevC := math.Inf(-1), 0.0
	for i, b := range bounds {
		c := cum[i]
		switch {
		case math.IsNaN(b) || math.IsInf(b, 0):
			return hist{}, fmt.Errorf("latency bucket bound %v is not a number", b)
		case b < 0:
			return hist{}, fmt.Errorf("latency bucket bound %v is negative", b)
		case b <= prevB:
			return hist{}, fmt.Errorf("latency bucket bounds are not ascending (%v after %v)", b, prevB)
		case !validCount(c):
			return hist{}, fmt.Errorf("latency bucket le=%v has count %v", b, c)
		case c < prevC:
			return hist{}, fmt.Errorf("latency bucket counts decrease (le=%v has %v, below %v)", b, c, prevC)
		}
		prevB, prevC = b, c
	}
	if prevC > total {
		return hist{}, fmt.Errorf("latency buckets hold %v observations, more than the count %v", prevC, total)
	}
	return hist{bounds: bounds, cum: cum, total: total}, nil
}

// maxCount is the largest count the judge accepts: a million requests a
// second for thirty years. Larger numbers are corrupt data, and would lose
// the precision the arithmetic needs.
const maxCount = 1e15

// validCount reports whether x is a plausible count: a number from 0 to
// maxCount.
func validCount(x float64) bool { return x >= 0 && x <= maxCount }

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) of the observations the
// way Prometheus's histogram_quantile does: linear interpolation inside the
// bucket that holds the rank, 0 as the lower edge of the first bucket, and
// the largest finite bound when the rank falls in the +Inf bucket. It
// returns NaN for an empty or invalid histogram or a q outside [0, 1].
func (h *Histogram) Quantile(q float64) float64 {
	hh, err := h.check()
	if err != nil {
		return math.NaN()
	}
	return hh.quantile(q)
}

func (h hist) quantile(q float64) float64 {
	if !(q >= 0 && q <= 1) || h.total == 0 {
		return math.NaN()
	}
	rank := q * h.total
	i := sort.Search(len(h.cum), func(i int) bool { return h.cum[i] >= rank })
	if i == len(h.cum) {
		return h.bounds[len(h.bounds)-1]
	}
	end := h.bounds[i]
	if i == 0 && end <= 0 {
		return end
	}
	start, below := 0.0, 0.0
	if i > 0 {
		start, below = h.bounds[i-1], h.cum[i-1]
	}
	in := h.cum[i] - below
	if in <= 0 {
		return end
	}
	// The share first: bounds near the largest float64 must not
	// overflow to +Inf, which no verdict can carry in JSON.
	return start + (end-start)*((rank-below)/in)
}

// above returns the share of observations above bound i.
func (h hist) above(i int) float64 { return 1 - h.cum[i]/h.total }

// ceil returns the index of the smallest bound ≥ x, or -1.
func (h hist) ceil(x float64) int {
	i := sort.SearchFloat64s(h.bounds, x)
	if i == len(h.bounds) {
		return -1
	}
	return i
}

// floor returns the index of the largest bound ≤ x, or -1.
func (h hist) floor(x float64) int {
	i := sort.Search(len(h.bounds), func(i int) bool { return h.bounds[i] > x })
	return i - 1
}

// checkArm returns an error when the counts of an arm cannot be right.
func checkArm(a Arm) error {
	switch {
	case math.IsNaN(a.Requests) || math.IsInf(a.Requests, 0):
		return fmt.Errorf("requests is %v", a.Requests)
	case math.IsNaN(a.Errors) || math.IsInf(a.Errors, 0):
		return fmt.Errorf("errors is %v", a.Errors)
	case a.Requests < 0:
		return fmt.Errorf("requests %v is negative (a counter reset?)", a.Requests)
	case a.Errors < 0:
		return fmt.Errorf("errors %v is negative (a counter reset?)", a.Errors)
	case a.Requests > maxCount:
		return fmt.Errorf("requests %v is not a plausible count", a.Requests)
	case a.Errors > a.Requests:
		return fmt.Errorf("errors %v exceed requests %v", a.Errors, a.Requests)
	}
	return nil
}
