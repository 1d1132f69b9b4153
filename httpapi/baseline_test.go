package httpapi_test

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/sdksource"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// newBaselineEnv is a server on the real SQLite store with the SDK-counts
// source, and the facts of GET /api/v1/server.
func newBaselineEnv(t *testing.T, facts httpapi.Facts) *testEnv {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sum := sha256.Sum256([]byte(rootToken))
	logs := &syncBuffer{}
	api := httpapi.New(httpapi.Config{
		Store: st, RolloutStore: st, Baselines: st, Logger: slog.New(slog.NewTextHandler(logs, nil)), AdminTokenHash: sum[:],
		Sources: map[string]rollout.Source{rollout.SourceSDK: sdksource.New(st)},
		Facts:   facts,
	})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &testEnv{t: t, srv: srv, api: api, store: st, logs: logs, alice: rootToken, client: srv.Client()}
}

// reportCounts stores what the SDKs of an application reported at one
// time: requests of variant, errors of them, each taking ms milliseconds.
func reportCounts(t *testing.T, st *sqlite.Store, at time.Time, flag, variant string, requests, errors float64, ms float64) {
	t.Helper()
	h := &ramp.Histogram{Bounds: ramp.LatencyBounds(), Counts: make([]float64, len(ramp.LatencyBounds())), Count: requests}
	for i, b := range h.Bounds {
		if b >= ms/1000 {
			h.Counts[i] = requests
		}
	}
	if err := st.AddCounts(t.Context(), "production", at, []ramp.Counts{{Flag: flag, Variant: variant, Requests: requests, Errors: errors, Latency: h}}); err != nil {
		t.Fatal(err)
	}
}

// TestBaselineRecordAndRead records a baseline from SDK counts in the
// real store and reads it back next to the live figures.
func TestBaselineRecordAndRead(t *testing.T) {
	e := newBaselineEnv(t, httpapi.Facts{})
	e.createFlag(boolFlag("checkout"))
	now := time.Now()
	reportCounts(t, e.store, now.Add(-20*time.Minute), "checkout", "off", 2000, 10, 40)
	reportCounts(t, e.store, now.Add(-10*time.Minute), "checkout", "off", 1600, 8, 40)
	reportCounts(t, e.store, now.Add(-2*time.Hour), "checkout", "off", 99999, 99999, 40) // outside the window
	// The canary fails more; a baseline is of the off variant alone. (The
	// server counts reports at their arrival: none lands in the past of
	// a window already read, which the SDK source remembers.)
	reportCounts(t, e.store, now.Add(-time.Minute), "checkout", "on", 400, 40, 90)

	var b ramp.Baseline
	e.do(e.alice, "POST", "/api/v1/flags/checkout/baseline?window=1h", nil).want(t, 201).decode(t, &b)
	if b.Flag != "checkout" || b.Environment != "production" || b.Source != "sdk" || b.Variant != "off" || b.RecordedBy != "root" && b.RecordedBy != "admin" {
		t.Errorf("recorded baseline %+v", b)
	}
	if b.Requests != 3600 || b.Errors != 18 || math.Abs(b.ErrorRate-0.005) > 1e-12 {
		t.Errorf("counts %v/%v (rate %v), want 3600/18 (0.5%%)", b.Requests, b.Errors, b.ErrorRate)
	}
	if math.Abs(b.Throughput-1) > 0.01 {
		t.Errorf("throughput %v/s, want 3600 requests over 1h = 1/s", b.Throughput)
	}
	lo, hi := bucketOf(0.040)
	if !(b.P50 > lo && b.P50 <= b.P90 && b.P90 <= b.P99 && b.P99 <= hi) {
		t.Errorf("quantiles p50 %v p90 %v p99 %v, want rising within the bucket of 40 ms, (%v, %v]", b.P50, b.P90, b.P99, lo, hi)
	}
	if d := b.To.Sub(b.From); d != time.Hour {
		t.Errorf("window %v, want 1h", d)
	}
	if b.Latency == nil || b.Latency.Count != 3600 {
		t.Errorf("latency histogram %+v, want 3600 observations", b.Latency)
	}

	var v struct {
		Stored *ramp.Baseline `json:"stored"`
		Live   *struct {
			Source   string       `json:"source"`
			Window   string       `json:"window"`
			Baseline ramp.Figures `json:"baseline"`
			Canary   ramp.Figures `json:"canary"`
		} `json:"live"`
	}
	e.do(e.alice, "GET", "/api/v1/flags/checkout/baseline", nil).want(t, 200).decode(t, &v)
	if v.Stored == nil || v.Stored.Requests != 3600 {
		t.Fatalf("stored %+v", v.Stored)
	}
	if v.Live == nil || v.Live.Source != "sdk" || v.Live.Window != "1h" {
		t.Fatalf("live %+v, want sdk over 1h (the stored window)", v.Live)
	}
	if v.Live.Baseline.Requests != 3600 || v.Live.Canary.Requests != 400 || v.Live.Canary.ErrorRate != 0.1 || v.Live.Canary.Variant != "on" {
		t.Errorf("live baseline %+v, canary %+v", v.Live.Baseline, v.Live.Canary)
	}

	// The audit log has the recording.
	entries, err := e.store.ListAudit(t.Context(), ramp.AuditFilter{Kind: "baseline", Key: "checkout"})
	if err != nil || len(entries) != 1 || entries[0].Action != ramp.ActionBaselineRecord {
		t.Errorf("audit %+v, %v; want one baseline.record", entries, err)
	}
}

// TestBaselineBadRequests checks the answers to what cannot be recorded.
func TestBaselineBadRequests(t *testing.T) {
	e := newBaselineEnv(t, httpapi.Facts{})
	e.createFlag(boolFlag("checkout"))
	path := "/api/v1/flags/checkout/baseline"
	audit := len(e.audit())

	p := e.do(e.alice, "POST", path+"?window=1h", nil).problem(t, 422, "invalid")
	t.Logf("no traffic: %s", p.Detail)
	e.do(e.alice, "POST", path+"?window=1x", nil).problem(t, 422, "invalid")
	e.do(e.alice, "POST", path+"?window=0s", nil).problem(t, 422, "invalid")
	if p := e.do(e.alice, "POST", path+"?source=prometheus", nil).problem(t, 422, "invalid"); !p.hasField("source") {
		t.Errorf("prometheus without Prometheus: %+v", p)
	}
	e.do(e.alice, "POST", path+"?windw=1h", nil).problem(t, 400, "bad_request")
	e.do(e.alice, "POST", path+"?env=qa", nil).problem(t, 404, "not_found")
	e.do(e.alice, "POST", "/api/v1/flags/nope/baseline", nil).problem(t, 404, "not_found")
	e.do("", "GET", path, nil).problem(t, 401, "unauthorized")

	// No baseline yet: stored is null, the live figures are there.
	var v map[string]any
	e.do(e.alice, "GET", path, nil).want(t, 200).decode(t, &v)
	if v["stored"] != nil || v["live"] == nil {
		t.Errorf("GET without a baseline: %v", v)
	}
	if n := len(e.audit()); n != audit {
		t.Errorf("refused recordings wrote %d audit rows", n-audit)
	}
}

// TestKillSwitchDryRun checks that ?dry_run=true says what the kill switch
// would do and writes nothing.
func TestKillSwitchDryRun(t *testing.T) {
	e := newTestEnv(t)
	e.createFlag(boolFlag("checkout"))
	e.do(e.alice, "POST", "/api/v1/flags/checkout/environments/production/percentage", `{"percentage":25}`).want(t, 200)
	before := e.flag("checkout")
	audit := len(e.audit())

	var p struct {
		DryRun      bool `json:"dryRun"`
		WouldChange bool `json:"wouldChange"`
		Before      struct {
			On         bool    `json:"on"`
			Percentage float64 `json:"percentage"`
		} `json:"before"`
		After struct {
			On         bool    `json:"on"`
			Percentage float64 `json:"percentage"`
			OffVariant string  `json:"offVariant"`
		} `json:"after"`
		Actions []string `json:"actions"`
	}
	e.do(e.alice, "POST", "/api/v1/flags/checkout/environments/production/rollback?dry_run=true", nil).want(t, 200).decode(t, &p)
	if !p.DryRun || !p.WouldChange || !p.Before.On || p.Before.Percentage != 25 || p.After.On || p.After.Percentage != 0 || p.After.OffVariant != "off" {
		t.Errorf("dry run answer %+v", p)
	}
	if len(p.Actions) != 1 || p.Actions[0] != ramp.ActionFlagRollback {
		t.Errorf("actions %v", p.Actions)
	}
	if after := e.flag("checkout"); after.Version != before.Version || after.Percentage("production") != 25 {
		t.Errorf("the dry run changed the flag: version %d → %d, %v%%", before.Version, after.Version, after.Percentage("production"))
	}
	if n := len(e.audit()); n != audit {
		t.Errorf("the dry run wrote %d audit rows", n-audit)
	}
	e.do(e.alice, "POST", "/api/v1/flags/checkout/environments/production/rollback?dry_run=perhaps", nil).problem(t, 400, "bad_request")
	e.do(e.alice, "POST", "/api/v1/flags/nope/environments/production/rollback?dry_run=true", nil).problem(t, 404, "not_found")
	e.do(e.alice, "POST", "/api/v1/flags/checkout/environments/qa/rollback?dry_run=true", nil).problem(t, 404, "not_found")

	// dry_run=false is the real kill switch.
	e.do(e.alice, "POST", "/api/v1/flags/checkout/environments/production/rollback?dry_run=false", nil).want(t, 200)
	if f := e.flag("checkout"); f.Percentage("production") != 0 {
		t.Errorf("after the real kill switch: %v%%", f.Percentage("production"))
	}
}

// TestServerInfo checks GET /api/v1/server against a Prometheus that
// answers (a fake: the real one is in e2e) and one that does not.
func TestServerInfo(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/status/buildinfo" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"status":"success","data":{"version":"2.53.0"}}`)
	}))
	defer prom.Close()
	dir := t.TempDir()
	for _, tc := range []struct {
		url       string
		reachable bool
	}{{prom.URL, true}, {"http://127.0.0.1:1", false}, {"", false}} {
		e := newBaselineEnv(t, httpapi.Facts{Version: "v9.9.9", StoreDriver: "sqlite", DataDir: dir, PrometheusURL: tc.url, Webhooks: 2})
		var info httpapi.ServerInfo
		e.do(e.alice, "GET", "/api/v1/server", nil).want(t, 200).decode(t, &info)
		if info.Version != "v9.9.9" || info.Store.Driver != "sqlite" || info.Store.Migrations.Current != info.Store.Migrations.Latest || info.Webhooks != 2 {
			t.Errorf("info %+v", info)
		}
		if info.Disk == nil || info.Disk.FreeBytes == 0 || info.Disk.TotalBytes < info.Disk.FreeBytes {
			t.Errorf("disk %+v", info.Disk)
		}
		if info.Memory.SysBytes == 0 || info.Memory.Goroutines == 0 {
			t.Errorf("memory %+v", info.Memory)
		}
		if len(info.Sources) != 1 || info.Sources[0] != "sdk" || len(info.AlertReceiver.Severities) == 0 {
			t.Errorf("sources %v, alert receiver %+v", info.Sources, info.AlertReceiver)
		}
		pi := info.Prometheus
		if pi.Configured != (tc.url != "") || pi.Reachable != tc.reachable || (tc.reachable && pi.Version != "2.53.0") || (tc.url != "" && !tc.reachable && pi.Error == "") {
			t.Errorf("Prometheus %q: %+v", tc.url, pi)
		}
	}
	e := newBaselineEnv(t, httpapi.Facts{})
	e.do(e.alice, "GET", "/api/v1/server?x=1", nil).problem(t, 400, "bad_request")
	e.do("", "GET", "/api/v1/server", nil).problem(t, 401, "unauthorized")
}

// bucketOf returns the bounds of the SDK latency bucket that holds x
// seconds.
func bucketOf(x float64) (lo, hi float64) {
	for _, b := range ramp.LatencyBounds() {
		if b >= x {
			return lo, b
		}
		lo = b
	}
	return lo, math.Inf(1)
}
