package postgres_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/pgtest"
)

// BenchmarkUpdateFlag measures flag changes committed one after another,
// each a transaction with its audit row and notification, on a server
// that syncs every commit to disk (as SQLite's synchronous=FULL does; see
// store/sqlite's BenchmarkUpdateFlag).
func BenchmarkUpdateFlag(b *testing.B) {
	s := open(b, pgtest.StartDurable(b))
	ctx := b.Context()
	if _, err := s.CreateFlag(ctx, ramp.Change{Actor: "bench"}, testFlag("bench")); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		_, err := s.UpdateFlag(ctx, ramp.Change{Actor: "bench"}, "bench", func(f *ramp.Flag) error {
			f.Description = fmt.Sprint("change ", i)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}

// BenchmarkUpdateFlagParallel measures flag changes made by concurrent
// callers, each to its own flag, as several admins or rollouts (or
// replicas) write at once. Changes are serialized by the write lock;
// what concurrency buys is overlapping the round trips.
func BenchmarkUpdateFlagParallel(b *testing.B) {
	s := open(b, pgtest.StartDurable(b))
	ctx := b.Context()
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprint("bench-", next.Add(1))
		if _, err := s.CreateFlag(ctx, ramp.Change{Actor: "bench"}, testFlag(key)); err != nil {
			b.Error(err)
			return
		}
		i := 0
		for pb.Next() {
			i++
			_, err := s.UpdateFlag(ctx, ramp.Change{Actor: "bench"}, key, func(f *ramp.Flag) error {
				f.Description = fmt.Sprint("change ", i)
				return nil
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}
