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
//
// A stage's window grows with every analysis, and the store keeps a row per
// second: summing a day-long stage anew each minute would read 86,400 rows
// per variant. The source remembers, per variant and window start, the sum
// of the seconds that are settled (older than Settle before the window's
// end, when no report can land in them any more) and reads only the
// seconds after them.
package sdksource

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// Settle is how long after a second its counts are final. The server
// counts a report in the second it arrived, by the clock of the replica
// that took it, so a second can still grow while that report is written
// or while the replicas' clocks disagree; 30 s covers both with a wide
// margin.
const Settle = 30 * time.Second

// forgetAfter is how long a remembered sum is kept without being read:
// the stage has ended, or the rollout. At most maxSums are kept (a caller
// whose window slides, such as the live baseline, never reads one twice);
// beyond that the least recently read is forgotten.
const (
	forgetAfter = time.Hour
	maxSums     = 1024
)

// Source is the SDK-reported counts metric source. It implements
// rollout.Source and is safe for concurrent use if its store is.
type Source struct {
	store Store

	mu   sync.Mutex
	sums map[sumKey]*sum
}

// sumKey names the window of one variant, by its first second.
type sumKey struct {
	flag, env, variant string
	from               int64
}

// sum is the counts of a window's settled seconds, from its first up to
// last, both included.
type sum struct {
	last   int64
	counts ramp.Counts
	read   time.Time
}

// New returns a Source reading st.
func New(st Store) *Source {
	return &Source{store: st, sums: map[sumKey]*sum{}}
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
	c, err := s.counts(ctx, sumKey{flag: q.Flag, env: q.Environment, variant: variant, from: q.From.Unix()}, to.Unix())
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

// counts returns the sum of k's counts from the second k.from to the
// second to: the remembered sum of the settled seconds, the settled
// seconds after it (which it then remembers), and the seconds after those.
func (s *Source) counts(ctx context.Context, k sumKey, to int64) (ramp.Counts, error) {
	now := time.Now()
	s.mu.Lock()
	var have sum
	next := k.from // the first second not in have
	if p := s.sums[k]; p != nil && p.last <= to {
		have, next = *p, p.last+1
	}
	for key, p := range s.sums {
		if now.Sub(p.read) > forgetAfter {
			delete(s.sums, key)
		}
	}
	s.mu.Unlock()

	if settled := to - int64(Settle/time.Second); settled >= next {
		c, err := s.store.SumCounts(ctx, k.flag, k.env, k.variant, time.Unix(next, 0), time.Unix(settled, 0))
		if err != nil {
			return ramp.Counts{}, err
		}
		have = sum{last: settled, counts: addCounts(have.counts, c)}
		next = settled + 1
	}
	if have.last != 0 {
		have.read = now
		s.mu.Lock()
		if p := s.sums[k]; p == nil || p.last <= have.last {
			if p == nil && len(s.sums) >= maxSums {
				s.forgetOldestLocked()
			}
			s.sums[k] = &have
		}
		s.mu.Unlock()
	}
	if to < next {
		return addCounts(have.counts, ramp.Counts{}), nil // a copy: have is remembered
	}
	c, err := s.store.SumCounts(ctx, k.flag, k.env, k.variant, time.Unix(next, 0), time.Unix(to, 0))
	if err != nil {
		return ramp.Counts{}, err
	}
	return addCounts(have.counts, c), nil
}

// forgetOldestLocked forgets the least recently read sum. s.mu is held.
func (s *Source) forgetOldestLocked() {
	var oldest sumKey
	var at time.Time
	for k, p := range s.sums {
		if at.IsZero() || p.read.Before(at) {
			oldest, at = k, p.read
		}
	}
	delete(s.sums, oldest)
}

// addCounts returns a + b in new memory: a may be remembered.
func addCounts(a, b ramp.Counts) ramp.Counts {
	out := ramp.Counts{Flag: b.Flag, Variant: b.Variant, Requests: a.Requests + b.Requests, Errors: a.Errors + b.Errors}
	switch ha, hb := a.Latency, b.Latency; {
	case ha == nil && hb == nil:
	case ha == nil || hb == nil || len(ha.Counts) != len(hb.Counts):
		h := hb
		if h == nil {
			h = ha
		}
		out.Latency = &ramp.Histogram{Bounds: h.Bounds, Counts: append([]float64(nil), h.Counts...), Count: h.Count}
	default:
		cs := make([]float64, len(ha.Counts))
		for i := range cs {
			cs[i] = ha.Counts[i] + hb.Counts[i]
		}
		out.Latency = &ramp.Histogram{Bounds: hb.Bounds, Counts: cs, Count: ha.Count + hb.Count}
	}
	return out
}

// emptyArm returns an arm without data whose latency histogram has the
// SDK buckets and zero counts, so that a latency guard says "too little
// data" rather than "no histogram".
func emptyArm() judge.Arm {
	return judge.Arm{Latency: &judge.Histogram{Bounds: ramp.LatencyBounds(), Counts: make([]float64, ramp.NumLatencyBuckets)}}
}
