package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// rootToken is the token given to the server as Config.AdminTokenHash.
const rootToken = "root-token-for-tests"

// testEnv is a server on the real SQLite store, and an admin token named
// alice made through the API.
type testEnv struct {
	t      *testing.T
	srv    *httptest.Server
	api    *httpapi.Server
	store  *sqlite.Store
	logs   *syncBuffer
	alice  string // admin token named "alice"
	client *http.Client
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return newTestEnvWith(t, st, st)
}

// newTestEnvWith serves api (st or a wrapper of it) and makes alice's token.
func newTestEnvWith(t *testing.T, st *sqlite.Store, store httpapi.Store) *testEnv {
	t.Helper()
	sum := sha256.Sum256([]byte(rootToken))
	logs := &syncBuffer{}
	api := httpapi.New(httpapi.Config{
		Store:          store,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		AdminTokenHash: sum[:],
	})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	e := &testEnv{t: t, srv: srv, api: api, store: st, logs: logs, client: srv.Client()}
	t.Cleanup(func() {
		if t.Failed() && logs.Len() > 0 {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	var tok struct {
		Token string `json:"token"`
	}
	e.do(rootToken, "POST", "/api/v1/tokens", `{"name":"alice","kind":"admin"}`).want(t, 201).decode(t, &tok)
	e.alice = tok.Token
	return e
}

// response is an HTTP answer read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the token ("" for none). body is a string of
// raw JSON, nil for none, or a value to marshal. hdr holds header name and
// value pairs.
func (e *testEnv) do(token, method, path string, body any, hdr ...string) response {
	e.t.Helper()
	return doRequest(e.t, e.client, e.srv.URL, token, method, path, body, hdr...)
}

func doRequest(t testing.TB, c *http.Client, base, token, method, path string, body any, hdr ...string) response {
	t.Helper()
	res, err := tryRequest(c, base, token, method, path, body, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tryRequest is doRequest for goroutines other than the test's, which may
// not stop the test.
func tryRequest(c *http.Client, base, token, method, path string, body any, hdr ...string) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return response{}, fmt.Errorf("marshal body: %w", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}, nil
}

func (r response) want(t testing.TB, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
	return r
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problemDoc is an RFC 9457 problem document as the API writes it.
type problemDoc struct {
	Type           string            `json:"type"`
	Title          string            `json:"title"`
	Status         int               `json:"status"`
	Detail         string            `json:"detail"`
	Errors         []ramp.FieldError `json:"errors"`
	CurrentVersion int64             `json:"currentVersion"`
}

// problem checks that r is a problem document of the status and code and
// returns it.
func (r response) problem(t testing.TB, status int, code string) problemDoc {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problemDoc
	r.decode(t, &p)
	if p.Type != "urn:ramp:problem:"+code {
		t.Errorf("type %q, want urn:ramp:problem:%s", p.Type, code)
	}
	if p.Status != status {
		t.Errorf("status field %d, want %d", p.Status, status)
	}
	if p.Title == "" || p.Detail == "" {
		t.Errorf("title %q and detail %q must both be set", p.Title, p.Detail)
	}
	return p
}

// hasField reports whether p names the field.
func (p problemDoc) hasField(field string) bool {
	for _, f := range p.Errors {
		if f.Field == field && f.Message != "" {
			return true
		}
	}
	return false
}

// flag reads a flag from the store, failing the test if it cannot.
func (e *testEnv) flag(key string) *ramp.Flag {
	e.t.Helper()
	f, err := e.store.GetFlag(e.t.Context(), key)
	if err != nil {
		e.t.Fatalf("get flag %s: %v", key, err)
	}
	return f
}

// audit returns every audit entry, newest first.
func (e *testEnv) audit() []ramp.AuditEntry {
	e.t.Helper()
	entries, err := e.store.ListAudit(e.t.Context(), ramp.AuditFilter{Limit: 1 << 20})
	if err != nil {
		e.t.Fatalf("list audit: %v", err)
	}
	return entries
}

// newToken makes a token through the API and returns its string and id.
func (e *testEnv) newToken(name string, kind ramp.TokenKind, env string) (plain, id string) {
	e.t.Helper()
	var out struct {
		Token string `json:"token"`
		ID    string `json:"id"`
	}
	body := map[string]string{"name": name, "kind": string(kind)}
	if env != "" {
		body["environment"] = env
	}
	e.do(e.alice, "POST", "/api/v1/tokens", body).want(e.t, 201).decode(e.t, &out)
	return out.Token, out.ID
}

// boolFlag is the JSON of a boolean flag with variants on and off.
func boolFlag(key string) string {
	return fmt.Sprintf(`{"key":%q,"type":"boolean","variants":[{"key":"on","value":true},{"key":"off","value":false}],"defaultVariant":"off"}`, key)
}

// createFlag creates a flag from its JSON through the API.
func (e *testEnv) createFlag(body string) *ramp.Flag {
	e.t.Helper()
	var f ramp.Flag
	e.do(e.alice, "POST", "/api/v1/flags", body).want(e.t, 201).decode(e.t, &f)
	return &f
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}
