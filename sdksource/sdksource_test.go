package sdksource_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/sdksource"
	"github.com/ramp-flags/ramp/store/sqlite"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// counts returns an entry of which fast requests took 50 ms (bucket 23,
// up to 0.0538 s) and the others 300 ms (bucket 33, 0.256 to 0.304 s).
func counts(variant string, requests, errors, fast float64) ramp.Counts {
	h := &ramp.Histogram{Bounds: ramp.LatencyBounds(), Counts: make([]float64, ramp.NumLatencyBuckets), Count: requests}
	for i, b := range h.Bounds {
		switch {
		case b >= 0.3:
			h.Counts[i] = requests
		case b >= 0.05:
			h.Counts[i] = fast
		}
	}
	return ramp.Counts{Flag: "checkout", Variant: variant, Requests: requests, Errors: errors, Latency: h}
}

func add(t *testing.T, st *sqlite.Store, at time.Time, cs ...ramp.Counts) {
	t.Helper()
	if err := st.AddCounts(t.Context(), "production", at, cs); err != nil {
		t.Fatal(err)
	}
}

func query(from, to time.Time) rollout.Query {
	return rollout.Query{Flag: "checkout", Environment: "production", Canary: "on", Baseline: "off",
		Guard: rollout.Guard{Guard: judge.Guard{Name: "errors", Metric: judge.ErrorRate}}, From: from, To: to}
}

// TestArms reads arms from the real store: sums over the window's whole
// seconds, the second in progress left out, and nothing of other
// environments, flags or variants.
func TestArms(t *testing.T) {
	st := openStore(t)
	src := sdksource.New(st)
	add(t, st, t0, counts("on", 100, 10, 60), counts("off", 1000, 5, 900))
	add(t, st, t0.Add(2*time.Second), counts("on", 50, 0, 50), counts("off", 500, 1, 500), counts("blue", 7, 7, 7))
	add(t, st, t0.Add(5*time.Second), counts("on", 1, 1, 1), counts("off", 1, 1, 1))
	if err := st.AddCounts(t.Context(), "staging", t0, []ramp.Counts{counts("on", 9, 9, 9)}); err != nil {
		t.Fatal(err)
	}

	c, b, err := src.Arms(t.Context(), query(t0, t0.Add(5500*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Requests != 150 || c.Errors != 10 || b.Requests != 1500 || b.Errors != 6 {
		t.Errorf("arms up to t0+5.5s: canary %+v, baseline %+v; want 150/10 and 1500/6 (t0+5s still in progress)", c, b)
	}
	if c.Latency == nil || !slices.Equal(c.Latency.Bounds, ramp.LatencyBounds()) || c.Latency.Count != 150 ||
		c.Latency.Counts[22] != 0 || c.Latency.Counts[23] != 110 || c.Latency.Counts[32] != 110 || c.Latency.Counts[33] != 150 {
		t.Errorf("canary latency %+v", c.Latency)
	}
	if p99 := c.Latency.Quantile(0.99); !(p99 > 0.256 && p99 <= 0.304) {
		t.Errorf("canary p99 %v, want in the 256-304 ms bucket", p99)
	}

	c, b, err = src.Arms(t.Context(), query(t0.Add(time.Second), t0.Add(6*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Requests != 51 || b.Requests != 501 {
		t.Errorf("arms from t0+1s to t0+6s: canary %v, baseline %v requests; want 51 and 501", c.Requests, b.Requests)
	}
}

// TestArmsNoData checks that no counts, and a window within one second,
// give empty arms that a latency guard finds inconclusive.
func TestArmsNoData(t *testing.T) {
	st := openStore(t)
	src := sdksource.New(st)
	for _, q := range []rollout.Query{
		query(t0, t0.Add(time.Hour)), // nothing reported
		query(t0.Add(100*time.Millisecond), t0.Add(time.Second+900*time.Millisecond)), // within the second in progress
	} {
		q.Guard.Metric, q.Guard.Quantile = judge.Latency, 0.99
		c, b, err := src.Arms(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []judge.Arm{c, b} {
			if a.Requests != 0 || a.Errors != 0 || a.Latency == nil || a.Latency.Count != 0 || len(a.Latency.Counts) != ramp.NumLatencyBuckets {
				t.Errorf("%v to %v: arm %+v, want empty with a zero histogram", q.From, q.To, a)
			}
		}
		v := judge.Evaluate(q.Guard.Guard, c, b, judge.Options{})
		if v.Outcome != judge.Inconclusive || !strings.Contains(v.Summary, "too little data") {
			t.Errorf("verdict on no data: %s %q, want inconclusive for too little data", v.Outcome, v.Summary)
		}
	}
}

// countingStore is the real store, recording the windows it sums and how
// many seconds they span.
type countingStore struct {
	*sqlite.Store
	mu      sync.Mutex
	seconds int64
	froms   []int64
}

func (c *countingStore) SumCounts(ctx context.Context, flag, env, variant string, from, to time.Time) (ramp.Counts, error) {
	c.mu.Lock()
	c.seconds += to.Unix() - from.Unix() + 1
	c.froms = append(c.froms, from.Unix()-t0.Unix())
	c.mu.Unlock()
	return c.Store.SumCounts(ctx, flag, env, variant, from, to)
}

func (c *countingStore) take() (seconds int64, froms []int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seconds, froms = c.seconds, c.froms
	c.seconds, c.froms = 0, nil
	return seconds, froms
}

// TestArmsReadOnlyNewSeconds: a window that grows by a minute at each
// analysis costs the store the seconds that are new or not yet settled,
// not the whole window, and gives the same arms as summing it all: a
// report that lands late in a second not yet settled counts, as does
// everything in a new stage's window.
func TestArmsReadOnlyNewSeconds(t *testing.T) {
	st := &countingStore{Store: openStore(t)}
	src := sdksource.New(st)
	report := func(from, to int) {
		for sec := from; sec < to; sec++ {
			add(t, st.Store, t0.Add(time.Duration(sec)*time.Second), counts("on", 2, 1, 1), counts("off", 20, 1, 10))
		}
	}
	look := func(from, to time.Duration) (canary, baseline judge.Arm) {
		t.Helper()
		c, b, err := src.Arms(t.Context(), query(t0.Add(from), t0.Add(to)))
		if err != nil {
			t.Fatal(err)
		}
		// A fresh source sums the whole window.
		wc, wb, err := sdksource.New(st.Store).Arms(t.Context(), query(t0.Add(from), t0.Add(to)))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, wc) || !reflect.DeepEqual(b, wb) {
			t.Fatalf("window %v to %v: arms %+v / %+v, want %+v / %+v", from, to, c, b, wc, wb)
		}
		return c, b
	}

	report(0, 600)
	if c, _ := look(0, 10*time.Minute); c.Requests != 1200 {
		t.Fatalf("first look: %v canary requests, want 1200", c.Requests)
	}
	st.take()
	// Ten more minutes of reports, and one late into a second that the
	// first look had not settled.
	report(600, 1200)
	add(t, st.Store, t0.Add(590*time.Second), counts("on", 1000, 1000, 0))
	c, _ := look(0, 20*time.Minute)
	if c.Requests != 2400+1000 {
		t.Errorf("second look: %v canary requests, want 3400 with the late report", c.Requests)
	}
	seconds, froms := st.take()
	// Per variant: from the first unsettled second (570) to the last (1199).
	if want := int64(2 * (1200 - 570)); seconds != want {
		t.Errorf("the second look read %d seconds (windows from %v), want %d", seconds, froms, want)
	}
	for _, f := range froms {
		if f < 570 {
			t.Errorf("the second look read from second %d again", f)
		}
	}
	// A second guard in the same analysis reads only the unsettled tail.
	look(0, 20*time.Minute)
	if seconds, _ := st.take(); seconds != 2*30 {
		t.Errorf("the same window again read %d seconds, want 60", seconds)
	}
	// The next stage starts its own sum.
	if c, _ := look(15*time.Minute, 20*time.Minute); c.Requests != 600 {
		t.Errorf("next stage: %v canary requests, want 600", c.Requests)
	}
}

type failingStore struct{ err error }

func (f failingStore) SumCounts(context.Context, string, string, string, time.Time, time.Time) (ramp.Counts, error) {
	return ramp.Counts{}, f.err
}

func TestArmsErrors(t *testing.T) {
	down := &ramp.Error{Code: ramp.EUNAVAILABLE, Message: "the store is busy; try again"}
	_, _, err := sdksource.New(failingStore{down}).Arms(context.Background(), query(t0, t0.Add(time.Minute)))
	if !errors.Is(err, down) || !strings.Contains(err.Error(), "checkout") {
		t.Errorf("store failure: %v", err)
	}
	src := sdksource.New(failingStore{})
	for name, mod := range map[string]func(*rollout.Query){
		"no flag":     func(q *rollout.Query) { q.Flag = "" },
		"no env":      func(q *rollout.Query) { q.Environment = "" },
		"no canary":   func(q *rollout.Query) { q.Canary = "" },
		"no baseline": func(q *rollout.Query) { q.Baseline = "" },
		"no window":   func(q *rollout.Query) { q.From = time.Time{} },
	} {
		q := query(t0, t0.Add(time.Minute))
		mod(&q)
		if _, _, err := src.Arms(context.Background(), q); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// clock is a settable time for the controller.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// TestControllerWithSDKCounts runs the rollout controller on this source
// and the real store: a failing canary is rolled back, a healthy one
// promoted to the end.
func TestControllerWithSDKCounts(t *testing.T) {
	for _, tc := range []struct {
		name         string
		canaryErrors float64
		want         ramp.RolloutStatus
	}{
		{"failing canary", 200, ramp.RolloutRolledBack},
		{"healthy canary", 1, ramp.RolloutPromoted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{now: t0}
			st := openStore(t, sqlite.WithClock(clk.Now))
			f := &ramp.Flag{Key: "checkout", Type: ramp.TypeBoolean, DefaultVariant: "off",
				Variants: []ramp.Variant{{Key: "off", Value: []byte("false")}, {Key: "on", Value: []byte("true")}}}
			if _, err := st.CreateFlag(t.Context(), ramp.Change{Actor: "alice"}, f); err != nil {
				t.Fatal(err)
			}
			ctl := rollout.New(rollout.Config{Store: st, Sources: map[string]rollout.Source{rollout.SourceSDK: sdksource.New(st)}, Now: clk.Now})
			plan := rollout.Plan{
				Stages:   []rollout.Stage{{Percent: 5, Duration: rollout.Duration(3 * time.Second)}, {Percent: 100}},
				Guards:   []rollout.Guard{{Guard: judge.Guard{Name: "errors", Metric: judge.ErrorRate, Critical: 0.05, AbsMargin: 0.001}}},
				Interval: rollout.Duration(time.Second),
			}
			r, err := ctl.Start(t.Context(), "alice", "checkout", "production", plan)
			if err != nil {
				t.Fatal(err)
			}
			add(t, st, t0.Add(time.Second), counts("on", 1000, tc.canaryErrors, 1000), counts("off", 19000, 19, 19000))
			for i := 2; i <= 5; i++ {
				clk.set(t0.Add(time.Duration(i) * time.Second))
				if err := ctl.Tick(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			got, err := st.GetRollout(t.Context(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.want {
				as, _ := st.ListAnalyses(t.Context(), r.ID, 0)
				t.Errorf("status %s (%s), want %s; analyses %+v", got.Status, got.Reason, tc.want, as)
			}
		})
	}
}
