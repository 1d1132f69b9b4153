package main

// Benchmarks of the OFREP single-evaluation handler without the network:
// what one request costs inside the server, split into the token lookup
// and the rest, to read next to ofrepload's figures and CPU profile.
//
//	go test ./bench/ofrepload -run '^$' -bench . -benchmem

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/bench/internal/rampproc"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/hub"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// fixture is an API handler over a store with 100 flags at 50 % and an
// SDK token.
type fixture struct {
	store    *sqlite.Store
	tokenID  string
	sdkToken string
	admin    string
}

func newFixture(b *testing.B) *fixture {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ramp.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	for i := range 100 {
		if _, err := st.CreateFlag(ctx, ramp.Change{Actor: "bench"}, rampproc.BoolFlag("bench-"+strconv.Itoa(i), ramp.EnvProduction, 50)); err != nil {
			b.Fatal(err)
		}
	}
	plain, id, hash := ramp.NewToken(ramp.TokenSDK)
	if _, err := st.CreateToken(ctx, ramp.Change{Actor: "bench"}, ramp.Token{ID: id, Name: "bench", Kind: ramp.TokenSDK, Environment: ramp.EnvProduction, Hash: hash}); err != nil {
		b.Fatal(err)
	}
	return &fixture{store: st, tokenID: id, sdkToken: plain, admin: "bench-admin-token"}
}

func (f *fixture) handler(b *testing.B, metrics bool) http.Handler {
	b.Helper()
	h := hub.New(hub.Config{Source: f.store})
	if err := h.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256([]byte(f.admin))
	cfg := httpapi.Config{Store: f.store, Live: h, Counts: f.store, AdminTokenHash: sum[:]}
	if metrics {
		cfg.Registerer = prometheus.NewRegistry()
	}
	return httpapi.New(cfg)
}

// writer is a reusable ResponseWriter that keeps nothing.
type writer struct {
	h      http.Header
	status int
}

func (w *writer) Header() http.Header         { return w.h }
func (w *writer) WriteHeader(status int)      { w.status = status }
func (w *writer) Write(p []byte) (int, error) { return len(p), nil }

func benchEvaluate(b *testing.B, h http.Handler, token, query string) {
	bodies := make([][]byte, 1000)
	reqs := make([]*http.Request, len(bodies))
	for i := range reqs {
		bodies[i] = []byte(`{"context":{"targetingKey":"user-` + strconv.Itoa(i) + `"}}`)
		r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/ofrep/v1/evaluate/flags/bench-"+strconv.Itoa(i%100)+query, nil)
		if err != nil {
			b.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("Content-Type", "application/json")
		reqs[i] = r
	}
	w := &writer{h: http.Header{}}
	rd := new(bytes.Reader)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := reqs[i]
		rd.Reset(bodies[i])
		r.Body = readCloser{rd}
		r.ContentLength = int64(len(bodies[i]))
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
		if i++; i == len(reqs) {
			i = 0
		}
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// BenchmarkEvaluateFlag is one POST /ofrep/v1/evaluate/flags/{key}
// through the API handler: with an SDK token (looked up in the store on
// every request), with the configured admin token (a SHA-256 and a
// compare), and without the OFREP metrics.
func BenchmarkEvaluateFlag(b *testing.B) {
	f := newFixture(b)
	withMetrics := f.handler(b, true)
	b.Run("sdk-token", func(b *testing.B) { benchEvaluate(b, withMetrics, f.sdkToken, "") })
	b.Run("admin-token", func(b *testing.B) { benchEvaluate(b, withMetrics, f.admin, "?environment=production") })
	b.Run("admin-token-no-metrics", func(b *testing.B) {
		benchEvaluate(b, f.handler(b, false), f.admin, "?environment=production")
	})
}

// BenchmarkTokenLookup is the store read that authenticates an SDK token.
func BenchmarkTokenLookup(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.store.GetToken(ctx, f.tokenID); err != nil {
			b.Fatal(err)
		}
	}
}
