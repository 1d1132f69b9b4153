package ramp

import "testing"

// TestBucketsToPercent checks every bucket count: the two shares of a
// percentage split convert back to the same buckets and add up to 100.
func TestBucketsToPercent(t *testing.T) {
	for n := 0; n <= BucketCount; n++ {
		got, ok := PercentToBuckets(bucketsToPercent(n))
		rest, okRest := PercentToBuckets(bucketsToPercent(BucketCount - n))
		if !ok || !okRest || got != n || got+rest != BucketCount {
			t.Fatalf("%d buckets: %v%% -> %d, %v; rest %v%% -> %d, %v",
				n, bucketsToPercent(n), got, ok, bucketsToPercent(BucketCount-n), rest, okRest)
		}
	}
}
