// Package sqlite is ramp's embedded store: flags, segments, environments,
// tokens and the audit log in one SQLite database file, through the pure-Go
// driver modernc.org/sqlite.
//
// The database runs in WAL mode with synchronous=FULL, so a write that
// returned without error survives a crash of the process and a power loss.
// Writes go through one connection and begin with BEGIN IMMEDIATE, so they
// are serialized, also against another process on the same file; reads use
// a pool of read-only connections and run concurrently with a write.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/internal/storecore"
	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is a ramp store in one SQLite database. Its methods are safe for
// concurrent use. Every method that changes something commits the change and
// its audit row in one transaction, and reports failures as *ramp.Error.
type Store struct {
	w        *sql.DB // one connection: every write transaction
	r        *sql.DB // read-only connections
	now      func() time.Time
	onCommit func()
}

// Option configures Open.
type Option func(*options)

type options struct {
	onCommit    func()
	now         func() time.Time
	busyTimeout time.Duration
	readConns   int
}

// WithClock makes the store read the time from now instead of time.Now, for
// the timestamps of flags, segments, tokens and audit entries.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithCommitHook makes the store call fn after every committed change, on
// the goroutine that made it. fn must not block: the server uses it to wake
// the loop that reads the change feed (see Changes).
func WithCommitHook(fn func()) Option {
	return func(o *options) { o.onCommit = fn }
}

// WithBusyTimeout sets how long a statement waits for a lock held by another
// connection or process before it fails with EUNAVAILABLE. The default is
// five seconds.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// WithReadConns sets the number of read connections. The default is the
// larger of 4 and GOMAXPROCS.
func WithReadConns(n int) Option {
	return func(o *options) { o.readConns = n }
}

// Open opens the SQLite database at path, creating the file if it does not
// exist (its directory must), and applies the migrations it lacks. It fails
// if the database was migrated by a newer binary. The caller must Close the
// store.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{now: time.Now, busyTimeout: 5 * time.Second, readConns: max(4, runtime.GOMAXPROCS(0))}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case path == "" || path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("open store: %q is not a file path", path)
	case o.now == nil:
		return nil, errors.New("open store: the clock is nil")
	case o.busyTimeout < 0:
		return nil, fmt.Errorf("open store: busy timeout %v is negative", o.busyTimeout)
	case o.readConns < 1:
		return nil, fmt.Errorf("open store: %d read connections; at least one is needed", o.readConns)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// Create the file before SQLite does, so that it and the WAL files,
	// which SQLite creates with the same mode, are readable only by us.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}

	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(o.busyTimeout.Milliseconds(), 10))
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", "FULL")
	q.Set("_txlock", "immediate")
	wq := cloneValues(q)
	wq.Set("_journal_mode", "WAL")
	rq := cloneValues(q)
	rq.Set("_query_only", "1")

	// A URI, with the path escaped, so that a directory name holding '?' or
	// '#' does not cut the path short.
	uriPath := filepath.ToSlash(abs)
	if !strings.HasPrefix(uriPath, "/") {
		uriPath = "/" + uriPath // a Windows drive letter
	}
	s := &Store{now: o.now, onCommit: o.onCommit}
	s.w, err = sql.Open("sqlite", (&url.URL{Scheme: "file", Path: uriPath, RawQuery: wq.Encode()}).String())
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)

	// The write connection is opened first: it switches the file to WAL,
	// which the read-only connections cannot do.
	if err := whileBusy(ctx, o.busyTimeout, func() error { return s.checkPragmas(ctx, s.w) }); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.r, err = sql.Open("sqlite", (&url.URL{Scheme: "file", Path: uriPath, RawQuery: rq.Encode()}).String())
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.r.SetMaxOpenConns(o.readConns)
	s.r.SetMaxIdleConns(o.readConns)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)

	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := whileBusy(ctx, o.busyTimeout, func() error { return s.checkPragmas(ctx, s.r) }); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// whileBusy calls fn until it succeeds, fails otherwise than with a busy
// database, or timeout has passed. SQLite answers some lock conflicts of a
// new connection's first statements at once with SQLITE_BUSY, without
// waiting in its busy handler: while another process opening the same file
// switches it to WAL or recovers its WAL, for one.
func whileBusy(ctx context.Context, timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		err := fn()
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var se *sqlitedrv.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_BUSY
	}
	return strings.Contains(err.Error(), "database is locked")
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// checkPragmas makes sure the durability settings took effect: a file system
// without shared memory support, for example, silently keeps another journal
// mode.
func (s *Store) checkPragmas(ctx context.Context, db *sql.DB) error {
	var mode string
	var sync, fk int
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("read foreign_keys: %w", err)
	}
	switch {
	case !strings.EqualFold(mode, "wal"):
		return fmt.Errorf("journal mode is %q, not wal: the file system may not support it", mode)
	case sync != 2:
		return fmt.Errorf("synchronous is %d, not 2 (FULL)", sync)
	case fk != 1:
		return errors.New("foreign keys are off")
	}
	return nil
}

// Close closes the database. Calls in progress may fail with EUNAVAILABLE.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Ping checks that the database answers a query, returning an EUNAVAILABLE
// error if not. It does not wait for a write in progress.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return translate("ping", err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// write runs fn in one write transaction and commits it if fn returns nil,
// then calls the commit hook. now is the time of the change, the same for
// every row it writes.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx, now time.Time) error) error {
	if err := s.writeQuiet(ctx, fn); err != nil {
		return err
	}
	if s.onCommit != nil {
		s.onCommit()
	}
	return nil
}

// writeQuiet is write without the commit hook, for writes that are not
// changes (reported counts) and must not wake the change feed.
func (s *Store) writeQuiet(ctx context.Context, fn func(tx *sql.Tx, now time.Time) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	// The clock is read once the write lock is held, so that times grow
	// with audit IDs.
	if err := fn(tx, s.clock()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// clock returns the current time as stored: UTC, in microseconds, which is
// also what Postgres keeps.
func (s *Store) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// timeLayout sorts as text: UTC with a fixed number of fractional digits.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time: %w", err)
	}
	return t.UTC(), nil
}

// translate turns an error of the driver into a *ramp.Error whose message is
// safe to show, with the driver's error, which may hold SQL, kept in Err.
// Errors that are already domain errors pass unchanged.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if de := storecore.AsDomain(err); de != nil {
		return de
	}
	wrapped := fmt.Errorf("%s: %w", op, err)
	unavailable := func(msg string) error { return storecore.Unavailable(msg, wrapped) }
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return unavailable("the store did not answer in time")
	case errors.Is(err, context.Canceled):
		return wrapped
	case errors.Is(err, sql.ErrConnDone), strings.Contains(err.Error(), "sql: database is closed"):
		return unavailable("the store is closed")
	}
	var se *sqlitedrv.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return unavailable("the store is busy; try again")
		case sqlite3.SQLITE_CONSTRAINT:
			return &ramp.Error{Code: ramp.ECONFLICT, Message: "the change conflicts with stored data", Err: wrapped}
		case sqlite3.SQLITE_FULL:
			return unavailable("the store's disk is full")
		case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
			return unavailable("the store cannot read or write its database file")
		}
	}
	if strings.Contains(err.Error(), "database is locked") {
		return unavailable("the store is busy; try again")
	}
	return wrapped
}

func insertAudit(ctx context.Context, tx *sql.Tx, now time.Time, a storecore.Audit) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO audit (time, actor, action, kind, key, environment, before, after)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		formatTime(now), a.Actor, a.Action, a.Kind, a.Key, a.Environment, nullString(a.Before), nullString(a.After))
	if err != nil {
		return fmt.Errorf("insert audit: %w", err)
	}
	return nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// keys returns the values of the first column of a query.
func keys(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ks []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		ks = append(ks, k)
	}
	return ks, rows.Err()
}

// scope returns what flags are validated against, read in q.
func scope(ctx context.Context, q querier) (ramp.Scope, error) {
	envs, err := keys(ctx, q, "SELECT key FROM environments ORDER BY key")
	if err != nil {
		return ramp.Scope{}, fmt.Errorf("list environments: %w", err)
	}
	segs, err := keys(ctx, q, "SELECT key FROM segments ORDER BY key")
	if err != nil {
		return ramp.Scope{}, fmt.Errorf("list segments: %w", err)
	}
	return ramp.Scope{Environments: envs, Segments: segs}, nil
}
