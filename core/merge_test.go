package core

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// histogramIndex returns the stats bucket of a duration (spec 9), or -1 for
// a value that is recorded in no reported bucket.
func histogramIndex(v float64) int {
	f := math.Floor(v)
	switch {
	case f < 0:
		return -1
	case f < 60:
		return int(f)
	case f < 3600:
		return 60 + int(f/60) - 1
	case f < 86400:
		return 60 + 59 + int(f/3600) - 1
	default:
		d := int(f / 86400)
		if d > 6 {
			return -1
		}
		return 60 + 59 + 23 + d - 1
	}
}

// summarize computes a summary directly (two-pass), as the naive reference.
func summarize(vs []float64) StatsSummary {
	s := StatsSummary{Count: int64(len(vs)), Histogram: make([]int64, HistogramSize)}
	if len(vs) == 0 {
		return s
	}
	var sum float64
	for _, v := range vs {
		sum += v
		if i := histogramIndex(v); i >= 0 {
			s.Histogram[i]++
		}
	}
	s.Mean = sum / float64(len(vs))
	if len(vs) > 1 {
		var m2 float64
		for _, v := range vs {
			m2 += (v - s.Mean) * (v - s.Mean)
		}
		s.Std = math.Sqrt(m2 / float64(len(vs)-1))
	}
	return s
}

func approxEqual(a, b, scale float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))+1e-9*scale
}

func TestHistogramIndex(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v    float64
		want int
	}{
		{-1, -1}, {0, 0}, {59.9, 59}, {60, 60}, {3599, 118}, {3600, 119}, {86399, 141},
		{86400, 142}, {6*86400 + 1, 147}, {7 * 86400, -1},
	} {
		if got := histogramIndex(tt.v); got != tt.want {
			t.Errorf("histogramIndex(%v) = %d, want %d", tt.v, got, tt.want)
		}
	}
}

func TestMergeStatsSummarySpecExample(t *testing.T) {
	t.Parallel()
	// Spec 9: 20 waits of 0..19 give count 20, mean 9.5, std 5.9160797831.
	var a, b []float64
	for i := 0; i < 20; i++ {
		if i%3 == 0 {
			a = append(a, float64(i))
		} else {
			b = append(b, float64(i))
		}
	}
	got := MergeStatsSummary(summarize(a), summarize(b))
	if got.Count != 20 || got.Mean != 9.5 || math.Abs(got.Std-5.9160797831) > 1e-10 {
		t.Fatalf("merged = count %d mean %v std %v, want 20 9.5 5.9160797831", got.Count, got.Mean, got.Std)
	}
	for i := 0; i < 20; i++ {
		if got.Histogram[i] != 1 {
			t.Fatalf("Histogram[%d] = %d, want 1", i, got.Histogram[i])
		}
	}
}

func TestMergeStatsSummaryEdges(t *testing.T) {
	t.Parallel()
	empty := StatsSummary{Histogram: make([]int64, HistogramSize)}
	one := summarize([]float64{42})
	tests := []struct {
		name string
		a, b StatsSummary
		want StatsSummary
	}{
		{"empty+empty", empty, empty, empty},
		{"empty+one", empty, one, one},
		{"one+empty", one, empty, one},
		{"nil histograms", StatsSummary{}, StatsSummary{}, empty},
		{"one+one", one, summarize([]float64{44}), summarize([]float64{42, 44})},
		{"same values", summarize([]float64{5, 5}), summarize([]float64{5}), summarize([]float64{5, 5, 5})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := MergeStatsSummary(tt.a, tt.b)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("MergeStatsSummary (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMergeStatsSummaryProperty checks the merge against the direct
// computation over the concatenated samples, for random splits over up to
// eight shards.
func TestMergeStatsSummaryProperty(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 2000; iter++ {
		shards := 1 + rng.IntN(8)
		parts := make([][]float64, shards)
		var all []float64
		n := rng.IntN(200)
		scale := []float64{1, 100, 1e4, 1e6}[rng.IntN(4)]
		offset := []float64{0, 0, 1e5, -10}[rng.IntN(4)]
		for i := 0; i < n; i++ {
			v := offset + rng.Float64()*scale
			if rng.IntN(10) == 0 {
				v = math.Floor(v) // exact repeats
			}
			all = append(all, v)
			k := rng.IntN(shards)
			parts[k] = append(parts[k], v)
		}
		var got StatsSummary
		for _, p := range parts {
			got = MergeStatsSummary(got, summarize(p))
		}
		want := summarize(all)
		bound := math.Abs(offset) + scale
		if got.Count != want.Count || !approxEqual(got.Mean, want.Mean, bound) || !approxEqual(got.Std, want.Std, bound) {
			t.Fatalf("iteration %d (%d shards, %d values): merged count %d mean %.17g std %.17g; direct %d %.17g %.17g",
				iter, shards, n, got.Count, got.Mean, got.Std, want.Count, want.Mean, want.Std)
		}
		if diff := cmp.Diff(want.Histogram, got.Histogram); diff != "" {
			t.Fatalf("iteration %d: histogram (-want +got):\n%s", iter, diff)
		}
	}
}

func TestMergeStats(t *testing.T) {
	t.Parallel()
	a := Stats{Retries: 1, Failed: 2, Failures: 3, Wait: summarize([]float64{1, 2}), Run: summarize([]float64{10})}
	b := Stats{Retries: 4, Failed: -1, Failures: 6, Wait: summarize([]float64{3}), Run: summarize(nil)}
	got := MergeStats(a, b)
	want := Stats{Retries: 5, Failed: 1, Failures: 9, Wait: summarize([]float64{1, 2, 3}), Run: summarize([]float64{10})}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("MergeStats (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(MergeStats(), Stats{Wait: summarize(nil), Run: summarize(nil)}); diff != "" {
		t.Fatalf("MergeStats() (-want +got):\n%s", diff)
	}
}
