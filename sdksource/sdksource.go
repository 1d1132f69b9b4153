// Package sdksource is the metric source of guarded rollouts that needs no
// Prometheus: it answers the rollout controller's question "what did the
// canary and the baseline serve during this stage?" from the counts the
// SDKs report to the server (POST /sdk/v1/metrics), as the store sums them.
//
// The counts of a variant are cumulative over the window, as the judge
// wants them: the requests, errors and latency histogram of every report
// that arrived from the window's start up to the last whole second before
// its end. The second in progress is left out of both arms alike, so that a
// report arriving between the two reads cannot count for one arm only; the
// next analysis takes it. SDKs report every few seconds (ten by default),
// so the figures trail the traffic by about that much.
//
// No counts is not an error: the arms come back empty and the judge finds
// them inconclusive (too little data). A store that cannot be read is an
// error, which holds the rollout too.
package sdksource

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

var _ rollout.Source = (*Source)(nil)

// Store is what the source needs of storage: the sum of the counts one
// variant of a flag reported in an environment, over whole seconds from
// from to to, both included.
type Store interface {
	SumCounts(ctx context.Context, flag, env, variant string, from, to time.Time) (ramp.Counts, error)
}

// Source is the SDK-reported counts metric source. It implements
// rollout.Source and is safe for concurrent use if its store is.
type Source struct {
	store Store
}

// New returns a Source reading st.
func New(st Store) *Source {
	return &Source{store: st}
}

// Arms returns the canary's and the baseline's counts over q's window.
// Every guard gets the requests, errors and latency histogram (the buckets
// of ramp.LatencyBounds, zero counts when nothing was timed). A window
// shorter than a whole second gives empty arms. It fails for a query that
// names no flag, environment, variants or window, and with the store's
// error, wrapped, when the store cannot be read.
func (s *Source) Arms(ctx context.Context, q rollout.Query) (canary, baseline judge.Arm, err error) {
	switch {
	case q.Flag == "" || q.Environment == "":
		return canary, baseline, errors.New("sdk source: the query names no flag or no environment")
	case q.Canary == "" || q.Baseline == "":
		return canary, baseline, errors.New("sdk source: the query names no canary or no baseline variant")
	case q.From.IsZero() || q.To.IsZero():
		return canary, baseline, errors.New("sdk source: the query has no window")
	}
	// Up to the last whole second: see the package comment.
	to := q.To.Truncate(time.Second).Add(-time.Nanosecond)
	if to.Unix() < q.From.Unix() {
		return emptyArm(), emptyArm(), nil
	}
	if canary, err = s.arm(ctx, q, q.Canary, to); err != nil {
		return judge.Arm{}, judge.Arm{}, err
	}
	if baseline, err = s.arm(ctx, q, q.Baseline, to); err != nil {
		return judge.Arm{}, judge.Arm{}, err
	}
	return canary, baseline, nil
}

func (s *Source) arm(ctx context.Context, q rollout.Query, variant string, to time.Time) (judge.Arm, error) {
	c, err := s.store.SumCounts(ctx, q.Flag, q.Environment, variant, q.From, to)
	if err != nil {
		return judge.Arm{}, fmt.Errorf("sdk source: read the counts of %s variant %s: %w", q.Flag, variant, err)
	}
	a := judge.Arm{Requests: c.Requests, Errors: c.Errors}
	if h := c.Latency; h != nil {
		a.Latency = &judge.Histogram{Bounds: h.Bounds, Counts: h.Counts, Count: h.Count}
	} else {
		a.Latency = emptyArm().Latency
	}
	return a, nil
}

// emptyArm returns an arm without data whose latency histogram has the
// SDK buckets and zero counts, so that a latency guard says "too little
// data" rather than "no histogram".
func emptyArm() judge.Arm {
	return judge.Arm{Latency: &judge.Histogram{Bounds: ramp.LatencyBounds(), Counts: make([]float64, ramp.NumLatencyBuckets)}}
}
