package sdk_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/sdk"
	"github.com/ramp-flags/ramp/sdk/internal/sdktest"
)

func userOf(r *http.Request) sdk.EvalContext {
	return sdk.EvalContext{TargetingKey: r.Header.Get("X-User")}
}

// TestMiddleware serves requests through the middleware: the handler sees
// the variant the SDK evaluates for the user, and each request is
// observed under it with its duration, 5xx as an error.
func TestMiddleware(t *testing.T) {
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("checkout", env, 50)}, nil)
	clk := sdktest.NewClock()
	c := newClient(t, srv, clk, func(cfg *sdk.Config) { cfg.ReportInterval = -1 })

	h := sdk.Middleware(c, "checkout", userOf)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := sdk.VariantFrom(r.Context(), "checkout")
		w.Header().Set("X-Variant", v)
		if v == "on" {
			clk.Advance(300 * time.Millisecond) // the new path is slow...
			if r.URL.Query().Get("fail") != "" {
				http.Error(w, "broken", http.StatusBadGateway) // ...and fails when asked
				return
			}
			w.WriteHeader(http.StatusCreated)
			return
		}
		clk.Advance(20 * time.Millisecond)
		if r.URL.Query().Get("fail") != "" {
			w.WriteHeader(http.StatusNotFound) // a client error is not an error of the path
		}
		_, _ = w.Write([]byte("ok"))
	}))

	want := map[string]*sdk.Stats{"on": {}, "off": {}}
	for i := range 200 {
		user := fmt.Sprintf("user-%d", i)
		target := "/checkout"
		if i%4 == 0 {
			target += "?fail=1"
		}
		r := httptest.NewRequest("GET", target, nil)
		r.Header.Set("X-User", user)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		v := w.Header().Get("X-Variant")
		if d := c.BoolDetail(context.Background(), "checkout", sdk.EvalContext{TargetingKey: user}, false); d.Variant != v {
			t.Fatalf("%s: the handler saw variant %q, the SDK evaluates %q", user, v, d.Variant)
		}
		want[v].Requests++
		if v == "on" && i%4 == 0 {
			want[v].Errors++
		}
	}
	if want["on"].Requests == 0 || want["off"].Requests == 0 {
		t.Fatalf("a 50%% flag served one variant to 200 users: %+v %+v", want["on"], want["off"])
	}
	for v, w := range want {
		got := statsOf(t, c, "checkout", v)
		if got.Requests != w.Requests || got.Errors != w.Errors {
			t.Errorf("%s: %d requests, %d errors; want %d and %d", v, got.Requests, got.Errors, w.Requests, w.Errors)
		}
		// on took 300 ms: above 0.256, within 0.304; off 20 ms: above
		// 0.019, within 0.0226.
		slow := map[string]int{"on": 33, "off": 18}[v]
		if got.Buckets[slow-1] != 0 || got.Buckets[slow] != w.Requests {
			t.Errorf("%s: buckets %v, want every request from bucket %d on", v, got.Buckets, slow)
		}
	}
}

// TestMiddlewareNoVariant checks that a request for which the flag serves
// no variant runs the handler and is not observed.
func TestMiddlewareNoVariant(t *testing.T) {
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("checkout", env, 50)}, nil)
	c := newClient(t, srv, sdktest.NewClock())
	ran := 0
	for _, flag := range []string{"checkout", "no-such-flag"} {
		h := sdk.Middleware(c, flag, userOf)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran++
			if v := sdk.VariantFrom(r.Context(), flag); v != "" {
				t.Errorf("%s: VariantFrom = %q, want none", flag, v)
			}
		}))
		// No targeting key: the split cannot bucket the request.
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	if ran != 2 || len(c.Stats()) != 0 {
		t.Errorf("handler ran %d times, stats %+v; want 2 and none", ran, c.Stats())
	}
	if v := sdk.VariantFrom(context.Background(), "checkout"); v != "" {
		t.Errorf("VariantFrom of a bare context = %q", v)
	}
}

// TestMiddlewarePanic checks that a handler's panic is observed as an
// error and goes on to the server.
func TestMiddlewarePanic(t *testing.T) {
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("checkout", env, 100)}, nil)
	c := newClient(t, srv, sdktest.NewClock())
	h := sdk.Middleware(c, "checkout", userOf)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	}))
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the handler's panic", r)
			}
		}()
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-User", "u")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}()
	if s := statsOf(t, c, "checkout", "on"); s.Requests != 1 || s.Errors != 1 {
		t.Errorf("after a panic: %+v", s)
	}
}

// TestMiddlewareNests checks two middlewares for two flags, and that the
// response writer still flushes.
func TestMiddlewareNests(t *testing.T) {
	srv := sdktest.NewServer(t, env, []*ramp.Flag{sdktest.BoolFlag("checkout", env, 100), sdktest.BoolFlag("search", env, 0)}, nil)
	c := newClient(t, srv, sdktest.NewClock())
	var got [2]string
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = [2]string{sdk.VariantFrom(r.Context(), "checkout"), sdk.VariantFrom(r.Context(), "search")}
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the middleware: %v", err)
		}
		w.(http.Flusher).Flush()
	})
	h := sdk.Middleware(c, "checkout", userOf)(sdk.Middleware(c, "search", userOf)(inner))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-User", "u")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got != [2]string{"on", "off"} || !w.Flushed {
		t.Errorf("variants %v, flushed %v; want [on off] and flushed", got, w.Flushed)
	}
	if on, off := statsOf(t, c, "checkout", "on"), statsOf(t, c, "search", "off"); on.Requests != 1 || off.Requests != 1 {
		t.Errorf("stats %+v, want one request for each flag", c.Stats())
	}
}

func TestMiddlewarePanicsOnMisuse(t *testing.T) {
	srv := sdktest.NewServer(t, env, nil, nil)
	c := newClient(t, srv, sdktest.NewClock())
	for name, f := range map[string]func(){
		"nil client": func() { sdk.Middleware(nil, "checkout", userOf) },
		"nil key":    func() { sdk.Middleware(c, "checkout", nil) },
		"bad flag":   func() { sdk.Middleware(c, "Check Out", userOf) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
