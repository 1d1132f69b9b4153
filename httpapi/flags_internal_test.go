package httpapi

import (
	"testing"

	"github.com/ramp-flags/ramp"
)

// TestBucketsToPercent checks every bucket count: the two shares of a
// percentage split convert back to the same buckets and add up to 100.
func TestBucketsToPercent(t *testing.T) {
	for n := 0; n <= ramp.BucketCount; n++ {
		got, ok := ramp.PercentToBuckets(bucketsToPercent(n))
		rest, okRest := ramp.PercentToBuckets(bucketsToPercent(ramp.BucketCount - n))
		if !ok || !okRest || got != n || got+rest != ramp.BucketCount {
			t.Fatalf("%d buckets: %v%% -> %d, %v; rest %v%% -> %d, %v",
				n, bucketsToPercent(n), got, ok, bucketsToPercent(ramp.BucketCount-n), rest, okRest)
		}
	}
}
