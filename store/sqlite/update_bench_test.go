package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ramp-flags/ramp"
)

// BenchmarkUpdateFlag measures flag changes committed one after another,
// each a transaction with its audit row, synced to disk
// (synchronous=FULL). store/postgres has the same benchmark.
func BenchmarkUpdateFlag(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "ramp.db"))
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
// callers, each to its own flag. Writes are serialized on one connection.
func BenchmarkUpdateFlagParallel(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "ramp.db"))
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
