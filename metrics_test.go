package ramp_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/ramp-flags/ramp"
)

func histogram(counts ...float64) *ramp.Histogram {
	h := &ramp.Histogram{Bounds: ramp.LatencyBounds(), Counts: make([]float64, ramp.NumLatencyBuckets)}
	copy(h.Counts, counts)
	for i := len(counts); i < len(h.Counts); i++ {
		h.Counts[i] = counts[len(counts)-1]
	}
	h.Count = h.Counts[len(h.Counts)-1]
	return h
}

func reversed(s []float64) []float64 {
	slices.Reverse(s)
	return s
}

func TestLatencyBounds(t *testing.T) {
	b := ramp.LatencyBounds()
	if !slices.Equal(b, []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}) || len(b) != ramp.NumLatencyBuckets {
		t.Fatalf("LatencyBounds = %v", b)
	}
	b[0] = 99
	if ramp.LatencyBounds()[0] != .005 {
		t.Error("LatencyBounds returned its own array")
	}
}

func TestValidateCounts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		c     ramp.Counts
		field string // "" for valid
	}{
		{"no latency", ramp.Counts{Flag: "f", Variant: "on", Requests: 10, Errors: 10}, ""},
		{"fractions", ramp.Counts{Flag: "f", Variant: "on", Requests: 10.5, Errors: 0.5, Latency: histogram(1.5, 10.5)}, ""},
		{"fewer timed than requests", ramp.Counts{Flag: "f", Variant: "on", Requests: 10, Latency: histogram(2, 4)}, ""},
		{"count below the last bucket", ramp.Counts{Flag: "f", Variant: "on", Requests: 10, Latency: &ramp.Histogram{Bounds: ramp.LatencyBounds(), Counts: histogram(5).Counts, Count: 4}}, "counts[0].latency.count"},
		{"timed above requests", ramp.Counts{Flag: "f", Variant: "on", Requests: 3, Latency: histogram(4)}, "counts[0].latency.count"},
		{"a count too large", ramp.Counts{Flag: "f", Variant: "on", Requests: 2e15}, "counts[0].requests"},
		{"negative infinity", ramp.Counts{Flag: "f", Variant: "on", Requests: 1, Errors: math.Inf(-1)}, "counts[0].errors"},
		{"NaN bucket", ramp.Counts{Flag: "f", Variant: "on", Requests: 1, Latency: histogram(math.NaN())}, "counts[0].latency.counts[0]"},
		{"counts shorter than bounds", ramp.Counts{Flag: "f", Variant: "on", Requests: 1, Latency: &ramp.Histogram{Bounds: ramp.LatencyBounds(), Counts: []float64{1}, Count: 1}}, "counts[0].latency.counts"},
		{"bounds reordered", ramp.Counts{Flag: "f", Variant: "on", Requests: 1, Latency: &ramp.Histogram{Bounds: reversed(ramp.LatencyBounds()), Counts: make([]float64, ramp.NumLatencyBuckets)}}, "counts[0].latency.bounds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ramp.ValidateCounts([]ramp.Counts{tc.c})
			if tc.field == "" {
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
				return
			}
			var e *ramp.Error
			if !errors.As(err, &e) || e.Code != ramp.EINVALID || !slices.ContainsFunc(e.Fields, func(f ramp.FieldError) bool { return f.Field == tc.field }) {
				t.Fatalf("error %v, want EINVALID naming %s", err, tc.field)
			}
		})
	}
}

// TestValidateCountsBoundsItsAnswer checks that a report of many bad
// entries gets a bounded list of problems.
func TestValidateCountsBoundsItsAnswer(t *testing.T) {
	bad := make([]ramp.Counts, ramp.MaxCountsEntries)
	for i := range bad {
		bad[i] = ramp.Counts{Flag: "f", Variant: fmt.Sprintf("v%d", i), Requests: -1, Errors: -1}
	}
	var e *ramp.Error
	if err := ramp.ValidateCounts(bad); !errors.As(err, &e) || len(e.Fields) > 60 {
		t.Fatalf("%d field errors for %d bad entries: %v", len(e.Fields), len(bad), err)
	}
}
