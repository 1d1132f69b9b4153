package ramp

import (
	"fmt"
	"math"
	"time"
)

// ActionBaselineRecord is the audit action of a recorded baseline. Its
// audit rows have kind "baseline" and the flag's key.
const ActionBaselineRecord = "baseline.record"

// Figures are what one variant of a flag served over a window: the counts
// and what is derived from them. Latencies are seconds, rates fractions,
// throughput requests per second over the whole window.
type Figures struct {
	// Variant is the variant measured.
	Variant string `json:"variant"`
	// From and To bound the window.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Requests and Errors are the window's counts.
	Requests float64 `json:"requests"`
	Errors   float64 `json:"errors"`
	// ErrorRate is Errors / Requests, 0 without requests.
	ErrorRate float64 `json:"errorRate"`
	// Throughput is Requests per second of the window.
	Throughput float64 `json:"throughput"`
	// P50, P90 and P99 are estimated from the latency histogram (as
	// Prometheus's histogram_quantile does); 0 when nothing was timed.
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	// Latency is the histogram the quantiles come from, nil when the
	// source gave none.
	Latency *Histogram `json:"latency,omitempty"`
}

// Baseline is what a flag's traffic looked like in one environment before
// its rollout: the figures of the variant the flag serves when off, over
// a window, recorded from a metric source. The rollout controller gives
// them to the judge when the live baseline arm has too little data, as in
// a stage at 100 % where nobody is served the off variant any more.
type Baseline struct {
	Flag        string `json:"flag"`
	Environment string `json:"environment"`
	// Source is the metric source the figures come from: "sdk" or
	// "prometheus".
	Source string `json:"source"`
	Figures
	RecordedBy string    `json:"recordedBy,omitempty"`
	RecordedAt time.Time `json:"recordedAt,omitzero"`
}

// Validate checks a baseline before it is stored and returns an EINVALID
// *Error naming each problem, or nil.
func (b *Baseline) Validate() error {
	var v validator
	v.key("flag", b.Flag)
	v.key("environment", b.Environment)
	v.key("variant", b.Variant)
	switch b.Source {
	case "sdk", "prometheus":
	default:
		v.add("source", "%q: use sdk or prometheus", b.Source)
	}
	if b.From.IsZero() || b.To.IsZero() || !b.To.After(b.From) {
		v.add("to", "the window %v to %v is empty: it must end after it starts", b.From, b.To)
	}
	reqOK := v.count("requests", b.Requests)
	if v.count("errors", b.Errors) && reqOK && b.Errors > b.Requests {
		v.add("errors", "%v errors exceed the %v requests", b.Errors, b.Requests)
	}
	for _, f := range []struct {
		name string
		x    float64
	}{{"errorRate", b.ErrorRate}, {"throughput", b.Throughput}, {"p50", b.P50}, {"p90", b.P90}, {"p99", b.P99}} {
		if math.IsNaN(f.x) || math.IsInf(f.x, 0) || f.x < 0 {
			v.add(f.name, "%v is not a figure: use a finite number, 0 or more", f.x)
		}
	}
	if b.ErrorRate > 1 {
		v.add("errorRate", "%v is above 1", b.ErrorRate)
	}
	if h := b.Latency; h != nil {
		if len(h.Bounds) == 0 || len(h.Bounds) != len(h.Counts) {
			v.add("latency", "has %d bounds and %d counts; give one count per bound", len(h.Bounds), len(h.Counts))
		} else {
			prevB, prevC := math.Inf(-1), 0.0
			for i, bound := range h.Bounds {
				if math.IsNaN(bound) || bound <= prevB {
					v.add(fmt.Sprintf("latency.bounds[%d]", i), "%v does not rise above %v", bound, prevB)
					break
				}
				if !v.count(fmt.Sprintf("latency.counts[%d]", i), h.Counts[i]) {
					break
				}
				if h.Counts[i] < prevC {
					v.add(fmt.Sprintf("latency.counts[%d]", i), "%v is below the previous bucket's %v: counts are cumulative", h.Counts[i], prevC)
					break
				}
				prevB, prevC = bound, h.Counts[i]
			}
			if v.count("latency.count", h.Count) && h.Count < prevC && !math.IsInf(prevB, 1) {
				v.add("latency.count", "%v is below the last bucket's %v", h.Count, prevC)
			}
		}
	}
	return v.err("baseline")
}
