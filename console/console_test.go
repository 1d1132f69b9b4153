package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/console"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// env is a console in front of the real API on a SQLite store, with an
// admin token, an SDK token and a clock the test moves.
type env struct {
	t        *testing.T
	srv      *httptest.Server
	store    *sqlite.Store
	sessions *console.Sessions
	admin    string // token named "alice"
	adminID  string
	sdk      string

	mu  sync.Mutex
	now time.Time
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func newEnv(t *testing.T, tls bool) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := &env{t: t, store: st, now: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	var id, hash string
	e.admin, id, hash = tokenOf(ramp.TokenAdmin)
	if _, err := st.CreateToken(t.Context(), ramp.Change{Actor: "test"}, ramp.Token{ID: id, Name: "alice", Kind: ramp.TokenAdmin, Hash: []byte(hash)}); err != nil {
		t.Fatal(err)
	}
	e.adminID = id
	e.sdk, id, hash = tokenOf(ramp.TokenSDK)
	if _, err := st.CreateToken(t.Context(), ramp.Change{Actor: "test"}, ramp.Token{ID: id, Name: "web", Kind: ramp.TokenSDK, Environment: "production", Hash: []byte(hash)}); err != nil {
		t.Fatal(err)
	}
	e.sessions = console.NewSessions(console.SessionConfig{TTL: time.Hour, Now: e.clock})
	api := httpapi.New(httpapi.Config{Store: st, Sessions: e.sessions})
	h := console.New(console.Config{API: api, Sessions: e.sessions})
	if tls {
		e.srv = httptest.NewTLSServer(h)
	} else {
		e.srv = httptest.NewServer(h)
	}
	t.Cleanup(e.srv.Close)
	return e
}

func tokenOf(kind ramp.TokenKind) (plain, id, hash string) {
	p, i, h := ramp.NewToken(kind)
	return p, i, string(h)
}

// browser is an HTTP client with a cookie jar, as a browser on the
// console's origin.
type browser struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	// httptest's Client is shared: each browser needs its own jar.
	c := &http.Client{Transport: e.srv.Client().Transport, Jar: jar}
	return &browser{e: e, c: c}
}

type answer struct {
	status int
	header http.Header
	body   string
}

// do sends a request; hdr holds name, value pairs.
func (b *browser) do(method, path, body string, hdr ...string) answer {
	b.e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.e.srv.URL+path, rd)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, string(raw)}
}

func (a answer) want(t *testing.T, status int) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	return a
}

// signIn signs the browser in with tok and keeps the CSRF token.
func (b *browser) signIn(tok string) answer {
	b.e.t.Helper()
	a := b.do("POST", "/session", `{"token":"`+tok+`"}`)
	if a.status == http.StatusCreated {
		var s struct{ CSRFToken, Actor string }
		if err := json.Unmarshal([]byte(a.body), &s); err != nil || s.CSRFToken == "" {
			b.e.t.Fatalf("sign-in answer %s: %v", a.body, err)
		}
		b.csrf = s.CSRFToken
	}
	return a
}

func sessionCookie(t *testing.T, h http.Header) *http.Cookie {
	t.Helper()
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err == nil && c.Name == console.CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", console.CookieName, h.Values("Set-Cookie"))
	return nil
}

const newFlag = `{"key":"checkout","type":"boolean","variants":[{"key":"on","value":true},{"key":"off","value":false}],"defaultVariant":"off"}`

func TestNoSessionIsUnauthorized(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.do("GET", "/api/v1/flags", "").want(t, 401)
	b.do("GET", "/session", "").want(t, 401)
	// A cookie the server never issued is no session either.
	b.do("GET", "/api/v1/flags", "", "Cookie", console.CookieName+"=forged").want(t, 401)
}

func TestSignInCookieFlags(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := newEnv(t, tls)
		b := e.browser()
		a := b.signIn(e.admin).want(t, 201)
		c := sessionCookie(t, a.header)
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != tls {
			t.Errorf("tls=%v: cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v", tls, c.HttpOnly, c.SameSite, c.Path, c.Secure)
		}
		if c.MaxAge != int(time.Hour.Seconds()) && c.MaxAge != int(time.Hour.Seconds())-1 {
			t.Errorf("tls=%v: Max-Age %d, want the session TTL", tls, c.MaxAge)
		}
		if len(c.Value) < 40 {
			t.Errorf("session id %q is too short to be unguessable", c.Value)
		}
		if !strings.Contains(a.body, `"actor":"alice"`) {
			t.Errorf("sign-in answer %s", a.body)
		}
		b.do("GET", "/api/v1/flags", "").want(t, 200)
		got := b.do("GET", "/session", "").want(t, 200)
		if !strings.Contains(got.body, b.csrf) {
			t.Errorf("GET /session %s does not give the CSRF token", got.body)
		}
	}
}

func TestSignInRefusals(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	if a := b.signIn("ramp_admin_nope_nope").want(t, 401); !strings.Contains(a.body, `"field":"token"`) {
		t.Errorf("a bad token is not reported on the token field: %s", a.body)
	}
	if a := b.signIn(e.sdk).want(t, 403); !strings.Contains(a.body, "use an admin token") {
		t.Errorf("SDK token: %s", a.body)
	}
	b.signIn("").want(t, 422)
	b.do("POST", "/session", `{"token":"`+e.admin+`"}`, "Content-Type", "text/plain").want(t, 400)
	b.do("POST", "/session", `{"token":"`+e.admin+`"}`, "Sec-Fetch-Site", "cross-site").want(t, 403)
	b.do("POST", "/session", `{"token":"`+e.admin+`"}`, "Origin", "https://evil.example").want(t, 403)
	b.do("POST", "/session", `{"token":"`+e.admin+`","x":1}`).want(t, 400)
	b.do("POST", "/session", `{"token":"`+strings.Repeat("a", 20000)+`"}`).want(t, 413)
	if n := e.sessions.Len(); n != 0 {
		t.Errorf("%d sessions after refused sign-ins", n)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.signIn(e.admin).want(t, 201)

	if a := b.do("POST", "/api/v1/flags", newFlag).want(t, 403); !strings.Contains(a.body, console.CSRFHeader) {
		t.Errorf("no CSRF header: %s", a.body)
	}
	b.do("POST", "/api/v1/flags", newFlag, console.CSRFHeader, "wrong").want(t, 403)
	b.do("POST", "/api/v1/flags", newFlag, console.CSRFHeader, b.csrf, "Sec-Fetch-Site", "cross-site").want(t, 403)
	b.do("POST", "/api/v1/flags", newFlag, console.CSRFHeader, b.csrf, "Sec-Fetch-Site", "same-site").want(t, 403)
	b.do("POST", "/api/v1/flags", newFlag, console.CSRFHeader, b.csrf, "Origin", "http://evil.example").want(t, 403)
	if _, err := e.store.GetFlag(t.Context(), "checkout"); ramp.ErrorCode(err) != ramp.ENOTFOUND {
		t.Fatalf("a refused request created the flag: %v", err)
	}

	// Another browser's token does not fit this session.
	other := e.browser()
	other.signIn(e.admin).want(t, 201)
	b.do("POST", "/api/v1/flags", newFlag, console.CSRFHeader, other.csrf).want(t, 403)

	b.do("POST", "/api/v1/flags", newFlag, console.CSRFHeader, b.csrf, "Sec-Fetch-Site", "same-origin", "Origin", e.srv.URL).want(t, 201)
	b.do("POST", "/api/v1/flags/checkout/environments/production/rollback", "", console.CSRFHeader, b.csrf).want(t, 200)
	entries, err := e.store.ListAudit(t.Context(), ramp.AuditFilter{Key: "checkout"})
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit %v, %v", entries, err)
	}
	for _, en := range entries {
		if en.Actor != "alice" {
			t.Errorf("%s by %q, want the signed-in token's name alice", en.Action, en.Actor)
		}
	}
	// Reads need no CSRF token.
	b.do("GET", "/api/v1/flags/checkout", "").want(t, 200)
}

func TestTokenWinsOverCookie(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.signIn(e.admin).want(t, 201)
	// A script with a token needs no CSRF header, cookie or not; an SDK
	// token stays an SDK token even with an admin session's cookie.
	b.do("POST", "/api/v1/flags", newFlag, "Authorization", "Bearer "+e.admin).want(t, 201)
	b.do("GET", "/api/v1/flags", "", "Authorization", "Bearer "+e.sdk).want(t, 403)
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.signIn(e.admin).want(t, 201)
	e.advance(59 * time.Minute)
	b.do("GET", "/api/v1/flags", "").want(t, 200)
	e.advance(time.Minute)
	if a := b.do("GET", "/api/v1/flags", "").want(t, 401); !strings.Contains(a.body, "expired") {
		t.Errorf("expired session: %s", a.body)
	}
	b.do("GET", "/session", "").want(t, 401)
	if n := e.sessions.Len(); n != 0 {
		t.Errorf("%d sessions kept after expiry", n)
	}
}

func TestSignOut(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.signIn(e.admin).want(t, 201)
	b.do("DELETE", "/session", "").want(t, 403)
	b.do("DELETE", "/session", "", console.CSRFHeader, "wrong").want(t, 403)
	b.do("GET", "/api/v1/flags", "").want(t, 200)

	// Keep the cookie to replay it after the sign-out.
	u := e.srv.URL + "/"
	req, _ := http.NewRequest("GET", u, nil)
	old := b.c.Jar.Cookies(req.URL)

	a := b.do("DELETE", "/session", "", console.CSRFHeader, b.csrf).want(t, 204)
	if c := sessionCookie(t, a.header); c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("sign-out cookie %+v does not clear the session cookie", c)
	}
	b.do("GET", "/api/v1/flags", "").want(t, 401)
	if len(old) != 1 {
		t.Fatalf("cookies before sign-out: %v", old)
	}
	replay := e.browser()
	replay.do("GET", "/api/v1/flags", "", "Cookie", old[0].Name+"="+old[0].Value).want(t, 401)
}

func TestRevokedTokenEndsSession(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.signIn(e.admin).want(t, 201)
	b.do("GET", "/api/v1/flags", "").want(t, 200)
	if err := e.store.RevokeToken(t.Context(), ramp.Change{Actor: "test"}, e.adminID); err != nil {
		t.Fatal(err)
	}
	if a := b.do("GET", "/api/v1/flags", "").want(t, 401); !strings.Contains(a.body, "revoked") {
		t.Errorf("revoked token's session: %s", a.body)
	}
}

func TestPagesAndHeaders(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	a := b.do("GET", "/", "").want(t, 200)
	csp := a.header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline code", csp)
	}
	for name, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Content-Type": "text/html; charset=utf-8"} {
		if got := a.header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	// The page has no inline script or style, which the CSP would block,
	// and every file it names is served with its type.
	if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(a.body) || strings.Contains(a.body, "style=") || strings.Contains(a.body, "<style") {
		t.Error("index.html has inline script or style")
	}
	refs := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(a.body, -1)
	if len(refs) < 3 {
		t.Fatalf("index.html names %d assets", len(refs))
	}
	for _, m := range refs {
		a := b.do("GET", m[1], "").want(t, 200)
		if a.header.Get("ETag") == "" || a.header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: headers %v", m[1], a.header)
		}
		b.do("GET", m[1], "", "If-None-Match", a.header.Get("ETag")).want(t, 304)
	}
	js := b.do("GET", "/assets/app.js", "").want(t, 200)
	if ct := js.header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("app.js Content-Type %q", ct)
	}
	// Every module the console imports is served.
	for _, m := range regexp.MustCompile(`from '\./([a-z]+\.js)'`).FindAllStringSubmatch(js.body, -1) {
		b.do("GET", "/assets/"+m[1], "").want(t, 200)
	}
	b.do("GET", "/assets/missing.js", "").want(t, 404)
	// The API keeps its paths, its headers and its problem documents.
	if a := b.do("GET", "/healthz", "").want(t, 200); strings.Contains(a.header.Get("Content-Security-Policy"), "script-src") {
		t.Errorf("/healthz got the console's headers")
	}
	if a := b.do("GET", "/no/such/page", "").want(t, 404); a.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("unknown path: %s %s", a.header.Get("Content-Type"), a.body)
	}
	b.do("POST", "/", "").want(t, 404)
}
