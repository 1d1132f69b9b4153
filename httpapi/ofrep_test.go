package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/hub"
	"github.com/ramp-flags/ramp/internal/evaltest"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// ofrepEnv is a server with a live hub on the real SQLite store, the
// admin token alice and an SDK token for production.
type ofrepEnv struct {
	*testEnv
	hub *hub.Hub
	reg *prometheus.Registry
	sdk string // SDK token for production
}

// ofrepMaxBody is the body limit of the OFREP test server.
const ofrepMaxBody = 8 << 10

func newOFREPEnv(t *testing.T) *ofrepEnv {
	t.Helper()
	var h *hub.Hub
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"), sqlite.WithCommitHook(func() {
		if h != nil {
			h.Notify()
		}
	}))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h = hub.New(hub.Config{Source: st, PollInterval: 50 * time.Millisecond})
	if err := h.Load(t.Context()); err != nil {
		t.Fatalf("load hub: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	sum := sha256.Sum256([]byte(rootToken))
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	api := httpapi.New(httpapi.Config{
		Store:          st,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		AdminTokenHash: sum[:],
		MaxBodyBytes:   ofrepMaxBody,
		Live:           h,
		Counts:         st,
		Heartbeat:      time.Second,
		Metrics:        reg,
		Registerer:     reg,
	})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() && logs.Len() > 0 {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	e := &ofrepEnv{
		testEnv: &testEnv{t: t, srv: srv, api: api, store: st, logs: logs, client: srv.Client()},
		hub:     h,
		reg:     reg,
	}
	var tok struct {
		Token string `json:"token"`
	}
	e.do(rootToken, "POST", "/api/v1/tokens", `{"name":"alice","kind":"admin"}`).want(t, 201).decode(t, &tok)
	e.alice = tok.Token
	e.sdk, _ = e.newToken("app", ramp.TokenSDK, "production")
	return e
}

// sync waits until the hub has applied every committed change.
func (e *ofrepEnv) sync() {
	e.t.Helper()
	entries, err := e.store.ListAudit(e.t.Context(), ramp.AuditFilter{Limit: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(entries) == 0 {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.hub.Seq() < entries[0].ID {
		if time.Now().After(deadline) {
			e.t.Fatalf("the hub is at %d, the store at %d", e.hub.Seq(), entries[0].ID)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// eval posts body to the single-flag endpoint with the SDK token.
func (e *ofrepEnv) eval(key string, body any, hdr ...string) response {
	e.t.Helper()
	return e.do(e.sdk, "POST", "/ofrep/v1/evaluate/flags/"+key, body, hdr...)
}

// ofrepJSON decodes an OFREP answer into a map, after checking its media
// type.
func ofrepJSON(t *testing.T, r response) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var m map[string]any
	r.decode(t, &m)
	return m
}

// wantOFREP checks an answer's status and that its body is want, member
// for member.
func wantOFREP(t *testing.T, r response, status int, want map[string]any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
	got := ofrepJSON(t, r)
	// Compare through JSON so that numbers are float64 on both sides.
	wb, _ := json.Marshal(want)
	var w map[string]any
	_ = json.Unmarshal(wb, &w)
	if !reflect.DeepEqual(got, w) {
		t.Errorf("body %s\nwant %s", r.body, wb)
	}
}

// ofrepFlags creates the flags the OFREP tests evaluate.
func (e *ofrepEnv) ofrepFlags() {
	e.t.Helper()
	for _, f := range []string{
		`{"key":"bool-static","type":"boolean","defaultVariant":"off","variants":[{"key":"on","value":true},{"key":"off","value":false}],
		  "environments":{"production":{"on":true,"fallthrough":{"variant":"on"}}}}`,
		`{"key":"banner","type":"string","defaultVariant":"plain","variants":[{"key":"plain","value":"Hello"},{"key":"fancy","value":"Hi \"there\" <b>"}],
		  "environments":{"production":{"on":true,"rules":[{"id":"staff","clauses":[{"attribute":"email","op":"endsWith","values":["@example.com"]}],"serve":{"variant":"fancy"}}],"fallthrough":{"variant":"plain"}}}}`,
		`{"key":"limit","type":"number","defaultVariant":"low","variants":[{"key":"low","value":10},{"key":"high","value":2.5}],
		  "environments":{"production":{"on":true,"rules":[{"id":"vip","clauses":[{"attribute":"plan","op":"in","values":["vip"]}],"serve":{"variant":"high"}}],"fallthrough":{"variant":"low"}}}}`,
		`{"key":"layout","type":"object","defaultVariant":"a","variants":[{"key":"a","value":{"columns":2,"theme":"dark"}},{"key":"b","value":{"columns":3}}],
		  "environments":{"production":{"on":true,"fallthrough":{"variant":"a"}}}}`,
		`{"key":"checkout","type":"boolean","defaultVariant":"off","variants":[{"key":"on","value":true},{"key":"off","value":false}],
		  "environments":{"production":{"on":true,"fallthrough":{"split":[{"variant":"on","percent":50},{"variant":"off","percent":50}]}}}}`,
		`{"key":"dark","type":"boolean","defaultVariant":"off","variants":[{"key":"on","value":true},{"key":"off","value":false}]}`,
	} {
		e.createFlag(f)
	}
	e.sync()
}

func TestOFREPEvaluateFlag(t *testing.T) {
	e := newOFREPEnv(t)
	e.ofrepFlags()
	version := func(key string) int64 { return e.flag(key).Version }
	seq := e.hub.Env("production").Seq

	for _, tc := range []struct {
		name   string
		key    string
		body   any
		status int
		want   map[string]any
	}{
		{"static", "bool-static", `{"context":{"targetingKey":"u1"}}`, 200,
			map[string]any{"key": "bool-static", "value": true, "reason": "STATIC", "variant": "on", "metadata": map[string]any{"version": version("bool-static"), "seq": seq}}},
		{"empty body", "bool-static", nil, 200,
			map[string]any{"key": "bool-static", "value": true, "reason": "STATIC", "variant": "on", "metadata": map[string]any{"version": version("bool-static"), "seq": seq}}},
		{"empty object", "bool-static", `{}`, 200,
			map[string]any{"key": "bool-static", "value": true, "reason": "STATIC", "variant": "on", "metadata": map[string]any{"version": version("bool-static"), "seq": seq}}},
		{"null context", "bool-static", `{"context":null}`, 200,
			map[string]any{"key": "bool-static", "value": true, "reason": "STATIC", "variant": "on", "metadata": map[string]any{"version": version("bool-static"), "seq": seq}}},
		{"targeting match", "banner", `{"context":{"targetingKey":"u1","email":"ann@example.com"}}`, 200,
			map[string]any{"key": "banner", "value": `Hi "there" <b>`, "reason": "TARGETING_MATCH", "variant": "fancy", "metadata": map[string]any{"ruleId": "staff", "version": version("banner"), "seq": seq}}},
		{"default", "banner", `{"context":{"targetingKey":"u1","email":"ann@elsewhere.org"}}`, 200,
			map[string]any{"key": "banner", "value": "Hello", "reason": "DEFAULT", "variant": "plain", "metadata": map[string]any{"version": version("banner"), "seq": seq}}},
		{"integer", "limit", `{"context":{"targetingKey":"u1"}}`, 200,
			map[string]any{"key": "limit", "value": 10, "reason": "DEFAULT", "variant": "low", "metadata": map[string]any{"version": version("limit"), "seq": seq}}},
		{"float", "limit", `{"context":{"targetingKey":"u1","plan":"vip"}}`, 200,
			map[string]any{"key": "limit", "value": 2.5, "reason": "TARGETING_MATCH", "variant": "high", "metadata": map[string]any{"ruleId": "vip", "version": version("limit"), "seq": seq}}},
		{"object", "layout", `{"context":{}}`, 200,
			map[string]any{"key": "layout", "value": map[string]any{"columns": 2, "theme": "dark"}, "reason": "STATIC", "variant": "a", "metadata": map[string]any{"version": version("layout"), "seq": seq}}},
		{"disabled", "dark", `{"context":{"targetingKey":"u1"}}`, 200,
			map[string]any{"key": "dark", "value": false, "reason": "DISABLED", "variant": "off", "metadata": map[string]any{"version": version("dark"), "seq": seq}}},
		{"targeting key missing", "checkout", `{"context":{"country":"NZ"}}`, 400,
			map[string]any{"key": "checkout", "errorCode": "TARGETING_KEY_MISSING", "errorDetails": "the flag splits users by percentage and the context has no targetingKey"}},
		{"flag not found", "nope", `{"context":{}}`, 404,
			map[string]any{"key": "nope", "errorCode": "FLAG_NOT_FOUND", "errorDetails": `flag "nope" does not exist`}},
		{"targeting key not a string", "checkout", `{"context":{"targetingKey":42}}`, 400,
			map[string]any{"key": "checkout", "errorCode": "INVALID_CONTEXT", "errorDetails": "context.targetingKey must be a string, not a number"}},
		{"context not an object", "checkout", `{"context":"u1"}`, 400,
			map[string]any{"key": "checkout", "errorCode": "INVALID_CONTEXT", "errorDetails": "context must be a JSON object, not a string"}},
		{"malformed JSON", "checkout", `{"context":`, 400,
			map[string]any{"key": "checkout", "errorCode": "PARSE_ERROR", "errorDetails": "body is not valid JSON: it ends before the value is complete"}},
		{"body not an object", "checkout", `[1]`, 400,
			map[string]any{"key": "checkout", "errorCode": "PARSE_ERROR", "errorDetails": `body must be a JSON object such as {"context":{"targetingKey":"user-1"}}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantOFREP(t, e.eval(tc.key, tc.body), tc.status, tc.want)
		})
	}

	t.Run("split", func(t *testing.T) {
		seen := map[string]bool{}
		for i := range 40 {
			r := e.eval("checkout", fmt.Sprintf(`{"context":{"targetingKey":"user-%d"}}`, i)).want(t, 200)
			m := ofrepJSON(t, r)
			if m["reason"] != "SPLIT" {
				t.Fatalf("reason %v, want SPLIT", m["reason"])
			}
			if (m["variant"] == "on") != (m["value"] == true) {
				t.Fatalf("variant %v with value %v", m["variant"], m["value"])
			}
			seen[m["variant"].(string)] = true
			// The same user gets the same answer.
			again := ofrepJSON(t, e.eval("checkout", fmt.Sprintf(`{"context":{"targetingKey":"user-%d"}}`, i)))
			if again["variant"] != m["variant"] {
				t.Fatalf("user-%d got %v, then %v", i, m["variant"], again["variant"])
			}
		}
		if !seen["on"] || !seen["off"] {
			t.Errorf("40 users all got the same variant of a 50/50 split: %v", seen)
		}
	})

	t.Run("body too large", func(t *testing.T) {
		big := `{"context":{"targetingKey":"` + strings.Repeat("x", ofrepMaxBody) + `"}}`
		e.eval("checkout", big).problem(t, 413, ramp.ETOOLARGE)
	})
	t.Run("wrong method", func(t *testing.T) {
		e.do(e.sdk, "GET", "/ofrep/v1/evaluate/flags/checkout", nil).problem(t, 405, "method_not_allowed")
	})
	t.Run("a change is served at once", func(t *testing.T) {
		e.do(e.alice, "POST", "/api/v1/flags/bool-static/environments/production/rollback", nil).want(t, 200)
		e.sync()
		m := ofrepJSON(t, e.eval("bool-static", `{}`).want(t, 200))
		if m["reason"] != "DISABLED" || m["value"] != false {
			t.Errorf("after the kill switch: %v", m)
		}
		md := m["metadata"].(map[string]any)
		if md["seq"].(float64) <= float64(seq) || md["version"].(float64) <= float64(version("bool-static"))-1 {
			t.Errorf("metadata %v did not move on from seq %d", md, seq)
		}
	})
}

func TestOFREPAuth(t *testing.T) {
	e := newOFREPEnv(t)
	e.ofrepFlags()
	body := `{"context":{"targetingKey":"u1"}}`
	path := "/ofrep/v1/evaluate/flags/bool-static"

	e.do("", "POST", path, body).problem(t, 401, ramp.EUNAUTHORIZED)
	e.do("ramp_sdk_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "POST", path, body).problem(t, 401, ramp.EUNAUTHORIZED)
	e.do("not-a-token", "POST", path, body).problem(t, 401, ramp.EUNAUTHORIZED)

	// Bearer and X-API-Key.
	e.do(e.sdk, "POST", path, body).want(t, 200)
	e.do("", "POST", path, body, "X-API-Key", e.sdk).want(t, 200)

	// An SDK token reads its own environment only.
	e.do(e.sdk, "POST", path+"?environment=production", body).want(t, 200)
	e.do(e.sdk, "POST", path+"?environment=staging", body).problem(t, 403, ramp.EFORBIDDEN)

	// An admin token must name the environment.
	wantOFREP(t, e.do(e.alice, "POST", path, body), 400, map[string]any{
		"key": "bool-static", "errorCode": "GENERAL",
		"errorDetails": "an admin token must name the environment: add ?environment=production (SDK tokens name it themselves)",
	})
	m := ofrepJSON(t, e.do(e.alice, "POST", path+"?environment=staging", body).want(t, 200))
	if m["reason"] != "DISABLED" {
		t.Errorf("bool-static is off in staging, got %v", m)
	}
	e.do(rootToken, "POST", path+"?environment=production", body).want(t, 200)
	wantOFREP(t, e.do(e.alice, "POST", path+"?environment=nowhere", body), 400, map[string]any{
		"key": "bool-static", "errorCode": "GENERAL", "errorDetails": `environment "nowhere" does not exist`,
	})
	wantOFREP(t, e.do(e.alice, "POST", "/ofrep/v1/evaluate/flags?environment=nowhere", body), 400, map[string]any{
		"key": "", "errorCode": "GENERAL", "errorDetails": `environment "nowhere" does not exist`,
	})

	// Every OFREP route needs a token.
	e.do("", "POST", "/ofrep/v1/evaluate/flags", body).problem(t, 401, ramp.EUNAUTHORIZED)
	e.do("", "GET", "/ofrep/v1/configuration", nil).problem(t, 401, ramp.EUNAUTHORIZED)
	e.do("", "GET", "/ofrep/v1/events", nil).problem(t, 401, ramp.EUNAUTHORIZED)

	// A revoked token stops working as soon as the change feed is
	// applied (the evaluation routes cache tokens until the next change).
	tok, id := e.newToken("short-lived", ramp.TokenSDK, "production")
	for range 3 {
		e.do(tok, "POST", path, body).want(t, 200)
		e.do(tok, "POST", "/ofrep/v1/evaluate/flags", body).want(t, 200)
	}
	e.do(e.alice, "DELETE", "/api/v1/tokens/"+id, nil).want(t, 204)
	e.sync()
	e.do(tok, "POST", path, body).problem(t, 401, ramp.EUNAUTHORIZED)
	e.do(tok, "POST", "/ofrep/v1/evaluate/flags", body).problem(t, 401, ramp.EUNAUTHORIZED)
}

// bulkAnswer is the body of a bulk evaluation.
type bulkAnswer struct {
	Flags        []map[string]any `json:"flags"`
	EventStreams []struct {
		Type     string `json:"type"`
		URL      string `json:"url"`
		Endpoint struct {
			RequestURI string `json:"requestUri"`
		} `json:"endpoint"`
	} `json:"eventStreams"`
	Metadata map[string]any `json:"metadata"`
}

func TestOFREPEvaluateFlags(t *testing.T) {
	e := newOFREPEnv(t)
	e.ofrepFlags()
	seq := e.hub.Env("production").Seq
	const ctx = `{"context":{"targetingKey":"u1","email":"ann@example.com"}}`

	r := e.do(e.sdk, "POST", "/ofrep/v1/evaluate/flags", ctx).want(t, 200)
	var got bulkAnswer
	_ = ofrepJSON(t, r)
	r.decode(t, &got)
	byKey := map[string]map[string]any{}
	var keys []string
	for _, f := range got.Flags {
		byKey[f["key"].(string)] = f
		keys = append(keys, f["key"].(string))
	}
	if want := []string{"banner", "bool-static", "checkout", "dark", "layout", "limit"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("flags %v, want %v in key order", keys, want)
	}
	if f := byKey["banner"]; f["value"] != `Hi "there" <b>` || f["reason"] != "TARGETING_MATCH" || f["variant"] != "fancy" {
		t.Errorf("banner %v", f)
	}
	if f := byKey["dark"]; f["value"] != false || f["reason"] != "DISABLED" {
		t.Errorf("dark %v", f)
	}
	if f := byKey["checkout"]; f["reason"] != "SPLIT" {
		t.Errorf("checkout %v", f)
	}
	if md := byKey["banner"]["metadata"].(map[string]any); md["ruleId"] != "staff" || md["seq"] != float64(seq) {
		t.Errorf("banner metadata %v", md)
	}
	if got.Metadata["environment"] != "production" || got.Metadata["seq"] != float64(seq) {
		t.Errorf("metadata %v", got.Metadata)
	}
	if len(got.EventStreams) != 1 || got.EventStreams[0].Type != "sse" || got.EventStreams[0].URL != "" ||
		!strings.HasPrefix(got.EventStreams[0].Endpoint.RequestURI, "/ofrep/v1/events?environment=production&ticket=") {
		t.Errorf("eventStreams %+v", got.EventStreams)
	}

	// A failure inside a bulk answer is that flag's failure object.
	r = e.do(e.sdk, "POST", "/ofrep/v1/evaluate/flags", `{"context":{}}`).want(t, 200)
	got = bulkAnswer{}
	r.decode(t, &got)
	for _, f := range got.Flags {
		if f["key"] == "checkout" {
			want := map[string]any{"key": "checkout", "errorCode": "TARGETING_KEY_MISSING",
				"errorDetails": "the flag splits users by percentage and the context has no targetingKey"}
			if !reflect.DeepEqual(f, want) {
				t.Errorf("checkout without a key: %v", f)
			}
		}
	}

	// ETag and 304.
	first := e.do(e.sdk, "POST", "/ofrep/v1/evaluate/flags", ctx).want(t, 200)
	etag := first.header.Get("ETag")
	if !strings.HasPrefix(etag, fmt.Sprintf(`"%d-`, seq)) {
		t.Fatalf("ETag %q does not start with the sequence %d", etag, seq)
	}
	nm := e.do(e.sdk, "POST", "/ofrep/v1/evaluate/flags", ctx, "If-None-Match", etag)
	nm.want(t, 304)
	if len(nm.body) != 0 || nm.header.Get("ETag") != etag {
		t.Errorf("304 with body %q and ETag %q", nm.body, nm.header.Get("ETag"))
	}
	e.do(e.sdk, "POST", "/ofrep/v1/evaluate/flags", ctx, "If-None-Match", `W/`+etag+`, "x"`).want(t, 304)
	// Another context is another answer.
	other := e.do(e.sdk, "POST", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u2"}}`, "If-None-Match", etag).want(t, 200)
	if other.header.Get("ETag") == etag {
		t.Error("two contexts share an ETag")
	}
	// The same context in another environment is another answer.
	adm := e.do(e.alice, "POST", "/ofrep/v1/evaluate/flags?environment=staging", ctx, "If-None-Match", etag).want(t, 200)
	if adm.header.Get("ETag") == etag {
		t.Error("two environments share an ETag")
	}
	// A change is another answer.
	e.do(e.alice, "POST", "/api/v1/flags/banner/environments/production/rollback", nil).want(t, 200)
	e.sync()
	after := e.do(e.sdk, "POST", "/ofrep/v1/evaluate/flags", ctx, "If-None-Match", etag).want(t, 200)
	if after.header.Get("ETag") == etag {
		t.Error("the ETag did not change with the flags")
	}
	got = bulkAnswer{}
	after.decode(t, &got)
	for _, f := range got.Flags {
		if f["key"] == "banner" && f["reason"] != "DISABLED" {
			t.Errorf("banner after the kill switch: %v", f)
		}
	}

	// Errors of the whole request.
	wantOFREP(t, e.do(e.sdk, "POST", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":true}}`), 400,
		map[string]any{"key": "", "errorCode": "INVALID_CONTEXT", "errorDetails": "context.targetingKey must be a string, not true or false"})
	wantOFREP(t, e.do(e.sdk, "POST", "/ofrep/v1/evaluate/flags", `{"context":{}`), 400,
		map[string]any{"key": "", "errorCode": "PARSE_ERROR", "errorDetails": "body is not valid JSON: it ends before the value is complete"})
	// The SSE-triggered refetch parameters are accepted.
	e.do(e.sdk, "POST", `/ofrep/v1/evaluate/flags?flagConfigEtag=%2212%22&flagConfigLastModified=1771622898`, ctx).want(t, 200)
}

func TestOFREPConfiguration(t *testing.T) {
	e := newOFREPEnv(t)
	r := e.do(e.sdk, "GET", "/ofrep/v1/configuration", nil).want(t, 200)
	wantOFREP(t, r, 200, map[string]any{
		"name": "ramp",
		"capabilities": map[string]any{
			"cacheInvalidation": map[string]any{"polling": map[string]any{"enabled": true, "minPollingIntervalMs": 1000}},
			"flagEvaluation":    map[string]any{"supportedTypes": []any{"boolean", "string", "int", "float", "object"}},
			"caching":           map[string]any{"enabled": false},
		},
	})
	etag := r.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	e.do(e.sdk, "GET", "/ofrep/v1/configuration", nil, "If-None-Match", etag).want(t, 304)
	// An admin token needs no environment here.
	e.do(e.alice, "GET", "/ofrep/v1/configuration", nil).want(t, 200)
}

// sseClient reads Server-Sent Events.
type sseClient struct {
	t    *testing.T
	res  *http.Response
	rd   *bufio.Reader
	stop context.CancelFunc
}

// sseEvent is one event: its id, type and data.
type sseEvent struct{ id, event, data string }

// openEvents connects to the events stream at uri with the header pairs;
// it fails the test unless the answer is 200.
func (e *ofrepEnv) openEvents(uri string, hdr ...string) *sseClient {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+uri, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	if res.StatusCode != 200 {
		cancel()
		res.Body.Close()
		e.t.Fatalf("GET %s: status %d", uri, res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		e.t.Errorf("Content-Type %q", ct)
	}
	c := &sseClient{t: e.t, res: res, rd: bufio.NewReader(res.Body), stop: cancel}
	e.t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() {
	c.stop()
	c.res.Body.Close()
}

// next returns the next event, skipping comments and the retry field.
func (c *sseClient) next() sseEvent {
	c.t.Helper()
	type result struct {
		ev  sseEvent
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var ev sseEvent
		for {
			line, err := c.rd.ReadString('\n')
			if err != nil {
				ch <- result{err: err}
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					ch <- result{ev: ev}
					return
				}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			c.t.Fatalf("read event: %v", r.err)
		}
		return r.ev
	case <-time.After(10 * time.Second):
		c.t.Fatal("no event within 10s")
	}
	return sseEvent{}
}

// wantRefetch checks that ev is OFREP's refetchEvaluation for seq.
func wantRefetch(t *testing.T, ev sseEvent, seq int64) {
	t.Helper()
	if ev.id != fmt.Sprint(seq) || ev.event != "message" {
		t.Errorf("event id %q type %q, want id %d type message", ev.id, ev.event, seq)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(ev.data), &data); err != nil {
		t.Fatalf("data %q: %v", ev.data, err)
	}
	want := map[string]any{"type": "refetchEvaluation", "etag": fmt.Sprintf(`"%d"`, seq)}
	if !reflect.DeepEqual(data, want) {
		t.Errorf("data %s, want %v", ev.data, want)
	}
}

func TestOFREPEvents(t *testing.T) {
	e := newOFREPEnv(t)
	e.ofrepFlags()
	seq := e.hub.Env("production").Seq

	// A provider gets the stream's URL from a bulk evaluation.
	var bulk bulkAnswer
	e.do(e.sdk, "POST", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u1"}}`).want(t, 200).decode(t, &bulk)
	uri := bulk.EventStreams[0].Endpoint.RequestURI

	byHeader := e.openEvents("/ofrep/v1/events", "Authorization", "Bearer "+e.sdk)
	byTicket := e.openEvents(uri) // as a browser's EventSource: no header
	current := e.openEvents(uri, "Last-Event-ID", fmt.Sprint(seq))

	// A fresh connection is told to fetch at once.
	wantRefetch(t, byHeader.next(), seq)
	wantRefetch(t, byTicket.next(), seq)

	// Every change is announced.
	e.do(e.alice, "POST", "/api/v1/flags/checkout/environments/production/rollback", nil).want(t, 200)
	e.sync()
	changed := e.hub.Env("production").Seq
	wantRefetch(t, byHeader.next(), changed)
	wantRefetch(t, byTicket.next(), changed)
	wantRefetch(t, current.next(), changed) // no event for the state it had

	// Tickets are bound to their environment and token.
	e.do("", "GET", strings.Replace(uri, "environment=production", "environment=staging", 1), nil).problem(t, 401, ramp.EUNAUTHORIZED)
	e.do("", "GET", uri+"x", nil).problem(t, 401, ramp.EUNAUTHORIZED)
	e.do("", "GET", "/ofrep/v1/events?environment=production&ticket=nope", nil).problem(t, 401, ramp.EUNAUTHORIZED)
	tok, id := e.newToken("short-lived", ramp.TokenSDK, "production")
	e.do(tok, "POST", "/ofrep/v1/evaluate/flags", `{}`).want(t, 200).decode(t, &bulk)
	revoked := bulk.EventStreams[0].Endpoint.RequestURI
	if revoked == uri {
		t.Error("two tokens share a ticket")
	}
	e.do(e.alice, "DELETE", "/api/v1/tokens/"+id, nil).want(t, 204)
	e.do("", "GET", revoked, nil).problem(t, 401, ramp.EUNAUTHORIZED)

	// Admin tokens, stored or configured, get tickets for the environment
	// they name.
	for _, admin := range []string{e.alice, rootToken} {
		e.do(admin, "POST", "/ofrep/v1/evaluate/flags?environment=staging", `{}`).want(t, 200).decode(t, &bulk)
		c := e.openEvents(bulk.EventStreams[0].Endpoint.RequestURI)
		wantRefetch(t, c.next(), e.hub.Env("staging").Seq)
	}

	// Header authentication follows the rules of every SDK route.
	e.do(e.sdk, "GET", "/ofrep/v1/events?environment=staging", nil).problem(t, 403, ramp.EFORBIDDEN)
	e.do(e.alice, "GET", "/ofrep/v1/events", nil).problem(t, 400, ramp.EBADREQUEST)
	e.do(e.sdk, "GET", "/ofrep/v1/events", nil, "Last-Event-ID", "x").problem(t, 400, ramp.EBADREQUEST)
}

func TestOFREPMetrics(t *testing.T) {
	e := newOFREPEnv(t)
	e.ofrepFlags()
	for range 3 {
		e.eval("banner", `{"context":{"targetingKey":"u1","email":"a@example.com"}}`).want(t, 200)
	}
	e.eval("banner", `{"context":{"targetingKey":"u1"}}`).want(t, 200)
	e.eval("checkout", `{}`).want(t, 400)
	e.eval("nope", `{}`).want(t, 404)
	e.do(e.sdk, "POST", "/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u1"}}`).want(t, 200)

	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	durations := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "ramp_evaluations_total":
				counts[labels["flag"]+"/"+labels["variant"]+"/"+labels["reason"]] = m.GetCounter().GetValue()
			case "ramp_ofrep_request_duration_seconds":
				durations[labels["endpoint"]] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	for series, want := range map[string]float64{
		"banner/fancy/TARGETING_MATCH": 3,
		"banner/plain/DEFAULT":         2, // a single evaluation and the bulk one
		"checkout/on/SPLIT":            -1,
		"checkout//ERROR":              1,
		"dark/off/DISABLED":            1,
	} {
		got := counts[series]
		if want < 0 {
			got += counts["checkout/off/SPLIT"]
			want = 1
		}
		if got != want {
			t.Errorf("ramp_evaluations_total %s = %v, want %v (all: %v)", series, got, want, counts)
		}
	}
	for key := range counts {
		if strings.HasPrefix(key, "nope/") {
			t.Errorf("an unknown flag has a series: %s", key)
		}
	}
	if durations["evaluate_flag"] != 6 || durations["evaluate_flags"] != 1 {
		t.Errorf("request durations counted %v, want 6 evaluate_flag and 1 evaluate_flags", durations)
	}

	// Two servers may share a registry.
	httpapi.New(httpapi.Config{Store: e.store, Live: e.hub, Counts: e.store, Registerer: e.reg})
}

// TestOFREPFixtures runs the shared evaluation fixtures through OFREP, so
// that the endpoint cannot drift from the evaluation package.
func TestOFREPFixtures(t *testing.T) {
	for _, file := range evaltest.Load(t) {
		t.Run(file.Name, func(t *testing.T) {
			e := newOFREPEnv(t)
			ctx := t.Context()
			change := ramp.Change{Actor: "fixtures"}
			envs, err := e.store.ListEnvironments(ctx)
			if err != nil {
				t.Fatal(err)
			}
			exists := false
			for _, env := range envs {
				exists = exists || env.Key == file.Environment
			}
			if !exists {
				if _, err := e.store.CreateEnvironment(ctx, change, ramp.Environment{Key: file.Environment, Name: file.Environment}); err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range file.Segments {
				if _, err := e.store.CreateSegment(ctx, change, s); err != nil {
					t.Fatalf("segment %s: %v", s.Key, err)
				}
			}
			for _, f := range file.Flags {
				if _, err := e.store.CreateFlag(ctx, change, f); err != nil {
					t.Fatalf("flag %s: %v", f.Key, err)
				}
			}
			e.sync()
			for _, c := range file.Cases {
				t.Run(c.Name, func(t *testing.T) {
					body, _ := json.Marshal(map[string]any{"context": c.Context})
					r := e.do(e.alice, "POST", "/ofrep/v1/evaluate/flags/"+c.Flag+"?environment="+file.Environment, body)
					m := ofrepJSON(t, r)
					var variant, reason, code string
					var value any
					switch r.status {
					case 200:
						variant, _ = m["variant"].(string)
						reason, _ = m["reason"].(string)
						value = m["value"]
					case 400, 404:
						reason = "ERROR"
						code, _ = m["errorCode"].(string)
					default:
						t.Fatalf("status %d: %s", r.status, r.body)
					}
					c.Want.Check(t, variant, value, reason, code)
				})
			}
		})
	}
}

// BenchmarkOFREPEvaluateFlag measures the single-flag endpoint in process,
// authentication included, over a flag with a percentage split.
func BenchmarkOFREPEvaluateFlag(b *testing.B) {
	ctx := b.Context()
	var h *hub.Hub
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ramp.db"), sqlite.WithCommitHook(func() {
		if h != nil {
			h.Notify()
		}
	}))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var f ramp.Flag
	if err := json.Unmarshal([]byte(`{"key":"checkout","type":"boolean","defaultVariant":"off","variants":[{"key":"on","value":true},{"key":"off","value":false}],
		"environments":{"production":{"on":true,"fallthrough":{"split":[{"variant":"on","percent":25},{"variant":"off","percent":75}]}}}}`), &f); err != nil {
		b.Fatal(err)
	}
	if _, err := st.CreateFlag(ctx, ramp.Change{Actor: "bench"}, &f); err != nil {
		b.Fatal(err)
	}
	plain, id, hash := ramp.NewToken(ramp.TokenSDK)
	if _, err := st.CreateToken(ctx, ramp.Change{Actor: "bench"}, ramp.Token{ID: id, Name: "bench", Kind: ramp.TokenSDK, Environment: "production", Hash: hash}); err != nil {
		b.Fatal(err)
	}
	h = hub.New(hub.Config{Source: st})
	if err := h.Load(ctx); err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	api := httpapi.New(httpapi.Config{Store: st, Live: h, Counts: st, Registerer: reg})
	body := []byte(`{"context":{"targetingKey":"user-42","country":"NZ"}}`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rd := bytes.NewReader(body)
		req := httptest.NewRequest("POST", "/ofrep/v1/evaluate/flags/checkout", rd)
		req.Header.Set("Authorization", "Bearer "+plain)
		for pb.Next() {
			rd.Reset(body)
			req.Body = io.NopCloser(rd)
			w := httptest.NewRecorder()
			api.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}
