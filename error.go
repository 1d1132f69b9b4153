// Package ramp holds the domain of the ramp feature-flag server: flags,
// variants, targeting rules, segments, environments, tokens and audit
// entries, and the one error type every layer speaks.
//
// The package imports only the standard library so that the evaluation
// package and the SDK, which build on these types, stay light.
package ramp

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. Each maps to one HTTP status in the API layer.
const (
	EBADREQUEST   = "bad_request"  // the request cannot be read: bad JSON, unknown fields, bad query
	EINVALID      = "invalid"      // the input is malformed or breaks a rule
	ENOTFOUND     = "not_found"    // the named thing does not exist
	ECONFLICT     = "conflict"     // a version or uniqueness conflict
	EUNAUTHORIZED = "unauthorized" // no or unknown credentials
	EFORBIDDEN    = "forbidden"    // credentials lack the permission
	ETOOLARGE     = "too_large"    // the request body is over the limit
	EUNAVAILABLE  = "unavailable"  // a dependency (the store) is not reachable
	EINTERNAL     = "internal"     // a bug or an unexpected failure
)

// Error is the application error. Its Message is safe to show to a client;
// the wrapped Err, if any, is for the log only.
type Error struct {
	Code    string
	Message string
	// Fields lists per-field problems of a validation error.
	Fields []FieldError
	// Version is the current version of the resource on a conflict, so a
	// client can re-read and retry.
	Version int64
	// Err is the underlying cause, never shown to clients.
	Err error
}

// FieldError names one invalid field by its path (for example
// "environments.production.rules[0].clauses[1].op") and says what is wrong.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted, client-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: the message of its
// *Error, or "internal error" for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
