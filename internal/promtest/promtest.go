// Package promtest runs a real Prometheus server for tests: the Debian
// package's /usr/bin/prometheus with its own configuration, storage and
// port, stopped when the test ends.
//
// When Prometheus is not installed, Start skips the test with a loud
// message, except under CI=true, where it fails it: CI must not pass by
// skipping what it was meant to run. ./test.sh installs the package.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is where the Debian package installs Prometheus; a prometheus
// on $PATH is tried first.
const Binary = "/usr/bin/prometheus"

// Server is a running Prometheus.
type Server struct {
	// URL is the base URL of its HTTP API, such as http://127.0.0.1:40123.
	URL string
	// Dir holds its configuration file and storage.
	Dir string

	bin, cfgPath, addr string
	mu                 sync.Mutex
	stop               func() // nil while stopped
}

// Option configures Start.
type Option func(*options)

type options struct {
	scrape, eval  time.Duration
	job           string
	rules         []string
	alertmanagers []string
}

// ScrapeInterval sets how often the targets are scraped. Default 1s.
func ScrapeInterval(d time.Duration) Option { return func(o *options) { o.scrape = d } }

// EvaluationInterval sets how often rules are evaluated. Default 1s.
func EvaluationInterval(d time.Duration) Option { return func(o *options) { o.eval = d } }

// JobName sets the job label of the scraped targets. Default "ramp".
func JobName(name string) Option { return func(o *options) { o.job = name } }

// RuleFiles loads recording and alerting rule files; relative paths are
// taken from the test's working directory.
func RuleFiles(paths ...string) Option {
	return func(o *options) { o.rules = append(o.rules, paths...) }
}

// Alertmanagers sends firing alerts to the Alertmanagers at these
// addresses ("host:port" or "http://host:port").
func Alertmanagers(addrs ...string) Option {
	return func(o *options) { o.alertmanagers = append(o.alertmanagers, addrs...) }
}

// Start starts Prometheus scraping targets, each "host:port" (scraped at
// /metrics) or an http URL with the metrics path, such as an
// httptest.Server's URL followed by "/metrics". All targets must share
// the scheme and path. Start returns once Prometheus is ready, which takes
// a fraction of a second; the first scrape follows about five seconds
// later, as Prometheus hands discovered targets to its scrapers at most
// every five seconds (see WaitScraped). Prometheus is stopped, and its log
// shown if the test failed, when the test ends.
func Start(t testing.TB, targets []string, opts ...Option) *Server {
	t.Helper()
	bin := Find()
	if bin == "" {
		msg := "Prometheus is not installed (no prometheus on $PATH, no " + Binary + "): install the Debian package prometheus (apt-get install prometheus; ./test.sh does it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED, NOT RUN: " + msg)
	}
	o := options{scrape: time.Second, eval: time.Second, job: "ramp"}
	for _, opt := range opts {
		opt(&o)
	}
	dir := t.TempDir()
	cfg, err := config(o, targets)
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// A free port can be taken by another process between the probe and
	// Prometheus's listen: try a few.
	var last error
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("promtest: %v", err)
		}
		s := &Server{Dir: dir, bin: bin, cfgPath: cfgPath, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		s.URL = "http://" + s.addr
		if err = s.start(t); err == nil {
			return s
		}
		last = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("promtest: %v", last)
	return nil
}

// Find returns the path of the Prometheus binary, or "".
func Find() string {
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	if p, err := exec.LookPath(Binary); err == nil {
		return p
	}
	return ""
}

// config writes Prometheus's configuration.
func config(o options, targets []string) (string, error) {
	scheme, path := "http", "/metrics"
	hosts := make([]string, 0, len(targets))
	for i, tg := range targets {
		s, p, host := "http", "/metrics", tg
		if strings.Contains(tg, "://") {
			u, err := url.Parse(tg)
			if err != nil || u.Host == "" {
				return "", fmt.Errorf("target %q is neither host:port nor a URL", tg)
			}
			s, host = u.Scheme, u.Host
			if u.Path != "" && u.Path != "/" {
				p = u.Path
			}
		}
		if i > 0 && (s != scheme || p != path) {
			return "", fmt.Errorf("targets %q and %q differ in scheme or metrics path; start one Prometheus per kind", targets[0], tg)
		}
		scheme, path = s, p
		hosts = append(hosts, host)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n",
		dur(o.scrape), dur(min(o.scrape, 10*time.Second)), dur(o.eval))
	if len(o.rules) > 0 {
		b.WriteString("rule_files:\n")
		for _, r := range o.rules {
			abs, err := filepath.Abs(r)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "  - %s\n", quote(abs))
		}
	}
	if len(o.alertmanagers) > 0 {
		b.WriteString("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets:\n")
		for _, a := range o.alertmanagers {
			fmt.Fprintf(&b, "            - %s\n", quote(strings.TrimPrefix(a, "http://")))
		}
	}
	if len(hosts) > 0 {
		fmt.Fprintf(&b, "scrape_configs:\n  - job_name: %s\n    scheme: %s\n    metrics_path: %s\n    static_configs:\n      - targets:\n",
			quote(o.job), scheme, quote(path))
		for _, h := range hosts {
			fmt.Fprintf(&b, "          - %s\n", quote(h))
		}
	}
	return b.String(), nil
}

// dur formats a duration the way Prometheus's configuration reads it.
func dur(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// quote writes s as a YAML string: JSON strings are YAML.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Stop stops Prometheus, as an outage would, keeping its storage for
// Restart. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	stop := s.stop
	s.stop = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Restart starts a stopped Prometheus again on the same address, with
// the same configuration and storage, and waits until it is ready; it
// fails the test if it cannot. As at Start, the first scrape follows
// about five seconds later.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	running := s.stop != nil
	s.mu.Unlock()
	if running {
		t.Fatal("promtest: Restart of a running Prometheus; Stop it first")
	}
	if err := s.start(t); err != nil {
		t.Fatalf("promtest: restart: %v", err)
	}
}

// start runs Prometheus on s.addr and waits until it is ready.
func (s *Server) start(t testing.TB) error {
	t.Helper()
	bin, dir, cfgPath, addr := s.bin, s.Dir, s.cfgPath, s.addr
	log := &syncBuffer{}
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--web.enable-lifecycle", // POST /-/reload after changing rule files
		"--log.level=info",
	)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	startAt := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("prometheus exited before it was ready (%v):\n%s", err, log.String())
		case <-ctx.Done():
			stop()
			return fmt.Errorf("prometheus was not ready within 30s:\n%s", log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if ready(ctx, s.URL) {
			break
		}
	}
	t.Logf("promtest: Prometheus ready at %s in %v", s.URL, time.Since(startAt).Round(time.Millisecond))
	s.mu.Lock()
	s.stop = sync.OnceFunc(stop)
	s.mu.Unlock()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("promtest: Prometheus log:\n%s", log.String())
		}
	})
	return nil
}

func ready(ctx context.Context, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/-/ready", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitScraped waits until every target has been scraped successfully at
// least once after since, and fails the test after timeout. A test that
// needs samples from a known time on calls it before generating them.
func (s *Server) WaitScraped(t testing.TB, since time.Time, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, why, err := s.scrapedSince(since)
		if err == nil && ok {
			return
		}
		last = why
		if err != nil {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("promtest: targets not scraped within %v: %s", timeout, last)
}

func (s *Server) scrapedSince(since time.Time) (bool, string, error) {
	resp, err := http.Get(s.URL + "/api/v1/targets?state=active")
	if err != nil {
		return false, "", err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL  string    `json:"scrapeUrl"`
				Health     string    `json:"health"`
				LastError  string    `json:"lastError"`
				LastScrape time.Time `json:"lastScrape"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return false, "", fmt.Errorf("decode /api/v1/targets: %w", err)
	}
	if len(body.Data.ActiveTargets) == 0 {
		return false, "no active targets yet", nil
	}
	for _, tg := range body.Data.ActiveTargets {
		if tg.Health != "up" || !tg.LastScrape.After(since) {
			return false, fmt.Sprintf("%s is %s (last scrape %v, error %q)", tg.ScrapeURL, tg.Health, tg.LastScrape, tg.LastError), nil
		}
	}
	return true, "", nil
}

// syncBuffer is a bytes.Buffer safe for Prometheus's two output streams
// and the test reading them.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
