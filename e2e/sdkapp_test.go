package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/sdk"
	"github.com/ramp-flags/ramp/sdk/promexport"
)

// appTraffic is what an sdkApp serves: which boolean flags each request
// evaluates, how many requests, how long they take and which code paths
// fail.
type appTraffic struct {
	flags []string
	// perTick is how many requests the application serves every 10 ms:
	// 50 is about 5,000 a second, 100 about 10,000.
	perTick int
	// Request n takes latencyMS + n%spreadMS milliseconds on every path.
	latencyMS, spreadMS int
	// failEvery fails request n on a flag's variant when n is a multiple
	// of failEvery[flagVariant{flag, variant}]; the paths it does not name
	// never fail. sdkApp.setFailEvery changes it while the traffic runs.
	failEvery map[flagVariant]int64
}

// flagVariant names the code path of one variant of a flag.
type flagVariant struct{ flag, variant string }

// sdkApp is an application that embeds the Go SDK and drives its own
// traffic until the test ends or close is called: every 10 ms a batch of
// requests, each for a new user, each evaluating every flag and measuring
// the code path of the variant it got with Observe. The SDK reports the
// counts to the server every 200 ms; promexport can export them too.
type sdkApp struct {
	t      *testing.T
	client *sdk.Client
	// failEvery holds, for the on and off path of every flag, one request
	// in how many fails (0: none). The map is fixed once the traffic runs.
	failEvery map[flagVariant]*atomic.Int64
	stop      chan struct{}
	wg        sync.WaitGroup
}

// startSDKApp creates an SDK token for production on s, starts the SDK
// with it and starts the traffic. It fails the test if the SDK does not
// start; close runs when the test ends.
func startSDKApp(t *testing.T, s *server, tr appTraffic) *sdkApp {
	t.Helper()
	if len(tr.flags) == 0 || tr.perTick <= 0 || tr.latencyMS < 0 || tr.spreadMS <= 0 {
		t.Fatalf("startSDKApp: want flags, perTick > 0, latencyMS >= 0 and spreadMS > 0; got %+v", tr)
	}
	a := &sdkApp{t: t, failEvery: map[flagVariant]*atomic.Int64{}, stop: make(chan struct{})}
	for _, key := range tr.flags {
		for _, v := range []string{"on", "off"} {
			a.failEvery[flagVariant{key, v}] = new(atomic.Int64)
		}
	}
	for p, every := range tr.failEvery {
		a.setFailEvery(p.flag, p.variant, every)
	}
	a.client = startProductionSDK(t, s, "shop-"+strings.Join(tr.flags, "-"), sdk.Config{ReportInterval: 200 * time.Millisecond})
	a.wg.Go(func() { a.serve(tr) })
	t.Cleanup(a.close)
	return a
}

// serve runs the traffic until a.stop is closed.
func (a *sdkApp) serve(tr appTraffic) {
	// The evaluations are local; they must not end with the test's context,
	// which is cancelled before close runs.
	ctx := context.Background()
	errFailed := errors.New("the code path failed")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; {
		select {
		case <-a.stop:
			return
		case <-tick.C:
		}
		for range tr.perTick {
			n++
			user := sdk.EvalContext{TargetingKey: fmt.Sprintf("user-%d", n)}
			for _, key := range tr.flags {
				v := a.client.BoolDetail(ctx, key, user, false).Variant
				var err error
				if every := a.failEvery[flagVariant{key, v}]; every != nil {
					if e := every.Load(); e > 0 && int64(n)%e == 0 {
						err = errFailed
					}
				}
				a.client.Observe(key, v, time.Duration(tr.latencyMS+n%tr.spreadMS)*time.Millisecond, err)
			}
		}
	}
}

// setFailEvery makes one request in every (0: none) fail on the variant's
// code path of flag, from the next request on. It is safe to call while
// the traffic runs; the path must be the on or off path of one of the
// application's flags.
func (a *sdkApp) setFailEvery(flag, variant string, every int64) {
	a.t.Helper()
	p := a.failEvery[flagVariant{flag, variant}]
	if p == nil || every < 0 {
		a.t.Fatalf("setFailEvery(%q, %q, %d): want the on or off path of one of the application's flags and every >= 0", flag, variant, every)
	}
	p.Store(every)
}

// close stops the traffic and closes the SDK, which sends its last
// report. It may be called more than once.
func (a *sdkApp) close() {
	select {
	case <-a.stop:
		return
	default:
	}
	close(a.stop)
	a.wg.Wait()
	a.client.Close()
}

// startProductionSDK creates an SDK token for production on s, named
// name, and starts the Go SDK with it and cfg (whose URL and Token it
// sets). It fails the test if the SDK does not start; the SDK is closed
// when the test ends.
func startProductionSDK(t *testing.T, s *server, name string, cfg sdk.Config) *sdk.Client {
	t.Helper()
	tok, err := s.client().CreateToken(t.Context(), client.TokenRequest{Name: name, Kind: ramp.TokenSDK, Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.URL, cfg.Token = s.url, tok.Secret
	c, err := sdk.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("start the SDK: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// flagRoute is a route of the HTTP application serveSDKApp runs: GET path
// runs the code path of the variant sdk.Middleware evaluated for flag and
// the user in ?user=. The on path takes onDelay and fails one request in
// onFailEvery (0: none) with a 500; the off path does neither.
type flagRoute struct {
	path, flag  string
	onDelay     time.Duration
	onFailEvery int64
}

// serveSDKApp serves an HTTP application instrumented with the SDK c on ln
// until the test ends: the routes, and GET /metrics, the SDK's figures
// exported with promexport for a Prometheus to scrape.
func serveSDKApp(t *testing.T, ln net.Listener, c *sdk.Client, routes ...flagRoute) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(promexport.New(c))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	userOf := func(r *http.Request) sdk.EvalContext { return sdk.EvalContext{TargetingKey: r.URL.Query().Get("user")} }
	for _, rt := range routes {
		var n atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sdk.VariantFrom(r.Context(), rt.flag) == "on" {
				time.Sleep(rt.onDelay)
				if rt.onFailEvery > 0 && n.Add(1)%rt.onFailEvery == 0 {
					http.Error(w, "the new path failed", http.StatusInternalServerError)
					return
				}
			}
			io.WriteString(w, "ok\n")
		})
		mux.Handle("GET "+rt.path, sdk.Middleware(c, rt.flag, userOf)(h))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}
