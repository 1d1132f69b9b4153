package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Delivery policy (docs/sdk.md):
//
//   - The client streams GET /sdk/v1/stream. When a stream ends or fails,
//     it waits a jittered, exponentially growing delay and reconnects with
//     Last-Event-ID, so that the server replays only what it missed.
//   - A connection that is silent for IdleTimeout (no event, no ping) is
//     dead: the client drops it and reconnects.
//   - The client falls back to polling GET /sdk/v1/flags every
//     PollInterval when the stream cannot work: the endpoint answers 404,
//     405 or 501, or 200 with something other than text/event-stream (a
//     proxy or an older server), or three connections in a row deliver not
//     a single byte before they end or go idle (a proxy that buffers the
//     stream). While polling it tries the stream again every
//     StreamRetryInterval.
//   - Network errors and other statuses (5xx, 401, 429...) do not cause a
//     fallback: polling would fail the same way. The client backs off and
//     tries the stream again. Nor does a 404 that is ramp's own problem
//     document (an environment that does not exist): a ramp server always
//     streams.
//   - A refused token (401, 403) or a missing environment (ramp's 404)
//     is logged as an error and ends New's wait for the first flags:
//     waiting would not bring them.

// maxQuietStreams is how many connections in a row may deliver nothing
// before the client decides the stream is being buffered.
const maxQuietStreams = 3

// errIdle ends a connection that was silent for IdleTimeout.
var errIdle = fmt.Errorf("no event or ping for %v", IdleTimeout)

// run connects, streams or polls, and reconnects until Close.
func (c *Client) run() {
	defer c.wg.Done()
	ctx := c.ctx
	var (
		attempt   int // failed attempts in a row
		quiet     int // stream connections in a row that delivered nothing
		polling   bool
		pollSince time.Time
		base      = MinBackoff
	)
	for ctx.Err() == nil {
		var wait time.Duration
		if !polling {
			o := c.streamOnce(ctx)
			if ctx.Err() != nil {
				return
			}
			if o.retry > 0 {
				base = min(max(o.retry, 100*time.Millisecond), MaxBackoff)
			}
			switch {
			case o.heard:
				attempt, quiet = 0, 0
			case o.connected:
				quiet++
			}
			c.lost(o.err)
			if o.unsupported || quiet >= maxQuietStreams {
				c.log.Warn("ramp: the stream is not usable; polling instead", "url", c.ep.stream, "interval", c.cfg.PollInterval, "err", o.err)
				polling, pollSince, attempt, quiet = true, c.clock.Now(), 0, 0
				continue
			}
			wait = backoff(base, attempt)
			attempt++
		} else {
			err := c.pollOnce(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				c.lost(err)
				wait = backoff(base, attempt)
				attempt++
			} else {
				attempt = 0
				if c.clock.Now().Sub(pollSince) >= StreamRetryInterval {
					c.log.Info("ramp: trying the stream again", "url", c.ep.stream)
					polling = false
					continue
				}
				wait = c.cfg.PollInterval
			}
		}
		if !c.sleep(ctx, wait) {
			return
		}
	}
}

// backoff returns the delay before reconnection attempt n (0 for the
// first after a success): drawn uniformly from [ceil/10, ceil), where the
// ceiling is base doubled n times, at most MaxBackoff. The jitter spreads
// thousands of clients that lost the same server over the whole window;
// the floor keeps a client from reconnecting in a tight loop.
func backoff(base time.Duration, n int) time.Duration {
	ceil := MaxBackoff
	if n < 16 {
		ceil = min(base<<n, MaxBackoff)
	}
	floor := ceil / 10
	return floor + rand.N(ceil-floor)
}

// sleep waits d on the client's clock; it reports false if the client was
// closed first.
func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// lost records a failed attempt: the client is stale or still not ready.
// Before the first flags it falls back to the cache file.
func (c *Client) lost(err error) {
	if err == nil {
		err = errStreamEnded
	}
	var he *httpError
	if errors.As(err, &he) && he.configError() {
		c.log.Error("ramp: the server refused the client's token or environment", "url", c.cfg.URL, "err", err)
		if c.refused != nil {
			c.refusedOnce.Do(func() { close(c.refused) })
		}
	} else {
		c.log.Debug("ramp: connection attempt failed", "url", c.cfg.URL, "err", err)
	}
	c.setConnected(false, err)
	c.bootFromCache()
}

// outcome is what one stream connection did.
type outcome struct {
	connected   bool // the server answered 200 text/event-stream
	heard       bool // at least one byte arrived
	unsupported bool // the endpoint cannot stream (see the policy above)
	retry       time.Duration
	err         error
}

// httpError is an unexpected HTTP status, with the problem's detail.
type httpError struct {
	method, url string
	status      int
	detail      string
	fromRamp    bool // the answer is a problem document of ramp's
}

// configError reports whether e says the client's configuration is wrong:
// a refused token, or an environment the server does not have.
func (e *httpError) configError() bool {
	return e.status == http.StatusUnauthorized || e.status == http.StatusForbidden ||
		e.status == http.StatusNotFound && e.fromRamp
}

func (e *httpError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.method, e.url, e.status, http.StatusText(e.status))
	if e.detail != "" {
		s += ": " + e.detail
	}
	return s
}

// statusError reads an unexpected answer into an *httpError.
func statusError(resp *http.Response) *httpError {
	e := &httpError{method: resp.Request.Method, url: resp.Request.URL.Redacted(), status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &p) == nil {
		e.detail = p.Detail
		if e.detail == "" {
			e.detail = p.Title
		}
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		e.fromRamp = mt == "application/problem+json" && strings.HasPrefix(p.Type, "urn:ramp:problem:")
	}
	return e
}

// conn is one request under the idle watchdog.
type conn struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	heard  atomic.Int64 // the clock's time of the last byte, in Unix nanoseconds
	any    atomic.Bool  // a byte arrived
	done   chan struct{}
}

// open starts a request context whose watchdog cancels it after
// IdleTimeout without a byte. The caller must close it.
func (c *Client) open(parent context.Context) *conn {
	ctx, cancel := context.WithCancelCause(parent)
	k := &conn{ctx: ctx, cancel: cancel, done: make(chan struct{})}
	k.heard.Store(c.clock.Now().UnixNano())
	go c.watch(k)
	return k
}

// close ends the request and waits for its watchdog.
func (k *conn) close() {
	k.cancel(nil)
	<-k.done
}

// why returns the reason a request failed: the watchdog's, if it fired.
func (k *conn) why(err error) error {
	if cause := context.Cause(k.ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

func (c *Client) watch(k *conn) {
	defer close(k.done)
	wait := IdleTimeout
	for {
		t := c.clock.NewTimer(wait)
		select {
		case <-k.ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		idle := c.clock.Now().Sub(time.Unix(0, k.heard.Load()))
		if idle >= IdleTimeout {
			k.cancel(errIdle)
			return
		}
		wait = IdleTimeout - idle
	}
}

// activityReader feeds the watchdog with every byte read.
type activityReader struct {
	r     io.Reader
	k     *conn
	clock Clock
}

func (a *activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.k.heard.Store(a.clock.Now().UnixNano())
		a.k.any.Store(true)
	}
	return n, err
}

func (c *Client) newRequest(ctx context.Context, url string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	req.Header.Set("User-Agent", "ramp-go-sdk")
	return req, nil
}

// streamOnce holds one stream connection until it ends.
func (c *Client) streamOnce(ctx context.Context) (o outcome) {
	k := c.open(ctx)
	defer k.close()
	req, err := c.newRequest(k.ctx, c.ep.stream)
	if err != nil {
		o.err = err
		return o
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if id := c.lastEventID(); id != "" {
		req.Header.Set("Last-Event-ID", id)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		o.err = k.why(err)
		return o
	}
	defer resp.Body.Close()
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode == http.StatusOK && mt == "text/event-stream":
	case resp.StatusCode == http.StatusOK:
		o.unsupported = true
		o.err = fmt.Errorf("GET %s: answered %q, not text/event-stream", c.ep.stream, resp.Header.Get("Content-Type"))
		return o
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented:
		he := statusError(resp)
		o.unsupported = !he.fromRamp || resp.StatusCode != http.StatusNotFound
		o.err = he
		return o
	default:
		o.err = statusError(resp)
		return o
	}
	o.connected = true
	c.setConnected(true, nil)
	rd := newSSEReader(&activityReader{r: resp.Body, k: k, clock: c.clock})
	for {
		ev, err := rd.next()
		o.heard, o.retry = k.any.Load(), rd.retry
		if err != nil {
			if err == io.EOF {
				err = errStreamEnded
			} else if errors.Is(err, io.ErrUnexpectedEOF) {
				c.log.Warn("ramp: the stream ended inside an event; ignoring the partial event", "url", c.ep.stream)
			}
			o.err = k.why(err)
			return o
		}
		c.handle(ev)
	}
}

// handle applies one stream event; a malformed one is logged and ignored.
func (c *Client) handle(ev sseEvent) {
	switch ev.typ {
	case "snapshot":
		var d document
		err := decode(ev.data, &d)
		if err == nil {
			err = d.check()
		}
		if err != nil {
			c.log.Warn("ramp: ignoring a malformed snapshot event; keeping the flags it has", "id", ev.id, "err", err)
			return
		}
		c.apply(d.update(), "stream")
	case "change":
		var ch change
		err := decode(ev.data, &ch)
		if err == nil {
			err = ch.check()
		}
		if err != nil {
			// The change is lost: ask for a snapshot on the next
			// connection rather than drift until one comes.
			c.log.Warn("ramp: ignoring a malformed change event; keeping the flags it has", "id", ev.id, "err", err)
			c.askResync()
			return
		}
		c.apply(update{seq: ch.Seq, flags: ch.Flags, deletedFlags: ch.DeletedFlags, segments: ch.Segments, deletedSegments: ch.DeletedSegments}, "stream")
	default:
		c.log.Debug("ramp: ignoring an event of unknown type", "type", ev.typ, "id", ev.id)
	}
}

// pollOnce fetches the environment document unless the client has it.
func (c *Client) pollOnce(ctx context.Context) error {
	k := c.open(ctx)
	defer k.close()
	req, err := c.newRequest(k.ctx, c.ep.flags)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if id := c.lastEventID(); id != "" {
		req.Header.Set("If-None-Match", `"`+id+`"`)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return k.why(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		c.setConnected(true, nil)
		return nil
	case http.StatusOK:
	default:
		return statusError(resp)
	}
	body, err := io.ReadAll(io.LimitReader(&activityReader{r: resp.Body, k: k, clock: c.clock}, maxEventSize+1))
	if err != nil {
		return k.why(err)
	}
	if len(body) > maxEventSize {
		return errEventTooLarge
	}
	var d document
	if err := decode(body, &d); err != nil {
		return fmt.Errorf("GET %s: malformed environment document: %w", c.ep.flags, err)
	}
	if err := d.check(); err != nil {
		return fmt.Errorf("GET %s: malformed environment document: %w", c.ep.flags, err)
	}
	// Connected first, so that the first flags are live at once.
	c.setConnected(true, nil)
	c.apply(d.update(), "poll")
	return nil
}
