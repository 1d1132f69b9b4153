// Command startup measures how long "ramp serve" takes from exec to its
// first 200 on /readyz with many flags in its data directory.
//
// It seeds a data directory once with -flags boolean flags through the
// real store package (store/sqlite), each committed with its audit entry
// exactly as the admin API would: in production a rule for staff and a
// 5 % split, in staging on for everyone. Then it starts ramp serve -runs
// times on that directory, each time timing from just before exec to the
// first 200 answer of /readyz (polled every millisecond), and prints each
// run, the median and the maximum, with the time the server itself logged
// for loading the flags ("flags loaded", at log level info).
//
// -data keeps the seeded directory for later runs (it is seeded only if it
// holds no flags); without it a temporary directory is used and removed.
//
// Examples:
//
//	go run ./bench/startup                        # 10,000 flags, 5 runs
//	go run ./bench/startup -flags 50000 -runs 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/bench/internal/latency"
	"github.com/ramp-flags/ramp/bench/internal/rampproc"
	"github.com/ramp-flags/ramp/store/sqlite"
)

type config struct {
	bin, data, serverCPUs string
	flags, runs           int
	timeout               time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "", "ramp binary; empty builds ./cmd/ramp")
	flag.StringVar(&c.data, "data", "", "data directory to seed (if it has no flags) and keep; empty: a temporary one")
	flag.StringVar(&c.serverCPUs, "server-cpus", "", "run the server under taskset -c LIST")
	flag.IntVar(&c.flags, "flags", 10000, "flags to seed (1-200000)")
	flag.IntVar(&c.runs, "runs", 5, "server starts to time (1-50)")
	flag.DurationVar(&c.timeout, "timeout", time.Minute, "longest wait for one start")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: startup [flags]\n\nTime from ramp serve exec to /readyz 200 with many flags.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	switch {
	case c.flags < 1 || c.flags > 200000:
		fmt.Fprintf(os.Stderr, "startup: -flags %d: use 1 to 200000\n", c.flags)
		os.Exit(2)
	case c.runs < 1 || c.runs > 50:
		fmt.Fprintf(os.Stderr, "startup: -runs %d: use 1 to 50\n", c.runs)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "startup:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	tmp, err := os.MkdirTemp("", "ramp-startup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if c.bin == "" {
		if c.bin, err = rampproc.Build(ctx, tmp); err != nil {
			return err
		}
	}
	if c.data == "" {
		c.data = filepath.Join(tmp, "data")
	}
	if err := seed(ctx, c); err != nil {
		return err
	}
	var times []time.Duration
	for i := 1; i <= c.runs; i++ {
		d, load, cpu, other, err := start(ctx, c)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		fmt.Printf("run %d: exec to /readyz 200 in %s (server logged flags loaded in %s; server cpu %s, other processes %s)\n",
			i, latency.Round(d), load, cpu.Round(10*time.Millisecond), other.Round(10*time.Millisecond))
		times = append(times, d)
	}
	slices.Sort(times)
	fmt.Printf("\nstartup with %d flags, %d runs: median %s, max %s\n", c.flags, c.runs, latency.Round(latency.Percentile(times, 50)), latency.Round(times[len(times)-1]))
	return nil
}

// seed creates the flags in c.data unless it already holds some.
func seed(ctx context.Context, c config) error {
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, filepath.Join(c.data, "ramp.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	have, err := st.ListFlags(ctx)
	if err != nil {
		return err
	}
	if len(have) > 0 {
		fmt.Printf("seed: %s already holds %d flags\n", c.data, len(have))
		if len(have) != c.flags {
			return fmt.Errorf("%s holds %d flags, not -flags %d: use another -data", c.data, len(have), c.flags)
		}
		return nil
	}
	start := time.Now()
	ch := ramp.Change{Actor: "bench", Action: ramp.ActionFlagCreate}
	for i := range c.flags {
		if _, err := st.CreateFlag(ctx, ch, seedFlag(i)); err != nil {
			return fmt.Errorf("seed flag %d: %w", i, err)
		}
		if (i+1)%2000 == 0 {
			fmt.Printf("seed: %d flags (%s)\n", i+1, time.Since(start).Round(time.Millisecond))
		}
	}
	fmt.Printf("seed: %d flags in %s\n", c.flags, time.Since(start).Round(time.Millisecond))
	return nil
}

// seedFlag returns the i-th seeded flag: a boolean flag with a staff rule
// and a 5 % split in production, on in staging.
func seedFlag(i int) *ramp.Flag {
	f := rampproc.BoolFlag("startup-"+strconv.Itoa(i), ramp.EnvProduction, 5)
	f.Description = "seeded by bench/startup"
	f.Owner = "team-" + strconv.Itoa(i%20)
	f.Tags = []string{"bench", "group-" + strconv.Itoa(i%50)}
	prod := f.Environments[ramp.EnvProduction]
	prod.Rules = []ramp.Rule{{
		ID:      "staff",
		Clauses: []ramp.Clause{{Attribute: "email", Op: ramp.OpEndsWith, Values: []string{"@example.com"}}},
		Serve:   ramp.Serve{Variant: "on"},
	}}
	f.Environments[ramp.EnvStaging] = &ramp.FlagEnv{On: true, OffVariant: "off", Fallthrough: ramp.Serve{Variant: "on"}}
	return f
}

var loadedLine = regexp.MustCompile(`msg="flags loaded".* duration=(\S+)`)

// start runs ramp serve on the data directory once and returns the time
// from exec to /readyz 200, the load time the server logged, the CPU time
// the server used until ready, and the CPU time other processes used
// meanwhile (much of it means the machine was not quiet).
func start(ctx context.Context, c config) (d time.Duration, load string, cpu, other time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	busy0, _ := rampproc.MachineBusy()
	self0 := rampproc.SelfCPU()
	srv, err := rampproc.Start(ctx, rampproc.Options{Bin: c.bin, DataDir: c.data, CPUs: c.serverCPUs, LogLevel: "info"})
	if err != nil {
		return 0, "", 0, 0, err
	}
	cpu, _ = rampproc.ProcCPU(srv.PID())
	busy1, _ := rampproc.MachineBusy()
	other = max(0, busy1-busy0-cpu-(rampproc.SelfCPU()-self0))
	d = srv.Ready.Sub(srv.Started)
	logs := srv.Logs()
	srv.Stop()
	load = "?"
	if m := loadedLine.FindStringSubmatch(logs); m != nil {
		load = m[1]
	}
	if d <= 0 {
		return 0, "", 0, 0, errors.New("no readiness time")
	}
	return d, load, cpu, other, nil
}
