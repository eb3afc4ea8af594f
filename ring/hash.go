package ring

import (
	"math"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// seedSalt separates shard-name hashes from key hashes, so that a key equal
// to a shard's name is not special.
const seedSalt = 0x9e3779b97f4a7c15

// mix64 is the SplitMix64 finalizer: a bijection on 64-bit values with full
// avalanche, used to derive an independent-looking hash per (shard, key)
// pair from one hash of the key and one precomputed seed per shard.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// shardSeed is the per-shard value precomputed by New.
func shardSeed(name string) uint64 {
	return mix64(xxhash.Sum64String(name) ^ seedSalt)
}

// unitNumerator maps a pair hash h to the odd integer z in [1, 2^53) such
// that u = z / 2^53 is the uniform variate of the placement rule. u is never
// 0 or 1, so -ln(u) is finite and positive.
func unitNumerator(h uint64) uint64 {
	return (h >> 11) | 1
}

// ln2Hi + ln2Lo = ln(2) to about 2^-86 relative. ln2Hi has its 21 low
// mantissa bits clear, so k*ln2Hi is exact for every |k| <= 53 this package
// uses.
const (
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = math.Ln2 - ln2Hi
)

// sqrt2Q63 is sqrt(2) * 2^63, rounded down.
const sqrt2Q63 = 0xb504f333f9de6484

// seriesCoef are the coefficients 2/(2i+1), i = 1..10, of
// R(s) = 2*atanh(s)/s - 2 = s^2*(2/3 + s^2*(2/5 + ...)), so that
// ln(1+f) = 2*atanh(s) = 2s + s*R with s = f/(2+f). For 1+f in
// (sqrt(2)/2, sqrt(2)], |s| <= 0.1716 and s^2 <= 0.0295, so ten terms leave
// a truncation error below 1e-17 relative.
var seriesCoef = [...]float64{
	2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9, 2.0 / 11,
	2.0 / 13, 2.0 / 15, 2.0 / 17, 2.0 / 19, 2.0 / 21,
}

// negLogUnit returns -ln(z / 2^53) for an integer z in [1, 2^53).
//
// It is written with basic IEEE-754 operations only (which Go rounds the same
// way on every platform) and wraps every product that feeds an addition in
// an explicit float64 conversion, which the Go specification says forbids
// fusing it into a fused multiply-add. The result is therefore bit-identical
// on every platform, unlike math.Log, which has assembly versions on some
// architectures. It agrees with -math.Log to about one ulp.
func negLogUnit(z uint64) float64 {
	e := bits.Len64(z) - 1 // z in [2^e, 2^(e+1))
	// Reduce to m = z / 2^e in (sqrt(2)/2, sqrt(2)]: compare z, shifted to
	// put its leading one at bit 63, with sqrt(2)*2^63 rounded down (no
	// branch on a float, so the compiler can use a conditional move).
	if z<<uint(63-e) > sqrt2Q63 {
		e++
	}
	m := float64(z) * math.Float64frombits(uint64(1023-e)<<52) // exact: times 2^-e
	f := m - 1                                                 // exact (Sterbenz)
	s := f / (2 + f)
	s2 := float64(s * s)
	s4 := float64(s2 * s2)
	// R/s2 = c0 + c1*s2 + c2*s4 + ... by Estrin's scheme: the even and odd
	// coefficients as two independent polynomials in s4.
	c := &seriesCoef
	ev := float64(c[8]*s4) + c[6]
	od := float64(c[9]*s4) + c[7]
	ev = float64(ev*s4) + c[4]
	od = float64(od*s4) + c[5]
	ev = float64(ev*s4) + c[2]
	od = float64(od*s4) + c[3]
	ev = float64(ev*s4) + c[0]
	od = float64(od*s4) + c[1]
	r := float64(s2 * (ev + float64(od*s2)))
	// 2s = f - s*f, so ln(m) = 2s + s*R = f - s*(f - R): f is exact and the
	// rounded part is the small correction.
	lnm := f - float64(s*(f-r))
	k := float64(e - 53) // ln(z/2^53) = k*ln2 + ln(m), k <= 0
	return -(float64(k*ln2Hi) + (float64(k*ln2Lo) + lnm))
}
