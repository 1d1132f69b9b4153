package judge_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/ramp-flags/ramp/judge"
)

// checkVerdict checks what must hold of every verdict: a known outcome, a
// summary, finite figures that encode to JSON, p-values in [0, 1], and
// significance consistent with the p-value.
func checkVerdict(t testing.TB, v judge.Verdict) {
	t.Helper()
	switch v.Outcome {
	case judge.Pass, judge.Warning, judge.Critical, judge.Inconclusive:
	default:
		t.Fatalf("unknown outcome %q", v.Outcome)
	}
	if v.Summary == "" {
		t.Errorf("empty summary for %s verdict", v.Outcome)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("verdict does not encode: %v: %+v", err, v)
	}
	var back judge.Verdict
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("verdict does not decode: %v", err)
	}
	for _, x := range v.Tests {
		if !(x.PValue >= 0 && x.PValue <= 1) {
			t.Errorf("%s test p-value %v outside [0, 1]", x.Name, x.PValue)
		}
		if x.Significant && !(x.PValue <= x.Alpha) {
			t.Errorf("%s test significant with p %v > alpha %v", x.Name, x.PValue, x.Alpha)
		}
		if x.Lambda < 0 || math.IsInf(x.Lambda, 0) {
			t.Errorf("%s test lambda %v", x.Name, x.Lambda)
		}
	}
	var sig = map[string]bool{}
	for _, x := range v.Tests {
		sig[x.Name] = x.Significant
	}
	switch v.Outcome {
	case judge.Warning:
		if !sig[judge.TestRegression] {
			t.Errorf("warning without a significant regression test: %+v", v.Tests)
		}
	case judge.Critical:
		if !sig[judge.TestCritical] {
			t.Errorf("critical without a significant critical test: %+v", v.Tests)
		}
	case judge.Pass:
		if sig[judge.TestRegression] || sig[judge.TestCritical] {
			t.Errorf("pass with a significant test: %+v", v.Tests)
		}
	}
}
