package rollout_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// traffic is a fake metric source: 1,000 requests a second split by the
// stage's percentage, with the given error rates, accumulated since the
// window's start.
type traffic struct {
	mu                     sync.Mutex
	canaryErr, baselineErr float64
	pct                    func() float64
	fail                   error
	calls                  int
}

func (s *traffic) Arms(ctx context.Context, q rollout.Query) (judge.Arm, judge.Arm, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		return judge.Arm{}, judge.Arm{}, s.fail
	}
	secs := q.To.Sub(q.From).Seconds()
	total := 1000 * secs
	p := s.pct() / 100
	c := judge.Arm{Requests: total * p, Errors: total * p * s.canaryErr}
	b := judge.Arm{Requests: total * (1 - p), Errors: total * (1 - p) * s.baselineErr}
	return c, b, nil
}

type recorder struct {
	mu     sync.Mutex
	events []rollout.Event
}

func (r *recorder) Notify(_ context.Context, e rollout.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Action)
	}
	return out
}

type fixture struct {
	t     *testing.T
	store *sqlite.Store
	clock *clock
	src   *traffic
	notes *recorder
	ctl   *rollout.Controller
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ramp.db"), sqlite.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, store: st, clock: clk, notes: &recorder{}}
	f.src = &traffic{canaryErr: 0.005, baselineErr: 0.005, pct: func() float64 {
		fl, err := st.GetFlag(ctx, "checkout")
		if err != nil {
			return 0
		}
		return fl.Percentage("production")
	}}
	f.ctl = f.newController()
	_, err = st.CreateFlag(ctx, ramp.Change{Actor: "dev"}, &ramp.Flag{Key: "checkout", Type: ramp.TypeBoolean, DefaultVariant: "off",
		Variants: []ramp.Variant{{Key: "on", Value: json.RawMessage("true")}, {Key: "off", Value: json.RawMessage("false")}}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) newController() *rollout.Controller {
	return rollout.New(rollout.Config{Store: f.store, Sources: map[string]rollout.Source{rollout.SourceSDK: f.src}, Notifier: f.notes, Now: f.clock.Now})
}

func plan() rollout.Plan {
	return rollout.Plan{
		Stages: []rollout.Stage{
			{Percent: 5, Duration: rollout.Duration(10 * time.Minute)},
			{Percent: 25, Duration: rollout.Duration(10 * time.Minute)},
			{Percent: 50, Duration: rollout.Duration(10 * time.Minute)},
			{Percent: 100},
		},
		Guards:   []rollout.Guard{{Guard: judge.Guard{Name: "errors", Metric: judge.ErrorRate, AbsMargin: 0.001, Critical: 0.05}}},
		Interval: rollout.Duration(time.Minute),
	}
}

// run advances the clock a minute at a time and ticks, for the duration.
func (f *fixture) run(d time.Duration, ctl *rollout.Controller) {
	f.t.Helper()
	for end := f.clock.Now().Add(d); f.clock.Now().Before(end); {
		f.clock.Add(time.Minute)
		if err := ctl.Tick(context.Background()); err != nil {
			f.t.Fatalf("tick: %v", err)
		}
	}
}

func (f *fixture) rollout(id int64) *ramp.Rollout {
	f.t.Helper()
	r, err := f.store.GetRollout(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) percentage() float64 {
	fl, err := f.store.GetFlag(context.Background(), "checkout")
	if err != nil {
		f.t.Fatal(err)
	}
	return fl.Percentage("production")
}

// rolloutAudit returns the actions of the rollout's audit rows, oldest
// first.
func (f *fixture) rolloutAudit() []string {
	entries, err := f.store.ListAudit(context.Background(), ramp.AuditFilter{Kind: "rollout", Key: "checkout", Limit: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		out = append(out, entries[i].Action)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestHealthyRolloutPromotesThroughEveryStage(t *testing.T) {
	f := newFixture(t)
	r, err := f.ctl.Start(context.Background(), "alice", "checkout", "production", plan())
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != ramp.RolloutRunning || f.percentage() != 5 {
		t.Fatalf("after start: %s at %v%%", r.Status, f.percentage())
	}
	f.run(9*time.Minute, f.ctl)
	if got := f.rollout(r.ID); got.Stage != 0 {
		t.Fatalf("promoted before the stage's 10 minutes: stage %d", got.Stage)
	}
	f.run(2*time.Minute, f.ctl)
	if got := f.rollout(r.ID); got.Stage != 1 || f.percentage() != 25 {
		t.Fatalf("after 11 minutes: stage %d at %v%%, want stage 1 at 25%%", got.Stage, f.percentage())
	}
	f.run(25*time.Minute, f.ctl)
	got := f.rollout(r.ID)
	if got.Status != ramp.RolloutPromoted || f.percentage() != 100 {
		t.Fatalf("end: %s at %v%%, want promoted at 100%%", got.Status, f.percentage())
	}
	want := []string{ramp.ActionRolloutCreate, ramp.ActionRolloutStart, ramp.ActionRolloutPromote, ramp.ActionRolloutPromote, ramp.ActionRolloutComplete}
	if a := f.rolloutAudit(); !equal(a, want) {
		t.Errorf("audit %v, want %v", a, want)
	}
	analyses, _ := f.store.ListAnalyses(context.Background(), r.ID, 0)
	if len(analyses) < 25 {
		t.Errorf("%d analyses recorded; want one a minute", len(analyses))
	}
	var verdicts []judge.Verdict
	if err := json.Unmarshal(analyses[0].Verdicts, &verdicts); err != nil || len(verdicts) != 1 || verdicts[0].Canary.Requests == 0 {
		t.Errorf("analysis verdicts %s: want the error guard's figures", analyses[0].Verdicts)
	}
}

func TestFailingCanaryRollsBack(t *testing.T) {
	f := newFixture(t)
	r, err := f.ctl.Start(context.Background(), "alice", "checkout", "production", plan())
	if err != nil {
		t.Fatal(err)
	}
	f.src.canaryErr = 0.20 // far above the 5% critical limit
	f.run(5*time.Minute, f.ctl)
	got := f.rollout(r.ID)
	if got.Status != ramp.RolloutRolledBack || f.percentage() != 0 {
		t.Fatalf("after a critical breach: %s at %v%%, want rolled back at 0%%", got.Status, f.percentage())
	}
	fl, _ := f.store.GetFlag(context.Background(), "checkout")
	if fl.Environments["production"].On {
		t.Error("a rolled back flag is still on")
	}
	if acts := f.notes.actions(); acts[len(acts)-1] != ramp.ActionRolloutRollback {
		t.Errorf("notifications %v: want the rollback last", acts)
	}
	if got.Reason == "" {
		t.Error("the rollback has no reason")
	}
}

func TestRegressionStepsBack(t *testing.T) {
	f := newFixture(t)
	r, err := f.ctl.Start(context.Background(), "alice", "checkout", "production", plan())
	if err != nil {
		t.Fatal(err)
	}
	f.run(11*time.Minute, f.ctl) // at 25 %
	f.src.canaryErr = 0.02       // 4x the baseline, under the critical 5 %
	f.run(10*time.Minute, f.ctl)
	a := f.rolloutAudit()
	want := []string{ramp.ActionRolloutCreate, ramp.ActionRolloutStart, ramp.ActionRolloutPromote, ramp.ActionRolloutStepBack}
	if len(a) < 4 || !equal(a[:4], want) {
		t.Fatalf("audit %v: want %v first", a, want)
	}
	if got := f.rollout(r.ID); got.Status == ramp.RolloutPromoted {
		t.Errorf("a regressed canary completed the rollout")
	}
}

func TestNoDataHolds(t *testing.T) {
	f := newFixture(t)
	r, err := f.ctl.Start(context.Background(), "alice", "checkout", "production", plan())
	if err != nil {
		t.Fatal(err)
	}
	f.src.fail = errors.New("prometheus: connection refused")
	f.run(30*time.Minute, f.ctl)
	got := f.rollout(r.ID)
	if got.Stage != 0 || got.Status != ramp.RolloutRunning || f.percentage() != 5 {
		t.Fatalf("with no data: %s stage %d at %v%%, want held at stage 0", got.Status, got.Stage, f.percentage())
	}
	holds := 0
	for _, a := range f.notes.actions() {
		if a == rollout.ActionHold {
			holds++
		}
	}
	if holds != 1 {
		t.Errorf("%d hold notifications for one unchanged reason, want 1", holds)
	}
	analyses, _ := f.store.ListAnalyses(context.Background(), r.ID, 0)
	if last := analyses[len(analyses)-1]; last.Decision != string(judge.Hold) {
		t.Errorf("last decision %q", last.Decision)
	}
	// Data comes back: the rollout proceeds.
	f.src.fail = nil
	f.run(2*time.Minute, f.ctl)
	if got := f.rollout(r.ID); got.Stage != 1 {
		t.Errorf("after data returned: stage %d, want 1", got.Stage)
	}
}

// TestRestartResumes runs half a rollout with one controller and the rest
// with a new one, as after a crash: every transition is taken once.
func TestRestartResumes(t *testing.T) {
	f := newFixture(t)
	r, err := f.ctl.Start(context.Background(), "alice", "checkout", "production", plan())
	if err != nil {
		t.Fatal(err)
	}
	f.run(15*time.Minute, f.ctl)
	second := f.newController()
	f.run(30*time.Minute, second)
	if got := f.rollout(r.ID); got.Status != ramp.RolloutPromoted {
		t.Fatalf("after the restart: %s", got.Status)
	}
	want := []string{ramp.ActionRolloutCreate, ramp.ActionRolloutStart, ramp.ActionRolloutPromote, ramp.ActionRolloutPromote, ramp.ActionRolloutComplete}
	if a := f.rolloutAudit(); !equal(a, want) {
		t.Errorf("audit %v, want %v", a, want)
	}
}

// TestConcurrentControllers ticks two controllers at once on every minute:
// the store's version check lets only one take each transition.
func TestConcurrentControllers(t *testing.T) {
	f := newFixture(t)
	r, err := f.ctl.Start(context.Background(), "alice", "checkout", "production", plan())
	if err != nil {
		t.Fatal(err)
	}
	other := f.newController()
	for i := 0; i < 40; i++ {
		f.clock.Add(time.Minute)
		var wg sync.WaitGroup
		for _, c := range []*rollout.Controller{f.ctl, other} {
			wg.Go(func() {
				if err := c.Tick(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if got := f.rollout(r.ID); got.Status != ramp.RolloutPromoted {
		t.Fatalf("end: %s", got.Status)
	}
	want := []string{ramp.ActionRolloutCreate, ramp.ActionRolloutStart, ramp.ActionRolloutPromote, ramp.ActionRolloutPromote, ramp.ActionRolloutComplete}
	if a := f.rolloutAudit(); !equal(a, want) {
		t.Errorf("audit %v, want %v: a transition was taken twice", a, want)
	}
}

func TestManualControls(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r, err := f.ctl.Start(ctx, "alice", "checkout", "production", plan())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ctl.Start(ctx, "bob", "checkout", "production", plan()); ramp.ErrorCode(err) != ramp.ECONFLICT {
		t.Errorf("a second rollout: %v", err)
	}
	if _, err := f.ctl.Pause(ctx, "bob", r.ID, "waiting for the marketing launch"); err != nil {
		t.Fatal(err)
	}
	f.run(30*time.Minute, f.ctl)
	if got := f.rollout(r.ID); got.Status != ramp.RolloutPaused || got.Stage != 0 || got.Reason != "waiting for the marketing launch" {
		t.Fatalf("paused rollout moved: %+v", got)
	}
	if _, err := f.ctl.Resume(ctx, "bob", r.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ctl.Promote(ctx, "bob", r.ID, ""); err != nil {
		t.Fatal(err)
	}
	if f.percentage() != 25 {
		t.Errorf("after a manual promotion: %v%%", f.percentage())
	}
	if _, err := f.ctl.Resume(ctx, "bob", r.ID, ""); ramp.ErrorCode(err) != ramp.ECONFLICT {
		t.Errorf("resuming a running rollout: %v", err)
	}
	if _, err := f.ctl.Abort(ctx, "carol", r.ID, "wrong build"); err != nil {
		t.Fatal(err)
	}
	if got := f.rollout(r.ID); got.Status != ramp.RolloutAborted || f.percentage() != 0 {
		t.Errorf("after abort: %s at %v%%", got.Status, f.percentage())
	}
	if _, err := f.ctl.Promote(ctx, "bob", r.ID, ""); ramp.ErrorCode(err) != ramp.ECONFLICT {
		t.Errorf("promoting an aborted rollout: %v", err)
	}
}

func TestKillSwitchStopsTheController(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r, err := f.ctl.Start(ctx, "alice", "checkout", "production", plan())
	if err != nil {
		t.Fatal(err)
	}
	f.run(11*time.Minute, f.ctl)
	if _, err := f.store.UpdateFlag(ctx, ramp.Change{Actor: "oncall", Action: ramp.ActionFlagRollback, Environment: "production"}, "checkout", func(fl *ramp.Flag) error {
		fl.Rollback("production")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f.run(30*time.Minute, f.ctl)
	if got := f.rollout(r.ID); got.Status != ramp.RolloutAborted || f.percentage() != 0 {
		t.Fatalf("after the kill switch: %s at %v%%", got.Status, f.percentage())
	}
	// The controller did not end it, but tells the notifiers all the same,
	// once.
	aborts := 0
	for _, e := range f.notes.events {
		if e.Action == ramp.ActionRolloutAbort && e.Rollout.ID == r.ID {
			aborts++
			if e.Reason != "kill switch by oncall" {
				t.Errorf("abort reason %q", e.Reason)
			}
		}
	}
	if aborts != 1 {
		t.Errorf("%d abort notifications, want 1", aborts)
	}
}

// TestManualEndOnAnotherReplica: a rollout aborted, or promoted to its
// end, through a replica that does not run the controller is announced
// once, by that replica; the leader sees it gone and stays silent. Ended
// by the kill switch, the leader announces it (above).
func TestManualEndOnAnotherReplica(t *testing.T) {
	for _, end := range []string{ramp.ActionRolloutAbort, ramp.ActionRolloutComplete} {
		t.Run(end, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			leader, replica := f.ctl, f.newController()
			r, err := replica.Start(ctx, "alice", "checkout", "production", plan())
			if err != nil {
				t.Fatal(err)
			}
			f.run(3*time.Minute, leader)
			switch end {
			case ramp.ActionRolloutAbort:
				_, err = replica.Abort(ctx, "carol", r.ID, "wrong build")
			default:
				for got := r; err == nil && got.Status.Active(); {
					got, err = replica.Promote(ctx, "carol", r.ID, "")
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.rollout(r.ID); got.Status.Active() {
				t.Fatalf("rollout still %s", got.Status)
			}
			f.run(3*time.Minute, leader)
			ends := 0
			for _, a := range f.notes.actions() {
				if a == ramp.ActionRolloutAbort || a == ramp.ActionRolloutComplete {
					ends++
				}
			}
			if acts := f.notes.actions(); ends != 1 || acts[len(acts)-1] != end {
				t.Errorf("notifications %v: want the end (%s) once", acts, end)
			}
		})
	}
}

func TestStartNeedsAConfiguredSource(t *testing.T) {
	f := newFixture(t)
	p := plan()
	p.Source = rollout.SourcePrometheus
	_, err := f.ctl.Start(context.Background(), "alice", "checkout", "production", p)
	var e *ramp.Error
	if !errors.As(err, &e) || e.Code != ramp.EINVALID || len(e.Fields) != 1 || e.Fields[0].Field != "source" {
		t.Fatalf("a plan whose source the server lacks: %v", err)
	}
	if f.percentage() != 0 {
		t.Errorf("a rejected plan changed the flag to %v%%", f.percentage())
	}
}

func TestPlanValidation(t *testing.T) {
	for name, p := range map[string]rollout.Plan{
		"no stages":      {},
		"falling stages": {Stages: []rollout.Stage{{Percent: 25, Duration: rollout.Duration(time.Hour)}, {Percent: 5}}},
		"no duration":    {Stages: []rollout.Stage{{Percent: 5}, {Percent: 100}}},
		"bad percent":    {Stages: []rollout.Stage{{Percent: 101}}},
		"bad guard":      {Stages: []rollout.Stage{{Percent: 100}}, Guards: []rollout.Guard{{Guard: judge.Guard{Metric: "speed"}}}},
	} {
		p.Normalize()
		err := p.Validate()
		var e *ramp.Error
		if !errors.As(err, &e) || e.Code != ramp.EINVALID || len(e.Fields) == 0 {
			t.Errorf("%s: Validate = %v, want field errors", name, err)
		}
	}
	for name, p := range rollout.Templates() {
		p.Normalize()
		if err := p.Validate(); err != nil {
			t.Errorf("template %s: %v", name, err)
		}
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"4d": 96 * time.Hour, "72h": 72 * time.Hour, "30s": 30 * time.Second, "1d12h": 36 * time.Hour} {
		got, err := rollout.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "4x", "1d-"} {
		if _, err := rollout.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
	for d, want := range map[time.Duration]string{96 * time.Hour: "4d", 36 * time.Hour: "1d12h", time.Hour: "1h", 90 * time.Minute: "1h30m", 30 * time.Second: "30s", 1500 * time.Millisecond: "1.5s"} {
		if s := rollout.Duration(d).String(); s != want {
			t.Errorf("Duration(%v).String() = %q, want %q", d, s, want)
		}
		if back, err := rollout.ParseDuration(rollout.Duration(d).String()); err != nil || back != d {
			t.Errorf("%v does not survive a round trip: %v, %v", d, back, err)
		}
	}
}
