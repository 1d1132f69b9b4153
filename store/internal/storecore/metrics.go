package storecore

import (
	"fmt"
	"time"

	"github.com/ramp-flags/ramp"
)

// BucketColumns are the columns of the cumulative latency buckets, in the
// order of ramp.LatencyBounds: le_00 to le_64 (migration 0004).
var BucketColumns = func() (cols [ramp.NumLatencyBuckets]string) {
	for i := range cols {
		cols[i] = fmt.Sprintf("le_%02d", i)
	}
	return cols
}()

// CountColumns returns the summed columns of metric_counts in the order of
// CountArgs and SumTarget: requests, errors, observed, then BucketColumns.
func CountColumns() []string {
	return append([]string{"requests", "errors", "observed"}, BucketColumns[:]...)
}

// CountArgs returns the arguments of one metric_counts upsert: flag, env,
// variant and second, then c's values in the order of CountColumns, zero
// for a missing histogram. It appends to args[:0].
func CountArgs(args []any, c ramp.Counts, env string, second int64) []any {
	args = append(args[:0], c.Flag, env, c.Variant, second, c.Requests, c.Errors)
	if h := c.Latency; h != nil {
		args = append(args, h.Count)
		for _, n := range h.Counts {
			args = append(args, n)
		}
		return args
	}
	for range 1 + ramp.NumLatencyBuckets {
		args = append(args, 0.0)
	}
	return args
}

// NumCountArgs is the length of what CountArgs returns.
const NumCountArgs = 7 + ramp.NumLatencyBuckets

// SumTarget returns zero counts of the flag's variant, with a latency
// histogram of ramp.LatencyBounds, and the scan destinations of its values
// in the order of CountColumns.
func SumTarget(flag, variant string) (*ramp.Counts, []any) {
	out := &ramp.Counts{Flag: flag, Variant: variant, Latency: &ramp.Histogram{
		Bounds: ramp.LatencyBounds(), Counts: make([]float64, ramp.NumLatencyBuckets),
	}}
	dst := []any{&out.Requests, &out.Errors, &out.Latency.Count}
	for i := range out.Latency.Counts {
		dst = append(dst, &out.Latency.Counts[i])
	}
	return out, dst
}

// CheckCountsEnvironment returns the EINVALID error of counts reported for
// env when env is not a valid key, or nil.
func CheckCountsEnvironment(env string) error {
	if msg := ramp.CheckKey(env); msg != "" {
		return &ramp.Error{Code: ramp.EINVALID, Message: "counts are invalid", Fields: []ramp.FieldError{{Field: "environment", Message: msg}}}
	}
	return nil
}

// CheckWindow returns the EINVALID error of a window of counts that ends
// before it starts, or nil.
func CheckWindow(from, to time.Time) error {
	if to.Before(from) {
		return ramp.Errorf(ramp.EINVALID, "the window ends (%s) before it starts (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	return nil
}
