// Package server assembles a running ramp server from its parts: the data
// directory, the store, the admin token and the HTTP API. The serve command
// is a thin shell around it, and end-to-end tests start it on port 0.
package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/console"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/hub"
	"github.com/ramp-flags/ramp/notify"
	"github.com/ramp-flags/ramp/promsource"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/sdksource"
)

// Defaults of Config.
const (
	DefaultAddr    = "127.0.0.1:8080"
	DefaultDataDir = "ramp-data"
)

// CountsRetention is how long the server keeps the counts SDKs report:
// longer than the longest stage of a rollout plan, whose analysis sums
// the stage's counts from its start.
const CountsRetention = 14 * 24 * time.Hour

// pruneEvery is how often the server deletes counts older than
// CountsRetention.
const pruneEvery = time.Hour

// AdminTokenFile is the name, in the data directory, of the file that
// holds the admin token created at first start.
const AdminTokenFile = "admin-token"

// Config configures a Server.
type Config struct {
	// Addr is the TCP address to listen on; port 0 picks a free port.
	Addr string
	// DataDir holds the database and the admin token file. It is created
	// (mode 0700) if missing.
	DataDir string
	// DB selects the database: empty for the SQLite file ramp.db in
	// DataDir, "sqlite:PATH" for another SQLite file, or a
	// "postgres://..." or "postgresql://..." connection string, which
	// several replicas may share (docs/scaling.md). See ParseDB.
	DB string
	// ReplicaID names this replica in the leader lease; empty means a
	// name made of the host name, the process ID and random bytes, or
	// with SQLite the host name and the database file (see newReplicaID).
	ReplicaID string
	// LeaseTTL is how long the leader lease lasts unless renewed; zero
	// means DefaultLeaseTTL. A replica that dies is replaced as rollout
	// leader within about this long.
	LeaseTTL time.Duration
	// AdminToken, if set, is accepted as an admin token (actor "admin") and
	// no token file is written.
	AdminToken string
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// ShutdownTimeout bounds how long Run waits for requests in flight when
	// its context ends. Zero means 10 seconds.
	ShutdownTimeout time.Duration
	// Heartbeat is the keep-alive interval of streams; zero means 15s.
	Heartbeat time.Duration
	// PrometheusURL, if set, is the Prometheus HTTP API that plans with
	// source "prometheus" read.
	PrometheusURL string
	// PrometheusMinWindow is the shortest window the Prometheus source
	// queries (promsource.Config.MinWindow); zero means
	// promsource.DefaultMinWindow. Tests and demos that scrape every
	// second lower it to a few seconds.
	PrometheusMinWindow time.Duration
	// ControllerTick is how often the rollout controller looks at active
	// rollouts; zero means one second. Each plan's own interval decides
	// when it is analysed.
	ControllerTick time.Duration
	// Webhooks receive a notification of every rollout event
	// (docs/notifications.md). A bad target fails Open.
	Webhooks []notify.Target
	// AlertSeverities are the severity labels that make the Alertmanager
	// receiver roll a flag back (docs/alerts.md); empty means critical.
	AlertSeverities []string
	// Version is the server's version, shown by GET /api/v1/server.
	Version string
}

// Server is a ramp server: open, then Run until the context ends.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store Store
	hub   *hub.Hub
	ctl   *rollout.Controller
	ln    net.Listener
	http  *http.Server

	// notifier sends webhooks; closed after the last request that can
	// make a rollout event.
	notifier *notify.Notifier

	// ctlCfg makes the controller of each term of leadership; moves sends
	// the API's rollout moves to the current one (see runTerm).
	ctlCfg rollout.Config
	moves  controllerSwitch

	// id names this replica in the leader lease; leading is true while
	// it runs the rollout controller, as is the ramp_leader gauge.
	id          string
	dbName      string
	leading     atomic.Bool
	leaderGauge prometheus.Gauge

	// TokenFile is the path of the admin token file written at this start,
	// or "" if none was written.
	TokenFile string
}

// Open prepares the data directory, opens and migrates the store, creates
// the first admin token if there is none, and binds the listener. The
// caller must Run or Close the server.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	switch {
	case cfg.LeaseTTL == 0:
		cfg.LeaseTTL = DefaultLeaseTTL
	case cfg.LeaseTTL < 300*time.Millisecond:
		return nil, fmt.Errorf("leader lease %v is too short: give at least 300ms (the default is %v)", cfg.LeaseTTL, DefaultLeaseTTL)
	}
	kind, target, err := ParseDB(cfg.DB, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if cfg.ReplicaID == "" {
		cfg.ReplicaID = newReplicaID(kind, target)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The store wakes the hub after each commit. Migrations commit before
	// the hub exists.
	var hubp atomic.Pointer[hub.Hub]
	st, where, err := openStore(ctx, cfg, func() {
		if h := hubp.Load(); h != nil {
			h.Notify()
		}
	})
	if err != nil {
		return nil, err
	}
	h := hub.New(hub.Config{Source: st, Logger: log, Registerer: reg})
	hubp.Store(h)
	log.Info("store opened", "db", where, "replica", cfg.ReplicaID)
	s := &Server{cfg: cfg, log: log, store: st, hub: h, id: cfg.ReplicaID, dbName: where, leaderGauge: leaderMetric(reg)}
	// Bind before anything else is created: a start that cannot listen
	// must not leave a first admin token behind that no start line
	// announced.
	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		st.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	opened := false
	defer func() {
		if !opened {
			_ = s.ln.Close()
		}
	}()
	var adminHash []byte
	if cfg.AdminToken != "" {
		sum := sha256.Sum256([]byte(cfg.AdminToken))
		adminHash = sum[:]
	} else if err := s.bootstrapToken(ctx); err != nil {
		st.Close()
		return nil, err
	}
	start := time.Now()
	if err := h.Load(ctx); err != nil {
		st.Close()
		return nil, err
	}
	log.Info("flags loaded", "seq", h.Seq(), "duration", time.Since(start))
	sources := map[string]rollout.Source{rollout.SourceSDK: sdksource.New(st)}
	if cfg.PrometheusURL != "" {
		ps, err := promsource.New(promsource.Config{URL: cfg.PrometheusURL, MinWindow: cfg.PrometheusMinWindow, Logger: log})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("prometheus source: %w", err)
		}
		sources[rollout.SourcePrometheus] = ps
	}
	if s.notifier, err = openNotifier(cfg, log, reg); err != nil {
		st.Close()
		return nil, err
	}
	driver, _, _ := ParseDB(cfg.DB, cfg.DataDir)
	s.ctlCfg = rollout.Config{Store: st, Sources: sources, Logger: log, Notifier: s.notifier, Baselines: st}
	s.ctl = rollout.New(s.ctlCfg)
	s.moves.set(s.ctl)
	sessions := console.NewSessions(console.SessionConfig{})
	api := httpapi.New(httpapi.Config{
		Store: st, Logger: log, AdminTokenHash: adminHash, Sessions: sessions,
		Live: h, Counts: st, Heartbeat: cfg.Heartbeat,
		Rollouts: &s.moves, RolloutStore: st,
		Metrics: reg, Registerer: reg,
		AlertSeverities: cfg.AlertSeverities,
		Baselines:       st, Sources: sources,
		Facts: httpapi.Facts{Version: cfg.Version, StoreDriver: driver, DataDir: cfg.DataDir,
			PrometheusURL: cfg.PrometheusURL, Webhooks: len(cfg.Webhooks), AlertSeverities: cfg.AlertSeverities},
	})
	s.http = &http.Server{
		Handler:           console.New(console.Config{API: api, Sessions: sessions, Logger: log}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	opened = true
	return s, nil
}

// openNotifier checks the webhook and alert configuration and starts the
// notifier, whose counters go to reg.
func openNotifier(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*notify.Notifier, error) {
	for _, sev := range cfg.AlertSeverities {
		if strings.TrimSpace(sev) == "" {
			return nil, errors.New("alert severities: an empty severity is not allowed")
		}
	}
	n, err := notify.New(notify.Config{Targets: cfg.Webhooks, Logger: log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	return n, nil
}

// closeNotifier delivers the notifications still queued, for at most the
// shutdown timeout.
func (s *Server) closeNotifier(ctx context.Context) {
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.notifier.Close(nctx); err != nil {
		s.log.Warn("webhook notifications", "err", err)
	}
}

// bootstrapToken creates an admin token and writes it to the token file
// in the data directory when the store has no admin token yet: the first
// start of a database. Replicas that start together on one new database
// take turns through a lease, so that only the first creates a token and
// the others find it: exactly one replica writes the file.
func (s *Server) bootstrapToken(ctx context.Context) error {
	release, err := s.lockBootstrap(ctx)
	if err != nil {
		return err
	}
	defer release()
	tokens, err := s.store.ListTokens(ctx)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	for _, t := range tokens {
		if t.Kind == ramp.TokenAdmin {
			return nil
		}
	}
	plain, id, hash := ramp.NewToken(ramp.TokenAdmin)
	path := filepath.Join(s.cfg.DataDir, AdminTokenFile)
	// Write the file first: a token nobody can read is worse than none.
	if err := os.WriteFile(path, []byte(plain+"\n"), 0o600); err != nil {
		return fmt.Errorf("write admin token: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("write admin token: %w", err)
	}
	_, err = s.store.CreateToken(ctx, ramp.Change{Actor: "ramp serve"}, ramp.Token{ID: id, Name: "bootstrap", Kind: ramp.TokenAdmin, Hash: hash})
	if err != nil {
		return fmt.Errorf("create admin token: %w", err)
	}
	s.TokenFile = path
	return nil
}

// bootstrapWait bounds how long a replica waits for another to finish
// creating the first admin token.
const bootstrapWait = time.Minute

// lockBootstrap waits until this replica holds the bootstrap lease and
// returns the function that frees it.
func (s *Server) lockBootstrap(ctx context.Context) (release func(), err error) {
	const ttl = 30 * time.Second
	deadline := time.Now().Add(bootstrapWait)
	for {
		ok, err := s.store.AcquireLease(ctx, bootstrapLease, s.id, ttl)
		if err != nil {
			return nil, fmt.Errorf("take the admin token bootstrap lease: %w", err)
		}
		if ok {
			return func() {
				if err := s.store.ReleaseLease(context.WithoutCancel(ctx), bootstrapLease, s.id); err != nil {
					s.log.Warn("release the admin token bootstrap lease", "err", err)
				}
			}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("another replica has been creating the first admin token for %v; start this one again, or give the admin token with --admin-token", bootstrapWait)
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL returns the base URL of the server.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Run serves until ctx ends, then shuts down gracefully and closes the
// store. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		_ = s.hub.Run(hubCtx)
	}()
	tick := s.cfg.ControllerTick
	if tick == 0 {
		tick = time.Second
	}
	ctlDone := make(chan struct{})
	go func() {
		defer close(ctlDone)
		s.lead(hubCtx, tick)
	}()
	pruneDone := make(chan struct{})
	go func() {
		defer close(pruneDone)
		s.pruneCounts(hubCtx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	select {
	case err := <-errc:
		stopHub()
		<-hubDone
		<-ctlDone
		<-pruneDone
		s.closeNotifier(ctx)
		s.store.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Stopping the hub ends every stream, so that Shutdown does not wait
	// for long-lived connections.
	stopHub()
	<-hubDone
	<-ctlDone
	<-pruneDone
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	s.closeNotifier(ctx)
	if cerr := s.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// pruneCounts deletes reported counts older than CountsRetention now and
// every pruneEvery until ctx ends.
func (s *Server) pruneCounts(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		n, err := s.store.PruneCounts(ctx, time.Now().Add(-CountsRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("prune reported counts", "err", err)
		case n > 0:
			s.log.Info("pruned reported counts", "rows", n, "retention", CountsRetention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close releases the listener and the store of a server that was opened
// but not run.
func (s *Server) Close() error {
	s.ln.Close()
	s.closeNotifier(context.Background())
	return s.store.Close()
}
