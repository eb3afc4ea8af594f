package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBucketLayout(t *testing.T) {
	t.Parallel()
	// Buckets tile [0, maxValue] without gaps or overlaps.
	var next int64
	for i := 0; i < numBuckets; i++ {
		lo, hi := bucketRange(i)
		if lo != next {
			t.Fatalf("bucketRange(%d) = [%d, %d), want lo %d", i, lo, hi, next)
		}
		if hi <= lo {
			t.Fatalf("bucketRange(%d) = [%d, %d), empty", i, lo, hi)
		}
		if lo >= 2*subCount && float64(hi-lo)/float64(lo) > 1.0/subCount {
			t.Fatalf("bucketRange(%d) = [%d, %d), wider than 1/%d of lo", i, lo, hi, subCount)
		}
		if got := bucketOf(lo); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", lo, got, i)
		}
		if got := bucketOf(hi - 1); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", hi-1, got, i)
		}
		next = hi
	}
	if next != maxValue+1 {
		t.Fatalf("last bucket ends at %d, want %d", next, int64(maxValue)+1)
	}
	for _, v := range []int64{-5, maxValue + 1, math.MaxInt64} {
		if got := bucketOf(v); got < 0 || got >= numBuckets {
			t.Errorf("bucketOf(%d) = %d, out of [0, %d)", v, got, numBuckets)
		}
	}
}

func TestQuantileExactSmallValues(t *testing.T) {
	t.Parallel()
	var h histogram
	// 1..100 ns, recorded out of order: every value is its own bucket.
	for _, v := range rand.New(rand.NewPCG(1, 2)).Perm(100) {
		h.record(time.Duration(v + 1))
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0, 1}, {0.01, 1}, {0.015, 2}, {0.5, 50}, {0.9, 90}, {0.99, 99}, {0.999, 100}, {1, 100},
	}
	for _, tt := range tests {
		if got := h.quantile(tt.q); got != tt.want {
			t.Errorf("quantile(%v) = %d, want %d", tt.q, got, tt.want)
		}
	}
	want := Percentiles{Count: 100, Mean: 50, P50: 50, P90: 90, P99: 99, P999: 100, Max: 100}
	if diff := cmp.Diff(want, h.percentiles()); diff != "" {
		t.Errorf("percentiles() (-want +got):\n%s", diff)
	}
}

func TestQuantileRelativeError(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name string
		gen  func() int64
	}{
		{"uniform 1us-10ms", func() int64 { return 1000 + rng.Int64N(10_000_000) }},
		{"lognormal around 200us", func() int64 { return int64(200_000 * math.Exp(rng.NormFloat64())) }},
		{"bimodal", func() int64 {
			if rng.IntN(100) < 97 {
				return 50_000 + rng.Int64N(5000)
			}
			return 5_000_000 + rng.Int64N(1_000_000)
		}},
	}
	for _, tt := range tests {
		var h histogram
		vals := make([]int64, 100_000)
		for i := range vals {
			vals[i] = tt.gen()
			h.record(time.Duration(vals[i]))
		}
		slices.Sort(vals)
		for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
			exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
			got := int64(h.quantile(q))
			if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 1.0/(2*subCount)+1e-9 {
				t.Errorf("%s: quantile(%v) = %d, exact %d, relative error %.4f > %.4f", tt.name, q, got, exact, rel, 1.0/(2*subCount))
			}
		}
		if got := h.quantile(1); int64(got) != vals[len(vals)-1] {
			t.Errorf("%s: quantile(1) = %d, want max %d", tt.name, got, vals[len(vals)-1])
		}
	}
}

func TestHistogramMerge(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	var whole, a, b, empty histogram
	for i := 0; i < 10_000; i++ {
		d := time.Duration(rng.Int64N(5_000_000))
		whole.record(d)
		if i%3 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	var merged histogram
	merged.merge(&empty)
	merged.merge(&a)
	merged.merge(&empty)
	merged.merge(&b)
	if diff := cmp.Diff(whole.percentiles(), merged.percentiles()); diff != "" {
		t.Errorf("merged percentiles (-whole +merged):\n%s", diff)
	}
	if merged.counts != whole.counts {
		t.Errorf("merged counts differ from whole counts")
	}
}

func TestEmptyHistogram(t *testing.T) {
	t.Parallel()
	var h histogram
	if got := h.percentiles(); got != (Percentiles{}) {
		t.Errorf("percentiles() of empty = %+v, want zero", got)
	}
	if got := h.quantile(0.99); got != 0 {
		t.Errorf("quantile(0.99) of empty = %d, want 0", got)
	}
}

func TestHistogramClampsHuge(t *testing.T) {
	t.Parallel()
	var h histogram
	h.record(time.Hour)
	h.record(-time.Second)
	if got := h.quantile(1); got != time.Hour {
		t.Errorf("quantile(1) = %s, want 1h (exact max)", got)
	}
	if got := h.quantile(0); got != 0 {
		t.Errorf("quantile(0) = %s, want 0 (negative clamped)", got)
	}
	if got := h.quantile(0.99); got > time.Hour || got < time.Duration(maxValue)/2 {
		t.Errorf("quantile(0.99) = %s, want near the top bucket", got)
	}
}
