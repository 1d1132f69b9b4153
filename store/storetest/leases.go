package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

// LeaseStore is what a store offers for leases: the named roles one
// server holds at a time, such as running the rollout controller. It is
// declared apart from Store so that a driver that lacks it still
// compiles; the lease tests then fail, saying what is missing.
type LeaseStore interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// leases returns s as a LeaseStore, or fails the test.
func leases(t *testing.T, s Store) LeaseStore {
	t.Helper()
	ls, ok := s.(LeaseStore)
	if !ok {
		t.Fatalf("the store (%T) has no AcquireLease and ReleaseLease methods", s)
	}
	return ls
}

func acquire(t *testing.T, ls LeaseStore, name, holder string, ttl time.Duration) bool {
	t.Helper()
	ok, err := ls.AcquireLease(t.Context(), name, holder, ttl)
	if err != nil {
		t.Fatalf("AcquireLease(%s, %s, %v): %v", name, holder, ttl, err)
	}
	return ok
}

// testLeases checks that a lease has one holder at a time: it is taken
// when free, renewed by its holder, refused to others, freed by its
// holder's release only, and that leases of other names are independent
// and no lease operation is a change.
func testLeases(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ls := leases(t, s)
	ctx := t.Context()
	start, err := s.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	const ttl = time.Minute
	if !acquire(t, ls, "leader", "a", ttl) {
		t.Fatal("a could not take a free lease")
	}
	if !acquire(t, ls, "leader", "a", ttl) {
		t.Error("a could not renew its own lease")
	}
	if acquire(t, ls, "leader", "b", ttl) {
		t.Fatal("b took the lease a holds")
	}
	if !acquire(t, ls, "other", "b", ttl) {
		t.Error("b could not take a lease of another name")
	}
	if err := ls.ReleaseLease(ctx, "leader", "b"); err != nil {
		t.Fatalf("ReleaseLease by a non-holder: %v, want nil", err)
	}
	if acquire(t, ls, "leader", "b", ttl) {
		t.Fatal("b took the lease after releasing a lease it did not hold")
	}
	if err := ls.ReleaseLease(ctx, "leader", "a"); err != nil {
		t.Fatalf("ReleaseLease: %v", err)
	}
	if !acquire(t, ls, "leader", "b", ttl) {
		t.Fatal("b could not take the lease a released")
	}
	if acquire(t, ls, "leader", "a", ttl) {
		t.Error("a took the lease back from b")
	}
	if err := ls.ReleaseLease(ctx, "never-taken", "a"); err != nil {
		t.Errorf("ReleaseLease of a lease nobody took: %v, want nil", err)
	}
	end, err := s.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(end) != len(start) {
		t.Errorf("lease operations wrote %d change-feed entries, want none", len(end)-len(start))
	}
}

// testLeaseExpiry checks that a lease that is not renewed expires after
// its ttl and can then be taken by another holder, and that renewing it
// keeps it. The store's clock is real here (the Postgres store judges
// expiry by the database's clock), so the test waits real time.
func testLeaseExpiry(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ls := leases(t, s)
	// Long enough that a loaded machine does not stall a renewal past it.
	const ttl = time.Second

	// Renewed every 100 ms for two ttls, the lease stays a's.
	if !acquire(t, ls, "leader", "a", ttl) {
		t.Fatal("a could not take a free lease")
	}
	for end := time.Now().Add(2 * ttl); time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
		if !acquire(t, ls, "leader", "a", ttl) {
			t.Fatal("a lost the lease it renews")
		}
		if acquire(t, ls, "leader", "b", ttl) {
			t.Fatal("b took a lease that a renews")
		}
	}

	// Not renewed, it is b's once the ttl has passed, and not before.
	renewed := time.Now()
	if !acquire(t, ls, "leader", "a", ttl) {
		t.Fatal("a lost the lease it renews")
	}
	deadline := time.Now().Add(5 * ttl)
	for !acquire(t, ls, "leader", "b", ttl) {
		if time.Now().After(deadline) {
			t.Fatalf("b could not take a lease whose holder stopped renewing it %v ago (ttl %v)", time.Since(renewed), ttl)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if waited := time.Since(renewed); waited < ttl-50*time.Millisecond {
		t.Errorf("b took the lease %v after a renewed it; the ttl is %v", waited, ttl)
	}
	if acquire(t, ls, "leader", "a", ttl) {
		t.Error("a took the lease back from b, who holds it")
	}
}

// testLeaseConcurrent races holders for one free lease: exactly one wins,
// also when they race again for it once it has expired.
func testLeaseConcurrent(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ls := leases(t, s)
	const holders = 8
	race := func(ttl time.Duration) []string {
		t.Helper()
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
		)
		for i := range holders {
			wg.Go(func() {
				holder := fmt.Sprint("replica-", i)
				ok, err := ls.AcquireLease(t.Context(), "leader", holder, ttl)
				if err != nil {
					t.Errorf("AcquireLease(%s): %v", holder, err)
				}
				if ok {
					mu.Lock()
					winners = append(winners, holder)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return winners
	}
	// The ttl is long enough that a racer cannot find the winner's lease
	// expired, however slow the machine.
	if w := race(time.Minute); len(w) != 1 {
		t.Fatalf("%d holders took one free lease: %v", len(w), w)
	}
	// An expired lease of another holder: exactly one racer takes it over.
	if !acquire(t, ls, "expired", "gone", 100*time.Millisecond) {
		t.Fatal("could not take a free lease")
	}
	time.Sleep(300 * time.Millisecond)
	var (
		wg      sync.WaitGroup
		winners atomic.Int64
	)
	for i := range holders {
		wg.Go(func() {
			ok, err := ls.AcquireLease(t.Context(), "expired", fmt.Sprint("replica-", i), time.Minute)
			if err != nil {
				t.Errorf("AcquireLease: %v", err)
			}
			if ok {
				winners.Add(1)
			}
		})
	}
	wg.Wait()
	if n := winners.Load(); n != 1 {
		t.Errorf("%d holders took one expired lease, want 1", n)
	}
}

// testLeaseValidation checks that requests without a name or holder, or
// with a ttl that is not positive, are refused with EINVALID.
func testLeaseValidation(t *testing.T, open func(t *testing.T) Store) {
	s := open(t)
	ls := leases(t, s)
	ctx := t.Context()
	for _, tc := range []struct {
		name, lease, holder string
		ttl                 time.Duration
	}{
		{"no name", "", "a", time.Second},
		{"no holder", "leader", "", time.Second},
		{"zero ttl", "leader", "a", 0},
		{"negative ttl", "leader", "a", -time.Second},
	} {
		ok, err := ls.AcquireLease(ctx, tc.lease, tc.holder, tc.ttl)
		if ok {
			t.Errorf("%s: AcquireLease granted the lease", tc.name)
		}
		if ramp.ErrorCode(err) != ramp.EINVALID {
			t.Errorf("%s: AcquireLease error %v, want EINVALID", tc.name, err)
		}
	}
	if err := ls.ReleaseLease(ctx, "", "a"); ramp.ErrorCode(err) != ramp.EINVALID {
		t.Errorf("ReleaseLease without a name: %v, want EINVALID", err)
	}
	// The refused requests took nothing.
	if !acquire(t, ls, "leader", "b", time.Minute) {
		t.Error("a refused request left the lease taken")
	}
}
