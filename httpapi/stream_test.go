package httpapi_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/httpapi"
	"github.com/ramp-flags/ramp/hub"
	"github.com/ramp-flags/ramp/store/sqlite"
)

// streamEnv is a server with a live hub on the real SQLite store, whose
// hub the test may stop, and an SDK token for production.
type streamEnv struct {
	t       *testing.T
	store   *sqlite.Store
	hub     *hub.Hub
	reg     *prometheus.Registry
	srv     *httptest.Server
	sdk     string
	stopHub func()
}

var streamChange = ramp.Change{Actor: "test"}

func newStreamEnv(t *testing.T, cfg hub.Config, heartbeat time.Duration) *streamEnv {
	t.Helper()
	var h *hub.Hub
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ramp.db"), sqlite.WithCommitHook(func() {
		if h != nil {
			h.Notify()
		}
	}))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg := prometheus.NewRegistry()
	cfg.Source = st
	cfg.Registerer = reg
	cfg.PollInterval = 50 * time.Millisecond
	h = hub.New(cfg)
	if err := h.Load(t.Context()); err != nil {
		t.Fatalf("load hub: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Run(ctx)
	}()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	sum := sha256.Sum256([]byte(rootToken))
	api := httpapi.New(httpapi.Config{Store: st, AdminTokenHash: sum[:], Live: h, Counts: st, Heartbeat: heartbeat})
	srv := httptest.NewUnstartedServer(api)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	plain, id, hash := ramp.NewToken(ramp.TokenSDK)
	if _, err := st.CreateToken(t.Context(), streamChange, ramp.Token{ID: id, Name: "app", Kind: ramp.TokenSDK, Environment: "production", Hash: hash}); err != nil {
		t.Fatal(err)
	}
	return &streamEnv{t: t, store: st, hub: h, reg: reg, srv: srv, sdk: plain, stopHub: stop}
}

// smallBuffers is a listener whose connections have a small send buffer,
// so that a client that does not read blocks the server's writes soon.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// setFlag creates or updates the boolean flag key in production, with a
// description of the given size to make its events large.
func (e *streamEnv) setFlag(key string, on bool, descSize int) {
	e.t.Helper()
	desc := strings.Repeat("d", descSize)
	_, err := e.store.UpdateFlag(e.t.Context(), streamChange, key, func(f *ramp.Flag) error {
		f.Description = desc
		f.Environments["production"].On = on
		return nil
	})
	if ramp.ErrorCode(err) == ramp.ENOTFOUND {
		f := &ramp.Flag{Key: key, Type: ramp.TypeBoolean, DefaultVariant: "off", Description: desc,
			Variants: []ramp.Variant{{Key: "on", Value: json.RawMessage("true")}, {Key: "off", Value: json.RawMessage("false")}}}
		_, err = e.store.CreateFlag(e.t.Context(), streamChange, f)
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

// waitSeq waits until the hub has applied every committed change.
func (e *streamEnv) waitSeq() int64 {
	e.t.Helper()
	entries, err := e.store.ListAudit(e.t.Context(), ramp.AuditFilter{Limit: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.hub.Seq() < entries[0].ID {
		if time.Now().After(deadline) {
			e.t.Fatalf("the hub is at %d, the store at %d", e.hub.Seq(), entries[0].ID)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return e.hub.Env("production").Seq
}

// rawStream is a stream read from a plain TCP connection, so that the
// test sees the bytes the server sends and controls when it reads.
type rawStream struct {
	t    *testing.T
	conn net.Conn
	res  *http.Response
	rd   *bufio.Reader
}

// open sends GET /sdk/v1/stream with the header lines and reads the
// response header.
func (e *streamEnv) open(header ...string) *rawStream {
	e.t.Helper()
	return e.openWith(&net.Dialer{}, header...)
}

// openWith is open with the dialer d.
func (e *streamEnv) openWith(d *net.Dialer, header ...string) *rawStream {
	e.t.Helper()
	conn, err := d.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	req := "GET /sdk/v1/stream HTTP/1.1\r\nHost: ramp\r\nAuthorization: Bearer " + e.sdk + "\r\n"
	for _, h := range header {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		e.t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		e.t.Fatalf("read the stream's response header: %v", err)
	}
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		e.t.Fatalf("stream: status %d: %s", res.StatusCode, b)
	}
	return &rawStream{t: e.t, conn: conn, res: res, rd: bufio.NewReaderSize(res.Body, 1<<20)}
}

// next returns the next event, or a comment as an event of type ":".
func (s *rawStream) next() sseEvent {
	s.t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ev sseEvent
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			s.t.Fatalf("read the stream: %v (after %q)", err, line)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				return ev
			}
		case strings.HasPrefix(line, ": "):
			return sseEvent{event: ":", data: line[2:]}
		case strings.HasPrefix(line, "retry: "):
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		default:
			s.t.Fatalf("unexpected line %q", line)
		}
	}
}

// event returns the next event that is not a comment.
func (s *rawStream) event() sseEvent {
	s.t.Helper()
	for {
		if ev := s.next(); ev.event != ":" {
			return ev
		}
	}
}

// TestStreamServesEvents checks the stream's response head, the snapshot,
// a change as the hub framed it, and keep-alive comments while idle.
func TestStreamServesEvents(t *testing.T) {
	e := newStreamEnv(t, hub.Config{}, 300*time.Millisecond)
	e.setFlag("a", false, 0)
	seq := e.waitSeq()
	s := e.open()
	for k, want := range map[string]string{
		"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
		"Connection": "", // parsed into Close
	} {
		if got := s.res.Header.Get(k); got != want {
			t.Errorf("header %s: %q, want %q", k, got, want)
		}
	}
	if !s.res.Close || len(s.res.TransferEncoding) != 0 {
		t.Errorf("the stream should end with the connection, unchunked: Close %v, Transfer-Encoding %v", s.res.Close, s.res.TransferEncoding)
	}
	snap := s.event()
	if snap.event != hub.EventSnapshot || snap.id != fmt.Sprint(seq) || !strings.Contains(snap.data, `"key":"a"`) {
		t.Fatalf("first event %+v, want a snapshot at %d with flag a", snap, seq)
	}
	e.setFlag("a", true, 0)
	seq = e.waitSeq()
	ch := s.event()
	if ch.event != hub.EventChange || ch.id != fmt.Sprint(seq) {
		t.Fatalf("event %+v, want a change at %d", ch, seq)
	}
	var data struct {
		Seq   int64        `json:"seq"`
		Flags []*ramp.Flag `json:"flags"`
	}
	if err := json.Unmarshal([]byte(ch.data), &data); err != nil || data.Seq != seq || len(data.Flags) != 1 || !data.Flags[0].Environments["production"].On {
		t.Fatalf("change data %s (%v): want flag a on at %d", ch.data, err, seq)
	}
	start := time.Now()
	if ev := s.next(); ev.event != ":" || ev.data != "ping" {
		t.Fatalf("an idle stream sent %+v, want a ping", ev)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the first ping came after %v; the heartbeat is 300ms", d)
	}
}

// TestStreamResumesWithLastEventID checks that a client reconnecting with
// the id of its last event gets the changes it missed, not a snapshot.
func TestStreamResumesWithLastEventID(t *testing.T) {
	e := newStreamEnv(t, hub.Config{}, time.Minute)
	e.setFlag("a", false, 0)
	e.waitSeq()
	s := e.open()
	last := s.event().id
	s.conn.Close()
	e.setFlag("a", true, 0)
	e.setFlag("b", true, 0)
	final := e.waitSeq()
	s = e.open("Last-Event-ID: " + last)
	var got []string
	for id := last; id != fmt.Sprint(final); {
		ev := s.event()
		if ev.event != hub.EventChange {
			t.Fatalf("resumed stream sent %s after %v, want only changes", ev.event, got)
		}
		got = append(got, ev.id)
		id = ev.id
	}
	if len(got) != 2 {
		t.Errorf("resumed with changes %v, want 2", got)
	}
}

// TestStreamEndsWhenHubStops checks that streams end, with the connection,
// when the hub stops, which is how the server ends them at shutdown.
func TestStreamEndsWhenHubStops(t *testing.T) {
	e := newStreamEnv(t, hub.Config{}, time.Minute)
	s := e.open()
	s.event()
	e.stopHub()
	_ = s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(s.rd)
	if err != nil {
		t.Fatalf("after the hub stopped the stream did not end: %v", err)
	}
	if len(rest) != 0 {
		t.Errorf("the stream sent %q before ending", rest)
	}
}

// TestStreamSlowClientResyncs checks that a client that does not read
// does not hold the others back and gets a fresh snapshot when it reads
// again: its pending events were dropped.
func TestStreamSlowClientResyncs(t *testing.T) {
	e := newStreamEnv(t, hub.Config{Buffer: 4}, time.Minute)
	e.setFlag("a", false, 0)
	e.waitSeq()
	slow, fast := e.open(), e.open()
	// The changes below, 2 KB each, fill the slow client's receive buffer
	// and the server's send buffer (both small), and then its writer
	// blocks while the hub queues more.
	if err := slow.conn.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	slow.event()
	fast.event()
	const changes = 60
	for i := 0; i < changes; i++ {
		e.setFlag("a", i%2 == 0, 2000)
		e.waitSeq()
		if ev := fast.event(); ev.event != hub.EventChange {
			t.Fatalf("the fast client got %s, want every change", ev.event)
		}
	}
	final := e.waitSeq()
	var types []string
	for {
		ev := slow.event()
		types = append(types, ev.event)
		if ev.id == fmt.Sprint(final) {
			if ev.event != hub.EventSnapshot {
				t.Fatalf("the slow client ended on a %s; want a snapshot after its events were dropped (%v)", ev.event, types)
			}
			break
		}
	}
	if len(types) >= changes {
		t.Errorf("the slow client got %d events for %d changes: nothing was dropped", len(types), changes)
	}
	if n := gaugeValue(t, e.reg, "ramp_stream_client_resyncs_total"); n < 1 {
		t.Errorf("ramp_stream_client_resyncs_total %v, want at least 1", n)
	}
}

// TestStreamClientGoneIsDropped checks that a stream whose client left is
// ended at the latest by the keep-alives, and unsubscribed.
func TestStreamClientGoneIsDropped(t *testing.T) {
	e := newStreamEnv(t, hub.Config{}, 100*time.Millisecond)
	s := e.open()
	s.event()
	if n := gaugeValue(t, e.reg, "ramp_stream_clients"); n != 1 {
		t.Fatalf("ramp_stream_clients %v with one stream", n)
	}
	s.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for gaugeValue(t, e.reg, "ramp_stream_clients") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stream of a client that left is still subscribed after 5s (heartbeat 100ms)")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gaugeValue returns the sum of the values of the metric family name.
func gaugeValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestStreamOverHTTP2 checks the streams that cannot take the connection
// over (HTTP/2): events and keep-alives through the ResponseWriter, and
// the end when the hub stops.
func TestStreamOverHTTP2(t *testing.T) {
	e := newStreamEnv(t, hub.Config{}, 200*time.Millisecond)
	srv := httptest.NewUnstartedServer(e.srv.Config.Handler)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	e.setFlag("a", false, 0)
	e.waitSeq()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/sdk/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+e.sdk)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.ProtoMajor != 2 || res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%s %d %q, want an HTTP/2 event stream", res.Proto, res.StatusCode, res.Header.Get("Content-Type"))
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	want := func(prefix string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the stream ended before %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q within 10s", prefix)
			}
		}
	}
	want("event: snapshot")
	e.setFlag("a", true, 0)
	want("event: change")
	want(": ping")
	e.stopHub()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("the stream did not end when the hub stopped")
		}
	}
}
