package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

// BenchmarkSumCounts sums one variant's counts over windows of 90 s (what
// the SDK metric source reads at each one-minute look: the new minute and
// the 30 s not yet settled), an hour and a day, in a store holding a day
// of counts for two variants, one row per second each.
func BenchmarkSumCounts(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "ramp.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const day = 24 * 60 * 60
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.PrepareContext(ctx, upsertCounts)
	if err != nil {
		b.Fatal(err)
	}
	bounds := ramp.LatencyBounds()
	lat := make([]float64, len(bounds))
	for i := 20; i < len(lat); i++ {
		lat[i] = 40
	}
	var args []any
	for sec := range int64(day) {
		for _, v := range []string{"on", "off"} {
			c := ramp.Counts{Flag: "checkout", Variant: v, Requests: 50, Errors: 1, Latency: &ramp.Histogram{Bounds: bounds, Counts: lat, Count: 40}}
			args = storecore.CountArgs(args[:0], c, "production", start.Unix()+sec)
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	for _, window := range []time.Duration{90 * time.Second, time.Hour, 24 * time.Hour} {
		b.Run(window.String(), func(b *testing.B) {
			for b.Loop() {
				c, err := s.SumCounts(ctx, "checkout", "production", "on", start, start.Add(window-time.Second))
				if err != nil || c.Requests != 50*window.Seconds() {
					b.Fatalf("SumCounts: %v requests, %v", c.Requests, err)
				}
			}
		})
	}
}
