package ramp

import (
	"encoding/json"
	"time"
)

// RolloutStatus is where a guarded rollout is in its life.
type RolloutStatus string

// Rollout statuses. Pending, running and paused rollouts are active: a flag
// has at most one active rollout per environment.
const (
	RolloutPending    RolloutStatus = "pending"     // created, first stage not applied yet
	RolloutRunning    RolloutStatus = "running"     // a stage is live and analysed
	RolloutPaused     RolloutStatus = "paused"      // held by a person: no analysis, no transition
	RolloutPromoted   RolloutStatus = "promoted"    // the last stage passed: done
	RolloutRolledBack RolloutStatus = "rolled_back" // the judge or an alert rolled it back to 0 %
	RolloutAborted    RolloutStatus = "aborted"     // stopped by a person or the kill switch
)

// Active reports whether the rollout is still under way.
func (s RolloutStatus) Active() bool {
	return s == RolloutPending || s == RolloutRunning || s == RolloutPaused
}

// Rollout is a guarded rollout of one flag in one environment, as stored.
// Plan and State are owned by the rollout package, which defines their
// shape; the store keeps them as JSON and never interprets them, so that
// storage does not depend on the judge.
type Rollout struct {
	ID          int64         `json:"id"`
	Flag        string        `json:"flag"`
	Environment string        `json:"environment"`
	Status      RolloutStatus `json:"status"`
	// Stage is the index of the stage in force.
	Stage int `json:"stage"`
	// Plan is the rollout plan (stages, guards, interval) as JSON.
	Plan json.RawMessage `json:"plan"`
	// State is the controller's state (stage times, last verdicts) as JSON.
	State json.RawMessage `json:"state,omitempty"`
	// Reason says why the rollout ended or paused, for people.
	Reason    string    `json:"reason,omitempty"`
	Version   int64     `json:"version"`
	CreatedBy string    `json:"createdBy,omitempty"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Analysis is one look of the judge at a running rollout: the decision and
// every guard's verdict with its figures, as JSON owned by the judge.
type Analysis struct {
	ID        int64           `json:"id"`
	RolloutID int64           `json:"rolloutId"`
	Time      time.Time       `json:"time"`
	Stage     int             `json:"stage"`
	Decision  string          `json:"decision"`
	Reason    string          `json:"reason,omitempty"`
	Verdicts  json.RawMessage `json:"verdicts,omitempty"`
}

// RolloutFilter selects rollouts. Zero fields do not filter.
type RolloutFilter struct {
	Flag        string
	Environment string
	// Active selects pending, running and paused rollouts only.
	Active bool
	Limit  int
}

// Rollout audit actions. Their audit rows have kind "rollout" and the
// flag's key: the change feed treats them as changes of the flag.
const (
	ActionRolloutCreate   = "rollout.create" // recorded; the first stage is not live yet
	ActionRolloutStart    = "rollout.start"  // the first stage went live
	ActionRolloutPromote  = "rollout.promote"
	ActionRolloutStepBack = "rollout.step_back"
	ActionRolloutRollback = "rollout.rollback"
	ActionRolloutPause    = "rollout.pause"
	ActionRolloutResume   = "rollout.resume"
	ActionRolloutAbort    = "rollout.abort"
	ActionRolloutComplete = "rollout.complete"
)
