package judge

import (
	"fmt"
	"strings"
	"time"
)

// Action is what the rollout controller does after an analysis.
type Action string

// Actions, in the words of the runbook.
const (
	// Promote moves the rollout to its next stage (or completes it).
	Promote Action = "promote"
	// Hold keeps the stage as it is and looks again next interval.
	Hold Action = "hold"
	// StepBack returns to the previous stage's percentage.
	StepBack Action = "step_back"
	// Rollback sets the canary to 0% at once and ends the rollout.
	Rollback Action = "rollback"
)

// DecideInput is one analysis of a stage: the verdicts of its guards and
// where the stage stands. Times are passed in; Decide reads no clock.
type DecideInput struct {
	// Verdicts are the guards' verdicts of this look.
	Verdicts []Verdict `json:"verdicts"`
	// Stage is the index of the current stage; 0 is the first.
	Stage int `json:"stage"`
	// InStage is how long the current stage has been live.
	InStage time.Duration `json:"inStage"`
	// MinDuration is the stage's minimum duration before a promotion.
	MinDuration time.Duration `json:"minDuration"`
	// OnWarning is what a warning does: StepBack (the default, also for "")
	// or Rollback. In the first stage a warning always rolls back, as
	// there is no stage to step back to.
	OnWarning Action `json:"onWarning,omitempty"`
}

// Decision is the action an analysis calls for, why, and the verdicts it
// was drawn from.
type Decision struct {
	// Action is what the controller does.
	Action Action `json:"action"`
	// Reason says why in one line, naming the guards that decided.
	Reason string `json:"reason"`
	// Verdicts are the verdicts the decision was drawn from (never null).
	Verdicts []Verdict `json:"verdicts"`
}

// Decide applies the runbook's decision tree to one analysis:
//
//  1. any critical verdict → Rollback, to 0% at once;
//  2. else any warning → StepBack one stage, or Rollback when OnWarning
//     says so or the stage is the first;
//  3. else any inconclusive verdict (or no verdict at all) → Hold: missing
//     data never promotes, and never rolls back on its own;
//  4. else, all guards passing, Promote once InStage reaches MinDuration;
//  5. else Hold until it does.
//
// The reason names the guards that decided. Decide is pure.
func Decide(in DecideInput) Decision {
	d := Decision{Verdicts: in.Verdicts}
	if d.Verdicts == nil {
		d.Verdicts = []Verdict{}
	}
	by := map[Outcome][]Verdict{}
	for _, v := range in.Verdicts {
		by[v.Outcome] = append(by[v.Outcome], v)
	}
	unknown := len(in.Verdicts) - len(by[Pass]) - len(by[Warning]) - len(by[Critical]) - len(by[Inconclusive])
	switch {
	case len(by[Critical]) > 0:
		d.Action = Rollback
		d.Reason = "critical: " + describe(by[Critical])
	case len(by[Warning]) > 0:
		d.Action = StepBack
		why := ""
		switch {
		case in.OnWarning == Rollback:
			d.Action, why = Rollback, " (the plan rolls back on a warning)"
		case in.Stage <= 0:
			d.Action, why = Rollback, " (first stage: nothing to step back to)"
		}
		d.Reason = "regression: " + describe(by[Warning]) + why
	case len(in.Verdicts) == 0:
		d.Action = Hold
		d.Reason = "no guard was evaluated: holding until there are verdicts"
	case unknown > 0:
		d.Action = Hold
		d.Reason = fmt.Sprintf("%d verdicts have an unknown outcome: holding", unknown)
	case len(by[Inconclusive]) > 0:
		d.Action = Hold
		d.Reason = "inconclusive: " + describe(by[Inconclusive])
	case in.InStage < 0 || in.MinDuration < 0:
		d.Action = Hold
		d.Reason = fmt.Sprintf("time in stage %v or minimum duration %v is negative: holding", in.InStage, in.MinDuration)
	case in.InStage >= in.MinDuration:
		d.Action = Promote
		d.Reason = fmt.Sprintf("all %d guards pass after %v in stage (minimum %v)", len(in.Verdicts), readable(in.InStage), in.MinDuration)
	default:
		d.Action = Hold
		d.Reason = fmt.Sprintf("all %d guards pass; %v of the stage's %v minimum left", len(in.Verdicts), readable(in.MinDuration-in.InStage), in.MinDuration)
	}
	return d
}

// readable rounds a measured duration for a reason a person reads: to the
// second from a minute up, to a tenth of a second below.
func readable(d time.Duration) time.Duration {
	if d >= time.Minute || d <= -time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

// describe lists verdicts as "name: summary; name: summary".
func describe(vs []Verdict) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.Guard + ": " + v.Summary
	}
	return strings.Join(parts, "; ")
}
