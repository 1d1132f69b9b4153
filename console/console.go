// Package console serves ramp's web console: a few hand-written HTML, CSS
// and JavaScript files embedded in the binary, the sign-in that turns an
// admin token into a session cookie, and a router that sends every other
// request to the API. The pages talk to the admin API with the session
// cookie and a CSRF header; docs/console.md describes them.
package console

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
)

//go:embed static
var static embed.FS

// maxSignInBody bounds the sign-in request body.
const maxSignInBody = 16 << 10

// ContentSecurityPolicy is the policy of every console response: scripts
// and styles only from the console's own files, no inline code, no
// framing.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// API is what the console needs of the admin API: it serves every request
// that is not the console's, and checks the tokens people sign in with.
type API interface {
	http.Handler
	AuthenticateToken(ctx context.Context, token string) (httpapi.Principal, error)
}

// Config configures a Console.
type Config struct {
	// API serves every path the console does not; it is required.
	API API
	// Sessions holds the sessions; the API must be given the same one so
	// that it accepts their cookie. Required.
	Sessions *Sessions
	// Logger receives sign-ins and internal errors; nil discards.
	Logger *slog.Logger
}

// Console is the web console in front of the API. It is an http.Handler
// and safe for concurrent use.
type Console struct {
	api      API
	sessions *Sessions
	log      *slog.Logger
	mux      *http.ServeMux
	files    map[string]file
}

// file is an embedded file ready to serve.
type file struct {
	body  []byte
	ctype string
	etag  string
}

// New returns the console for cfg. It panics without an API or Sessions:
// those are programming errors.
func New(cfg Config) *Console {
	if cfg.API == nil || cfg.Sessions == nil {
		panic("console: Config.API and Config.Sessions are required")
	}
	c := &Console{api: cfg.API, sessions: cfg.Sessions, log: cfg.Logger, mux: http.NewServeMux(), files: map[string]file{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) {
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".html":
			ctype = "text/html; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		c.files[strings.TrimPrefix(p, "static/")] = file{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("console: read embedded files: " + err.Error()) // embedded at build time
	}
	c.mux.HandleFunc("GET /{$}", c.serveFile("index.html"))
	c.mux.HandleFunc("GET /assets/{name}", func(w http.ResponseWriter, r *http.Request) {
		c.serveFile("assets/"+r.PathValue("name"))(w, r)
	})
	c.mux.HandleFunc("GET /session", c.getSession)
	c.mux.HandleFunc("POST /session", c.signIn)
	c.mux.HandleFunc("DELETE /session", c.signOut)
	c.mux.Handle("/", c.api)
	return c
}

// ServeHTTP routes the console's own paths (/, /assets/, /session) to the
// console with its security headers, and everything else to the API.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The API's hot paths (evaluations, streams) skip the console's mux.
	if p := r.URL.Path; strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/ofrep/") || strings.HasPrefix(p, "/sdk/") {
		c.api.ServeHTTP(w, r)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// securityHeaders sets the headers of every console response.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
}

// serveFile serves an embedded file; the browser revalidates it by ETag on
// every use, so that an upgraded binary's files are seen at once.
func (c *Console) serveFile(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		f, ok := c.files[name]
		if !ok {
			c.writeProblem(w, r, ramp.Errorf(ramp.ENOTFOUND, "the console has no file %s", path.Base(name)))
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		if r.Header.Get("If-None-Match") == f.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", f.ctype)
		h.Set("Content-Length", strconv.Itoa(len(f.body)))
		if r.Method != http.MethodHead {
			_, _ = w.Write(f.body)
		}
	}
}

// sessionInfo is what the console's pages learn of their session.
type sessionInfo struct {
	Actor     string    `json:"actor"`
	CSRFToken string    `json:"csrfToken"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// getSession answers the session of the request's cookie: its actor and
// CSRF token, which the pages send back on every change. Only a page of
// this origin can read the answer: the console sends no CORS headers.
func (c *Console) getSession(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	se, _, ok, err := c.sessions.fromRequest(r)
	if !ok {
		err = ramp.Errorf(ramp.EUNAUTHORIZED, "not signed in: sign in with an admin token")
	}
	if err != nil {
		c.writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sessionInfo{Actor: se.p.Name, CSRFToken: se.csrf, ExpiresAt: se.expires})
}

// signInRequest is the body of POST /session.
type signInRequest struct {
	Token string `json:"token"`
}

// signIn checks an admin token and starts a session: an HttpOnly,
// SameSite=Strict cookie, Secure over TLS. The request must be JSON from
// this origin, so that another site cannot sign a browser in.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	if err := checkSameOrigin(r); err != nil {
		c.writeProblem(w, r, err)
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		c.writeProblem(w, r, ramp.Errorf(ramp.EBADREQUEST, "send the token as JSON: Content-Type: application/json with {\"token\": \"ramp_admin_…\"}"))
		return
	}
	var req signInRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSignInBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.writeProblem(w, r, ramp.Errorf(ramp.ETOOLARGE, "the sign-in request is larger than %d bytes", maxSignInBody))
			return
		}
		c.writeProblem(w, r, ramp.Errorf(ramp.EBADREQUEST, "the body is not {\"token\": \"…\"}: %v", err))
		return
	}
	req.Token = strings.TrimSpace(req.Token)
	if req.Token == "" {
		c.writeProblem(w, r, &ramp.Error{Code: ramp.EINVALID, Message: "sign-in request is invalid",
			Fields: []ramp.FieldError{{Field: "token", Message: "is required: paste an admin token (ramp token create --admin, or the data directory's admin-token file)"}}})
		return
	}
	p, err := c.api.AuthenticateToken(r.Context(), req.Token)
	if err == nil && p.Kind != ramp.TokenAdmin {
		err = ramp.Errorf(ramp.EFORBIDDEN, "%s tokens cannot sign in to the console; use an admin token", p.Kind)
	}
	if err != nil {
		if ramp.ErrorCode(err) == ramp.EUNAUTHORIZED || ramp.ErrorCode(err) == ramp.EFORBIDDEN {
			err = &ramp.Error{Code: ramp.ErrorCode(err), Message: ramp.ErrorMessage(err),
				Fields: []ramp.FieldError{{Field: "token", Message: ramp.ErrorMessage(err)}}}
		}
		c.writeProblem(w, r, err)
		return
	}
	id, csrf, expires, err := c.sessions.create(p)
	if err != nil {
		c.writeProblem(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/",
		MaxAge:   int(c.sessions.ttl / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	c.log.Info("console sign-in", "actor", p.Name)
	writeJSON(w, http.StatusCreated, sessionInfo{Actor: p.Name, CSRFToken: csrf, ExpiresAt: expires})
}

// signOut ends the session and clears its cookie. It needs the CSRF
// header, so that another site cannot sign a browser out.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	se, id, ok, err := c.sessions.fromRequest(r)
	if ok && err == nil {
		if err := checkCSRF(r, se.csrf); err != nil {
			c.writeProblem(w, r, err)
			return
		}
		c.sessions.delete(id)
		c.log.Info("console sign-out", "actor", se.p.Name)
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// problemStatus maps the error codes the console returns to statuses, as
// the API does.
var problemStatus = map[string]int{
	ramp.EBADREQUEST:   http.StatusBadRequest,
	ramp.EINVALID:      http.StatusUnprocessableEntity,
	ramp.EUNAUTHORIZED: http.StatusUnauthorized,
	ramp.EFORBIDDEN:    http.StatusForbidden,
	ramp.ENOTFOUND:     http.StatusNotFound,
	ramp.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	ramp.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// writeProblem renders err as an RFC 9457 problem document like the
// API's; errors without a known code are "internal error".
func (c *Console) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	code := ramp.ErrorCode(err)
	status, ok := problemStatus[code]
	detail := ramp.ErrorMessage(err)
	if !ok {
		c.log.Error("console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		code, status, detail = ramp.EINTERNAL, http.StatusInternalServerError, "internal error"
	}
	p := struct {
		Type   string            `json:"type"`
		Title  string            `json:"title"`
		Status int               `json:"status"`
		Detail string            `json:"detail"`
		Errors []ramp.FieldError `json:"errors,omitempty"`
	}{Type: "urn:ramp:problem:" + code, Title: http.StatusText(status), Status: status, Detail: detail}
	var e *ramp.Error
	if errors.As(err, &e) {
		p.Errors = e.Fields
	}
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
