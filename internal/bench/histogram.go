package bench

import (
	"math"
	"math/bits"
	"time"
)

// The histogram keeps durations in nanoseconds in log-linear buckets, the
// layout of an HDR histogram: values below 2*subCount are counted exactly;
// above that, every power of two is split into subCount equal buckets, so a
// bucket is never wider than 1/subCount of its lower bound. Reporting the
// bucket's midpoint keeps the error under 1/(2*subCount), about 0.8%.
const (
	subBits    = 6
	subCount   = 1 << subBits
	maxBits    = 40 // values are clamped to 2^40-1 ns, about 18 minutes
	maxValue   = 1<<maxBits - 1
	numBuckets = 2*subCount + (maxBits-subBits-1)*subCount
)

// histogram records durations. Not safe for concurrent use: each worker
// goroutine keeps its own and they are merged afterwards.
type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    float64 // ns
	min    int64
	max    int64
}

// bucketOf returns the index of the bucket holding v nanoseconds.
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v > maxValue {
		v = maxValue
	}
	if v < 2*subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - 1 - subBits // >= 1
	m := v >> shift                              // in [subCount, 2*subCount)
	return 2*subCount + (shift-1)*subCount + int(m-subCount)
}

// bucketRange returns the values [lo, hi) that bucket i holds.
func bucketRange(i int) (lo, hi int64) {
	if i < 2*subCount {
		return int64(i), int64(i) + 1
	}
	j := i - 2*subCount
	shift := j/subCount + 1
	m := int64(j%subCount + subCount)
	return m << shift, (m + 1) << shift
}

// record adds one observation.
func (h *histogram) record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += float64(v)
}

// merge adds every observation of o to h.
func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the value at quantile q in [0, 1]: the smallest recorded
// value v (to the bucket's resolution) such that at least q of the
// observations are <= v. 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q <= 0 {
		return time.Duration(h.min)
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum < rank {
			continue
		}
		lo, hi := bucketRange(i)
		v := lo + (hi-1-lo)/2
		v = max(v, h.min)
		v = min(v, h.max)
		return time.Duration(v)
	}
	return time.Duration(h.max)
}

// Percentiles summarises the latency of one command (or of a whole job) in a
// phase. The JSON form gives every duration in nanoseconds.
type Percentiles struct {
	Count int64         `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
}

func (h *histogram) percentiles() Percentiles {
	if h.n == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: int64(h.n),
		Mean:  time.Duration(h.sum / float64(h.n)),
		P50:   h.quantile(0.50),
		P90:   h.quantile(0.90),
		P99:   h.quantile(0.99),
		P999:  h.quantile(0.999),
		Max:   time.Duration(h.max),
	}
}
