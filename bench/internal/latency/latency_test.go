package latency

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 123456789, 1<<62 + 12345} {
		i := index(v)
		if lo, hi := lower(i), lower(i+1); v < lo || v >= hi {
			t.Errorf("value %d in bucket %d = [%d, %d)", v, i, lo, hi)
		}
	}
	for i := range buckets - 2 { // the last bucket ends at 2^64
		if lower(i) >= lower(i+1) {
			t.Fatalf("bucket %d starts at %d, bucket %d at %d", i, lower(i), i+1, lower(i+1))
		}
	}
}

func TestQuantileWithinPrecision(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	samples := make([]time.Duration, 100000)
	for i := range samples {
		d := time.Duration(r.ExpFloat64() * float64(300*time.Microsecond))
		samples[i] = d
		h.Record(d)
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := Percentile(samples, q*100)
		got := h.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/60 {
			t.Errorf("q%g: histogram %s, exact %s", q, got, exact)
		}
	}
	if h.Max() != samples[len(samples)-1] {
		t.Errorf("max %s, want %s", h.Max(), samples[len(samples)-1])
	}
}

func TestPercentileNearestRank(t *testing.T) {
	s := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for p, want := range map[float64]time.Duration{50: 5, 90: 9, 99: 10, 100: 10, 1: 1} {
		if got := Percentile(s, p); got != want {
			t.Errorf("p%g = %d, want %d", p, got, want)
		}
	}
}
