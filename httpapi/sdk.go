package httpapi

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/hub"
)

// Live is the in-memory state of the flags, kept current by the change
// feed: what SDK delivery and OFREP serve.
type Live interface {
	// Env returns the current state of the environment, or nil.
	Env(env string) *hub.State
	// Subscribe starts a stream of the environment's events after lastSeq
	// (0: start with a snapshot).
	Subscribe(env string, lastSeq int64) (*hub.Subscription, error)
	// Seq returns the position of the change feed: it moves on with every
	// committed change, tokens included.
	Seq() int64
}

func (s *Server) sdkRoutes() {
	s.handle("GET /sdk/v1/flags", accessSDK, s.sdkFlags)
	streams := newStreamer(s.heartbeat)
	s.handle("GET /sdk/v1/stream", accessSDK, func(w http.ResponseWriter, r *http.Request) error {
		return s.sdkStream(streams, w, r)
	})
	s.sdkMetricsRoutes()
}

// environmentOf returns the environment a request reads: the SDK token's,
// or for an admin token the one named by the query parameter environment.
func environmentOf(r *http.Request) (string, error) {
	p, _ := PrincipalFromContext(r.Context())
	q := ""
	if r.URL.RawQuery != "" { // no query map to make on the usual SDK request
		q = r.URL.Query().Get("environment")
	}
	if p.Kind == ramp.TokenSDK {
		if q != "" && q != p.Environment {
			return "", ramp.Errorf(ramp.EFORBIDDEN, "this SDK token reads environment %q, not %q", p.Environment, q)
		}
		return p.Environment, nil
	}
	if q == "" {
		return "", ramp.Errorf(ramp.EBADREQUEST, "an admin token must name the environment: add ?environment=production (SDK tokens name it themselves)")
	}
	return q, nil
}

// liveEnv returns the live state of the request's environment.
func (s *Server) liveEnv(r *http.Request) (*hub.State, error) {
	env, err := environmentOf(r)
	if err != nil {
		return nil, err
	}
	st := s.live.Env(env)
	if st == nil {
		return nil, ramp.Errorf(ramp.ENOTFOUND, "environment %q does not exist", env)
	}
	return st, nil
}

// sdkFlags answers the environment document, or 304 if the client has it.
func (s *Server) sdkFlags(w http.ResponseWriter, r *http.Request) error {
	st, err := s.liveEnv(r)
	if err != nil {
		return err
	}
	etag := `"` + strconv.FormatInt(st.Seq, 10) + `"`
	w.Header().Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	doc := st.Document()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	_, _ = w.Write(doc)
	return nil
}

// etagMatch reports whether an If-None-Match header lists etag.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// sdkStream streams the environment's events as Server-Sent Events until
// the client goes away or the hub ends the subscription.
func (s *Server) sdkStream(streams *streamer, w http.ResponseWriter, r *http.Request) error {
	env, err := environmentOf(r)
	if err != nil {
		return err
	}
	var last int64
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if last, err = strconv.ParseInt(id, 10, 64); err != nil || last < 0 {
			return ramp.Errorf(ramp.EBADREQUEST, "Last-Event-ID %q is not a sequence number", id)
		}
	}
	sub, err := s.live.Subscribe(env, last)
	if err != nil {
		return err
	}
	streams.serve(w, r, sub, sdkFrame)
	return nil
}

// sdkFrame renders a hub event on the SDK stream: the frame the hub
// formatted once for every subscriber.
func sdkFrame(ev hub.Event) []byte { return ev.Frame }

// Streams
//
// An idle stream costs the server no goroutine: once the response header
// is written, the connection is taken from net/http (hijacked) and the
// subscription calls back when it has an event; a goroutine is started to
// write what is pending and ends when nothing is. net/http's per-connection
// buffers, its background reader and the handler's stack are then freed,
// which brings an idle stream from about 36 KiB of server memory to about
// 3 KiB (docs/benchmarks.md). The body is not chunked: the response says
// "Connection: close" and ends with the connection, which SSE allows.
// One goroutine per streamer sends the keep-alive comments of every idle
// stream. Where the connection cannot be taken (HTTP/2, or a writer that
// is not net/http's) the handler streams through the ResponseWriter.

// streamer serves the streams of one route. It is safe for concurrent use.
type streamer struct {
	heartbeat time.Duration

	mu    sync.Mutex
	conns map[*stream]struct{}
	// ticking is true while the heartbeat goroutine runs: while conns is
	// not empty.
	ticking bool
}

func newStreamer(heartbeat time.Duration) *streamer {
	return &streamer{heartbeat: heartbeat, conns: map[*stream]struct{}{}}
}

// streamEpoch is the origin of stream.last: monotonic time since process
// start in nanoseconds fits an atomic int64.
var streamEpoch = time.Now()

// stream is one hijacked stream.
type stream struct {
	streams *streamer
	conn    net.Conn
	sub     *hub.Subscription
	format  func(hub.Event) []byte
	// kicks counts the wake-ups since the writer goroutine last found
	// nothing to do; the one that moves it from 0 starts the goroutine.
	// It is never reset once the stream has ended, so no goroutine starts
	// after that.
	kicks atomic.Int32
	// ping asks the writer for a keep-alive comment.
	ping atomic.Bool
	// last is when the stream was last written, in nanoseconds since
	// streamEpoch.
	last atomic.Int64
}

// serve streams the events of sub, formatted by format, to the client of
// r. It takes sub over and closes it when the stream ends: the client
// goes away (noticed when a write fails: within two keep-alives) or the hub ends
// the subscription, which the server does when it shuts down. It returns
// at once for a hijacked connection, and when the stream ends otherwise.
func (st *streamer) serve(w http.ResponseWriter, r *http.Request, sub *hub.Subscription, format func(hub.Event) []byte) {
	h := w.Header()
	h["Content-Type"] = eventStreamType
	h["Cache-Control"] = hdrNoStore
	h["X-Accel-Buffering"] = accelNo // nginx: do not buffer the stream
	if r.ProtoMajor != 1 {
		st.serveWriter(w, r, sub, format)
		return
	}
	// A request pipelined behind the stream, in the returned reader, is
	// never read: the stream ends with the connection.
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		st.serveWriter(w, r, sub, format)
		return
	}
	if rw, ok := w.(*responseWriter); ok {
		rw.status = http.StatusOK // for the request log
	}
	// net/http's read and write timeouts are the server's; a stream
	// outlives them.
	_ = conn.SetDeadline(time.Time{})
	b := make([]byte, 0, 512)
	b = append(b, "HTTP/1.1 200 OK\r\n"...)
	h["Date"] = []string{time.Now().UTC().Format(http.TimeFormat)}
	h["Connection"] = connClose
	buf := bytes.NewBuffer(b)
	_ = h.Write(buf)
	buf.WriteString("\r\nretry: 1000\n\n")
	if _, err := conn.Write(buf.Bytes()); err != nil {
		_ = conn.Close()
		sub.Close()
		return
	}
	c := &stream{streams: st, conn: conn, sub: sub, format: format}
	c.last.Store(int64(time.Since(streamEpoch)))
	st.add(c)
	sub.OnReady(c.kick)
}

// Shared header values, set without allocating; net/http does not
// modify them.
var (
	eventStreamType = []string{"text/event-stream"}
	accelNo         = []string{"no"}
	connClose       = []string{"close"}
)

// pingFrame is the keep-alive comment.
var pingFrame = []byte(": ping\n\n")

// kick makes sure a writer goroutine runs. It never blocks.
func (c *stream) kick() {
	if c.kicks.Add(1) == 1 {
		go c.run()
	}
}

// run writes what the stream has pending until nothing is, then ends; or
// ends the stream when the subscription ends or a write fails.
func (c *stream) run() {
	for {
		n := c.kicks.Load()
		if !c.flush() {
			c.end()
			return
		}
		if c.kicks.CompareAndSwap(n, 0) {
			return
		}
	}
}

// flush writes the pending events, or a keep-alive comment when one is
// due and there are none. It reports false when the stream must end.
func (c *stream) flush() bool {
	var frames net.Buffers
	var ended bool
	for {
		ev, ok, err := c.sub.Poll()
		if err != nil {
			ended = true
			break
		}
		if !ok {
			break
		}
		frames = append(frames, c.format(ev))
	}
	if c.ping.Swap(false) && len(frames) == 0 && !ended {
		frames = append(frames, pingFrame)
	}
	var err error
	switch len(frames) {
	case 0:
	case 1:
		_, err = c.conn.Write(frames[0])
	default:
		_, err = frames.WriteTo(c.conn) // one writev
	}
	if len(frames) > 0 {
		c.last.Store(int64(time.Since(streamEpoch)))
	}
	return err == nil && !ended
}

// end closes the connection and the subscription.
func (c *stream) end() {
	_ = c.conn.Close()
	c.sub.Close()
	c.streams.remove(c)
}

// add registers c for keep-alives, starting the heartbeat goroutine if it
// is not running.
func (st *streamer) add(c *stream) {
	st.mu.Lock()
	st.conns[c] = struct{}{}
	start := !st.ticking
	st.ticking = true
	st.mu.Unlock()
	if start {
		go st.keepAlive()
	}
}

func (st *streamer) remove(c *stream) {
	st.mu.Lock()
	delete(st.conns, c)
	st.mu.Unlock()
}

// keepAlive asks every stream idle for three quarters of the heartbeat
// for a keep-alive comment, four times per heartbeat, so that no stream
// stays silent for longer than the heartbeat. It ends when no stream is
// left. A stream whose client went away is ended by the failed write.
func (st *streamer) keepAlive() {
	t := time.NewTicker(st.heartbeat / 4)
	defer t.Stop()
	idle := int64(st.heartbeat - st.heartbeat/4)
	var batch []*stream
	for range t.C {
		st.mu.Lock()
		if len(st.conns) == 0 {
			st.ticking = false
			st.mu.Unlock()
			return
		}
		batch = batch[:0]
		for c := range st.conns {
			batch = append(batch, c)
		}
		st.mu.Unlock()
		now := int64(time.Since(streamEpoch))
		for _, c := range batch {
			if now-c.last.Load() >= idle {
				c.ping.Store(true)
				c.kick()
			}
		}
		clear(batch)
	}
}

// serveWriter streams through the ResponseWriter, with the handler's
// goroutine waiting for each event: for connections that cannot be
// hijacked.
func (st *streamer) serveWriter(w http.ResponseWriter, r *http.Request, sub *hub.Subscription, format func(hub.Event) []byte) {
	defer sub.Close()
	rc := http.NewResponseController(w)
	// Streams outlive the server's write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	ready := make(chan struct{}, 1)
	sub.OnReady(func() {
		select {
		case ready <- struct{}{}:
		default:
		}
	})
	t := time.NewTimer(st.heartbeat)
	defer t.Stop()
	ctx := r.Context()
	for {
		ev, ok, err := sub.Poll()
		var out []byte
		switch {
		case err != nil:
			return // the hub ended the stream
		case ok:
			out = format(ev)
		default:
			select {
			case <-ready:
				continue
			case <-t.C:
				out = pingFrame
			case <-ctx.Done():
				return // the client left
			}
		}
		if _, err := w.Write(out); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		t.Reset(st.heartbeat)
	}
}
