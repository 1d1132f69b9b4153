// Package latency summarises latencies for the load tools under bench/: a
// log-linear histogram with bounded memory for millions of samples, and
// exact percentiles of a small sorted set.
package latency

import (
	"fmt"
	"math/bits"
	"slices"
	"time"
)

// subBits sets the histogram's precision: each power of two is split into
// 2^(subBits-1) buckets, so a recorded value is off by less than 1/64
// (1.6 %) of itself. Values below 2^subBits ns are exact.
const subBits = 7

const (
	sub     = 1 << subBits
	half    = sub / 2
	buckets = (64-subBits)*half + sub
)

// Histogram counts durations in log-linear buckets, like an HDR histogram
// with two significant digits. It is not safe for concurrent use: give
// each worker its own and Merge them.
type Histogram struct {
	counts [buckets]uint64
	n      uint64
	max    time.Duration
	min    time.Duration
	sum    time.Duration
}

func index(v uint64) int {
	if v < sub {
		return int(v)
	}
	e := bits.Len64(v) - subBits // >= 1
	return e*half + int(v>>e)
}

// lower returns the smallest value of bucket i.
func lower(i int) uint64 {
	if i < sub {
		return uint64(i)
	}
	e := i/half - 1
	m := uint64(i - e*half)
	return m << e
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[index(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.n++
	h.sum += d
	if d > h.max {
		h.max = d
	}
}

// Merge adds every sample of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest sample, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean returns the mean of the samples.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Quantile returns the q-quantile (0 < q <= 1): the upper edge of the
// bucket that holds it, capped at the largest sample, so it never
// understates a latency.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			if i+1 >= buckets {
				return h.max
			}
			return min(time.Duration(lower(i+1)-1), h.max)
		}
	}
	return h.max
}

// Summary is the usual set of figures of a latency distribution.
type Summary struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// Summary returns the histogram's summary.
func (h *Histogram) Summary() Summary {
	return Summary{N: int(h.n), P50: h.Quantile(0.5), P90: h.Quantile(0.9), P99: h.Quantile(0.99), Max: h.max}
}

// Of returns the exact summary of samples (nearest-rank percentiles). It
// sorts samples in place.
func Of(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	slices.Sort(samples)
	return Summary{N: len(samples), P50: Percentile(samples, 50), P90: Percentile(samples, 90), P99: Percentile(samples, 99), Max: samples[len(samples)-1]}
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// String formats the summary on one line.
func (s Summary) String() string {
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s max=%s", s.N, Round(s.P50), Round(s.P90), Round(s.P99), Round(s.Max))
}

// Round rounds d to three significant digits for printing.
func Round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d.Round(100 * time.Nanosecond)
}
