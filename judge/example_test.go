package judge_test

import (
	"fmt"
	"time"

	"github.com/ramp-flags/ramp/judge"
)

// One analysis of a 5% stage three minutes in: the canary's error rate
// has doubled, and the judge rolls it back.
func Example() {
	guards := []judge.Guard{
		{Name: "errors", Metric: judge.ErrorRate, Critical: 0.05},
		{Name: "latency-p99", Metric: judge.Latency, Quantile: 0.99, Margin: 0.1},
	}
	bounds := []float64{0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 1}
	canary := judge.Arm{Requests: 9000, Errors: 92, Latency: &judge.Histogram{
		Bounds: bounds, Counts: []float64{4500, 7900, 8910, 8955, 8980, 8995, 9000}, Count: 9000}}
	baseline := judge.Arm{Requests: 171000, Errors: 855, Latency: &judge.Histogram{
		Bounds: bounds, Counts: []float64{85500, 150000, 169290, 170145, 170600, 170900, 171000}, Count: 171000}}

	verdicts := judge.EvaluateAll([]judge.Input{
		{Guard: guards[0], Canary: canary, Baseline: baseline},
		{Guard: guards[1], Canary: canary, Baseline: baseline},
	}, judge.Options{Alpha: 0.01})
	for _, v := range verdicts {
		fmt.Printf("%s: %s: %s\n", v.Guard, v.Outcome, v.Summary)
	}
	d := judge.Decide(judge.DecideInput{Verdicts: verdicts, Stage: 0, InStage: 3 * time.Minute, MinDuration: 72 * time.Hour})
	fmt.Println(d.Action)
	// Output:
	// errors: warning: canary error rate 1.02% vs baseline 0.50% (+104%), a significant regression (p=3.9e-05 ≤ 0.005)
	// latency-p99: pass: canary p99 300ms vs baseline 300ms (+0%); 0.50% of canary requests slower than 350ms vs 1.00% of baseline slower than 300ms: no significant regression beyond +10% (p=1 ≥ 0.005)
	// rollback
}
