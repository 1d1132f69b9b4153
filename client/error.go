package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/ramp-flags/ramp"
)

// ProblemTypePrefix starts the type URI of every problem document ramp
// sends; the rest is the error code (invalid, not_found, ...).
const ProblemTypePrefix = "urn:ramp:problem:"

// APIError is an error answer of the server, decoded from its RFC 9457
// problem document (or made up from the status line when the answer is not
// one, for example from a proxy).
type APIError struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	// Errors lists the invalid fields of a validation error.
	Errors []ramp.FieldError `json:"errors,omitempty"`
	// CurrentVersion is the stored version on a version conflict.
	CurrentVersion int64 `json:"currentVersion,omitempty"`
}

// Error returns the detail (or the title) followed by each field error on
// its own line, so that a person at a terminal sees every problem at once.
func (e *APIError) Error() string {
	var b strings.Builder
	switch {
	case e.Detail != "":
		b.WriteString(e.Detail)
	case e.Title != "":
		b.WriteString(e.Title)
	default:
		fmt.Fprintf(&b, "the server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.CurrentVersion != 0 {
		fmt.Fprintf(&b, " (current version %d)", e.CurrentVersion)
	}
	for _, f := range e.Errors {
		b.WriteString("\n  ")
		if f.Field != "" {
			b.WriteString(f.Field)
			b.WriteString(": ")
		}
		b.WriteString(f.Message)
	}
	return b.String()
}

// Code returns the error code: the suffix of Type after
// ProblemTypePrefix, or a code derived from Status when the answer was not
// a ramp problem document.
func (e *APIError) Code() string {
	if code, ok := strings.CutPrefix(e.Type, ProblemTypePrefix); ok && code != "" {
		return code
	}
	switch e.Status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return ramp.EUNAUTHORIZED
	case http.StatusForbidden:
		return ramp.EFORBIDDEN
	case http.StatusNotFound:
		return ramp.ENOTFOUND
	case http.StatusConflict, http.StatusPreconditionFailed:
		return ramp.ECONFLICT
	case http.StatusRequestEntityTooLarge:
		return ramp.ETOOLARGE
	case http.StatusUnprocessableEntity:
		return ramp.EINVALID
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return ramp.EUNAVAILABLE
	}
	return ramp.EINTERNAL
}

// ErrorCode returns the code of the *APIError in err's chain, or "" if
// there is none.
func ErrorCode(err error) string {
	var e *APIError
	if errors.As(err, &e) {
		return e.Code()
	}
	return ""
}

// IsNotFound reports whether err is the server saying that the named thing
// does not exist.
func IsNotFound(err error) bool { return ErrorCode(err) == ramp.ENOTFOUND }

// IsConflict reports whether err is a version or uniqueness conflict.
func IsConflict(err error) bool { return ErrorCode(err) == ramp.ECONFLICT }

// decodeError turns an error answer into an *APIError.
func decodeError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &APIError{}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		if err := json.Unmarshal(body, e); err != nil {
			e = &APIError{}
		}
	}
	if e.Status == 0 {
		e.Status = resp.StatusCode
	}
	if e.Detail == "" && e.Title == "" {
		// Not a problem document: show the first line of what came back,
		// which is usually the most telling part of a proxy's page.
		line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		if len(line) > 200 {
			line = line[:200] + "…"
		}
		e.Detail = fmt.Sprintf("the server answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		if line != "" && mt != "text/html" {
			e.Detail += ": " + line
		}
	}
	return e
}
