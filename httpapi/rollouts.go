package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/rollout"
)

// Rollouts is what the API needs of the rollout controller: the moves
// people make. The controller checks plans and states; the API only
// decodes and reports.
type Rollouts interface {
	Start(ctx context.Context, actor, flag, env string, plan rollout.Plan) (*ramp.Rollout, error)
	Pause(ctx context.Context, actor string, id int64, reason string) (*ramp.Rollout, error)
	Resume(ctx context.Context, actor string, id int64, reason string) (*ramp.Rollout, error)
	Promote(ctx context.Context, actor string, id int64, reason string) (*ramp.Rollout, error)
	Abort(ctx context.Context, actor string, id int64, reason string) (*ramp.Rollout, error)
}

// RolloutStore is what the API reads of rollouts.
type RolloutStore interface {
	GetRollout(ctx context.Context, id int64) (*ramp.Rollout, error)
	ListRollouts(ctx context.Context, f ramp.RolloutFilter) ([]*ramp.Rollout, error)
	ListAnalyses(ctx context.Context, rolloutID int64, limit int) ([]ramp.Analysis, error)
}

func (s *Server) rolloutRoutes() {
	s.handle("GET /api/v1/rollouts", accessAdmin, s.listRollouts)
	s.handle("POST /api/v1/rollouts", accessAdmin, s.startRollout)
	s.handle("GET /api/v1/rollouts/{id}", accessAdmin, s.getRollout)
	s.handle("GET /api/v1/rollouts/{id}/analyses", accessAdmin, s.listAnalyses)
	s.handle("POST /api/v1/rollouts/{id}/{action}", accessAdmin, s.moveRollout)
	s.handle("GET /api/v1/rollout-templates", accessAdmin, s.rolloutTemplates)
}

// startRolloutRequest is the body of POST /api/v1/rollouts: a plan, or the
// name of a template.
type startRolloutRequest struct {
	Flag        string        `json:"flag"`
	Environment string        `json:"environment"`
	Template    string        `json:"template,omitempty"`
	Plan        *rollout.Plan `json:"plan,omitempty"`
}

// rolloutView is a rollout as the API shows it: the stored record and its
// latest analysis.
type rolloutView struct {
	*ramp.Rollout
	Latest *ramp.Analysis `json:"latest,omitempty"`
}

func (s *Server) startRollout(w http.ResponseWriter, r *http.Request) error {
	var req startRolloutRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	var fs fields
	if msg := ramp.CheckKey(req.Flag); msg != "" {
		fs.add("flag", "%s", msg)
	}
	if req.Environment == "" {
		req.Environment = ramp.EnvProduction
	}
	var plan rollout.Plan
	switch {
	case req.Plan != nil && req.Template != "":
		fs.add("plan", "give a plan or a template, not both")
	case req.Plan != nil:
		plan = *req.Plan
	case req.Template != "":
		t, ok := rollout.Templates()[req.Template]
		if !ok {
			fs.add("template", "%q is not a template: use one of %s", req.Template, strings.Join(templateNames(), ", "))
		}
		plan = t
	default:
		fs.add("plan", "is required: give a plan, or a template such as \"standard\"")
	}
	if err := fs.err("rollout request"); err != nil {
		return err
	}
	ro, err := s.rollouts.Start(r.Context(), actor(r), req.Flag, req.Environment, plan)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/rollouts/"+strconv.FormatInt(ro.ID, 10))
	return writeJSON(w, http.StatusCreated, rolloutView{Rollout: ro})
}

func templateNames() []string {
	var names []string
	for n := range rollout.Templates() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (s *Server) rolloutTemplates(w http.ResponseWriter, r *http.Request) error {
	ts := rollout.Templates()
	for k, p := range ts {
		p.Normalize()
		ts[k] = p
	}
	return writeJSON(w, http.StatusOK, struct {
		Templates map[string]rollout.Plan `json:"templates"`
	}{ts})
}

func (s *Server) listRollouts(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "flag", "environment", "active", "limit")
	if err != nil {
		return err
	}
	f := ramp.RolloutFilter{Flag: q["flag"], Environment: q["environment"]}
	if v, ok := q["active"]; ok {
		if f.Active, err = strconv.ParseBool(v); err != nil {
			return ramp.Errorf(ramp.EBADREQUEST, "active=%q: use true or false", v)
		}
	}
	if v, ok := q["limit"]; ok {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 1000 {
			return ramp.Errorf(ramp.EBADREQUEST, "limit=%q: use a number from 1 to 1000", v)
		}
	}
	list, err := s.rolloutStore.ListRollouts(r.Context(), f)
	if err != nil {
		return err
	}
	views := make([]rolloutView, len(list))
	for i, ro := range list {
		views[i] = rolloutView{Rollout: ro}
	}
	return writeJSON(w, http.StatusOK, struct {
		Rollouts []rolloutView `json:"rollouts"`
	}{views})
}

func rolloutID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, ramp.Errorf(ramp.ENOTFOUND, "rollout %q does not exist: rollout ids are positive numbers", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) getRollout(w http.ResponseWriter, r *http.Request) error {
	id, err := rolloutID(r)
	if err != nil {
		return err
	}
	ro, err := s.rolloutStore.GetRollout(r.Context(), id)
	if err != nil {
		return err
	}
	v := rolloutView{Rollout: ro}
	last, err := s.rolloutStore.ListAnalyses(r.Context(), id, 1)
	if err != nil {
		return err
	}
	if len(last) == 1 {
		v.Latest = &last[0]
	}
	w.Header().Set("ETag", etag(ro.Version))
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) listAnalyses(w http.ResponseWriter, r *http.Request) error {
	id, err := rolloutID(r)
	if err != nil {
		return err
	}
	q, err := query(r, "limit")
	if err != nil {
		return err
	}
	limit := 1000
	if v, ok := q["limit"]; ok {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 10000 {
			return ramp.Errorf(ramp.EBADREQUEST, "limit=%q: use a number from 1 to 10000", v)
		}
	}
	if _, err := s.rolloutStore.GetRollout(r.Context(), id); err != nil {
		return err
	}
	list, err := s.rolloutStore.ListAnalyses(r.Context(), id, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		Analyses []ramp.Analysis `json:"analyses"`
	}{list})
}

// moveRequest is the optional body of a move: why, for the audit log.
type moveRequest struct {
	Reason string `json:"reason,omitempty"`
}

func (s *Server) moveRollout(w http.ResponseWriter, r *http.Request) error {
	id, err := rolloutID(r)
	if err != nil {
		return err
	}
	var req moveRequest
	if r.ContentLength != 0 {
		if err := s.decode(w, r, &req); err != nil {
			return err
		}
	}
	ctx, who := r.Context(), actor(r)
	var ro *ramp.Rollout
	switch action := r.PathValue("action"); action {
	case "pause":
		ro, err = s.rollouts.Pause(ctx, who, id, req.Reason)
	case "resume":
		ro, err = s.rollouts.Resume(ctx, who, id, req.Reason)
	case "promote":
		ro, err = s.rollouts.Promote(ctx, who, id, req.Reason)
	case "abort":
		ro, err = s.rollouts.Abort(ctx, who, id, req.Reason)
	default:
		return ramp.Errorf(ramp.ENOTFOUND, "%q is not a rollout action: use pause, resume, promote or abort", action)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rolloutView{Rollout: ro})
}

func actor(r *http.Request) string {
	p, _ := PrincipalFromContext(r.Context())
	return p.Name
}
