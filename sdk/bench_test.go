package sdk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/sdk"
	"github.com/ramp-flags/ramp/sdk/internal/sdktest"
)

// benchClient returns a live client serving a 5 % flag among 1,000.
func benchClient(b *testing.B) *sdk.Client {
	b.Helper()
	flags := []*ramp.Flag{sdktest.BoolFlag("checkout-v2", "production", 5)}
	for i := range 999 {
		flags = append(flags, sdktest.BoolFlag(fmt.Sprintf("flag-%d", i), "production", 5))
	}
	srv := sdktest.NewServer(b, "production", flags, nil)
	c, err := sdk.New(context.Background(), sdk.Config{URL: srv.URL, Token: sdktest.Token})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkBool is the hot path of a rollout in an application: a
// percentage flag evaluated for one targeting key.
func BenchmarkBool(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	ec := sdk.EvalContext{TargetingKey: "user-4821"}
	b.ReportAllocs()
	var v bool
	for b.Loop() {
		v = c.Bool(ctx, "checkout-v2", ec, false)
	}
	_ = v
}

// BenchmarkBoolParallel is BenchmarkBool from every core at once, as the
// request handlers of a busy server call it.
func BenchmarkBoolParallel(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ec := sdk.EvalContext{TargetingKey: "user-4821"}
		for pb.Next() {
			c.Bool(ctx, "checkout-v2", ec, false)
		}
	})
}

// BenchmarkBoolDetail is the same evaluation with its reason and variant.
func BenchmarkBoolDetail(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	ec := sdk.EvalContext{TargetingKey: "user-4821"}
	b.ReportAllocs()
	var d sdk.Detail[bool]
	for b.Loop() {
		d = c.BoolDetail(ctx, "checkout-v2", ec, false)
	}
	if d.Reason != sdk.ReasonSplit {
		b.Fatal(d)
	}
}

// BenchmarkObserve is the measurement of one request in an application:
// a known (flag, variant) counted with its latency.
func BenchmarkObserve(b *testing.B) {
	c := benchClient(b)
	for i := range 100 {
		c.Observe(fmt.Sprintf("flag-%d", i), "on", time.Millisecond, nil)
	}
	c.Observe("checkout-v2", "off", time.Millisecond, nil)
	c.Observe("checkout-v2", "on", time.Millisecond, nil)
	b.ReportAllocs()
	for b.Loop() {
		c.Observe("checkout-v2", "on", 42*time.Millisecond, nil)
	}
}

// BenchmarkObserveParallel is BenchmarkObserve from every core at once,
// on the same (flag, variant): the worst case for the counters.
func BenchmarkObserveParallel(b *testing.B) {
	c := benchClient(b)
	c.Observe("checkout-v2", "on", time.Millisecond, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Observe("checkout-v2", "on", 42*time.Millisecond, nil)
		}
	})
}

// BenchmarkStats reads the counters of 1,000 pairs, as a Prometheus
// scrape through sdk/promexport does.
func BenchmarkStats(b *testing.B) {
	c := benchClient(b)
	for i := range 500 {
		c.Observe(fmt.Sprintf("flag-%d", i), "on", time.Millisecond, nil)
		c.Observe(fmt.Sprintf("flag-%d", i), "off", time.Millisecond, nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Stats()
	}
}
