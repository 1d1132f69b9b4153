package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/rollout"
)

// LeaderLease is the name of the lease whose holder runs the rollout
// controller. Every replica on one database competes for it; the one
// that holds it ticks the controller, the others only serve requests.
const LeaderLease = "rollout-controller"

// DefaultLeaseTTL is how long the leader lease lasts unless renewed;
// Config.LeaseTTL overrides it. The leader renews it every third of it.
const DefaultLeaseTTL = 15 * time.Second

// bootstrapLease is the lease that serializes the creation of the first
// admin token among replicas that start together on an empty database.
const bootstrapLease = "admin-token-bootstrap"

// newReplicaID returns a name for this process that no other replica has:
// the host name, the process ID and random bytes, so that a restarted
// replica never mistakes the lease of its previous life for its own and
// two replicas never share one.
//
// A SQLite database is served by one process, so there the name is the
// host and the database file instead: a server restarted after a crash
// takes back at once the lease its previous life held, rather than
// waiting for it to expire.
func newReplicaID(kind, target string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "ramp"
	}
	if kind == DBSQLite {
		if abs, err := filepath.Abs(target); err == nil {
			target = abs
		}
		return host + ":" + target
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// leaderMetric is the ramp_leader gauge: 1 while this replica runs the
// rollout controller.
func leaderMetric(reg prometheus.Registerer) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ramp_leader",
		Help: "1 while this replica holds the leader lease and runs the rollout controller, 0 otherwise.",
	})
	reg.MustRegister(g)
	return g
}

// IsLeader reports whether this replica runs the rollout controller now.
func (s *Server) IsLeader() bool { return s.leading.Load() }

// DBName returns the database the server uses, with any password hidden.
func (s *Server) DBName() string { return s.dbName }

// ReplicaID returns the name this replica holds leases under.
func (s *Server) ReplicaID() string { return s.id }

// lead competes for the leader lease until ctx ends and runs the rollout
// controller, ticking every tick, only while it holds the lease.
//
// The leader renews the lease every third of its time to live, and each
// renewal may take at most that long. When a renewal fails or finds the
// lease taken, the controller is stopped at once, before the lease it
// last renewed can expire: by then another replica may hold it. That
// bounds how long two controllers can overlap; the controller's
// transitions are version-checked in the store, so even an overlap
// cannot take one transition twice.
func (s *Server) lead(ctx context.Context, tick time.Duration) {
	ttl := s.cfg.LeaseTTL
	renewEvery := ttl / 3
	// A follower asks more often than the leader renews, so that it takes
	// over soon after the lease expires.
	pollEvery := max(ttl/10, 100*time.Millisecond)
	var lastErr string
	for {
		ok, err := s.tryLease(ctx, renewEvery)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if msg := err.Error(); msg != lastErr {
				s.log.Warn("leader lease: cannot reach the store; not running the rollout controller", "err", err)
				lastErr = msg
			}
		} else {
			lastErr = ""
		}
		if !ok {
			if !sleep(ctx, pollEvery) {
				return
			}
			continue
		}
		reason := s.runTerm(ctx, tick, ttl, renewEvery)
		if ctx.Err() != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if err := s.store.ReleaseLease(rctx, LeaderLease, s.id); err != nil {
				s.log.Warn("leader lease: release at shutdown", "err", err)
			}
			cancel()
			return
		}
		s.log.Warn("this replica stopped running the rollout controller", "replica", s.id, "reason", reason)
	}
}

// runTerm runs the controller while this replica holds the lease, which
// it has just taken, and returns why it stopped.
func (s *Server) runTerm(ctx context.Context, tick, ttl, renewEvery time.Duration) string {
	s.leading.Store(true)
	s.leaderGauge.Set(1)
	s.log.Info("this replica leads: running the rollout controller", "replica", s.id, "lease", ttl)
	// A new controller for each term: what the last one remembered of
	// active rollouts is stale after a gap in which another replica led,
	// and would make it announce as aborted rollouts that ended meanwhile.
	// The API's moves go to the same controller, so that it knows which
	// rollouts this replica ended itself.
	ctl := rollout.New(s.ctlCfg)
	s.moves.set(ctl)
	termCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ctl.Run(termCtx, tick)
	}()
	defer func() {
		stop()
		<-done
		s.leading.Store(false)
		s.leaderGauge.Set(0)
	}()
	for {
		if !sleep(ctx, renewEvery) {
			return "shutdown"
		}
		ok, err := s.tryLease(ctx, renewEvery)
		switch {
		case ctx.Err() != nil:
			return "shutdown"
		case err != nil:
			return "renewing the lease failed: " + err.Error()
		case !ok:
			return "another replica holds the lease"
		}
	}
}

// tryLease takes or renews the leader lease, waiting at most limit for
// the store.
func (s *Server) tryLease(ctx context.Context, limit time.Duration) (bool, error) {
	lctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return s.store.AcquireLease(lctx, LeaderLease, s.id, s.cfg.LeaseTTL)
}

// sleep waits for d and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// controllerSwitch is the httpapi.Rollouts the API is given: it passes
// each move to the controller of this replica's current (or last) term of
// leadership, or to the first controller before any. Every controller
// takes moves through versioned store transactions, so a move made through
// one that does not tick is as safe as through the leader's.
type controllerSwitch struct {
	cur atomic.Pointer[rollout.Controller]
}

func (c *controllerSwitch) set(ctl *rollout.Controller) { c.cur.Store(ctl) }

// Start starts a rollout; see rollout.Controller.Start.
func (c *controllerSwitch) Start(ctx context.Context, actor, flag, env string, plan rollout.Plan) (*ramp.Rollout, error) {
	return c.cur.Load().Start(ctx, actor, flag, env, plan)
}

// Pause pauses a rollout; see rollout.Controller.Pause.
func (c *controllerSwitch) Pause(ctx context.Context, actor string, id int64, reason string) (*ramp.Rollout, error) {
	return c.cur.Load().Pause(ctx, actor, id, reason)
}

// Resume resumes a rollout; see rollout.Controller.Resume.
func (c *controllerSwitch) Resume(ctx context.Context, actor string, id int64, reason string) (*ramp.Rollout, error) {
	return c.cur.Load().Resume(ctx, actor, id, reason)
}

// Promote promotes a rollout; see rollout.Controller.Promote.
func (c *controllerSwitch) Promote(ctx context.Context, actor string, id int64, reason string) (*ramp.Rollout, error) {
	return c.cur.Load().Promote(ctx, actor, id, reason)
}

// Abort aborts a rollout; see rollout.Controller.Abort.
func (c *controllerSwitch) Abort(ctx context.Context, actor string, id int64, reason string) (*ramp.Rollout, error) {
	return c.cur.Load().Abort(ctx, actor, id, reason)
}

var _ httpapi.Rollouts = (*controllerSwitch)(nil)
