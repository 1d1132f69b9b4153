package storetest

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

// BaselineStore is what a store offers for baselines (ramp baseline). It
// is declared apart from Store so that a driver that lacks it still
// compiles; the baseline tests then fail, saying what is missing.
type BaselineStore interface {
	SaveBaseline(ctx context.Context, c ramp.Change, b ramp.Baseline) (ramp.Baseline, error)
	GetBaseline(ctx context.Context, flag, env string) (ramp.Baseline, error)
}

// baselines returns s as a BaselineStore, or fails the test.
func baselines(t *testing.T, s Store) BaselineStore {
	t.Helper()
	bs, ok := s.(BaselineStore)
	if !ok {
		t.Fatalf("the store (%T) has no SaveBaseline and GetBaseline methods", s)
	}
	return bs
}

// newBaseline returns a valid baseline of flag in production: 1,000
// requests over an hour, 5 errors, every request within 100 ms and half
// within 25 ms.
func newBaseline(flag string) ramp.Baseline {
	h := &ramp.Histogram{Bounds: ramp.LatencyBounds(), Counts: make([]float64, ramp.NumLatencyBuckets), Count: 1000}
	for i, b := range h.Bounds {
		switch {
		case b >= 0.1:
			h.Counts[i] = 1000
		case b >= 0.025:
			h.Counts[i] = 500
		}
	}
	return ramp.Baseline{
		Flag: flag, Environment: "production", Source: "sdk",
		Figures: ramp.Figures{
			Variant: "off", From: t0, To: t0.Add(time.Hour),
			Requests: 1000, Errors: 5, ErrorRate: 0.005, Throughput: 1000.0 / 3600,
			P50: 0.025, P90: 0.085, P99: 0.0985, Latency: h,
		},
	}
}

// testBaselines checks that a baseline is stored whole, replaced by the
// next recording, audited each time, and kept apart per environment.
func testBaselines(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	bs := baselines(t, s)
	ctx := t.Context()
	mustCreateFlag(t, s, newFlag("checkout"))

	if _, err := bs.GetBaseline(ctx, "checkout", "production"); err == nil {
		t.Fatal("GetBaseline before any recording: no error, want ENOTFOUND")
	} else {
		wantCode(t, err, ramp.ENOTFOUND)
	}

	first := newBaseline("checkout")
	saved, err := bs.SaveBaseline(ctx, change("alice"), first)
	if err != nil {
		t.Fatalf("SaveBaseline: %v", err)
	}
	if saved.RecordedBy != "alice" || saved.RecordedAt.IsZero() {
		t.Errorf("saved baseline recorded by %q at %v; want alice and a time", saved.RecordedBy, saved.RecordedAt)
	}
	got, err := bs.GetBaseline(ctx, "checkout", "production")
	if err != nil {
		t.Fatalf("GetBaseline: %v", err)
	}
	if g, w := jsonString(t, got), jsonString(t, saved); g != w {
		t.Errorf("GetBaseline:\n got %s\nwant %s", g, w)
	}
	if !got.From.Equal(first.From) || got.Latency == nil || !slices.Equal(got.Latency.Counts, first.Latency.Counts) || !slices.Equal(got.Latency.Bounds, first.Latency.Bounds) || got.P99 != 0.0985 {
		t.Errorf("GetBaseline lost figures: %+v", got.Figures)
	}

	second := newBaseline("checkout")
	second.Source, second.Requests, second.Errors, second.ErrorRate = "prometheus", 2000, 20, 0.01
	if _, err := bs.SaveBaseline(ctx, change("bob"), second); err != nil {
		t.Fatalf("SaveBaseline again: %v", err)
	}
	got, err = bs.GetBaseline(ctx, "checkout", "production")
	if err != nil {
		t.Fatalf("GetBaseline: %v", err)
	}
	if got.Source != "prometheus" || got.Requests != 2000 || got.RecordedBy != "bob" {
		t.Errorf("after a second recording: %+v; want it replaced", got)
	}
	if _, err := bs.GetBaseline(ctx, "checkout", "staging"); ramp.ErrorCode(err) != ramp.ENOTFOUND {
		t.Errorf("GetBaseline in staging: %v, want ENOTFOUND", err)
	}

	entries := listAudit(t, s, ramp.AuditFilter{Kind: "baseline", Key: "checkout", Limit: 100})
	if len(entries) != 2 {
		t.Fatalf("%d baseline audit entries, want 2: %+v", len(entries), entries)
	}
	newest := entries[0]
	if newest.Action != ramp.ActionBaselineRecord || newest.Actor != "bob" || newest.Environment != "production" || len(newest.Before) == 0 || len(newest.After) == 0 {
		t.Errorf("newest audit entry %+v; want baseline.record by bob in production with before and after", newest)
	}
	if len(entries[1].Before) != 0 {
		t.Errorf("first recording's audit entry has a before: %s", entries[1].Before)
	}
}

// testBaselineValidation checks that bad baselines, unknown flags and
// environments are refused and write nothing, not even an audit row.
func testBaselineValidation(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	bs := baselines(t, s)
	ctx := t.Context()
	mustCreateFlag(t, s, newFlag("checkout"))
	before := len(listAudit(t, s, ramp.AuditFilter{Limit: 1000}))

	bad := map[string]func(b *ramp.Baseline){
		"NaN requests":         func(b *ramp.Baseline) { b.Requests = math.NaN() },
		"negative errors":      func(b *ramp.Baseline) { b.Errors = -1 },
		"errors over requests": func(b *ramp.Baseline) { b.Errors = 2000 },
		"empty window":         func(b *ramp.Baseline) { b.To = b.From },
		"unknown source":       func(b *ramp.Baseline) { b.Source = "statsd" },
		"bad variant":          func(b *ramp.Baseline) { b.Variant = "" },
		"infinite p99":         func(b *ramp.Baseline) { b.P99 = math.Inf(1) },
		"decreasing buckets":   func(b *ramp.Baseline) { b.Latency.Counts[len(b.Latency.Counts)-1] = 1 },
	}
	for name, mutate := range bad {
		b := newBaseline("checkout")
		mutate(&b)
		_, err := bs.SaveBaseline(ctx, change("alice"), b)
		if ramp.ErrorCode(err) != ramp.EINVALID {
			t.Errorf("%s: SaveBaseline error %v, want EINVALID", name, err)
		}
	}
	b := newBaseline("nope")
	if _, err := bs.SaveBaseline(ctx, change("alice"), b); ramp.ErrorCode(err) != ramp.ENOTFOUND {
		t.Errorf("unknown flag: %v, want ENOTFOUND", err)
	}
	b = newBaseline("checkout")
	b.Environment = "qa"
	if _, err := bs.SaveBaseline(ctx, change("alice"), b); ramp.ErrorCode(err) != ramp.ENOTFOUND {
		t.Errorf("unknown environment: %v, want ENOTFOUND", err)
	}
	if _, err := bs.GetBaseline(ctx, "checkout", "production"); ramp.ErrorCode(err) != ramp.ENOTFOUND {
		t.Errorf("after refused recordings, GetBaseline: %v, want ENOTFOUND", err)
	}
	if after := len(listAudit(t, s, ramp.AuditFilter{Limit: 1000})); after != before {
		t.Errorf("refused recordings wrote %d audit rows", after-before)
	}
}

// testBaselineGoesWithFlag checks that deleting the flag or the
// environment deletes its baselines, so that a flag created again under
// the same key starts without one.
func testBaselineGoesWithFlag(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	bs := baselines(t, s)
	ctx := t.Context()
	mustCreateFlag(t, s, newFlag("checkout"))
	if _, err := s.CreateEnvironment(ctx, change("alice"), ramp.Environment{Key: "qa"}); err != nil {
		t.Fatal(err)
	}
	b := newBaseline("checkout")
	if _, err := bs.SaveBaseline(ctx, change("alice"), b); err != nil {
		t.Fatal(err)
	}
	b.Environment = "qa"
	if _, err := bs.SaveBaseline(ctx, change("alice"), b); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteEnvironment(ctx, change("alice"), "qa"); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.GetBaseline(ctx, "checkout", "qa"); ramp.ErrorCode(err) != ramp.ENOTFOUND {
		t.Errorf("after deleting the environment: %v, want ENOTFOUND", err)
	}
	if err := s.DeleteFlag(ctx, change("alice"), "checkout"); err != nil {
		t.Fatal(err)
	}
	mustCreateFlag(t, s, newFlag("checkout"))
	if _, err := bs.GetBaseline(ctx, "checkout", "production"); ramp.ErrorCode(err) != ramp.ENOTFOUND {
		t.Errorf("a flag created again under the key has a baseline: %v", err)
	}
}

// testBaselineConcurrent records baselines from several goroutines: each
// recording is whole, and there is one audit row per recording.
func testBaselineConcurrent(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	bs := baselines(t, s)
	ctx := t.Context()
	mustCreateFlag(t, s, newFlag("checkout"))
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			b := newBaseline("checkout")
			b.Requests, b.Errors = float64(1000+i), float64(i)
			if _, err := bs.SaveBaseline(ctx, change("alice"), b); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent SaveBaseline: %v", err)
	}
	got, err := bs.GetBaseline(ctx, "checkout", "production")
	if err != nil {
		t.Fatal(err)
	}
	if got.Errors != got.Requests-1000 {
		t.Errorf("stored baseline mixes recordings: %v requests, %v errors", got.Requests, got.Errors)
	}
	if entries := listAudit(t, s, ramp.AuditFilter{Kind: "baseline", Limit: 100}); len(entries) != n {
		t.Errorf("%d audit rows for %d recordings", len(entries), n)
	}
}
