// Package report builds the report of a guarded rollout: what happened,
// when, on which figures and by whose hand. Build reads a rollout, its
// analyses and the flag's audit entries (as the admin API returns them)
// and gives a Report; WriteMarkdown and WriteHTML render it, with charts
// of the canary against the baseline and of the percentage over time drawn
// by package chart.
//
// The package does no I/O of its own beyond the writers it is given.
package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

// Input is what a report is built from.
type Input struct {
	Rollout *ramp.Rollout
	// Analyses are the rollout's analyses in any order.
	Analyses []ramp.Analysis
	// Audit holds the audit entries of the rollout's flag, in any order;
	// those outside the rollout's time or environment are left out.
	Audit []ramp.AuditEntry
	// Server is the address of the server the data came from, shown in
	// the report; may be empty.
	Server string
	// Now is when the report is made: the end of the time axis of a
	// rollout still under way.
	Now time.Time
}

// Report is the report of one rollout, ready to render.
type Report struct {
	ID          int64
	Flag        string
	Environment string
	Status      ramp.RolloutStatus
	// Reason says why the rollout ended or paused.
	Reason    string
	CreatedBy string
	Server    string
	// Start is when the rollout was created; End when it ended, or the
	// report's time for one under way.
	Start, End time.Time
	Generated  time.Time
	Plan       rollout.Plan
	// Canary is the rolled-out variant, Baseline the off variant.
	Canary, Baseline string
	// Timeline lists what happened, oldest first.
	Timeline []Event
	// Stages are the stage runs: one per time a stage went live.
	Stages []StageRun
	// Actors says who did what, the busiest first.
	Actors []Actor
	// Analyses is the number of analyses of the rollout.
	Analyses int
	// ErrorRate and Latency are the figures of the first error-rate and
	// latency guards over time (nil without such a guard); Percent is the
	// canary's percentage over time.
	ErrorRate, Latency *Pair
	Percent            []Sample
}

// Event is one row of the timeline.
type Event struct {
	Time time.Time
	// Kind is "transition" (a change of stage or status), "analysis" (the
	// judge starting to hold, or holding for a new kind of reason) or
	// "audit" (a change to the flag outside the rollout, such as the kill
	// switch or ramp set).
	Kind string
	// Action is an audit action (rollout.promote, flag.rollback) or, for
	// analyses, the decision (hold).
	Action string
	Actor  string
	// Stage is the stage index after the event, -1 when unknown.
	Stage int
	// Percent is the canary's percentage after the event, NaN when the
	// event does not say.
	Percent float64
	Detail  string
}

// StageRun is one stage from when it went live to the next transition of
// stage or status.
type StageRun struct {
	// Index is the stage's index in the plan, from 0.
	Index    int
	Percent  float64
	From, To time.Time
	// MinDuration is the stage's minimum duration in the plan.
	MinDuration time.Duration
	// Decisions counts the analyses of the run by decision.
	Decisions map[string]int
	// Analyses is the number of analyses of the run.
	Analyses int
	// Last is the last analysis of the run, nil without any; Verdicts are
	// its verdicts.
	Last     *ramp.Analysis
	Verdicts []judge.Verdict
	// Outcome is the transition that ended the run (rollout.promote,
	// rollout.step_back, rollout.rollback, rollout.abort,
	// rollout.complete), "" while it lasts; EndedBy and EndReason are its
	// actor and reason.
	Outcome, EndedBy, EndReason string
}

// Actor is one person or process and what they did.
type Actor struct {
	Name string
	// Actions counts the audit actions by name.
	Actions map[string]int
	// First and Last bound the actor's actions.
	First, Last time.Time
}

// Pair is a figure of the canary and of the baseline over time, as each
// analysis saw it: cumulative since the stage went live.
type Pair struct {
	Guard            string
	Canary, Baseline []Sample
}

// Sample is one value at one time. NewStage marks the first sample of a
// stage run, where cumulative figures start again.
type Sample struct {
	Time     time.Time
	Value    float64
	NewStage bool
}

// RolledBack reports whether the rollout ended with the flag set back to
// 0 %: rolled back by the judge or an alert, or aborted by a person or
// the kill switch.
func (r *Report) RolledBack() bool {
	return r.Status == ramp.RolloutRolledBack || r.Status == ramp.RolloutAborted
}

// Build makes the report. It fails when the rollout is missing or its plan
// or state cannot be read; analyses whose verdicts cannot be read are
// counted but show no figures.
func Build(in Input) (*Report, error) {
	ro := in.Rollout
	if ro == nil {
		return nil, fmt.Errorf("report: no rollout")
	}
	plan, err := rollout.DecodePlan(ro.Plan)
	if err != nil {
		return nil, err
	}
	plan.Normalize()
	st, err := rollout.DecodeState(ro.State)
	if err != nil {
		return nil, err
	}
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	r := &Report{
		ID: ro.ID, Flag: ro.Flag, Environment: ro.Environment, Status: ro.Status, Reason: ro.Reason,
		CreatedBy: ro.CreatedBy, Server: in.Server, Start: ro.CreatedAt, Generated: now.UTC(),
		Plan: plan, Canary: st.Canary, Baseline: st.Baseline, Analyses: len(in.Analyses),
	}
	if r.Start.IsZero() && len(st.Transitions) > 0 {
		r.Start = st.Transitions[0].Time
	}
	r.End = now
	if !ro.Status.Active() {
		r.End = ro.UpdatedAt
		if n := len(st.Transitions); n > 0 && st.Transitions[n-1].Time.After(r.End) {
			r.End = st.Transitions[n-1].Time
		}
	}

	analyses := slices.Clone(in.Analyses)
	sort.SliceStable(analyses, func(i, j int) bool { return analyses[i].Time.Before(analyses[j].Time) })

	// The kill switch and the deletion of the flag end a rollout in the
	// store, without a transition in its state: the audit log has them.
	st.Transitions = append(st.Transitions, untracked(r, st, in.Audit)...)
	sort.SliceStable(st.Transitions, func(i, j int) bool { return st.Transitions[i].Time.Before(st.Transitions[j].Time) })

	r.Stages = stageRuns(plan, st, analyses, r.End)
	r.Timeline = timeline(r, st, analyses, in.Audit)
	r.Actors = actors(r, st, in.Audit)
	r.Percent = percentSeries(r, st)
	r.ErrorRate, r.Latency = figureSeries(r, analyses)
	return r, nil
}

// inRollout reports whether an audit entry belongs to the rollout's time
// and environment.
func (r *Report) inRollout(e ramp.AuditEntry) bool {
	if e.Key != r.Flag || (e.Environment != "" && e.Environment != r.Environment) {
		return false
	}
	// The rollout's own rows and its times come from the same server
	// clock but may be taken a moment apart within one transaction. Other
	// changes to the flag count from the rollout's creation on.
	const slack = 2 * time.Second
	from := r.Start
	if e.Kind == "rollout" {
		from = from.Add(-slack)
	}
	return !e.Time.Before(from) && !e.Time.After(r.End.Add(slack))
}

// untracked returns the ends of the rollout recorded in the audit log but
// not among its transitions, as transitions to 0 %.
func untracked(r *Report, st rollout.State, audit []ramp.AuditEntry) []rollout.Transition {
	var out []rollout.Transition
	for _, e := range audit {
		if e.Kind != "rollout" || !r.inRollout(e) {
			continue
		}
		if e.Action != ramp.ActionRolloutAbort && e.Action != ramp.ActionRolloutRollback {
			continue
		}
		known := false
		for _, t := range st.Transitions {
			if t.Action == e.Action && t.Time.Sub(e.Time).Abs() < 2*time.Second {
				known = true
			}
		}
		if known {
			continue
		}
		last := 0
		if n := len(st.Transitions); n > 0 {
			last = st.Transitions[n-1].To
		}
		status := ramp.RolloutAborted
		if e.Action == ramp.ActionRolloutRollback {
			status = ramp.RolloutRolledBack
		}
		reason := ""
		if r.Status == status {
			reason = r.Reason
		}
		out = append(out, rollout.Transition{Time: e.Time, Action: e.Action, From: last, To: last, Percent: 0, Status: status, Actor: e.Actor, Reason: reason})
	}
	return out
}

// stageRuns cuts the rollout into runs of one stage and hands each its
// analyses.
func stageRuns(plan rollout.Plan, st rollout.State, analyses []ramp.Analysis, end time.Time) []StageRun {
	var runs []StageRun
	for _, t := range st.Transitions {
		switch t.Action {
		case ramp.ActionRolloutStart, ramp.ActionRolloutPromote, ramp.ActionRolloutStepBack:
			if n := len(runs); n > 0 && runs[n-1].Outcome == "" {
				runs[n-1].To, runs[n-1].Outcome, runs[n-1].EndedBy, runs[n-1].EndReason = t.Time, t.Action, t.Actor, t.Reason
			}
			run := StageRun{Index: t.To, Percent: t.Percent, From: t.Time, Decisions: map[string]int{}}
			if t.To >= 0 && t.To < len(plan.Stages) {
				run.MinDuration = time.Duration(plan.Stages[t.To].Duration)
			}
			runs = append(runs, run)
		case ramp.ActionRolloutRollback, ramp.ActionRolloutAbort, ramp.ActionRolloutComplete:
			if n := len(runs); n > 0 && runs[n-1].Outcome == "" {
				runs[n-1].To, runs[n-1].Outcome, runs[n-1].EndedBy, runs[n-1].EndReason = t.Time, t.Action, t.Actor, t.Reason
			}
			if t.Action == ramp.ActionRolloutComplete && t.From != t.To {
				// Promoted into a last stage that needs no watching.
				runs = append(runs, StageRun{Index: t.To, Percent: t.Percent, From: t.Time, To: t.Time, Decisions: map[string]int{}, Outcome: t.Action, EndedBy: t.Actor, EndReason: t.Reason})
			}
		}
	}
	if n := len(runs); n > 0 && runs[n-1].Outcome == "" {
		runs[n-1].To = end
	}
	for i := range analyses {
		a := &analyses[i]
		for j := range runs {
			run := &runs[j]
			if a.Stage == run.Index && !a.Time.Before(run.From) && !a.Time.After(run.To) {
				run.Analyses++
				run.Decisions[a.Decision]++
				run.Last = a
				break
			}
		}
	}
	for j := range runs {
		if runs[j].Last != nil {
			vs, err := decodeVerdicts(runs[j].Last.Verdicts)
			if err == nil {
				runs[j].Verdicts = vs
			}
		}
	}
	return runs
}

// timeline merges the transitions, the analyses that started a hold and
// the flag's other audit entries.
func timeline(r *Report, st rollout.State, analyses []ramp.Analysis, audit []ramp.AuditEntry) []Event {
	var ev []Event
	for _, e := range audit {
		if e.Action == ramp.ActionRolloutCreate && r.inRollout(e) {
			ev = append(ev, Event{Time: e.Time, Kind: "transition", Action: e.Action, Actor: e.Actor, Stage: -1, Percent: math.NaN(),
				Detail: "rollout recorded: " + stageSummary(r.Plan)})
		}
	}
	for _, t := range st.Transitions {
		ev = append(ev, Event{Time: t.Time, Kind: "transition", Action: t.Action, Actor: t.Actor, Stage: t.To, Percent: t.Percent, Detail: t.Reason})
	}
	prev, prevStage := "", -1
	for _, a := range analyses {
		if a.Decision == string(judge.Hold) && (prev != a.Decision || prevStage != a.Stage) {
			ev = append(ev, Event{Time: a.Time, Kind: "analysis", Action: a.Decision, Actor: rollout.Actor, Stage: a.Stage, Percent: math.NaN(), Detail: a.Reason})
		}
		prev, prevStage = a.Decision, a.Stage
	}
	for _, e := range audit {
		if e.Kind == "rollout" || !r.inRollout(e) {
			continue
		}
		ev = append(ev, Event{Time: e.Time, Kind: "audit", Action: e.Action, Actor: e.Actor, Stage: -1, Percent: math.NaN(), Detail: auditDetail(e)})
	}
	// At the same time, a change by hand (the kill switch) comes before
	// the end of the rollout it caused, and a transition before the hold
	// that follows it.
	rank := func(e Event) int {
		switch {
		case e.Action == ramp.ActionRolloutCreate:
			return 0
		case e.Kind == "audit":
			return 1
		case e.Kind == "transition":
			return 2
		}
		return 3
	}
	sort.SliceStable(ev, func(i, j int) bool {
		if !ev[i].Time.Equal(ev[j].Time) {
			return ev[i].Time.Before(ev[j].Time)
		}
		return rank(ev[i]) < rank(ev[j])
	})
	return ev
}

// auditDetail says in words what a flag change outside the rollout did.
func auditDetail(e ramp.AuditEntry) string {
	switch e.Action {
	case ramp.ActionFlagRollback:
		return "kill switch: everyone gets the off variant"
	case ramp.ActionFlagPercentage:
		return "percentage set by hand"
	case ramp.ActionFlagDelete:
		return "flag deleted"
	case ramp.ActionFlagCreate:
		return "flag created"
	}
	return "flag changed"
}

// actors gathers who did what from the audit entries of the rollout, and
// from its transitions when the audit log was not given.
func actors(r *Report, st rollout.State, audit []ramp.AuditEntry) []Actor {
	by := map[string]*Actor{}
	add := func(name, action string, t time.Time) {
		a := by[name]
		if a == nil {
			a = &Actor{Name: name, Actions: map[string]int{}, First: t, Last: t}
			by[name] = a
		}
		a.Actions[action]++
		if t.Before(a.First) {
			a.First = t
		}
		if t.After(a.Last) {
			a.Last = t
		}
	}
	n := 0
	for _, e := range audit {
		if r.inRollout(e) {
			add(e.Actor, e.Action, e.Time)
			n++
		}
	}
	if n == 0 {
		for _, t := range st.Transitions {
			add(t.Actor, t.Action, t.Time)
		}
	}
	out := make([]Actor, 0, len(by))
	for _, a := range by {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		ci, cj := total(out[i].Actions), total(out[j].Actions)
		if ci != cj {
			return ci > cj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func total(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// percentSeries is the canary's percentage: 0 until the first stage, then
// the percentage after each transition.
func percentSeries(r *Report, st rollout.State) []Sample {
	out := []Sample{{Time: r.Start, Value: 0}}
	for _, t := range st.Transitions {
		out = append(out, Sample{Time: t.Time, Value: t.Percent})
	}
	return out
}

// figureSeries reads the error rates (in percent) of the first error-rate
// guard and the latency quantile (in milliseconds) of the first latency
// guard from every analysis whose arms had requests.
func figureSeries(r *Report, analyses []ramp.Analysis) (errRate, latency *Pair) {
	var errGuard, latGuard string
	for _, g := range r.Plan.Guards {
		switch {
		case g.Metric == judge.ErrorRate && errGuard == "":
			errGuard = g.Name
		case g.Metric == judge.Latency && latGuard == "":
			latGuard = g.Name
		}
	}
	if errGuard != "" {
		errRate = &Pair{Guard: errGuard}
	}
	if latGuard != "" {
		latency = &Pair{Guard: latGuard}
	}
	runOf := func(a ramp.Analysis) int {
		for i, run := range r.Stages {
			if a.Stage == run.Index && !a.Time.Before(run.From) && !a.Time.After(run.To) {
				return i
			}
		}
		return -1
	}
	lastRun := map[*Pair]int{errRate: -2, latency: -2}
	add := func(p *Pair, run int, t time.Time, c, b float64) {
		s := Sample{Time: t, NewStage: lastRun[p] != run}
		lastRun[p] = run
		s.Value = c
		p.Canary = append(p.Canary, s)
		s.Value = b
		p.Baseline = append(p.Baseline, s)
	}
	for _, a := range analyses {
		vs, err := decodeVerdicts(a.Verdicts)
		if err != nil {
			continue
		}
		run := runOf(a)
		for _, v := range vs {
			if v.Canary.Requests <= 0 || v.Baseline.Requests <= 0 {
				continue
			}
			switch {
			case errRate != nil && v.Guard == errGuard:
				add(errRate, run, a.Time, 100*v.Canary.ErrorRate, 100*v.Baseline.ErrorRate)
			case latency != nil && v.Guard == latGuard && v.Canary.Latency > 0 && v.Baseline.Latency > 0:
				add(latency, run, a.Time, 1000*v.Canary.Latency, 1000*v.Baseline.Latency)
			}
		}
	}
	return errRate, latency
}

// stageSummary lists the plan's stages: "5% for 3d, 25% for 4d, 100%".
func stageSummary(p rollout.Plan) string {
	parts := make([]string, len(p.Stages))
	for i, s := range p.Stages {
		parts[i] = formatPercent(s.Percent)
		if s.Duration > 0 {
			parts[i] += " for " + s.Duration.String()
		}
	}
	return strings.Join(parts, ", ")
}
