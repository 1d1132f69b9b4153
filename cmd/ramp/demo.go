package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/client"
	"github.com/ramp-flags/ramp/judge"
	"github.com/ramp-flags/ramp/rollout"
	"github.com/ramp-flags/ramp/sdk"
	"github.com/ramp-flags/ramp/server"
)

// The story of the demo: its flag, its environment and the variant rolled
// out.
const (
	demoFlag   = "checkout-v2"
	demoEnv    = ramp.EnvProduction
	demoCanary = "on"
)

// The synthetic application: requests take a log-normal time around a
// median of 40 ms (p99 about 130 ms), and 0.5 % of them fail, whichever
// variant serves them, until the regression makes the canary fail 8 % of
// its requests and take twice as long.
const (
	demoLatencyMedian = 0.040 // seconds
	demoLatencySigma  = 0.5
	demoErrorRate     = 0.005
	demoBadErrorRate  = 0.08
	demoBadSlowdown   = 2.0
	demoWorkers       = 4
)

// demoSettings are the command line of ramp demo.
type demoSettings struct {
	data, addr string
	keep       bool
	seed       uint64
	timeout    time.Duration
	stage      time.Duration
	rps        int
}

func newDemoCmd(a *app) *cobra.Command {
	var s demoSettings
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Watch a guarded rollout catch a regression, in half a minute",
		Long: `Tell the whole story of a guarded rollout on this machine, in compressed time.

ramp demo starts a ramp server in this process (on a free port, with a
temporary data directory and a new admin token), creates the boolean flag
` + demoFlag + ` and an SDK token, and starts a synthetic application: a Go SDK
client serving about 400 requests a second to distinct users, each request
evaluating the flag and reporting its variant, latency and outcome to the
server (Observe), 0.5% of them failing.

It then starts a guarded rollout through the admin API, as a user would:
5% → 25% → 50% → 100%, a few seconds a stage, judged every second on the
canary's error rate (and its p99 latency when the SDK's latency buckets are
fine enough for the judge to compare it; see the plan it prints). Once the
judge has promoted the rollout to 50%, the demo breaks the new variant: 8% of
its requests fail and they take twice as long. The judge rolls the flag back
to 0% on its own; the demo checks with the SDK that everyone gets "off", and
prints the flag's audit trail and a report: how long the rollback took, the
verdict that decided with its figures, and the requests each variant served.

Every transition and hold is printed as it happens. On a terminal a progress
view below them (stages with progress bars, the latest verdicts) is redrawn
every second.

The exit status is 0 when the regression was rolled back, 1 when the rollout
completed anyway, when a healthy canary was rolled back, or when nothing
decided within --timeout. --keep leaves the server (and the application, with
the regression removed) running after the story, until Ctrl-C, so that the
other commands can be tried on it.`,
		Example: `  ramp demo
  ramp demo --keep             # then, in another terminal, the export line it prints and:
                               #   ramp rollout status checkout-v2
                               #   ramp audit --flag checkout-v2
  ramp demo --data ./demo-data --seed 7`,
		Args: argsExactly(),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case a.output != formatTable:
				return usageErrorf("-o %s: ramp demo tells its story as text only", a.output)
			case s.timeout < 10*time.Second:
				return usageErrorf("--timeout %v: give the story at least 10s", s.timeout)
			case s.stage < time.Second:
				return usageErrorf("--stage-duration %v: use at least 1s", s.stage)
			case s.rps < 50 || s.rps > 20000:
				return usageErrorf("--rps %d: use 50 to 20000", s.rps)
			}
			return runDemo(cmd.Context(), a, s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.data, "data", "", "data directory to keep (default: a temporary one, removed at exit)")
	f.StringVar(&s.addr, "addr", "127.0.0.1:0", "address of the demo server (port 0 picks a free one)")
	f.BoolVar(&s.keep, "keep", false, "leave the server running after the story, until Ctrl-C")
	f.Uint64Var(&s.seed, "seed", 1, "seed of the synthetic traffic's randomness")
	f.DurationVar(&s.timeout, "timeout", 90*time.Second, "give up when the judge has not rolled back by then")
	f.DurationVar(&s.stage, "stage-duration", 7*time.Second, "minimum duration of each stage")
	f.IntVar(&s.rps, "rps", 400, "requests a second of the synthetic application")
	_ = f.MarkHidden("stage-duration")
	_ = f.MarkHidden("rps")
	return cmd
}

// demo is one run of the story.
type demo struct {
	a     *app
	s     demoSettings
	out   *demoOutput
	api   *client.Client
	url   string
	token string
	app   *demoTraffic
	plan  rollout.Plan
	// latencyNote says why the latency guard's margin is what it is.
	latencyNote string

	id       int64
	seen     int    // transitions printed
	holdKey  string // what the last printed hold said, without its numbers
	lastAn   int64  // id of the last analysis looked at
	injected time.Time
	// decided is the analysis behind the rollback.
	decided *ramp.Analysis
}

func runDemo(ctx context.Context, a *app, s demoSettings) (err error) {
	d := &demo{a: a, s: s, out: newDemoOutput(a.stdout)}

	dataDir := s.data
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "ramp-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dataDir)
	}
	d.token, _, _ = ramp.NewToken(ramp.TokenAdmin)
	srv, err := server.Open(ctx, server.Config{
		Addr: s.addr, DataDir: dataDir, AdminToken: d.token,
		ControllerTick: 250 * time.Millisecond, ShutdownTimeout: 2 * time.Second,
	})
	if err != nil {
		return err
	}
	srvCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(srvCtx) }()
	defer func() {
		stopServer()
		if serr := <-srvDone; serr != nil && err == nil {
			err = fmt.Errorf("stop the demo server: %w", serr)
		}
	}()
	d.url = srv.URL()
	d.api = client.New(d.url, d.token, client.WithUserAgent("ramp-demo/"+version()))

	d.out.start = time.Now()
	where := dataDir + " (removed at exit)"
	if s.data != "" {
		where = dataDir
	}
	d.out.printf("ramp demo: a guarded rollout of %s catches a regression\n\n", demoFlag)
	d.out.printf("server   %s, data in %s\n", d.url, where)
	d.out.printf("         export RAMP_SERVER=%s RAMP_TOKEN=%s\n", d.url, d.token)

	if err := d.setUp(ctx); err != nil {
		return err
	}
	defer d.app.close()
	d.out.printf("app      %d requests/s to distinct users (seed %d): errors %s, latency p50 %s, p99 %s\n",
		s.rps, s.seed, formatRate(demoErrorRate), formatSeconds(demoLatencyMedian), formatSeconds(lognormalQuantile(demoLatencyMedian, 0.99)))

	d.plan = d.demoPlan()
	d.out.printf("plan     %s; judged every %s; a regression rolls back\n", arrowStages(d.plan), formatDuration(time.Duration(d.plan.Interval)))
	for _, g := range d.plan.Guards {
		d.out.printf("guard    %s\n", describeDemoGuard(g.Guard))
	}
	if d.latencyNote != "" {
		d.out.printf("         %s\n", d.latencyNote)
	}
	d.out.printf("\n")

	v, err := d.api.StartRollout(ctx, client.StartRolloutRequest{Flag: demoFlag, Environment: demoEnv, Plan: &d.plan})
	if err != nil {
		return fmt.Errorf("start the rollout: %w", err)
	}
	d.id = v.ID

	end, err := d.follow(ctx)
	d.out.clear()
	if err != nil {
		return err
	}
	storyErr := d.conclude(ctx, end)

	if s.keep {
		d.keep(ctx)
	}
	return storyErr
}

// setUp creates the flag and the SDK token and starts the application.
func (d *demo) setUp(ctx context.Context) error {
	api := d.api
	f := &ramp.Flag{Key: demoFlag, Name: "New checkout", Description: "the checkout page of ramp demo",
		Type: ramp.TypeBoolean, DefaultVariant: "off",
		Variants: []ramp.Variant{{Key: "on", Value: []byte("true")}, {Key: "off", Value: []byte("false")}}}
	switch _, err := api.CreateFlag(ctx, f); {
	case client.ErrorCode(err) == ramp.ECONFLICT:
		// A --data directory of an earlier demo: start again from 0%.
		if err := d.reset(ctx); err != nil {
			return err
		}
		d.out.printf("flag     %s (boolean) exists: its rollouts are ended and it is back at 0%%\n", demoFlag)
	case err != nil:
		return fmt.Errorf("create the flag: %w", err)
	default:
		d.out.printf("flag     %s (boolean: on/off), off for everyone\n", demoFlag)
	}
	tok, err := api.CreateToken(ctx, client.TokenRequest{Name: "demo-app", Kind: ramp.TokenSDK, Environment: demoEnv})
	if err != nil {
		return fmt.Errorf("create the SDK token: %w", err)
	}
	c, err := sdk.New(ctx, sdk.Config{URL: d.url, Token: tok.Secret, ReportInterval: 250 * time.Millisecond})
	if err != nil {
		if c != nil {
			c.Close()
		}
		return fmt.Errorf("start the SDK: %w", err)
	}
	d.app = startDemoTraffic(c, float64(d.s.rps), d.s.seed)
	return nil
}

// reset ends the flag's active rollouts and pulls its kill switch.
func (d *demo) reset(ctx context.Context) error {
	list, err := d.api.ListRollouts(ctx, client.RolloutFilter{Flag: demoFlag, Environment: demoEnv, Active: true})
	if err != nil {
		return err
	}
	for _, r := range list {
		if _, err := d.api.AbortRollout(ctx, r.ID, "a new ramp demo starts"); err != nil && client.ErrorCode(err) != ramp.ECONFLICT {
			return err
		}
	}
	_, err = d.api.Rollback(ctx, demoFlag, demoEnv)
	return err
}

// demoPlan is the demo template in compressed time: shorter stages, an
// analysis every second, and a rollback on any significant regression.
func (d *demo) demoPlan() rollout.Plan {
	p := rollout.Templates()["demo"]
	for i := range p.Stages {
		if i < len(p.Stages)-1 {
			p.Stages[i].Duration = rollout.Duration(d.s.stage)
		}
	}
	p.Interval = rollout.Duration(time.Second)
	// The plan rolls back on a warning instead of stepping back a stage,
	// so that the story ends at 0% whichever test of the judge sees the
	// regression first: the regression test (8% against 0.5%) usually
	// does, before the critical 5% is significant.
	p.OnWarning = judge.Rollback
	var guards []rollout.Guard
	for _, g := range p.Guards {
		if g.Metric == judge.Latency {
			lg, ok, note := demoLatencyGuard(g, sdk.LatencyBounds())
			d.latencyNote = note
			if !ok {
				continue
			}
			g = lg
		}
		guards = append(guards, g)
	}
	p.Guards = guards
	p.Normalize()
	return p
}

// demoLatencyGuard fits the template's latency guard to the SDK's latency
// buckets. The judge compares latency quantiles only where the bucket
// bounds are close enough to show a regression of the guard's margin, and
// holds the rollout as inconclusive where they are not (docs/judge.md). With
// buckets as coarse as Prometheus's defaults (.1 then .25 s), a +10% margin
// around the demo's p99 of about 130 ms is such a place: the rollout would
// hold at 5% forever. The template's margin is chosen for the SDK's
// buckets, but those may change; so the demo asks the judge itself, on the
// histograms its latency model gives with the SDK's bounds, whether the
// guard decides, and widens the margin to the smallest one that does, or
// leaves the guard out when none does. The demo's story does not need it:
// the error-rate guard catches the regression. It reports the guard,
// whether to use it, and a note for people when it changed the guard.
func demoLatencyGuard(g rollout.Guard, bounds []float64) (rollout.Guard, bool, string) {
	name := quantileLabel(g.Quantile)
	want := g.Margin
	if want == 0 {
		want = judge.DefaultLatencyMargin
	}
	for _, m := range []float64{want, 0.25, 0.5, 1, 2} {
		if m < want {
			continue
		}
		g.Margin = m
		if latencyGuardDecides(g.Guard, bounds) {
			if m == want {
				return g, true, ""
			}
			return g, true, fmt.Sprintf("(%s margin widened from +%s: the SDK's latency buckets near %s are too coarse for the judge to see less)",
				name, formatRate(want), formatSeconds(lognormalQuantile(demoLatencyMedian, g.Quantile)))
		}
	}
	return g, false, fmt.Sprintf("(no %s guard: the SDK's latency buckets are too coarse for the judge to compare the demo's latencies)", name)
}

// latencyGuardDecides reports whether the judge passes the guard on two
// arms of the demo's healthy traffic, for medians a little below and above
// the model's as samples give them, rather than finding it inconclusive.
func latencyGuardDecides(g judge.Guard, bounds []float64) bool {
	const n = 20000
	for _, scale := range []float64{0.8, 1, 1.25} {
		h := lognormalHistogram(bounds, demoLatencyMedian*scale, demoLatencySigma, n)
		arm := judge.Arm{Requests: n, Latency: h}
		if v := judge.Evaluate(g, arm, arm, judge.Options{}); v.Outcome != judge.Pass {
			return false
		}
	}
	return true
}

// lognormalHistogram returns the expected cumulative histogram of n
// log-normal observations with the median and sigma.
func lognormalHistogram(bounds []float64, median, sigma float64, n float64) *judge.Histogram {
	h := &judge.Histogram{Bounds: bounds, Counts: make([]float64, len(bounds)), Count: n}
	for i, b := range bounds {
		z := (math.Log(b) - math.Log(median)) / sigma
		h.Counts[i] = math.Round(n * 0.5 * math.Erfc(-z/math.Sqrt2))
	}
	return h
}

// lognormalQuantile is the q-quantile of the demo's latencies scaled to
// the median.
func lognormalQuantile(median, q float64) float64 {
	return median * math.Exp(demoLatencySigma*math.Sqrt2*math.Erfinv(2*q-1))
}

// describeDemoGuard says what a guard of the demo plan watches.
func describeDemoGuard(g judge.Guard) string {
	switch g.Metric {
	case judge.ErrorRate:
		s := fmt.Sprintf("%s: canary error rate against the baseline's, margin +%s points", g.Name, strconv.FormatFloat(100*g.AbsMargin, 'g', 3, 64))
		if g.Critical > 0 {
			s += fmt.Sprintf("; above %s rolls back at once", formatRate(g.Critical))
		}
		return s
	case judge.Latency:
		m := g.Margin
		if m == 0 {
			m = judge.DefaultLatencyMargin
		}
		return fmt.Sprintf("%s: canary %s latency against the baseline's, margin +%s", g.Name, quantileLabel(g.Quantile), formatRate(m))
	}
	return g.Name + ": " + string(g.Metric)
}

func quantileLabel(q float64) string {
	if q == 0 {
		q = judge.DefaultQuantile
	}
	return "p" + strconv.FormatFloat(100*q, 'g', 4, 64)
}

// formatRate prints a fraction as a percentage: 0.005 is 0.5%.
func formatRate(x float64) string {
	return strconv.FormatFloat(100*x, 'g', 3, 64) + "%"
}

// arrowStages lists a plan's stages: "5% 7s → 25% 7s → 50% 7s → 100%".
func arrowStages(p rollout.Plan) string { return stageList(p, " ", " → ") }

// demoEnd is how the rollout ended, as the demo saw it.
type demoEnd struct {
	v        *client.RolloutView
	timedOut bool
	at       time.Time
}

// follow prints the rollout's transitions and holds as they happen,
// injects the regression once the rollout reaches its third stage, and
// returns when the rollout ends or --timeout passes.
func (d *demo) follow(ctx context.Context) (demoEnd, error) {
	deadline := time.Now().Add(d.s.timeout)
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	var drawn time.Time
	for {
		v, err := d.api.GetRollout(ctx, d.id)
		switch {
		case err != nil && ctx.Err() != nil:
			return demoEnd{}, errors.New("interrupted before the end of the story")
		case err != nil:
			return demoEnd{}, fmt.Errorf("read the rollout: %w", err)
		}
		d.report(ctx, v)
		if v.Status == ramp.RolloutRunning && v.Stage >= 2 && d.injected.IsZero() {
			d.inject(v)
		}
		if !v.Status.Active() {
			return demoEnd{v: v, at: time.Now()}, nil
		}
		if now := time.Now(); d.out.tty && now.Sub(drawn) >= time.Second {
			d.out.draw(func(w io.Writer) { d.progress(w, v, now) })
			drawn = now
		}
		if time.Now().After(deadline) {
			return demoEnd{v: v, timedOut: true, at: time.Now()}, nil
		}
		select {
		case <-ctx.Done():
			return demoEnd{}, errors.New("interrupted before the end of the story")
		case <-poll.C:
		}
	}
}

// report prints the rollout's new transitions and, when it says something
// new, its latest hold.
func (d *demo) report(ctx context.Context, v *client.RolloutView) {
	plan, _ := v.DecodePlan()
	st, _ := v.DecodeState()
	for ; d.seen < len(st.Transitions); d.seen++ {
		t := st.Transitions[d.seen]
		action := strings.TrimPrefix(t.Action, "rollout.")
		stage := fmt.Sprintf("%d→%d", t.From+1, t.To+1)
		if t.Action == ramp.ActionRolloutStart || t.From == t.To {
			stage = fmt.Sprintf("%d/%d", t.To+1, len(plan.Stages))
		}
		var details []string
		if t.Actor == rollout.Actor {
			if an := d.analysisBehind(ctx, t); an != nil {
				vs, _ := client.DecodeVerdicts(an.Verdicts)
				// The reason holds the deciding verdicts' sentences.
				details = verdictLines(vs)
				if t.Action == ramp.ActionRolloutRollback {
					d.decided = an
				}
			}
		}
		d.out.event(t.Time, action, stage, t.Percent, tidyReason(t.Reason), details...)
	}
	an := v.Latest
	if an == nil || an.ID == d.lastAn {
		return
	}
	d.lastAn = an.ID
	if an.Decision != string(judge.Hold) || v.Status != ramp.RolloutRunning {
		return
	}
	// One line per kind of hold and stage: "inconclusive", "all 2 guards
	// pass", not one for every second left.
	kind, _, _ := strings.Cut(an.Reason, ";")
	kind, _, _ = strings.Cut(kind, ":")
	key := fmt.Sprintf("%d %s", an.Stage, kind)
	if key == d.holdKey {
		return
	}
	d.holdKey = key
	var details []string
	if strings.HasPrefix(an.Reason, "all ") {
		vs, _ := client.DecodeVerdicts(an.Verdicts)
		details = verdictLines(vs)
	}
	d.out.event(an.Time, "hold", fmt.Sprintf("%d/%d", an.Stage+1, len(plan.Stages)), stagePct(plan, an.Stage), tidyReason(an.Reason), details...)
}

func stagePct(p rollout.Plan, i int) float64 {
	if i >= 0 && i < len(p.Stages) {
		return p.Stages[i].Percent
	}
	return 0
}

// analysisBehind finds the analysis whose decision the controller's
// transition t took: the latest one at or before it with that decision.
func (d *demo) analysisBehind(ctx context.Context, t rollout.Transition) *ramp.Analysis {
	want := map[string]judge.Action{
		ramp.ActionRolloutPromote: judge.Promote, ramp.ActionRolloutComplete: judge.Promote,
		ramp.ActionRolloutStepBack: judge.StepBack, ramp.ActionRolloutRollback: judge.Rollback,
	}[t.Action]
	if want == "" {
		return nil
	}
	list, err := d.api.ListAnalyses(ctx, d.id, 20)
	if err != nil {
		return nil
	}
	for i := len(list) - 1; i >= 0; i-- {
		if an := list[i]; an.Decision == string(want) && !an.Time.After(t.Time) {
			return &an
		}
	}
	return nil
}

// verdictLines describes verdicts one a line, with the figures of both
// arms.
func verdictLines(vs []judge.Verdict) []string {
	width := 0
	for _, v := range vs {
		width = max(width, len(v.Guard))
	}
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = fmt.Sprintf("%-*s  %-8s canary %s, baseline %s", width, v.Guard, v.Outcome, figures(v, v.Canary), figures(v, v.Baseline))
	}
	return lines
}

// goDuration matches the durations Go prints with more precision than
// people read: 7.218934512s, 412.5861ms.
var goDuration = regexp.MustCompile(`\b(\d+h)?(\d+m)?\d+\.\d{2,}(s|ms|µs)`)

// tidyReason rounds the durations in a reason of the judge to tenths of a
// second.
func tidyReason(s string) string {
	return goDuration.ReplaceAllStringFunc(s, func(m string) string {
		d, err := time.ParseDuration(m)
		if err != nil {
			return m
		}
		if d < time.Second {
			return d.Round(time.Millisecond).String()
		}
		return d.Round(100 * time.Millisecond).String()
	})
}

// inject breaks the canary: from now on 8% of its requests fail, and they
// take twice as long.
func (d *demo) inject(v *client.RolloutView) {
	d.injected = time.Now()
	d.app.bad.Store(true)
	plan, _ := v.DecodePlan()
	d.out.event(d.injected, "REGRESSION", fmt.Sprintf("%d/%d", v.Stage+1, len(plan.Stages)), stagePct(plan, v.Stage),
		fmt.Sprintf("injected into variant %s: errors %s → %s, latency ×%g", demoCanary, formatRate(demoErrorRate), formatRate(demoBadErrorRate), demoBadSlowdown))
}

// progress writes the compact view of the rollout: its status, its stages
// with the current one's progress bar, and the latest verdicts.
func (d *demo) progress(w io.Writer, v *client.RolloutView, now time.Time) {
	plan, _ := v.DecodePlan()
	st, _ := v.DecodeState()
	on, off := d.app.served()
	fmt.Fprintf(w, "── %s in %s: %s, %s at %s · served: %s %s, %s %s ──\n", v.Flag, v.Environment, v.Status, stageOf(v.Stage, plan),
		formatPercent(currentPercent(&v.Rollout, plan, st)), demoCanary, formatCount(float64(on.requests)), "off", formatCount(float64(off.requests)))
	tw := newTable(w)
	row(tw, "STAGE", "PERCENT", "MIN DURATION", "STATE")
	for i, s := range plan.Stages {
		dur := "-"
		if s.Duration > 0 {
			dur = formatDuration(time.Duration(s.Duration))
		}
		row(tw, strconv.Itoa(i+1), formatPercent(s.Percent), dur, stageState(v, plan, st, i, now))
	}
	tw.Flush()
	printVerdicts(w, v)
}

// conclude tells the end of the story: the SDK's view, the audit trail and
// the report. It returns nil when the regression was rolled back.
func (d *demo) conclude(ctx context.Context, end demoEnd) error {
	v := end.v
	d.app.stop()
	on, off := d.app.served()
	switch {
	case end.timedOut:
		plan, _ := v.DecodePlan()
		st, _ := v.DecodeState()
		return fmt.Errorf("nothing decided within %s: the rollout is still %s at %s", formatDuration(d.s.timeout), v.Status, formatPercent(currentPercent(&v.Rollout, plan, st)))
	case v.Status == ramp.RolloutPromoted:
		return errors.New("the rollout completed: the judge did not catch the regression")
	case v.Status != ramp.RolloutRolledBack:
		return fmt.Errorf("the rollout was %s: %s", statusWords(v.Status), v.Reason)
	case d.injected.IsZero():
		return fmt.Errorf("the judge rolled back the healthy canary before the regression (a false alarm): %s", v.Reason)
	}
	rolledBack := end.at
	st, _ := v.DecodeState()
	if n := len(st.Transitions); n > 0 {
		rolledBack = st.Transitions[n-1].Time
	}

	d.out.printf("\nchecking with the SDK that everyone gets off...\n")
	users, notOff := d.app.checkOff(ctx, 10000, 5*time.Second)
	if notOff > 0 {
		return fmt.Errorf("after the rollback %d of %s users do not get off", notOff, formatCount(float64(users)))
	}
	d.out.printf("%s users evaluated: every one gets off (false)\n", formatCount(float64(users)))

	d.out.printf("\n$ ramp audit --flag %s\n", demoFlag)
	if err := d.printAudit(ctx); err != nil {
		return err
	}

	d.out.printf("\nReport\n")
	d.out.printf("  regression injected at %s; rolled back to 0%% at %s: %s later\n",
		d.out.since(d.injected), d.out.since(rolledBack), formatSeconds(rolledBack.Sub(d.injected).Seconds()))
	if an := d.decided; an != nil {
		vs, _ := client.DecodeVerdicts(an.Verdicts)
		d.out.printf("  decided by the analysis at %s, stage %d:\n", d.out.since(an.Time), an.Stage+1)
		for _, vd := range vs {
			if vd.Outcome != judge.Critical && vd.Outcome != judge.Warning {
				continue
			}
			d.out.printf("    %s %s: %s\n", vd.Guard, vd.Outcome, vd.Summary)
			d.out.printf("    canary %s, baseline %s\n", figures(vd, vd.Canary), figures(vd, vd.Baseline))
		}
	} else {
		d.out.printf("  decided: %s\n", tidyReason(v.Reason))
	}
	d.out.printf("  requests served: %s %s (%s failed), %s %s (%s failed)\n",
		demoCanary, formatCount(float64(on.requests)), formatCount(float64(on.errors)), "off", formatCount(float64(off.requests)), formatCount(float64(off.errors)))
	if last := d.app.lastCanary(); !last.IsZero() && last.After(rolledBack) {
		lag := last.Sub(rolledBack)
		if lag < time.Millisecond {
			lag = lag.Round(time.Microsecond)
		} else {
			lag = lag.Round(time.Millisecond)
		}
		d.out.printf("  the application's SDK served %s for the last time %s after the rollback\n", demoCanary, lag)
	}
	d.out.printf("\nthe judge rolled the regression back on its own: the story is told\n")
	return nil
}

// printAudit prints the flag's audit trail as ramp audit --flag does.
func (d *demo) printAudit(ctx context.Context) error {
	var buf bytes.Buffer
	sub := newApp(strings.NewReader(""), &buf, d.a.stderr, d.a.getenv)
	sub.server, sub.token, sub.output = d.url, d.token, formatTable
	cmd := newAuditCmd(sub)
	cmd.SetArgs([]string{"--flag", demoFlag})
	cmd.SetOut(&buf)
	cmd.SetErr(d.a.stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.ExecuteContext(ctx); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	d.out.printf("%s", buf.String())
	return nil
}

// keep leaves the server and the healthy application running until ctx
// ends.
func (d *demo) keep(ctx context.Context) {
	d.out.printf("\nThe server stays up, and the application sends traffic again, without the regression. In another terminal:\n")
	d.out.printf("  export RAMP_SERVER=%s RAMP_TOKEN=%s\n", d.url, d.token)
	d.out.printf("  ramp rollout status %s\n", demoFlag)
	d.out.printf("  ramp rollout start %s --stages 5:10s,25:10s,50:10s,100 --interval 1s --guard error-rate --watch\n", demoFlag)
	d.out.printf("Ctrl-C stops it.\n")
	d.app.restart()
	<-ctx.Done()
	d.app.stop()
}
