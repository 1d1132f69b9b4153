// Command replicas measures the change feed across replicas: the time from
// a flag change made through replica A to the moment Go SDK clients
// streaming from replica B serve it, with both replicas on one PostgreSQL
// database (docs/scaling.md). For comparison it measures the same change
// on SDK clients streaming from A itself.
//
// It starts a private PostgreSQL cluster (initdb in a temporary directory,
// default durability settings) unless -db names a database, starts two
// "ramp serve --db" replicas on it, creates a boolean flag, and connects
// -clients SDK clients to each replica. Each round sets the flag to 0 % or
// 100 % (alternately) with one admin API call to A, timed from just before
// the call, and waits until every client on both replicas serves the new
// value; each client's time is one sample. It prints p50/p99/max of the
// samples per replica, and the API call's own time (the commit).
//
// Examples:
//
//	go run ./bench/replicas                       # 100 clients per replica, 200 rounds
//	go run ./bench/replicas -clients 1000 -rounds 100
//	go run ./bench/replicas -db postgres://ramp@db.internal/ramp_bench
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/bench/internal/latency"
	"github.com/ramp-flags/ramp/bench/internal/rampproc"
	"github.com/ramp-flags/ramp/sdk"
)

type config struct {
	db, bin, flagKey, env string
	clients, rounds       int
	settle, timeout       time.Duration
	verbose               bool
}

func main() {
	var c config
	flag.StringVar(&c.db, "db", os.Getenv("RAMP_BENCH_POSTGRES"), "PostgreSQL database for the replicas ($RAMP_BENCH_POSTGRES); empty starts a private cluster")
	flag.StringVar(&c.bin, "bin", "", "ramp binary; empty builds ./cmd/ramp")
	flag.StringVar(&c.flagKey, "flag", "replicas-bench", "flag to create and change")
	flag.StringVar(&c.env, "env", ramp.EnvProduction, "environment")
	flag.IntVar(&c.clients, "clients", 100, "SDK clients per replica (1-5000)")
	flag.IntVar(&c.rounds, "rounds", 200, "changes to make (1-10000)")
	flag.DurationVar(&c.settle, "settle", 100*time.Millisecond, "pause between rounds")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Second, "longest wait for every client to serve a change")
	flag.BoolVar(&c.verbose, "v", false, "print the replicas' logs")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: replicas [flags]\n\nChange on replica A → SDK clients on replica B, over one PostgreSQL database.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	switch {
	case c.clients < 1 || c.clients > 5000:
		fmt.Fprintf(os.Stderr, "replicas: -clients %d: use 1 to 5000\n", c.clients)
		os.Exit(2)
	case c.rounds < 1 || c.rounds > 10000:
		fmt.Fprintf(os.Stderr, "replicas: -rounds %d: use 1 to 10000\n", c.rounds)
		os.Exit(2)
	case c.db != "" && !strings.HasPrefix(c.db, "postgres://") && !strings.HasPrefix(c.db, "postgresql://"):
		fmt.Fprintf(os.Stderr, "replicas: -db: give a postgres:// URL\n")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "replicas:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	if c.db == "" {
		pg, err := startPostgres(ctx)
		if err != nil {
			return err
		}
		defer pg.Stop()
		c.db = pg.DSN()
		fmt.Println("postgres: private cluster on a Unix socket (fsync on)")
	}
	if c.bin == "" {
		dir, err := os.MkdirTemp("", "ramp-bench-replicas-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if c.bin, err = rampproc.Build(ctx, dir); err != nil {
			return err
		}
	}
	token := rampproc.RandomToken()
	var reps [2]*rampproc.Server
	for i := range reps {
		o := rampproc.Options{Bin: c.bin, AdminToken: token, Env: []string{"RAMP_DB=" + c.db}}
		if c.verbose {
			o.Log = os.Stderr
		}
		srv, err := rampproc.Start(ctx, o)
		if err != nil {
			return fmt.Errorf("start replica %c: %w", 'A'+i, err)
		}
		defer srv.Stop()
		reps[i] = srv
		fmt.Printf("replica %c: %s pid %d\n", 'A'+i, srv.URL, srv.PID())
	}
	a := reps[0].Client()
	if err := rampproc.EnsureFlag(ctx, a, rampproc.BoolFlag(c.flagKey, c.env, 100)); err != nil {
		return err
	}
	sdkTok, err := rampproc.SDKToken(ctx, a, c.env)
	if err != nil {
		return err
	}
	trackers := [2]*tracker{newTracker(c.clients), newTracker(c.clients)}
	trackers[0].arm(true)
	trackers[1].arm(true)
	var sdks []*sdk.Client
	defer func() {
		for _, s := range sdks {
			s.Close()
		}
	}()
	start := time.Now()
	for r, srv := range reps {
		for i := range c.clients {
			cl, err := sdk.New(ctx, sdk.Config{URL: srv.URL, Token: sdkTok, ReportInterval: -1})
			if err != nil {
				return fmt.Errorf("SDK client %d on replica %c: %w", i, 'A'+r, err)
			}
			sdks = append(sdks, cl)
			tr, ec := trackers[r], sdk.EvalContext{TargetingKey: fmt.Sprintf("user-%d", i)}
			see := func() { tr.observe(i, cl.Bool(context.Background(), c.flagKey, ec, false)) }
			cl.OnChange(func(sdk.ChangeEvent) { see() })
			see()
		}
	}
	for _, tr := range trackers {
		if err := tr.wait(ctx, c.timeout); err != nil {
			return fmt.Errorf("clients serving on: %w", err)
		}
	}
	fmt.Printf("clients: %d SDK clients on each replica, connected and serving on in %s\n", c.clients, time.Since(start).Round(time.Millisecond))

	var samples [2][]time.Duration
	var lasts, calls []time.Duration
	want := true
	for round := 1; round <= c.rounds; round++ {
		if err := sleepCtx(ctx, c.settle); err != nil {
			return err
		}
		want = !want
		pct := 0.0
		if want {
			pct = 100
		}
		trackers[0].arm(want)
		trackers[1].arm(want)
		t0 := time.Now()
		for _, tr := range trackers {
			tr.setStart(t0)
		}
		if _, err := a.SetPercentage(ctx, c.flagKey, c.env, pct, "on"); err != nil {
			return fmt.Errorf("round %d: change through replica A: %w", round, err)
		}
		calls = append(calls, time.Since(t0))
		for r, tr := range trackers {
			if err := tr.wait(ctx, c.timeout); err != nil {
				return fmt.Errorf("round %d: clients on replica %c: %w", round, 'A'+r, err)
			}
			got := tr.take()
			samples[r] = append(samples[r], got...)
			if r == 1 {
				lasts = append(lasts, latency.Of(got).Max)
			}
		}
		if round%50 == 0 || round == c.rounds {
			s := latency.Of(samples[1])
			fmt.Printf("after %d rounds: replica B p50 %s p99 %s max %s\n", round, latency.Round(s.P50), latency.Round(s.P99), latency.Round(s.Max))
		}
	}
	call := latency.Of(calls)
	cross, same, last := latency.Of(samples[1]), latency.Of(samples[0]), latency.Of(lasts)
	fmt.Printf("\nchange through A (API call, commit included): p50 %s p99 %s max %s\n", latency.Round(call.P50), latency.Round(call.P99), latency.Round(call.Max))
	fmt.Printf("SDK clients on replica A (same replica):  n=%d p50 %s p99 %s max %s\n", same.N, latency.Round(same.P50), latency.Round(same.P99), latency.Round(same.Max))
	fmt.Printf("SDK clients on replica B (other replica): n=%d p50 %s p99 %s max %s\n", cross.N, latency.Round(cross.P50), latency.Round(cross.P99), latency.Round(cross.Max))
	fmt.Printf("last client on B per round:               p50 %s p99 %s max %s\n", latency.Round(last.P50), latency.Round(last.P99), latency.Round(last.Max))
	verdict := "meets"
	if cross.P99 > 250*time.Millisecond {
		verdict = "MISSES"
	}
	fmt.Printf("target p99 ≤ 250ms on replica B: %s\n", verdict)
	return nil
}

// tracker records when each client of one replica first serves the value
// of the current round.
type tracker struct {
	mu      sync.Mutex
	want    bool
	start   time.Time
	seen    []bool
	pending int
	samples []time.Duration
	done    chan struct{}
}

func newTracker(n int) *tracker { return &tracker{seen: make([]bool, n)} }

// arm starts a round in which every client must come to serve want.
func (t *tracker) arm(want bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.want, t.start = want, time.Now()
	clear(t.seen)
	t.pending, t.samples, t.done = len(t.seen), nil, make(chan struct{})
}

func (t *tracker) setStart(at time.Time) {
	t.mu.Lock()
	t.start = at
	t.mu.Unlock()
}

// observe notes that client i serves v now.
func (t *tracker) observe(i int, v bool) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if v != t.want || t.seen[i] || t.done == nil {
		return
	}
	t.seen[i] = true
	t.samples = append(t.samples, now.Sub(t.start))
	if t.pending--; t.pending == 0 {
		close(t.done)
	}
}

// wait waits until every client serves the round's value.
func (t *tracker) wait(ctx context.Context, d time.Duration) error {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		t.mu.Lock()
		defer t.mu.Unlock()
		return fmt.Errorf("%d of %d clients did not serve the change within %s", t.pending, len(t.seen), d)
	}
}

// take returns the round's samples.
func (t *tracker) take() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.samples
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
