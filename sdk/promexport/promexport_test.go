package promexport_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/promsource"
	"github.com/ramp-flags/ramp/sdk"
	"github.com/ramp-flags/ramp/sdk/internal/sdktest"
	"github.com/ramp-flags/ramp/sdk/promexport"
)

func newClient(t *testing.T, flags ...*ramp.Flag) *sdk.Client {
	t.Helper()
	srv := sdktest.NewServer(t, "production", flags, nil)
	c, err := sdk.New(context.Background(), sdk.Config{URL: srv.URL, Token: sdktest.Token, Clock: sdktest.NewClock(), ReportInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCollector checks the exposition of the client's counters under the
// names and labels of the contract.
func TestCollector(t *testing.T) {
	c := newClient(t)
	fail := errors.New("fail")
	c.Observe("checkout", "on", 30*time.Millisecond, fail)
	c.Observe("checkout", "on", 2*time.Second, nil)
	c.Observe("checkout", "off", 4*time.Millisecond, nil)

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promexport.New(c))
	want := `
# HELP ramp_flag_errors_total Requests served by the code path of a flag's variant that failed.
# TYPE ramp_flag_errors_total counter
ramp_flag_errors_total{environment="production",flag="checkout",variant="off"} 0
ramp_flag_errors_total{environment="production",flag="checkout",variant="on"} 1
# HELP ramp_flag_request_duration_seconds Duration of the requests served by the code path of a flag's variant, in seconds.
# TYPE ramp_flag_request_duration_seconds histogram
` + bucketLines("off", 0.004) + `
ramp_flag_request_duration_seconds_bucket{environment="production",flag="checkout",variant="off",le="+Inf"} 1
ramp_flag_request_duration_seconds_sum{environment="production",flag="checkout",variant="off"} 0.004
ramp_flag_request_duration_seconds_count{environment="production",flag="checkout",variant="off"} 1
` + bucketLines("on", 0.03, 2) + `
ramp_flag_request_duration_seconds_bucket{environment="production",flag="checkout",variant="on",le="+Inf"} 2
ramp_flag_request_duration_seconds_sum{environment="production",flag="checkout",variant="on"} 2.03
ramp_flag_request_duration_seconds_count{environment="production",flag="checkout",variant="on"} 2
# HELP ramp_flag_requests_total Requests served by the code path of a flag's variant, as the application measured them with the ramp SDK.
# TYPE ramp_flag_requests_total counter
ramp_flag_requests_total{environment="production",flag="checkout",variant="off"} 1
ramp_flag_requests_total{environment="production",flag="checkout",variant="on"} 2
`
	// The buckets are inclusive and those of docs/metrics.md.
	for _, line := range []string{
		`variant="off",le="0.004"} 1`, `variant="off",le="0.00336"} 0`,
		`variant="on",le="0.0269"} 0`, `variant="on",le="0.032"} 1`, `variant="on",le="1.72"} 1`, `variant="on",le="2.05"} 2`, `variant="on",le="65.5"} 2`,
	} {
		if !strings.Contains(want, line) {
			t.Fatalf("the expected exposition has no %s", line)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}

	// Counters go on counting.
	c.Observe("checkout", "on", time.Millisecond, fail)
	more := `
# HELP ramp_flag_errors_total Requests served by the code path of a flag's variant that failed.
# TYPE ramp_flag_errors_total counter
ramp_flag_errors_total{environment="production",flag="checkout",variant="off"} 0
ramp_flag_errors_total{environment="production",flag="checkout",variant="on"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(more), promexport.ErrorsMetric); err != nil {
		t.Error(err)
	}
}

// bucketLines returns the exposition lines of the finite buckets of a
// checkout variant that observed the durations, in seconds.
func bucketLines(variant string, observed ...float64) string {
	var b strings.Builder
	for i, le := range sdk.LatencyBounds() {
		n := 0
		for _, d := range observed {
			if d <= le {
				n++
			}
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, `ramp_flag_request_duration_seconds_bucket{environment="production",flag="checkout",variant=%q,le="%s"} %d`,
			variant, strconv.FormatFloat(le, 'g', -1, 64), n)
	}
	return b.String()
}

// TestCollectorStartsAtZero checks that the canary's series exist at zero
// as soon as the flag is observed, before the canary serves anyone, so
// that Prometheus's increase() sees its first requests.
func TestCollectorStartsAtZero(t *testing.T) {
	c := newClient(t, sdktest.BoolFlag("checkout", "production", 0))
	c.Observe("checkout", "off", time.Millisecond, nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promexport.New(c))
	want := `
# HELP ramp_flag_requests_total Requests served by the code path of a flag's variant, as the application measured them with the ramp SDK.
# TYPE ramp_flag_requests_total counter
ramp_flag_requests_total{environment="production",flag="checkout",variant="off"} 1
ramp_flag_requests_total{environment="production",flag="checkout",variant="on"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), promexport.RequestsMetric); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(promexport.New(c), promexport.ErrorsMetric, promexport.DurationMetric); n != 4 {
		t.Errorf("%d errors and duration series, want 4", n)
	}
}

// TestCollectorWithoutEnvironment checks that a client that has no flags
// yet, and so no environment, exposes nothing.
func TestCollectorWithoutEnvironment(t *testing.T) {
	c, err := sdk.New(context.Background(), sdk.Config{URL: "http://127.0.0.1:1", Token: sdktest.Token, StartTimeout: time.Millisecond, ReportInterval: -1})
	if c == nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Observe("checkout", "on", time.Millisecond, nil)
	if n := testutil.CollectAndCount(promexport.New(c)); n != 0 {
		t.Errorf("%d metrics without an environment, want 0", n)
	}
}

// TestContractWithPrometheusSource checks that the collector exposes the
// names, labels and buckets the Prometheus metric source queries.
func TestContractWithPrometheusSource(t *testing.T) {
	for _, p := range [][2]string{
		{promexport.RequestsMetric, promsource.RequestsMetric},
		{promexport.ErrorsMetric, promsource.ErrorsMetric},
		{promexport.DurationMetric, promsource.DurationMetric},
		{promexport.LabelFlag, promsource.LabelFlag},
		{promexport.LabelVariant, promsource.LabelVariant},
		{promexport.LabelEnvironment, promsource.LabelEnvironment},
	} {
		if p[0] != p[1] {
			t.Errorf("the collector exposes %q where the Prometheus source reads %q", p[0], p[1])
		}
	}
	if !slices.Equal(sdk.LatencyBounds(), promsource.DefaultBuckets()) {
		t.Errorf("buckets %v, the Prometheus source's %v", sdk.LatencyBounds(), promsource.DefaultBuckets())
	}
}
