package core

import "math"

// MergeStatsSummary returns the summary that one Redis would have reported
// for the union of the durations summarised by a and b (each as a shard's
// `stats` reply gives it: count, mean, sample standard deviation,
// histogram).
//
// Counts and histograms add. Mean and variance combine with the parallel
// formula of Chan, Golub and LeVeque: with d = mean_b - mean_a and
// M2 = std^2 * (count-1) on each side,
//
//	mean = mean_a + d * n_b / n
//	M2   = M2_a + M2_b + d^2 * n_a * n_b / n
//	std  = sqrt(M2 / (n-1))    (0 when n <= 1, as the script reports it)
//
// The result equals the direct computation up to floating-point rounding
// (the script itself accumulates with Welford's update, which rounds
// differently too). Inputs are not modified.
func MergeStatsSummary(a, b StatsSummary) StatsSummary {
	out := StatsSummary{Histogram: addHistograms(a.Histogram, b.Histogram)}
	switch {
	case b.Count <= 0:
		out.Count, out.Mean, out.Std = a.Count, a.Mean, a.Std
		return out
	case a.Count <= 0:
		out.Count, out.Mean, out.Std = b.Count, b.Mean, b.Std
		return out
	}
	m := Moments{N: float64(a.Count), Mean: a.Mean, M2: m2Of(a)}.
		Add(Moments{N: float64(b.Count), Mean: b.Mean, M2: m2Of(b)})
	out.Count = a.Count + b.Count
	out.Mean = m.Mean
	if out.Count > 1 && m.M2 > 0 {
		out.Std = math.Sqrt(m.M2 / (m.N - 1))
	}
	return out
}

// Moments are the exact running state of a summary: count, mean and the sum
// of squared deviations from the mean (what the script stores as total,
// mean and vk).
type Moments struct {
	N, Mean, M2 float64
}

// Add combines b into m with the parallel formula of Chan, Golub and
// LeVeque (see MergeStatsSummary).
func (m Moments) Add(b Moments) Moments {
	switch {
	case b.N <= 0:
		return m
	case m.N <= 0:
		return b
	}
	n := m.N + b.N
	d := b.Mean - m.Mean
	return Moments{N: n, Mean: m.Mean + d*b.N/n, M2: m.M2 + b.M2 + d*d*m.N*b.N/n}
}

// m2Of returns the sum of squared deviations from the mean that s stands for.
func m2Of(s StatsSummary) float64 {
	if s.Count <= 1 {
		return 0
	}
	return s.Std * s.Std * float64(s.Count-1)
}

// addHistograms adds two histograms bucket by bucket into a new slice of at
// least HistogramSize buckets.
func addHistograms(a, b []int64) []int64 {
	n := max(HistogramSize, len(a), len(b))
	out := make([]int64, n)
	for i, v := range a {
		out[i] += v
	}
	for i, v := range b {
		out[i] += v
	}
	return out
}

// MergeStats merges the `stats` replies of several shards for one queue and
// day into the reply one Redis would have given: counters add, and wait and
// run merge with MergeStatsSummary. With no input it returns the reply for a
// queue with no statistics.
func MergeStats(stats ...Stats) Stats {
	out := Stats{
		Wait: StatsSummary{Histogram: make([]int64, HistogramSize)},
		Run:  StatsSummary{Histogram: make([]int64, HistogramSize)},
	}
	for _, s := range stats {
		out.Retries += s.Retries
		out.Failed += s.Failed
		out.Failures += s.Failures
		out.Wait = MergeStatsSummary(out.Wait, s.Wait)
		out.Run = MergeStatsSummary(out.Run, s.Run)
	}
	return out
}
