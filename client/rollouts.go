package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

// StartRolloutRequest starts a guarded rollout: of Flag in Environment
// (empty means production), with either a Plan or the name of a Template
// (see RolloutTemplates), not both.
type StartRolloutRequest struct {
	Flag        string        `json:"flag"`
	Environment string        `json:"environment,omitempty"`
	Template    string        `json:"template,omitempty"`
	Plan        *rollout.Plan `json:"plan,omitempty"`
}

// RolloutView is a rollout as the API shows it: the stored record and, from
// GetRollout, the latest analysis of the judge. Plan and State are JSON
// owned by the rollout package; DecodePlan and DecodeState read them.
type RolloutView struct {
	ramp.Rollout
	// Latest is the most recent analysis, nil before the first one and in
	// the answers of ListRollouts and of the moves.
	Latest *ramp.Analysis `json:"latest,omitempty"`
}

// DecodePlan returns the rollout's plan.
func (v *RolloutView) DecodePlan() (rollout.Plan, error) { return rollout.DecodePlan(v.Plan) }

// DecodeState returns the controller's state of the rollout: the canary
// and baseline variants, when the stage started, and every transition.
func (v *RolloutView) DecodeState() (rollout.State, error) { return rollout.DecodeState(v.State) }

// LatestVerdicts returns the verdicts of the latest analysis, one per guard,
// or none when there is no analysis yet.
func (v *RolloutView) LatestVerdicts() ([]judge.Verdict, error) {
	if v.Latest == nil {
		return nil, nil
	}
	return DecodeVerdicts(v.Latest.Verdicts)
}

// DecodeVerdicts reads the verdicts stored in an analysis. Empty input
// gives no verdicts.
func DecodeVerdicts(raw json.RawMessage) ([]judge.Verdict, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var vs []judge.Verdict
	if err := json.Unmarshal(raw, &vs); err != nil {
		return nil, fmt.Errorf("decode verdicts: %w", err)
	}
	return vs, nil
}

// RolloutFilter selects rollouts in ListRollouts. Zero fields do not
// filter.
type RolloutFilter struct {
	Flag        string
	Environment string
	// Active selects pending, running and paused rollouts only.
	Active bool
	// Limit caps the number of rollouts; zero means the server's default
	// (100). The server allows at most 1000.
	Limit int
}

// StartRollout records a rollout and applies its first stage. The server
// answers EINVALID for a bad plan or template, ECONFLICT while the flag
// has another active rollout in the environment, and ENOTFOUND for an
// unknown flag or environment.
func (c *Client) StartRollout(ctx context.Context, req StartRolloutRequest) (*RolloutView, error) {
	var v RolloutView
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/rollouts", body: req, out: &v}); err != nil {
		return nil, err
	}
	return &v, nil
}

// GetRollout returns the rollout with the id and its latest analysis.
func (c *Client) GetRollout(ctx context.Context, id int64) (*RolloutView, error) {
	var v RolloutView
	h, err := c.get(ctx, rolloutPath(id), nil, &v)
	if err != nil {
		return nil, err
	}
	if v.Version == 0 {
		v.Version = versionFromETag(h)
	}
	return &v, nil
}

// ListRollouts returns the rollouts the filter selects, newest first,
// without their analyses.
func (c *Client) ListRollouts(ctx context.Context, f RolloutFilter) ([]*RolloutView, error) {
	q := url.Values{}
	if f.Flag != "" {
		q.Set("flag", f.Flag)
	}
	if f.Environment != "" {
		q.Set("environment", f.Environment)
	}
	if f.Active {
		q.Set("active", "true")
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out struct {
		Rollouts []*RolloutView `json:"rollouts"`
	}
	if _, err := c.get(ctx, "/api/v1/rollouts", q, &out); err != nil {
		return nil, err
	}
	return out.Rollouts, nil
}

// ListAnalyses returns the latest analyses of the rollout, oldest first:
// the last limit of them, or the server's default (1000) when limit is
// zero.
func (c *Client) ListAnalyses(ctx context.Context, id int64, limit int) ([]ramp.Analysis, error) {
	q := url.Values{}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Analyses []ramp.Analysis `json:"analyses"`
	}
	if _, err := c.get(ctx, rolloutPath(id)+"/analyses", q, &out); err != nil {
		return nil, err
	}
	return out.Analyses, nil
}

// PauseRollout holds a running rollout at its stage until ResumeRollout.
// The reason goes to the rollout and the audit log; empty lets the server
// write one.
func (c *Client) PauseRollout(ctx context.Context, id int64, reason string) (*RolloutView, error) {
	return c.moveRollout(ctx, id, "pause", reason)
}

// ResumeRollout continues a paused rollout. The server records a reason of
// its own ("resumed by ACTOR") whatever reason says.
func (c *Client) ResumeRollout(ctx context.Context, id int64, reason string) (*RolloutView, error) {
	return c.moveRollout(ctx, id, "resume", reason)
}

// PromoteRollout moves a running or paused rollout to its next stage now,
// whatever the judge says; from the last stage it completes the rollout.
// The server records a reason of its own ("promoted by ACTOR") whatever
// reason says.
func (c *Client) PromoteRollout(ctx context.Context, id int64, reason string) (*RolloutView, error) {
	return c.moveRollout(ctx, id, "promote", reason)
}

// AbortRollout ends an active rollout and sets its flag back to 0 % in the
// environment.
func (c *Client) AbortRollout(ctx context.Context, id int64, reason string) (*RolloutView, error) {
	return c.moveRollout(ctx, id, "abort", reason)
}

// moveRollout posts one of the moves people make. A move that does not fit
// the rollout's status fails with ECONFLICT.
func (c *Client) moveRollout(ctx context.Context, id int64, action, reason string) (*RolloutView, error) {
	r := request{method: http.MethodPost, path: rolloutPath(id) + "/" + action}
	if reason != "" {
		r.body = struct {
			Reason string `json:"reason"`
		}{reason}
	}
	var v RolloutView
	r.out = &v
	if _, err := c.do(ctx, r); err != nil {
		return nil, err
	}
	return &v, nil
}

// RolloutTemplates returns the ready-made plans by name, with their
// defaults filled in.
func (c *Client) RolloutTemplates(ctx context.Context) (map[string]rollout.Plan, error) {
	var out struct {
		Templates map[string]rollout.Plan `json:"templates"`
	}
	if _, err := c.get(ctx, "/api/v1/rollout-templates", nil, &out); err != nil {
		return nil, err
	}
	return out.Templates, nil
}

func rolloutPath(id int64) string { return "/api/v1/rollouts/" + strconv.FormatInt(id, 10) }
