package sdk

import (
	"cmp"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ramp-flags/ramp"
)

// MaxSeries is the most (flag, variant) pairs a client counts. Observe
// drops, and counts in Dropped, what it is told of further pairs, so that
// variants taken from user input cannot grow the client's memory without
// bound.
const MaxSeries = 4096

// numBuckets is the number of latency buckets: the finite ones of
// LatencyBounds and +Inf.
const numBuckets = ramp.NumLatencyBuckets + 1

// boundNanos are the finite bucket bounds as durations, which Observe
// compares without converting to seconds.
var boundNanos = func() (b [ramp.NumLatencyBuckets]time.Duration) {
	for i, s := range ramp.LatencyBounds() {
		b[i] = time.Duration(math.Round(s * float64(time.Second))) // whole nanoseconds
	}
	return b
}()

// LatencyBounds returns the upper bounds, in seconds, of the latency
// buckets Observe counts into: the 65 bounds from 0.001 to 65.5, each
// about 2^¼ (19 %) above the last, of ramp_flag_request_duration_seconds
// in docs/metrics.md. It returns a new slice on every call.
func LatencyBounds() []float64 { return ramp.LatencyBounds() }

// Stats are what one code path, one variant of one flag, served since the
// client started, as Observe counted it.
type Stats struct {
	Flag    string
	Variant string
	// Requests is the number of observations.
	Requests uint64
	// Errors is how many of them failed. It is never above Requests.
	Errors uint64
	// Buckets are the cumulative latency buckets: Buckets[i] requests took
	// at most LatencyBounds()[i] seconds. Requests is the +Inf bucket.
	Buckets [ramp.NumLatencyBuckets]uint64
	// LatencySum is the total time the requests took, in seconds.
	LatencySum float64
}

// meter holds the counters of every (flag, variant) a client observed.
// Reads of the flag table take no lock: it is replaced, copied, when a
// flag is first observed, which happens once per flag.
type meter struct {
	flags   atomic.Pointer[flagTable]
	seed    uint64
	stripes int // a power of two

	mu      sync.Mutex // serializes additions
	n       int        // series
	dropped atomic.Uint64
	// first is closed when the first series is created: the reporter has
	// nothing to do before.
	first chan struct{}
}

// flagSeries holds the series of one flag's variants, replaced, copied,
// when a variant is first observed.
type flagSeries struct {
	m        *meter
	flag     string
	variants atomic.Pointer[[]*series]
}

// series counts one (flag, variant) in stripes, so that request handlers
// on many cores do not contend for one cache line: each observation goes
// to a stripe chosen at random, and reads sum the stripes. There are twice
// as many stripes as cores (at most 16), so that two cores seldom pick the
// same one; a series takes 640 bytes a stripe.
type series struct {
	flag, variant string
	stripes       []stripe
	// sent is what the reporter has delivered to the server; it is owned
	// by the reporter, under Client.reportMu.
	sent counters
}

// stripe is one share of a series' counters, padded to a whole number
// of cache-line pairs.
type stripe struct {
	// buckets are per bucket, not cumulative; the last is +Inf. Their sum
	// is the number of requests.
	buckets [numBuckets]atomic.Uint64
	errors  atomic.Uint64
	nanos   atomic.Uint64
	_       [(128 - (numBuckets+2)*8%128) % 128]byte
}

// counters are a series' totals at one moment.
type counters struct {
	buckets [numBuckets]uint64
	errors  uint64
	nanos   uint64
}

func (c *counters) requests() uint64 {
	var n uint64
	for _, b := range c.buckets {
		n += b
	}
	return n
}

func newMeter() *meter {
	m := &meter{stripes: 1, seed: rand.Uint64(), first: make(chan struct{})}
	for m.stripes < min(2*runtime.GOMAXPROCS(0), 16) {
		m.stripes <<= 1
	}
	m.flags.Store(newFlagTable(nil, m.seed))
	return m
}

// flagTable is a read-only hash table from flag key to series, built
// anew when a flag is first observed. It hashes keys as the evaluation's
// table does (see lookup), at about half the cost of a Go map lookup,
// which was the largest part of Observe.
type flagTable struct {
	seed  uint64
	mask  uint64 // len(slots) - 1; len(slots) is a power of two
	slots []flagSlot
	all   []*flagSeries
}

// flagSlot holds one flag; n, w0 and w1 identify keys of at most 16 bytes
// as in lookup's slots.
type flagSlot struct {
	f      *flagSeries // nil: an empty slot
	n      int
	w0, w1 uint64
}

// newFlagTable indexes flags at most half full.
func newFlagTable(flags []*flagSeries, seed uint64) *flagTable {
	size := 8
	for size < 2*len(flags) {
		size <<= 1
	}
	t := &flagTable{seed: seed, mask: uint64(size - 1), slots: make([]flagSlot, size), all: flags}
	for _, f := range flags {
		h, w0, w1 := keyHash(f.flag, seed)
		i := h & t.mask
		for t.slots[i].f != nil {
			i = (i + 1) & t.mask
		}
		t.slots[i] = flagSlot{f: f, n: len(f.flag), w0: w0, w1: w1}
	}
	return t
}

// get returns the series of flag, or nil.
func (t *flagTable) get(flag string) *flagSeries {
	h, w0, w1 := keyHash(flag, t.seed)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.f == nil {
			return nil
		}
		if s.n == len(flag) && s.w0 == w0 && s.w1 == w1 && (len(flag) <= 16 || s.f.flag == flag) {
			return s.f
		}
	}
}

// Observe records one request served by the code path of variant of flag:
// it took d, and failed if err is not nil. It counts a request, an error
// if err is not nil, and d into the latency buckets of LatencyBounds; the
// client reports the counts to the server every Config.ReportInterval,
// where guarded rollouts read them, and Stats and the sdk/promexport
// collector expose them.
//
// Observe is safe for concurrent use, takes no lock, does not allocate
// once the pair has been observed, and never blocks. A call with an empty
// flag or variant (an evaluation that served the caller's default names
// no variant) is ignored, and so are keys the server would refuse and
// pairs beyond MaxSeries; Dropped counts those. A negative d counts as 0.
func (c *Client) Observe(flag, variant string, d time.Duration, err error) {
	if s := c.meter.series(flag, variant); s != nil {
		s.observe(d, err != nil)
	}
}

// Dropped returns the number of observations Observe ignored because of
// an invalid flag or variant key, or because the client already counts
// MaxSeries pairs.
func (c *Client) Dropped() uint64 { return c.meter.dropped.Load() }

func (s *series) observe(d time.Duration, failed bool) {
	// The first bound at or above d, by binary search: seven comparisons
	// for any d.
	i, j := 0, len(boundNanos)
	for i < j {
		h := int(uint(i+j) >> 1)
		if d > boundNanos[h] {
			i = h + 1
		} else {
			j = h
		}
	}
	st := &s.stripes[0]
	if len(s.stripes) > 1 {
		st = &s.stripes[rand.Uint32()&uint32(len(s.stripes)-1)]
	}
	// The request is counted before its error, and readers read errors
	// before requests, so that no snapshot has more errors than requests.
	st.buckets[i].Add(1)
	if failed {
		st.errors.Add(1)
	}
	st.nanos.Add(uint64(max(d, 0)))
}

// read sums the stripes. Errors are read first: see observe.
func (s *series) read() counters {
	var c counters
	for i := range s.stripes {
		c.errors += s.stripes[i].errors.Load()
	}
	for i := range s.stripes {
		st := &s.stripes[i]
		for b := range st.buckets {
			c.buckets[b] += st.buckets[b].Load()
		}
		c.nanos += st.nanos.Load()
	}
	return c
}

// series returns the series of (flag, variant), creating it the first
// time, or nil if it is not counted.
func (m *meter) series(flag, variant string) *series {
	if f := m.flags.Load().get(flag); f != nil {
		return f.series(variant)
	}
	return m.add(flag, variant)
}

// series returns the series of a variant of f, or nil if it is not
// counted.
func (f *flagSeries) series(variant string) *series {
	for _, s := range *f.variants.Load() {
		if s.variant == variant {
			return s
		}
	}
	return f.m.add(f.flag, variant)
}

// flag returns the series of flag, creating it the first time, or nil if
// the flag key is not valid.
func (m *meter) flag(flag string) *flagSeries {
	if f := m.flags.Load().get(flag); f != nil {
		return f
	}
	if flag == "" || ramp.CheckKey(flag) != "" {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.flagLocked(flag)
}

func (m *meter) flagLocked(flag string) *flagSeries {
	old := m.flags.Load()
	if f := old.get(flag); f != nil {
		return f
	}
	f := &flagSeries{m: m, flag: flag}
	none := []*series{}
	f.variants.Store(&none)
	m.flags.Store(newFlagTable(append(slices.Clip(old.all), f), m.seed))
	return f
}

// add creates the series of (flag, variant) unless it exists, the keys
// are not valid, or the client counts MaxSeries pairs already.
func (m *meter) add(flag, variant string) *series {
	if flag == "" || variant == "" {
		return nil // nothing to attribute the request to
	}
	if ramp.CheckKey(flag) != "" || ramp.CheckKey(variant) != "" {
		m.dropped.Add(1)
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.flagLocked(flag)
	old := *f.variants.Load()
	for _, s := range old {
		if s.variant == variant {
			return s
		}
	}
	if m.n >= MaxSeries {
		m.dropped.Add(1)
		return nil
	}
	if m.n == 0 {
		close(m.first)
	}
	m.n++
	s := &series{flag: flag, variant: variant, stripes: make([]stripe, m.stripes)}
	next := append(slices.Clip(old), s)
	f.variants.Store(&next)
	return s
}

// all returns every series, sorted by flag and variant.
func (m *meter) all() []*series {
	var out []*series
	for _, f := range m.flags.Load().all {
		out = append(out, *f.variants.Load()...)
	}
	slices.SortFunc(out, func(a, b *series) int {
		return cmp.Or(cmp.Compare(a.flag, b.flag), cmp.Compare(a.variant, b.variant))
	})
	return out
}

// Stats returns what Observe counted since the client started, for every
// (flag, variant) observed, sorted by flag and variant. Every other
// variant of an observed flag, as the client's flags define it, is
// included with zero counts: a series that exists at zero before its
// first request lets Prometheus's increase() count that request
// (docs/metrics.md). The counts of one pair are read while requests go
// on, so they may be a few requests apart, but never show more errors
// than requests. It is safe for concurrent use; the sdk/promexport
// collector calls it on every scrape.
func (c *Client) Stats() []Stats {
	all := c.meter.all()
	out := make([]Stats, 0, len(all))
	for _, s := range all {
		v := s.read()
		st := Stats{Flag: s.flag, Variant: s.variant, LatencySum: time.Duration(v.nanos).Seconds()}
		var cum uint64
		for b := range ramp.NumLatencyBuckets {
			cum += v.buckets[b]
			st.Buckets[b] = cum
		}
		st.Requests = cum + v.buckets[ramp.NumLatencyBuckets]
		st.Errors = min(v.errors, st.Requests)
		out = append(out, st)
	}
	snap := c.snap.Load()
	if snap == nil {
		return out
	}
	n := len(out)
	for i := 0; i < n; i++ {
		if i > 0 && out[i].Flag == out[i-1].Flag {
			continue
		}
		e := snap.flag(out[i].Flag)
		if e == nil {
			continue
		}
		for _, v := range e.flag.Variants {
			seen := false
			for j := i; j < n && out[j].Flag == out[i].Flag; j++ {
				seen = seen || out[j].Variant == v.Key
			}
			if !seen {
				out = append(out, Stats{Flag: out[i].Flag, Variant: v.Key})
			}
		}
	}
	if len(out) > n {
		slices.SortFunc(out, func(a, b Stats) int {
			return cmp.Or(cmp.Compare(a.Flag, b.Flag), cmp.Compare(a.Variant, b.Variant))
		})
	}
	return out
}
