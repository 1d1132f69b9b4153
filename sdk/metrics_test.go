package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/sdk"
	"github.com/ramp-flags/ramp/sdk/internal/sdktest"
)

var errFailed = errors.New("failed")

// statsOf returns the stats of (flag, variant), failing the test if there
// are none.
func statsOf(t *testing.T, c *sdk.Client, flag, variant string) sdk.Stats {
	t.Helper()
	for _, s := range c.Stats() {
		if s.Flag == flag && s.Variant == variant {
			return s
		}
	}
	t.Fatalf("no stats for %s/%s in %+v", flag, variant, c.Stats())
	return sdk.Stats{}
}

// cumulative returns the cumulative counts of the SDK's buckets that hold
// the given numbers of requests, by bucket index.
func cumulative(per map[int]float64) []float64 {
	out := make([]float64, ramp.NumLatencyBuckets)
	sum := 0.0
	for i := range out {
		sum += per[i]
		out[i] = sum
	}
	return out
}

// TestObserveStats checks the counters Observe keeps: requests, errors,
// cumulative buckets whose bounds are inclusive, and the latency sum.
func TestObserveStats(t *testing.T) {
	srv := sdktest.NewServer(t, env, nil, nil)
	c := newClient(t, srv, sdktest.NewClock())

	if got := sdk.LatencyBounds(); !slices.Equal(got, ramp.LatencyBounds()) || len(got) != 65 || got[8] != 0.004 || got[64] != 65.5 {
		t.Fatalf("LatencyBounds = %v", got)
	}
	durations := []time.Duration{
		0, -time.Second, // negative counts as 0
		4 * time.Millisecond, 4*time.Millisecond + 1, // a bound is inclusive
		80 * time.Millisecond, time.Second, 11 * time.Second, 65500 * time.Millisecond, time.Hour,
	}
	for i, d := range durations {
		var err error
		if i%3 == 0 {
			err = errFailed
		}
		c.Observe("checkout", "on", d, err)
	}
	c.Observe("checkout", "off", time.Millisecond, nil)

	got := statsOf(t, c, "checkout", "on")
	want := sdk.Stats{Flag: "checkout", Variant: "on", Requests: 9, Errors: 3}
	// Requests per bucket, by the index of its bound: 0 and -1s at 1ms,
	// 4ms at 0.004, 4ms+1ns at 0.00476, 80ms at 0.0905, 1s at 1.02, 11s
	// at 11.6, 65.5s at the last bound; the hour is in +Inf only.
	per := map[int]uint64{0: 2, 8: 1, 9: 1, 26: 1, 40: 1, 54: 1, 64: 1}
	var cum uint64
	for i := range want.Buckets {
		cum += per[i]
		want.Buckets[i] = cum
	}
	wantSum := (4*time.Millisecond + 4*time.Millisecond + 1 + 80*time.Millisecond + time.Second + 11*time.Second + 65500*time.Millisecond + time.Hour).Seconds()
	if math.Abs(got.LatencySum-wantSum) > 1e-9 {
		t.Errorf("LatencySum = %v, want %v", got.LatencySum, wantSum)
	}
	got.LatencySum = 0
	if got != want {
		t.Errorf("stats:\n got %+v\nwant %+v", got, want)
	}
	all := c.Stats()
	if len(all) != 2 || all[0].Variant != "off" || all[1].Variant != "on" {
		t.Errorf("Stats are not sorted by flag and variant: %+v", all)
	}
}

// TestObserveIgnores checks the calls Observe ignores, and that Dropped
// counts those that are mistakes.
func TestObserveIgnores(t *testing.T) {
	srv := sdktest.NewServer(t, env, nil, nil)
	c := newClient(t, srv, sdktest.NewClock())
	c.Observe("", "on", time.Millisecond, nil)
	c.Observe("checkout", "", time.Millisecond, nil) // the caller's default was served
	if n := c.Dropped(); n != 0 || len(c.Stats()) != 0 {
		t.Errorf("empty keys: Dropped %d, Stats %+v; want nothing", n, c.Stats())
	}
	c.Observe("Check Out", "on", time.Millisecond, nil)
	c.Observe("checkout", strings.Repeat("v", ramp.MaxKeyLen+1), time.Millisecond, nil)
	if n := c.Dropped(); n != 2 || len(c.Stats()) != 0 {
		t.Errorf("invalid keys: Dropped %d, Stats %+v; want 2 and nothing", n, c.Stats())
	}
}

// TestObserveMaxSeries checks that Observe counts at most MaxSeries pairs.
func TestObserveMaxSeries(t *testing.T) {
	srv := sdktest.NewServer(t, env, nil, nil)
	c := newClient(t, srv, sdktest.NewClock(), func(cfg *sdk.Config) { cfg.ReportInterval = -1 })
	for i := range sdk.MaxSeries + 5 {
		c.Observe(fmt.Sprintf("flag-%d", i%100), fmt.Sprintf("v%d", i), time.Millisecond, nil)
	}
	c.Observe("flag-0", "v0", time.Millisecond, nil) // known: still counted
	if n := len(c.Stats()); n != sdk.MaxSeries {
		t.Errorf("%d series, want %d", n, sdk.MaxSeries)
	}
	if n := c.Dropped(); n != 5 {
		t.Errorf("Dropped = %d, want 5", n)
	}
	if s := statsOf(t, c, "flag-0", "v0"); s.Requests != 2 {
		t.Errorf("flag-0/v0 has %d requests, want 2", s.Requests)
	}
}

// TestObserveConcurrent observes from many goroutines while reading: no
// count is lost, and no reading shows more errors than requests.
func TestObserveConcurrent(t *testing.T) {
	srv := sdktest.NewServer(t, env, nil, nil)
	c := newClient(t, srv, sdktest.NewClock(), func(cfg *sdk.Config) { cfg.ReportInterval = -1 })
	const workers, each = 8, 5000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var err error
				if i%2 == 0 {
					err = errFailed
				}
				c.Observe("checkout", []string{"on", "off"}[w%2], time.Duration(i)*time.Microsecond, err)
			}
		})
	}
	done := make(chan struct{})
	var reads sync.WaitGroup
	reads.Go(func() {
		for {
			for _, s := range c.Stats() {
				if s.Errors > s.Requests || s.Buckets[ramp.NumLatencyBuckets-1] > s.Requests {
					t.Errorf("inconsistent reading: %+v", s)
					return
				}
			}
			select {
			case <-done:
				return
			default:
			}
		}
	})
	wg.Wait()
	close(done)
	reads.Wait()
	for _, v := range []string{"on", "off"} {
		s := statsOf(t, c, "checkout", v)
		if s.Requests != workers/2*each || s.Errors != workers/2*each/2 {
			t.Errorf("%s: %d requests, %d errors; want %d and %d", v, s.Requests, s.Errors, workers/2*each, workers/2*each/2)
		}
	}
}

// reported sums the reports' counts per flag/variant.
func reported(reports ...sdktest.Report) map[string]ramp.Counts {
	out := map[string]ramp.Counts{}
	for _, r := range reports {
		for _, c := range r.Counts {
			k := c.Flag + "/" + c.Variant
			sum := out[k]
			sum.Flag, sum.Variant = c.Flag, c.Variant
			sum.Requests += c.Requests
			sum.Errors += c.Errors
			if c.Latency != nil {
				if sum.Latency == nil {
					sum.Latency = &ramp.Histogram{Bounds: c.Latency.Bounds, Counts: make([]float64, len(c.Latency.Counts))}
				}
				sum.Latency.Count += c.Latency.Count
				for i, n := range c.Latency.Counts {
					sum.Latency.Counts[i] += n
				}
			}
			out[k] = sum
		}
	}
	return out
}

// TestReportEveryInterval checks the reporter: nothing before the first
// observation, then every ReportInterval the counts since the last report,
// with the latency histogram of the fixed bounds.
func TestReportEveryInterval(t *testing.T) {
	srv := sdktest.NewServer(t, env, nil, nil)
	clk := sdktest.NewClock()
	c := newClient(t, srv, clk)
	if slices.Contains(clk.Pending(), sdk.DefaultReportInterval) {
		t.Fatal("the reporter started a timer before anything was observed")
	}
	isReport := func(d time.Duration) bool { return d == sdk.DefaultReportInterval }

	c.Observe("checkout", "on", 3*time.Millisecond, nil)
	c.Observe("checkout", "on", 300*time.Millisecond, errFailed)
	c.Observe("checkout", "off", 20*time.Millisecond, nil)
	_, left := clk.WaitTimer(t, isReport)
	clk.Advance(left)
	r := srv.NextReport(t)
	if r.Query != "" {
		t.Errorf("an SDK token's report has the query %q", r.Query)
	}
	got := reported(r)
	on, off := got["checkout/on"], got["checkout/off"]
	if len(got) != 2 || on.Requests != 2 || on.Errors != 1 || off.Requests != 1 || off.Errors != 0 {
		t.Fatalf("first report: %+v", r.Counts)
	}
	if h := on.Latency; h == nil || !slices.Equal(h.Bounds, sdk.LatencyBounds()) || h.Count != 2 ||
		!slices.Equal(h.Counts, cumulative(map[int]float64{7: 1, 33: 1})) { // 3ms ≤ 0.00336, 300ms ≤ 0.304
		t.Errorf("first report's latency of on: %+v", on.Latency)
	}

	// Only what is new goes in the next report.
	c.Observe("checkout", "on", time.Second, nil)
	_, left = clk.WaitTimer(t, isReport)
	clk.Advance(left)
	r = srv.NextReport(t)
	if len(r.Counts) != 1 || r.Counts[0].Variant != "on" || r.Counts[0].Requests != 1 || r.Counts[0].Errors != 0 {
		t.Errorf("second report: %+v", r.Counts)
	}

	// Nothing new, nothing sent.
	_, left = clk.WaitTimer(t, isReport)
	clk.Advance(left)
	clk.WaitTimer(t, isReport) // the reporter looked and waits again
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if rs := srv.Reports(); len(rs) != 0 {
		t.Errorf("reports with nothing new: %+v", rs)
	}
}

// TestReportRetry checks that counts of a failed report go with the next
// one when the failure may pass, and are dropped when it cannot.
func TestReportRetry(t *testing.T) {
	srv := sdktest.NewServer(t, env, nil, nil)
	c := newClient(t, srv, sdktest.NewClock())
	ctx := t.Context()

	for _, code := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		srv.SetMetricsStatus(code)
		c.Observe("checkout", "on", time.Millisecond, errFailed)
		if err := c.Flush(ctx); err == nil || !strings.Contains(err.Error(), fmt.Sprint(code)) {
			t.Errorf("Flush against %d: %v", code, err)
		}
	}
	srv.SetMetricsStatus(0)
	c.Observe("checkout", "on", time.Millisecond, nil)
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := reported(srv.NextReport(t))["checkout/on"]; got.Requests != 3 || got.Errors != 2 {
		t.Errorf("after two failed reports: %+v, want 3 requests and 2 errors", got)
	}

	// A refused report is not sent again.
	srv.SetMetricsStatus(http.StatusUnprocessableEntity)
	c.Observe("checkout", "on", time.Millisecond, errFailed)
	if err := c.Flush(ctx); err == nil {
		t.Error("Flush against 422: no error")
	}
	srv.SetMetricsStatus(0)
	c.Observe("checkout", "on", time.Millisecond, nil)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := reported(srv.NextReport(t))["checkout/on"]; got.Requests != 1 || got.Errors != 0 {
		t.Errorf("after a refused report: %+v, want only the new request", got)
	}

	// The server down: kept, and sent once it is back.
	srv.Kill()
	c.Observe("checkout", "on", time.Millisecond, nil)
	if err := c.Flush(ctx); err == nil {
		t.Error("Flush with the server down: no error")
	}
	srv.Restart()
	// The first report may find a connection the old server closed: a
	// failure worth retrying, which keeps the counts.
	for i := 0; ; i++ {
		err := c.Flush(ctx)
		if err == nil {
			break
		}
		if i == 3 {
			t.Fatalf("Flush after the server came back: %v", err)
		}
	}
	if got := reported(srv.NextReport(t))["checkout/on"]; got.Requests != 1 {
		t.Errorf("after the server came back: %+v", got)
	}
}

// TestReportBatches checks that a report of more pairs than the server
// takes at once goes in several requests.
func TestReportBatches(t *testing.T) {
	srv := sdktest.NewServer(t, env, nil, nil)
	c := newClient(t, srv, sdktest.NewClock())
	n := sdk.MaxReportEntries + 100
	for i := range n {
		c.Observe(fmt.Sprintf("flag-%d", i%10), fmt.Sprintf("v%d", i), time.Millisecond, nil)
	}
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	r1, r2 := srv.NextReport(t), srv.NextReport(t)
	if len(r1.Counts) != sdk.MaxReportEntries || len(r2.Counts) != 100 || len(reported(r1, r2)) != n {
		t.Errorf("reports of %d and %d entries, %d pairs; want %d, 100 and %d", len(r1.Counts), len(r2.Counts), len(reported(r1, r2)), sdk.MaxReportEntries, n)
	}
}

// TestCloseReports checks that Close sends what was not reported yet,
// and that an admin token's report names the environment.
func TestCloseReports(t *testing.T) {
	srv := sdktest.NewServer(t, env, nil, nil)
	c := newClient(t, srv, sdktest.NewClock(), func(cfg *sdk.Config) { cfg.Token, cfg.Environment = sdktest.AdminToken, env })
	c.Observe("checkout", "on", time.Millisecond, errFailed)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r := srv.NextReport(t)
	if q, _ := url.ParseQuery(r.Query); q.Get("environment") != env {
		t.Errorf("an admin token's report has the query %q", r.Query)
	}
	if got := reported(r)["checkout/on"]; got.Requests != 1 || got.Errors != 1 {
		t.Errorf("Close reported %+v", r.Counts)
	}

	// Close reports its failure.
	srv2 := sdktest.NewServer(t, env, nil, nil)
	c2 := newClient(t, srv2, sdktest.NewClock())
	c2.Observe("checkout", "on", time.Millisecond, nil)
	srv2.SetMetricsStatus(http.StatusInternalServerError)
	if err := c2.Close(); err == nil || !strings.Contains(err.Error(), "report") {
		t.Errorf("Close with the report failing = %v", err)
	}
}

// TestReportDisabled checks that a negative ReportInterval sends nothing,
// not even at Close, while Observe still counts and Flush still reports.
func TestReportDisabled(t *testing.T) {
	srv := sdktest.NewServer(t, env, nil, nil)
	clk := sdktest.NewClock()
	c := newClient(t, srv, clk, func(cfg *sdk.Config) { cfg.ReportInterval = -1 })
	c.Observe("checkout", "on", time.Millisecond, nil)
	if slices.Contains(clk.Pending(), sdk.DefaultReportInterval) {
		t.Error("a client with reporting disabled started the reporter")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if rs := srv.Reports(); len(rs) != 0 {
		t.Errorf("reports with reporting disabled: %+v", rs)
	}
	if s := statsOf(t, c, "checkout", "on"); s.Requests != 1 {
		t.Errorf("stats %+v", s)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := reported(srv.NextReport(t))["checkout/on"]; got.Requests != 1 {
		t.Errorf("Flush reported %+v", got)
	}
}

func TestReportIntervalConfig(t *testing.T) {
	for _, d := range []time.Duration{time.Millisecond, sdk.MinReportInterval - 1} {
		c, err := sdk.New(context.Background(), sdk.Config{URL: "http://127.0.0.1:1", Token: sdktest.Token, ReportInterval: d})
		if c != nil || err == nil || !strings.Contains(err.Error(), "ReportInterval") {
			t.Errorf("ReportInterval %v: %v, %v; want an error naming ReportInterval", d, c, err)
		}
	}
}

// TestStatsIncludesOtherVariants checks that Stats shows every variant of
// an observed flag from the first observation, at zero until it is
// served, and that reports leave the zeros out.
func TestStatsIncludesOtherVariants(t *testing.T) {
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("checkout", env, 0)}, nil)
	c := newClient(t, srv, sdktest.NewClock())
	c.Observe("checkout", "off", time.Millisecond, nil)
	c.Observe("unknown", "blue", time.Millisecond, nil) // not a flag the client has: no siblings
	got := c.Stats()
	var pairs []string
	for _, s := range got {
		pairs = append(pairs, fmt.Sprintf("%s/%s=%d", s.Flag, s.Variant, s.Requests))
	}
	if want := []string{"checkout/off=1", "checkout/on=0", "unknown/blue=1"}; !slices.Equal(pairs, want) {
		t.Errorf("Stats = %v, want %v", pairs, want)
	}
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := reported(srv.NextReport(t))
	if len(r) != 2 || r["checkout/on"].Flag != "" {
		t.Errorf("report %+v, want only the observed pairs", r)
	}
}
