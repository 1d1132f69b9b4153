package rollout

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
)

// BaselineStore is what the controller reads of recorded baselines
// (ramp baseline FLAG --record). GetBaseline fails with ENOTFOUND when
// none was recorded.
type BaselineStore interface {
	GetBaseline(ctx context.Context, flag, env string) (ramp.Baseline, error)
}

// Verdict is a judge verdict as the controller records it in an analysis:
// the judge's verdict, and the stored baseline it was judged against when
// the live baseline arm had too little data. Its JSON is the judge's with
// one more field, so readers of []judge.Verdict read it unchanged.
type Verdict struct {
	judge.Verdict
	// StoredBaseline is the recorded baseline that stood in for the live
	// baseline arm (without its histogram: the verdict's baseline figures
	// hold the quantiles), or nil when the live arm was used.
	StoredBaseline *ramp.Baseline `json:"storedBaseline,omitempty"`
}

// Measure reads what the canary and the baseline variants of flag served
// in env from from to to, from src, as figures: counts, error rate,
// throughput and latency quantiles. It asks src as a rollout's guards
// would (an error-rate guard for the counts, a latency guard for the
// histogram), so the figures are those the judge would see. It fails with
// the source's error, and for a window that does not end after it starts.
func Measure(ctx context.Context, src Source, flag, env, canary, baseline string, from, to time.Time) (c, b ramp.Figures, err error) {
	if !to.After(from) {
		return c, b, fmt.Errorf("the window %v to %v is empty", from, to)
	}
	q := Query{Flag: flag, Environment: env, Canary: canary, Baseline: baseline, From: from, To: to,
		Guard: Guard{Guard: judge.Guard{Name: "baseline-errors", Metric: judge.ErrorRate}}}
	ca, ba, err := src.Arms(ctx, q)
	if err != nil {
		return c, b, err
	}
	q.Guard = Guard{Guard: judge.Guard{Name: "baseline-latency", Metric: judge.Latency}}
	cl, bl, err := src.Arms(ctx, q)
	if err != nil {
		return c, b, err
	}
	ca.Latency, ba.Latency = cl.Latency, bl.Latency
	return figures(canary, ca, from, to), figures(baseline, ba, from, to), nil
}

// figures turns an arm into figures over the window.
func figures(variant string, a judge.Arm, from, to time.Time) ramp.Figures {
	f := ramp.Figures{Variant: variant, From: from, To: to, Requests: finite(a.Requests), Errors: finite(a.Errors)}
	if f.Errors > f.Requests {
		f.Errors = f.Requests
	}
	if f.Requests > 0 {
		f.ErrorRate = f.Errors / f.Requests
	}
	if secs := to.Sub(from).Seconds(); secs > 0 {
		f.Throughput = f.Requests / secs
	}
	if h := a.Latency; h != nil && len(h.Bounds) > 0 && len(h.Bounds) == len(h.Counts) {
		f.Latency = &ramp.Histogram{Bounds: append([]float64(nil), h.Bounds...), Counts: append([]float64(nil), h.Counts...), Count: h.Count}
		if n := len(h.Bounds); math.IsInf(h.Bounds[n-1], 1) {
			// Keep finite bounds only: the count is the +Inf bucket.
			if f.Latency.Count == 0 {
				f.Latency.Count = h.Counts[n-1]
			}
			f.Latency.Bounds, f.Latency.Counts = f.Latency.Bounds[:n-1], f.Latency.Counts[:n-1]
		}
		f.P50, f.P90, f.P99 = finite(h.Quantile(0.5)), finite(h.Quantile(0.9)), finite(h.Quantile(0.99))
	}
	return f
}

func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		return 0
	}
	return x
}

// arm returns the stored baseline as a judge arm: its counts and its
// latency histogram.
func baselineArm(b ramp.Baseline) judge.Arm {
	a := judge.Arm{Requests: b.Requests, Errors: b.Errors}
	if h := b.Latency; h != nil {
		a.Latency = &judge.Histogram{Bounds: h.Bounds, Counts: h.Counts, Count: h.Count}
	}
	return a
}

// wantStored reports whether a guard should be judged against a stored
// baseline: at 100 % (full), where there is no control group any more
// and the live baseline holds only the last reports from before the
// stage; or when the live baseline arm has too little data for the guard
// to decide on (fewer requests, or timed requests for a latency guard,
// than its minimum) while the canary has enough, so that the stored one
// lets the guard decide. Throughput guards compare live shares only.
func wantStored(g judge.Guard, canary, live judge.Arm, full bool) bool {
	min := g.MinRequests
	if min <= 0 {
		min = judge.DefaultMinRequests
	}
	n := func(a judge.Arm) float64 {
		if g.Metric == judge.Latency {
			if a.Latency == nil {
				return 0
			}
			return a.Latency.Count
		}
		return a.Requests
	}
	switch g.Metric {
	case judge.ErrorRate, judge.Latency:
		return full || (!(n(live) >= min) && n(canary) >= min)
	}
	return false
}

// storedBaseline returns the baseline recorded for r that may stand in for
// its live baseline arm: one of the rollout's baseline variant, from the
// plan's source. Anything else (none recorded, a store error, another
// variant or source, whose buckets may differ) gives nil: the live arm is
// used and, short of data, the guard stays inconclusive.
func (c *Controller) storedBaseline(ctx context.Context, r *ramp.Rollout, plan Plan, st State) *ramp.Baseline {
	if c.baselines == nil {
		return nil
	}
	b, err := c.baselines.GetBaseline(ctx, r.Flag, r.Environment)
	if err != nil {
		if ramp.ErrorCode(err) != ramp.ENOTFOUND {
			c.log.Warn("read the stored baseline", "rollout", r.ID, "err", err)
		}
		return nil
	}
	if b.Variant != st.Baseline || b.Source != plan.Source || !(b.Requests > 0) {
		return nil
	}
	return &b
}

// describeStored prefixes the summary of a verdict judged against a
// stored baseline, so that people see at once what it was compared with.
func describeStored(v *judge.Verdict, b *ramp.Baseline) {
	v.Summary = fmt.Sprintf("against the stored baseline of %s (recorded %s over %s from %s): %s",
		b.Variant, b.RecordedAt.UTC().Format("2006-01-02 15:04 MST"), b.To.Sub(b.From).Round(time.Second), b.Source, v.Summary)
}
