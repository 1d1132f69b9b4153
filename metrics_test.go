package ramp_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
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

// TestLatencyBounds pins the bucket contract of docs/metrics.md: 65
// bounds, 1 ms to 65.5 s, each 2^(i/4) ms to three significant digits.
func TestLatencyBounds(t *testing.T) {
	b := ramp.LatencyBounds()
	if len(b) != 65 || b[0] != 0.001 || b[len(b)-1] != 65.5 {
		t.Fatalf("LatencyBounds = %v", b)
	}
	for i, x := range b {
		exact := 0.001 * math.Pow(2, float64(i)/4)
		if s := strconv.FormatFloat(exact, 'g', 3, 64); s != strconv.FormatFloat(x, 'g', -1, 64) {
			t.Errorf("bound %d is %v, want %s (2^(%d/4) ms to three significant digits)", i, x, s, i)
		}
		if i > 0 {
			if r := x / b[i-1]; r < 1.18 || r > 1.2 {
				t.Errorf("bound %d is %.4f times the last, want about 2^¼", i, r)
			}
		}
	}
	b[0] = 99
	if ramp.LatencyBounds()[0] != .001 {
		t.Error("LatencyBounds returned its own array")
	}
}

// TestValidateCountsLegacyBuckets checks that a report from an SDK that
// still measures with client_golang's default buckets is refused with a
// message that says to upgrade it.
func TestValidateCountsLegacyBuckets(t *testing.T) {
	legacy := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	err := ramp.ValidateCounts([]ramp.Counts{{Flag: "f", Variant: "on", Requests: 1,
		Latency: &ramp.Histogram{Bounds: legacy, Counts: make([]float64, len(legacy)), Count: 1}}})
	var e *ramp.Error
	if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != "counts[0].latency.bounds" ||
		!strings.Contains(e.Fields[0].Message, "older ramp SDK") || !strings.Contains(e.Fields[0].Message, "upgrade the SDK") {
		t.Fatalf("error %#v, want one field error on the bounds that says to upgrade the SDK", err)
	}
	err = ramp.ValidateCounts([]ramp.Counts{{Flag: "f", Variant: "on", Requests: 1,
		Latency: &ramp.Histogram{Bounds: []float64{1, 2}, Counts: []float64{0, 1}, Count: 1}}})
	if !errors.As(err, &e) || len(e.Fields) != 1 || !strings.Contains(e.Fields[0].Message, "must be the 65 SDK buckets") {
		t.Fatalf("error %#v, want the SDK buckets named", err)
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
