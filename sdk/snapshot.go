package sdk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"slices"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/eval"
)

// document is the environment document of docs/stream.md
// (ramp.EnvironmentDocument): the answer of GET /sdk/v1/flags, the data of a
// snapshot event and the cache file.
type document ramp.EnvironmentDocument

// change is the data of a change event (ramp.EnvironmentChange).
type change ramp.EnvironmentChange

// check rejects a document that cannot be applied as a whole.
func (d *document) check() error {
	if d.Environment == "" {
		return errors.New("the document names no environment")
	}
	if d.Seq < 0 {
		return fmt.Errorf("negative seq %d", d.Seq)
	}
	return checkItems(d.Flags, d.Segments)
}

func (ch *change) check() error {
	if ch.Seq <= 0 {
		return fmt.Errorf("change without a positive seq (%d)", ch.Seq)
	}
	return checkItems(ch.Flags, ch.Segments)
}

func checkItems(flags []*ramp.Flag, segments []*ramp.Segment) error {
	for i, f := range flags {
		if f == nil || f.Key == "" {
			return fmt.Errorf("flags[%d] has no key", i)
		}
	}
	for i, s := range segments {
		if s == nil || s.Key == "" {
			return fmt.Errorf("segments[%d] has no key", i)
		}
	}
	return nil
}

// snapshot is everything the client serves at one point of the change
// sequence. It is immutable once published: evaluation reads it without
// locks through an atomic pointer. A snapshot shares whatever an event
// left unchanged with the one before it (entries, segments, compiled
// flags), so that applying a change costs what the change touches.
type snapshot struct {
	env      string
	seq      int64
	segments map[string]*segEntry
	// segs is segments as eval.Compile takes them.
	segs map[string]*ramp.Segment
	// index holds the flags, as a table tuned for the evaluation hot path.
	index *lookup
	// fromCache is set on a snapshot loaded from the cache file, which
	// need not be written back.
	fromCache bool
}

// flag returns the entry of key, or nil.
func (s *snapshot) flag(key string) *entry { return s.index.get(key) }

// entry is one flag: as received, and compiled.
type entry struct {
	flag *ramp.Flag
	// eval is the compiled flag, or nil if it did not compile.
	eval *eval.Flag
	// broken is the PARSE_ERROR result of a flag that did not compile.
	broken *eval.Result
	// sum fingerprints what evaluation depends on, so that a snapshot
	// event recompiles only the flags that changed.
	sum uint64
	// segs are the segments the flag's rules name.
	segs []string
}

type segEntry struct {
	seg *ramp.Segment
	sum uint64
}

// update is the effect of one event on a snapshot.
type update struct {
	full            bool // a snapshot: replace everything
	env             string
	seq             int64
	flags           []*ramp.Flag
	deletedFlags    []string
	segments        []*ramp.Segment
	deletedSegments []string
}

func (d *document) update() update {
	return update{full: true, env: d.Environment, seq: d.Seq, flags: d.Flags, segments: d.Segments}
}

// compiler builds snapshots; it holds the seeds of the fingerprints and
// of the lookup tables.
type compiler struct {
	seed    maphash.Seed
	keySeed uint64
}

// build returns old with u applied, and the keys of the flags whose
// evaluation may have changed, sorted. Flags that do not compile evaluate
// to PARSE_ERROR; their errors are returned joined. old is not modified;
// the result shares with it what u leaves unchanged.
func (c *compiler) build(old *snapshot, u update) (*snapshot, []string, error) {
	if old != nil && old.env != u.env {
		old = nil // another environment: nothing carries over
	}
	full := u.full || old == nil
	next := &snapshot{env: u.env, seq: u.seq}

	// Segments first: flags compile against them. A change that names no
	// segment (a kill switch, a percentage) shares them all.
	var changedSegs map[string]bool
	if !full && len(u.segments) == 0 && len(u.deletedSegments) == 0 {
		next.segments, next.segs = old.segments, old.segs
	} else {
		changedSegs = map[string]bool{}
		if full {
			next.segments = make(map[string]*segEntry, len(u.segments))
		} else {
			next.segments = maps.Clone(old.segments)
		}
		for _, s := range u.segments {
			next.segments[s.Key] = &segEntry{seg: s, sum: c.segmentSum(s)}
		}
		for _, key := range u.deletedSegments {
			delete(next.segments, key)
		}
		if old != nil {
			for key, o := range old.segments {
				if n := next.segments[key]; n == nil || n.sum != o.sum {
					changedSegs[key] = true
				}
			}
		}
		for key := range next.segments {
			if old == nil || old.segments[key] == nil {
				changedSegs[key] = true
			}
		}
		next.segs = make(map[string]*ramp.Segment, len(next.segments))
		for key, s := range next.segments {
			next.segs[key] = s.seg
		}
	}
	usesChanged := func(e *entry) bool {
		return slices.ContainsFunc(e.segs, func(s string) bool { return changedSegs[s] })
	}

	// Candidates: the flags the event names (the last of a key wins), and
	// those whose segments changed.
	cands := u.flags
	if !full && len(changedSegs) > 0 {
		named := make(map[string]bool, len(u.flags))
		for _, f := range u.flags {
			named[f.Key] = true
		}
		cands = slices.Clone(u.flags)
		for key, e := range old.index.all {
			if !named[key] && usesChanged(e) {
				cands = append(cands, e.flag)
			}
		}
	}
	var changed []string
	var errs []error
	set := make([]*entry, 0, len(cands))
	for _, f := range cands {
		var prev *entry
		if old != nil {
			prev = old.flag(f.Key)
		}
		e := &entry{flag: f, sum: c.flagSum(f, u.env), segs: segmentsOf(f, u.env)}
		if prev != nil && prev.sum == e.sum && !usesChanged(e) {
			e.eval, e.broken = prev.eval, prev.broken
		} else {
			changed = append(changed, f.Key)
			ef, err := eval.Compile(f, u.env, next.segs)
			if err != nil {
				errs = append(errs, err)
				e.broken = &eval.Result{FlagKey: f.Key, Reason: eval.ReasonError, ErrorCode: eval.ErrParse, ErrorMessage: err.Error()}
			} else {
				e.eval = ef
			}
		}
		set = append(set, e)
	}

	// The table: patched when the event only replaces flags the old one
	// holds, rebuilt when it adds or removes keys.
	deletes := false
	for _, key := range u.deletedFlags {
		if old != nil && old.flag(key) != nil || slices.ContainsFunc(set, func(e *entry) bool { return e.flag.Key == key }) {
			deletes = true
			break
		}
	}
	if !full && !deletes {
		next.index = old.index.replaced(set)
	}
	if next.index == nil {
		flags := make(map[string]*entry, len(set))
		if !full {
			flags = maps.Collect(old.index.all)
		}
		for _, e := range set {
			flags[e.flag.Key] = e
		}
		for _, key := range u.deletedFlags {
			if _, ok := flags[key]; ok {
				delete(flags, key)
				changed = append(changed, key)
			}
		}
		next.index = newLookup(flags, c.keySeed)
	}
	if u.full && old != nil {
		for key := range old.index.all {
			if next.flag(key) == nil {
				changed = append(changed, key)
			}
		}
	}
	slices.Sort(changed)
	return next, slices.Compact(changed), errors.Join(errs...)
}

// flagSum fingerprints the parts of f that evaluation in env reads. It
// writes the fields one by one rather than marshalling them: it runs for
// every flag of every change, and TestSumsCoverEveryField fails when a
// type gains a field this does not hash.
func (c *compiler) flagSum(f *ramp.Flag, env string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	str(&h, f.Key)
	str(&h, string(f.Type))
	num(&h, uint64(len(f.Variants)))
	for _, v := range f.Variants {
		str(&h, v.Key)
		str(&h, string(v.Value))
		str(&h, v.Description)
	}
	str(&h, f.DefaultVariant)
	str(&h, f.Salt)
	fe := f.Environments[env]
	if fe == nil {
		h.WriteByte(0)
		return h.Sum64()
	}
	h.WriteByte(1)
	if fe.On {
		h.WriteByte(1)
	} else {
		h.WriteByte(0)
	}
	str(&h, fe.OffVariant)
	num(&h, uint64(len(fe.Rules)))
	for _, r := range fe.Rules {
		str(&h, r.ID)
		str(&h, r.Description)
		clauses(&h, r.Clauses)
		serve(&h, &r.Serve)
	}
	serve(&h, &fe.Fallthrough)
	return h.Sum64()
}

func (c *compiler) segmentSum(s *ramp.Segment) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	strs(&h, s.Included)
	strs(&h, s.Excluded)
	num(&h, uint64(len(s.Rules)))
	for _, r := range s.Rules {
		clauses(&h, r.Clauses)
	}
	return h.Sum64()
}

// The writers below prefix every variable-length part with its length,
// so that different values never write the same bytes.

func num(h *maphash.Hash, n uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], n)
	h.Write(b[:])
}

func str(h *maphash.Hash, s string) {
	num(h, uint64(len(s)))
	h.WriteString(s)
}

func strs(h *maphash.Hash, ss []string) {
	num(h, uint64(len(ss)))
	for _, s := range ss {
		str(h, s)
	}
}

func clauses(h *maphash.Hash, cs []ramp.Clause) {
	num(h, uint64(len(cs)))
	for _, cl := range cs {
		str(h, cl.Attribute)
		str(h, string(cl.Op))
		strs(h, cl.Values)
	}
}

func serve(h *maphash.Hash, s *ramp.Serve) {
	str(h, s.Variant)
	num(h, uint64(len(s.Split)))
	for _, a := range s.Split {
		str(h, a.Variant)
		num(h, math.Float64bits(a.Percent))
	}
	str(h, s.BucketBy)
}

// segmentsOf returns the keys of the segments f's rules in env name.
func segmentsOf(f *ramp.Flag, env string) []string {
	fe := f.Environments[env]
	if fe == nil {
		return nil
	}
	var keys []string
	for _, r := range fe.Rules {
		for _, cl := range r.Clauses {
			if cl.Op.IsSegmentOp() {
				keys = append(keys, cl.Values...)
			}
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// document returns s as the environment document, flags and segments
// sorted by key.
func (s *snapshot) document() *document {
	d := &document{Environment: s.env, Seq: s.seq, Flags: make([]*ramp.Flag, 0, s.index.n), Segments: make([]*ramp.Segment, 0, len(s.segments))}
	for _, key := range s.keys() {
		d.Flags = append(d.Flags, s.flag(key).flag)
	}
	for _, key := range slices.Sorted(maps.Keys(s.segments)) {
		d.Segments = append(d.Segments, s.segments[key].seg)
	}
	return d
}

// keys returns the keys of s's flags, sorted.
func (s *snapshot) keys() []string {
	keys := make([]string, 0, s.index.n)
	for key := range s.index.all {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}
