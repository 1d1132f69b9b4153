// Package client is a Go client of the ramp admin API described in
// docs/api.md. The ramp command line tool is built on it.
//
// Every method takes a context that bounds the whole request; the client
// makes up no timeouts of its own. Errors the server reports come back as
// *APIError; a server that cannot be reached gives a *ConnectionError.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client calls the admin API of one ramp server with one token. It is safe
// for concurrent use.
type Client struct {
	base      string
	token     string
	hc        *http.Client
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc instead of a
// default http.Client.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// New returns a client of the server at baseURL (for example
// "http://127.0.0.1:8080"; a missing scheme means http) that authenticates
// with token. Spaces and line ends around the token are dropped (a token
// read from a file often ends with one); an empty token sends no
// Authorization header.
func New(baseURL, token string, opts ...Option) *Client {
	base := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	if base != "" && !strings.Contains(base, "://") {
		base = "http://" + base
	}
	c := &Client{base: base, token: strings.TrimSpace(token), hc: &http.Client{}, userAgent: "ramp-client"}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL returns the server address the client calls.
func (c *Client) BaseURL() string { return c.base }

// request is one API call.
type request struct {
	method string
	path   string // escaped path below the base URL
	query  url.Values
	body   any
	// ifVersion, when non-zero, is sent as If-Match.
	ifVersion int64
	// out receives the decoded JSON answer; nil discards it.
	out any
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 1 << 20

// do sends r and decodes the answer. It returns the response headers of a
// successful call.
func (c *Client) do(ctx context.Context, r request) (http.Header, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode request: %w", r.method, r.path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, &ConnectionError{Server: c.base, Err: err}
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if r.ifVersion != 0 {
		req.Header.Set("If-Match", strconv.Quote(strconv.FormatInt(r.ifVersion, 10)))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s %s: %w", r.method, r.path, ctxErr)
		}
		return nil, &ConnectionError{Server: c.base, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return nil, decodeError(resp)
	}
	if r.out != nil && resp.StatusCode != http.StatusNoContent {
		var err error
		if raw, ok := r.out.(rawBody); ok {
			err = raw.readFrom(resp.Body)
		} else {
			err = json.NewDecoder(resp.Body).Decode(r.out)
		}
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("%s %s: %w", r.method, r.path, ctxErr)
			}
			return nil, fmt.Errorf("%s %s: decode answer: %w", r.method, r.path, err)
		}
	}
	// Drain what is left so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return resp.Header, nil
}

// get is a GET request decoded into out.
func (c *Client) get(ctx context.Context, path string, query url.Values, out any) (http.Header, error) {
	return c.do(ctx, request{method: http.MethodGet, path: path, query: query, out: out})
}

// versionFromETag parses an ETag of the form "N" or W/"N"; 0 if it is not
// one.
func versionFromETag(h http.Header) int64 {
	tag := strings.TrimPrefix(h.Get("ETag"), "W/")
	s, err := strconv.Unquote(tag)
	if err != nil {
		s = tag
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// ConnectionError reports that the server could not be reached at all:
// refused connection, unknown host, TLS failure and the like.
type ConnectionError struct {
	// Server is the base URL the client was configured with.
	Server string
	Err    error
}

// Error says what failed and how to point the client at a running server.
func (e *ConnectionError) Error() string {
	return fmt.Sprintf("cannot reach the ramp server at %s: %v\nis ramp serve running at %s? set --server or $RAMP_SERVER",
		e.Server, unwrapURLError(e.Err), e.Server)
}

// Unwrap returns the underlying network error.
func (e *ConnectionError) Unwrap() error { return e.Err }

// unwrapURLError drops the *url.Error wrapper, whose text repeats the
// method and URL the message already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
