package sdk

import (
	"math/bits"
	"slices"
)

// lookup is a read-only hash table from flag key to entry, built once per
// snapshot. It exists for speed alone: hashing a key a word at a time and
// probing a flat array costs about half of a Go map lookup, which was most
// of what the SDK added to an evaluation. Keys compare in full, so a
// collision costs a probe, never a wrong answer.
type lookup struct {
	seed  uint64
	mask  uint64 // len(slots) - 1; len(slots) is a power of two
	n     int    // keys held
	slots []slot
	// entries[i] is the entry of slots[i]. It is apart from the slots so
	// that tables holding the same keys share the slots: replacing a
	// flag copies only this array of pointers.
	entries []*entry
}

// slot holds one key. For keys of at most 16 bytes, w0 and w1 are the
// words get loads while hashing, so that it compares two integers instead
// of calling the runtime's memory comparison.
type slot struct {
	n      int // the key's length; -1: an empty slot
	w0, w1 uint64
	key    string
}

// newLookup indexes flags; the table is at most half full, so probes stay
// short and always reach an empty slot.
func newLookup(flags map[string]*entry, seed uint64) *lookup {
	size := 8
	for size < 2*len(flags) {
		size <<= 1
	}
	t := &lookup{seed: seed, mask: uint64(size - 1), n: len(flags), slots: make([]slot, size), entries: make([]*entry, size)}
	for i := range t.slots {
		t.slots[i].n = -1
	}
	for k, e := range flags {
		h, w0, w1 := keyHash(k, seed)
		i := h & t.mask
		for t.slots[i].n >= 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = slot{n: len(k), w0: w0, w1: w1, key: k}
		t.entries[i] = e
	}
	return t
}

// replaced returns a copy of t in which each of set, whose keys t holds
// already, replaces the entry of its key; t is unchanged. The copy shares
// t's slots and hashes only the keys of set, where newLookup would hash
// every key: a change to a few flags costs a copy of the entry pointers,
// not a rebuild. It returns nil if t lacks one of the keys.
func (t *lookup) replaced(set []*entry) *lookup {
	next := *t
	next.entries = slices.Clone(t.entries)
	for _, e := range set {
		i, ok := next.find(e.flag.Key)
		if !ok {
			return nil
		}
		next.entries[i] = e
	}
	return &next
}

// all yields the key and entry of every slot in use, in no order.
func (t *lookup) all(yield func(string, *entry) bool) {
	for i, e := range t.entries {
		if e != nil && !yield(t.slots[i].key, e) {
			return
		}
	}
}

// find returns the slot index of key, and false if t lacks it.
func (t *lookup) find(key string) (uint64, bool) {
	h, w0, w1 := keyHash(key, t.seed)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.n < 0 {
			return i, false
		}
		if s.n == len(key) && s.w0 == w0 && s.w1 == w1 && (len(key) <= 16 || s.key == key) {
			return i, true
		}
	}
}

// get returns the entry of key, or nil.
func (t *lookup) get(key string) *entry {
	h, w0, w1 := keyHash(key, t.seed)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.n < 0 {
			return nil
		}
		if s.n == len(key) && s.w0 == w0 && s.w1 == w1 && (len(key) <= 16 || s.key == key) {
			return t.entries[i]
		}
	}
}

const (
	k0 = 0xa0761d6478bd642f
	k1 = 0xe7037ed1a0b428db
	k2 = 0x8ebc6af09c88c6e3
)

// mix is the folded 128-bit product of wyhash.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func load4(s string) uint64 {
	_ = s[3]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}

// keyHash hashes every byte of s under seed. It also returns two words
// that, with the length, identify a key of at most 16 bytes: its first
// and last eight bytes (overlapping), or fewer for shorter keys.
func keyHash(s string, seed uint64) (h, w0, w1 uint64) {
	n := len(s)
	h = seed ^ uint64(n)*k0
	switch {
	case n > 16:
		for i := 0; i+8 <= n; i += 8 {
			h = mix(h^load8(s[i:]), k1)
		}
		w0, w1 = load8(s), load8(s[n-8:])
	case n >= 8:
		w0, w1 = load8(s), load8(s[n-8:])
	case n >= 4:
		w0 = load4(s) | load4(s[n-4:])<<32
	case n > 0:
		w0 = uint64(s[0]) | uint64(s[n>>1])<<8 | uint64(s[n-1])<<16
	}
	return mix(h^w0^k2, w1^k1), w0, w1
}
