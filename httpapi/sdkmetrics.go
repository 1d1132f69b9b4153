package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/ramp-flags/ramp"
)

// CountStore is what the SDK metrics endpoint needs of storage: adding
// the counts SDKs report. The endpoint is served when Config.Counts is
// set, along with Config.Live.
type CountStore interface {
	// AddCounts adds counts for env at the time at, per flag, variant and
	// second, and fails with EINVALID for counts ramp.ValidateCounts
	// refuses. It writes no audit row and no change-feed entry.
	AddCounts(ctx context.Context, env string, at time.Time, counts []ramp.Counts) error
}

// sdkMetricsRoutes registers POST /sdk/v1/metrics if Config.Counts was
// set.
func (s *Server) sdkMetricsRoutes() {
	cs := s.counts
	if cs == nil {
		return
	}
	s.handle("POST /sdk/v1/metrics", accessSDK, func(w http.ResponseWriter, r *http.Request) error {
		return s.sdkMetrics(w, r, cs)
	})
}

// countsReport is the body of POST /sdk/v1/metrics.
type countsReport struct {
	Counts *[]ramp.Counts `json:"counts"`
}

// sdkMetrics stores a report of counts from an SDK for the request's
// environment, at the time it arrives, and answers 204. The report is
// refused whole if any entry is invalid (ramp.ValidateCounts); flags and
// variants are not checked against the flags that exist, as counts are
// telemetry and may outlive a flag.
func (s *Server) sdkMetrics(w http.ResponseWriter, r *http.Request, cs CountStore) error {
	env, err := environmentOf(r)
	if err != nil {
		return err
	}
	if s.live.Env(env) == nil {
		return ramp.Errorf(ramp.ENOTFOUND, "environment %q does not exist", env)
	}
	var req countsReport
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if req.Counts == nil {
		return &ramp.Error{Code: ramp.EINVALID, Message: "report is invalid", Fields: []ramp.FieldError{
			{Field: "counts", Message: `is required: send {"counts": [{"flag", "variant", "requests", "errors", "latency"}, ...]}`},
		}}
	}
	if err := cs.AddCounts(r.Context(), env, s.now(), *req.Counts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
