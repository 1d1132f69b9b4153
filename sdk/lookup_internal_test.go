package sdk

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
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
