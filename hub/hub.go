// Package hub keeps the flags of every environment in memory, compiled and
// ready to evaluate, and fans every committed change out to subscribers:
// the SDK streams and the OFREP refresh streams.
//
// The hub follows the store's change feed (the audit log, in ID order):
// a commit hook wakes it at once and a slow poll catches anything a wake-up
// missed, so no change is lost and each is applied once, in order. Each
// change swaps in a new immutable State per environment; readers never
// lock.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/eval"
)

// Source is what the hub reads: the store.
type Source interface {
	ListEnvironments(ctx context.Context) ([]ramp.Environment, error)
	ListFlags(ctx context.Context) ([]*ramp.Flag, error)
	ListSegments(ctx context.Context) ([]*ramp.Segment, error)
	GetFlag(ctx context.Context, key string) (*ramp.Flag, error)
	GetSegment(ctx context.Context, key string) (*ramp.Segment, error)
	// Changes returns audit entries with an ID above after, oldest first.
	Changes(ctx context.Context, after int64, limit int) ([]ramp.AuditEntry, error)
}

// Config configures a Hub.
type Config struct {
	Source Source
	// Logger receives errors reading the source and flags that fail to
	// compile. Nil discards.
	Logger *slog.Logger
	// Registerer receives the hub's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// PollInterval is how often the hub reads the change feed without being
	// woken. Zero means one second.
	PollInterval time.Duration
	// Buffer is the number of events a subscriber may have pending before
	// it is resynchronised with a snapshot. Zero means 64.
	Buffer int
	// History is the number of recent change events kept per environment so
	// that a reconnecting subscriber can resume. Zero means 1024.
	History int
}

// Event is one message to a subscriber: a full snapshot or a change.
type Event struct {
	// Seq is the change sequence after the event is applied; the SSE id.
	Seq int64
	// Type is "snapshot" or "change".
	Type string
	// Data is the event's JSON (docs/stream.md). It is shared: do not
	// modify it.
	Data []byte
	// Frame is the whole event as one Server-Sent Events message, ending
	// with its blank line: "id: <Seq>\nevent: <Type>\ndata: <Data>\n\n".
	// It is formatted once per event and shared by every subscriber, and
	// Data is a part of it: do not modify it.
	Frame []byte
}

// newEvent returns the event with its frame formatted around data, and
// Data a slice of Frame rather than a second copy kept.
func newEvent(seq int64, typ string, data []byte) Event {
	b := make([]byte, 0, len(data)+len(typ)+40)
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, typ...)
	b = append(b, "\ndata: "...)
	start := len(b)
	b = append(b, data...)
	end := len(b)
	b = append(b, "\n\n"...)
	return Event{Seq: seq, Type: typ, Data: b[start:end:end], Frame: b}
}

// Event types.
const (
	EventSnapshot = "snapshot"
	EventChange   = "change"
)

// State is the flags of one environment at one point of the change
// sequence. It is immutable.
type State struct {
	Environment string
	// Seq is the sequence number of the last change applied.
	Seq int64
	// Eval evaluates the environment's flags.
	Eval *eval.Snapshot

	flags    map[string]*ramp.Flag // only this environment's state in each
	segments map[string]*ramp.Segment

	snapOnce sync.Once
	snap     Event
}

// Document returns the environment document of docs/stream.md as JSON,
// encoded once per State and shared.
func (s *State) Document() []byte { return s.Snapshot().Data }

// Snapshot returns the state as a snapshot event, encoded and framed once
// per State and shared.
func (s *State) Snapshot() Event {
	s.snapOnce.Do(func() {
		d := ramp.EnvironmentDocument{Environment: s.Environment, Seq: s.Seq, Flags: sortedValues(s.flags), Segments: sortedValues(s.segments)}
		s.snap = newEvent(s.Seq, EventSnapshot, mustJSON(d))
	})
	return s.snap
}

// Flag returns the flag with the key, holding only this environment's
// state, or nil. It must not be modified.
func (s *State) Flag(key string) *ramp.Flag { return s.flags[key] }

// Hub is the live state of every environment. Its methods are safe for
// concurrent use.
type Hub struct {
	src      Source
	log      *slog.Logger
	poll     time.Duration
	buffer   int
	history  int
	wake     chan struct{}
	metrics  metrics
	states   atomic.Pointer[map[string]*State]
	seq      atomic.Int64
	loaded   atomic.Bool
	mu       sync.Mutex // guards subs and recent; held briefly, never during I/O
	subs     map[string]map[*Subscription]struct{}
	recent   map[string]*history // per environment
	closed   bool
	rawFlags map[string]*ramp.Flag // every environment; owned by the Run goroutine
	rawSegs  map[string]*ramp.Segment
}

type metrics struct {
	subscribers *prometheus.GaugeVec
	published   prometheus.Counter
	resyncs     prometheus.Counter
	applyTime   prometheus.Histogram
}

// New returns a hub reading from cfg.Source. Call Load, then Run.
func New(cfg Config) *Hub {
	h := &Hub{
		src:     cfg.Source,
		log:     cfg.Logger,
		poll:    cfg.PollInterval,
		buffer:  cfg.Buffer,
		history: cfg.History,
		wake:    make(chan struct{}, 1),
		subs:    map[string]map[*Subscription]struct{}{},
		recent:  map[string]*history{},
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.poll == 0 {
		h.poll = time.Second
	}
	if h.buffer == 0 {
		h.buffer = 64
	}
	if h.history == 0 {
		h.history = 1024
	}
	h.metrics = metrics{
		subscribers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ramp_stream_clients", Help: "Connected stream clients, by environment.",
		}, []string{"environment"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ramp_changes_published_total", Help: "Changes applied to the live snapshots and published to stream clients.",
		}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ramp_stream_client_resyncs_total", Help: "Times a stream client fell behind, had its pending events dropped and was sent a fresh snapshot.",
		}),
		applyTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ramp_change_apply_seconds", Help: "Time from reading a change from the store to publishing it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(h.metrics.subscribers, h.metrics.published, h.metrics.resyncs, h.metrics.applyTime)
		cfg.Registerer.MustRegister(newPercentCollector(h))
	}
	empty := map[string]*State{}
	h.states.Store(&empty)
	return h
}

// Load reads every environment, flag and segment and builds the first
// states. It must be called once, before Run.
func (h *Hub) Load(ctx context.Context) error {
	// Read the feed position first: a change committed while loading is
	// then applied again by Run, which is harmless, rather than missed.
	seq, err := h.lastSeq(ctx)
	if err != nil {
		return err
	}
	if err := h.reload(ctx, seq); err != nil {
		return err
	}
	h.loaded.Store(true)
	return nil
}

// lastSeq returns the ID of the newest change in the feed.
func (h *Hub) lastSeq(ctx context.Context) (int64, error) {
	var last int64
	for {
		page, err := h.src.Changes(ctx, last, 1000)
		if err != nil {
			return 0, fmt.Errorf("read change feed: %w", err)
		}
		if len(page) == 0 {
			return last, nil
		}
		last = page[len(page)-1].ID
	}
}

// reload rebuilds every state from a full read and publishes a snapshot
// event to every subscriber.
func (h *Hub) reload(ctx context.Context, seq int64) error {
	envs, err := h.src.ListEnvironments(ctx)
	if err != nil {
		return fmt.Errorf("load environments: %w", err)
	}
	flags, err := h.src.ListFlags(ctx)
	if err != nil {
		return fmt.Errorf("load flags: %w", err)
	}
	segs, err := h.src.ListSegments(ctx)
	if err != nil {
		return fmt.Errorf("load segments: %w", err)
	}
	h.rawFlags = make(map[string]*ramp.Flag, len(flags))
	for _, f := range flags {
		h.rawFlags[f.Key] = f
	}
	h.rawSegs = make(map[string]*ramp.Segment, len(segs))
	for _, s := range segs {
		h.rawSegs[s.Key] = s
	}
	states := make(map[string]*State, len(envs))
	for _, e := range envs {
		st := &State{Environment: e.Key, Seq: seq, flags: make(map[string]*ramp.Flag, len(flags)), segments: h.rawSegs}
		compiled := make(map[string]*eval.Flag, len(flags))
		for _, f := range flags {
			st.flags[f.Key] = onlyEnv(f, e.Key)
			compiled[f.Key] = h.compile(f, e.Key)
		}
		st.Eval = eval.SnapshotOf(e.Key, compiled)
		states[e.Key] = st
	}
	h.states.Store(&states)
	h.seq.Store(seq)

	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.recent)
	for env := range states {
		h.recent[env] = &history{since: seq}
	}
	for env, subs := range h.subs {
		st := states[env]
		for sub := range subs {
			if st == nil {
				sub.end(errors.New("the environment was deleted"))
				continue
			}
			sub.resync()
		}
	}
	return nil
}

func (h *Hub) compile(f *ramp.Flag, env string) *eval.Flag {
	c, err := eval.Compile(f, env, h.rawSegs)
	if err != nil {
		h.log.Error("flag does not compile; its evaluations fail with PARSE_ERROR", "flag", f.Key, "environment", env, "err", err)
		return eval.Failed(f.Key, err)
	}
	return c
}

// onlyEnv returns a copy of f that holds only env's state.
func onlyEnv(f *ramp.Flag, env string) *ramp.Flag {
	c := *f
	c.Environments = map[string]*ramp.FlagEnv{}
	if fe := f.Environments[env]; fe != nil {
		c.Environments[env] = fe
	}
	return &c
}

// Notify wakes the hub to read the change feed now. It never blocks; the
// store's commit hook calls it.
func (h *Hub) Notify() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Run follows the change feed until ctx ends, then ends every
// subscription. Errors reading the source are logged and retried at the
// next poll: meanwhile the states keep serving.
func (h *Hub) Run(ctx context.Context) error {
	if !h.loaded.Load() {
		return errors.New("hub: Run before Load")
	}
	defer h.closeAll()
	t := time.NewTicker(h.poll)
	defer t.Stop()
	for {
		if err := h.catchUp(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("read change feed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.wake:
		case <-t.C:
		}
	}
}

// catchUp applies every change after the current sequence.
func (h *Hub) catchUp(ctx context.Context) error {
	for {
		page, err := h.src.Changes(ctx, h.seq.Load(), 1000)
		if err != nil {
			return fmt.Errorf("read change feed: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		if err := h.apply(ctx, page); err != nil {
			return err
		}
	}
}

// apply applies a page of changes: the flags and segments they name are
// read again, every environment's state is rebuilt from the previous one
// with only those recompiled, and one change event per environment is
// published.
func (h *Hub) apply(ctx context.Context, page []ramp.AuditEntry) error {
	start := time.Now()
	seq := page[len(page)-1].ID
	flagKeys := map[string]bool{}
	segKeys := map[string]bool{}
	for _, e := range page {
		switch e.Kind {
		case "flag", "rollout":
			// A rollout's audit row names its flag, which it may change.
			flagKeys[e.Key] = true
		case "segment":
			segKeys[e.Key] = true
		case "environment":
			// Environments change every flag: read everything again.
			if err := h.reload(ctx, seq); err != nil {
				return err
			}
			h.metrics.published.Add(float64(len(page)))
			return nil
		}
	}
	if len(flagKeys) == 0 && len(segKeys) == 0 {
		h.seq.Store(seq) // tokens and such: nothing to publish
		return nil
	}
	var ch ramp.EnvironmentChange
	ch.Seq = seq
	for key := range segKeys {
		s, err := h.src.GetSegment(ctx, key)
		switch {
		case ramp.ErrorCode(err) == ramp.ENOTFOUND:
			h.rawSegs = maps.Clone(h.rawSegs)
			delete(h.rawSegs, key)
			ch.DeletedSegments = append(ch.DeletedSegments, key)
		case err != nil:
			return fmt.Errorf("read segment %s: %w", key, err)
		default:
			h.rawSegs = cloneSet(h.rawSegs, key, s)
			ch.Segments = append(ch.Segments, s)
		}
	}
	if len(segKeys) > 0 {
		// Flags that use a changed segment compile anew.
		for k, f := range h.rawFlags {
			for _, ref := range f.SegmentRefs() {
				if segKeys[ref] {
					flagKeys[k] = true
				}
			}
		}
	}
	var changed []*ramp.Flag
	for key := range flagKeys {
		f, err := h.src.GetFlag(ctx, key)
		switch {
		case ramp.ErrorCode(err) == ramp.ENOTFOUND:
			delete(h.rawFlags, key)
			ch.DeletedFlags = append(ch.DeletedFlags, key)
		case err != nil:
			return fmt.Errorf("read flag %s: %w", key, err)
		default:
			h.rawFlags[key] = f
			changed = append(changed, f)
		}
	}
	sort.Strings(ch.DeletedFlags)
	sort.Strings(ch.DeletedSegments)
	slices.SortFunc(changed, func(a, b *ramp.Flag) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(ch.Segments, func(a, b *ramp.Segment) int { return strings.Compare(a.Key, b.Key) })

	old := *h.states.Load()
	states := make(map[string]*State, len(old))
	events := make(map[string]Event, len(old))
	for env, prev := range old {
		st := &State{Environment: env, Seq: seq, flags: maps.Clone(prev.flags), segments: h.rawSegs}
		compiled := prev.Eval.Flags()
		envCh := ch
		envCh.Flags = nil
		for _, f := range changed {
			of := onlyEnv(f, env)
			st.flags[f.Key] = of
			compiled[f.Key] = h.compile(f, env)
			envCh.Flags = append(envCh.Flags, of)
		}
		for _, key := range ch.DeletedFlags {
			delete(st.flags, key)
			delete(compiled, key)
		}
		st.Eval = eval.SnapshotOf(env, compiled)
		states[env] = st
		events[env] = newEvent(seq, EventChange, mustJSON(envCh))
	}
	h.states.Store(&states)
	h.seq.Store(seq)
	h.publish(events)
	h.metrics.published.Add(float64(len(page)))
	h.metrics.applyTime.Observe(time.Since(start).Seconds())
	return nil
}

// cloneSet returns a copy of m with key set to v: states share the segment
// map, so it is never changed in place.
func cloneSet[V any](m map[string]V, key string, v V) map[string]V {
	c := maps.Clone(m)
	if c == nil {
		c = map[string]V{}
	}
	c[key] = v
	return c
}

// publish records each environment's event in its history and offers it
// to that environment's subscribers without blocking.
func (h *Hub) publish(events map[string]Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for env, ev := range events {
		if r := h.recent[env]; r != nil {
			r.add(ev, h.history)
		}
		for sub := range h.subs[env] {
			sub.offer(ev)
		}
	}
}

// Env returns the current state of the environment, or nil if it does not
// exist.
func (h *Hub) Env(env string) *State { return (*h.states.Load())[env] }

// Seq returns the sequence number of the last change applied.
func (h *Hub) Seq() int64 { return h.seq.Load() }

// Subscribe registers a subscriber to the environment's events. If
// lastSeq is positive and the hub still holds every change after it, the
// subscription starts with those changes; otherwise with a snapshot. It
// fails with ENOTFOUND for an unknown environment and EUNAVAILABLE once
// the hub has stopped. The caller must Close the subscription.
func (h *Hub) Subscribe(env string, lastSeq int64) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ramp.Errorf(ramp.EUNAVAILABLE, "the server is shutting down")
	}
	st := h.Env(env)
	if st == nil {
		return nil, ramp.Errorf(ramp.ENOTFOUND, "environment %q does not exist", env)
	}
	sub := &Subscription{hub: h, env: env, wake: make(chan struct{}, 1)}
	switch r := h.recent[env]; {
	case lastSeq > 0 && lastSeq == st.Seq:
		// Up to date: nothing to send until the next change.
	case lastSeq > 0 && lastSeq < st.Seq && r != nil && r.covers(lastSeq, h.buffer):
		for _, ev := range r.events {
			if ev.Seq > lastSeq {
				sub.offer(ev)
			}
		}
	default:
		sub.resync()
	}
	if h.subs[env] == nil {
		h.subs[env] = map[*Subscription]struct{}{}
	}
	h.subs[env][sub] = struct{}{}
	h.metrics.subscribers.WithLabelValues(env).Inc()
	return sub, nil
}

// history is the recent change events of one environment.
type history struct {
	// since is the sequence from which events holds every change: the
	// last reload, or the last event dropped for space.
	since  int64
	events []Event
}

func (r *history) add(ev Event, max int) {
	r.events = append(r.events, ev)
	if n := len(r.events) - max; n > 0 {
		r.since = r.events[n-1].Seq
		r.events = slices.Clone(r.events[n:])
	}
}

// covers reports whether the history holds every change after seq, and
// no more than limit of them.
func (r *history) covers(seq int64, limit int) bool {
	if seq < r.since {
		return false
	}
	n := 0
	for _, ev := range r.events {
		if ev.Seq > seq {
			n++
		}
	}
	return n <= limit
}

// closeAll ends every subscription: the hub has stopped.
func (h *Hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, subs := range h.subs {
		for sub := range subs {
			sub.end(errors.New("the server is shutting down"))
		}
	}
}

func (h *Hub) unsubscribe(sub *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[sub.env][sub]; ok {
		delete(h.subs[sub.env], sub)
		h.metrics.subscribers.WithLabelValues(sub.env).Dec()
	}
}

// Subscription is one subscriber's queue of events. A subscriber either
// waits in Next, or registers a callback with OnReady and takes events
// with Poll when called back, which needs no goroutine while it waits.
// Next, Poll and Close may be called from different goroutines; Next and
// Poll from one at a time.
type Subscription struct {
	hub *Hub
	env string
	// wake holds a token when the queue, needSnapshot or ended changed
	// since Next last looked.
	wake chan struct{}

	mu sync.Mutex
	// queue holds the pending events, at most hub.buffer; it is nil when
	// empty, so that an idle subscription holds no buffer.
	queue        []Event
	needSnapshot bool
	ended        error
	ready        func()

	closeOnce sync.Once
}

// offer queues ev without blocking; a full queue marks the subscriber for
// a snapshot instead. h.mu is held.
func (s *Subscription) offer(ev Event) {
	s.mu.Lock()
	switch {
	case s.needSnapshot || s.ended != nil:
		// A snapshot is coming, which includes ev; or nothing is.
		s.mu.Unlock()
		return
	case len(s.queue) >= s.hub.buffer:
		s.hub.metrics.resyncs.Inc()
		s.queue = nil
		s.needSnapshot = true
	default:
		s.queue = append(s.queue, ev)
	}
	s.signalUnlock()
}

// resync marks the subscriber for a fresh snapshot, dropping its pending
// events.
func (s *Subscription) resync() {
	s.mu.Lock()
	s.queue = nil
	s.needSnapshot = true
	s.signalUnlock()
}

// end stops the subscription with err. h.mu is held.
func (s *Subscription) end(err error) {
	s.mu.Lock()
	if s.ended == nil {
		s.ended = fmt.Errorf("%w: %v", ErrEnded, err)
	}
	s.signalUnlock()
}

// signalUnlock unlocks s.mu, then tells the OnReady callback, or else a
// waiting Next, that there is something new.
func (s *Subscription) signalUnlock() {
	f := s.ready
	s.mu.Unlock()
	if f != nil {
		f()
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// OnReady makes the subscription call f whenever it has something new for
// Poll: an event, a snapshot to send, or its end. f is called at once if
// something is already pending. f is called with the hub's lock held, so
// it must return quickly and must not call the hub or the subscription;
// it typically starts or wakes the goroutine that calls Poll. Calls may be
// spurious, and several may be made before Poll runs. Once f is set, Next
// is no longer woken: take events with Poll.
func (s *Subscription) OnReady(f func()) {
	s.mu.Lock()
	s.ready = f
	pending := len(s.queue) > 0 || s.needSnapshot || s.ended != nil
	s.mu.Unlock()
	if pending && f != nil {
		f()
	}
}

// ErrEnded wraps the reason a subscription ended on the hub's side.
var ErrEnded = errors.New("subscription ended")

// Poll returns the subscriber's next event without waiting: ok is false
// when there is none. The error wraps ErrEnded once the hub has ended the
// subscription (the server stops or the environment was deleted).
func (s *Subscription) Poll() (ev Event, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.ended != nil:
		return Event{}, false, s.ended
	case s.needSnapshot:
		// Pending events were dropped when the snapshot was asked for;
		// the current state includes them.
		s.needSnapshot = false
		st := s.hub.Env(s.env)
		if st == nil {
			s.ended = fmt.Errorf("%w: environment %q was deleted", ErrEnded, s.env)
			return Event{}, false, s.ended
		}
		return st.Snapshot(), true, nil
	case len(s.queue) > 0:
		ev = s.queue[0]
		if len(s.queue) == 1 {
			s.queue = nil
		} else {
			s.queue[0] = Event{}
			s.queue = s.queue[1:]
		}
		return ev, true, nil
	}
	return Event{}, false, nil
}

// Next returns the subscriber's next event, waiting until there is one,
// ctx ends (ctx's error) or the hub ends the subscription (an error
// wrapping ErrEnded: the server stops or the environment was deleted).
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		ev, ok, err := s.Poll()
		if err != nil {
			return Event{}, err
		}
		if ok {
			return ev, nil
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Close unsubscribes. It is safe to call more than once.
func (s *Subscription) Close() {
	s.closeOnce.Do(func() { s.hub.unsubscribe(s) })
}

func sortedValues[V any](m map[string]V) []V {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]V, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("hub: encode event: " + err.Error()) // flags and segments always encode
	}
	return b
}
