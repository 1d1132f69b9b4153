package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strconv"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/eval"
)

// document is the environment document of docs/stream.md: the answer of
// GET /sdk/v1/flags, the data of a snapshot event and the cache file.
type document struct {
	Environment string          `json:"environment"`
	Seq         int64           `json:"seq"`
	Flags       []*ramp.Flag    `json:"flags"`
	Segments    []*ramp.Segment `json:"segments"`
}

// change is the data of a change event.
type change struct {
	Seq             int64           `json:"seq"`
	Flags           []*ramp.Flag    `json:"flags"`
	DeletedFlags    []string        `json:"deletedFlags"`
	Segments        []*ramp.Segment `json:"segments"`
	DeletedSegments []string        `json:"deletedSegments"`
}

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
// locks through an atomic pointer.
type snapshot struct {
	env      string
	seq      int64
	flags    map[string]*entry
	segments map[string]*segEntry
	// index is flags as a table tuned for the evaluation hot path.
	index *lookup
	// fromCache is set on a snapshot loaded from the cache file, which
	// need not be written back.
	fromCache bool
}

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
// to PARSE_ERROR; their errors are returned joined.
func (c *compiler) build(old *snapshot, u update) (*snapshot, []string, error) {
	if old != nil && old.env != u.env {
		old = nil // another environment: nothing carries over
	}
	next := &snapshot{env: u.env, seq: u.seq}

	// Segments first: flags compile against them.
	changedSegs := map[string]bool{}
	if u.full || old == nil {
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
	segs := make(map[string]*ramp.Segment, len(next.segments))
	for key, s := range next.segments {
		segs[key] = s.seg
	}

	var changed []string
	var errs []error
	if u.full || old == nil {
		next.flags = make(map[string]*entry, len(u.flags))
	} else {
		next.flags = maps.Clone(old.flags)
	}
	// Candidates: the flags the event names, and those whose segments
	// changed.
	upserted := make(map[string]*ramp.Flag, len(u.flags))
	for _, f := range u.flags {
		upserted[f.Key] = f
	}
	if !u.full && len(changedSegs) > 0 {
		for key, e := range next.flags {
			if _, ok := upserted[key]; !ok && slices.ContainsFunc(e.segs, func(s string) bool { return changedSegs[s] }) {
				upserted[key] = e.flag
			}
		}
	}
	for key, f := range upserted {
		var prev *entry
		if old != nil {
			prev = old.flags[key]
		}
		e := &entry{flag: f, sum: c.flagSum(f, u.env), segs: segmentsOf(f, u.env)}
		if prev != nil && prev.sum == e.sum && !slices.ContainsFunc(e.segs, func(s string) bool { return changedSegs[s] }) {
			e.eval, e.broken = prev.eval, prev.broken
		} else {
			changed = append(changed, key)
			ef, err := eval.Compile(f, u.env, segs)
			if err != nil {
				errs = append(errs, err)
				e.broken = &eval.Result{FlagKey: key, Reason: eval.ReasonError, ErrorCode: eval.ErrParse, ErrorMessage: err.Error()}
			} else {
				e.eval = ef
			}
		}
		next.flags[key] = e
	}
	for _, key := range u.deletedFlags {
		if _, ok := next.flags[key]; ok {
			delete(next.flags, key)
			changed = append(changed, key)
		}
	}
	if u.full && old != nil {
		for key := range old.flags {
			if _, ok := next.flags[key]; !ok {
				changed = append(changed, key)
			}
		}
	}
	next.index = newLookup(next.flags, c.keySeed)
	slices.Sort(changed)
	return next, slices.Compact(changed), errors.Join(errs...)
}

// flagSum fingerprints the parts of f that evaluation in env reads.
func (c *compiler) flagSum(f *ramp.Flag, env string) uint64 {
	b, err := json.Marshal(struct {
		Key            string
		Type           ramp.FlagType
		Variants       []ramp.Variant
		DefaultVariant string
		Salt           string
		Env            *ramp.FlagEnv
	}{f.Key, f.Type, f.Variants, f.DefaultVariant, f.Salt, f.Environments[env]})
	if err != nil {
		// Unmarshalled JSON always marshals; never reuse on the odd case.
		return maphash.String(c.seed, strconv.Quote(err.Error()))
	}
	return maphash.Bytes(c.seed, b)
}

func (c *compiler) segmentSum(s *ramp.Segment) uint64 {
	b, err := json.Marshal(struct {
		Included, Excluded []string
		Rules              []ramp.SegmentRule
	}{s.Included, s.Excluded, s.Rules})
	if err != nil {
		return maphash.String(c.seed, strconv.Quote(err.Error()))
	}
	return maphash.Bytes(c.seed, b)
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
	d := &document{Environment: s.env, Seq: s.seq, Flags: make([]*ramp.Flag, 0, len(s.flags)), Segments: make([]*ramp.Segment, 0, len(s.segments))}
	for _, key := range slices.Sorted(maps.Keys(s.flags)) {
		d.Flags = append(d.Flags, s.flags[key].flag)
	}
	for _, key := range slices.Sorted(maps.Keys(s.segments)) {
		d.Segments = append(d.Segments, s.segments[key].seg)
	}
	return d
}

// keys returns the keys of s's flags, sorted.
func (s *snapshot) keys() []string {
	return slices.Sorted(maps.Keys(s.flags))
}
