package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/eval"
	"github.com/ramp-flags/ramp/hub"
	"github.com/ramp-flags/ramp/store/sqlite"
)

type env struct {
	t     *testing.T
	store *sqlite.Store
	hub   *hub.Hub
	stop  func()
}

// newEnv opens a real store and a hub on it, loaded and running.
func newEnv(t *testing.T, cfg hub.Config) *env {
	t.Helper()
	ctx := context.Background()
	var h *hub.Hub
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ramp.db"), sqlite.WithCommitHook(func() {
		if h != nil {
			h.Notify()
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Source = st
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Hour // changes must arrive through Notify
	}
	h = hub.New(cfg)
	if err := h.Load(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Run(rctx) }()
	e := &env{t: t, store: st, hub: h}
	e.stop = func() { cancel(); <-done }
	t.Cleanup(func() { e.stop(); st.Close() })
	return e
}

var admin = ramp.Change{Actor: "test"}

func (e *env) createFlag(key string) {
	e.t.Helper()
	f := &ramp.Flag{Key: key, Type: ramp.TypeBoolean, DefaultVariant: "off",
		Variants: []ramp.Variant{{Key: "on", Value: json.RawMessage("true")}, {Key: "off", Value: json.RawMessage("false")}}}
	if _, err := e.store.CreateFlag(context.Background(), admin, f); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) setOn(key, env string, on bool, clauses ...ramp.Clause) {
	e.t.Helper()
	_, err := e.store.UpdateFlag(context.Background(), admin, key, func(f *ramp.Flag) error {
		fe := f.Environments[env]
		fe.On = on
		fe.Fallthrough = ramp.Serve{Variant: "on"}
		fe.Rules = nil
		if len(clauses) > 0 {
			fe.Fallthrough = ramp.Serve{Variant: "off"}
			fe.Rules = []ramp.Rule{{Clauses: clauses, Serve: ramp.Serve{Variant: "on"}}}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// waitFor polls the hub's state until cond holds.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (e *env) variant(env, key, user string) string {
	return e.hub.Env(env).Eval.Evaluate(key, &eval.Context{TargetingKey: user}).Variant
}

func next(t *testing.T, sub *hub.Subscription) hub.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ev
}

type changeData struct {
	Seq          int64        `json:"seq"`
	Flags        []*ramp.Flag `json:"flags"`
	DeletedFlags []string     `json:"deletedFlags"`
	Segments     []*ramp.Segment
}

func TestStateFollowsChanges(t *testing.T) {
	e := newEnv(t, hub.Config{})
	e.createFlag("checkout")
	e.waitFor("the new flag", func() bool { return e.variant("production", "checkout", "u") == "off" })
	e.setOn("checkout", "production", true)
	e.waitFor("the flag on", func() bool { return e.variant("production", "checkout", "u") == "on" })
	if got := e.variant("staging", "checkout", "u"); got != "off" {
		t.Errorf("staging serves %q; only production changed", got)
	}
	st := e.hub.Env("production")
	var doc struct {
		Environment string
		Seq         int64
		Flags       []*ramp.Flag
	}
	if err := json.Unmarshal(st.Document(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Seq != st.Seq || len(doc.Flags) != 1 || len(doc.Flags[0].Environments) != 1 || doc.Flags[0].Environments["production"] == nil {
		t.Errorf("document %s: want seq %d and the flag with only production", st.Document(), st.Seq)
	}
	if err := e.store.DeleteFlag(context.Background(), admin, "checkout"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the flag gone", func() bool { return e.hub.Env("production").Eval.Flag("checkout") == nil })
}

func TestSubscribeSnapshotThenChanges(t *testing.T) {
	e := newEnv(t, hub.Config{})
	e.createFlag("a")
	e.waitFor("flag a", func() bool { return e.hub.Env("production").Eval.Flag("a") != nil })
	sub, err := e.hub.Subscribe("production", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	first := next(t, sub)
	if first.Type != hub.EventSnapshot || first.Seq != e.hub.Env("production").Seq {
		t.Fatalf("first event %s seq %d, want a snapshot at %d", first.Type, first.Seq, e.hub.Env("production").Seq)
	}
	e.setOn("a", "production", true)
	e.createFlag("b")
	if err := e.store.DeleteFlag(context.Background(), admin, "b"); err != nil {
		t.Fatal(err)
	}
	// Changes may arrive batched, but applying them in order must give
	// the store's final state: a on, b gone.
	e.waitFor("all changes", func() bool {
		return e.hub.Env("production").Eval.Flag("b") == nil && e.variant("production", "a", "u") == "on"
	})
	final := e.hub.Env("production").Seq
	model := map[string]*ramp.Flag{}
	last := first.Seq
	for last < final {
		ev := next(t, sub)
		if ev.Type != hub.EventChange || ev.Seq <= last {
			t.Fatalf("event %s seq %d after %d", ev.Type, ev.Seq, last)
		}
		last = ev.Seq
		var c changeData
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			t.Fatal(err)
		}
		if c.Seq != ev.Seq {
			t.Errorf("data seq %d, event seq %d", c.Seq, ev.Seq)
		}
		for _, f := range c.Flags {
			model[f.Key] = f
		}
		for _, k := range c.DeletedFlags {
			delete(model, k)
		}
	}
	if len(model) != 1 || model["a"] == nil || !model["a"].Environments["production"].On {
		t.Errorf("applying the changes gives %v, want a (on) alone", model)
	}
}

func TestResumeWithLastEventID(t *testing.T) {
	e := newEnv(t, hub.Config{})
	e.createFlag("a")
	e.waitFor("flag a", func() bool { return e.hub.Env("production").Eval.Flag("a") != nil })
	sub, err := e.hub.Subscribe("production", 0)
	if err != nil {
		t.Fatal(err)
	}
	seq := next(t, sub).Seq
	sub.Close()

	// Two changes while the subscriber is away.
	e.setOn("a", "production", true)
	e.setOn("a", "production", false)
	e.waitFor("both changes", func() bool { return e.hub.Env("production").Seq >= seq+2 })

	sub, err = e.hub.Subscribe("production", seq)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := 0; i < 2; i++ {
		if ev := next(t, sub); ev.Type != hub.EventChange || ev.Seq <= seq {
			t.Fatalf("resumed event %d: %s at %d, want a change after %d", i, ev.Type, ev.Seq, seq)
		}
	}

	// Up to date: nothing until the next change.
	up, err := e.hub.Subscribe("production", e.hub.Env("production").Seq)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if ev, err := up.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an up-to-date subscriber got %s %v", ev.Type, err)
	}

	// A sequence the hub cannot vouch for gets a snapshot.
	far, err := e.hub.Subscribe("production", e.hub.Env("production").Seq+100)
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	if ev := next(t, far); ev.Type != hub.EventSnapshot {
		t.Fatalf("a subscriber from the future got %s, want a snapshot", ev.Type)
	}
}

// TestSlowSubscriberResyncs checks that a subscriber that does not read is
// not waited for: its queue overflows, the others get every change, and
// it gets one fresh snapshot when it reads again.
func TestSlowSubscriberResyncs(t *testing.T) {
	e := newEnv(t, hub.Config{Buffer: 4})
	e.createFlag("a")
	e.waitFor("flag a", func() bool { return e.hub.Env("production").Eval.Flag("a") != nil })
	slow, err := e.hub.Subscribe("production", e.hub.Env("production").Seq)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := e.hub.Subscribe("production", e.hub.Env("production").Seq)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	const changes = 20
	got := make(chan int, 1)
	go func() {
		n := 0
		for n < changes {
			if ev := next(t, fast); ev.Type == hub.EventChange {
				n++
			} else {
				t.Errorf("fast subscriber got a %s", ev.Type)
				break
			}
		}
		got <- n
	}()
	for i := 0; i < changes; i++ {
		on := i%2 == 0
		e.setOn("a", "production", on)
		// Let the hub publish each change on its own.
		want := map[bool]string{true: "on", false: "off"}[on]
		e.waitFor("change applied", func() bool { return e.variant("production", "a", "u") == want })
	}
	if n := <-got; n != changes {
		t.Fatalf("fast subscriber got %d of %d changes", n, changes)
	}
	ev := next(t, slow)
	if ev.Type != hub.EventSnapshot || ev.Seq != e.hub.Env("production").Seq {
		t.Fatalf("slow subscriber got %s at %d, want a snapshot at %d", ev.Type, ev.Seq, e.hub.Env("production").Seq)
	}
}

func TestSegmentChangeRecompilesFlags(t *testing.T) {
	e := newEnv(t, hub.Config{})
	ctx := context.Background()
	if _, err := e.store.CreateSegment(ctx, admin, &ramp.Segment{Key: "beta", Included: []string{"alice"}}); err != nil {
		t.Fatal(err)
	}
	e.createFlag("a")
	e.setOn("a", "production", true, ramp.Clause{Op: ramp.OpInSegment, Values: []string{"beta"}})
	e.waitFor("alice in beta", func() bool { return e.variant("production", "a", "alice") == "on" })
	if got := e.variant("production", "a", "bob"); got != "off" {
		t.Fatalf("bob gets %q before joining", got)
	}
	if _, err := e.store.UpdateSegment(ctx, admin, "beta", func(s *ramp.Segment) error {
		s.Included = append(s.Included, "bob")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("bob in beta", func() bool { return e.variant("production", "a", "bob") == "on" })
}

func TestEnvironmentCreationReloads(t *testing.T) {
	e := newEnv(t, hub.Config{})
	e.createFlag("a")
	sub, err := e.hub.Subscribe("production", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	next(t, sub)
	if _, err := e.store.CreateEnvironment(context.Background(), admin, ramp.Environment{Key: "qa"}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("environment qa", func() bool { return e.hub.Env("qa") != nil })
	if got := e.variant("qa", "a", "u"); got != "off" {
		t.Errorf("qa serves %q", got)
	}
	if ev := next(t, sub); ev.Type != hub.EventSnapshot {
		t.Errorf("after an environment change subscribers get %s, want a snapshot", ev.Type)
	}
	if _, err := e.hub.Subscribe("nope", 0); ramp.ErrorCode(err) != ramp.ENOTFOUND {
		t.Errorf("Subscribe to an unknown environment: %v", err)
	}
}

func TestRunEndsSubscriptions(t *testing.T) {
	e := newEnv(t, hub.Config{})
	sub, err := e.hub.Subscribe("production", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	next(t, sub)
	e.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, hub.ErrEnded) {
		t.Fatalf("Next after the hub stopped: %v, want ErrEnded", err)
	}
	if _, err := e.hub.Subscribe("production", 0); ramp.ErrorCode(err) != ramp.EUNAVAILABLE {
		t.Fatalf("Subscribe after the hub stopped: %v", err)
	}
}

// TestEventFrames checks that every event carries its SSE message,
// formatted once, with Data inside it, and that a snapshot is framed once
// per state.
func TestEventFrames(t *testing.T) {
	e := newEnv(t, hub.Config{})
	e.createFlag("a")
	e.waitFor("flag a", func() bool { return e.hub.Env("production").Eval.Flag("a") != nil })
	sub, err := e.hub.Subscribe("production", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	snap := next(t, sub)
	e.setOn("a", "production", true)
	ch := next(t, sub)
	for _, ev := range []hub.Event{snap, ch} {
		want := fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, ev.Data)
		if string(ev.Frame) != want {
			t.Errorf("%s frame %q, want %q", ev.Type, ev.Frame, want)
		}
		if !json.Valid(ev.Data) || bytes.Contains(ev.Data, []byte("\n")) {
			t.Errorf("%s data is not one line of JSON: %q", ev.Type, ev.Data)
		}
	}
	st := e.hub.Env("production")
	if a, b := st.Snapshot(), st.Snapshot(); &a.Frame[0] != &b.Frame[0] || !bytes.Equal(a.Data, st.Document()) {
		t.Error("a state's snapshot is not encoded once and shared with Document")
	}
}

// TestOnReadyPoll checks the callback interface: the callback fires for
// what is pending at registration, for each change, and for the end; Poll
// never waits.
func TestOnReadyPoll(t *testing.T) {
	e := newEnv(t, hub.Config{})
	e.createFlag("a")
	e.waitFor("flag a", func() bool { return e.hub.Env("production").Eval.Flag("a") != nil })
	sub, err := e.hub.Subscribe("production", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ready := make(chan struct{}, 1)
	sub.OnReady(func() {
		select {
		case ready <- struct{}{}:
		default:
		}
	})
	wait := func(what string) {
		t.Helper()
		select {
		case <-ready:
		case <-time.After(5 * time.Second):
			t.Fatalf("no callback for %s", what)
		}
	}
	wait("the pending snapshot")
	if ev, ok, err := sub.Poll(); !ok || err != nil || ev.Type != hub.EventSnapshot {
		t.Fatalf("Poll: %s %v %v, want the snapshot", ev.Type, ok, err)
	}
	if ev, ok, err := sub.Poll(); ok || err != nil {
		t.Fatalf("Poll with nothing pending: %s %v %v", ev.Type, ok, err)
	}
	e.setOn("a", "production", true)
	wait("a change")
	if ev, ok, err := sub.Poll(); !ok || err != nil || ev.Type != hub.EventChange {
		t.Fatalf("Poll: %s %v %v, want the change", ev.Type, ok, err)
	}
	e.stop()
	wait("the end")
	if _, _, err := sub.Poll(); !errors.Is(err, hub.ErrEnded) {
		t.Fatalf("Poll after the hub stopped: %v, want ErrEnded", err)
	}
}
