// Command killswitch measures how fast the kill switch reaches streaming
// SDK clients: from the moment "ramp rollback FLAG --env ENV" is executed
// to the moment each of N connected clients first evaluates the flag as
// off.
//
// It starts a server (or uses -server), creates a boolean flag serving on
// to 100 % of users, and connects -clients streaming clients:
//
//   - sdk: the real Go SDK (github.com/ramp-flags/ramp/sdk), one sdk.Client
//     each, observed through OnChange callbacks that evaluate the flag with
//     Bool for the client's own targeting key;
//   - raw: one SSE connection each (bench/internal/ssestream) that decodes
//     every event as docs/stream.md says and evaluates the flag with the
//     eval package, as an SDK in another language would;
//   - recv: one SSE connection each that only notes when the change
//     arrives, without decoding it: the delivery time alone.
//
// Once every client serves "on", each round runs the ramp CLI binary
// exactly as an operator does, timing from just before exec, waits until
// every client serves "off", and prints the p50/p99/max propagation and the
// time to the last client; then it sets the flag back to 100 %, waits for
// every client to serve "on" again, and starts the next round. All clients
// run in this one process, on the same machine as the server, so their
// decoding shares the server's CPU.
//
// Examples:
//
//	go run ./bench/killswitch                            # 1,000 SDK clients, 5 rounds
//	go run ./bench/killswitch -clients 10000 -rounds 10
//	go run ./bench/killswitch -clients 10000 -client recv
//	go run ./bench/killswitch -cpuprofile /tmp/clients.prof   # where the clients' CPU goes
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/bench/internal/latency"
	"github.com/ramp-flags/ramp/bench/internal/rampproc"
	"github.com/ramp-flags/ramp/bench/internal/ssestream"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/eval"
	"github.com/ramp-flags/ramp/sdk"
)

type config struct {
	server, adminToken, sdkToken string
	bin, serverCPUs, serverEnv   string
	env, flagKey, clientKind     string
	clients, rounds, parallel    int
	settle, timeout              time.Duration
	verbose                      bool
	cpuProfile                   string
	serverPID                    int // 0: not known
}

func main() {
	var c config
	flag.StringVar(&c.server, "server", "", "base URL of a running server; empty starts one")
	flag.StringVar(&c.adminToken, "admin-token", os.Getenv("RAMP_TOKEN"), "admin token of -server ($RAMP_TOKEN)")
	flag.StringVar(&c.bin, "bin", "", "ramp binary: the server to start and the CLI to run; empty builds ./cmd/ramp")
	flag.StringVar(&c.serverCPUs, "server-cpus", "", "run the started server under taskset -c LIST")
	flag.StringVar(&c.serverEnv, "server-env", "", "extra environment of the started server, comma-separated")
	flag.StringVar(&c.env, "env", ramp.EnvProduction, "environment")
	flag.StringVar(&c.flagKey, "flag", "killswitch-bench", "flag to create and roll back")
	flag.StringVar(&c.clientKind, "client", "sdk", "sdk (the Go SDK), raw (SSE, decode and evaluate) or recv (SSE, arrival only)")
	flag.IntVar(&c.clients, "clients", 1000, "streaming clients (1-15000)")
	flag.IntVar(&c.rounds, "rounds", 5, "kill switch rounds (1-100)")
	flag.IntVar(&c.parallel, "connect-parallel", 64, "clients connecting at the same time")
	flag.DurationVar(&c.settle, "settle", time.Second, "pause after every client serves on, before the rollback")
	flag.DurationVar(&c.timeout, "timeout", 60*time.Second, "longest wait for all clients to connect or to flip, per step")
	flag.BoolVar(&c.verbose, "v", false, "print the server's log")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (the clients) over the rounds to `file`")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: killswitch [flags]\n\nKill switch propagation to streaming clients.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := c.check(); err != nil {
		fmt.Fprintln(os.Stderr, "killswitch:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "killswitch:", err)
		os.Exit(1)
	}
}

func (c *config) check() error {
	switch {
	case c.clients < 1 || c.clients > 15000:
		return fmt.Errorf("-clients %d: use 1 to 15000", c.clients)
	case c.rounds < 1 || c.rounds > 100:
		return fmt.Errorf("-rounds %d: use 1 to 100", c.rounds)
	case c.parallel < 1 || c.parallel > 1000:
		return fmt.Errorf("-connect-parallel %d: use 1 to 1000", c.parallel)
	case c.timeout <= 0 || c.timeout > 10*time.Minute:
		return fmt.Errorf("-timeout %s: use at most 10m", c.timeout)
	case c.clientKind != "sdk" && c.clientKind != "raw" && c.clientKind != "recv":
		return fmt.Errorf("-client %q: use sdk, raw or recv", c.clientKind)
	case c.server != "" && c.adminToken == "":
		return errors.New("-server needs -admin-token")
	}
	if c.server != "" {
		u, err := url.Parse(c.server)
		if err != nil || u.Scheme != "http" || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
			return fmt.Errorf("-server %q: use http://127.0.0.1:PORT (loopback only)", c.server)
		}
	}
	return nil
}

func run(ctx context.Context, c config) error {
	if c.server == "" {
		var env []string
		if c.serverEnv != "" {
			env = strings.Split(c.serverEnv, ",")
		}
		o := rampproc.Options{Bin: c.bin, CPUs: c.serverCPUs, Env: env}
		if c.verbose {
			o.Log = os.Stderr
		}
		srv, err := rampproc.Start(ctx, o)
		if err != nil {
			return err
		}
		defer srv.Stop()
		c.server, c.adminToken, c.bin, c.serverPID = srv.URL, srv.AdminToken, srv.Bin, srv.PID()
		fmt.Printf("server: %s pid %d (started by killswitch)\n", srv.URL, srv.PID())
	} else if c.bin == "" {
		dir, err := os.MkdirTemp("", "killswitch-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if c.bin, err = rampproc.Build(ctx, dir); err != nil {
			return err
		}
	}
	admin := client.New(c.server, c.adminToken)
	if err := rampproc.EnsureFlag(ctx, admin, rampproc.BoolFlag(c.flagKey, c.env, 100)); err != nil {
		return err
	}
	tok, err := rampproc.SDKToken(ctx, admin, c.env)
	if err != nil {
		return err
	}
	c.sdkToken = tok

	tr := newTracker(c.clients)
	clients := newClients(c, tr)
	defer clients.close()
	start := time.Now()
	if err := clients.connect(ctx); err != nil {
		return err
	}
	if err := tr.waitOn(ctx, c.timeout); err != nil {
		return fmt.Errorf("clients serving on: %w", err)
	}
	fmt.Printf("clients: %d %s clients connected and serving on in %s\n", c.clients, c.clientKind, time.Since(start).Round(time.Millisecond))

	var (
		all   []time.Duration
		lasts []time.Duration
		clis  []time.Duration
	)
	if c.cpuProfile != "" {
		stop, err := startCPUProfile(c.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	for round := 1; round <= c.rounds; round++ {
		if err := sleep(ctx, c.settle); err != nil {
			return err
		}
		samples, cli, use, err := rollback(ctx, c, tr)
		if err != nil {
			return fmt.Errorf("round %d: %w", round, err)
		}
		s := latency.Of(samples)
		fmt.Printf("round %d: cli returned %s; %d clients off: p50 %s p99 %s max %s (last client); cpu %s\n",
			round, latency.Round(cli), s.N, latency.Round(s.P50), latency.Round(s.P99), latency.Round(s.Max), use)
		all = append(all, samples...)
		lasts = append(lasts, s.Max)
		clis = append(clis, cli)
		if reconnects := clients.reconnects(); reconnects > 0 {
			fmt.Printf("round %d: %d stream reconnections so far\n", round, reconnects)
		}
		// Back to 100 % for the next round.
		if _, err := admin.SetPercentage(ctx, c.flagKey, c.env, 100, "on"); err != nil {
			return fmt.Errorf("set back to 100%%: %w", err)
		}
		if err := tr.waitOn(ctx, c.timeout); err != nil {
			return fmt.Errorf("round %d: clients serving on again: %w", round, err)
		}
	}
	s := latency.Of(all)
	l := latency.Of(lasts)
	cl := latency.Of(clis)
	fmt.Printf("\nkill switch, %d %s clients, %d rounds (%d samples):\n", c.clients, c.clientKind, c.rounds, s.N)
	fmt.Printf("  propagation, all clients of all rounds: p50 %s  p90 %s  p99 %s  max %s\n",
		latency.Round(s.P50), latency.Round(s.P90), latency.Round(s.P99), latency.Round(s.Max))
	fmt.Printf("  time to the last client, per round:    median %s  max %s\n", latency.Round(l.P50), latency.Round(l.Max))
	fmt.Printf("  ramp rollback, exec to exit:            median %s  max %s\n", latency.Round(cl.P50), latency.Round(cl.Max))
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cpuUse is the CPU time spent from the rollback's exec until the last
// client served off.
type cpuUse struct {
	server, clients, machine time.Duration // -1: unknown
}

func (u cpuUse) String() string {
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }
	s := "clients " + ms(u.clients)
	if u.server >= 0 {
		s = "server " + ms(u.server) + ", " + s
		if u.machine >= 0 {
			// The CLI process and anything else running on the machine.
			s += ", rest " + ms(max(0, u.machine-u.server-u.clients))
		}
	}
	return s
}

// rollback runs the CLI and waits until every client serves off. It
// returns each client's propagation time, how long the CLI ran and the
// CPU time it took.
func rollback(ctx context.Context, c config, tr *tracker) ([]time.Duration, time.Duration, cpuUse, error) {
	var use cpuUse
	cmd := exec.CommandContext(ctx, c.bin, "rollback", c.flagKey, "--env", c.env)
	cmd.Env = append(os.Environ(), "RAMP_SERVER="+c.server, "RAMP_TOKEN="+c.adminToken)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	tr.arm()
	srv0, srvErr := rampproc.ProcCPU(c.serverPID)
	self0 := rampproc.SelfCPU()
	all0, allErr := rampproc.MachineBusy()
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, use, err
	}
	err := cmd.Wait()
	cli := time.Since(t0)
	if err != nil {
		return nil, 0, use, fmt.Errorf("ramp rollback: %w\n%s", err, out.Bytes())
	}
	if err := tr.waitOff(ctx, c.timeout); err != nil {
		return nil, 0, use, err
	}
	srv1, _ := rampproc.ProcCPU(c.serverPID)
	all1, _ := rampproc.MachineBusy()
	use = cpuUse{server: srv1 - srv0, clients: rampproc.SelfCPU() - self0, machine: all1 - all0}
	if srvErr != nil {
		use.server = -1
	}
	if allErr != nil {
		use.machine = -1
	}
	samples := make([]time.Duration, tr.n)
	for i := range samples {
		samples[i] = time.Duration(tr.flipped[i].Load() - t0.UnixNano())
	}
	return samples, cli, use, nil
}

// tracker holds what every client serves and when it first served off
// after the rollback started.
type tracker struct {
	n       int
	on      []atomic.Bool
	flipped []atomic.Int64 // UnixNano of the first off since arm; 0: not yet
	onCount atomic.Int64
	offSeen atomic.Int64
	armed   atomic.Bool
}

func newTracker(n int) *tracker {
	return &tracker{n: n, on: make([]atomic.Bool, n), flipped: make([]atomic.Int64, n)}
}

// set records that client i serves on (or off), as of now.
func (t *tracker) set(i int, on bool) {
	now := time.Now().UnixNano()
	if prev := t.on[i].Swap(on); prev != on {
		if on {
			t.onCount.Add(1)
		} else {
			t.onCount.Add(-1)
		}
	}
	if !on && t.armed.Load() && t.flipped[i].CompareAndSwap(0, now) {
		t.offSeen.Add(1)
	}
}

// arm clears the flip times: the next off of each client is recorded.
func (t *tracker) arm() {
	t.armed.Store(false)
	for i := range t.flipped {
		t.flipped[i].Store(0)
	}
	t.offSeen.Store(0)
	t.armed.Store(true)
}

func (t *tracker) waitOn(ctx context.Context, timeout time.Duration) error {
	t.armed.Store(false)
	return waitFor(ctx, timeout, func() (bool, string) {
		n := t.onCount.Load()
		return int(n) == t.n, fmt.Sprintf("%d of %d serve on", n, t.n)
	})
}

func (t *tracker) waitOff(ctx context.Context, timeout time.Duration) error {
	return waitFor(ctx, timeout, func() (bool, string) {
		n := t.offSeen.Load()
		return int(n) == t.n, fmt.Sprintf("%d of %d serve off", n, t.n)
	})
}

func waitFor(ctx context.Context, timeout time.Duration, done func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, state := done()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s: %s", timeout, state)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// clients are the streaming clients of one kind.
type clients struct {
	c         config
	tr        *tracker
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	mu        sync.Mutex
	sdks      []*sdk.Client
	reconnect atomic.Int64
}

func newClients(c config, tr *tracker) *clients {
	cl := &clients{c: c, tr: tr}
	cl.ctx, cl.cancel = context.WithCancel(context.Background())
	return cl
}

func (cl *clients) reconnects() int64 { return cl.reconnect.Load() }

// connect starts every client, -connect-parallel at a time, and returns
// once each has connected (not yet necessarily serving on).
func (cl *clients) connect(ctx context.Context) error {
	sem := make(chan struct{}, cl.c.parallel)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16}}
	for i := range cl.c.clients {
		select {
		case sem <- struct{}{}:
		case err := <-errc:
			wg.Wait()
			return err
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			if cl.c.clientKind == "sdk" {
				err = cl.startSDK(ctx, i, hc)
			} else {
				err = cl.startStream(ctx, i)
			}
			if err != nil {
				select {
				case errc <- fmt.Errorf("client %d: %w", i, err):
				default:
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

func (cl *clients) startSDK(ctx context.Context, i int, hc *http.Client) error {
	sc, err := sdk.New(ctx, sdk.Config{URL: cl.c.server, Token: cl.c.sdkToken, HTTPClient: hc, StartTimeout: cl.c.timeout})
	if err != nil {
		return err
	}
	cl.mu.Lock()
	cl.sdks = append(cl.sdks, sc)
	cl.mu.Unlock()
	ec := sdk.EvalContext{TargetingKey: "user-" + strconv.Itoa(i)}
	key := cl.c.flagKey
	eval := func() { cl.tr.set(i, sc.Bool(cl.ctx, key, ec, true)) }
	sc.OnChange(func(sdk.ChangeEvent) { eval() })
	eval()
	return nil
}

// startStream connects one SSE client and reads it in a goroutine until
// the clients close, reconnecting when the stream ends.
func (cl *clients) startStream(ctx context.Context, i int) error {
	addr := strings.TrimPrefix(cl.c.server, "http://")
	dial := func(ctx context.Context) (*ssestream.Stream, error) {
		dctx, cancel := context.WithTimeout(ctx, cl.c.timeout)
		defer cancel()
		return ssestream.Dial(dctx, addr, "/sdk/v1/stream", cl.c.sdkToken, 4096)
	}
	st, err := dial(ctx)
	if err != nil {
		return err
	}
	cl.wg.Add(1)
	go func() {
		defer cl.wg.Done()
		stop := context.AfterFunc(cl.ctx, func() { st.Close() })
		defer func() { stop() }()
		v := &viewer{key: cl.c.flagKey, env: cl.c.env, ec: eval.Context{TargetingKey: "user-" + strconv.Itoa(i)}, decode: cl.c.clientKind == "raw"}
		for {
			for {
				ev, err := st.Next()
				if err != nil {
					break
				}
				if on, ok := v.apply(ev); ok {
					cl.tr.set(i, on)
				}
			}
			st.Close()
			if cl.ctx.Err() != nil {
				return
			}
			cl.reconnect.Add(1)
			time.Sleep(100 * time.Millisecond)
			if st, err = dial(cl.ctx); err != nil {
				return
			}
			stop()
			stop = context.AfterFunc(cl.ctx, func() { st.Close() })
		}
	}()
	return nil
}

// close stops every client.
func (cl *clients) close() {
	cl.cancel()
	cl.wg.Wait()
	var wg sync.WaitGroup
	for _, sc := range cl.sdks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = sc.Close()
		}()
	}
	wg.Wait()
}

// viewer follows one flag through a stream's events.
type viewer struct {
	key, env string
	ec       eval.Context
	decode   bool
	seq      int64
	on       bool
}

// apply applies an event and reports what the client serves after it,
// and false if the event says nothing about the flag.
func (v *viewer) apply(ev ssestream.Event) (on, ok bool) {
	if !v.decode {
		// recv: note the arrival; the flag's JSON says whether it is on.
		if ev.Type != "snapshot" && ev.Type != "change" {
			return false, false
		}
		if !bytes.Contains(ev.Data, []byte(`"key":"`+v.key+`"`)) {
			return false, false
		}
		return !bytes.Contains(ev.Data, []byte(`"on":false`)), true
	}
	if ev.ID != 0 && ev.ID <= v.seq && ev.Type == "change" {
		return false, false // a duplicate after a replay
	}
	var doc struct {
		Seq          int64        `json:"seq"`
		Flags        []*ramp.Flag `json:"flags"`
		DeletedFlags []string     `json:"deletedFlags"`
	}
	if err := json.Unmarshal(ev.Data, &doc); err != nil {
		return false, false // keep what it has
	}
	v.seq = doc.Seq
	for _, f := range doc.Flags {
		if f.Key != v.key {
			continue
		}
		cf, err := eval.Compile(f, v.env, nil)
		if err != nil {
			return false, false
		}
		val, _ := cf.Evaluate(&v.ec).Value.(bool)
		v.on = val
		return val, true
	}
	if ev.Type == "snapshot" {
		v.on = false // the flag is gone: the caller's default
		return false, true
	}
	return false, false
}

// startCPUProfile profiles this process, whose CPU is the clients', into
// path until the returned function is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "killswitch: cpu profile:", err)
		}
	}, nil
}
