package sdktest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ramp-flags/ramp"
)

// Tokens the fake server accepts: an SDK token for its environment, and
// an admin token that must name the environment in the query.
const (
	Token      = "ramp_sdk_testtesttesttest_secretsecretsecretsecretsecre"
	AdminToken = "ramp_admin_testtesttesttest_secretsecretsecretsecretsec"
)

// Request is what the fake server recorded of one request.
type Request struct {
	Path   string
	Query  string
	Header http.Header
}

// Server is a fake ramp server: it serves one environment over
// GET /sdk/v1/flags and GET /sdk/v1/stream as docs/stream.md specifies,
// on a loopback port that stays the same across Kill and Restart. Its
// methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to give the SDK.
	URL string

	tb       testing.TB
	addr     string
	requests chan Request

	mu       sync.Mutex
	srv      *httptest.Server
	env      string
	seq      int64
	flags    map[string]*ramp.Flag
	segments map[string]*ramp.Segment
	history  []event
	streams  map[*stream]struct{}
	// streamsChanged is closed and replaced when a stream opens or ends.
	streamsChanged chan struct{}
	// streamStatus, if set, is the status the stream endpoint answers.
	streamStatus int
	// retry is the retry field sent on connect; "" sends none.
	retry string
	// quiet makes the stream answer 200 and end without a byte.
	quiet bool
	// metricsStatus, if set, is the status the metrics endpoint answers.
	metricsStatus int
	reports       chan Report
}

// Report is one report of counts the fake server received.
type Report struct {
	// Query is the request's raw query.
	Query  string
	Counts []ramp.Counts
}

type event struct {
	seq  int64
	data []byte // the SSE text of the event
}

type stream struct {
	ch   chan []byte
	done chan struct{}
}

// NewServer starts a fake server for env holding flags and segments at
// seq 1. It is stopped when the test ends.
func NewServer(tb testing.TB, env string, flags []*ramp.Flag, segments []*ramp.Segment) *Server {
	tb.Helper()
	s := &Server{
		tb: tb, env: env, seq: 1, retry: "1000",
		requests: make(chan Request, 1000), reports: make(chan Report, 1000),
		flags: map[string]*ramp.Flag{}, segments: map[string]*ramp.Segment{},
		streams: map[*stream]struct{}{}, streamsChanged: make(chan struct{}),
	}
	for _, f := range flags {
		s.flags[f.Key] = onlyEnv(f, env)
	}
	for _, sg := range segments {
		s.segments[sg.Key] = sg
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.addr = l.Addr().String()
	s.start(l)
	s.URL = "http://" + s.addr
	tb.Cleanup(s.Kill)
	return s
}

func (s *Server) start(l net.Listener) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
}

// onlyEnv returns a copy of f holding only env's state, as the server
// sends flags.
func onlyEnv(f *ramp.Flag, env string) *ramp.Flag {
	c := f.Clone()
	fe := c.Environments[env]
	c.Environments = map[string]*ramp.FlagEnv{}
	if fe != nil {
		c.Environments[env] = fe
	}
	return c
}

// SetRetry sets the retry field sent at the start of each stream; "" sends
// none.
func (s *Server) SetRetry(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retry = v
}

// SetStreamStatus makes the stream endpoint answer code (0: stream).
func (s *Server) SetStreamStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streamStatus = code
}

// SetQuietStream makes the stream answer 200 text/event-stream and end
// without sending a byte, as a proxy that buffers the stream appears.
func (s *Server) SetQuietStream(quiet bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quiet = quiet
}

// Seq returns the server's change sequence.
func (s *Server) Seq() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Change commits one change and sends it to every open stream as a change
// event. It returns the change's seq.
func (s *Server) Change(flags []*ramp.Flag, deletedFlags []string, segments []*ramp.Segment, deletedSegments []string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	ch := ramp.EnvironmentChange{Seq: s.seq, DeletedFlags: deletedFlags, Segments: segments, DeletedSegments: deletedSegments}
	for _, f := range flags {
		f = onlyEnv(f, s.env)
		s.flags[f.Key] = f
		ch.Flags = append(ch.Flags, f)
	}
	for _, k := range deletedFlags {
		delete(s.flags, k)
	}
	for _, sg := range segments {
		s.segments[sg.Key] = sg
	}
	for _, k := range deletedSegments {
		delete(s.segments, k)
	}
	ev := event{seq: s.seq, data: fmt.Appendf(nil, "id: %d\nevent: change\ndata: %s\n\n", s.seq, mustJSON(ch))}
	s.history = append(s.history, ev)
	s.broadcastLocked(ev.data)
	return s.seq
}

// SetFlags commits the flags as one change.
func (s *Server) SetFlags(flags ...*ramp.Flag) int64 { return s.Change(flags, nil, nil, nil) }

// DeleteFlags commits the deletion of the flags as one change.
func (s *Server) DeleteFlags(keys ...string) int64 { return s.Change(nil, keys, nil, nil) }

// SetSegments commits the segments as one change.
func (s *Server) SetSegments(segs ...*ramp.Segment) int64 { return s.Change(nil, nil, segs, nil) }

// Send writes raw text to every open stream, as it is.
func (s *Server) Send(raw string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broadcastLocked([]byte(raw))
}

// ForgetHistory drops the change history, so that a reconnecting client
// gets a snapshot.
func (s *Server) ForgetHistory() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = nil
}

// SetSeq sets the change sequence, as a server restored from a backup
// would have it.
func (s *Server) SetSeq(seq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq = seq
	s.history = nil
}

func (s *Server) broadcastLocked(b []byte) {
	for st := range s.streams {
		select {
		case st.ch <- b:
		default:
			s.tb.Errorf("sdktest: a stream's buffer is full")
		}
	}
}

// EndStreams ends every open stream cleanly, as a server that shuts down
// does; the server keeps accepting connections.
func (s *Server) EndStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for st := range s.streams {
		close(st.done)
	}
	clear(s.streams)
	s.streamsChangedLocked()
}

func (s *Server) streamsChangedLocked() {
	close(s.streamsChanged)
	s.streamsChanged = make(chan struct{})
}

// Streams returns the number of open streams.
func (s *Server) Streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// Kill stops the server and cuts every connection: from now on connections
// are refused, until Restart. It may be called more than once.
func (s *Server) Kill() {
	s.EndStreams()
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// Restart starts a killed server again on the same address.
func (s *Server) Restart() {
	s.tb.Helper()
	var l net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if l, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.tb.Fatalf("sdktest: listen again on %s: %v", s.addr, err)
	}
	s.start(l)
}

// NextRequest returns the next request to path, failing the test if none
// comes in time. Requests to other paths are skipped.
func (s *Server) NextRequest(tb testing.TB, path string) Request {
	tb.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case r := <-s.requests:
			if r.Path == path {
				return r
			}
		case <-deadline:
			tb.Fatalf("sdktest: no request to %s", path)
		}
	}
}

// ClearRequests forgets the requests recorded so far.
func (s *Server) ClearRequests() {
	for {
		select {
		case <-s.requests:
		default:
			return
		}
	}
}

// WaitStreams waits until n streams are open.
func (s *Server) WaitStreams(tb testing.TB, n int) {
	tb.Helper()
	deadline := time.After(waitLimit)
	for {
		s.mu.Lock()
		got, ch := len(s.streams), s.streamsChanged
		s.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			tb.Fatalf("sdktest: %d streams open, want %d", got, n)
		}
	}
}

func (s *Server) problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(mustJSON(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail}))
}

// rampProblem answers as the real server does, with a problem type of
// ramp's.
func (s *Server) rampProblem(w http.ResponseWriter, status int, typ, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(mustJSON(map[string]any{"type": "urn:ramp:problem:" + typ, "title": http.StatusText(status), "status": status, "detail": detail}))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	select {
	case s.requests <- Request{Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone()}:
	default:
	}
	switch auth := r.Header.Get("Authorization"); auth {
	case "Bearer " + Token:
		if q := r.URL.Query().Get("environment"); q != "" && q != s.env {
			s.problem(w, http.StatusForbidden, "this SDK token reads another environment")
			return
		}
	case "Bearer " + AdminToken:
		switch q := r.URL.Query().Get("environment"); q {
		case s.env:
		case "":
			s.rampProblem(w, http.StatusBadRequest, "bad_request", "an admin token must name the environment")
			return
		default:
			s.rampProblem(w, http.StatusNotFound, "not_found", fmt.Sprintf("environment %q does not exist", q))
			return
		}
	default:
		w.Header().Set("WWW-Authenticate", "Bearer")
		s.problem(w, http.StatusUnauthorized, "unknown token")
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/sdk/v1/flags":
		s.serveFlags(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/sdk/v1/stream":
		s.serveStream(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/sdk/v1/metrics":
		s.serveMetrics(w, r)
	default:
		s.problem(w, http.StatusNotFound, "no such endpoint")
	}
}

func (s *Server) documentLocked() []byte {
	return mustJSON(ramp.EnvironmentDocument{Environment: s.env, Seq: s.seq, Flags: sortedValues(s.flags), Segments: sortedValues(s.segments)})
}

func (s *Server) serveFlags(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	etag := `"` + strconv.FormatInt(s.seq, 10) + `"`
	doc := s.documentLocked()
	s.mu.Unlock()
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
}

func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	var last int64
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		var err error
		if last, err = strconv.ParseInt(id, 10, 64); err != nil {
			s.problem(w, http.StatusBadRequest, "bad Last-Event-ID")
			return
		}
	}
	s.mu.Lock()
	if s.streamStatus != 0 {
		code := s.streamStatus
		s.mu.Unlock()
		s.problem(w, code, "no stream here")
		return
	}
	if s.quiet {
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		return
	}
	var first []byte
	if s.retry != "" {
		first = fmt.Appendf(first, "retry: %s\n\n", s.retry)
	}
	switch {
	case last > 0 && last == s.seq:
	case last > 0 && last < s.seq && len(s.history) > 0 && s.history[0].seq <= last+1:
		for _, ev := range s.history {
			if ev.seq > last {
				first = append(first, ev.data...)
			}
		}
	default:
		first = fmt.Appendf(first, "id: %d\nevent: snapshot\ndata: %s\n\n", s.seq, s.documentLocked())
	}
	st := &stream{ch: make(chan []byte, 1000), done: make(chan struct{})}
	s.streams[st] = struct{}{}
	s.streamsChangedLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if _, ok := s.streams[st]; ok {
			delete(s.streams, st)
			s.streamsChangedLocked()
		}
		s.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if _, err := w.Write(first); err != nil {
		return
	}
	_ = rc.Flush()
	for {
		select {
		case b := <-st.ch:
			if _, err := w.Write(b); err != nil {
				return
			}
			_ = rc.Flush()
		case <-st.done:
			// Write what was sent before the end, as a server does.
			for {
				select {
				case b := <-st.ch:
					_, _ = w.Write(b)
				default:
					_ = rc.Flush()
					return
				}
			}
		case <-r.Context().Done():
			return
		}
	}
}

// SetMetricsStatus makes the metrics endpoint answer code, without
// recording the report (0: record it and answer 204).
func (s *Server) SetMetricsStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metricsStatus = code
}

// NextReport returns the next report of counts the server recorded,
// failing the test if none comes in time.
func (s *Server) NextReport(tb testing.TB) Report {
	tb.Helper()
	select {
	case r := <-s.reports:
		return r
	case <-time.After(waitLimit):
		tb.Fatalf("sdktest: no report of counts")
	}
	return Report{}
}

// Reports returns the reports recorded and not yet returned, without
// waiting.
func (s *Server) Reports() []Report {
	var out []Report
	for {
		select {
		case r := <-s.reports:
			out = append(out, r)
		default:
			return out
		}
	}
}

// serveMetrics records a report of counts that passes the server's
// validation, as POST /sdk/v1/metrics does.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	code := s.metricsStatus
	s.mu.Unlock()
	if code != 0 {
		s.problem(w, code, "not now")
		return
	}
	var body struct {
		Counts []ramp.Counts `json:"counts"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		s.problem(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := ramp.ValidateCounts(body.Counts); err != nil {
		s.tb.Errorf("sdktest: the SDK sent an invalid report: %v", err)
		s.problem(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	select {
	case s.reports <- Report{Query: r.URL.RawQuery, Counts: body.Counts}:
	default:
		s.tb.Errorf("sdktest: too many reports not read")
	}
	w.WriteHeader(http.StatusNoContent)
}

func sortedValues[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Document returns the server's environment document as JSON, as
// GET /sdk/v1/flags answers it.
func (s *Server) Document() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.documentLocked()
}

// BoolFlag returns a boolean flag with variants on and off whose
// environment env is on and gives percent to on.
func BoolFlag(key, env string, percent float64) *ramp.Flag {
	return &ramp.Flag{
		Key: key, Type: ramp.TypeBoolean, Salt: "salt-" + key, DefaultVariant: "off",
		Variants: []ramp.Variant{{Key: "on", Value: json.RawMessage("true")}, {Key: "off", Value: json.RawMessage("false")}},
		Environments: map[string]*ramp.FlagEnv{env: {On: true, OffVariant: "off", Fallthrough: ramp.Serve{
			Split: []ramp.Allocation{{Variant: "on", Percent: percent}, {Variant: "off", Percent: 100 - percent}},
		}}},
	}
}

// StaticFlag returns a flag of type typ that serves value (JSON) to
// everyone in env.
func StaticFlag(key, env string, typ ramp.FlagType, value string) *ramp.Flag {
	return &ramp.Flag{
		Key: key, Type: typ, Salt: "salt-" + key, DefaultVariant: "v",
		Variants:     []ramp.Variant{{Key: "v", Value: json.RawMessage(value)}},
		Environments: map[string]*ramp.FlagEnv{env: {On: true, OffVariant: "v", Fallthrough: ramp.Serve{Variant: "v"}}},
	}
}
