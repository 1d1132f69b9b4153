package httpapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
)

func (s *Server) flagRoutes() {
	s.handle("GET /api/v1/flags", accessAdmin, s.listFlags)
	s.handle("POST /api/v1/flags", accessAdmin, s.createFlag)
	s.handle("GET /api/v1/flags/{key}", accessAdmin, s.getFlag)
	s.handle("PUT /api/v1/flags/{key}", accessAdmin, s.putFlag)
	s.handle("DELETE /api/v1/flags/{key}", accessAdmin, s.deleteFlag)
	s.handle("GET /api/v1/flags/{key}/status", accessAdmin, s.flagStatus)
	s.handle("PUT /api/v1/flags/{key}/environments/{env}", accessAdmin, s.putFlagEnv)
	s.handle("POST /api/v1/flags/{key}/environments/{env}/percentage", accessAdmin, s.setPercentage)
	s.handle("POST /api/v1/flags/{key}/environments/{env}/rollback", accessAdmin, s.rollback)
}

type flagList struct {
	Flags []*ramp.Flag `json:"flags"`
}

func (s *Server) listFlags(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "tag", "owner", "q")
	if err != nil {
		return err
	}
	flags, err := s.store.ListFlags(r.Context())
	if err != nil {
		return err
	}
	text := strings.ToLower(q["q"])
	out := make([]*ramp.Flag, 0, len(flags))
	for _, f := range flags {
		switch {
		case q["tag"] != "" && !slices.Contains(f.Tags, q["tag"]),
			q["owner"] != "" && f.Owner != q["owner"],
			text != "" && !strings.Contains(f.Key, text) && !strings.Contains(strings.ToLower(f.Name), text):
			continue
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *ramp.Flag) int { return cmp.Compare(a.Key, b.Key) })
	return writeJSON(w, http.StatusOK, flagList{Flags: out})
}

func (s *Server) createFlag(w http.ResponseWriter, r *http.Request) error {
	var f ramp.Flag
	if err := s.decode(w, r, &f); err != nil {
		return err
	}
	// A client may send back a flag it read; the store assigns these.
	f.Version, f.CreatedAt, f.UpdatedAt = 0, time.Time{}, time.Time{}
	c := change(r)
	c.Action = ramp.ActionFlagCreate
	created, err := s.store.CreateFlag(r.Context(), c, &f)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/flags/"+url.PathEscape(created.Key))
	return writeFlag(w, http.StatusCreated, created)
}

func writeFlag(w http.ResponseWriter, status int, f *ramp.Flag) error {
	w.Header().Set("ETag", etag(f.Version))
	return writeJSON(w, status, f)
}

func (s *Server) getFlag(w http.ResponseWriter, r *http.Request) error {
	f, err := s.store.GetFlag(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	return writeFlag(w, http.StatusOK, f)
}

// putFlag replaces a flag. Only its salt survives when the body leaves it
// out, so that users keep their buckets.
func (s *Server) putFlag(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	var f ramp.Flag
	if err := s.decode(w, r, &f); err != nil {
		return err
	}
	switch f.Key {
	case "":
		f.Key = key
	case key:
	default:
		return fieldError(fmt.Sprintf("flag %q", key), "key", "is %q but the path names %q; a flag's key cannot change", f.Key, key)
	}
	v, err := bodyVersion(r, f.Version)
	if err != nil {
		return err
	}
	c := change(r)
	c.Action = ramp.ActionFlagUpdate
	c.IfVersion = v
	updated, err := s.store.UpdateFlag(r.Context(), c, key, func(cur *ramp.Flag) error {
		next := f.Clone() // the store normalizes what fn leaves, so keep f intact for a retry
		if next.Salt == "" {
			next.Salt = cur.Salt
		}
		next.Version, next.CreatedAt, next.UpdatedAt = cur.Version, cur.CreatedAt, cur.UpdatedAt
		*cur = *next
		return nil
	})
	if err != nil {
		return err
	}
	return writeFlag(w, http.StatusOK, updated)
}

func (s *Server) deleteFlag(w http.ResponseWriter, r *http.Request) error {
	v, err := ifVersion(r)
	if err != nil {
		return err
	}
	c := change(r)
	c.Action = ramp.ActionFlagDelete
	c.IfVersion = v
	if err := s.store.DeleteFlag(r.Context(), c, r.PathValue("key")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// flagStatusBody summarizes what a flag serves in each environment.
type flagStatusBody struct {
	Key          string      `json:"key"`
	Version      int64       `json:"version"`
	Environments []envStatus `json:"environments"`
}

// envStatus is the state of a flag in one environment.
type envStatus struct {
	Environment string `json:"environment"`
	On          bool   `json:"on"`
	// Percentage is the share of the fallthrough not served the off
	// variant; 0 while the environment is off.
	Percentage float64 `json:"percentage"`
	// Variant is the rolled-out variant, if the fallthrough serves exactly
	// one variant besides the off variant.
	Variant    string `json:"variant,omitempty"`
	OffVariant string `json:"offVariant"`
	// Rules is the number of targeting rules, which Percentage ignores.
	Rules int `json:"rules"`
}

func (s *Server) flagStatus(w http.ResponseWriter, r *http.Request) error {
	f, err := s.store.GetFlag(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	st := flagStatusBody{Key: f.Key, Version: f.Version, Environments: []envStatus{}}
	for env, fe := range f.Environments {
		es := envStatus{Environment: env, Percentage: f.Percentage(env), OffVariant: f.OffVariantKey(env)}
		if fe != nil {
			es.On = fe.On
			es.Variant = f.RolledOut(env)
			es.Rules = len(fe.Rules)
		}
		st.Environments = append(st.Environments, es)
	}
	slices.SortFunc(st.Environments, func(a, b envStatus) int { return cmp.Compare(a.Environment, b.Environment) })
	w.Header().Set("ETag", etag(f.Version))
	return writeJSON(w, http.StatusOK, st)
}

// environmentExists fails with ENOTFOUND unless env names an environment.
func (s *Server) environmentExists(r *http.Request, env string) error {
	envs, err := s.store.ListEnvironments(r.Context())
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(envs, func(e ramp.Environment) bool { return e.Key == env }) {
		return ramp.Errorf(ramp.ENOTFOUND, "environment %q does not exist", env)
	}
	return nil
}

func (s *Server) putFlagEnv(w http.ResponseWriter, r *http.Request) error {
	key, env := r.PathValue("key"), r.PathValue("env")
	var fe ramp.FlagEnv
	if err := s.decode(w, r, &fe); err != nil {
		return err
	}
	v, err := ifVersion(r)
	if err != nil {
		return err
	}
	if err := s.environmentExists(r, env); err != nil {
		return err
	}
	c := change(r)
	c.Action = ramp.ActionFlagEnvUpdate
	c.Environment = env
	c.IfVersion = v
	updated, err := s.store.UpdateFlag(r.Context(), c, key, func(cur *ramp.Flag) error {
		next := fe // the store fills in the off variant; keep fe intact for a retry
		if cur.Environments == nil {
			cur.Environments = map[string]*ramp.FlagEnv{}
		}
		cur.Environments[env] = &next
		return nil
	})
	if err != nil {
		return err
	}
	return writeFlag(w, http.StatusOK, updated)
}

// percentageRequest is the body of the percentage route.
type percentageRequest struct {
	// Percentage is the share of users, 0 to 100 with at most three
	// decimals, that the fallthrough serves the rolled-out variant.
	Percentage *float64 `json:"percentage"`
	// Variant is the variant to roll out; see docs/api.md for the default.
	Variant string `json:"variant,omitempty"`
}

// setPercentage turns env on and splits its fallthrough between the
// rolled-out variant, first so that its buckets grow from the start of the
// range, and the off variant.
func (s *Server) setPercentage(w http.ResponseWriter, r *http.Request) error {
	key, env := r.PathValue("key"), r.PathValue("env")
	var req percentageRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	what := "percentage request"
	if req.Percentage == nil {
		return fieldError(what, "percentage", "is required: a number from 0 to 100, such as 5 or 12.5")
	}
	if _, ok := ramp.PercentToBuckets(*req.Percentage); !ok {
		return fieldError(what, "percentage", "%v is not a percentage: use a number from 0 to 100 with at most three decimals", *req.Percentage)
	}
	v, err := ifVersion(r)
	if err != nil {
		return err
	}
	if err := s.environmentExists(r, env); err != nil {
		return err
	}
	c := change(r)
	c.Action = ramp.ActionFlagPercentage
	c.Environment = env
	c.IfVersion = v
	updated, err := s.store.UpdateFlag(r.Context(), c, key, func(cur *ramp.Flag) error {
		return cur.SetPercentage(env, *req.Percentage, req.Variant)
	})
	if err != nil {
		return err
	}
	return writeFlag(w, http.StatusOK, updated)
}

// rollback is the kill switch: env turns off at once, and its fallthrough
// keeps 0 % of the rolled-out variant so that a later percentage starts
// from zero. It ignores If-Match: the kill switch always wins.
// With ?dry_run=true it only checks and reports what it would change.
func (s *Server) rollback(w http.ResponseWriter, r *http.Request) error {
	key, env := r.PathValue("key"), r.PathValue("env")
	q, err := query(r, "dry_run")
	if err != nil {
		return err
	}
	dryRun, err := dryRunParam(q)
	if err != nil {
		return err
	}
	if err := s.environmentExists(r, env); err != nil {
		return err
	}
	if dryRun {
		return s.rollbackDryRun(w, r, key, env)
	}
	updated, err := s.killSwitch(r.Context(), change(r).Actor, key, env, false)
	if err != nil {
		return err
	}
	return writeFlag(w, http.StatusOK, updated)
}

// errAlreadyOff is killSwitch's answer when asked to leave a flag that is
// already off alone.
var errAlreadyOff = errors.New("the flag is already off")

// killSwitch turns env of the flag off, as the rollback route does, in one
// store transaction with its flag.rollback audit row under actor; the
// store aborts the flag's active rollout in env in that transaction. It
// ignores versions: the kill switch always wins. With ifOn, a flag already
// off in env is left as it is and errAlreadyOff returned, so that a
// repeated request writes nothing.
func (s *Server) killSwitch(ctx context.Context, actor, key, env string, ifOn bool) (*ramp.Flag, error) {
	c := ramp.Change{Actor: actor, Action: ramp.ActionFlagRollback, Environment: env}
	return s.store.UpdateFlag(ctx, c, key, func(cur *ramp.Flag) error {
		if fe := cur.Environments[env]; ifOn && (fe == nil || !fe.On) {
			return errAlreadyOff
		}
		cur.Rollback(env)
		return nil
	})
}
