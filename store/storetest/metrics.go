package storetest

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

// t0 is the time the counts tests report at: a whole second.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// counts returns an entry whose latency histogram puts fast of its
// requests at or under the first bound from 100 ms (0.108), and every one
// at or under the first bound from 1 s (1.02).
func counts(flag, variant string, requests, errors, fast float64) ramp.Counts {
	h := &ramp.Histogram{Bounds: ramp.LatencyBounds(), Counts: make([]float64, ramp.NumLatencyBuckets), Count: requests}
	for i, b := range h.Bounds {
		switch {
		case b >= 1:
			h.Counts[i] = requests
		case b >= 0.1:
			h.Counts[i] = fast
		}
	}
	return ramp.Counts{Flag: flag, Variant: variant, Requests: requests, Errors: errors, Latency: h}
}

func mustAddCounts(t *testing.T, s Store, env string, at time.Time, cs ...ramp.Counts) {
	t.Helper()
	if err := s.AddCounts(t.Context(), env, at, cs); err != nil {
		t.Fatalf("AddCounts(%s, %v): %v", env, at, err)
	}
}

func mustSumCounts(t *testing.T, s Store, flag, env, variant string, from, to time.Time) ramp.Counts {
	t.Helper()
	c, err := s.SumCounts(t.Context(), flag, env, variant, from, to)
	if err != nil {
		t.Fatalf("SumCounts(%s, %s, %s, %v, %v): %v", flag, env, variant, from, to, err)
	}
	return c
}

// wantCounts fails the test unless got holds the requests, errors, and a
// latency histogram with the fixed bounds, count observed, and cumulative
// bucket counts buckets.
func wantCounts(t *testing.T, what string, got ramp.Counts, requests, errors, observed float64, buckets []float64) {
	t.Helper()
	if got.Requests != requests || got.Errors != errors {
		t.Errorf("%s: requests %v errors %v, want %v and %v", what, got.Requests, got.Errors, requests, errors)
	}
	if got.Latency == nil {
		t.Errorf("%s: no latency histogram, want one (zeros when nothing was timed)", what)
		return
	}
	if !slices.Equal(got.Latency.Bounds, ramp.LatencyBounds()) {
		t.Errorf("%s: latency bounds %v, want %v", what, got.Latency.Bounds, ramp.LatencyBounds())
	}
	if got.Latency.Count != observed {
		t.Errorf("%s: latency count %v, want %v", what, got.Latency.Count, observed)
	}
	if buckets == nil {
		buckets = make([]float64, ramp.NumLatencyBuckets)
	}
	if !slices.Equal(got.Latency.Counts, buckets) {
		t.Errorf("%s: latency buckets %v, want %v", what, got.Latency.Counts, buckets)
	}
}

// testCountsAddAndSum checks that counts add up per flag, environment,
// variant and second, and that sums cover whole seconds of the window,
// both ends included.
func testCountsAddAndSum(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	end := t0.Add(time.Hour)

	empty := mustSumCounts(t, s, "checkout", "production", "on", t0, end)
	wantCounts(t, "no counts yet", empty, 0, 0, 0, nil)
	if empty.Flag != "checkout" || empty.Variant != "on" {
		t.Errorf("no counts yet: flag %q variant %q, want checkout and on", empty.Flag, empty.Variant)
	}

	mustAddCounts(t, s, "production", t0, counts("checkout", "on", 100, 3, 90), counts("checkout", "off", 1000, 5, 990))
	// The same second again, with a fraction: added to the same row.
	mustAddCounts(t, s, "production", t0.Add(999*time.Millisecond), counts("checkout", "on", 20.5, 1, 10))
	mustAddCounts(t, s, "production", t0.Add(10*time.Second), counts("checkout", "on", 30, 0, 30))
	// Other flags, environments and variants do not mix in.
	mustAddCounts(t, s, "staging", t0, counts("checkout", "on", 7, 7, 7))
	mustAddCounts(t, s, "production", t0, counts("search", "on", 9, 9, 9), counts("checkout", "blue", 11, 0, 11))

	onBuckets := func(req, fast float64) []float64 {
		return counts("x", "y", req, 0, fast).Latency.Counts
	}
	wantCounts(t, "on over the hour", mustSumCounts(t, s, "checkout", "production", "on", t0, end), 150.5, 4, 150.5, onBuckets(150.5, 130))
	wantCounts(t, "off over the hour", mustSumCounts(t, s, "checkout", "production", "off", t0, end), 1000, 5, 1000, onBuckets(1000, 990))
	wantCounts(t, "staging", mustSumCounts(t, s, "checkout", "staging", "on", t0, end), 7, 7, 7, onBuckets(7, 7))

	// Windows cover whole seconds: a window inside t0's second sees all of
	// it, one that starts just after t0+10s's second misses it.
	wantCounts(t, "t0's second", mustSumCounts(t, s, "checkout", "production", "on", t0.Add(500*time.Millisecond), t0.Add(600*time.Millisecond)), 120.5, 4, 120.5, onBuckets(120.5, 100))
	wantCounts(t, "up to t0+10s", mustSumCounts(t, s, "checkout", "production", "on", t0, t0.Add(10*time.Second)), 150.5, 4, 150.5, onBuckets(150.5, 130))
	wantCounts(t, "from t0+1s", mustSumCounts(t, s, "checkout", "production", "on", t0.Add(time.Second), end), 30, 0, 30, onBuckets(30, 30))
	wantCounts(t, "after t0+10s", mustSumCounts(t, s, "checkout", "production", "on", t0.Add(11*time.Second), end), 0, 0, 0, nil)
	wantCounts(t, "before t0", mustSumCounts(t, s, "checkout", "production", "on", t0.Add(-time.Hour), t0.Add(-time.Second)), 0, 0, 0, nil)

	if _, err := s.SumCounts(t.Context(), "checkout", "production", "on", end, t0); err == nil {
		t.Error("SumCounts with the window's end before its start: no error")
	} else {
		wantCode(t, err, ramp.EINVALID)
	}

	// Empty counts are a no-op.
	if err := s.AddCounts(t.Context(), "production", t0, nil); err != nil {
		t.Errorf("AddCounts(nil): %v", err)
	}
}

// testCountsWithoutLatency checks counts reported without a histogram:
// they add requests and errors, and no latency observations.
func testCountsWithoutLatency(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	mustAddCounts(t, s, "production", t0, ramp.Counts{Flag: "checkout", Variant: "on", Requests: 40, Errors: 2})
	mustAddCounts(t, s, "production", t0.Add(time.Second), counts("checkout", "on", 10, 0, 10))
	got := mustSumCounts(t, s, "checkout", "production", "on", t0, t0.Add(time.Minute))
	wantCounts(t, "mixed", got, 50, 2, 10, counts("x", "y", 10, 0, 10).Latency.Counts)
}

// testCountsZeroTime checks that counts reported at the zero time are
// stored at the store's now.
func testCountsZeroTime(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	before := time.Now().Add(-time.Second)
	mustAddCounts(t, s, "production", time.Time{}, counts("checkout", "on", 5, 1, 5))
	after := time.Now().Add(time.Second)
	wantCounts(t, "now", mustSumCounts(t, s, "checkout", "production", "on", before, after), 5, 1, 5, counts("x", "y", 5, 0, 5).Latency.Counts)
}

// testCountsValidation checks that a report with one bad entry is refused
// whole, with a field error naming it.
func testCountsValidation(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	good := counts("checkout", "on", 10, 1, 10)
	badBounds := counts("checkout", "off", 10, 1, 10)
	badBounds.Latency.Bounds = []float64{0.1, 1, 10}
	badBounds.Latency.Counts = []float64{1, 2, 3}
	decreasing := counts("checkout", "off", 10, 1, 10)
	decreasing.Latency.Counts[len(decreasing.Latency.Counts)-1] = 1
	tooMany := make([]ramp.Counts, ramp.MaxCountsEntries+1)
	for i := range tooMany {
		tooMany[i] = counts("checkout", fmt.Sprintf("v%d", i), 1, 0, 1)
	}
	for _, tc := range []struct {
		name  string
		env   string
		entry ramp.Counts
		all   []ramp.Counts
		field string
	}{
		{name: "negative requests", entry: ramp.Counts{Flag: "checkout", Variant: "off", Requests: -1}, field: "counts[1].requests"},
		{name: "NaN errors", entry: ramp.Counts{Flag: "checkout", Variant: "off", Requests: 1, Errors: math.NaN()}, field: "counts[1].errors"},
		{name: "infinite requests", entry: ramp.Counts{Flag: "checkout", Variant: "off", Requests: math.Inf(1)}, field: "counts[1].requests"},
		{name: "errors above requests", entry: ramp.Counts{Flag: "checkout", Variant: "off", Requests: 1, Errors: 2}, field: "counts[1].errors"},
		{name: "bad flag key", entry: ramp.Counts{Flag: "Check Out", Variant: "off", Requests: 1}, field: "counts[1].flag"},
		{name: "no variant", entry: ramp.Counts{Flag: "checkout", Requests: 1}, field: "counts[1].variant"},
		{name: "duplicate", entry: good, field: "counts[1]"},
		{name: "other bounds", entry: badBounds, field: "counts[1].latency.bounds"},
		{name: "decreasing buckets", entry: decreasing, field: fmt.Sprintf("counts[1].latency.counts[%d]", ramp.NumLatencyBuckets-1)},
		{name: "bad environment", env: "Prod!", entry: counts("checkout", "off", 1, 0, 1), field: "environment"},
		{name: "too many entries", all: tooMany, field: "counts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			if env == "" {
				env = "production"
			}
			all := tc.all
			if all == nil {
				all = []ramp.Counts{good, tc.entry}
			}
			e := wantCode(t, s.AddCounts(t.Context(), env, t0, all), ramp.EINVALID)
			if !slices.ContainsFunc(e.Fields, func(f ramp.FieldError) bool { return f.Field == tc.field }) {
				t.Errorf("fields %+v do not name %s", e.Fields, tc.field)
			}
			wantCounts(t, "after a refused report", mustSumCounts(t, s, "checkout", "production", "on", t0, t0), 0, 0, 0, nil)
		})
	}
}

// testCountsAreNotChanges checks that counts write no audit entry and do
// not appear in the change feed.
func testCountsAreNotChanges(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	mustCreateFlag(t, s, newFlag("checkout"))
	feed, err := s.Changes(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	noAudit(t, s, "AddCounts and PruneCounts", func() {
		mustAddCounts(t, s, "production", t0, counts("checkout", "on", 10, 1, 10))
		if _, err := s.PruneCounts(t.Context(), t0.Add(time.Hour)); err != nil {
			t.Fatalf("PruneCounts: %v", err)
		}
	})
	after, err := s.Changes(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(feed) {
		t.Errorf("the change feed grew from %d to %d entries", len(feed), len(after))
	}
}

// testCountsPrune checks that pruning deletes whole seconds before its
// time, however far back they go, and keeps the rest.
func testCountsPrune(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	// Counts a second apart around the cut, and a backlog of old counts
	// spread over more than a pruning batch.
	for i := range 50 {
		mustAddCounts(t, s, "production", t0.Add(-time.Duration(i)*37*time.Minute), counts("checkout", "on", 1, 0, 1))
	}
	mustAddCounts(t, s, "production", t0.Add(time.Second), counts("checkout", "on", 10, 0, 10))
	mustAddCounts(t, s, "staging", t0.Add(2*time.Second), counts("checkout", "on", 100, 0, 100))

	n, err := s.PruneCounts(t.Context(), t0.Add(time.Second+500*time.Millisecond))
	if err != nil {
		t.Fatalf("PruneCounts: %v", err)
	}
	if n != 50 {
		t.Errorf("PruneCounts deleted %d rows, want 50", n)
	}
	far := t0.Add(-100 * time.Hour)
	wantCounts(t, "production after pruning", mustSumCounts(t, s, "checkout", "production", "on", far, t0.Add(time.Hour)), 10, 0, 10, counts("x", "y", 10, 0, 10).Latency.Counts)
	wantCounts(t, "staging after pruning", mustSumCounts(t, s, "checkout", "staging", "on", far, t0.Add(time.Hour)), 100, 0, 100, counts("x", "y", 100, 0, 100).Latency.Counts)
	if n, err := s.PruneCounts(t.Context(), t0.Add(time.Second)); err != nil || n != 0 {
		t.Errorf("PruneCounts again = %d, %v; want 0, nil", n, err)
	}
}

// testCountsConcurrent checks that concurrent reports for the same second
// all count.
func testCountsConcurrent(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	const writers, reports = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*reports)
	for range writers {
		wg.Go(func() {
			for range reports {
				if err := s.AddCounts(t.Context(), "production", t0, []ramp.Counts{counts("checkout", "on", 3, 1, 2)}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("AddCounts: %v", err)
	}
	const n = writers * reports
	wantCounts(t, "after concurrent reports", mustSumCounts(t, s, "checkout", "production", "on", t0, t0), 3*n, n, 3*n, counts("x", "y", 3*n, 0, 2*n).Latency.Counts)
}

// testCountsEveryBucket checks that each of the ramp.NumLatencyBuckets
// buckets is kept apart and adds up: a histogram whose cumulative count
// rises at every bound comes back bucket for bucket, twice over after two
// reports.
func testCountsEveryBucket(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	h := &ramp.Histogram{Bounds: ramp.LatencyBounds(), Counts: make([]float64, ramp.NumLatencyBuckets)}
	for i := range h.Counts {
		h.Counts[i] = float64(i+1) * 1.5
	}
	h.Count = h.Counts[len(h.Counts)-1] + 1 // one above the last bound
	c := ramp.Counts{Flag: "checkout", Variant: "on", Requests: h.Count, Latency: h}
	mustAddCounts(t, s, "production", t0, c)
	mustAddCounts(t, s, "production", t0.Add(time.Second), c)
	twice := make([]float64, len(h.Counts))
	for i, n := range h.Counts {
		twice[i] = 2 * n
	}
	wantCounts(t, "two reports", mustSumCounts(t, s, "checkout", "production", "on", t0, t0.Add(time.Second)), 2*h.Count, 0, 2*h.Count, twice)
}
