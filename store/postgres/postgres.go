// Package postgres is ramp's store on PostgreSQL, through jackc/pgx: the
// same flags, segments, environments, tokens, rollouts and audit log as the
// SQLite store, with the same semantics (the two pass one contract suite),
// for several ramp replicas that share one database.
//
// Every change is one transaction holding its audit row. Change
// transactions are serialized by a transaction-level advisory lock taken
// before anything else, so audit IDs become visible in the order they were
// given and a reader following the change feed by ID misses nothing.
//
// Each change transaction also sends a notification on the channel
// ramp_changes (pg_notify, delivered at commit). Every Store listens on it
// with a connection of its own and calls its commit hook when another
// replica commits a change, and after the listening connection
// (re)connects, so that the hub of every replica catches up within
// milliseconds; the hub's reads by audit ID make a missed notification
// harmless.
package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/store/internal/storecore"
)

// Channel is the notification channel that change transactions notify
// and every Store listens on.
const Channel = "ramp_changes"

// Advisory lock keys, per database. writeLock serializes the transactions
// that write audit rows; migrateLock the migrations of replicas starting at
// once.
const (
	writeLock   int64 = 0x72616d70_00000001 // "ramp" 1
	migrateLock int64 = 0x72616d70_00000002 // "ramp" 2
)

// Store is a ramp store in one PostgreSQL database. Its methods are safe
// for concurrent use. Every method that changes something commits the
// change and its audit row in one transaction, and reports failures as
// *ramp.Error: EUNAVAILABLE while the database cannot be reached.
type Store struct {
	pool     *pgxpool.Pool
	listen   *pgx.ConnConfig
	now      func() time.Time
	onCommit func()
	log      *slog.Logger
	// id tells this store's notifications from other replicas'.
	id string

	stop     context.CancelFunc
	done     chan struct{}
	closeErr sync.Once
}

// Option configures Open.
type Option func(*options)

type options struct {
	onCommit func()
	now      func() time.Time
	maxConns int
	log      *slog.Logger
}

// WithClock makes the store read the time from now instead of time.Now, for
// the timestamps of flags, segments, tokens and audit entries. Leases use
// the database's clock regardless.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithCommitHook makes the store call fn after every change it committed,
// on the goroutine that made it, and, from the goroutine that listens for
// notifications, after another replica committed a change and after the
// listening connection (re)connected. fn must not block: the server uses
// it to wake the loop that reads the change feed (see Changes).
func WithCommitHook(fn func()) Option {
	return func(o *options) { o.onCommit = fn }
}

// WithMaxConns sets the size of the connection pool. The default is
// pool_max_conns if the DSN sets it, else the larger of 4 and the number
// of CPUs. The
// connection that listens for notifications is not counted.
func WithMaxConns(n int) Option {
	return func(o *options) { o.maxConns = n }
}

// WithLogger makes the store log the loss and recovery of its listening
// connection. The default discards.
func WithLogger(log *slog.Logger) Option {
	return func(o *options) { o.log = log }
}

// Open connects to the database dsn (a postgres:// URL or key=value
// pairs, as libpq takes them), applies the migrations it lacks, and starts
// listening for the changes of other replicas. It fails if the database
// was migrated by a newer binary, and with EUNAVAILABLE if it cannot be
// reached. The caller must Close the store.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case strings.TrimSpace(dsn) == "":
		return nil, errors.New("open store: the PostgreSQL connection string is empty")
	case o.now == nil:
		return nil, errors.New("open store: the clock is nil")
	case o.maxConns < 0:
		return nil, fmt.Errorf("open store: %d connections; at least one is needed", o.maxConns)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, errors.New("open store: the PostgreSQL connection string is malformed: use postgres://user:password@host:port/database or host=... dbname=... pairs")
	}
	if o.maxConns > 0 {
		cfg.MaxConns = int32(o.maxConns)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	var id [8]byte
	rand.Read(id[:])
	s := &Store{
		listen:   cfg.ConnConfig.Copy(),
		now:      o.now,
		onCommit: o.onCommit,
		log:      o.log,
		id:       hex.EncodeToString(id[:]),
		done:     make(chan struct{}),
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", translate("connect", err))
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open store: %w", translate("migrate", err))
	}
	// The first LISTEN is made before Open returns, so that a change
	// another replica commits after Open is always announced.
	conn, err := s.connectListener(ctx)
	if err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open store: %w", translate("listen", err))
	}
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	go s.listenLoop(lctx, conn)
	return s, nil
}

// Close stops listening and closes the connections. Calls in progress may
// fail with EUNAVAILABLE.
func (s *Store) Close() error {
	s.closeErr.Do(func() {
		s.stop()
		<-s.done
		s.pool.Close()
	})
	return nil
}

// Ping checks that the database answers a query, returning an EUNAVAILABLE
// error if not.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return translate("ping", err)
	}
	return nil
}

// connectListener opens the listening connection and sends LISTEN.
func (s *Store) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.listen.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// Listener timing: how long to wait for a notification before checking
// that the connection still answers, and the bounds of the pause between
// attempts to reconnect.
const (
	listenIdle     = 15 * time.Second
	listenPing     = 5 * time.Second
	reconnectFirst = 50 * time.Millisecond
	reconnectMax   = 2 * time.Second
)

// listenLoop waits for notifications on conn, calls the commit hook for
// each from another store, and reconnects when the connection fails,
// calling the hook after each reconnection: notifications sent while it
// was away are lost, and the hook makes the hub read what it missed.
func (s *Store) listenLoop(ctx context.Context, conn *pgx.Conn) {
	defer close(s.done)
	pause := reconnectFirst
	for {
		if conn == nil {
			var err error
			conn, err = s.connectListener(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.log.Warn("postgres store: cannot listen for changes; retrying", "err", err, "in", pause)
				select {
				case <-ctx.Done():
					return
				case <-time.After(pause):
				}
				pause = min(2*pause, reconnectMax)
				continue
			}
			s.log.Info("postgres store: listening for changes again")
			pause = reconnectFirst
			s.hook()
		}
		err := s.waitNotifications(ctx, conn)
		conn.Close(context.Background())
		conn = nil
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("postgres store: lost the connection that listens for changes", "err", err)
	}
}

// waitNotifications handles notifications on conn until it fails.
func (s *Store) waitNotifications(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		quiet := wctx.Err() != nil
		cancel()
		switch {
		case err == nil:
			if n.Payload != s.id {
				s.hook()
			}
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case !quiet || conn.IsClosed():
			return err
		}
		// Quiet for a while: make sure the connection is not silently gone.
		pctx, cancel := context.WithTimeout(ctx, listenPing)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return err
		}
	}
}

func (s *Store) hook() {
	if s.onCommit != nil {
		s.onCommit()
	}
}

// querier is what *pgxpool.Pool and pgx.Tx have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// write runs fn in one change transaction and commits it if fn returns
// nil, then calls the commit hook. The transaction first takes the write
// lock, so changes are serialized as in the SQLite store and audit IDs
// become visible in order; then it reads now, the time of the change, the
// same for every row it writes, so that times grow with audit IDs. It
// notifies the other replicas at commit.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx, now time.Time) error) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// One round trip: the notification is queued now and sent only if
		// the transaction commits.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1), pg_notify($2, $3)", writeLock, Channel, s.id); err != nil {
			return fmt.Errorf("take the write lock: %w", err)
		}
		return fn(tx, s.clock())
	})
	if err != nil {
		return err
	}
	s.hook()
	return nil
}

// writeQuiet runs fn in a transaction without the write lock, the
// notification and the commit hook, for writes that are not changes
// (reported counts, leases) and must not wake the change feed.
func (s *Store) writeQuiet(ctx context.Context, fn func(tx pgx.Tx, now time.Time) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return fn(tx, s.clock()) })
}

func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// clock returns the current time as stored: UTC, in microseconds.
func (s *Store) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
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
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		class := pe.Code[:2]
		switch {
		case class == "23": // integrity constraint violation
			return &ramp.Error{Code: ramp.ECONFLICT, Message: "the change conflicts with stored data", Err: wrapped}
		case pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03": // serialization, deadlock, lock not available
			return unavailable("the store is busy; try again")
		case pe.Code == "57014": // query canceled: statement_timeout
			return unavailable("the store did not answer in time")
		case class == "08", class == "57", class == "53", class == "58": // connection, operator intervention, resources, system
			return unavailable("the store's database is not available")
		case class == "22": // data exception: text the database cannot hold
			return &ramp.Error{Code: ramp.EINVALID, Message: "a value cannot be stored: text must be valid UTF-8 without NUL characters", Err: wrapped}
		case class == "28": // invalid authorization
			return unavailable("the store cannot log in to its database")
		case class == "3D": // invalid catalog name: no such database
			return unavailable("the store's database does not exist")
		}
		return wrapped
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return unavailable("the store did not answer in time")
	case errors.Is(err, context.Canceled):
		return wrapped
	}
	var (
		ce *pgconn.ConnectError
		ne net.Error
	)
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		strings.Contains(err.Error(), "conn closed"), strings.Contains(err.Error(), "closed pool"):
		return unavailable("the store's database is not available")
	}
	return wrapped
}

const insertAuditSQL = `INSERT INTO audit (time, actor, action, kind, key, environment, before, after)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// auditArgs returns the arguments of insertAuditSQL for a, written at now.
func auditArgs(a storecore.Audit, now time.Time) []any {
	return []any{now, a.Actor, a.Action, a.Kind, a.Key, a.Environment, nullString(a.Before), nullString(a.After)}
}

func insertAudit(ctx context.Context, tx pgx.Tx, now time.Time, a storecore.Audit) error {
	if _, err := tx.Exec(ctx, insertAuditSQL, auditArgs(a, now)...); err != nil {
		return fmt.Errorf("insert audit: %w", err)
	}
	return nil
}

// nullString returns nil for "", for a NULL json column.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// keys returns the values of the first column of a query.
func keys(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// scopeSQL reads what flags are validated against in one query: the keys
// of the environments, then those of the segments.
const scopeSQL = `SELECT false AS segment, key COLLATE "C" AS k FROM environments
	UNION ALL SELECT true, key COLLATE "C" FROM segments ORDER BY segment, k`

// scope returns what flags are validated against, read in q.
func scope(ctx context.Context, q querier) (ramp.Scope, error) {
	rows, err := q.Query(ctx, scopeSQL)
	if err != nil {
		return ramp.Scope{}, fmt.Errorf("list environments and segments: %w", err)
	}
	return readScope(rows)
}

func readScope(rows pgx.Rows) (ramp.Scope, error) {
	var (
		sc      ramp.Scope
		segment bool
		key     string
	)
	_, err := pgx.ForEachRow(rows, []any{&segment, &key}, func() error {
		if segment {
			sc.Segments = append(sc.Segments, key)
		} else {
			sc.Environments = append(sc.Environments, key)
		}
		return nil
	})
	if err != nil {
		return ramp.Scope{}, fmt.Errorf("list environments and segments: %w", err)
	}
	return sc, nil
}
