package ramp

import (
	"fmt"
	"math"
	"slices"
)

// NumLatencyBuckets is the number of finite latency buckets SDKs measure
// with: the bounds LatencyBounds returns.
const NumLatencyBuckets = 65

// latencyBounds are the latency buckets' upper bounds, in seconds: from
// 1 ms to 65.5 s, each 2^¼ (about 19 %) above the last, rounded to three
// significant digits, the spacing of a Prometheus native histogram of
// schema 2. They are fixed, and part of the stable contract of
// docs/metrics.md, so that counts reported by any number of SDKs add up
// bucket by bucket, and so that the histogram the SDK exposes to
// Prometheus is the one the guard templates and dashboards read. They are
// fine enough for a latency guard with a +10 % margin to decide
// (docs/judge.md).
var latencyBounds = [NumLatencyBuckets]float64{
	0.001, 0.00119, 0.00141, 0.00168, 0.002, 0.00238, 0.00283, 0.00336,
	0.004, 0.00476, 0.00566, 0.00673, 0.008, 0.00951, 0.0113, 0.0135,
	0.016, 0.019, 0.0226, 0.0269, 0.032, 0.0381, 0.0453, 0.0538,
	0.064, 0.0761, 0.0905, 0.108, 0.128, 0.152, 0.181, 0.215,
	0.256, 0.304, 0.362, 0.431, 0.512, 0.609, 0.724, 0.861,
	1.02, 1.22, 1.45, 1.72, 2.05, 2.44, 2.9, 3.44,
	4.1, 4.87, 5.79, 6.89, 8.19, 9.74, 11.6, 13.8,
	16.4, 19.5, 23.2, 27.6, 32.8, 39, 46.3, 55.1,
	65.5,
}

// legacyLatencyBounds are the 11 latency buckets of earlier SDKs,
// client_golang's default buckets (.005 to 10 s, 2 to 2.5 times apart).
// Servers refuse reports with them, saying so: they are too coarse for a
// latency guard and do not add up with the current buckets.
var legacyLatencyBounds = [...]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// LatencyBounds returns the upper bounds, in seconds, of the latency
// buckets that SDKs report and expose: the 65 bounds from 0.001 to 65.5 of
// docs/metrics.md, each about 2^¼ times the last. It returns a new slice
// on every call.
func LatencyBounds() []float64 {
	b := latencyBounds
	return b[:]
}

// MaxCountsEntries is the largest number of entries one report of counts
// may hold.
const MaxCountsEntries = 1000

// maxCountsProblems bounds the field errors of one report, so that a
// report of a thousand bad entries does not get an answer larger than
// itself.
const maxCountsProblems = 50

// maxCount is the largest count accepted: a million requests a second for
// thirty years. Larger numbers are corrupt data.
const maxCount = 1e15

// Counts are what one variant of one flag served over some time: the
// requests its code path handled, how many of them failed, and how long
// they took. SDKs report them per report interval; the store adds them up
// per second; the SDK metric source sums them over a rollout's window.
// They are float64 like the judge's figures, so that any source fits.
type Counts struct {
	Flag    string `json:"flag"`
	Variant string `json:"variant"`
	// Requests is the number of requests served.
	Requests float64 `json:"requests"`
	// Errors is how many of those requests failed.
	Errors float64 `json:"errors"`
	// Latency is the histogram of the requests' durations, or nil if they
	// were not timed.
	Latency *Histogram `json:"latency,omitempty"`
}

// Histogram is a cumulative latency histogram in the convention of
// Prometheus and of the judge: Counts[i] observations took at most
// Bounds[i] seconds, and Count is the number of observations (the
// le="+Inf" bucket). Reported histograms must have exactly the bounds of
// LatencyBounds.
type Histogram struct {
	// Bounds are the buckets' upper bounds, in seconds, ascending.
	Bounds []float64 `json:"bounds"`
	// Counts are the cumulative counts of the buckets; they never
	// decrease.
	Counts []float64 `json:"counts"`
	// Count is the number of observations: at least the last bucket's
	// count, and at most the requests of the Counts it belongs to.
	Count float64 `json:"count"`
}

// ValidateCounts checks a report of counts and returns an EINVALID *Error
// naming each problem (as counts[i].field), or nil. Flags and variants must
// be valid keys, each (flag, variant) may appear once, every number must
// be finite, non-negative and at most 1e15, errors may not exceed
// requests, and a latency histogram must have the bounds of LatencyBounds,
// cumulative counts that never decrease, and a count from its last bucket
// up to the requests. At most MaxCountsEntries entries are accepted.
func ValidateCounts(counts []Counts) error {
	var v validator
	if len(counts) > MaxCountsEntries {
		v.add("counts", "holds %d entries; the limit is %d: send them in several reports", len(counts), MaxCountsEntries)
		return v.err("counts")
	}
	type pair struct{ flag, variant string }
	seen := make(map[pair]bool, len(counts))
	for i, c := range counts {
		field := fmt.Sprintf("counts[%d]", i)
		if len(v.fields) >= maxCountsProblems {
			v.add("counts", "more problems follow; fix these first")
			break
		}
		v.key(field+".flag", c.Flag)
		v.key(field+".variant", c.Variant)
		if p := (pair{c.Flag, c.Variant}); seen[p] {
			v.add(field, "flag %q variant %q appears twice; send one entry per variant", c.Flag, c.Variant)
		} else {
			seen[p] = true
		}
		reqOK := v.count(field+".requests", c.Requests)
		if v.count(field+".errors", c.Errors) && reqOK && c.Errors > c.Requests {
			v.add(field+".errors", "%v errors exceed the %v requests", c.Errors, c.Requests)
		}
		if c.Latency != nil {
			v.histogram(field+".latency", c.Latency, c.Requests)
		}
	}
	return v.err("counts")
}

// count checks one count and reports whether it is usable.
func (v *validator) count(field string, x float64) bool {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		v.add(field, "%v is not a number", x)
	case x < 0:
		v.add(field, "%v is negative", x)
	case x > maxCount:
		v.add(field, "%v is not a plausible count (the limit is 1e15)", x)
	default:
		return true
	}
	return false
}

func (v *validator) histogram(field string, h *Histogram, requests float64) {
	if len(h.Bounds) != NumLatencyBuckets || !sameBounds(h.Bounds) {
		if slices.Equal(h.Bounds, legacyLatencyBounds[:]) {
			v.add(field+".bounds", "are the 11 buckets of an older ramp SDK (5ms to 10s), which this server no longer accepts: upgrade the SDK to one that reports the %d buckets from 1ms to 65.5s of docs/metrics.md", NumLatencyBuckets)
		} else {
			v.add(field+".bounds", "must be the %d SDK buckets from 1ms to 65.5s of docs/metrics.md (ramp.LatencyBounds); got %d bounds", NumLatencyBuckets, len(h.Bounds))
		}
		return
	}
	if len(h.Counts) != len(h.Bounds) {
		v.add(field+".counts", "has %d counts for %d bounds", len(h.Counts), len(h.Bounds))
		return
	}
	prev := 0.0
	for i, c := range h.Counts {
		f := fmt.Sprintf("%s.counts[%d]", field, i)
		if !v.count(f, c) {
			return
		}
		if c < prev {
			v.add(f, "%v is below the previous bucket's %v: counts are cumulative", c, prev)
			return
		}
		prev = c
	}
	if !v.count(field+".count", h.Count) {
		return
	}
	switch {
	case h.Count < prev:
		v.add(field+".count", "%v is below the last bucket's %v", h.Count, prev)
	case h.Count > requests:
		v.add(field+".count", "%v observations exceed the %v requests", h.Count, requests)
	}
}

func sameBounds(b []float64) bool {
	for i, x := range b {
		if x != latencyBounds[i] {
			return false
		}
	}
	return true
}
