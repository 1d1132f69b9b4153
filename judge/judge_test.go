package judge_test

import (
	"encoding/json"
	"go/build"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ramp-flags/ramp/judge"
)

var (
	errorGuard   = judge.Guard{Name: "errors", Metric: judge.ErrorRate, Critical: 0.05}
	latencyGuard = judge.Guard{Name: "latency-p99", Metric: judge.Latency, Quantile: 0.99, Margin: 0.1, Critical: 1}
	trafficGuard = judge.Guard{Name: "traffic", Metric: judge.Throughput}
)

// lat returns an arm of n requests with a latency histogram whose share of
// requests slower than each bound is given by slow.
func lat(n float64, bounds []float64, slow ...float64) judge.Arm {
	h := &judge.Histogram{Bounds: bounds, Count: n}
	for _, s := range slow {
		h.Counts = append(h.Counts, math.Round(n*(1-s)))
	}
	return judge.Arm{Requests: n, Latency: h}
}

var testBounds = []float64{0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 1}

func TestBadInputsAreInconclusive(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	good := judge.Arm{Requests: 3000, Errors: 15}
	base := judge.Arm{Requests: 57000, Errors: 285}
	tests := []struct {
		name             string
		g                judge.Guard
		canary, baseline judge.Arm
		opts             judge.Options
		want             string
	}{
		{"NaN requests", errorGuard, judge.Arm{Requests: nan}, base, judge.Options{}, "requests is NaN"},
		{"NaN errors", errorGuard, good, judge.Arm{Requests: 100, Errors: nan}, judge.Options{}, "unusable baseline data: errors is NaN"},
		{"infinite requests", errorGuard, judge.Arm{Requests: inf, Errors: 1}, base, judge.Options{}, "requests is +Inf"},
		{"negative infinite errors", errorGuard, judge.Arm{Requests: 10, Errors: -inf}, base, judge.Options{}, "errors is -Inf"},
		{"NaN alpha", errorGuard, good, base, judge.Options{Alpha: nan}, "invalid options: alpha NaN"},
		{"negative alpha", errorGuard, good, base, judge.Options{Alpha: -0.01}, "invalid options"},
		{"NaN margin", judge.Guard{Name: "e", Metric: judge.ErrorRate, Margin: nan}, good, base, judge.Options{}, "margin NaN"},
		{"infinite critical", judge.Guard{Name: "e", Metric: judge.ErrorRate, Critical: inf}, good, base, judge.Options{}, "critical +Inf"},
		{"NaN min requests", judge.Guard{Name: "e", Metric: judge.ErrorRate, MinRequests: nan}, good, base, judge.Options{}, "minRequests NaN"},
		{"NaN latency bound", latencyGuard, lat(5000, []float64{0.1, nan}, 0.5, 0), lat(5000, testBounds, 0.5, 0.2, 0.1, 0.05, 0.01, 0.005, 0), judge.Options{}, "bound NaN is not a number"},
		{"NaN latency count", latencyGuard, lat(5000, testBounds, 0.5, 0.2, 0.1, 0.05, 0.01, 0.005, 0), judge.Arm{Latency: &judge.Histogram{Bounds: []float64{0.1}, Counts: []float64{nan}, Count: 10}}, judge.Options{}, "le=0.1 has count NaN"},
		{"infinite latency total", latencyGuard, judge.Arm{Latency: &judge.Histogram{Bounds: []float64{0.1}, Counts: []float64{1}, Count: inf}}, lat(5000, testBounds, 0.5, 0.2, 0.1, 0.05, 0.01, 0.005, 0), judge.Options{}, "count +Inf is not a count"},
		{"+Inf bucket disagrees with count", latencyGuard, judge.Arm{Latency: &judge.Histogram{Bounds: []float64{0.1, inf}, Counts: []float64{1, 5}, Count: 6}}, lat(5000, testBounds, 0.5, 0.2, 0.1, 0.05, 0.01, 0.005, 0), judge.Options{}, "+Inf bucket 5 differs from its count 6"},
		{"only an +Inf bucket", latencyGuard, judge.Arm{Latency: &judge.Histogram{Bounds: []float64{inf}, Counts: []float64{5}}}, lat(5000, testBounds, 0.5, 0.2, 0.1, 0.05, 0.01, 0.005, 0), judge.Options{}, "no finite bucket"},
		{"NaN throughput percent", trafficGuard, good, base, judge.Options{CanaryPercent: nan}, "no expected canary share"},
		{"100% canary", trafficGuard, good, base, judge.Options{CanaryPercent: 100}, "no expected canary share"},
		{"empty guard", judge.Guard{}, good, base, judge.Options{}, "name is required; metric is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := judge.Evaluate(tt.g, tt.canary, tt.baseline, tt.opts)
			if v.Outcome != judge.Inconclusive {
				t.Errorf("outcome %s, want inconclusive: %s", v.Outcome, v.Summary)
			}
			if !strings.Contains(v.Summary, tt.want) {
				t.Errorf("summary %q lacks %q", v.Summary, tt.want)
			}
			checkVerdict(t, v)
		})
	}
}

func TestInfBoundIsTheCount(t *testing.T) {
	b := lat(100000, testBounds, 0.5, 0.2, 0.1, 0.05, 0.01, 0.005, 0)
	c := lat(5000, testBounds, 0.5, 0.2, 0.1, 0.05, 0.01, 0.005, 0)
	withInf := func(a judge.Arm) judge.Arm {
		h := *a.Latency
		h.Bounds = append(append([]float64{}, h.Bounds...), math.Inf(1))
		h.Counts = append(append([]float64{}, h.Counts...), h.Count)
		h.Count = 0
		a.Latency = &h
		return a
	}
	want := judge.Evaluate(latencyGuard, c, b, judge.Options{})
	got := judge.Evaluate(latencyGuard, withInf(c), withInf(b), judge.Options{})
	if got.Summary != want.Summary || got.Outcome != want.Outcome {
		t.Errorf("with +Inf bounds: %s %q, without: %s %q", got.Outcome, got.Summary, want.Outcome, want.Summary)
	}
}

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	h := &judge.Histogram{Bounds: []float64{1, 2, 4}, Counts: []float64{10, 20, 40}, Count: 40}
	for _, c := range []struct {
		h    *judge.Histogram
		q    float64
		want float64
	}{
		{h, 0, 0},
		{h, 0.25, 1},
		{h, 0.5, 2},
		{h, 0.75, 3},
		{h, 1, 4},
		{h, 0.125, 0.5}, // the first bucket starts at 0
		// A rank in the +Inf bucket gives the largest finite bound.
		{&judge.Histogram{Bounds: []float64{1, 2, 4}, Counts: []float64{10, 20, 30}, Count: 40}, 0.9, 4},
		{&judge.Histogram{Bounds: []float64{1, 2, inf}, Counts: []float64{10, 20, 40}}, 0.75, 2},
		// A first bound at 0 is returned as is.
		{&judge.Histogram{Bounds: []float64{0, 1}, Counts: []float64{5, 10}, Count: 10}, 0.2, 0},
		// Empty buckets are skipped.
		{&judge.Histogram{Bounds: []float64{1, 2, 3}, Counts: []float64{0, 0, 10}, Count: 10}, 0.5, 2.5},
	} {
		if got := c.h.Quantile(c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v) of %+v = %v, want %v", c.q, *c.h, got, c.want)
		}
	}
	for _, c := range []struct {
		h *judge.Histogram
		q float64
	}{
		{nil, 0.5},
		{&judge.Histogram{}, 0.5},
		{&judge.Histogram{Bounds: []float64{1}, Counts: []float64{0}, Count: 0}, 0.5},
		{h, -0.1},
		{h, 1.1},
		{h, math.NaN()},
		{&judge.Histogram{Bounds: []float64{1, 2}, Counts: []float64{5, 3}, Count: 5}, 0.5},
	} {
		if got := c.h.Quantile(c.q); !math.IsNaN(got) {
			t.Errorf("Quantile(%v) of %+v = %v, want NaN", c.q, c.h, got)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		g    judge.Guard
		want string // "" for valid
	}{
		{errorGuard, ""},
		{latencyGuard, ""},
		{trafficGuard, ""},
		{judge.Guard{Name: "e", Metric: judge.ErrorRate, Margin: 0.1, AbsMargin: 0.001, Critical: 0.05, MinRequests: 500, Tau: 0.01}, ""},
		{judge.Guard{Name: "l", Metric: judge.Latency}, ""},
		{judge.Guard{Name: "l", Metric: judge.Latency, Quantile: 0.3}, "quantile 0.3"},
		{judge.Guard{Name: "l", Metric: judge.Latency, Quantile: 1}, "quantile 1"},
		{judge.Guard{Name: "l", Metric: judge.Latency, AbsMargin: 0.1}, "absMargin is for error-rate guards"},
		{judge.Guard{Name: "l", Metric: judge.Latency, Critical: -1}, "critical -1 is not a latency"},
		{judge.Guard{Name: "e", Metric: judge.ErrorRate, Quantile: 0.99}, "quantile is for latency guards"},
		{judge.Guard{Name: "e", Metric: judge.ErrorRate, Critical: 1.5}, "critical 1.5 is not an error rate"},
		{judge.Guard{Name: "e", Metric: judge.ErrorRate, AbsMargin: -0.1}, "absMargin -0.1"},
		{judge.Guard{Name: "e", Metric: judge.ErrorRate, Margin: -1}, "margin -1"},
		{judge.Guard{Name: "e", Metric: judge.ErrorRate, MinRequests: -1}, "minRequests -1"},
		{judge.Guard{Name: "e", Metric: judge.ErrorRate, Tau: 2}, "tau 2"},
		{judge.Guard{Name: "t", Metric: judge.Throughput, Critical: 1}, "takes only margin and minRequests"},
		{judge.Guard{Name: "t", Metric: judge.Throughput, Margin: 1}, "throughput tolerance"},
		{judge.Guard{Name: " ", Metric: judge.ErrorRate}, "guard (unnamed): name is required"},
		{judge.Guard{Name: "x", Metric: "p99"}, `metric "p99"`},
	} {
		err := c.g.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.g, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want one containing %q", c.g, err, c.want)
		}
	}
}

// TestGuardJSON pins the field names plans and reports use.
func TestGuardJSON(t *testing.T) {
	g := judge.Guard{Name: "e", Metric: judge.ErrorRate, Quantile: 0.9, Margin: 0.1, AbsMargin: 0.001, Critical: 0.05, MinRequests: 200, Tau: 0.01}
	b, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"e","metric":"error_rate","quantile":0.9,"margin":0.1,"absMargin":0.001,"critical":0.05,"minRequests":200,"tau":0.01}`
	if string(b) != want {
		t.Errorf("guard JSON\n got %s\nwant %s", b, want)
	}
}

// TestVerdictJSON pins the verdict's field names, which the report and the
// console read.
func TestVerdictJSON(t *testing.T) {
	v := judge.Evaluate(errorGuard, judge.Arm{Requests: 9000, Errors: 92}, judge.Arm{Requests: 171000, Errors: 855}, judge.Options{Guards: 2})
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"guard", "metric", "outcome", "summary", "canary", "baseline", "tests"} {
		if _, ok := m[k]; !ok {
			t.Errorf("verdict JSON lacks %q: %s", k, b)
		}
	}
	for _, k := range []string{"requests", "errors", "errorRate"} {
		if _, ok := m["canary"].(map[string]any)[k]; !ok {
			t.Errorf("figures JSON lacks %q: %s", k, b)
		}
	}
	test := m["tests"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "observed", "reference", "allowed", "stdErr", "tau", "lambda", "pValue", "alpha", "significant"} {
		if _, ok := test[k]; !ok {
			t.Errorf("test JSON lacks %q: %s", k, b)
		}
	}
	if v.Outcome != judge.Warning || v.Tests[0].Alpha != 0.005 {
		t.Errorf("got %s at alpha %v: %s", v.Outcome, v.Tests[0].Alpha, v.Summary)
	}
}

func TestEvaluateAllSplitsAlpha(t *testing.T) {
	c := judge.Arm{Requests: 9000, Errors: 92, Latency: lat(9000, testBounds, 0.5, 0.2, 0.1, 0.05, 0.01, 0.005, 0).Latency}
	b := judge.Arm{Requests: 171000, Errors: 855, Latency: lat(171000, testBounds, 0.5, 0.2, 0.1, 0.05, 0.01, 0.005, 0).Latency}
	in := []judge.Input{
		{Guard: errorGuard, Canary: c, Baseline: b},
		{Guard: latencyGuard, Canary: c, Baseline: b},
		{Guard: trafficGuard, Canary: c, Baseline: b},
	}
	vs := judge.EvaluateAll(in, judge.Options{Alpha: 0.01, CanaryPercent: 5})
	if len(vs) != 3 {
		t.Fatalf("%d verdicts", len(vs))
	}
	for i, want := range []float64{0.005, 0.005, 0.01} {
		if len(vs[i].Tests) == 0 {
			t.Fatalf("%s: no test: %s", vs[i].Guard, vs[i].Summary)
		}
		if got := vs[i].Tests[0].Alpha; got != want {
			t.Errorf("%s: alpha %v, want %v (the throughput check does not take a share)", vs[i].Guard, got, want)
		}
		if vs[i].Guard != in[i].Guard.Name {
			t.Errorf("verdict %d is for %s, want %s", i, vs[i].Guard, in[i].Guard.Name)
		}
	}
}

// TestImports keeps the judge pure: no I/O, no clock, no randomness.
func TestImports(t *testing.T) {
	pkg, err := build.Import("github.com/ramp-flags/ramp/judge", ".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"errors": true, "fmt": true, "math": true, "sort": true, "strconv": true, "strings": true, "time": true, "slices": true}
	for _, imp := range pkg.Imports {
		if !allowed[imp] {
			t.Errorf("judge imports %s; it may use only %v", imp, allowed)
		}
	}
}

func TestUnavailable(t *testing.T) {
	v := judge.Unavailable(errorGuard, "prometheus: connection refused")
	checkVerdict(t, v)
	if v.Outcome != judge.Inconclusive || v.Summary != "no data: prometheus: connection refused" || v.Guard != "errors" {
		t.Errorf("%+v", v)
	}
	if d := judge.Decide(judge.DecideInput{Verdicts: []judge.Verdict{v}, InStage: time.Hour}); d.Action != judge.Hold {
		t.Errorf("a source outage gives %s", d.Action)
	}
}

// TestReasonsRoundDurations checks that a decision's reason shows the time
// in stage as a person would write it, not to the nanosecond.
func TestReasonsRoundDurations(t *testing.T) {
	pass := judge.Verdict{Guard: "errors", Outcome: judge.Pass}
	for _, c := range []struct {
		inStage, min time.Duration
		want         string
	}{
		{2997300349 * time.Nanosecond, 2 * time.Second, "all 1 guards pass after 3s in stage (minimum 2s)"},
		{7218934512 * time.Nanosecond, 7 * time.Second, "all 1 guards pass after 7.2s in stage (minimum 7s)"},
		{72*time.Hour + 1234567890, 72 * time.Hour, "all 1 guards pass after 72h0m1s in stage (minimum 72h0m0s)"},
		{90*time.Minute + 1500*time.Millisecond, 72 * time.Hour, "all 1 guards pass; 70h29m59s of the stage's 72h0m0s minimum left"},
	} {
		d := judge.Decide(judge.DecideInput{Verdicts: []judge.Verdict{pass}, InStage: c.inStage, MinDuration: c.min})
		if d.Reason != c.want {
			t.Errorf("in stage %v: reason %q, want %q", c.inStage, d.Reason, c.want)
		}
	}
}
