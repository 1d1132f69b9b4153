package sdksource

import (
	"context"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

type zeroStore struct{}

func (zeroStore) SumCounts(context.Context, string, string, string, time.Time, time.Time) (ramp.Counts, error) {
	return ramp.Counts{Requests: 1}, nil
}

// TestRememberedSumsAreBounded: a caller whose window slides, as the live
// baseline's does, never reads a sum twice; the source keeps at most
// maxSums of them, forgetting the least recently read.
func TestRememberedSumsAreBounded(t *testing.T) {
	s := New(zeroStore{})
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	first := sumKey{flag: "f", env: "e", variant: "on", from: t0.Unix()}
	for i := range maxSums + 100 {
		to := t0.Add(time.Hour + time.Duration(i)*time.Second)
		from := to.Add(-time.Hour)
		if i > 0 && i%100 == 0 {
			// The first window is read again now and then: it stays.
			from = t0
		}
		if _, err := s.counts(context.Background(), sumKey{flag: "f", env: "e", variant: "on", from: from.Unix()}, to.Unix()); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.sums); n > maxSums {
		t.Errorf("%d sums remembered, want at most %d", n, maxSums)
	}
	if s.sums[first] == nil {
		t.Error("the window read again and again was forgotten")
	}
}
