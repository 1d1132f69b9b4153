// Command ofrepload is a closed-loop HTTP load generator for OFREP single
// evaluation: POST /ofrep/v1/evaluate/flags/{key} with a body of
// {"context":{"targetingKey":"user-N"}}, cycling through flag keys and
// users.
//
// Each of -c workers holds one keep-alive connection and sends its next
// request as soon as the previous answer is read (closed loop). After a
// warm-up, it records every latency for -d and prints the rate, the
// p50/p90/p99/p99.9/max latencies, the error count and the CPU time the
// server and the generator used.
//
// Without -server it builds ramp (or runs -bin), starts "ramp serve" on a
// free loopback port with a temporary data directory, creates -flags
// boolean flags (bench-0, bench-1, ...) at 50 % in production and an SDK
// token, and stops the server at the end. With -server it uses a running
// server; -admin-token lets it create the flags and the token there, or
// -sdk-token skips all setup.
//
// The default client speaks HTTP/1.1 directly on the socket with
// pre-encoded requests, so that as much of the shared CPU as possible goes
// to the server; -client nethttp uses net/http instead. -wrk also runs wrk
// with bench/ofrepload/wrk.lua against the same server as a cross-check.
//
// Examples:
//
//	go run ./bench/ofrepload                          # 64 connections, 2 s warm-up, 10 s
//	go run ./bench/ofrepload -c 32 -d 30s -wrk
//	taskset -c 1 ofrepload -bin /tmp/ramp-bench -server-cpus 0
package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ramp-flags/ramp/bench/internal/latency"
	"github.com/ramp-flags/ramp/bench/internal/rampproc"
	"github.com/ramp-flags/ramp/client"
)

//go:embed wrk.lua
var wrkScript []byte

type config struct {
	server, adminToken, sdkToken string
	serverPID                    int
	bin, serverCPUs, serverEnv   string
	env                          string
	conns                        int
	duration, warmup, timeout    time.Duration
	flags, users                 int
	prefix                       string
	query                        string // added to every path
	pct                          float64
	clientKind                   string
	auth                         string
	runWrk                       bool
	wrkThreads                   int
}

func main() {
	var c config
	flag.StringVar(&c.server, "server", "", "base URL of a running server; empty starts one")
	flag.IntVar(&c.serverPID, "server-pid", 0, "process ID of -server, to report its CPU use")
	flag.StringVar(&c.adminToken, "admin-token", os.Getenv("RAMP_TOKEN"), "admin token of -server, to create the flags and an SDK token ($RAMP_TOKEN)")
	flag.StringVar(&c.sdkToken, "sdk-token", "", "SDK token to evaluate with; set: no setup at all")
	flag.StringVar(&c.bin, "bin", "", "ramp binary to start; empty builds ./cmd/ramp")
	flag.StringVar(&c.serverCPUs, "server-cpus", "", "run the started server under taskset -c LIST (for example 0 or 0,1)")
	flag.StringVar(&c.serverEnv, "server-env", "", "extra environment of the started server, comma-separated (GOGC=200,GOMAXPROCS=2)")
	flag.StringVar(&c.env, "env", "production", "environment of the SDK token")
	flag.IntVar(&c.conns, "c", 64, "concurrent workers, one keep-alive connection each (1-10000)")
	flag.DurationVar(&c.duration, "d", 10*time.Second, "measured duration (at most 10m)")
	flag.DurationVar(&c.warmup, "warmup", 2*time.Second, "warm-up before measuring (not recorded)")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Second, "per-request timeout; a timeout counts as an error")
	flag.IntVar(&c.flags, "flags", 100, "number of flag keys to cycle through")
	flag.IntVar(&c.users, "users", 10000, "number of targeting keys (user-0 ...) to cycle through")
	flag.StringVar(&c.prefix, "prefix", "bench-", "flag key prefix: keys are PREFIX0 ... PREFIX(flags-1)")
	flag.Float64Var(&c.pct, "pct", 50, "percentage of the created flags' split")
	flag.StringVar(&c.clientKind, "client", "raw", "raw (HTTP/1.1 on the socket) or nethttp (net/http Client)")
	flag.StringVar(&c.auth, "auth", "sdk", "sdk: an SDK token (looked up per request); admin: the admin token with ?environment=ENV (a hash compare), to see what the lookup costs")
	flag.BoolVar(&c.runWrk, "wrk", false, "afterwards, run wrk with wrk.lua against the same server for the same duration")
	flag.IntVar(&c.wrkThreads, "wrk-threads", 2, "wrk threads (-t)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: ofrepload [flags]\n\nClosed-loop load on POST /ofrep/v1/evaluate/flags/{key}.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := c.check(); err != nil {
		fmt.Fprintln(os.Stderr, "ofrepload:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "ofrepload:", err)
		os.Exit(1)
	}
}

func (c *config) check() error {
	switch {
	case c.conns < 1 || c.conns > 10000:
		return fmt.Errorf("-c %d: use 1 to 10000", c.conns)
	case c.duration <= 0 || c.duration > 10*time.Minute:
		return fmt.Errorf("-d %s: use more than 0 and at most 10m", c.duration)
	case c.warmup < 0 || c.warmup > 5*time.Minute:
		return fmt.Errorf("-warmup %s: use 0 to 5m", c.warmup)
	case c.flags < 1 || c.flags > 100000:
		return fmt.Errorf("-flags %d: use 1 to 100000", c.flags)
	case c.users < 1 || c.users > 1000000:
		return fmt.Errorf("-users %d: use 1 to 1000000", c.users)
	case c.auth != "sdk" && c.auth != "admin":
		return fmt.Errorf("-auth %q: use sdk or admin", c.auth)
	case c.auth == "admin" && c.adminToken == "" && c.server != "":
		return errors.New("-auth admin needs -admin-token")
	case c.clientKind != "raw" && c.clientKind != "nethttp":
		return fmt.Errorf("-client %q: use raw or nethttp", c.clientKind)
	case c.server != "" && c.sdkToken == "" && c.adminToken == "":
		return errors.New("-server needs -sdk-token, or -admin-token to create one")
	}
	if c.server != "" {
		u, err := url.Parse(c.server)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("-server %q: use http://HOST:PORT", c.server)
		}
		if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
			return fmt.Errorf("-server %q: this tool only loads loopback servers", c.server)
		}
	}
	return nil
}

func run(ctx context.Context, c config) error {
	base, pid := c.server, c.serverPID
	if base == "" {
		var env []string
		if c.serverEnv != "" {
			env = strings.Split(c.serverEnv, ",")
		}
		srv, err := rampproc.Start(ctx, rampproc.Options{Bin: c.bin, CPUs: c.serverCPUs, Env: env})
		if err != nil {
			return err
		}
		defer srv.Stop()
		base, pid, c.adminToken = srv.URL, srv.PID(), srv.AdminToken
		fmt.Printf("server: %s pid %d (started by ofrepload%s)\n", base, pid, cpusNote(c.serverCPUs))
	}
	if c.sdkToken == "" {
		if err := setup(ctx, &c, base); err != nil {
			return err
		}
	}
	if c.auth == "admin" {
		c.sdkToken, c.query = c.adminToken, "?environment="+url.QueryEscape(c.env)
	}
	reqs, err := buildRequests(c, base)
	if err != nil {
		return err
	}
	if err := probe(ctx, base, c.sdkToken, c.prefix+"0"+c.query); err != nil {
		return err
	}
	fmt.Printf("load: %s client, %s token, %d connections, %d flags, %d users, warm-up %s, measure %s, GOMAXPROCS %d\n",
		c.clientKind, c.auth, c.conns, c.flags, c.users, c.warmup, c.duration, runtime.GOMAXPROCS(0))
	res, err := load(ctx, c, base, reqs, pid)
	if err != nil {
		return err
	}
	res.print()
	if c.runWrk {
		if err := runWrk(ctx, c, base); err != nil {
			return err
		}
	}
	return nil
}

func cpusNote(cpus string) string {
	if cpus == "" {
		return ""
	}
	return ", taskset -c " + cpus
}

// setup creates the flags and an SDK token with the admin token.
func setup(ctx context.Context, c *config, base string) error {
	cl := client.New(base, c.adminToken)
	start := time.Now()
	for i := range c.flags {
		if err := rampproc.EnsureFlag(ctx, cl, rampproc.BoolFlag(c.prefix+strconv.Itoa(i), c.env, c.pct)); err != nil {
			return err
		}
	}
	tok, err := rampproc.SDKToken(ctx, cl, c.env)
	if err != nil {
		return err
	}
	c.sdkToken = tok
	fmt.Printf("setup: %d flags at %g %% in %s and an SDK token in %s\n", c.flags, c.pct, c.env, time.Since(start).Round(time.Millisecond))
	return nil
}

// probe sends one request with net/http and shows the answer, so that a
// run against a server without OFREP stops here with the reason.
func probe(ctx context.Context, base, token, keyAndQuery string) error {
	body := `{"context":{"targetingKey":"user-0"}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/ofrep/v1/evaluate/flags/"+keyAndQuery, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Printf("probe: %s %s -> %d %s\n", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(b))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("probe answered %d, not 200: is OFREP served (POST /ofrep/v1/evaluate/flags/{key})?", resp.StatusCode)
	}
	return nil
}

// request is one pre-encoded request.
type request struct {
	raw  []byte // the whole HTTP/1.1 request
	path string
	body []byte
}

// buildRequests encodes one request per user, flag key i%flags for user i.
func buildRequests(c config, base string) ([]request, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	reqs := make([]request, c.users)
	for i := range reqs {
		path := "/ofrep/v1/evaluate/flags/" + url.PathEscape(c.prefix+strconv.Itoa(i%c.flags)) + c.query
		body := []byte(`{"context":{"targetingKey":"user-` + strconv.Itoa(i) + `"}}`)
		raw := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			path, u.Host, c.sdkToken, len(body), body)
		reqs[i] = request{raw: raw, path: path, body: body}
	}
	return reqs, nil
}

// result is what a load run measured.
type result struct {
	hist      latency.Histogram
	statuses  map[int]uint64
	ioErrors  uint64
	firstErr  string
	elapsed   time.Duration
	serverCPU time.Duration // -1: unknown
	selfCPU   time.Duration
	busyCPU   time.Duration // the whole machine's; -1: unknown
}

func (r *result) print() {
	s := r.hist.Summary()
	total := r.hist.Count()
	errs := r.ioErrors
	for code, n := range r.statuses {
		if code != http.StatusOK {
			errs += n
		}
	}
	fmt.Printf("requests: %d in %s = %.0f req/s\n", total, r.elapsed.Round(time.Millisecond), float64(total)/r.elapsed.Seconds())
	fmt.Printf("latency: p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s)\n",
		latency.Round(s.P50), latency.Round(s.P90), latency.Round(s.P99), latency.Round(r.hist.Quantile(0.999)), latency.Round(s.Max), latency.Round(r.hist.Mean()))
	fmt.Printf("errors: %d (statuses %v, I/O errors %d)\n", errs, r.statuses, r.ioErrors)
	if r.firstErr != "" {
		fmt.Printf("first error: %s\n", r.firstErr)
	}
	secs := r.elapsed.Seconds()
	cores := func(d time.Duration) float64 { return d.Seconds() / secs }
	line := fmt.Sprintf("cpu: load generator %.2f cores", cores(r.selfCPU))
	if r.serverCPU >= 0 {
		line = fmt.Sprintf("cpu: server %.2f cores, load generator %.2f cores", cores(r.serverCPU), cores(r.selfCPU))
	}
	if r.busyCPU >= 0 && r.serverCPU >= 0 {
		// Anything else running on the machine takes CPU from the server:
		// a figure above a few hundredths means the run is not clean.
		line += fmt.Sprintf(", other processes %.2f cores", max(0, cores(r.busyCPU-r.serverCPU-r.selfCPU)))
	}
	fmt.Printf("%s (of %d on the machine)\n", line, rampproc.MachineCPUs())
}

type worker struct {
	hist     latency.Histogram
	statuses map[int]uint64
	ioErrors uint64
	firstErr string
}

func (w *worker) fail(err error) {
	w.ioErrors++
	if w.firstErr == "" {
		w.firstErr = err.Error()
	}
}

// load runs the workers: warm-up, then the measured window.
func load(ctx context.Context, c config, base string, reqs []request, serverPID int) (*result, error) {
	u, _ := url.Parse(base)
	workers := make([]*worker, c.conns)
	var (
		wg        sync.WaitGroup
		measuring atomic.Bool
		stop      atomic.Bool
	)
	var hc *http.Client
	if c.clientKind == "nethttp" {
		hc = &http.Client{Timeout: c.timeout, Transport: &http.Transport{
			MaxIdleConns: c.conns, MaxIdleConnsPerHost: c.conns, MaxConnsPerHost: c.conns,
			DisableCompression: true, IdleConnTimeout: time.Minute,
		}}
		defer hc.CloseIdleConnections()
	}
	for i := range workers {
		w := &worker{statuses: map[int]uint64{}}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := (i * 7919) % len(reqs)
			if c.clientKind == "nethttp" {
				w.runNetHTTP(ctx, hc, base, reqs, next, c.sdkToken, &measuring, &stop)
			} else {
				w.runRaw(u.Host, reqs, next, c.timeout, &measuring, &stop)
			}
		}()
	}
	select {
	case <-time.After(c.warmup):
	case <-ctx.Done():
	}
	cpu0, cpuErr := rampproc.ProcCPU(serverPID)
	self0 := rampproc.SelfCPU()
	busy0, busyErr := rampproc.MachineBusy()
	start := time.Now()
	measuring.Store(true)
	select {
	case <-time.After(c.duration):
	case <-ctx.Done():
	}
	measuring.Store(false)
	elapsed := time.Since(start)
	cpu1, _ := rampproc.ProcCPU(serverPID)
	self1 := rampproc.SelfCPU()
	busy1, _ := rampproc.MachineBusy()
	stop.Store(true)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &result{statuses: map[int]uint64{}, elapsed: elapsed, selfCPU: self1 - self0, serverCPU: cpu1 - cpu0, busyCPU: busy1 - busy0}
	if cpuErr != nil {
		res.serverCPU = -1
	}
	if busyErr != nil {
		res.busyCPU = -1
	}
	for _, w := range workers {
		res.hist.Merge(&w.hist)
		for k, v := range w.statuses {
			res.statuses[k] += v
		}
		res.ioErrors += w.ioErrors
		if res.firstErr == "" {
			res.firstErr = w.firstErr
		}
	}
	return res, nil
}

// runRaw sends requests on one keep-alive connection, reconnecting after
// an error.
func (w *worker) runRaw(host string, reqs []request, next int, timeout time.Duration, measuring, stop *atomic.Bool) {
	var (
		conn net.Conn
		br   *bufio.Reader
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for !stop.Load() {
		if conn == nil {
			var err error
			conn, err = net.DialTimeout("tcp", host, timeout)
			if err != nil {
				if measuring.Load() {
					w.fail(err)
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			br = bufio.NewReaderSize(conn, 16<<10)
		}
		rq := &reqs[next]
		next++
		if next == len(reqs) {
			next = 0
		}
		rec := measuring.Load()
		t0 := time.Now()
		_ = conn.SetDeadline(t0.Add(timeout))
		status, keep, err := roundTrip(conn, br, rq.raw)
		d := time.Since(t0)
		if err != nil {
			if rec && !stop.Load() {
				w.fail(err)
			}
			conn.Close()
			conn = nil
			continue
		}
		if rec {
			w.hist.Record(d)
			w.statuses[status]++
		}
		if !keep {
			conn.Close()
			conn = nil
		}
	}
}

// roundTrip writes raw and reads one HTTP/1.1 response, discarding its
// body. It reports the status and whether the connection may be reused.
func roundTrip(conn net.Conn, br *bufio.Reader, raw []byte) (status int, keep bool, err error) {
	if _, err := conn.Write(raw); err != nil {
		return 0, false, err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	keep = true
	length, chunked := -1, false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return 0, false, err
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 64)
			if err != nil {
				return 0, false, fmt.Errorf("bad chunk size %q", line)
			}
			if size == 0 {
				for { // trailer
					line, err := br.ReadSlice('\n')
					if err != nil {
						return 0, false, err
					}
					if len(line) <= 2 {
						return status, keep, nil
					}
				}
			}
			if _, err := br.Discard(int(size) + 2); err != nil {
				return 0, false, err
			}
		}
	case length >= 0:
		if _, err := br.Discard(length); err != nil {
			return 0, false, err
		}
	default:
		return 0, false, errors.New("response without Content-Length or chunked encoding")
	}
	return status, keep, nil
}

// runNetHTTP sends requests with net/http.
func (w *worker) runNetHTTP(ctx context.Context, hc *http.Client, base string, reqs []request, next int, token string, measuring, stop *atomic.Bool) {
	for !stop.Load() {
		rq := &reqs[next]
		next++
		if next == len(reqs) {
			next = 0
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+rq.path, bytes.NewReader(rq.body))
		if err != nil {
			w.fail(err)
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := measuring.Load()
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		d := time.Since(t0)
		if err != nil {
			if rec && !stop.Load() && ctx.Err() == nil {
				w.fail(err)
			}
			continue
		}
		if rec {
			w.hist.Record(d)
			w.statuses[resp.StatusCode]++
		}
	}
}

// runWrk runs wrk with the embedded script for the same connections and
// duration.
func runWrk(ctx context.Context, c config, base string) error {
	path, err := exec.LookPath("wrk")
	if err != nil {
		return errors.New("-wrk: wrk is not installed (apt-get install -y wrk)")
	}
	dir, err := os.MkdirTemp("", "ofrepload-wrk-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "wrk.lua")
	if err := os.WriteFile(script, wrkScript, 0o600); err != nil {
		return err
	}
	conns := max(c.conns, c.wrkThreads)
	args := []string{"-t", strconv.Itoa(c.wrkThreads), "-c", strconv.Itoa(conns), "-d", strconv.Itoa(int(c.duration.Seconds())) + "s",
		"--latency", "--timeout", strconv.Itoa(max(1, int(c.timeout.Seconds()))) + "s", "-s", script, base}
	fmt.Printf("\nwrk %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "RAMP_SDK_TOKEN="+c.sdkToken, "OFREP_QUERY="+c.query, "OFREP_FLAGS="+strconv.Itoa(c.flags),
		"OFREP_USERS="+strconv.Itoa(c.users), "OFREP_PREFIX="+c.prefix)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}
