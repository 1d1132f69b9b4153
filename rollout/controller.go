package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
)

// State is the controller's memory of a rollout, stored with it and
// changed only by transitions.
type State struct {
	// Canary and Baseline are the rolled-out variant and the off variant,
	// fixed when the rollout starts.
	Canary   string `json:"canary,omitempty"`
	Baseline string `json:"baseline,omitempty"`
	// StageStarted is when the current stage went live.
	StageStarted time.Time `json:"stageStarted,omitzero"`
	// Transitions lists every change of stage or status, oldest first.
	Transitions []Transition `json:"transitions,omitempty"`
}

// Transition is one change of stage or status.
type Transition struct {
	Time    time.Time          `json:"time"`
	Action  string             `json:"action"` // an audit action, such as rollout.promote
	From    int                `json:"from"`
	To      int                `json:"to"`
	Percent float64            `json:"percent"`
	Status  ramp.RolloutStatus `json:"status"`
	Actor   string             `json:"actor"`
	Reason  string             `json:"reason,omitempty"`
}

// DecodeState reads a state stored in a rollout; an empty one is zero.
func DecodeState(raw json.RawMessage) (State, error) {
	var s State
	if len(raw) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("decode rollout state: %w", err)
	}
	return s, nil
}

// Store is what the controller needs of storage.
type Store interface {
	CreateRollout(ctx context.Context, c ramp.Change, r *ramp.Rollout) (*ramp.Rollout, error)
	GetRollout(ctx context.Context, id int64) (*ramp.Rollout, error)
	ListRollouts(ctx context.Context, f ramp.RolloutFilter) ([]*ramp.Rollout, error)
	UpdateRollout(ctx context.Context, c ramp.Change, id int64, fn func(*ramp.Rollout, *ramp.Flag) (string, error)) (*ramp.Rollout, *ramp.Flag, error)
	AddAnalysis(ctx context.Context, a ramp.Analysis) (ramp.Analysis, error)
}

// Query asks a metric source for one guard's figures.
type Query struct {
	Flag        string
	Environment string
	// Canary is the rolled-out variant, Baseline the off variant.
	Canary, Baseline string
	Guard            Guard
	// From and To bound the window: the current stage so far.
	From, To time.Time
}

// GuardChecker is implemented by sources that can check a guard's
// configuration (its query templates) before a rollout starts.
type GuardChecker interface {
	CheckGuard(g Guard) error
}

// Source gives the canary's and the baseline's figures for a guard, over
// the query's window. "No data" is not an error: it returns empty arms,
// which the judge finds inconclusive. An error means the source could not
// be asked, which holds the rollout too.
type Source interface {
	Arms(ctx context.Context, q Query) (canary, baseline judge.Arm, err error)
}

// Event is what notifiers hear of: a transition, or a rollout starting to
// hold.
type Event struct {
	Rollout *ramp.Rollout
	// Action is the audit action of the transition, or ActionHold.
	Action string
	// Percent is what the canary gets after the event.
	Percent float64
	Actor   string
	Reason  string
	Time    time.Time
	// Decision is the analysis behind the event, if any.
	Decision *judge.Decision
}

// ActionHold is the action of an Event that says an analysis held the
// rollout for a new reason. Holds are not transitions: they write no audit
// row, and only a change of reason is notified.
const ActionHold = "rollout.hold"

// Notifier hears of every event. Notify must not block for long.
type Notifier interface {
	Notify(ctx context.Context, e Event)
}

// Actor is the audit actor of the controller's own transitions.
const Actor = "rollout-controller"

// Config configures a Controller.
type Config struct {
	Store Store
	// Sources by plan source name (SourceSDK, SourcePrometheus). A plan
	// whose source is missing holds, inconclusive.
	Sources  map[string]Source
	Notifier Notifier
	// Baselines, if set, holds recorded baselines: a guard whose live
	// baseline arm has too little data (as at a 100 % stage) is judged
	// against the stored one of the same variant and source.
	Baselines BaselineStore
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Controller drives guarded rollouts. Its methods are safe for concurrent
// use; every change goes through the store's versioned transactions, so
// concurrent callers cannot take one transition twice.
type Controller struct {
	store    Store
	sources  map[string]Source
	notifier Notifier
	now      func() time.Time
	log      *slog.Logger

	baselines BaselineStore

	mu   sync.Mutex
	last map[int64]looked // per rollout: the last analysis, in memory
	// active holds the rollouts the last Tick found active, and ended
	// those this controller ended itself, so that Tick can tell people
	// of rollouts ended elsewhere: by the kill switch or a deletion.
	active map[int64]bool
	ended  map[int64]bool
}

type looked struct {
	at     time.Time
	action judge.Action
	reason string
}

// New returns a controller.
func New(cfg Config) *Controller {
	c := &Controller{store: cfg.Store, sources: cfg.Sources, notifier: cfg.Notifier, now: cfg.Now, log: cfg.Logger, last: map[int64]looked{}, active: map[int64]bool{}, ended: map[int64]bool{}}
	c.baselines = cfg.Baselines
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Start validates the plan, records a new rollout of the flag in env and
// applies its first stage at once. It fails with EINVALID for a bad plan,
// ECONFLICT while another rollout of the flag in env is active, and
// ENOTFOUND for an unknown flag or environment.
func (c *Controller) Start(ctx context.Context, actor, flag, env string, plan Plan) (*ramp.Rollout, error) {
	plan.Normalize()
	if err := plan.Validate(); err != nil {
		return nil, err
	}
	if err := c.checkSource(plan); err != nil {
		return nil, err
	}
	r, err := c.store.CreateRollout(ctx, ramp.Change{Actor: actor, Action: ramp.ActionRolloutCreate}, &ramp.Rollout{
		Flag: flag, Environment: env, Status: ramp.RolloutPending, Plan: mustJSON(plan),
	})
	if err != nil {
		return nil, err
	}
	return c.apply(ctx, r, actor, moveStart, "started by "+actor, nil)
}

// checkSource rejects a plan whose metric source this server does not
// have, or whose guards the source finds wrong: better now than a rollout
// that holds forever.
func (c *Controller) checkSource(plan Plan) error {
	src, ok := c.sources[plan.Source]
	if !ok {
		return &ramp.Error{Code: ramp.EINVALID, Message: "rollout plan is invalid", Fields: []ramp.FieldError{{
			Field: "source", Message: fmt.Sprintf("%q is not configured on this server (for prometheus, start ramp serve with --prometheus-url)", plan.Source)}}}
	}
	ch, ok := src.(GuardChecker)
	if !ok {
		return nil
	}
	var fields []ramp.FieldError
	for i, g := range plan.Guards {
		if err := ch.CheckGuard(g); err != nil {
			fields = append(fields, ramp.FieldError{Field: fmt.Sprintf("guards[%d].queries", i), Message: err.Error()})
		}
	}
	if len(fields) > 0 {
		return &ramp.Error{Code: ramp.EINVALID, Message: "rollout plan is invalid", Fields: fields}
	}
	return nil
}

// Pause holds a running rollout at its stage until Resume.
func (c *Controller) Pause(ctx context.Context, actor string, id int64, reason string) (*ramp.Rollout, error) {
	return c.manual(ctx, actor, id, movePause, reason)
}

// Resume continues a paused rollout. An empty reason records "resumed by
// ACTOR".
func (c *Controller) Resume(ctx context.Context, actor string, id int64, reason string) (*ramp.Rollout, error) {
	return c.manual(ctx, actor, id, moveResume, reason)
}

// Promote moves a rollout to its next stage now, whatever the judge says:
// a person's decision, recorded as such. An empty reason records
// "promoted by ACTOR".
func (c *Controller) Promote(ctx context.Context, actor string, id int64, reason string) (*ramp.Rollout, error) {
	return c.manual(ctx, actor, id, movePromote, reason)
}

// Abort ends a rollout and rolls its flag back to 0 % in the environment.
func (c *Controller) Abort(ctx context.Context, actor string, id int64, reason string) (*ramp.Rollout, error) {
	return c.manual(ctx, actor, id, moveAbort, reason)
}

func (c *Controller) manual(ctx context.Context, actor string, id int64, m move, reason string) (*ramp.Rollout, error) {
	r, err := c.store.GetRollout(ctx, id)
	if err != nil {
		return nil, err
	}
	if reason == "" {
		past := map[move]string{movePause: "paused", moveResume: "resumed", movePromote: "promoted", moveAbort: "aborted"}
		reason = past[m] + " by " + actor
	}
	return c.apply(ctx, r, actor, m, reason, nil)
}

// Run ticks every interval until ctx ends.
func (c *Controller) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := c.Tick(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("rollout controller", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick advances every active rollout that is due: a pending one goes live
// at its first stage; a running one is analysed once its interval has
// passed since the last analysis, and the decision is applied. The errors
// of one rollout do not stop the others; they are returned joined.
func (c *Controller) Tick(ctx context.Context) error {
	active, err := c.store.ListRollouts(ctx, ramp.RolloutFilter{Active: true, Limit: 1000})
	if err != nil {
		return fmt.Errorf("list active rollouts: %w", err)
	}
	var errs []error
	now := map[int64]bool{}
	for _, r := range active {
		now[r.ID] = true
		if err := c.step(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("rollout %d of %s in %s: %w", r.ID, r.Flag, r.Environment, err))
		}
	}
	c.mu.Lock()
	var gone []int64
	for id := range c.active {
		if !now[id] && !c.ended[id] {
			gone = append(gone, id)
		}
	}
	for id := range c.ended {
		delete(now, id) // ended by this controller during this tick
	}
	c.active, c.ended = now, map[int64]bool{}
	c.mu.Unlock()
	for _, id := range gone {
		r, err := c.store.GetRollout(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("rollout %d: %w", id, err))
			continue
		}
		c.mu.Lock()
		delete(c.last, id)
		c.mu.Unlock()
		if endedByTransition(r) {
			continue // announced by the controller that took it, on another replica
		}
		// Ended outside any controller: the kill switch, an alert, or the
		// deletion of its flag or environment. Say so, as for any end.
		c.notify(ctx, Event{Rollout: r, Action: ramp.ActionRolloutAbort, Reason: r.Reason, Time: r.UpdatedAt})
	}
	return errors.Join(errs...)
}

// endedByTransition reports whether r ended by a controller's transition
// (its last recorded transition is the end), rather than by a change
// outside the controller, which records none.
func endedByTransition(r *ramp.Rollout) bool {
	st, err := DecodeState(r.State)
	if err != nil || len(st.Transitions) == 0 {
		return false
	}
	last := st.Transitions[len(st.Transitions)-1]
	return !last.Status.Active() && last.Status == r.Status
}

func (c *Controller) step(ctx context.Context, r *ramp.Rollout) error {
	if r.Status == ramp.RolloutPending {
		_, err := c.apply(ctx, r, Actor, moveStart, "started", nil)
		return err
	}
	if r.Status != ramp.RolloutRunning {
		return nil
	}
	plan, err := DecodePlan(r.Plan)
	if err != nil {
		return err
	}
	st, err := DecodeState(r.State)
	if err != nil {
		return err
	}
	now := c.now()
	c.mu.Lock()
	prev := c.last[r.ID]
	c.mu.Unlock()
	if !prev.at.IsZero() && now.Sub(prev.at) < time.Duration(plan.Interval) {
		return nil
	}
	d, recorded := c.analyse(ctx, r, plan, st, now)
	if _, err := c.store.AddAnalysis(ctx, ramp.Analysis{
		RolloutID: r.ID, Time: now, Stage: r.Stage, Decision: string(d.Action), Reason: d.Reason, Verdicts: mustJSON(recorded),
	}); err != nil {
		return fmt.Errorf("record analysis: %w", err)
	}
	c.mu.Lock()
	c.last[r.ID] = looked{at: now, action: d.Action, reason: d.Reason}
	c.mu.Unlock()

	var m move
	switch d.Action {
	case judge.Promote:
		m = movePromote
	case judge.StepBack:
		m = moveStepBack
	case judge.Rollback:
		m = moveRollback
	default:
		if prev.action != judge.Hold || prev.reason != d.Reason {
			c.notify(ctx, Event{Rollout: r, Action: ActionHold, Percent: stagePercent(plan, r.Stage), Actor: Actor, Reason: d.Reason, Time: now, Decision: &d})
		}
		return nil
	}
	// The decision holds only for the rollout as it was analysed: the
	// version check turns a concurrent change into a conflict, and the
	// next tick decides again on the new state.
	_, err = c.apply(ctx, r, Actor, m, d.Reason, &d)
	if ramp.ErrorCode(err) == ramp.ECONFLICT {
		c.log.Info("rollout changed during analysis; deciding again next tick", "rollout", r.ID)
		return nil
	}
	return err
}

// analyse gathers every guard's figures and asks the judge. It returns
// the decision and its verdicts as recorded, with the stored baseline of
// each guard judged against one.
func (c *Controller) analyse(ctx context.Context, r *ramp.Rollout, plan Plan, st State, now time.Time) (judge.Decision, []Verdict) {
	in := judge.DecideInput{Stage: r.Stage, InStage: now.Sub(st.StageStarted), OnWarning: plan.OnWarning}
	if r.Stage < len(plan.Stages) {
		in.MinDuration = time.Duration(plan.Stages[r.Stage].Duration)
	}
	src := c.sources[plan.Source]
	var inputs []judge.Input
	var failed []judge.Verdict
	var stored []*ramp.Baseline // per input: the baseline standing in, or nil
	looked, sb := false, (*ramp.Baseline)(nil)
	full := stagePercent(plan, r.Stage) >= 100
	for _, g := range plan.Guards {
		var err error
		if src == nil {
			err = fmt.Errorf("no %s metric source is configured", plan.Source)
		}
		var ca, ba judge.Arm
		if err == nil {
			ca, ba, err = src.Arms(ctx, Query{Flag: r.Flag, Environment: r.Environment, Canary: st.Canary, Baseline: st.Baseline, Guard: g, From: st.StageStarted, To: now})
		}
		if err != nil {
			failed = append(failed, judge.Unavailable(g.Guard, err.Error()))
			continue
		}
		var used *ramp.Baseline
		if wantStored(g.Guard, ca, ba, full) {
			// No control group any more (100 %: what the live baseline
			// has are the last reports from before the stage), or too
			// little of it for a canary that has enough: the recorded
			// baseline stands in, if one fits.
			if !looked {
				looked, sb = true, c.storedBaseline(ctx, r, plan, st)
			}
			if sb != nil {
				ba, used = baselineArm(*sb), sb
			}
		}
		inputs = append(inputs, judge.Input{Guard: g.Guard, Canary: ca, Baseline: ba})
		stored = append(stored, used)
	}
	opts := judge.Options{Alpha: plan.Alpha, CanaryPercent: stagePercent(plan, r.Stage)}
	verdicts := judge.EvaluateAll(inputs, opts)
	recorded := make([]Verdict, 0, len(verdicts)+len(failed))
	for i := range verdicts {
		v := Verdict{Verdict: verdicts[i]}
		if b := stored[i]; b != nil {
			describeStored(&verdicts[i], b)
			thin := *b
			thin.Latency = nil
			v.Verdict, v.StoredBaseline = verdicts[i], &thin
		}
		recorded = append(recorded, v)
	}
	for _, v := range failed {
		recorded = append(recorded, Verdict{Verdict: v})
	}
	in.Verdicts = append(verdicts, failed...)
	return judge.Decide(in), recorded
}

// move is a kind of transition.
type move string

const (
	moveStart    move = "start"
	movePromote  move = "promote"
	moveStepBack move = "step back"
	moveRollback move = "roll back"
	movePause    move = "pause"
	moveResume   move = "resume"
	moveAbort    move = "abort"
)

// apply takes one transition of r in one store transaction, on the
// condition that r is still at the version it was read at.
func (c *Controller) apply(ctx context.Context, r *ramp.Rollout, actor string, m move, reason string, d *judge.Decision) (*ramp.Rollout, error) {
	now := c.now()
	var ev Event
	change := ramp.Change{Actor: actor, Environment: r.Environment, IfVersion: r.Version}
	out, _, err := c.store.UpdateRollout(ctx, change, r.ID, func(nr *ramp.Rollout, f *ramp.Flag) (string, error) {
		plan, err := DecodePlan(nr.Plan)
		if err != nil {
			return "", err
		}
		st, err := DecodeState(nr.State)
		if err != nil {
			return "", err
		}
		action, err := m.take(nr, f, plan, &st, now)
		if err != nil {
			return "", err
		}
		pct := f.Percentage(nr.Environment)
		st.Transitions = append(st.Transitions, Transition{Time: now, Action: action, From: r.Stage, To: nr.Stage, Percent: pct, Status: nr.Status, Actor: actor, Reason: reason})
		nr.State = mustJSON(st)
		if !nr.Status.Active() || nr.Status == ramp.RolloutPaused {
			nr.Reason = reason
		} else {
			nr.Reason = ""
		}
		ev = Event{Action: action, Percent: pct, Actor: actor, Reason: reason, Time: now, Decision: d}
		return action, nil
	})
	if err != nil {
		return nil, err
	}
	ev.Rollout = out
	c.notify(ctx, ev)
	if !out.Status.Active() {
		c.mu.Lock()
		delete(c.last, out.ID)
		c.ended[out.ID] = true
		c.mu.Unlock()
	}
	return out, nil
}

// take changes the rollout and its flag for the move and returns the audit
// action. It fails with ECONFLICT when the move does not fit the status.
func (m move) take(r *ramp.Rollout, f *ramp.Flag, plan Plan, st *State, now time.Time) (string, error) {
	env := r.Environment
	need := func(ok bool) error {
		if ok {
			return nil
		}
		return ramp.Errorf(ramp.ECONFLICT, "rollout %d is %s; it cannot %s", r.ID, r.Status, m)
	}
	setStage := func(i int) error {
		if err := f.SetPercentage(env, plan.Stages[i].Percent, st.Canary); err != nil {
			return err
		}
		r.Stage, st.StageStarted = i, now
		return nil
	}
	last := len(plan.Stages) - 1
	switch m {
	case moveStart:
		if err := need(r.Status == ramp.RolloutPending); err != nil {
			return "", err
		}
		if err := f.SetPercentage(env, plan.Stages[0].Percent, plan.Variant); err != nil {
			return "", err
		}
		st.Canary, st.Baseline = f.RolledOut(env), f.OffVariantKey(env)
		r.Status, r.Stage, st.StageStarted = ramp.RolloutRunning, 0, now
		return ramp.ActionRolloutStart, nil
	case movePromote:
		if err := need(r.Status == ramp.RolloutRunning || r.Status == ramp.RolloutPaused); err != nil {
			return "", err
		}
		if r.Stage >= last {
			r.Status = ramp.RolloutPromoted
			return ramp.ActionRolloutComplete, nil
		}
		if err := setStage(r.Stage + 1); err != nil {
			return "", err
		}
		if r.Stage == last && plan.Stages[last].Duration == 0 {
			// The last stage needs no watching: reaching it completes.
			r.Status = ramp.RolloutPromoted
			return ramp.ActionRolloutComplete, nil
		}
		return ramp.ActionRolloutPromote, nil
	case moveStepBack:
		if err := need(r.Status == ramp.RolloutRunning); err != nil {
			return "", err
		}
		if r.Stage == 0 {
			return moveRollback.take(r, f, plan, st, now)
		}
		return ramp.ActionRolloutStepBack, setStage(r.Stage - 1)
	case moveRollback:
		if err := need(r.Status.Active()); err != nil {
			return "", err
		}
		f.Rollback(env)
		r.Status = ramp.RolloutRolledBack
		return ramp.ActionRolloutRollback, nil
	case movePause:
		if err := need(r.Status == ramp.RolloutRunning); err != nil {
			return "", err
		}
		r.Status = ramp.RolloutPaused
		return ramp.ActionRolloutPause, nil
	case moveResume:
		if err := need(r.Status == ramp.RolloutPaused); err != nil {
			return "", err
		}
		r.Status = ramp.RolloutRunning
		return ramp.ActionRolloutResume, nil
	case moveAbort:
		if err := need(r.Status.Active()); err != nil {
			return "", err
		}
		f.Rollback(env)
		r.Status = ramp.RolloutAborted
		return ramp.ActionRolloutAbort, nil
	}
	return "", fmt.Errorf("unknown move %q", m)
}

func (c *Controller) notify(ctx context.Context, e Event) {
	if c.notifier != nil {
		c.notifier.Notify(ctx, e)
	}
}

func stagePercent(p Plan, stage int) float64 {
	if stage >= 0 && stage < len(p.Stages) {
		return p.Stages[stage].Percent
	}
	return 0
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("rollout: encode: " + err.Error()) // plans, states and verdicts always encode
	}
	return b
}
