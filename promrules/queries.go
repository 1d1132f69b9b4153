package promrules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/promsource"
	"github.com/ramp-flags/ramp/rollout"
)

// The PromQL of the figures, built from the query templates of package
// promsource: the guard's own templates where the plan has them, the
// defaults over the SDK's metrics (docs/metrics.md) otherwise. A range
// (rng) is a PromQL duration such as "5m", or a Grafana interval variable
// ($__interval, $__rate_interval, $__range) for dashboards; anything else
// is an error.

// Requests returns the PromQL of the requests variant served over the
// range: sum(increase(ramp_flag_requests_total{...}[rng])) by default. It
// uses the requests template of the plan's first error-rate guard.
func (t Target) Requests(variant, rng string) (string, error) {
	return requests(t.queries(judge.ErrorRate), t.Flag, variant, t.Environment, rng)
}

// RequestRate returns the PromQL of the requests per second variant
// served, averaged over the range: Requests divided by the range in
// seconds.
func (t Target) RequestRate(variant, rng string) (string, error) {
	q, err := t.Requests(variant, rng)
	if err != nil {
		return "", err
	}
	secs, err := rangeSeconds(rng)
	if err != nil {
		return "", err
	}
	return q + " / " + secs, nil
}

// ErrorRatio returns the PromQL of the share of variant's requests that
// failed over the range, from 0 to 1: errors over requests, with the
// templates of the plan's first error-rate guard. It has no value when
// the variant served nothing.
func (t Target) ErrorRatio(variant, rng string) (string, error) {
	return errorRatio(t.queries(judge.ErrorRate), t.Flag, variant, t.Environment, rng)
}

// LatencyQuantile returns the PromQL of the quantile (0.99 for p99) of the
// durations of variant's requests over the range, in seconds:
// histogram_quantile over the buckets template of the plan's first latency
// guard. It has no value when the variant served nothing.
func (t Target) LatencyQuantile(variant string, quantile float64, rng string) (string, error) {
	return latencyQuantile(t.queries(judge.Latency), quantile, t.Flag, variant, t.Environment, rng)
}

// queries returns the templates of the first guard with the metric, with
// defaults for those it leaves out.
func (t Target) queries(m judge.Metric) rollout.Queries {
	g, _ := t.guard(m)
	return promsource.WithDefaults(g.Queries)
}

func requests(q rollout.Queries, flag, variant, env, rng string) (string, error) {
	return expand(promsource.WithDefaults(q).Requests, "requests", flag, variant, env, rng)
}

func errorRatio(q rollout.Queries, flag, variant, env, rng string) (string, error) {
	q = promsource.WithDefaults(q)
	errs, err := expand(q.Errors, "errors", flag, variant, env, rng)
	if err != nil {
		return "", err
	}
	reqs, err := expand(q.Requests, "requests", flag, variant, env, rng)
	if err != nil {
		return "", err
	}
	return "(" + errs + ") / (" + reqs + ")", nil
}

func latencyQuantile(q rollout.Queries, quantile float64, flag, variant, env, rng string) (string, error) {
	if !(quantile > 0 && quantile < 1) {
		return "", fmt.Errorf("quantile %v: use a fraction between 0 and 1, such as 0.99", quantile)
	}
	b, err := expand(promsource.WithDefaults(q).Buckets, "buckets", flag, variant, env, rng)
	if err != nil {
		return "", err
	}
	return "histogram_quantile(" + number(quantile) + ", " + b + ")", nil
}

// observations returns the PromQL of the number of requests a buckets
// template counted: its le="+Inf" bucket, the largest of the cumulative
// buckets.
func observations(q rollout.Queries, flag, variant, env, rng string) (string, error) {
	b, err := expand(promsource.WithDefaults(q).Buckets, "buckets", flag, variant, env, rng)
	if err != nil {
		return "", err
	}
	return "max(" + b + ")", nil
}

func expand(tmpl, what, flag, variant, env, rng string) (string, error) {
	s, err := promsource.ExpandRange(tmpl, flag, variant, env, rng)
	if err != nil {
		return "", fmt.Errorf("%s query: %w", what, err)
	}
	return strings.TrimSpace(s), nil
}

// rangeSeconds returns the PromQL of a range's length in seconds.
func rangeSeconds(rng string) (string, error) {
	switch rng {
	case "$__interval":
		return "($__interval_ms / 1000)", nil
	case "$__rate_interval":
		return "($__rate_interval_ms / 1000)", nil
	case "$__range":
		return "$__range_s", nil
	}
	d, err := model.ParseDuration(rng)
	if err != nil || d <= 0 {
		return "", fmt.Errorf("range %q: use a PromQL duration such as 5m, or $__interval, $__rate_interval or $__range", rng)
	}
	return number(time.Duration(d).Seconds()), nil
}

// number writes a float for PromQL and for people: 0.05, 300, 1e-05.
func number(x float64) string {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return "NaN"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}
