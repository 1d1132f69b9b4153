package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/pgtest"
	"github.com/ramp-flags/ramp/store/postgres"
)

func testFlag(key string) *ramp.Flag {
	return &ramp.Flag{
		Key:  key,
		Type: ramp.TypeBoolean,
		Variants: []ramp.Variant{
			{Key: "off", Value: json.RawMessage(`false`)},
			{Key: "on", Value: json.RawMessage(`true`)},
		},
		DefaultVariant: "off",
	}
}

// hook counts the calls of a commit hook and signals each on a channel
// without ever blocking, as the server's hook does.
type hook struct {
	calls atomic.Int64
	ch    chan struct{}
}

func newHook() *hook { return &hook{ch: make(chan struct{}, 1)} }

func (h *hook) fn() {
	h.calls.Add(1)
	select {
	case h.ch <- struct{}{}:
	default:
	}
}

// drain forgets the signals so far.
func (h *hook) drain() {
	select {
	case <-h.ch:
	default:
	}
}

// wait fails the test unless the hook is called within d.
func (h *hook) wait(t *testing.T, what string, d time.Duration) {
	t.Helper()
	select {
	case <-h.ch:
	case <-time.After(d):
		t.Fatalf("%s: the commit hook was not called within %v", what, d)
	}
}

// TestNotifyAcrossStores checks the cross-replica change feed: a change
// committed through one store calls the commit hook of another store on
// the same database, which then reads it from Changes; the store that made
// the change calls its hook once, not again for its own notification.
func TestNotifyAcrossStores(t *testing.T) {
	dsn := migratedDB(t)
	ha, hb := newHook(), newHook()
	a := open(t, dsn, postgres.WithCommitHook(ha.fn))
	b := open(t, dsn, postgres.WithCommitHook(hb.fn))
	ctx := t.Context()
	start, err := b.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ha.drain()
	hb.drain()
	before := ha.calls.Load()

	if _, err := a.CreateFlag(ctx, ramp.Change{Actor: "alice"}, testFlag("checkout")); err != nil {
		t.Fatal(err)
	}
	hb.wait(t, "a change through store a, seen by store b", 5*time.Second)
	got, err := b.Changes(ctx, int64(len(start)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != "checkout" || got[0].Action != ramp.ActionFlagCreate {
		t.Fatalf("store b's change feed after the hook: %+v, want the creation of checkout", got)
	}

	// And the other way round.
	hb.drain()
	if _, err := b.UpdateFlag(ctx, ramp.Change{Actor: "bob"}, "checkout", func(f *ramp.Flag) error { f.Name = "Checkout"; return nil }); err != nil {
		t.Fatal(err)
	}
	ha.wait(t, "a change through store b, seen by store a", 5*time.Second)

	// a made one change and saw one of b's: two calls. Its own
	// notification must not add a third.
	time.Sleep(200 * time.Millisecond)
	if n := ha.calls.Load() - before; n != 2 {
		t.Errorf("store a's hook was called %d times for its own change and one of b's, want 2", n)
	}

	// Counts and leases are not changes: no notification.
	hb.drain()
	if err := a.AddCounts(ctx, "production", time.Time{}, []ramp.Counts{{Flag: "checkout", Variant: "on", Requests: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AcquireLease(ctx, "leader", "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hb.ch:
		t.Error("counts or a lease woke another store's change feed")
	case <-time.After(300 * time.Millisecond):
	}
}

// TestChangeFeedConcurrentWriters checks that a reader following Changes
// by the last ID it saw misses no entry while several stores (replicas)
// write at once. With a plain sequence a transaction can take ID 10,
// another ID 11 and commit first; a reader that has read 11 would never
// see 10. The store's write lock makes IDs visible in order.
func TestChangeFeedConcurrentWriters(t *testing.T) {
	dsn := migratedDB(t)
	const stores, writers, changes = 2, 8, 25
	ss := make([]*postgres.Store, stores)
	for i := range ss {
		ss[i] = open(t, dsn, postgres.WithMaxConns(writers))
	}
	ctx := t.Context()
	for i := range writers {
		if _, err := ss[0].CreateFlag(ctx, ramp.Change{Actor: "setup"}, testFlag(fmt.Sprint("flag-", i))); err != nil {
			t.Fatal(err)
		}
	}
	start, err := ss[0].Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	after := start[len(start)-1].ID

	// The follower reads as fast as it can while the writers write.
	var (
		seen []int64
		done = make(chan struct{})
		fwg  sync.WaitGroup
	)
	fwg.Go(func() {
		reader := ss[1]
		last := after
		for {
			// Whether the writers are done is read before the read, so
			// that the last read starts after the last commit.
			finished := false
			select {
			case <-done:
				finished = true
			default:
			}
			page, err := reader.Changes(ctx, last, 0)
			if err != nil {
				t.Errorf("Changes: %v", err)
				return
			}
			for _, e := range page {
				seen = append(seen, e.ID)
				last = e.ID
			}
			if finished && len(page) == 0 {
				return
			}
		}
	})

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			s := ss[w%stores]
			key := fmt.Sprint("flag-", w)
			for i := range changes {
				_, err := s.UpdateFlag(ctx, ramp.Change{Actor: "writer"}, key, func(f *ramp.Flag) error {
					f.Description = fmt.Sprint("change ", i)
					return nil
				})
				if err != nil {
					t.Errorf("UpdateFlag: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	fwg.Wait()

	var all []int64
	for last := after; ; {
		page, err := ss[0].Changes(ctx, last, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			all = append(all, e.ID)
			last = e.ID
		}
	}
	if len(all) != writers*changes {
		t.Fatalf("%d changes in the feed, want %d", len(all), writers*changes)
	}
	if !slices.Equal(seen, all) {
		var missed []int64
		for _, id := range all {
			if !slices.Contains(seen, id) {
				missed = append(missed, id)
			}
		}
		t.Errorf("the follower saw %d of %d changes; it missed IDs %v", len(seen), len(all), missed)
	}
}

// TestListenerReconnects restarts the server under a store: its calls
// fail with EUNAVAILABLE while the server is down, and once it is back the
// store serves again without being reopened, calls its commit hook when
// its listening connection is back (so the hub reads what it missed), and
// hears the changes of other stores again.
func TestListenerReconnects(t *testing.T) {
	srv := pgtest.New(t)
	dsn := srv.CreateDB(t)
	h := newHook()
	s := open(t, dsn, postgres.WithCommitHook(h.fn))
	ctx := t.Context()
	if _, err := s.CreateFlag(ctx, ramp.Change{Actor: "alice"}, testFlag("before")); err != nil {
		t.Fatal(err)
	}

	srv.Stop(t)
	for name, call := range map[string]func() error{
		"Ping":    func() error { return s.Ping(ctx) },
		"GetFlag": func() error { _, err := s.GetFlag(ctx, "before"); return err },
		"UpdateFlag": func() error {
			_, err := s.UpdateFlag(ctx, ramp.Change{Actor: "alice"}, "before", func(f *ramp.Flag) error { f.Name = "x"; return nil })
			return err
		},
		"Changes":      func() error { _, err := s.Changes(ctx, 0, 0); return err },
		"AcquireLease": func() error { _, err := s.AcquireLease(ctx, "leader", "a", time.Second); return err },
	} {
		err := call()
		if ramp.ErrorCode(err) != ramp.EUNAVAILABLE {
			t.Errorf("%s while the database is down: %v (code %q), want unavailable", name, err, ramp.ErrorCode(err))
		}
	}
	h.drain()
	srv.Start(t)
	h.wait(t, "the listening connection is back", 10*time.Second)

	// The pool reconnects: no reopen needed.
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = s.Ping(ctx); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("Ping after the restart: %v", err)
	}
	f, err := s.UpdateFlag(ctx, ramp.Change{Actor: "alice"}, "before", func(f *ramp.Flag) error { f.Name = "after"; return nil })
	if err != nil {
		t.Fatalf("UpdateFlag after the restart: %v", err)
	}
	if f.Version != 2 {
		t.Errorf("version %d after one update, want 2 (the update while down must not count)", f.Version)
	}

	// Another replica's change is heard again.
	other := open(t, dsn)
	h.drain()
	if _, err := other.CreateFlag(ctx, ramp.Change{Actor: "bob"}, testFlag("from-other")); err != nil {
		t.Fatal(err)
	}
	h.wait(t, "another store's change after the restart", 5*time.Second)
}

// TestOpenUnavailable checks that opening a store on a server that is
// down fails with EUNAVAILABLE, and that a closed store says so too.
func TestOpenUnavailable(t *testing.T) {
	srv := pgtest.New(t)
	dsn := srv.CreateDB(t)
	srv.Stop(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, dsn)
	if err == nil {
		s.Close()
		t.Fatal("Open on a stopped server succeeded")
	}
	if ramp.ErrorCode(err) != ramp.EUNAVAILABLE {
		t.Errorf("Open on a stopped server: %v (code %q), want unavailable", err, ramp.ErrorCode(err))
	}
	srv.Start(t)
	s = open(t, dsn)
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
