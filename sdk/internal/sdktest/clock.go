// Package sdktest holds what the SDK's tests share: a fake ramp server
// that speaks docs/stream.md over real HTTP on loopback, and a fake clock
// that tests move instead of sleeping.
package sdktest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/sdk"
)

// waitLimit bounds every wait of a test helper in real time, so that a
// broken client fails the test instead of hanging it.
const waitLimit = 10 * time.Second

// Clock is a fake sdk.Clock. Time moves only when the test calls Advance
// or Next. It is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	changed chan struct{} // closed and replaced when timers change
}

var _ sdk.Clock = (*Clock)(nil)

// NewClock returns a fake clock at a fixed time.
func NewClock() *Clock {
	return &Clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), changed: make(chan struct{})}
}

type timer struct {
	c  *Clock
	ch chan time.Time
	at time.Time
	d  time.Duration
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	i := slices.Index(t.c.timers, t)
	if i < 0 {
		return false
	}
	t.c.timers = slices.Delete(t.c.timers, i, i+1)
	t.c.notifyLocked()
	return true
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when the fake time reaches now+d.
func (c *Clock) NewTimer(d time.Duration) sdk.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, ch: make(chan time.Time, 1), at: c.now.Add(d), d: d}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return t
}

func (c *Clock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the time forward by d and fires the timers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.ch <- c.now
	}
	clear(c.timers[len(kept):])
	c.timers = kept
	c.notifyLocked()
}

// Pending returns the durations the pending timers were made with.
func (c *Clock) Pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ds []time.Duration
	for _, t := range c.timers {
		ds = append(ds, t.d)
	}
	return ds
}

// WaitTimer waits until a pending timer made with a duration for which ok
// holds exists, and returns that duration and the time left on it; of
// several, the one due first.
func (c *Clock) WaitTimer(tb testing.TB, ok func(time.Duration) bool) (d, left time.Duration) {
	tb.Helper()
	deadline := time.After(waitLimit)
	for {
		c.mu.Lock()
		var first *timer
		for _, t := range c.timers {
			if ok(t.d) && (first == nil || t.at.Before(first.at)) {
				first = t
			}
		}
		if first != nil {
			d, left = first.d, first.at.Sub(c.now)
			c.mu.Unlock()
			return d, left
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			tb.Fatalf("no timer was started; pending: %v", c.Pending())
		}
	}
}

// Next waits until the client waits to reconnect or to poll again (a timer
// shorter than sdk.IdleTimeout is pending), moves the time to when that
// timer fires, and returns the duration it was made with.
func (c *Clock) Next(tb testing.TB) time.Duration {
	tb.Helper()
	d, left := c.WaitTimer(tb, func(d time.Duration) bool { return d < sdk.IdleTimeout })
	c.Advance(left)
	return d
}
