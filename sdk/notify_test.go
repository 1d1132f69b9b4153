package sdk_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/sdk"
	"github.com/ramp-flags/ramp/sdk/internal/sdktest"
)

// TestOnChangeHearsOnlyLaterChanges registers a callback while an earlier
// change waits in the queue behind a blocked callback: the new callback
// must hear only the change after it, not one merged with the earlier.
func TestOnChangeHearsOnlyLaterChanges(t *testing.T) {
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("a", env, 0), sdktest.BoolFlag("b", env, 0), sdktest.BoolFlag("c", env, 0)}, nil)
	c := newClient(t, srv, sdktest.NewClock())
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before Close, which waits for the callback
	blocked := make(chan struct{}, 10)
	c.OnChange(func(sdk.ChangeEvent) {
		blocked <- struct{}{}
		<-release
	})
	// The callbacks cannot wake a wait while the first one is blocked, so
	// the sequence is polled.
	waitApplied := func(seq int64) {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for c.Seq() != seq {
			if time.Now().After(deadline) {
				t.Fatalf("seq %d, want %d", c.Seq(), seq)
			}
			time.Sleep(time.Millisecond)
		}
	}
	srv.SetFlags(sdktest.BoolFlag("a", env, 100))
	<-blocked // the dispatcher is held in the first callback
	waitApplied(srv.SetFlags(sdktest.BoolFlag("b", env, 100)))

	got := make(chan sdk.ChangeEvent, 10)
	c.OnChange(func(ev sdk.ChangeEvent) { got <- ev })
	last := srv.SetFlags(sdktest.BoolFlag("c", env, 100))
	waitApplied(last)
	unblock()
	select {
	case ev := <-got:
		if !slices.Equal(ev.Keys, []string{"c"}) || ev.Seq != last {
			t.Errorf("the later callback heard %+v, want only [c] at %d", ev, last)
		}
	case <-time.After(waitLimit):
		t.Fatal("the later callback heard nothing")
	}
}
