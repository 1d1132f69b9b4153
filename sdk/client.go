package sdk

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ramp-flags/ramp/eval"
)

// ErrNotReady is returned, wrapped with its cause, by New when the client
// has no flags after StartTimeout: the server did not answer and there is
// no usable cache file. The client New returns with it is usable: it
// serves every caller's default (ErrProviderNotReady) and keeps trying in
// the background, and Ready is closed when the flags arrive.
var ErrNotReady = errors.New("sdk: no flags yet")

// Status says whether a client's flags are current.
type Status int32

// Statuses.
const (
	// StatusNotReady: no flags yet. Every evaluation serves the caller's
	// default with ErrProviderNotReady.
	StatusNotReady Status = iota
	// StatusLive: the client holds the environment's flags and is
	// connected: changes arrive as they are made.
	StatusLive
	// StatusStale: the client serves the last flags it had (from the
	// server or the cache file) but cannot reach the server; it keeps
	// trying.
	StatusStale
)

// String returns "not ready", "live" or "stale".
func (s Status) String() string {
	switch s {
	case StatusNotReady:
		return "not ready"
	case StatusLive:
		return "live"
	case StatusStale:
		return "stale"
	}
	return fmt.Sprintf("Status(%d)", int32(s))
}

// ChangeEvent tells OnChange callbacks which flags changed.
type ChangeEvent struct {
	// Keys are the flags whose evaluation may have changed (created,
	// modified, deleted, or using a segment that changed), sorted.
	Keys []string
	// Seq is the server's change sequence after the change.
	Seq int64
}

// StatusEvent tells OnStatus callbacks that the status changed.
type StatusEvent struct {
	Status Status
	// Err is the connection error that made the client stale or keeps it
	// not ready; nil when live.
	Err error
}

// Client evaluates the flags of one environment in-process and keeps them
// current. Its methods are safe for concurrent use. Create one per
// application with New and Close it at exit.
type Client struct {
	cfg   Config
	ep    endpoints
	log   *slog.Logger
	clock Clock
	comp  compiler

	// snap is the current snapshot; nil until the first one. Evaluation
	// reads it without locks.
	snap   atomic.Pointer[snapshot]
	status atomic.Int32
	// waiting is what an evaluation answers while snap is nil: notReady,
	// or notReady with the last failed attempt's error.
	waiting atomic.Pointer[eval.Result]

	// mu serializes the writers of snap and of the connection state.
	mu         sync.Mutex
	connected  bool
	lastErr    error
	cacheTried bool
	resync     bool // the next connection asks for a full snapshot
	ready      chan struct{}
	// refused is closed when the server refuses the token, or has not
	// the environment, before the client has flags: New stops waiting
	// for them.
	refused     chan struct{}
	refusedOnce sync.Once

	// Callbacks and their queue; see dispatch.
	listenMu  sync.Mutex
	listeners []listener
	nextID    int
	queued    uint64
	// listenedAt is queued when the last listener registered: a change
	// must not merge into a notice queued before that, which the new
	// listener skips.
	listenedAt uint64
	queue      []notice
	wake       chan struct{}

	cacheMu   sync.Mutex
	cacheKick chan struct{}
	written   *snapshot

	// meter counts what Observe is told; reportMu serializes reports and
	// guards what they delivered.
	meter         *meter
	reportMu      sync.Mutex
	reportFailing bool

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

type listener struct {
	id int
	// since is the number of notices queued before the listener was
	// registered: it gets only later ones.
	since    uint64
	onChange func(ChangeEvent)
	onStatus func(StatusEvent)
}

type notice struct {
	n      uint64 // the number of notices queued up to this one
	change *ChangeEvent
	status *StatusEvent
}

// New starts a client: it connects to the server's stream and waits, at
// most cfg.StartTimeout and not beyond ctx, for the first snapshot.
//
// It returns an error and a nil client only for an invalid Config. In
// every other case the client is usable and keeps connecting in the
// background until Close:
//   - the server answered: the client is live, and the error is nil;
//   - the server could not be reached but cfg.CacheFile held a snapshot:
//     the client serves it (StatusStale), and the error is nil;
//   - neither: the error wraps ErrNotReady and the cause; the client serves
//     callers' defaults until the flags arrive, and Ready tells when.
//
// ctx bounds only this wait; the client's background work ends with Close.
func New(ctx context.Context, cfg Config) (*Client, error) {
	ep, err := cfg.check()
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:       cfg,
		ep:        ep,
		log:       cfg.Logger,
		clock:     cfg.Clock,
		comp:      compiler{seed: maphash.MakeSeed(), keySeed: rand.Uint64()},
		ready:     make(chan struct{}),
		refused:   make(chan struct{}),
		wake:      make(chan struct{}, 1),
		cacheKick: make(chan struct{}, 1),
		meter:     newMeter(),
	}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.wg.Add(2)
	go c.run()
	go c.dispatch()
	if cfg.CacheFile != "" {
		c.wg.Add(1)
		go c.cacheLoop()
	}
	if cfg.ReportInterval > 0 {
		c.wg.Add(1)
		go c.reportLoop()
	}

	t := c.clock.NewTimer(cfg.StartTimeout)
	defer t.Stop()
	select {
	case <-c.ready:
		return c, nil
	case <-t.C():
	case <-ctx.Done():
	case <-c.refused: // waiting longer would not help
	}
	c.bootFromCache()
	select {
	case <-c.ready:
		return c, nil
	default:
	}
	cause := ctx.Err()
	if cause == nil {
		cause = c.Err()
	}
	if cause == nil {
		cause = fmt.Errorf("no snapshot from %s within %v", cfg.URL, cfg.StartTimeout)
	}
	c.log.Warn("ramp: starting without flags; serving defaults until the server answers", "url", cfg.URL, "err", cause)
	return c, fmt.Errorf("%w: %w", ErrNotReady, cause)
}

// Ready returns a channel that is closed once the client has flags, from
// the server or the cache file. It never reopens.
func (c *Client) Ready() <-chan struct{} { return c.ready }

// Status returns whether the client's flags are current.
func (c *Client) Status() Status { return Status(c.status.Load()) }

// Err returns the error of the last failed attempt to reach the server,
// or nil while the client is live.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Seq returns the server's change sequence of the flags the client
// serves, or 0 before it has any.
func (c *Client) Seq() int64 {
	if s := c.snap.Load(); s != nil {
		return s.seq
	}
	return 0
}

// Environment returns the environment whose flags the client serves, or
// "" before it has any.
func (c *Client) Environment() string {
	if s := c.snap.Load(); s != nil {
		return s.env
	}
	return ""
}

// Keys returns the keys of the flags the client serves, sorted.
func (c *Client) Keys() []string {
	if s := c.snap.Load(); s != nil {
		return s.keys()
	}
	return nil
}

// OnChange registers fn to be called after each applied snapshot or
// change with the keys of the flags that changed, and returns a function
// that unregisters it. fn hears of changes applied after it is
// registered, never of earlier ones.
//
// Callbacks run one at a time, in the order of the changes, on a goroutine
// of the client and outside its locks, so they may call the client. They
// never block the stream: while a callback runs, further changes queue
// and merge into one event (keys united, the latest Seq). A callback that
// blocks for good delays every later callback and Close, and a callback
// must not call Close itself. A panic in a callback is recovered and
// logged.
func (c *Client) OnChange(fn func(ChangeEvent)) (remove func()) {
	return c.listen(listener{onChange: fn})
}

// OnStatus registers fn to be called each time Status changes, on the
// same goroutine and with the same guarantees as OnChange callbacks, in
// order with the changes. It returns a function that unregisters fn.
func (c *Client) OnStatus(fn func(StatusEvent)) (remove func()) {
	return c.listen(listener{onStatus: fn})
}

func (c *Client) listen(l listener) func() {
	c.listenMu.Lock()
	defer c.listenMu.Unlock()
	c.nextID++
	l.id, l.since = c.nextID, c.queued
	c.listenedAt = c.queued
	c.listeners = append(c.listeners, l)
	return func() {
		c.listenMu.Lock()
		defer c.listenMu.Unlock()
		c.listeners = slices.DeleteFunc(c.listeners, func(x listener) bool { return x.id == l.id })
	}
}

// Close stops the client: it ends the connection, waits for its
// goroutines (and for a callback or a report that is running), sends the
// counts not yet reported unless reporting is disabled (within
// ReportTimeout), and writes the last snapshot to the cache file if it is
// not there yet. Notifications not yet delivered are dropped. After Close
// the client keeps serving the flags it had, and Observe keeps counting.
// Close returns the errors of that last report and cache write, if any;
// calling it again returns the same.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.wg.Wait()
		c.mu.Lock()
		c.connected = false
		if c.snap.Load() != nil {
			c.status.Store(int32(StatusStale)) // no callbacks run any more
		}
		c.mu.Unlock()
		var errs []error
		if c.cfg.ReportInterval > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), ReportTimeout)
			if err := c.Flush(ctx); err != nil {
				errs = append(errs, fmt.Errorf("sdk: last report: %w", err))
			}
			cancel()
		}
		if c.cfg.CacheFile != "" {
			errs = append(errs, c.writeCache())
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// apply applies one event to the current snapshot and publishes the
// result. Events that do not follow docs/stream.md's ordering rules are
// ignored.
func (c *Client) apply(u update, source string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	if u.full {
		if c.cfg.Environment != "" && u.env != c.cfg.Environment {
			c.log.Warn("ramp: ignoring flags of another environment", "source", source, "environment", u.env, "want", c.cfg.Environment)
			return
		}
		if old != nil && old.env == u.env && old.seq == u.seq {
			c.resync = false
			return // the same snapshot
		}
		if old != nil && old.env == u.env && u.seq < old.seq {
			// The server went back in time (restored from a backup, or a
			// replica behind another). A snapshot says what the server
			// serves now; ignoring it would also ignore every change
			// until the sequence caught up, the kill switch included.
			c.log.Warn("ramp: the server's change sequence went back; applying its snapshot", "source", source, "seq", u.seq, "had", old.seq)
		}
		c.resync = false
	} else {
		if old == nil {
			c.resync = true
			c.log.Warn("ramp: ignoring a change before any snapshot", "source", source, "seq", u.seq)
			return
		}
		if u.seq <= old.seq {
			c.log.Debug("ramp: ignoring a change already applied", "source", source, "seq", u.seq, "have", old.seq)
			return
		}
		u.env = old.env
	}
	next, keys, err := c.comp.build(old, u)
	if err != nil {
		c.log.Warn("ramp: flags that do not compile serve the caller's default with PARSE_ERROR", "source", source, "err", err)
	}
	c.publishLocked(old, next, keys)
}

// publishLocked makes next the current snapshot and notifies. c.mu is
// held.
func (c *Client) publishLocked(old, next *snapshot, keys []string) {
	c.snap.Store(next)
	c.updateStatusLocked()
	if len(keys) > 0 {
		c.enqueue(notice{change: &ChangeEvent{Keys: keys, Seq: next.seq}})
	}
	if c.cfg.CacheFile != "" && !next.fromCache {
		select {
		case c.cacheKick <- struct{}{}:
		default:
		}
	}
	// Last, so that whoever waits on Ready sees the status and registers
	// callbacks after the first notifications.
	if old == nil {
		close(c.ready)
	}
}

// setConnected records that the server answered (ok) or could not be
// reached (err).
func (c *Client) setConnected(ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connected = ok
	if ok {
		c.lastErr = nil
	} else if err != nil {
		c.lastErr = err
		if c.snap.Load() == nil {
			r := *notReady
			r.ErrorMessage += "; the last attempt: " + err.Error()
			c.waiting.Store(&r)
		}
	}
	c.updateStatusLocked()
}

// updateStatusLocked derives the status and notifies a change. c.mu is
// held.
func (c *Client) updateStatusLocked() {
	st := StatusStale
	switch {
	case c.snap.Load() == nil:
		st = StatusNotReady
	case c.connected:
		st = StatusLive
	}
	if Status(c.status.Swap(int32(st))) == st {
		return
	}
	var err error
	if st != StatusLive {
		err = c.lastErr
	}
	switch st {
	case StatusLive:
		c.log.Info("ramp: connected; flags are live", "url", c.cfg.URL)
	case StatusStale:
		c.log.Warn("ramp: cannot reach the server; serving the last flags", "url", c.cfg.URL, "err", err)
	}
	c.enqueue(notice{status: &StatusEvent{Status: st, Err: err}})
}

// lastEventID returns the Last-Event-ID of the next stream connection,
// or "" to ask for a snapshot.
func (c *Client) lastEventID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.snap.Load()
	if s == nil || c.resync || s.seq <= 0 {
		return ""
	}
	return strconv.FormatInt(s.seq, 10)
}

// askResync makes the next connection ask for a full snapshot: the client
// missed a change it could not parse.
func (c *Client) askResync() {
	c.mu.Lock()
	c.resync = true
	c.mu.Unlock()
}

// bootFromCache loads the cache file, once, if the client has no flags.
func (c *Client) bootFromCache() {
	if c.cfg.CacheFile == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cacheTried || c.snap.Load() != nil {
		return
	}
	c.cacheTried = true
	d, err := readCache(c.cfg.CacheFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.log.Info("ramp: no cache file to start from", "file", c.cfg.CacheFile)
		return
	case err != nil:
		c.log.Warn("ramp: ignoring the cache file", "file", c.cfg.CacheFile, "err", err)
		return
	case c.cfg.Environment != "" && d.Environment != c.cfg.Environment:
		c.log.Warn("ramp: ignoring the cache file of another environment", "file", c.cfg.CacheFile, "environment", d.Environment)
		return
	}
	next, keys, err := c.comp.build(nil, d.update())
	if err != nil {
		c.log.Warn("ramp: flags that do not compile serve the caller's default with PARSE_ERROR", "source", "cache", "err", err)
	}
	next.fromCache = true
	c.log.Warn("ramp: started from the cache file; the server is not reachable", "file", c.cfg.CacheFile, "seq", next.seq)
	c.publishLocked(nil, next, keys)
}

// enqueue queues a notification for the callbacks. It never blocks: a
// change merges into a change queued just before it.
func (c *Client) enqueue(n notice) {
	c.listenMu.Lock()
	c.queued++
	n.n = c.queued
	if q := len(c.queue); n.change != nil && q > 0 && c.queue[q-1].change != nil && c.queue[q-1].n > c.listenedAt {
		prev := c.queue[q-1].change
		keys := append(slices.Clone(prev.Keys), n.change.Keys...)
		slices.Sort(keys)
		c.queue[q-1] = notice{n: n.n, change: &ChangeEvent{Keys: slices.Compact(keys), Seq: n.change.Seq}}
	} else {
		c.queue = append(c.queue, n)
	}
	c.listenMu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// dispatch delivers queued notifications to the callbacks, one at a time.
func (c *Client) dispatch() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.wake:
		}
		for c.ctx.Err() == nil {
			c.listenMu.Lock()
			if len(c.queue) == 0 {
				c.listenMu.Unlock()
				break
			}
			n := c.queue[0]
			c.queue[0] = notice{}
			c.queue = c.queue[1:]
			ls := slices.Clone(c.listeners)
			c.listenMu.Unlock()
			for _, l := range ls {
				if n.n <= l.since {
					continue // registered after this happened
				}
				switch {
				case n.change != nil && l.onChange != nil:
					ev := ChangeEvent{Keys: slices.Clone(n.change.Keys), Seq: n.change.Seq}
					c.call(func() { l.onChange(ev) })
				case n.status != nil && l.onStatus != nil:
					c.call(func() { l.onStatus(*n.status) })
				}
			}
		}
	}
}

func (c *Client) call(f func()) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("ramp: a callback panicked", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	f()
}
