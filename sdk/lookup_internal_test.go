package sdk

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ramp-flags/ramp"
)

// TestLookup compares the table with a map on keys that stress a hash:
// shared prefixes and suffixes, every length up to 40, the empty key, and
// keys that differ only in the middle.
func TestLookup(t *testing.T) {
	flags := map[string]*entry{"": {}}
	for i := range 1000 {
		flags[fmt.Sprintf("flag-%d", i)] = &entry{}
		flags[fmt.Sprintf("team-a-%08d-enabled", i)] = &entry{}
	}
	for n := 1; n <= 40; n++ {
		flags[strings.Repeat("x", n)] = &entry{}
	}
	for _, seed := range []uint64{0, 1, rand.Uint64()} {
		tbl := newLookup(flags, seed)
		for k, e := range flags {
			if got := tbl.get(k); got != e {
				t.Fatalf("seed %d: get(%q) = %p, want %p", seed, k, got, e)
			}
		}
		for _, k := range []string{"flag-1000", "flag-", "team-a-00000000-enable", strings.Repeat("x", 41), "\x00"} {
			if got := tbl.get(k); got != nil {
				t.Errorf("seed %d: get(%q) = %p, want nil", seed, k, got)
			}
		}
	}
	if got := newLookup(nil, 1).get("a"); got != nil {
		t.Errorf("empty table: %p", got)
	}
}

// TestKeyHashSpreads checks that keys differing only in the middle do not
// pile up in one slot.
func TestKeyHashSpreads(t *testing.T) {
	const n = 4096
	seen := map[uint64]int{}
	for i := range n {
		h, _, _ := keyHash(fmt.Sprintf("feature-%04d-xxxxxxxx-enabled", i), 42)
		seen[h&(2*n-1)]++
	}
	worst := 0
	for _, c := range seen {
		worst = max(worst, c)
	}
	if len(seen) < n/2 || worst > 8 {
		t.Errorf("%d keys fill %d of %d slots, up to %d in one", n, len(seen), 2*n, worst)
	}
}

// TestLookupReplaced checks that a patched table serves the new entries,
// leaves the table it came from as it was, and refuses a key it lacks.
func TestLookupReplaced(t *testing.T) {
	flags := map[string]*entry{}
	for i := range 100 {
		k := fmt.Sprintf("flag-%d", i)
		flags[k] = &entry{flag: &ramp.Flag{Key: k}}
	}
	old := newLookup(flags, 3)
	e7, e42 := &entry{flag: &ramp.Flag{Key: "flag-7"}}, &entry{flag: &ramp.Flag{Key: "flag-42"}}
	next := old.replaced([]*entry{e7, e42})
	if next == nil {
		t.Fatal("replaced refused keys the table holds")
	}
	for k, e := range flags {
		want := e
		switch k {
		case "flag-7":
			want = e7
		case "flag-42":
			want = e42
		}
		if got := next.get(k); got != want {
			t.Errorf("next.get(%q) = %p, want %p", k, got, want)
		}
		if got := old.get(k); got != e {
			t.Errorf("old.get(%q) = %p, want %p: the old table changed", k, got, e)
		}
	}
	n := 0
	for k, e := range next.all {
		if next.get(k) != e {
			t.Errorf("all yielded %q with another entry than get", k)
		}
		n++
	}
	if n != len(flags) || next.n != len(flags) {
		t.Errorf("all yielded %d keys, n = %d, want %d", n, next.n, len(flags))
	}
	if old.replaced([]*entry{{flag: &ramp.Flag{Key: "flag-100"}}}) != nil {
		t.Error("replaced accepted a key the table lacks")
	}
}
