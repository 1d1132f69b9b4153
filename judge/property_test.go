package judge_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/judge"
)

// randArm draws counts spanning low and high traffic and error rates.
func randArm(r *rand.Rand, rate float64) judge.Arm {
	n := math.Floor(math.Pow(10, 1+5*r.Float64()))
	return judge.Arm{Requests: n, Errors: math.Min(n, math.Round(n*rate*(0.5+r.Float64())))}
}

func randRate(r *rand.Rand) float64 { return math.Pow(10, -4+3.5*r.Float64()) }

// TestPropertyVerdictsAreWellFormed throws random and hostile figures at
// every guard: verdicts are always well formed and encode to JSON.
func TestPropertyVerdictsAreWellFormed(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	odd := []float64{0, -1, 1e308, math.NaN(), math.Inf(1), math.Inf(-1), 0.5, 1e-300}
	pick := func(x float64) float64 {
		if r.IntN(8) == 0 {
			return odd[r.IntN(len(odd))]
		}
		return x
	}
	for range 20000 {
		c, b := randArm(r, randRate(r)), randArm(r, randRate(r))
		c.Requests, c.Errors, b.Errors = pick(c.Requests), pick(c.Errors), pick(b.Errors)
		if r.IntN(2) == 0 {
			c.Latency = randHist(r, c.Requests, 1+r.Float64())
			b.Latency = randHist(r, b.Requests, 1)
			if r.IntN(8) == 0 {
				c.Latency.Counts[r.IntN(len(c.Latency.Counts))] = pick(-1)
			}
		}
		g := []judge.Guard{errorGuard, latencyGuard, trafficGuard}[r.IntN(3)]
		g.Margin = pick(r.Float64() / 2)
		if g.Metric == judge.Throughput {
			g.Margin = r.Float64() / 2
		}
		opts := judge.Options{Alpha: pick(0.01), Guards: r.IntN(5), CanaryPercent: pick(5)}
		checkVerdict(t, judge.Evaluate(g, c, b, opts))
	}
}

// randHist returns a histogram of n log-normal latencies around 100ms,
// slowed down by the factor slow, with expected (not random) counts.
func randHist(r *rand.Rand, n, slow float64) *judge.Histogram {
	bounds := []float64{0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1}
	h := &judge.Histogram{Bounds: bounds, Count: n}
	sigma := 0.3 + 0.4*r.Float64()
	for _, b := range bounds {
		f := 0.5 * math.Erfc(-math.Log(b/(0.1*slow))/(sigma*math.Sqrt2))
		h.Counts = append(h.Counts, math.Floor(n*f))
	}
	return h
}

// TestPropertyNoRegressionNoWarning: a canary with the same (or a lower)
// error rate, or the same latency distribution, is never a warning nor
// critical (when below the critical limit), whatever the amount of data.
func TestPropertyNoRegressionNoWarning(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		rate := randRate(r)
		b := randArm(r, rate)
		nc := math.Floor(math.Pow(10, 1+5*r.Float64()))
		better := r.Float64()
		c := judge.Arm{Requests: nc, Errors: math.Floor(nc * b.Errors / b.Requests * better)}
		g := judge.Guard{Name: "e", Metric: judge.ErrorRate, Margin: r.Float64() / 2}
		v := judge.Evaluate(g, c, b, judge.Options{})
		if v.Outcome == judge.Warning || v.Outcome == judge.Critical {
			t.Fatalf("canary no worse than baseline is %s: %s", v.Outcome, v.Summary)
		}
		hc, hb := randHist(r, nc, 1-0.3*r.Float64()), randHist(r, b.Requests, 1)
		for i := range hc.Counts { // same shape: make the canary's the baseline's, scaled
			hc.Counts[i] = math.Floor(hb.Counts[i] / hb.Count * nc)
		}
		v = judge.Evaluate(latencyGuard, judge.Arm{Latency: hc}, judge.Arm{Latency: hb}, judge.Options{})
		if v.Outcome == judge.Warning || v.Outcome == judge.Critical {
			t.Fatalf("canary as fast as baseline is %s: %s", v.Outcome, v.Summary)
		}
	}
}

// TestPropertyMoreErrorsMoreSuspicious: with everything else fixed, more
// canary errors never make the regression test's p-value larger, and so
// never turn a warning into a pass.
func TestPropertyMoreErrorsMoreSuspicious(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	g := judge.Guard{Name: "e", Metric: judge.ErrorRate}
	for range 2000 {
		b := randArm(r, randRate(r))
		b.Requests += 100
		nc := math.Floor(math.Pow(10, 2+4*r.Float64()))
		prev := 2.0
		for e := 0.0; e <= nc/2; e += math.Max(1, math.Floor(nc/200)) {
			v := judge.Evaluate(g, judge.Arm{Requests: nc, Errors: e}, b, judge.Options{})
			p := v.Tests[0].PValue
			if p > prev*(1+1e-9) {
				t.Fatalf("canary %v/%v, baseline %v/%v: p-value rose from %g to %g", e, nc, b.Errors, b.Requests, prev, p)
			}
			prev = p
		}
	}
}

// TestPropertyMoreGuardsNoMoreAlarms: sharing alpha among more guards
// never turns a pass into a warning.
func TestPropertyMoreGuardsNoMoreAlarms(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	g := judge.Guard{Name: "e", Metric: judge.ErrorRate}
	for range 5000 {
		rate := randRate(r)
		c, b := randArm(r, rate*(1+r.Float64())), randArm(r, rate)
		prev := judge.Warning
		for k := 1; k <= 8; k++ {
			v := judge.Evaluate(g, c, b, judge.Options{Guards: k})
			if v.Outcome == judge.Warning && prev != judge.Warning {
				t.Fatalf("warning with %d guards but not with %d: %s", k, k-1, v.Summary)
			}
			prev = v.Outcome
		}
	}
}

// TestPropertyDecide checks the decision tree on random sets of outcomes:
// the action does not depend on the order of the verdicts, critical always
// rolls back, a promotion needs every guard to pass and the minimum
// duration, and inconclusive alone never rolls back.
func TestPropertyDecide(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	outcomes := []judge.Outcome{judge.Pass, judge.Warning, judge.Critical, judge.Inconclusive}
	for range 20000 {
		in := judge.DecideInput{
			Stage:       r.IntN(4),
			InStage:     time.Duration(r.IntN(100)) * time.Hour,
			MinDuration: time.Duration(r.IntN(100)) * time.Hour,
			OnWarning:   []judge.Action{"", judge.StepBack, judge.Rollback}[r.IntN(3)],
		}
		has := map[judge.Outcome]bool{}
		for i := range r.IntN(5) {
			o := outcomes[r.IntN(len(outcomes))]
			has[o] = true
			in.Verdicts = append(in.Verdicts, judge.Verdict{Guard: string(rune('a' + i)), Outcome: o, Summary: "s"})
		}
		d := judge.Decide(in)
		shuffled := in
		shuffled.Verdicts = slices.Clone(in.Verdicts)
		r.Shuffle(len(shuffled.Verdicts), func(i, j int) {
			shuffled.Verdicts[i], shuffled.Verdicts[j] = shuffled.Verdicts[j], shuffled.Verdicts[i]
		})
		if d2 := judge.Decide(shuffled); d2.Action != d.Action {
			t.Fatalf("order changes the action: %s vs %s", d.Action, d2.Action)
		}
		if d.Reason == "" {
			t.Fatalf("no reason for %s", d.Action)
		}
		switch {
		case has[judge.Critical] && d.Action != judge.Rollback:
			t.Fatalf("critical gives %s", d.Action)
		case d.Action == judge.Promote && (has[judge.Warning] || has[judge.Inconclusive] || len(in.Verdicts) == 0 || in.InStage < in.MinDuration):
			t.Fatalf("promoted %+v", in)
		case d.Action == judge.Rollback && !has[judge.Critical] && !has[judge.Warning]:
			t.Fatalf("rolled back without a critical or warning verdict: %+v", in)
		case d.Action == judge.StepBack && (has[judge.Critical] || in.Stage == 0 || in.OnWarning == judge.Rollback):
			t.Fatalf("stepped back: %+v", in)
		}
	}
}

// TestNoClock keeps time values passed in: the judge never reads the clock.
func TestNoClock(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"time.Now", "time.Since", "time.Until", "time.Sleep", "time.After"} {
			if strings.Contains(string(b), call) {
				t.Errorf("%s calls %s: the judge takes times as arguments", f, call)
			}
		}
	}
}
