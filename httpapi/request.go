package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/ramp-flags/ramp"
)

// decode reads r's body as exactly one JSON value into v. Unknown fields,
// trailing data and malformed JSON fail with EBADREQUEST, a body over the
// limit with ETOOLARGE.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, s.maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return s.decodeError(err)
	}
	// Anything after the value but white space is a client mistake, such
	// as two objects or a stray brace, that would otherwise go unnoticed.
	if _, err := dec.Token(); err != io.EOF {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return s.tooLarge()
		}
		return ramp.Errorf(ramp.EBADREQUEST, "body has data after the JSON value at offset %d; send one JSON value", dec.InputOffset())
	}
	return nil
}

func (s *Server) tooLarge() error {
	return ramp.Errorf(ramp.ETOOLARGE, "request body is larger than the limit of %s", byteSize(s.maxBody))
}

// decodeError turns an encoding/json error into a client-safe message.
func (s *Server) decodeError(err error) error {
	var (
		tooBig *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return s.tooLarge()
	case errors.Is(err, io.EOF):
		return ramp.Errorf(ramp.EBADREQUEST, "request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return ramp.Errorf(ramp.EBADREQUEST, "body is not valid JSON: it ends before the value is complete")
	case errors.As(err, &syntax):
		return ramp.Errorf(ramp.EBADREQUEST, "body is not valid JSON at offset %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ):
		msg := fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type), jsonValue(typ.Value))
		if typ.Field == "" {
			return ramp.Errorf(ramp.EBADREQUEST, "body %s", msg)
		}
		return &ramp.Error{
			Code:    ramp.EBADREQUEST,
			Message: fmt.Sprintf("field %q at offset %d %s", typ.Field, typ.Offset, msg),
			Fields:  []ramp.FieldError{{Field: typ.Field, Message: msg}},
		}
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if name, ok := strings.CutPrefix(msg, "unknown field "); ok {
		field, _ := strconv.Unquote(name)
		return &ramp.Error{
			Code:    ramp.EBADREQUEST,
			Message: fmt.Sprintf("unknown field %s in body", name),
			Fields:  []ramp.FieldError{{Field: field, Message: "is not a known field"}},
		}
	}
	// Errors from UnmarshalJSON methods, such as a malformed time, carry
	// only the value the client sent.
	return &ramp.Error{Code: ramp.EBADREQUEST, Message: "body cannot be read: " + msg, Err: err}
}

// jsonKind names a Go type the way a JSON client knows it.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a JSON value"
}

// jsonValue describes what encoding/json found: "string", "number",
// "bool", "array", "object", or "number 1e999" for a number out of range.
func jsonValue(v string) string {
	switch v {
	case "string", "number":
		return "a " + v
	case "array", "object":
		return "an " + v
	case "bool":
		return "true or false"
	}
	return v
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// writeJSON writes v as JSON with the status. Encoding happens before the
// header is written, so a value that cannot be encoded still gets a
// proper 500.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // a client that went away is not a server error
	return nil
}

// marshal encodes v as JSON followed by a newline, leaving <, > and &
// as they are: answers go to API clients, not into HTML.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// etag returns the ETag of a version: the number in double quotes.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifVersion returns the version an If-Match header asks for: 0 when the
// header is absent or "*" (the resource exists, which every conditional
// route checks anyway). Weak or several ETags fail with EBADREQUEST.
func ifVersion(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	if len(h) >= 3 && h[0] == '"' && h[len(h)-1] == '"' {
		if v, err := strconv.ParseInt(h[1:len(h)-1], 10, 64); err == nil && v > 0 {
			return v, nil
		}
	}
	return 0, ramp.Errorf(ramp.EBADREQUEST, "If-Match %s is not an ETag of this API; send the ETag of the last read, such as \"3\" (with the quotes)", h)
}

// bodyVersion merges If-Match with the version field of a PUT body. They
// must agree when both are given.
func bodyVersion(r *http.Request, body int64) (int64, error) {
	v, err := ifVersion(r)
	if err != nil {
		return 0, err
	}
	switch {
	case body < 0:
		return 0, &ramp.Error{Code: ramp.EINVALID, Message: "version is invalid",
			Fields: []ramp.FieldError{{Field: "version", Message: "must be positive; send the version of the last read"}}}
	case v != 0 && body != 0 && v != body:
		return 0, ramp.Errorf(ramp.EBADREQUEST, "If-Match %s and body version %d disagree; send one of them", etag(v), body)
	case v != 0:
		return v, nil
	}
	return body, nil
}

// query returns r's query parameters, each given at most once, after
// checking that every one is in allowed. A misspelt filter fails rather
// than being ignored.
func query(r *http.Request, allowed ...string) (map[string]string, error) {
	raw, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, ramp.Errorf(ramp.EBADREQUEST, "query string is malformed: %v", err)
	}
	q := make(map[string]string, len(raw))
	for name, vals := range raw {
		if !slices.Contains(allowed, name) {
			return nil, ramp.Errorf(ramp.EBADREQUEST, "unknown query parameter %q; use %s", name, strings.Join(allowed, ", "))
		}
		if len(vals) > 1 {
			return nil, ramp.Errorf(ramp.EBADREQUEST, "query parameter %q is given %d times; give it once", name, len(vals))
		}
		q[name] = vals[0]
	}
	return q, nil
}

// fields collects the field errors of a request body.
type fields []ramp.FieldError

func (fs *fields) add(field, format string, args ...any) {
	*fs = append(*fs, ramp.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err returns an EINVALID error about what listing fs, or nil if fs is
// empty.
func (fs fields) err(what string) error {
	if len(fs) == 0 {
		return nil
	}
	return &ramp.Error{Code: ramp.EINVALID, Message: what + " is invalid", Fields: fs}
}

// fieldError returns an EINVALID error about one field.
func fieldError(what, field, format string, args ...any) error {
	var fs fields
	fs.add(field, format, args...)
	return fs.err(what)
}

// change returns the ramp.Change of a request: its principal as the actor.
func change(r *http.Request) ramp.Change {
	p, _ := PrincipalFromContext(r.Context())
	return ramp.Change{Actor: p.Name}
}
