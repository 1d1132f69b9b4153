package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ramp-flags/ramp"
)

func (s *Server) auditRoutes() {
	s.handle("GET /api/v1/audit", accessAdmin, s.listAudit)
}

// Audit page sizes.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

type auditList struct {
	Entries []ramp.AuditEntry `json:"entries"`
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "flag", "kind", "key", "actor", "since", "until", "before", "limit")
	if err != nil {
		return err
	}
	f := ramp.AuditFilter{Kind: q["kind"], Key: q["key"], Actor: q["actor"], Limit: defaultAuditLimit}
	switch f.Kind {
	case "", "flag", "rollout", "baseline", "segment", "environment", "token":
	default:
		return ramp.Errorf(ramp.EBADREQUEST, "kind %q is not a kind of audit entry: use flag, rollout, baseline, segment, environment or token", f.Kind)
	}
	if flag := q["flag"]; flag != "" {
		// A flag's history is its changes, its rollouts' and its baselines'.
		if (f.Kind != "" && f.Kind != "flag" && f.Kind != "rollout" && f.Kind != "baseline") || (f.Key != "" && f.Key != flag) {
			return ramp.Errorf(ramp.EBADREQUEST, "flag=%s selects the entries of the flag and its rollouts (key=%s); it disagrees with the kind or key given", flag, flag)
		}
		f.Key = flag
		if f.Kind == "" {
			f.Kinds = []string{"flag", "rollout", "baseline"}
		}
	}
	for name, t := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q[name]; v != "" {
			if *t, err = time.Parse(time.RFC3339, v); err != nil {
				return ramp.Errorf(ramp.EBADREQUEST, "%s %q is not an RFC 3339 time such as 2025-06-01T12:00:00Z", name, v)
			}
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return ramp.Errorf(ramp.EBADREQUEST, "until %s is before since %s", q["until"], q["since"])
	}
	if v := q["before"]; v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil || f.Before <= 0 {
			return ramp.Errorf(ramp.EBADREQUEST, "before %q is not an audit entry id (a positive integer)", v)
		}
	}
	if v := q["limit"]; v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > maxAuditLimit {
			return ramp.Errorf(ramp.EBADREQUEST, "limit %q is not a number from 1 to %d", v, maxAuditLimit)
		}
	}
	entries, err := s.store.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []ramp.AuditEntry{}
	}
	return writeJSON(w, http.StatusOK, auditList{Entries: entries})
}
