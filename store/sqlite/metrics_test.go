package sqlite_test

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// TestCountsDoNotWakeTheFeed checks that reported counts and their
// pruning never call the commit hook: they are not changes, and thousands
// of SDKs reporting must not make the server re-read the change feed.
func TestCountsDoNotWakeTheFeed(t *testing.T) {
	var hooks atomic.Int64
	s := open(t, filepath.Join(t.TempDir(), "ramp.db"), sqlite.WithCommitHook(func() { hooks.Add(1) }))
	ctx := t.Context()
	base := hooks.Load()
	now := time.Now()
	for range 10 {
		if err := s.AddCounts(ctx, "production", now, []ramp.Counts{{Flag: "checkout", Variant: "on", Requests: 5, Errors: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PruneCounts(ctx, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := hooks.Load() - base; n != 0 {
		t.Errorf("counts called the commit hook %d times, want 0", n)
	}
	if _, err := s.CreateFlag(ctx, ramp.Change{Actor: "alice"}, testFlag("checkout")); err != nil {
		t.Fatal(err)
	}
	if n := hooks.Load() - base; n != 1 {
		t.Errorf("a flag change called the commit hook %d times, want 1", n)
	}
}
