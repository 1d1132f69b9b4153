// Package notify sends outgoing webhooks on rollout events: a generic JSON
// document (Payload, a stable schema) or a Slack-compatible message, to
// each configured target.
//
// A Notifier implements rollout.Notifier. Notify never blocks the rollout
// controller: it renders the event, puts it on each target's bounded queue
// and returns. One worker goroutine per target drains its queue in order,
// with a timeout per attempt and a bounded number of retries with backoff
// on network errors, 5xx and 429 answers. When a queue is full the event
// is dropped for that target, logged and counted, so that a target that
// is down or slow costs events, never the controller's progress. Close
// drains the queues before returning.
package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ramp-flags/ramp/rollout"
)

// Format is the body a target receives.
type Format string

// Formats of a target.
const (
	// FormatJSON is the generic JSON document described by Payload.
	FormatJSON Format = "json"
	// FormatSlack is a Slack incoming-webhook message: {"text", "blocks"}.
	// Mattermost and other Slack-compatible receivers accept it too.
	FormatSlack Format = "slack"
)

// Target is one webhook receiver.
type Target struct {
	// Name labels the target in logs and metrics. Empty means the URL's
	// host, numbered when several targets share a host. The URL itself is
	// never logged: Slack's carry their secret in the path.
	Name string
	// URL is where events are POSTed; http or https.
	URL string
	// Format is FormatJSON or FormatSlack; empty means FormatJSON.
	Format Format
	// Headers are added to every request, such as an Authorization
	// header the receiver checks.
	Headers map[string]string
}

// Check reports what is wrong with the target, or nil. Notify does not
// correct a bad target: New rejects it.
func (t Target) Check() error {
	u, err := url.Parse(t.URL)
	switch {
	case t.URL == "":
		return errors.New("webhook URL is empty")
	case err != nil:
		return fmt.Errorf("webhook URL %q cannot be parsed: %w", redact(t.URL), err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("webhook URL %q must start with http:// or https://", redact(t.URL))
	case u.Host == "":
		return fmt.Errorf("webhook URL %q has no host", redact(t.URL))
	}
	switch t.Format {
	case "", FormatJSON, FormatSlack:
	default:
		return fmt.Errorf("webhook format %q is not %q or %q", t.Format, FormatJSON, FormatSlack)
	}
	for name, value := range t.Headers {
		if name == "" || strings.ContainsAny(name, ": \t\r\n") {
			return fmt.Errorf("webhook header name %q is not a valid header name", name)
		}
		if strings.ContainsAny(value, "\r\n") {
			return fmt.Errorf("webhook header %s has a line break in its value", name)
		}
	}
	return nil
}

// redact keeps the scheme and host of a URL for an error message, and
// hides its path and query, which may hold a secret.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<redacted>"
	}
	if u.Path == "" && u.RawQuery == "" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Defaults of Config.
const (
	DefaultQueueSize   = 256
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 4
	DefaultBackoff     = time.Second
	DefaultMaxBackoff  = 30 * time.Second
)

// Config configures a Notifier. Zero values take the defaults above.
type Config struct {
	Targets []Target
	// QueueSize bounds the events waiting per target.
	QueueSize int
	// Timeout bounds one attempt: connecting, sending and reading the
	// answer's status.
	Timeout time.Duration
	// MaxAttempts bounds the tries of one event at one target, the first
	// one included.
	MaxAttempts int
	// Backoff is the wait before the first retry; it doubles for each
	// further one, up to MaxBackoff. A Retry-After answer within
	// MaxBackoff is honoured instead.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Client sends the requests; nil means a client of its own.
	Client *http.Client
	// Logger receives a line per failed or dropped event; nil discards.
	Logger *slog.Logger
	// Registerer, if set, receives the counters
	// ramp_notifications_{sent,failed,dropped}_total by target.
	Registerer prometheus.Registerer
}

// Notifier delivers rollout events to webhooks. Its methods are safe for
// concurrent use.
type Notifier struct {
	cfg     Config
	log     *slog.Logger
	client  *http.Client
	targets []*target

	// ctx ends deliveries in flight when Close gives up waiting.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// mu guards closed against the queues' closing: Notify sends under
	// the read lock, without blocking, so it never waits on a worker.
	mu     sync.RWMutex
	closed bool
}

var _ rollout.Notifier = (*Notifier)(nil)

// target is one receiver with its queue and counters.
type target struct {
	Target
	queue                 chan job
	sent, failed, dropped prometheus.Counter
}

// job is one event rendered for one target.
type job struct {
	body []byte
	what string // for logs: "rollout.rollback of checkout-v2 in production"
}

// New checks the configuration and starts one worker per target. It fails
// on a bad target or a negative setting. With no target, Notify does
// nothing. Close must be called to stop the workers.
func New(cfg Config) (*Notifier, error) {
	if cfg.QueueSize < 0 || cfg.Timeout < 0 || cfg.MaxAttempts < 0 || cfg.Backoff < 0 || cfg.MaxBackoff < 0 {
		return nil, errors.New("notify: queue size, timeout, attempts and backoff cannot be negative")
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.Backoff, DefaultBackoff)
	def(&cfg.MaxBackoff, DefaultMaxBackoff)
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	n := &Notifier{cfg: cfg, log: cfg.Logger, client: cfg.Client}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.client == nil {
		n.client = &http.Client{}
	}
	var sent, failed, dropped *prometheus.CounterVec
	if cfg.Registerer != nil {
		counter := func(name, help string) (*prometheus.CounterVec, error) {
			return register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"target"}))
		}
		var err error
		if sent, err = counter("ramp_notifications_sent_total", "Rollout events a webhook target accepted (2xx), by target."); err != nil {
			return nil, err
		}
		if failed, err = counter("ramp_notifications_failed_total", "Rollout events a webhook target did not accept after every attempt, by target."); err != nil {
			return nil, err
		}
		if dropped, err = counter("ramp_notifications_dropped_total", "Rollout events dropped before any attempt (queue full or notifier closed), by target."); err != nil {
			return nil, err
		}
	}
	names := map[string]int{}
	for i, t := range cfg.Targets {
		if err := t.Check(); err != nil {
			return nil, fmt.Errorf("notify: target %d: %w", i+1, err)
		}
		if t.Format == "" {
			t.Format = FormatJSON
		}
		if t.Name == "" {
			u, _ := url.Parse(t.URL)
			t.Name = u.Host
		}
		if names[t.Name]++; names[t.Name] > 1 {
			t.Name += "#" + strconv.Itoa(names[t.Name])
		}
		tg := &target{Target: t, queue: make(chan job, cfg.QueueSize)}
		tg.sent, tg.failed, tg.dropped = counterOf(sent, t.Name), counterOf(failed, t.Name), counterOf(dropped, t.Name)
		n.targets = append(n.targets, tg)
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	for _, t := range n.targets {
		n.wg.Add(1)
		go n.work(t)
	}
	return n, nil
}

// Targets returns the names of the targets, in configuration order.
func (n *Notifier) Targets() []string {
	out := make([]string, len(n.targets))
	for i, t := range n.targets {
		out[i] = t.Name
	}
	return out
}

// Notify queues e for every target and returns at once; ctx is not used,
// as delivery outlives the caller's request. An event that finds a
// target's queue full, or the notifier closed, is dropped for that target
// with a warning and a count.
func (n *Notifier) Notify(_ context.Context, e rollout.Event) {
	if len(n.targets) == 0 {
		return
	}
	m := newMessage(e)
	what := m.what()
	bodies := map[Format][]byte{}
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, t := range n.targets {
		if n.closed {
			t.dropped.Inc()
			n.log.Warn("webhook notification dropped: the notifier is closed", "target", t.Name, "event", what)
			continue
		}
		body, ok := bodies[t.Format]
		if !ok {
			var err error
			if body, err = m.render(t.Format); err != nil {
				t.failed.Inc()
				n.log.Error("webhook notification not rendered", "target", t.Name, "event", what, "err", err)
				continue
			}
			bodies[t.Format] = body
		}
		select {
		case t.queue <- job{body: body, what: what}:
		default:
			t.dropped.Inc()
			n.log.Warn("webhook notification dropped: the queue is full", "target", t.Name, "event", what, "queue", cap(t.queue))
		}
	}
}

// Close stops accepting events and waits until every queued one is
// delivered or has failed. If ctx ends first, it cancels the deliveries in
// flight, drops what is still queued and returns ctx's error. Calling it
// again waits again and returns nil once the workers are done.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		for _, t := range n.targets {
			close(t.queue)
		}
	}
	n.mu.Unlock()
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-done
		return fmt.Errorf("close notifier: undelivered notifications dropped: %w", ctx.Err())
	}
}

// work delivers t's queue in order until it is closed.
func (n *Notifier) work(t *target) {
	defer n.wg.Done()
	for j := range t.queue {
		if n.ctx.Err() != nil {
			t.dropped.Inc()
			n.log.Warn("webhook notification dropped: shutting down", "target", t.Name, "event", j.what)
			continue
		}
		n.deliver(t, j)
	}
}

// deliver tries j at t until it is accepted, fails for good, or the
// attempts run out.
func (n *Notifier) deliver(t *target, j job) {
	for attempt := 1; ; attempt++ {
		wait, err := n.post(t, j.body)
		if err == nil {
			t.sent.Inc()
			return
		}
		var perm permanentError
		if errors.As(err, &perm) || attempt >= n.cfg.MaxAttempts || n.ctx.Err() != nil {
			t.failed.Inc()
			n.log.Warn("webhook notification failed", "target", t.Name, "event", j.what, "attempts", attempt, "err", err)
			return
		}
		if wait <= 0 || wait > n.cfg.MaxBackoff {
			wait = min(n.cfg.Backoff<<(attempt-1), n.cfg.MaxBackoff)
		}
		n.log.Debug("webhook notification retrying", "target", t.Name, "event", j.what, "attempt", attempt, "in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-n.ctx.Done():
			timer.Stop()
		}
	}
}

// permanentError is an answer a retry cannot change, such as a 404.
type permanentError struct{ error }

// post makes one attempt. It returns the wait a Retry-After header asks
// for, if any, and a permanentError for answers not worth retrying.
func (n *Notifier) post(t *target, body []byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, permanentError{fmt.Errorf("build request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ramp-notify/1")
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		// The error names the URL, which may hold a secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	// Read a little of the answer for the log, and let the connection be
	// reused.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	err = fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(string(snippet)))
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
		return retryAfter(resp.Header.Get("Retry-After")), err
	}
	return 0, permanentError{err}
}

// retryAfter reads a Retry-After header given in seconds; 0 if absent or
// in another form.
func retryAfter(h string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(h))
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

// register registers c with reg, or returns the collector already
// registered under its name, so that two notifiers can share a registry.
func register(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("notify: register metrics: %w", err)
	}
	return c, nil
}

// counterOf returns v's counter for the target, or one nobody reads when
// there is no registry.
func counterOf(v *prometheus.CounterVec, name string) prometheus.Counter {
	if v == nil {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "unregistered"})
	}
	return v.WithLabelValues(name)
}
