package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/internal/pgtest"
	"github.com/ramp-flags/ramp/store/postgres"
	"github.com/ramp-flags/ramp/store/storetest"
)

var _ httpapi.Store = (*postgres.Store)(nil)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens a store on dsn and closes it when t ends.
func open(t testing.TB, dsn string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migratedDB returns a new database that holds the schema: a copy of one
// migrated once per test run, faster than migrating each.
func migratedDB(t testing.TB) string {
	t.Helper()
	return pgtest.StartFrom(t, "migrated", func(dsn string) error {
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			return err
		}
		return s.Close()
	})
}

func TestContract(t *testing.T) {
	var mu sync.Mutex
	dsns := map[storetest.Store]string{}
	storetest.Run(t,
		func(t *testing.T) storetest.Store {
			dsn := migratedDB(t)
			s := open(t, dsn)
			mu.Lock()
			dsns[s] = dsn
			mu.Unlock()
			return s
		},
		storetest.WithReopen(func(t *testing.T, s storetest.Store) storetest.Store {
			mu.Lock()
			dsn := dsns[s]
			mu.Unlock()
			if err := s.(*postgres.Store).Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return open(t, dsn)
		}),
	)
}

// TestOpenConcurrentlyMigratesOnce opens four stores on a new database at
// once, as replicas starting together do: every one opens, and each
// migration is applied once.
func TestOpenConcurrentlyMigratesOnce(t *testing.T) {
	dsn := pgtest.Start(t)
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, 4)
	errs := make([]error, 4)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	current, latest, err := stores[0].MigrationStatus(t.Context())
	if err != nil || current != latest || latest < 1 {
		t.Fatalf("MigrationStatus = %d, %d, %v", current, latest, err)
	}
	db := rawConn(t, dsn)
	var rows int
	if err := db.QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil || rows != latest {
		t.Errorf("schema_migrations has %d rows, %v; want %d", rows, err, latest)
	}
	envs, err := stores[3].ListEnvironments(t.Context())
	if err != nil || len(envs) != 2 {
		t.Errorf("environments after concurrent opens: %+v, %v; want production and staging once", envs, err)
	}
}

// TestOpenRefusesNewerSchema checks that a binary does not run on a
// database that a newer one migrated.
func TestOpenRefusesNewerSchema(t *testing.T) {
	dsn := pgtest.Start(t)
	s := open(t, dsn)
	_, latest, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawConn(t, dsn)
	if _, err := db.Exec(t.Context(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future.sql', now())", latest+1); err != nil {
		t.Fatal(err)
	}
	s, err = postgres.Open(t.Context(), dsn)
	if err == nil {
		s.Close()
		t.Fatal("Open on a database of a newer schema succeeded")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open: %v; want it to say the schema is newer", err)
	}
}

func TestOpenRejects(t *testing.T) {
	for _, dsn := range []string{"", "   ", "postgres://%zz", "host=x port=notaport"} {
		s, err := postgres.Open(t.Context(), dsn)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
			continue
		}
		if strings.Contains(err.Error(), "%zz") || strings.Contains(err.Error(), "notaport") {
			t.Errorf("Open(%q): %v: the message repeats the connection string, which may hold a password", dsn, err)
		}
	}
	if _, err := postgres.Open(t.Context(), "postgres://localhost/x", postgres.WithClock(nil)); err == nil {
		t.Error("Open with a nil clock succeeded")
	}
}

func TestClock(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("CET", 3600))
	s := open(t, migratedDB(t), postgres.WithClock(func() time.Time { return at }))
	f, err := s.CreateFlag(t.Context(), ramp.Change{Actor: "alice"}, testFlag("clocked"))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2030, 1, 2, 2, 4, 5, 123456000, time.UTC)
	if !f.CreatedAt.Equal(want) || f.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v (UTC, microseconds)", f.CreatedAt, want)
	}
	got, err := s.GetFlag(t.Context(), "clocked")
	if err != nil || !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("GetFlag: CreatedAt = %v, %v; want %v in UTC", got.CreatedAt, err, want)
	}
	entries, err := s.ListAudit(t.Context(), ramp.AuditFilter{})
	if err != nil || len(entries) != 1 || !entries[0].Time.Equal(want) {
		t.Errorf("audit = %+v, %v; want one entry at %v", entries, err, want)
	}
}

func TestContextDeadline(t *testing.T) {
	s := open(t, migratedDB(t))
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := s.CreateFlag(ctx, ramp.Change{Actor: "alice"}, testFlag("late"))
	if ramp.ErrorCode(err) != ramp.EUNAVAILABLE || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CreateFlag past its deadline: %v, want unavailable wrapping the deadline", err)
	}
	if _, err := s.GetFlag(t.Context(), "late"); ramp.ErrorCode(err) != ramp.ENOTFOUND {
		t.Errorf("flag written past the deadline: %v", err)
	}
}

// TestTextTheDatabaseRefuses checks that text PostgreSQL cannot hold (a
// NUL character) is refused with EINVALID and writes nothing.
func TestTextTheDatabaseRefuses(t *testing.T) {
	s := open(t, migratedDB(t))
	_, err := s.CreateEnvironment(t.Context(), ramp.Change{Actor: "alice"}, ramp.Environment{Key: "qa", Name: "q\x00a"})
	if ramp.ErrorCode(err) != ramp.EINVALID {
		t.Fatalf("CreateEnvironment with a NUL in the name: %v (code %q), want invalid", err, ramp.ErrorCode(err))
	}
	envs, err := s.ListEnvironments(t.Context())
	if err != nil || len(envs) != 2 {
		t.Errorf("environments: %+v, %v; want the two a new store has", envs, err)
	}
}

// TestSchema checks the tables and indexes the migrations create.
func TestSchema(t *testing.T) {
	dsn := pgtest.Start(t)
	open(t, dsn)
	db := rawConn(t, dsn)
	for _, table := range []string{"schema_migrations", "environments", "flags", "segments", "tokens", "audit", "rollouts", "analyses", "metric_counts", "baselines", "leases"} {
		var n int
		if err := db.QueryRow(t.Context(), "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1", table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: %d, %v", table, n, err)
		}
	}
	for _, index := range []string{"audit_kind_key_id", "audit_time", "rollouts_active", "metric_counts_second"} {
		var n int
		if err := db.QueryRow(t.Context(), "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1", index).Scan(&n); err != nil || n != 1 {
			t.Errorf("index %s: %d, %v", index, n, err)
		}
	}
}

// rawConn connects to dsn directly, as another program would.
func rawConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
