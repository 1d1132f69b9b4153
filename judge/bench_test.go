package judge_test

import (
	"testing"
	"time"

	"github.com/ramp-flags/ramp/judge"
)

// BenchmarkAnalysis is one look of a rollout with an error-rate and a p99
// guard: what the controller and every simulated interval pay.
func BenchmarkAnalysis(b *testing.B) {
	c := judge.Arm{Requests: 9000, Errors: 92, Latency: lat(9000, testBounds, 0.5, 0.2, 0.1, 0.05, 0.01, 0.005, 0).Latency}
	base := judge.Arm{Requests: 171000, Errors: 855, Latency: lat(171000, testBounds, 0.5, 0.2, 0.1, 0.05, 0.01, 0.005, 0).Latency}
	in := []judge.Input{{Guard: errorGuard, Canary: c, Baseline: base}, {Guard: latencyGuard, Canary: c, Baseline: base}}
	b.ReportAllocs()
	for b.Loop() {
		judge.Decide(judge.DecideInput{Verdicts: judge.EvaluateAll(in, judge.Options{}), InStage: time.Hour, MinDuration: 72 * time.Hour})
	}
}
