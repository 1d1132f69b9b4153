package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/notify"
	"github.com/ramp-flags/ramp/rollout"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// receiver is a webhook endpoint that records what it gets. answer, if
// set, writes the answer to the nth request (from 1); else 200.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	answer  func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, b)
		rc.headers = append(rc.headers, r.Header.Clone())
		n := len(rc.bodies)
		rc.mu.Unlock()
		if rc.answer != nil {
			rc.answer(n, w, r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

func (rc *receiver) body(i int) []byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.bodies[i]
}

// newNotifier starts a notifier with fast retries and closes it at the
// end of the test.
func newNotifier(t *testing.T, cfg notify.Config) (*notify.Notifier, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	n, err := notify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close(context.Background()) })
	return n, reg
}

func closeNotifier(t *testing.T, n *notify.Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// counter reads ramp_notifications_<what>_total for the target.
func counter(t *testing.T, reg *prometheus.Registry, what, target string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ramp_notifications_"+what+"_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "target" && l.GetValue() == target {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var eventTime = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// rolloutAt is rollout 12 of checkout-v2 in production on the usual
// four-stage plan.
func rolloutAt(t *testing.T, status ramp.RolloutStatus, stage int) *ramp.Rollout {
	t.Helper()
	plan := rollout.Plan{Stages: []rollout.Stage{{Percent: 5}, {Percent: 25}, {Percent: 50}, {Percent: 100}}}
	return &ramp.Rollout{ID: 12, Flag: "checkout-v2", Environment: "production", Status: status, Stage: stage, Plan: mustJSON(t, plan)}
}

// events are one of each kind the controller sends that the golden files
// pin down.
func events(t *testing.T) map[string]rollout.Event {
	errGuard := judge.Verdict{Guard: "error-rate", Metric: judge.ErrorRate, Outcome: judge.Critical,
		Summary: "canary error rate 1.2% is above the critical 1%, significant (p < 0.001); baseline 0.5%"}
	latGuard := judge.Verdict{Guard: "p99-latency", Metric: judge.Latency, Outcome: judge.Pass,
		Summary: "canary p99 212ms vs baseline 205ms, no significant regression beyond +10%"}
	passErr := errGuard
	passErr.Outcome, passErr.Summary = judge.Pass, "canary error rate 0.49% vs baseline 0.5%, no significant regression"
	noData := judge.Verdict{Guard: "error-rate", Metric: judge.ErrorRate, Outcome: judge.Inconclusive,
		Summary: "no data: 12 canary requests, fewer than the 100 needed"}
	return map[string]rollout.Event{
		"rollback": {
			Rollout: rolloutAt(t, ramp.RolloutRolledBack, 1), Action: ramp.ActionRolloutRollback, Percent: 0,
			Actor: rollout.Actor, Time: eventTime,
			Reason: "critical: error-rate: " + errGuard.Summary,
			Decision: &judge.Decision{Action: judge.Rollback, Reason: "critical: error-rate: " + errGuard.Summary,
				Verdicts: []judge.Verdict{errGuard, latGuard}},
		},
		"promote": {
			Rollout: rolloutAt(t, ramp.RolloutRunning, 1), Action: ramp.ActionRolloutPromote, Percent: 25,
			Actor: rollout.Actor, Time: eventTime, Reason: "all 2 guards pass after 72h0m0s in stage (minimum 72h0m0s)",
			Decision: &judge.Decision{Action: judge.Promote, Reason: "all 2 guards pass after 72h0m0s in stage (minimum 72h0m0s)",
				Verdicts: []judge.Verdict{passErr, latGuard}},
		},
		"hold": {
			Rollout: rolloutAt(t, ramp.RolloutRunning, 0), Action: rollout.ActionHold, Percent: 5,
			Actor: rollout.Actor, Time: eventTime, Reason: "inconclusive: error-rate: " + noData.Summary,
			Decision: &judge.Decision{Action: judge.Hold, Reason: "inconclusive: error-rate: " + noData.Summary,
				Verdicts: []judge.Verdict{noData}},
		},
		"abort": {
			Rollout: rolloutAt(t, ramp.RolloutAborted, 2), Action: ramp.ActionRolloutAbort, Percent: 0,
			Actor: "alice", Time: eventTime.In(time.FixedZone("CET", 3600)), Reason: "checkout <b>broken</b> & on fire",
		},
	}
}

// TestPayloads sends one event of each kind to a JSON and a Slack target
// and compares what they received with testdata/EVENT.payload.json (the
// generic schema) and testdata/EVENT.slack.json. Run with -update
// to rewrite the files after a deliberate change, and review the diff:
// the JSON schema is a contract.
func TestPayloads(t *testing.T) {
	for name, e := range events(t) {
		t.Run(name, func(t *testing.T) {
			jsonRc, slackRc := newReceiver(t, nil), newReceiver(t, nil)
			n, _ := newNotifier(t, notify.Config{Targets: []notify.Target{
				{URL: jsonRc.URL + "/hook", Format: notify.FormatJSON},
				{URL: slackRc.URL + "/services/T0/B0/secret", Format: notify.FormatSlack},
			}})
			n.Notify(t.Context(), e)
			closeNotifier(t, n)
			for _, c := range []struct {
				rc     *receiver
				format string
			}{{jsonRc, "payload"}, {slackRc, "slack"}} {
				if c.rc.count() != 1 {
					t.Fatalf("%s target got %d requests, want 1", c.format, c.rc.count())
				}
				if ct := c.rc.headers[0].Get("Content-Type"); ct != "application/json" {
					t.Errorf("%s Content-Type %q", c.format, ct)
				}
				golden(t, filepath.Join("testdata", name+"."+c.format+".json"), c.rc.body(0))
			}
			// The JSON body decodes into the documented type, with no
			// field left over.
			var p notify.Payload
			dec := json.NewDecoder(bytes.NewReader(jsonRc.body(0)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil {
				t.Fatalf("decode payload: %v", err)
			}
			if p.Version != notify.PayloadVersion || p.Event != e.Action || p.Flag != "checkout-v2" || p.RolloutID != 12 || !p.Time.Equal(e.Time) {
				t.Errorf("payload %+v does not match the event", p)
			}
		})
	}
}

// golden compares got, indented, with the file.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("%s: body is not JSON: %v\n%s", path, err, got)
	}
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./notify -run TestPayloads -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs; got:\n%s", path, buf.Bytes())
	}
}

func TestSlackTextReadsWell(t *testing.T) {
	rc := newReceiver(t, nil)
	n, _ := newNotifier(t, notify.Config{Targets: []notify.Target{{URL: rc.URL, Format: notify.FormatSlack}}})
	n.Notify(t.Context(), events(t)["rollback"])
	closeNotifier(t, n)
	var m struct{ Text string }
	if err := json.Unmarshal(rc.body(0), &m); err != nil {
		t.Fatal(err)
	}
	want := ":rotating_light: checkout-v2 rolled back to 0% in production — critical: error-rate: canary error rate 1.2%"
	if !strings.HasPrefix(m.Text, want) {
		t.Errorf("text %q\nwant it to start with %q", m.Text, want)
	}
}

func TestHeadersAreSent(t *testing.T) {
	rc := newReceiver(t, nil)
	n, _ := newNotifier(t, notify.Config{Targets: []notify.Target{
		{URL: rc.URL, Headers: map[string]string{"Authorization": "Bearer hook-secret", "X-Team": "checkout"}},
	}})
	n.Notify(t.Context(), events(t)["promote"])
	closeNotifier(t, n)
	h := rc.headers[0]
	if h.Get("Authorization") != "Bearer hook-secret" || h.Get("X-Team") != "checkout" {
		t.Errorf("headers %v", h)
	}
}

func TestRetriesServerErrorsThenSucceeds(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			http.Error(w, "down", http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "0") // not a usable wait: backoff applies
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}
	})
	n, reg := newNotifier(t, notify.Config{Targets: []notify.Target{{Name: "hook", URL: rc.URL}}, MaxAttempts: 4})
	n.Notify(t.Context(), events(t)["promote"])
	closeNotifier(t, n)
	if rc.count() != 3 {
		t.Fatalf("%d attempts, want 3", rc.count())
	}
	if !bytes.Equal(rc.body(0), rc.body(2)) {
		t.Error("a retry sent another body")
	}
	if s, f := counter(t, reg, "sent", "hook"), counter(t, reg, "failed", "hook"); s != 1 || f != 0 {
		t.Errorf("sent %v failed %v, want 1 and 0", s, f)
	}
}

func TestRetriesAreBounded(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusBadGateway)
	})
	n, reg := newNotifier(t, notify.Config{Targets: []notify.Target{{Name: "hook", URL: rc.URL}}, MaxAttempts: 3})
	n.Notify(t.Context(), events(t)["promote"])
	closeNotifier(t, n)
	if rc.count() != 3 {
		t.Errorf("%d attempts, want 3", rc.count())
	}
	if f := counter(t, reg, "failed", "hook"); f != 1 {
		t.Errorf("failed %v, want 1", f)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such hook", http.StatusNotFound)
	})
	n, reg := newNotifier(t, notify.Config{Targets: []notify.Target{{Name: "hook", URL: rc.URL}}})
	n.Notify(t.Context(), events(t)["promote"])
	closeNotifier(t, n)
	if rc.count() != 1 {
		t.Errorf("%d attempts, want 1: a 404 does not get better", rc.count())
	}
	if f := counter(t, reg, "failed", "hook"); f != 1 {
		t.Errorf("failed %v, want 1", f)
	}
}

func TestNetworkErrorsAreRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	var attempts atomic.Int32
	client := &http.Client{Transport: countingTransport{&attempts}}
	n, reg := newNotifier(t, notify.Config{Targets: []notify.Target{{Name: "gone", URL: "http://" + addr + "/hook"}}, MaxAttempts: 3, Client: client})
	n.Notify(t.Context(), events(t)["promote"])
	closeNotifier(t, n)
	if a := attempts.Load(); a != 3 {
		t.Errorf("%d attempts, want 3", a)
	}
	if f := counter(t, reg, "failed", "gone"); f != 1 {
		t.Errorf("failed %v, want 1", f)
	}
}

// countingTransport counts the requests it passes on.
type countingTransport struct{ n *atomic.Int32 }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestTimeoutBoundsAnAttempt(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	n, reg := newNotifier(t, notify.Config{Targets: []notify.Target{{Name: "slow", URL: rc.URL}}, Timeout: 50 * time.Millisecond, MaxAttempts: 2})
	start := time.Now()
	n.Notify(t.Context(), events(t)["promote"])
	closeNotifier(t, n)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("two attempts of 50ms took %v", d)
	}
	if rc.count() != 2 {
		t.Errorf("%d attempts, want 2", rc.count())
	}
	if f := counter(t, reg, "failed", "slow"); f != 1 {
		t.Errorf("failed %v, want 1", f)
	}
}

// TestFullQueueNeverBlocks stalls the receiver and sends far more events
// than the queue holds: Notify must return at once every time, and the
// excess is dropped and counted.
func TestFullQueueNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { <-release })
	n, reg := newNotifier(t, notify.Config{Targets: []notify.Target{{Name: "stalled", URL: rc.URL}}, QueueSize: 4, Timeout: time.Minute})
	const total = 1000
	e := events(t)["hold"]
	start := time.Now()
	for range total {
		n.Notify(t.Context(), e)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("%d notifications to a stalled receiver took %v", total, d)
	}
	// One is in flight or about to be, four wait in the queue.
	if d := counter(t, reg, "dropped", "stalled"); d < total-5 {
		t.Errorf("dropped %v, want at least %d", d, total-5)
	}
	unblock()
	closeNotifier(t, n)
	sent, dropped := counter(t, reg, "sent", "stalled"), counter(t, reg, "dropped", "stalled")
	if sent+dropped != total || sent < 4 {
		t.Errorf("sent %v + dropped %v, want %d with at least 4 sent", sent, dropped, total)
	}
}

// TestSlowTargetDoesNotDelayOthers checks that each target has its own
// queue and worker.
func TestSlowTargetDoesNotDelayOthers(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	slow := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { <-release })
	fast := newReceiver(t, nil)
	n, _ := newNotifier(t, notify.Config{Targets: []notify.Target{{URL: slow.URL}, {URL: fast.URL}}, Timeout: time.Minute})
	for range 3 {
		n.Notify(t.Context(), events(t)["promote"])
	}
	deadline := time.Now().Add(10 * time.Second)
	for fast.count() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the fast target got %d of 3 while the slow one stalled", fast.count())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCloseDrains queues events faster than the receiver takes them:
// Close returns once every one has arrived, in order.
func TestCloseDrains(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { time.Sleep(2 * time.Millisecond) })
	n, reg := newNotifier(t, notify.Config{Targets: []notify.Target{{Name: "hook", URL: rc.URL}}})
	const total = 50
	for i := range total {
		e := events(t)["promote"]
		e.Reason = fmt.Sprintf("event %d", i)
		n.Notify(t.Context(), e)
	}
	closeNotifier(t, n)
	if rc.count() != total {
		t.Fatalf("received %d of %d after Close", rc.count(), total)
	}
	for i := range total {
		var p notify.Payload
		if err := json.Unmarshal(rc.body(i), &p); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("event %d", i); p.Reason != want {
			t.Fatalf("request %d carries %q, want %q: out of order", i, p.Reason, want)
		}
	}
	if s := counter(t, reg, "sent", "hook"); s != total {
		t.Errorf("sent %v, want %d", s, total)
	}
	// Events after Close are dropped, not sent and not blocking.
	n.Notify(t.Context(), events(t)["promote"])
	if d := counter(t, reg, "dropped", "hook"); d != 1 {
		t.Errorf("dropped %v after Close, want 1", d)
	}
}

// TestCloseGivesUp stalls the receiver: Close returns when its context
// ends, cancelling the request in flight.
func TestCloseGivesUp(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	n, reg := newNotifier(t, notify.Config{Targets: []notify.Target{{Name: "stalled", URL: rc.URL}}, Timeout: time.Hour})
	for range 5 {
		n.Notify(t.Context(), events(t)["promote"])
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := n.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with a 100ms context", d)
	}
	if s := counter(t, reg, "sent", "stalled"); s != 0 {
		t.Errorf("sent %v", s)
	}
	if f, d := counter(t, reg, "failed", "stalled"), counter(t, reg, "dropped", "stalled"); f+d != 5 {
		t.Errorf("failed %v + dropped %v, want 5", f, d)
	}
}

func TestNewRejectsBadTargets(t *testing.T) {
	for _, tg := range []notify.Target{
		{URL: ""},
		{URL: "hooks.example.com/x"},
		{URL: "ftp://hooks.example.com/x"},
		{URL: "https:///path"},
		{URL: "https://hooks.example.com/x", Format: "teams"},
		{URL: "https://hooks.example.com/x", Headers: map[string]string{"Bad Name": "v"}},
		{URL: "https://hooks.example.com/x", Headers: map[string]string{"X-Ok": "a\r\nInjected: 1"}},
	} {
		if _, err := notify.New(notify.Config{Targets: []notify.Target{tg}}); err == nil {
			t.Errorf("New accepted %+v", tg)
		} else if strings.Contains(err.Error(), "/x") {
			t.Errorf("error %q shows the URL's path, which may be a secret", err)
		}
	}
	if _, err := notify.New(notify.Config{QueueSize: -1}); err == nil {
		t.Error("New accepted a negative queue size")
	}
}

func TestTargetNames(t *testing.T) {
	n, _ := newNotifier(t, notify.Config{Targets: []notify.Target{
		{URL: "https://hooks.slack.com/services/T0/B0/secret", Format: notify.FormatSlack},
		{URL: "https://hooks.slack.com/services/T1/B1/other", Format: notify.FormatSlack},
		{Name: "pager", URL: "https://pager.example.com/ramp"},
	}})
	got := strings.Join(n.Targets(), " ")
	if want := "hooks.slack.com hooks.slack.com#2 pager"; got != want {
		t.Errorf("names %q, want %q", got, want)
	}
}

func TestNoTargetsIsANoop(t *testing.T) {
	n, err := notify.New(notify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	n.Notify(t.Context(), events(t)["promote"])
	if err := n.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestTwoNotifiersShareARegistry checks that a second notifier, such as a
// second server in one test binary, reuses the registered counters.
func TestTwoNotifiersShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for range 2 {
		n, err := notify.New(notify.Config{Targets: []notify.Target{{URL: "http://127.0.0.1:1/x"}}, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		_ = n.Close(t.Context())
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "ramp_notifications_sent_total" && len(mf.GetMetric()) != 1 {
			t.Errorf("%d sent series, want 1", len(mf.GetMetric()))
		}
	}
}
