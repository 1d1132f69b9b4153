// Command streammem measures the server's memory per idle streaming
// client: the resident set size (VmRSS in /proc/PID/status) of "ramp
// serve" with no stream open, then with -clients idle SSE connections to
// GET /sdk/v1/stream, after the server has settled. It prints the KiB per
// client, and from the server's /metrics (the Go collector) how the
// growth splits into heap, goroutine stacks and the rest.
//
// The clients are raw connections (bench/internal/ssestream) that read
// the snapshot and then only wait: the server's cost is the point.
//
// Without -server it starts ramp serve itself (building it, or -bin). With
// -server it needs the server's -pid (on this machine) and -admin-token.
//
// Settling: an idle Go server does not collect garbage by itself until
// its periodic forced collection (every two minutes), and returns freed
// memory to the OS gradually, so -settle defaults to 2m15s and the RSS is
// printed along the way.
//
// Examples:
//
//	go run ./bench/streammem                       # 1,000 clients
//	go run ./bench/streammem -clients 10000
//	go run ./bench/streammem -clients 10000 -settle 10s -server-env GOGC=50
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/bench/internal/rampproc"
	"github.com/ramp-flags/ramp/bench/internal/ssestream"
	"github.com/ramp-flags/ramp/client"
)

type config struct {
	server, adminToken, bin, serverEnv, serverCPUs string
	auth                                           string
	pid                                            int
	clients, flags, parallel                       int
	settle, interval                               time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.server, "server", "", "base URL of a running server; empty starts one")
	flag.IntVar(&c.pid, "pid", 0, "process ID of -server")
	flag.StringVar(&c.adminToken, "admin-token", os.Getenv("RAMP_TOKEN"), "admin token of -server ($RAMP_TOKEN)")
	flag.StringVar(&c.bin, "bin", "", "ramp binary to start; empty builds ./cmd/ramp")
	flag.StringVar(&c.serverEnv, "server-env", "", "extra environment of the started server, comma-separated (GOGC=50)")
	flag.StringVar(&c.serverCPUs, "server-cpus", "", "run the started server under taskset -c LIST")
	flag.StringVar(&c.auth, "auth", "sdk", "sdk: streams use an SDK token (a store lookup per connection); admin: the admin token with ?environment=production")
	flag.IntVar(&c.clients, "clients", 1000, "idle stream connections (1-15000)")
	flag.IntVar(&c.flags, "flags", 10, "boolean flags to create first, so that each stream starts with a real snapshot")
	flag.IntVar(&c.parallel, "connect-parallel", 64, "connections opened at the same time")
	flag.DurationVar(&c.settle, "settle", 2*time.Minute+15*time.Second, "wait before each measurement (at most 10m)")
	flag.DurationVar(&c.interval, "interval", 15*time.Second, "print the RSS this often while settling")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: streammem [flags]\n\nServer memory per idle stream client.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := c.check(); err != nil {
		fmt.Fprintln(os.Stderr, "streammem:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "streammem:", err)
		os.Exit(1)
	}
}

func (c *config) check() error {
	switch {
	case c.clients < 1 || c.clients > 15000:
		return fmt.Errorf("-clients %d: use 1 to 15000", c.clients)
	case c.flags < 0 || c.flags > 10000:
		return fmt.Errorf("-flags %d: use 0 to 10000", c.flags)
	case c.parallel < 1 || c.parallel > 1000:
		return fmt.Errorf("-connect-parallel %d: use 1 to 1000", c.parallel)
	case c.settle < 0 || c.settle > 10*time.Minute:
		return fmt.Errorf("-settle %s: use 0 to 10m", c.settle)
	case c.auth != "sdk" && c.auth != "admin":
		return fmt.Errorf("-auth %q: use sdk or admin", c.auth)
	case c.interval <= 0:
		return fmt.Errorf("-interval %s: must be positive", c.interval)
	case c.server != "" && (c.pid == 0 || c.adminToken == ""):
		return errors.New("-server needs -pid and -admin-token")
	}
	if c.server != "" {
		u, err := url.Parse(c.server)
		if err != nil || u.Scheme != "http" || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
			return fmt.Errorf("-server %q: use http://127.0.0.1:PORT (loopback only)", c.server)
		}
	}
	return nil
}

// sample is the server's memory at one moment.
type sample struct {
	rss     int64
	metrics map[string]float64
}

// Go collector metrics shown in the breakdown.
var shown = []string{
	"go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_heap_alloc_bytes",
	"go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes", "go_memstats_sys_bytes",
	"go_memstats_mspan_inuse_bytes", "go_memstats_other_sys_bytes", "go_memstats_gc_sys_bytes", "go_goroutines",
}

func run(ctx context.Context, c config) error {
	if c.server == "" {
		var env []string
		if c.serverEnv != "" {
			env = strings.Split(c.serverEnv, ",")
		}
		srv, err := rampproc.Start(ctx, rampproc.Options{Bin: c.bin, Env: env, CPUs: c.serverCPUs})
		if err != nil {
			return err
		}
		defer srv.Stop()
		c.server, c.adminToken, c.pid = srv.URL, srv.AdminToken, srv.PID()
		fmt.Printf("server: %s pid %d (started by streammem)\n", srv.URL, c.pid)
	}
	admin := client.New(c.server, c.adminToken)
	for i := range c.flags {
		if err := rampproc.EnsureFlag(ctx, admin, rampproc.BoolFlag("mem-"+strconv.Itoa(i), ramp.EnvProduction, 50)); err != nil {
			return err
		}
	}
	token, err := rampproc.SDKToken(ctx, admin, ramp.EnvProduction)
	if err != nil {
		return err
	}
	addr := strings.TrimPrefix(c.server, "http://")
	path, streamToken := "/sdk/v1/stream", token
	if c.auth == "admin" {
		path, streamToken = path+"?environment="+ramp.EnvProduction, c.adminToken
	}

	// Warm up the code paths (and the pools) that every stream uses, so
	// that the baseline is not charged to the clients.
	warm, err := open(ctx, addr, path, streamToken, min(c.clients, 100), c.parallel)
	closeAll(warm)
	if err != nil {
		return err
	}
	fmt.Printf("baseline: settling %s with no stream open\n", c.settle)
	base, err := settle(ctx, c, token)
	if err != nil {
		return err
	}

	start := time.Now()
	streams, err := open(ctx, addr, path, streamToken, c.clients, c.parallel)
	defer closeAll(streams)
	if err != nil {
		return err
	}
	fmt.Printf("clients: %d idle streams open (%s token) (snapshot read) in %s; settling %s\n", len(streams), c.auth, time.Since(start).Round(time.Millisecond), c.settle)
	loaded, err := settle(ctx, c, token)
	if err != nil {
		return err
	}
	report(base, loaded, c.clients)
	return nil
}

// open opens n streams, parallel at a time, and reads each one's first
// event (the snapshot). The streams then stay open and unread.
func open(ctx context.Context, addr, path, token string, n, parallel int) ([]*ssestream.Stream, error) {
	streams := make([]*ssestream.Stream, n)
	sem := make(chan struct{}, parallel)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for i := range streams {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			st, err := ssestream.Dial(dctx, addr, path, token, 4096)
			if err == nil {
				var ev ssestream.Event
				if ev, err = st.Next(); err == nil && ev.Type != "snapshot" {
					err = fmt.Errorf("first event is %q, not snapshot", ev.Type)
				}
				if err != nil {
					st.Close()
				}
			}
			if err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("stream %d: %w", i, err)
				}
				mu.Unlock()
				return
			}
			streams[i] = st
		}()
	}
	wg.Wait()
	return streams, first
}

func closeAll(streams []*ssestream.Stream) {
	for _, st := range streams {
		if st != nil {
			st.Close()
		}
	}
}

// settle waits c.settle, printing the RSS every c.interval, and returns
// the last sample.
func settle(ctx context.Context, c config, token string) (sample, error) {
	end := time.Now().Add(c.settle)
	for {
		s, err := measure(ctx, c, token)
		if err != nil {
			return s, err
		}
		left := time.Until(end)
		if left <= 0 {
			return s, nil
		}
		fmt.Printf("  rss %.1f MiB, heap in use %.1f MiB, stacks %.1f MiB, goroutines %.0f (%s left)\n",
			mib(s.rss), mib(int64(s.metrics["go_memstats_heap_inuse_bytes"])), mib(int64(s.metrics["go_memstats_stack_inuse_bytes"])),
			s.metrics["go_goroutines"], left.Round(time.Second))
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(min(left, c.interval)):
		}
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func measure(ctx context.Context, c config, token string) (sample, error) {
	rss, err := rampproc.RSS(c.pid)
	if err != nil {
		return sample{}, err
	}
	m, err := goMetrics(ctx, c.server, token)
	if err != nil {
		return sample{}, err
	}
	return sample{rss: rss, metrics: m}, nil
}

// goMetrics reads the go_* gauges of the server's /metrics.
func goMetrics(ctx context.Context, base, token string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "go_") || strings.Contains(line, "{") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

func report(base, loaded sample, n int) {
	per := func(a, b float64) float64 { return (b - a) / float64(n) / 1024 }
	fmt.Printf("\nserver memory, %d idle streams:\n", n)
	fmt.Printf("  VmRSS: %.1f MiB with none, %.1f MiB with %d: %.1f KiB per client\n",
		mib(base.rss), mib(loaded.rss), n, per(float64(base.rss), float64(loaded.rss)))
	fmt.Printf("  breakdown per client (Go runtime, /metrics):\n")
	for _, name := range shown {
		a, b := base.metrics[name], loaded.metrics[name]
		if name == "go_goroutines" {
			fmt.Printf("    %-34s %8.0f -> %8.0f  (%.2f per client)\n", name, a, b, (b-a)/float64(n))
			continue
		}
		fmt.Printf("    %-34s %8.1f -> %8.1f MiB  (%.2f KiB per client)\n", name, a/(1<<20), b/(1<<20), per(a, b))
	}
}
