package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/ramp-flags/ramp"
)

// codeMethodNotAllowed is the problem code of a known path called with a
// method it does not serve. It is an HTTP routing matter, not a ramp error.
const codeMethodNotAllowed = "method_not_allowed"

// problemContentType is the media type of RFC 9457 problem documents.
const problemContentType = "application/problem+json"

// problem is an RFC 9457 problem document with ramp's extensions.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors lists the fields of an invalid request.
	Errors []ramp.FieldError `json:"errors,omitempty"`
	// CurrentVersion is the stored version on a version conflict.
	CurrentVersion int64 `json:"currentVersion,omitempty"`
}

// statusOf maps each ramp error code to its HTTP status and title; the
// table in docs/api.md says the same.
var statusOf = map[string]struct {
	status int
	title  string
}{
	ramp.EBADREQUEST:   {http.StatusBadRequest, "Bad request"},
	ramp.EINVALID:      {http.StatusUnprocessableEntity, "Invalid input"},
	ramp.EUNAUTHORIZED: {http.StatusUnauthorized, "Unauthorized"},
	ramp.EFORBIDDEN:    {http.StatusForbidden, "Forbidden"},
	ramp.ENOTFOUND:     {http.StatusNotFound, "Not found"},
	ramp.ECONFLICT:     {http.StatusConflict, "Conflict"},
	ramp.ETOOLARGE:     {http.StatusRequestEntityTooLarge, "Request body too large"},
	ramp.EUNAVAILABLE:  {http.StatusServiceUnavailable, "Service unavailable"},
	ramp.EINTERNAL:     {http.StatusInternalServerError, "Internal error"},
}

func problemType(code string) string { return "urn:ramp:problem:" + code }

// writeError renders err as a problem document. Client-safe messages come
// from *ramp.Error; everything at 500 and 503 is logged in full, and any
// error without a ramp code is shown only as "internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := ramp.ErrorCode(err)
	st, known := statusOf[code]
	if !known {
		code, st = ramp.EINTERNAL, statusOf[ramp.EINTERNAL]
	}
	p := problem{
		Type:   problemType(code),
		Title:  st.title,
		Status: st.status,
		Detail: ramp.ErrorMessage(err),
	}
	var e *ramp.Error
	switch {
	case code == ramp.EINTERNAL:
		p.Detail = "internal error"
	case errors.As(err, &e):
		p.Errors = e.Fields
		if code == ramp.ECONFLICT {
			p.CurrentVersion = e.Version
		}
	}

	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request canceled",
			slog.String("method", r.Method), slog.String("path", r.URL.Path))
	case st.status >= 500:
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", st.status), slog.String("error", err.Error()))
	}
	if wroteHeader(w) {
		s.log.LogAttrs(r.Context(), slog.LevelError, "error after the response started",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("error", err.Error()))
		return
	}
	if code == ramp.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ramp"`)
	}
	s.writeProblem(w, r, p)
}

// writeProblem writes p with its status.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, p problem) {
	b, err := marshal(p)
	if err != nil { // a problem always marshals
		s.log.Error("marshal problem", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Del("ETag")
	h.Del("Location")
	h.Set("Content-Type", problemContentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
