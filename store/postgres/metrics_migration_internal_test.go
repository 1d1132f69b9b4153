package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/pgtest"
)

// TestMigrateLatencyBuckets opens a database written before migration
// 0004, with counts in the 11 old buckets, and checks that the upgrade
// keeps their requests and errors, drops their latency (which the new
// buckets cannot hold), and that new counts go in the 65 new buckets: the
// same as the SQLite store's migration.
func TestMigrateLatencyBuckets(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Start(t)
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:3] {
		if _, err := db.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("apply %s: %v", m.Name, err)
		}
		if _, err := db.Exec(ctx, "INSERT INTO schema_migrations VALUES ($1, $2, now())", m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.Exec(ctx, `INSERT INTO metric_counts (flag, environment, variant, second, requests, errors, observed, le_5ms, le_100ms, le_10s)
		VALUES ('checkout', 'production', 'on', $1, 100, 7, 100, 10, 90, 100)`, at.Unix()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, dsn)
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
