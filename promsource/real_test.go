package promsource_test

import (
	"errors"
	"math"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ramp-flags/ramp/internal/promtest"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/promsource"
	"github.com/ramp-flags/ramp/rollout"
)

// sdkMetrics are the SDK's three metric families, registered as the SDK
// registers them.
type sdkMetrics struct {
	requests, errors *prometheus.CounterVec
	duration         *prometheus.HistogramVec
}

func newSDKMetrics(reg prometheus.Registerer) sdkMetrics {
	labels := []string{promsource.LabelFlag, promsource.LabelVariant, promsource.LabelEnvironment}
	m := sdkMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: promsource.RequestsMetric, Help: "Requests served, by flag variant."}, labels),
		errors:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: promsource.ErrorsMetric, Help: "Requests that failed, by flag variant."}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: promsource.DurationMetric, Help: "Request duration in seconds, by flag variant.",
			Buckets: promsource.DefaultBuckets()}, labels),
	}
	reg.MustRegister(m.requests, m.errors, m.duration)
	return m
}

// traffic is what the test served to one variant, counted as generated.
type traffic struct {
	flag, variant string
	perTick       int       // requests per tick
	errorEvery    int       // one failed request every so many ticks
	latencies     []float64 // cycled through, one per request

	requests, errors float64
	observed         []float64
}

const env = "production"

func (tr *traffic) init(m sdkMetrics) {
	// The SDK creates every series at zero, so that increase() counts
	// the first request and the first error.
	m.requests.WithLabelValues(tr.flag, tr.variant, env).Add(0)
	m.errors.WithLabelValues(tr.flag, tr.variant, env).Add(0)
	m.duration.WithLabelValues(tr.flag, tr.variant, env)
}

func (tr *traffic) tick(m sdkMetrics, n int) {
	for i := range tr.perTick {
		m.requests.WithLabelValues(tr.flag, tr.variant, env).Inc()
		tr.requests++
		if i == 0 && n%tr.errorEvery == 0 {
			m.errors.WithLabelValues(tr.flag, tr.variant, env).Inc()
			tr.errors++
		}
		d := tr.latencies[len(tr.observed)%len(tr.latencies)]
		m.duration.WithLabelValues(tr.flag, tr.variant, env).Observe(d)
		tr.observed = append(tr.observed, d)
	}
}

// TestRealPrometheus serves the SDK's metrics to a real Prometheus,
// scraped every second, for about twelve seconds, then checks that the
// source reads back what was served.
//
// increase() extrapolates: with every counter at zero in the window's
// first sample it does not extrapolate towards the start, and towards the
// end at most by the time from the last scrape to the window's end, the
// same factor for every series of the target. So counts may exceed what
// was served by a few percent, while every ratio (error rate, bucket
// shares, the canary's share of requests) is exact.
func TestRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the real Prometheus test (about 20s)")
	}
	reg := prometheus.NewRegistry()
	m := newSDKMetrics(reg)
	target := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer target.Close()

	started := time.Now()
	prom := promtest.Start(t, []string{target.URL + "/metrics"})
	t.Logf("Prometheus started in %v", time.Since(started).Round(time.Millisecond))

	// A flag key that a careless template would let end the string.
	weird := `we"ird\fl}ag{{window}}`
	canary := &traffic{flag: "checkout-v2", variant: "on", perTick: 3, errorEvery: 4, latencies: []float64{0.003, 0.02, 0.07, 0.2, 0.7, 3}}
	baseline := &traffic{flag: "checkout-v2", variant: "off", perTick: 5, errorEvery: 5, latencies: []float64{0.004, 0.015, 0.04, 0.12, 0.3}}
	weirdOn := &traffic{flag: weird, variant: "on", perTick: 1, errorEvery: 2, latencies: []float64{0.5}}
	weirdOff := &traffic{flag: weird, variant: "off", perTick: 2, errorEvery: 3, latencies: []float64{0.01}}
	all := []*traffic{canary, baseline, weirdOn, weirdOff}
	for _, tr := range all {
		tr.init(m)
	}

	// The window opens before a scrape that sees every counter at zero.
	from := time.Now()
	prom.WaitScraped(t, from, 15*time.Second)
	trafficStart := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	for n := 0; time.Since(trafficStart) < 12*time.Second; n++ {
		for _, tr := range all {
			tr.tick(m, n)
		}
		<-tick.C
	}
	tick.Stop()
	trafficEnd := time.Now()
	prom.WaitScraped(t, trafficEnd, 15*time.Second)
	to := time.Now()
	t.Logf("served %v, %v, %v and %v requests over %v; window %v",
		canary.requests, baseline.requests, weirdOn.requests, weirdOff.requests, trafficEnd.Sub(trafficStart).Round(time.Millisecond), to.Sub(from).Round(time.Millisecond))

	src, err := promsource.New(promsource.Config{URL: prom.URL, MinWindow: 5 * time.Second, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	q := rollout.Query{Flag: "checkout-v2", Environment: env, Canary: "on", Baseline: "off", From: from, To: to}
	arms := func(t *testing.T, q rollout.Query, g judge.Guard) (c, b judge.Arm) {
		t.Helper()
		q.Guard.Guard = g
		start := time.Now()
		c, b, err := src.Arms(t.Context(), q)
		if err != nil {
			t.Fatalf("Arms: %v", err)
		}
		t.Logf("%s guard: Arms took %v", g.Metric, time.Since(start).Round(time.Microsecond))
		return c, b
	}
	errorGuard := judge.Guard{Name: "error-rate", Metric: judge.ErrorRate, AbsMargin: 0.001}
	latencyGuard := judge.Guard{Name: "p99-latency", Metric: judge.Latency, Quantile: 0.99}
	throughputGuard := judge.Guard{Name: "traffic", Metric: judge.Throughput}

	// All counts share one extrapolation factor; it is at least 1 and
	// small, as the window ends just after the last scrape.
	var factor float64
	checkCount := func(t *testing.T, what string, got, served float64) {
		t.Helper()
		f := got / served
		switch {
		case served == 0 && got != 0:
			t.Errorf("%s = %v; want 0", what, got)
		case served == 0:
		case f < 1-1e-9 || f > 1.1:
			t.Errorf("%s = %v for %v served: factor %.4f, outside [1, 1.1]", what, got, served, f)
		case factor == 0:
			factor = f
			t.Logf("increase() extrapolation factor %.5f", f)
		case math.Abs(f/factor-1) > 1e-9:
			t.Errorf("%s = %v for %v served: factor %.9f, unlike the others' %.9f", what, got, served, f, factor)
		}
	}

	t.Run("error rate", func(t *testing.T) {
		c, b := arms(t, q, errorGuard)
		for _, x := range []struct {
			name string
			arm  judge.Arm
			tr   *traffic
		}{{"canary", c, canary}, {"baseline", b, baseline}} {
			checkCount(t, x.name+" requests", x.arm.Requests, x.tr.requests)
			checkCount(t, x.name+" errors", x.arm.Errors, x.tr.errors)
		}
		v := judge.Evaluate(errorGuard, c, b, judge.Options{})
		t.Logf("judge: %s: %s", v.Outcome, v.Summary)
		if v.Outcome == judge.Inconclusive {
			t.Errorf("the judge cannot use the arms: %s", v.Summary)
		}
	})

	t.Run("throughput", func(t *testing.T) {
		c, b := arms(t, q, throughputGuard)
		checkCount(t, "canary requests", c.Requests, canary.requests)
		checkCount(t, "baseline requests", b.Requests, baseline.requests)
		if c.Errors != 0 || c.Latency != nil {
			t.Errorf("a throughput guard read more than requests: %+v", c)
		}
	})

	t.Run("latency", func(t *testing.T) {
		c, b := arms(t, q, latencyGuard)
		for _, x := range []struct {
			name string
			arm  judge.Arm
			tr   *traffic
		}{{"canary", c, canary}, {"baseline", b, baseline}} {
			h := x.arm.Latency
			if h == nil {
				t.Fatalf("%s: no histogram", x.name)
			}
			if want := promsource.DefaultBuckets(); !slices.Equal(h.Bounds, want) {
				t.Errorf("%s bounds = %v; want %v", x.name, h.Bounds, want)
			}
			checkCount(t, x.name+" latency count", h.Count, float64(len(x.tr.observed)))
			for i, le := range h.Bounds {
				served := 0.0
				for _, d := range x.tr.observed {
					if d <= le {
						served++
					}
				}
				checkCount(t, x.name+" bucket le="+strconv.FormatFloat(le, 'g', -1, 64), h.Counts[i], served)
			}
		}
		v := judge.Evaluate(latencyGuard, c, b, judge.Options{})
		t.Logf("judge: %s: %s", v.Outcome, v.Summary)
		if strings.Contains(v.Summary, "unusable") || strings.Contains(v.Summary, "too little data") {
			t.Errorf("the judge cannot use the histograms: %s", v.Summary)
		}
	})

	t.Run("escaped flag key", func(t *testing.T) {
		wq := q
		wq.Flag = weird
		c, b := arms(t, wq, errorGuard)
		checkCount(t, "canary requests", c.Requests, weirdOn.requests)
		checkCount(t, "canary errors", c.Errors, weirdOn.errors)
		checkCount(t, "baseline requests", b.Requests, weirdOff.requests)
		checkCount(t, "baseline errors", b.Errors, weirdOff.errors)
	})

	t.Run("no data", func(t *testing.T) {
		nq := q
		nq.Flag = "never-served"
		c, b := arms(t, nq, errorGuard)
		if c != (judge.Arm{}) || b != (judge.Arm{}) {
			t.Errorf("arms = %+v, %+v; want empty", c, b)
		}
		c, _ = arms(t, nq, latencyGuard)
		if c.Latency == nil || c.Latency.Count != 0 {
			t.Errorf("latency arm = %+v; want an empty histogram", c.Latency)
		}
	})

	t.Run("NaN", func(t *testing.T) {
		nq := q
		nq.Guard.Queries.Requests = `sum(increase(ramp_flag_requests_total{flag="{{flag}}",variant="{{variant}}",environment="{{env}}"}[{{window}}])) * NaN`
		c, b := arms(t, nq, throughputGuard)
		if c != (judge.Arm{}) || b != (judge.Arm{}) {
			t.Errorf("arms = %+v, %+v; want no data", c, b)
		}
	})

	t.Run("bad query", func(t *testing.T) {
		bq := q
		bq.Guard.Guard = throughputGuard
		bq.Guard.Queries.Requests = `sum(increase(ramp_flag_requests_total{flag="{{flag}}"}[{{window}}])`
		_, _, err := src.Arms(t.Context(), bq)
		var qe *promsource.QueryError
		var apiErr *v1.Error
		if !errors.As(err, &qe) || !errors.As(err, &apiErr) || apiErr.Type != v1.ErrBadData {
			t.Fatalf("Arms error = %v; want a *QueryError wrapping bad_data", err)
		}
		t.Logf("error: %v", err)
	})
}
