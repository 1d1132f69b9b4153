// Package promsource is the Prometheus metric source of guarded rollouts:
// it answers the rollout controller's question "what did the canary and
// the baseline serve during this stage?" with instant queries to the
// Prometheus HTTP API.
//
// Each guard's figures come from PromQL templates (the guard's own, or the
// defaults over the SDK's metric names, see DefaultQueries), expanded for
// one flag, environment and variant and evaluated at the end of the
// window. Error-rate guards read requests and errors, throughput guards
// requests, latency guards the histogram buckets.
//
// The source tells "no data" from "no answer", as Flagger's users learned
// it must:
//
//   - No data is not an error. A query that returns no series gives a
//     zero count, so an arm without traffic comes back empty and the judge
//     finds it inconclusive (too little data). A value that is NaN or
//     infinite is no data as well: the whole arm comes back empty, never
//     with a zero error count that could pass a canary, and the reason is
//     logged. A stage younger than the minimum window is not queried at
//     all and gives empty arms.
//   - No answer is an error. A query Prometheus rejects, an error
//     envelope, a 4xx or 5xx status, a malformed body, a timeout or an
//     unreachable server makes Arms return a *QueryError wrapping the
//     cause; the controller holds the rollout, inconclusive, and shows the
//     message. A result of the wrong shape (several series where one
//     number is expected, a range vector) is a *QueryError too: the
//     template is wrong, and guessing would mislead the judge.
//
// Prometheus's warnings and infos are logged, not fatal.
package promsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
)

var _ rollout.Source = (*Source)(nil)

// Defaults of a Config's zero fields.
const (
	// DefaultTimeout bounds one Arms call: all the queries of one guard.
	DefaultTimeout = 30 * time.Second
	// DefaultMinWindow is the shortest window the source queries: four
	// scrapes at Prometheus's common 15s scrape interval.
	DefaultMinWindow = time.Minute
)

// Config configures a Source.
type Config struct {
	// URL is the Prometheus server's base URL, such as
	// http://prometheus:9090 or https://example.com/prometheus. Required.
	URL string
	// Client sends the requests; nil means a client with
	// client_golang's default transport. Its own Timeout, if any, applies
	// on top of Timeout.
	Client *http.Client
	// Headers are added to every request, such as a tenant header for a
	// multi-tenant Prometheus-compatible server.
	Headers http.Header
	// BearerToken, if set, is sent as "Authorization: Bearer <token>". It
	// cannot be combined with an Authorization header in Headers.
	BearerToken string
	// Timeout bounds each Arms call and is sent to Prometheus as the
	// query timeout. Zero means DefaultTimeout.
	Timeout time.Duration
	// MinWindow is the shortest window queried. Younger stages give
	// empty arms without a query: increase() needs two samples in its
	// range, and over a range of few scrape intervals it extrapolates
	// counts by up to window/(window − 2 × scrape interval), which would
	// overstate the evidence. Use at least four scrape intervals. Zero
	// means DefaultMinWindow.
	MinWindow time.Duration
	// Logger receives Prometheus's warnings and the reasons for data
	// read as missing; nil discards them.
	Logger *slog.Logger
}

// Source is the Prometheus metric source. It implements rollout.Source
// and is safe for concurrent use.
type Source struct {
	api       v1.API
	timeout   time.Duration
	minWindow time.Duration
	log       *slog.Logger
}

// New returns a Source for the Prometheus server of cfg. It sends no
// request; it fails only on a configuration it cannot use: a missing or
// non-HTTP URL, a negative duration, or two Authorization headers.
func New(cfg Config) (*Source, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		return nil, errors.New("prometheus source: a URL is required, such as http://prometheus:9090")
	case err != nil:
		// Not err itself: it repeats the URL, password and all.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("prometheus source: the URL is not valid: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("prometheus source: URL %q: use an http or https URL such as http://prometheus:9090", u.Redacted())
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("prometheus source: timeout %v is negative", cfg.Timeout)
	case cfg.MinWindow < 0:
		return nil, fmt.Errorf("prometheus source: minimum window %v is negative", cfg.MinWindow)
	case cfg.BearerToken != "" && cfg.Headers.Get("Authorization") != "":
		return nil, errors.New("prometheus source: set a bearer token or an Authorization header, not both")
	}
	s := &Source{timeout: cfg.Timeout, minWindow: cfg.MinWindow, log: cfg.Logger}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.minWindow == 0 {
		s.minWindow = DefaultMinWindow
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	headers := cfg.Headers.Clone()
	if cfg.BearerToken != "" {
		if headers == nil {
			headers = http.Header{}
		}
		headers.Set("Authorization", "Bearer "+cfg.BearerToken)
	}
	acfg := api.Config{Address: cfg.URL, Client: cfg.Client}
	if len(headers) > 0 {
		var c http.Client
		if cfg.Client != nil {
			c = *cfg.Client
		}
		base := c.Transport
		if base == nil {
			base = api.DefaultRoundTripper
		}
		c.Transport = &headerTransport{base: base, headers: headers}
		acfg.Client = &c
	}
	client, err := api.NewClient(acfg)
	if err != nil {
		return nil, fmt.Errorf("prometheus source: %w", err)
	}
	s.api = v1.NewAPI(client)
	return s, nil
}

// headerTransport adds headers to every request.
type headerTransport struct {
	base    http.RoundTripper
	headers http.Header
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context()) // a RoundTripper must not change its request
	for k, vs := range t.headers {
		r.Header[k] = slices.Clone(vs)
	}
	return t.base.RoundTrip(r)
}

// QueryError is the error of a query Prometheus did not answer usably. It
// wraps the cause: a *v1.Error for an answer Prometheus (or a proxy) gave,
// whose Type is bad_data for a query that does not parse, execution or
// timeout for one that failed to run, server_error or client_error for
// other 5xx and 4xx statuses and bad_response for a body that is not the
// API's JSON; context.DeadlineExceeded when no answer came within the
// timeout; a network error when the server cannot be reached; or a plain
// error for a result of the wrong shape.
type QueryError struct {
	// Series is what was asked: "requests", "errors" or "buckets".
	Series string
	// Arm is "canary" or "baseline", and Variant its variant.
	Arm, Variant string
	// Query is the expanded PromQL.
	Query string
	// Err is the cause.
	Err error
}

// Error says which query failed and why, without the query text, which is
// logged.
func (e *QueryError) Error() string {
	return fmt.Sprintf("prometheus %s query for the %s (variant %q): %v", e.Series, e.Arm, e.Variant, e.Err)
}

// Unwrap returns the cause.
func (e *QueryError) Unwrap() error { return e.Err }

// Series of a guard's figures.
const (
	seriesRequests = "requests"
	seriesErrors   = "errors"
	seriesBuckets  = "buckets"
)

// Arms returns the canary's and the baseline's figures for q's guard over
// q's window, evaluated at q.To. It runs the guard's queries concurrently
// within the configured timeout. No data gives empty arms and a nil
// error; an unanswered or unusable query gives a *QueryError; a query
// without a flag, environment, variants or window, an unknown metric or a
// template that cannot be expanded gives a plain error.
func (s *Source) Arms(ctx context.Context, q rollout.Query) (canary, baseline judge.Arm, err error) {
	switch {
	case q.Flag == "" || q.Environment == "":
		return canary, baseline, errors.New("prometheus source: the query names no flag or no environment")
	case q.Canary == "" || q.Baseline == "":
		return canary, baseline, errors.New("prometheus source: the query names no canary or no baseline variant")
	case q.From.IsZero() || q.To.IsZero():
		return canary, baseline, errors.New("prometheus source: the query has no window")
	}
	var series []string
	switch q.Guard.Metric {
	case judge.ErrorRate:
		series = []string{seriesRequests, seriesErrors}
	case judge.Throughput:
		series = []string{seriesRequests}
	case judge.Latency:
		series = []string{seriesBuckets}
	default:
		return canary, baseline, fmt.Errorf("prometheus source: guard %q: metric %q has no queries", q.Guard.Name, q.Guard.Metric)
	}
	window := q.To.Sub(q.From)
	if window < s.minWindow {
		s.log.DebugContext(ctx, "prometheus source: stage younger than the minimum window; no data yet",
			"flag", q.Flag, "env", q.Environment, "guard", q.Guard.Name, "window", window, "min_window", s.minWindow)
		return emptyArm(q.Guard.Metric, nil), emptyArm(q.Guard.Metric, nil), nil
	}

	arms := []struct{ name, variant string }{{"canary", q.Canary}, {"baseline", q.Baseline}}
	type job struct {
		arm, variant, series, query string
	}
	var jobs []job
	for _, a := range arms {
		for _, sr := range series {
			tmpl := template(q.Guard.Queries, sr)
			query, err := expand(tmpl, vars{flag: q.Flag, variant: a.variant, env: q.Environment, window: window})
			if err != nil {
				return canary, baseline, fmt.Errorf("prometheus source: guard %q: %s query: %w", q.Guard.Name, sr, err)
			}
			jobs = append(jobs, job{arm: a.name, variant: a.variant, series: sr, query: query})
		}
	}

	ctx, cancel := context.WithTimeoutCause(ctx, s.timeout, errTimeout)
	defer cancel()
	results := make([]model.Value, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			results[i], errs[i] = s.query(ctx, j.query, q.To)
		})
	}
	wg.Wait()

	fail := func(j job, err error) error {
		s.log.WarnContext(ctx, "prometheus source: query failed", "guard", q.Guard.Name, "arm", j.arm, "query", j.query, "err", err)
		return &QueryError{Series: j.series, Arm: j.arm, Variant: j.variant, Query: j.query, Err: err}
	}
	var out [2]judge.Arm
	var missing [2]string // per arm: why its figures are unknown
	var bounds []float64  // the buckets of an arm with data
	for i, j := range jobs {
		a := i / len(series)
		if errs[i] != nil {
			return canary, baseline, fail(j, errs[i])
		}
		var why string
		switch j.series {
		case seriesRequests, seriesErrors:
			x, err := number(results[i])
			if err != nil {
				return canary, baseline, fail(j, err)
			}
			if math.IsNaN(x) || math.IsInf(x, 0) {
				why = fmt.Sprintf("%s query gave %v", j.series, x)
			} else if j.series == seriesRequests {
				out[a].Requests = x
			} else {
				out[a].Errors = x
			}
		case seriesBuckets:
			h, err := histogram(results[i])
			if err != nil {
				return canary, baseline, fail(j, err)
			}
			switch {
			case h == nil:
			case !finite(h.Count) || slices.ContainsFunc(h.Counts, func(c float64) bool { return !finite(c) }):
				why = "a latency bucket count is NaN or infinite"
			default:
				out[a].Latency = h
				bounds = h.Bounds
			}
		}
		if why != "" && missing[a] == "" {
			missing[a] = why
			s.log.WarnContext(ctx, "prometheus source: "+why+"; the arm has no data", "guard", q.Guard.Name, "arm", j.arm, "variant", j.variant, "query", j.query)
		}
	}
	for a := range out {
		if missing[a] != "" {
			out[a] = judge.Arm{}
		}
		if q.Guard.Metric == judge.Latency && out[a].Latency == nil {
			out[a] = emptyArm(judge.Latency, bounds)
		}
	}
	return out[0], out[1], nil
}

// template returns the guard's template for a series, or the default.
func template(q rollout.Queries, series string) string {
	var t, def string
	switch series {
	case seriesRequests:
		t, def = q.Requests, DefaultRequestsQuery
	case seriesErrors:
		t, def = q.Errors, DefaultErrorsQuery
	default:
		t, def = q.Buckets, DefaultBucketsQuery
	}
	if strings.TrimSpace(t) == "" {
		return def
	}
	return t
}

// emptyArm returns an arm without data. A latency arm gets a histogram
// with zero counts rather than none, so that the judge says "too little
// data" instead of "no histogram"; its bounds are the other arm's, or the
// default buckets.
func emptyArm(m judge.Metric, bounds []float64) judge.Arm {
	if m != judge.Latency {
		return judge.Arm{}
	}
	if bounds == nil {
		bounds = DefaultBuckets()
	}
	return judge.Arm{Latency: &judge.Histogram{Bounds: slices.Clone(bounds), Counts: make([]float64, len(bounds))}}
}

// errTimeout is the cause of a query context that ran out of the
// source's own time, rather than the caller's.
var errTimeout = fmt.Errorf("prometheus source timeout: %w", context.DeadlineExceeded)

// query runs one instant query at ts.
func (s *Source) query(ctx context.Context, query string, ts time.Time) (model.Value, error) {
	v, warnings, infos, err := s.api.Query(ctx, query, ts, v1.WithTimeout(s.timeout))
	for _, w := range warnings {
		s.log.WarnContext(ctx, "prometheus source: query warning", "query", query, "warning", w)
	}
	for _, in := range infos {
		s.log.DebugContext(ctx, "prometheus source: query info", "query", query, "info", in)
	}
	if err != nil {
		if errors.Is(err, errTimeout) || errors.Is(err, context.DeadlineExceeded) && context.Cause(ctx) == errTimeout {
			// The client reports the cause or the bare deadline,
			// depending on where the request was when time ran out.
			return nil, fmt.Errorf("no answer within %v: %w", s.timeout, context.DeadlineExceeded)
		}
		var apiErr *v1.Error
		if errors.As(err, &apiErr) && apiErr.Detail != "" && (apiErr.Type == v1.ErrServer || apiErr.Type == v1.ErrClient) {
			// A proxy's or server's body can say what a bare status does
			// not ("no healthy upstream").
			return nil, fmt.Errorf("%w (%s)", err, snippet(apiErr.Detail))
		}
		return nil, err
	}
	return v, nil
}

// snippet returns the start of a response body on one line.
func snippet(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// number reads a result that must be one number: a scalar, or a vector of
// at most one sample. An empty vector is no data: 0.
func number(v model.Value) (float64, error) {
	switch v := v.(type) {
	case *model.Scalar:
		return float64(v.Value), nil
	case model.Vector:
		switch len(v) {
		case 0:
			return 0, nil
		case 1:
			return float64(v[0].Value), nil
		}
		return 0, fmt.Errorf("the query gave %d series where one number was expected; aggregate it, as in sum(...)", len(v))
	case nil:
		return 0, errors.New("the answer has no result")
	}
	return 0, fmt.Errorf("the query gave a %s where one number was expected: use an instant vector, as in sum(increase(...[{{window}}]))", v.Type())
}

// histogram reads a result that must be cumulative buckets: a vector with
// one sample per le label, including le="+Inf". An empty vector is no
// data: nil.
//
// increase() extrapolates each bucket on its own, so a bucket can come
// out a fraction below the one before; counts are made non-decreasing,
// as histogram_quantile does, rather than rejected.
func histogram(v model.Value) (*judge.Histogram, error) {
	vec, ok := v.(model.Vector)
	if !ok {
		if v == nil {
			return nil, errors.New("the answer has no result")
		}
		return nil, fmt.Errorf("the query gave a %s where buckets were expected: use an instant vector, as in sum by (le) (increase(...[{{window}}]))", v.Type())
	}
	if len(vec) == 0 {
		return nil, nil
	}
	type bucket struct{ le, count float64 }
	bs := make([]bucket, 0, len(vec))
	for _, s := range vec {
		text, ok := s.Metric[model.BucketLabel]
		if !ok {
			return nil, fmt.Errorf("a series has no le label (%s); keep it, as in sum by (le) (...)", s.Metric)
		}
		le, err := strconv.ParseFloat(string(text), 64)
		if err != nil || math.IsNaN(le) {
			return nil, fmt.Errorf("le=%q is not a bucket bound", text)
		}
		bs = append(bs, bucket{le, float64(s.Value)})
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmpFloat(a.le, b.le) })
	h := &judge.Histogram{}
	for i, b := range bs {
		if i > 0 && b.le == bs[i-1].le {
			return nil, fmt.Errorf("two series have le=%v; aggregate them, as in sum by (le) (...)", b.le)
		}
		if i > 0 && b.count < bs[i-1].count {
			b.count = bs[i-1].count // NaN stays NaN: the caller rejects it
		}
		bs[i] = b
		if math.IsInf(b.le, 1) {
			h.Count = b.count
			continue
		}
		h.Bounds = append(h.Bounds, b.le)
		h.Counts = append(h.Counts, b.count)
	}
	if !math.IsInf(bs[len(bs)-1].le, 1) {
		return nil, errors.New(`the buckets have no le="+Inf" bucket, which holds the count of observations`)
	}
	return h, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
