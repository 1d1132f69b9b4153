package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/rollout"
)

// BaselineStore keeps the recorded baselines of flags. SaveBaseline
// commits the baseline and its audit row (baseline.record) in one
// transaction.
type BaselineStore interface {
	SaveBaseline(ctx context.Context, c ramp.Change, b ramp.Baseline) (ramp.Baseline, error)
	GetBaseline(ctx context.Context, flag, env string) (ramp.Baseline, error)
}

// DefaultBaselineWindow is the window a baseline is recorded over when the
// request names none.
const DefaultBaselineWindow = time.Hour

// maxBaselineWindow bounds the window: the SDK counts are kept 14 days.
const maxBaselineWindow = 14 * 24 * time.Hour

func (s *Server) baselineRoutes() {
	s.handle("GET /api/v1/flags/{key}/baseline", accessAdmin, s.getBaseline)
	s.handle("POST /api/v1/flags/{key}/baseline", accessAdmin, s.recordBaseline)
}

// baselineView is the answer of GET .../baseline: the stored baseline
// (null when none was recorded) next to the live figures of both variants
// over a window as long as the stored one's, ending now.
type baselineView struct {
	Flag        string         `json:"flag"`
	Environment string         `json:"environment"`
	Stored      *ramp.Baseline `json:"stored"`
	Live        *liveFigures   `json:"live"`
	// LiveError says why the live figures could not be read, if so.
	LiveError string `json:"liveError,omitempty"`
}

type liveFigures struct {
	Source   string       `json:"source"`
	Window   string       `json:"window"`
	Baseline ramp.Figures `json:"baseline"`
	Canary   ramp.Figures `json:"canary"`
}

// baselineRequest is what the query string of both routes says.
type baselineRequest struct {
	env, source, variant string
	window               time.Duration
	windowGiven          bool
}

func (s *Server) baselineQuery(r *http.Request) (baselineRequest, error) {
	q, err := query(r, "env", "window", "source", "variant")
	if err != nil {
		return baselineRequest{}, err
	}
	br := baselineRequest{env: q["env"], source: q["source"], variant: q["variant"], window: DefaultBaselineWindow}
	if br.env == "" {
		br.env = ramp.EnvProduction
	}
	var fs fields
	if w := q["window"]; w != "" {
		d, err := rollout.ParseDuration(w)
		switch {
		case err != nil:
			fs.add("window", "%v", err)
		case d < time.Second || d > maxBaselineWindow:
			fs.add("window", "%s is out of range: use from 1s to 14d, such as 1h", w)
		}
		br.window, br.windowGiven = d, true
	}
	if br.source != "" && s.sources[br.source] == nil {
		fs.add("source", "%q is not a metric source of this server: use %s", br.source, strings.Join(s.sourceNames(), " or "))
	}
	if err := fs.err("baseline request"); err != nil {
		return br, err
	}
	if err := s.environmentExists(r, br.env); err != nil {
		return br, err
	}
	return br, nil
}

// sourceNames lists the server's metric sources, sorted.
func (s *Server) sourceNames() []string {
	var names []string
	for n := range s.sources {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// defaultSource is the source a baseline is measured from when the request
// names none: Prometheus when the server has it, else the SDK counts.
func (s *Server) defaultSource() string {
	if s.sources[rollout.SourcePrometheus] != nil {
		return rollout.SourcePrometheus
	}
	return rollout.SourceSDK
}

// variants returns the canary and the baseline variant of the flag in env:
// what a rollout would roll out (or asked) and the off variant.
func variants(f *ramp.Flag, env, asked string) (canary, baseline string, err error) {
	canary, err = f.RolloutVariant(env, asked)
	if err != nil {
		return "", "", err
	}
	return canary, f.OffVariantKey(env), nil
}

func (s *Server) recordBaseline(w http.ResponseWriter, r *http.Request) error {
	br, err := s.baselineQuery(r)
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	f, err := s.store.GetFlag(r.Context(), key)
	if err != nil {
		return err
	}
	canary, base, err := variants(f, br.env, br.variant)
	if err != nil {
		return err
	}
	if br.source == "" {
		br.source = s.defaultSource()
	}
	src := s.sources[br.source]
	if src == nil {
		return fieldError("baseline request", "source", "%q is not configured on this server", br.source)
	}
	to := s.now()
	from := to.Add(-br.window)
	_, bf, err := rollout.Measure(r.Context(), src, key, br.env, canary, base, from, to)
	if err != nil {
		return &ramp.Error{Code: ramp.EUNAVAILABLE, Message: "the " + br.source + " metric source cannot be read: " + err.Error(), Err: err}
	}
	if bf.Requests == 0 {
		return ramp.Errorf(ramp.EINVALID, "variant %s of %s served no requests in %s over the last %s: there is nothing to record; check that the application reports metrics (docs/metrics.md) or record over a longer --window",
			base, key, br.env, rollout.Duration(br.window))
	}
	c := change(r)
	c.Environment = br.env
	b, err := s.baselines.SaveBaseline(r.Context(), c, ramp.Baseline{Flag: key, Environment: br.env, Source: br.source, Figures: bf})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, b)
}

func (s *Server) getBaseline(w http.ResponseWriter, r *http.Request) error {
	br, err := s.baselineQuery(r)
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	f, err := s.store.GetFlag(r.Context(), key)
	if err != nil {
		return err
	}
	v := baselineView{Flag: key, Environment: br.env}
	stored, err := s.baselines.GetBaseline(r.Context(), key, br.env)
	switch {
	case err == nil:
		v.Stored = &stored
		if br.source == "" && s.sources[stored.Source] != nil {
			br.source = stored.Source
		}
		if !br.windowGiven {
			br.window = stored.To.Sub(stored.From)
		}
	case ramp.ErrorCode(err) != ramp.ENOTFOUND:
		return err
	}
	if br.source == "" {
		br.source = s.defaultSource()
	}
	canary, base, err := variants(f, br.env, br.variant)
	if err != nil {
		return err
	}
	src := s.sources[br.source]
	if src == nil {
		v.LiveError = "the " + br.source + " metric source is not configured on this server"
		return writeJSON(w, http.StatusOK, v)
	}
	to := s.now()
	cf, bf, err := rollout.Measure(r.Context(), src, key, br.env, canary, base, to.Add(-br.window), to)
	if err != nil {
		s.log.Warn("live baseline figures", "flag", key, "env", br.env, "err", err)
		v.LiveError = "the " + br.source + " metric source cannot be read: " + err.Error()
		return writeJSON(w, http.StatusOK, v)
	}
	cf.Latency, bf.Latency = nil, nil
	v.Live = &liveFigures{Source: br.source, Window: rollout.Duration(br.window).String(), Baseline: bf, Canary: cf}
	return writeJSON(w, http.StatusOK, v)
}
