package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/store/sqlite"
	"github.com/ramp-flags/ramp/store/storetest"
)

var _ httpapi.Store = (*sqlite.Store)(nil)

// open opens a store on path and closes it when t ends.
func open(t testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	var mu sync.Mutex
	paths := map[storetest.Store]string{}
	storetest.Run(t,
		func(t *testing.T) storetest.Store {
			path := filepath.Join(t.TempDir(), "ramp.db")
			s := open(t, path)
			mu.Lock()
			paths[s] = path
			mu.Unlock()
			return s
		},
		storetest.WithReopen(func(t *testing.T, s storetest.Store) storetest.Store {
			mu.Lock()
			path := paths[s]
			mu.Unlock()
			if err := s.(*sqlite.Store).Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return open(t, path)
		}),
	)
}

func TestOpenNewFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data dir with spaces?")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ramp.db")
	s := open(t, path)
	ctx := t.Context()
	current, latest, err := s.MigrationStatus(ctx)
	if err != nil || current != latest || latest < 1 {
		t.Fatalf("MigrationStatus = %d, %d, %v", current, latest, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("the database is not at %s: %v", path, err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode = %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no WAL file next to the database: %v", err)
	}

	// The schema is what the migrations say.
	db := rawDB(t, path)
	for _, table := range []string{"schema_migrations", "environments", "flags", "segments", "tokens", "audit"} {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: %d, %v", table, n, err)
		}
	}
	for _, index := range []string{"audit_kind_key_id", "audit_time"} {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?", index).Scan(&n); err != nil || n != 1 {
			t.Errorf("index %s: %d, %v", index, n, err)
		}
	}
	var rows int
	if err := db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil || rows != latest {
		t.Errorf("schema_migrations has %d rows, %v; want %d", rows, err, latest)
	}
}

// rawDB opens the file directly, as another process would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	u := url.URL{Scheme: "file", Path: path, RawQuery: "_pragma=busy_timeout(5000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenTwiceMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ramp.db")
	var wg sync.WaitGroup
	stores := make([]*sqlite.Store, 4)
	errs := make([]error, 4)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = sqlite.Open(t.Context(), path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	envs, err := stores[0].ListEnvironments(t.Context())
	if err != nil || len(envs) != 2 {
		t.Errorf("ListEnvironments = %v, %v; want the two of the first migration, once", envs, err)
	}
}

func TestOpenRejects(t *testing.T) {
	ctx := t.Context()
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if s, err := sqlite.Open(ctx, path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
	if _, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "missing", "ramp.db")); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
	notDB := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(ctx, notDB); err == nil {
		s.Close()
		t.Error("Open of a file that is not a database succeeded")
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ramp.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	_, latest, _ := s.MigrationStatus(t.Context())
	s.Close()
	db := rawDB(t, path)
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future.sql', '2099-01-01T00:00:00.000000Z')", latest+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = sqlite.Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer binary succeeded")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the database is newer", err)
	}
}

func TestPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ramp.db")
	open(t, path)
	db := rawDB(t, path)
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal (it persists in the file)", mode, err)
	}
}

func TestBusyIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ramp.db")
	s := open(t, path, sqlite.WithBusyTimeout(50*time.Millisecond))
	ctx := t.Context()
	// Another process holds the write lock.
	db := rawDB(t, path)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = conn.ExecContext(ctx, "ROLLBACK") }()

	_, err = s.CreateFlag(ctx, ramp.Change{Actor: "alice"}, testFlag("busy"))
	if ramp.ErrorCode(err) != ramp.EUNAVAILABLE {
		t.Fatalf("CreateFlag while locked: %v (code %s), want unavailable", err, ramp.ErrorCode(err))
	}
	msg := ramp.ErrorMessage(err)
	if strings.Contains(strings.ToLower(msg), "select") || strings.Contains(msg, "BEGIN") || strings.Contains(msg, "locked") {
		t.Errorf("message %q leaks driver text", msg)
	}
	// Reads go on while the lock is held.
	if _, err := s.ListFlags(ctx); err != nil {
		t.Errorf("ListFlags while another writer holds the lock: %v", err)
	}
}

func TestClosedIsUnavailable(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); ramp.ErrorCode(err) != ramp.EUNAVAILABLE {
		t.Errorf("Ping after Close: %v, want unavailable", err)
	}
	if _, err := s.GetFlag(t.Context(), "x"); ramp.ErrorCode(err) != ramp.EUNAVAILABLE {
		t.Errorf("GetFlag after Close: %v, want unavailable", err)
	}
}

func TestContextDeadline(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "ramp.db"))
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

func TestClock(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("CET", 3600))
	s := open(t, filepath.Join(t.TempDir(), "ramp.db"), sqlite.WithClock(func() time.Time { return at }))
	f, err := s.CreateFlag(t.Context(), ramp.Change{Actor: "alice"}, testFlag("clocked"))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2030, 1, 2, 2, 4, 5, 123456000, time.UTC)
	if !f.CreatedAt.Equal(want) || f.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v (UTC, microseconds)", f.CreatedAt, want)
	}
	entries, err := s.ListAudit(t.Context(), ramp.AuditFilter{})
	if err != nil || len(entries) != 1 || !entries[0].Time.Equal(want) {
		t.Errorf("audit = %+v, %v; want one entry at %v", entries, err, want)
	}
}

// TestKillAfterWrite writes in a child process that then kills itself with
// SIGKILL, without closing the store, and checks the write is there.
func TestKillAfterWrite(t *testing.T) {
	if path := os.Getenv("RAMP_SQLITE_KILL_CHILD"); path != "" {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			os.Exit(3)
		}
		for _, k := range []string{"survivor-1", "survivor-2"} {
			if _, err := s.CreateFlag(context.Background(), ramp.Change{Actor: "child"}, testFlag(k)); err != nil {
				os.Exit(4)
			}
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "ramp.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillAfterWrite$")
	cmd.Env = append(os.Environ(), "RAMP_SQLITE_KILL_CHILD="+path)
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed", err)
	}
	s := open(t, path)
	for _, k := range []string{"survivor-1", "survivor-2"} {
		if _, err := s.GetFlag(t.Context(), k); err != nil {
			t.Errorf("flag %s after kill -9: %v", k, err)
		}
	}
	if entries, err := s.ListAudit(t.Context(), ramp.AuditFilter{Actor: "child"}); err != nil || len(entries) != 2 {
		t.Errorf("audit after kill -9: %d entries, %v; want 2", len(entries), err)
	}
}

func testFlag(key string) *ramp.Flag {
	return &ramp.Flag{
		Key:  key,
		Type: ramp.TypeBoolean,
		Variants: []ramp.Variant{
			{Key: "off", Value: []byte(`false`)},
			{Key: "on", Value: []byte(`true`)},
		},
		DefaultVariant: "off",
	}
}
