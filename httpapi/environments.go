package httpapi

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/ramp-flags/ramp"
)

func (s *Server) environmentRoutes() {
	s.handle("GET /api/v1/environments", accessAdmin, s.listEnvironments)
	s.handle("POST /api/v1/environments", accessAdmin, s.createEnvironment)
	s.handle("DELETE /api/v1/environments/{env}", accessAdmin, s.deleteEnvironment)
	s.handle("GET /api/v1/environments/{env}/snapshot", accessAdmin, s.snapshot)
}

type environmentList struct {
	Environments []ramp.Environment `json:"environments"`
}

func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request) error {
	envs, err := s.store.ListEnvironments(r.Context())
	if err != nil {
		return err
	}
	out := slices.Clone(envs)
	if out == nil {
		out = []ramp.Environment{}
	}
	slices.SortFunc(out, func(a, b ramp.Environment) int { return cmp.Compare(a.Key, b.Key) })
	return writeJSON(w, http.StatusOK, environmentList{Environments: out})
}

func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request) error {
	var e ramp.Environment
	if err := s.decode(w, r, &e); err != nil {
		return err
	}
	e.CreatedAt = time.Time{}
	c := change(r)
	c.Action = ramp.ActionEnvironmentCreate
	created, err := s.store.CreateEnvironment(r.Context(), c, e)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, created)
}

func (s *Server) deleteEnvironment(w http.ResponseWriter, r *http.Request) error {
	c := change(r)
	c.Action = ramp.ActionEnvironmentDelete
	if err := s.store.DeleteEnvironment(r.Context(), c, r.PathValue("env")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// snapshotBody is everything needed to evaluate the flags of one environment
// locally: every flag with only that environment's state, and every
// segment.
type snapshotBody struct {
	Environment string          `json:"environment"`
	Flags       []*ramp.Flag    `json:"flags"`
	Segments    []*ramp.Segment `json:"segments"`
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) error {
	env := r.PathValue("env")
	if err := s.environmentExists(r, env); err != nil {
		return err
	}
	flags, err := s.store.ListFlags(r.Context())
	if err != nil {
		return err
	}
	segs, err := s.store.ListSegments(r.Context())
	if err != nil {
		return err
	}
	snap := snapshotBody{Environment: env, Flags: make([]*ramp.Flag, 0, len(flags)), Segments: sortedSegments(segs)}
	for _, f := range flags {
		c := *f // shallow: only the map is replaced
		c.Environments = map[string]*ramp.FlagEnv{}
		if fe := f.Environments[env]; fe != nil {
			c.Environments[env] = fe
		}
		snap.Flags = append(snap.Flags, &c)
	}
	slices.SortFunc(snap.Flags, func(a, b *ramp.Flag) int { return cmp.Compare(a.Key, b.Key) })
	return writeJSON(w, http.StatusOK, snap)
}
