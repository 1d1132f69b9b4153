// Package promexport exposes what an SDK client measures to Prometheus:
// the counts Observe and Middleware make, per flag and variant, as the
// three metric families of docs/metrics.md. Register the collector on the
// application's own registry and serve it on its /metrics:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(promexport.New(client))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The package is separate from sdk so that an application that does not
// use Prometheus does not compile its client library.
package promexport

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp/sdk"
)

// The metric names and labels, the contract with the guard templates,
// alert rules and dashboards (docs/metrics.md).
const (
	// RequestsMetric counts the requests each variant's code path served.
	RequestsMetric = "ramp_flag_requests_total"
	// ErrorsMetric counts those of them that failed.
	ErrorsMetric = "ramp_flag_errors_total"
	// DurationMetric is the histogram of their durations, in seconds, with
	// the buckets of sdk.LatencyBounds.
	DurationMetric = "ramp_flag_request_duration_seconds"

	// LabelFlag, LabelVariant and LabelEnvironment are the labels of every
	// series: the flag key, the variant key and the client's environment.
	LabelFlag        = "flag"
	LabelVariant     = "variant"
	LabelEnvironment = "environment"
)

// collector reads the client's counters on every scrape.
type collector struct {
	c                         *sdk.Client
	requests, errors, latency *prometheus.Desc
}

// New returns a collector of c's counters, to register on the
// application's registry. On each scrape it reads sdk.Client.Stats and
// sends every (flag, variant) observed as a ramp_flag_requests_total and
// ramp_flag_errors_total counter and a ramp_flag_request_duration_seconds
// histogram, labelled flag, variant and environment. The counters count
// from the client's start, as Prometheus counters do.
//
// Until the client knows its environment (it has no flags yet: see
// sdk.Client.Environment) the collector sends nothing, rather than series
// with an empty environment; the counts made meanwhile appear with the
// first scrape after. The collector is safe for concurrent use.
func New(c *sdk.Client) prometheus.Collector {
	labels := []string{LabelFlag, LabelVariant, LabelEnvironment}
	return &collector{
		c:        c,
		requests: prometheus.NewDesc(RequestsMetric, "Requests served by the code path of a flag's variant, as the application measured them with the ramp SDK.", labels, nil),
		errors:   prometheus.NewDesc(ErrorsMetric, "Requests served by the code path of a flag's variant that failed.", labels, nil),
		latency:  prometheus.NewDesc(DurationMetric, "Duration of the requests served by the code path of a flag's variant, in seconds.", labels, nil),
	}
}

// Describe sends the descriptors of the three metric families.
func (x *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- x.requests
	ch <- x.errors
	ch <- x.latency
}

// Collect sends the client's counters as constant metrics.
func (x *collector) Collect(ch chan<- prometheus.Metric) {
	env := x.c.Environment()
	if env == "" {
		return
	}
	bounds := sdk.LatencyBounds()
	for _, s := range x.c.Stats() {
		labels := []string{s.Flag, s.Variant, env}
		ch <- constMetric(x.requests, float64(s.Requests), labels)
		ch <- constMetric(x.errors, float64(s.Errors), labels)
		buckets := make(map[float64]uint64, len(bounds))
		for i, b := range bounds {
			buckets[b] = s.Buckets[i]
		}
		m, err := prometheus.NewConstHistogram(x.latency, s.Requests, s.LatencySum, buckets, labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(x.latency, err)
		}
		ch <- m
	}
}

func constMetric(d *prometheus.Desc, v float64, labels []string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, prometheus.CounterValue, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}
