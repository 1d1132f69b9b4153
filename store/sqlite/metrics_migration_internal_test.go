package sqlite

import (
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

// TestMigrateLatencyBuckets opens a database written before migration
// 0004, with counts in the 11 old buckets, and checks that the upgrade
// keeps their requests and errors, drops their latency (which the new
// buckets cannot hold), and that new counts go in the 65 new buckets.
func TestMigrateLatencyBuckets(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ramp.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT"); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:3] {
		if _, err := db.ExecContext(ctx, m.SQL); err != nil {
			t.Fatalf("apply %s: %v", m.Name, err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO schema_migrations VALUES (?, ?, ?)", m.Version, m.Name, "2025-01-01T00:00:00Z"); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.ExecContext(ctx, `INSERT INTO metric_counts (flag, environment, variant, second, requests, errors, observed, le_5ms, le_100ms, le_10s)
		VALUES ('checkout', 'production', 'on', ?, 100, 7, 100, 10, 90, 100)`, at.Unix()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open a database at schema version 3: %v", err)
	}
	defer s.Close()
	got, err := s.SumCounts(ctx, "checkout", "production", "on", at, at)
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != 100 || got.Errors != 7 || got.Latency.Count != 0 || slices.Max(got.Latency.Counts) != 0 {
		t.Errorf("old counts after the migration: %v requests, %v errors, latency %+v; want 100, 7 and no observations", got.Requests, got.Errors, got.Latency)
	}

	h := &ramp.Histogram{Bounds: ramp.LatencyBounds(), Counts: make([]float64, ramp.NumLatencyBuckets), Count: 10}
	for i := range h.Counts {
		h.Counts[i] = float64(min(i, 10))
	}
	if err := s.AddCounts(ctx, "production", at, []ramp.Counts{{Flag: "checkout", Variant: "on", Requests: 10, Errors: 1, Latency: h}}); err != nil {
		t.Fatal(err)
	}
	got, err = s.SumCounts(ctx, "checkout", "production", "on", at, at)
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != 110 || got.Errors != 8 || got.Latency.Count != 10 || !slices.Equal(got.Latency.Counts, h.Counts) {
		t.Errorf("after new counts: %v requests, %v errors, latency %+v; want 110, 8 and the new histogram", got.Requests, got.Errors, got.Latency)
	}
}
