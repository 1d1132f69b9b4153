// Package httpapi serves ramp over HTTP: the admin API under /api/v1/ and
// the health endpoints. docs/api.md is its contract and openapi.yaml its
// machine-readable description.
//
// Every handler returns an error, and one wrapper renders it as an RFC 9457
// problem document, so that no handler writes errors its own way.
package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/rollout"
)

// DefaultMaxBodyBytes is the largest request body the API reads unless
// Config.MaxBodyBytes says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Config configures a Server.
type Config struct {
	// Store holds flags, segments, environments, tokens and the audit log.
	// It is required.
	Store Store
	// Logger receives internal errors in full and a debug line per request.
	// Nil discards logs.
	Logger *slog.Logger
	// AdminTokenHash, if set, is the SHA-256 of a token string accepted as
	// an admin token with the actor name "admin", for example a token given
	// on the command line to bootstrap the first stored token.
	AdminTokenHash []byte
	// MaxBodyBytes limits request bodies; larger ones get 413. Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Live serves the SDK delivery endpoints (docs/stream.md) and OFREP.
	// Nil leaves them out.
	Live Live
	// Counts stores the counts SDKs report to POST /sdk/v1/metrics
	// (docs/metrics.md). The route is served with Live only; nil leaves
	// it out.
	Counts CountStore
	// Heartbeat is the interval of keep-alive comments on streams. Zero
	// means 15 seconds.
	Heartbeat time.Duration
	// Rollouts and RolloutStore serve the guarded rollout routes. Nil
	// leaves them out.
	Rollouts     Rollouts
	RolloutStore RolloutStore
	// Metrics, if set, is served at /metrics to any valid token (an SDK
	// token is enough, so that Prometheus needs no write access).
	Metrics prometheus.Gatherer
	// Registerer, if set, receives the API's own metrics, such as the
	// OFREP evaluation counts. Nil registers none.
	Registerer prometheus.Registerer
	// AlertSeverities are the values of an alert's severity label that
	// make the Alertmanager receiver roll its flag back, compared without
	// regard to case. Empty means DefaultAlertSeverities (critical); an
	// empty string among them makes New panic.
	AlertSeverities []string
	// Baselines and Sources serve the baseline routes (ramp baseline):
	// recorded baselines, and the metric sources they are measured from,
	// by plan source name. Nil Baselines leaves the routes out.
	Baselines BaselineStore
	Sources   map[string]rollout.Source
	// Facts describe the server for GET /api/v1/server.
	Facts Facts
	// Sessions, if set, lets a console session cookie stand for an admin
	// token on requests that carry no token (docs/console.md).
	Sessions Sessions
}

// Server is the admin API. It is an http.Handler and is safe for
// concurrent use.
type Server struct {
	store     Store
	log       *slog.Logger
	adminHash []byte
	maxBody   int64
	now       func() time.Time

	live         Live
	counts       CountStore
	rollouts     Rollouts
	rolloutStore RolloutStore
	tokens       tokenCache
	heartbeat    time.Duration
	metrics      prometheus.Gatherer
	sessions     Sessions

	baselines BaselineStore
	sources   map[string]rollout.Source
	facts     Facts
	started   time.Time

	// mux routes requests; each of its handlers runs one made by wrap.
	mux *http.ServeMux
	// patterns lists every registered route, for the OpenAPI coverage test.
	patterns []string
}

// New returns a Server for cfg. It panics if cfg has no Store, if
// AdminTokenHash is set but is not a SHA-256 sum, or if MaxBodyBytes is
// negative: those are programming errors, not runtime conditions.
func New(cfg Config) *Server {
	if cfg.Store == nil {
		panic("httpapi: Config.Store is nil")
	}
	if cfg.AdminTokenHash != nil && len(cfg.AdminTokenHash) != 32 {
		panic(fmt.Sprintf("httpapi: Config.AdminTokenHash is %d bytes long; it must be a SHA-256 sum (32 bytes)", len(cfg.AdminTokenHash)))
	}
	if cfg.MaxBodyBytes < 0 {
		panic(fmt.Sprintf("httpapi: Config.MaxBodyBytes is negative (%d)", cfg.MaxBodyBytes))
	}
	s := &Server{
		store:        cfg.Store,
		log:          cfg.Logger,
		adminHash:    cfg.AdminTokenHash,
		maxBody:      cfg.MaxBodyBytes,
		now:          cfg.Now,
		live:         cfg.Live,
		counts:       cfg.Counts,
		rollouts:     cfg.Rollouts,
		rolloutStore: cfg.RolloutStore,
		heartbeat:    cfg.Heartbeat,
		metrics:      cfg.Metrics,
		sessions:     cfg.Sessions,
		mux:          http.NewServeMux(),
	}
	if s.heartbeat == 0 {
		s.heartbeat = 15 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.baselines, s.sources, s.facts, s.started = cfg.Baselines, cfg.Sources, cfg.Facts, s.now()
	if s.facts.AlertSeverities == nil {
		s.facts.AlertSeverities = cfg.AlertSeverities
	}
	s.serverInfoRoutes()
	if s.baselines != nil {
		s.baselineRoutes()
	}
	s.healthRoutes()
	s.openapiRoutes()
	s.environmentRoutes()
	s.flagRoutes()
	s.segmentRoutes()
	s.tokenRoutes()
	s.auditRoutes()
	s.eventRoutes()
	s.alertRoutes(cfg.AlertSeverities)
	if s.rollouts != nil && s.rolloutStore != nil {
		s.rolloutRoutes()
	}
	if s.live != nil {
		s.sdkRoutes()
		s.ofrepRoutes(cfg.Registerer)
	}
	if s.metrics != nil {
		h := promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)})
		s.handle("GET /metrics", accessSDK, func(w http.ResponseWriter, r *http.Request) error {
			h.ServeHTTP(w, r)
			return nil
		})
	}
	return s
}

// ServeHTTP sets the security headers, routes the request, and renders
// unknown paths and methods as problem documents.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &responseWriter{ResponseWriter: w, matching: true}
	// Shared, canonical values assigned directly: no allocation per
	// request. A handler that changes one replaces the slice (Header.Set),
	// never writes into it.
	hdr := w.Header()
	hdr["X-Content-Type-Options"] = hdrNosniff
	hdr["Cache-Control"] = hdrNoStore
	hdr["Referrer-Policy"] = hdrNoReferrer
	hdr["Content-Security-Policy"] = hdrCSP

	// One match on the usual path: the mux sets the pattern and path
	// values and calls a route's handler, which ends rw's matching.
	s.mux.ServeHTTP(rw, r)
	if !rw.matching {
		return
	}
	// The mux answered itself, and rw held its answer back: a 404, a 405
	// or a redirect to the clean form of the path. Those are rare, so the
	// request is matched again to learn which.
	rw.matching = false
	if h, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(rw, r, h)
	} else {
		h.ServeHTTP(rw, r) // a redirect to a route
	}
}

// The security headers of every answer.
var (
	hdrNosniff    = []string{"nosniff"}
	hdrNoStore    = []string{"no-store"}
	hdrNoReferrer = []string{"no-referrer"}
	hdrCSP        = []string{"default-src 'none'; frame-ancestors 'none'"}
)

// noRoute answers a request no pattern matches: 404, or 405 with Allow when
// the path exists with other methods. fallback is the mux's own plain-text
// answer, run against a probe to learn which.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request, fallback http.Handler) {
	probe := &headerProbe{header: http.Header{}}
	fallback.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		s.writeProblem(w, r, problem{
			Type:   problemType(codeMethodNotAllowed),
			Title:  "Method not allowed",
			Status: http.StatusMethodNotAllowed,
			Detail: fmt.Sprintf("%s is not allowed on %s; use %s", r.Method, r.URL.Path, probe.header.Get("Allow")),
		})
		return
	}
	s.writeError(w, r, ramp.Errorf(ramp.ENOTFOUND, "no route for %s %s", r.Method, r.URL.Path))
}

// headerProbe records what the mux's fallback handlers write.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(status int)      { p.status = status }

// access says who may call a route.
type access int

const (
	accessOpen  access = iota // anyone, no token
	accessAdmin               // admin tokens only
	accessSDK                 // SDK tokens, and admin tokens naming an environment
)

// handlerFunc is the shape of every handler: it writes a success response,
// or returns an error for the wrapper to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle registers h for pattern behind the access check.
func (s *Server) handle(pattern string, a access, h handlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.Handle(pattern, s.wrap(a, h))
}

// wrap turns a handlerFunc into an http.Handler: it authenticates, calls h,
// renders a returned error or a panic, and logs the request.
func (s *Server) wrap(a access, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw, _ := w.(*responseWriter)
		if rw != nil {
			rw.matching = false
		}
		start := s.now()
		actor := ""
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
			}
			status := 0
			if rw != nil {
				status = rw.status
			}
			s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", status), slog.String("actor", actor),
				slog.Duration("duration", s.now().Sub(start)))
		}()

		if a != accessOpen {
			p, err := s.authenticate(r)
			if err == nil && a == accessAdmin && p.Kind != ramp.TokenAdmin {
				err = ramp.Errorf(ramp.EFORBIDDEN, "%s tokens cannot use the admin API; use an admin token", p.Kind)
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			actor = p.Name
			r = withPrincipal(rw, r, p)
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// responseWriter records the status for the error renderer and the log,
// and holds the request's principal. It implements Unwrap so that
// http.ResponseController reaches the underlying writer's Flush and
// deadlines.
//
// While matching, before a route's handler has the request, only the mux
// writes to it: its own plain-text answers (404, 405, redirects), which
// are held back for ServeHTTP to answer again. Every handler on the mux
// goes through wrap, which ends the matching.
type responseWriter struct {
	http.ResponseWriter
	status   int
	matching bool
	held     http.Header // the header of a held-back answer
	// principal is the context of an authenticated request, allocated
	// with the writer rather than on its own.
	principal principalContext
}

func (w *responseWriter) Header() http.Header {
	if w.matching {
		if w.held == nil {
			w.held = http.Header{}
		}
		return w.held
	}
	return w.ResponseWriter.Header()
}

func (w *responseWriter) WriteHeader(status int) {
	if w.matching {
		return
	}
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.matching {
		return len(b), nil
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped ResponseWriter.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// FlushError flushes the wrapped writer; http.ResponseController calls it.
// A flush sends the header, so the status is recorded first.
func (w *responseWriter) FlushError() error {
	if w.matching {
		return nil
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// wroteHeader reports whether a response has started on w, after which an
// error can only be logged.
func wroteHeader(w http.ResponseWriter) bool {
	rw, ok := w.(*responseWriter)
	return ok && rw.status != 0
}
