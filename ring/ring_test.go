package ring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// mustNew builds a ring or fails the test.
func mustNew(t testing.TB, epoch uint64, shards []Shard) *Ring {
	t.Helper()
	r, err := New(epoch, shards)
	if err != nil {
		t.Fatalf("New(%d, %v): %v", epoch, shards, err)
	}
	return r
}

// equalShards returns n shards named s00, s01, ... of weight 1.
func equalShards(n int) []Shard {
	s := make([]Shard, n)
	for i := range s {
		s[i] = Shard{Name: fmt.Sprintf("s%02d", i), Weight: 1}
	}
	return s
}

// queueNames returns n distinct queue names of the usual style.
func queueNames(n int) []string {
	k := make([]string, n)
	for i := range k {
		k[i] = fmt.Sprintf("queue-%d", i)
	}
	return k
}

// jids returns n random-looking 32-hex-digit jids from a fixed seed.
func jids(n int) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	k := make([]string, n)
	for i := range k {
		k[i] = fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
	}
	return k
}

// keySets are the 10,000-key populations the property tests run over.
var keySets = []struct {
	name string
	keys func(int) []string
}{
	{"queues", queueNames},
	{"jids", jids},
}

// refMix is the SplitMix64 finalizer, written out again for the reference.
func refMix(x uint64) uint64 {
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// refLocate is the naive reference for the placement rule in the package
// documentation: it computes every shard's score with math.Log, in the order
// the shards are given, with no precomputation and no weight classes.
func refLocate(shards []Shard, key string) string {
	kh := xxhash.Sum64String(key)
	var (
		best      string
		bestScore float64
		bestH     uint64
	)
	for i, s := range shards {
		h := refMix(kh ^ refMix(xxhash.Sum64String(s.Name)^0x9e3779b97f4a7c15))
		u := float64((h>>11)|1) / (1 << 53)
		score := -float64(s.Weight) / math.Log(u)
		if i == 0 || score > bestScore || score == bestScore && (h > bestH || h == bestH && s.Name < best) {
			best, bestScore, bestH = s.Name, score, h
		}
	}
	return best
}

// count returns how many keys each shard owns.
func count(r *Ring, keys []string) map[string]int {
	n := make(map[string]int)
	for _, k := range keys {
		n[r.Locate(k)]++
	}
	return n
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		shards []Shard
		want   string // substring of the error
	}{
		{"no shards", nil, "no shards"},
		{"empty name", []Shard{{"a", 1}, {"", 1}}, "shard 1: shard name is empty"},
		{"bad byte", []Shard{{"a:b", 1}}, `has a byte ':'`},
		{"space", []Shard{{"a b", 1}}, `has a byte ' '`},
		{"comma", []Shard{{"a,b", 1}}, `has a byte ','`},
		{"equals", []Shard{{"a=b", 1}}, `has a byte '='`},
		{"non-ascii", []Shard{{"é", 1}}, "has a byte"},
		{"too long", []Shard{{strings.Repeat("x", MaxNameLen+1), 1}}, "longer than 64 bytes"},
		{"repeated", []Shard{{"b", 1}, {"a", 1}, {"b", 2}}, `shard name "b" is repeated`},
		{"zero weight", []Shard{{"a", 0}}, `shard "a": weight 0 is outside [1, 1000000]`},
		{"negative weight", []Shard{{"a", 1}, {"b", -2}}, "weight -2 is outside"},
		{"huge weight", []Shard{{"a", MaxWeight + 1}}, "weight 1000001 is outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := New(1, tt.shards)
			if err == nil {
				t.Fatalf("New(1, %v) = %v, want an error containing %q", tt.shards, r, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(1, %v) error = %q, want it to contain %q", tt.shards, err, tt.want)
			}
		})
	}
}

func TestNewAcceptsLimits(t *testing.T) {
	t.Parallel()
	name := strings.Repeat("Az09._-", MaxNameLen/7+1)[:MaxNameLen]
	r := mustNew(t, math.MaxUint64, []Shard{{name, MaxWeight}, {"x", 1}})
	if got := r.Locate("k"); got != name && got != "x" {
		t.Errorf("Locate(%q) = %q, want a member", "k", got)
	}
}

func TestAccessors(t *testing.T) {
	t.Parallel()
	in := []Shard{{"c", 2}, {"a", 1}, {"b", 1}}
	r := mustNew(t, 3, in)
	in[0].Name = "changed" // New must have copied its input
	if got := r.Epoch(); got != 3 {
		t.Errorf("Epoch() = %d, want 3", got)
	}
	if got := r.Len(); got != 3 {
		t.Errorf("Len() = %d, want 3", got)
	}
	want := []Shard{{"a", 1}, {"b", 1}, {"c", 2}}
	got := r.Shards()
	if !slices.Equal(got, want) {
		t.Errorf("Shards() = %v, want %v", got, want)
	}
	got[0].Name = "z" // a copy: the ring must not change
	if got := r.Shards(); !slices.Equal(got, want) {
		t.Errorf("Shards() after mutating a previous result = %v, want %v", got, want)
	}
	for _, tt := range []struct {
		name string
		want bool
	}{{"a", true}, {"b", true}, {"c", true}, {"", false}, {"d", false}, {"A", false}, {"changed", false}, {"z", false}} {
		if got := r.Contains(tt.name); got != tt.want {
			t.Errorf("Contains(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got, want := r.String(), "3:a=1,b=1,c=2"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for _, k := range queueNames(200) {
		if name, i := r.Locate(k), r.LocateIndex(k); want[i].Name != name {
			t.Errorf("LocateIndex(%q) = %d (%q), Locate = %q", k, i, want[i].Name, name)
		}
	}
}

func TestEqualAndFingerprint(t *testing.T) {
	t.Parallel()
	base := mustNew(t, 3, []Shard{{"a", 1}, {"b", 1}, {"c", 2}})
	same := mustNew(t, 3, []Shard{{"c", 2}, {"b", 1}, {"a", 1}})
	if !base.Equal(same) || base.Fingerprint() != same.Fingerprint() {
		t.Errorf("rings %v and %v from reordered input: Equal = %v, fingerprints %#x, %#x; want equal",
			base, same, base.Equal(same), base.Fingerprint(), same.Fingerprint())
	}
	others := []*Ring{
		mustNew(t, 4, []Shard{{"a", 1}, {"b", 1}, {"c", 2}}),
		mustNew(t, 3, []Shard{{"a", 1}, {"b", 1}, {"c", 1}}),
		mustNew(t, 3, []Shard{{"a", 1}, {"b", 1}, {"d", 2}}),
		mustNew(t, 3, []Shard{{"a", 1}, {"b", 1}}),
		mustNew(t, 3, []Shard{{"a", 1}, {"b", 1}, {"c", 2}, {"d", 1}}),
	}
	for _, o := range others {
		if base.Equal(o) || o.Equal(base) {
			t.Errorf("%v.Equal(%v) = true, want false", base, o)
		}
		if base.Fingerprint() == o.Fingerprint() {
			t.Errorf("Fingerprint of %v and %v = %#x for both, want different", base, o, o.Fingerprint())
		}
	}
	var nilRing *Ring
	if base.Equal(nil) || nilRing.Equal(base) || !nilRing.Equal(nil) {
		t.Error("Equal with nil rings: want false, false, true")
	}
}

// TestGolden pins placement and fingerprints: a change of the hashing or of
// the encoding changes these values and must be a deliberate, migrated
// change (every router must agree on placement).
func TestGolden(t *testing.T) {
	t.Parallel()
	keys := []string{"", "q", "queue-1", "queue-2", "queue-3", "emails", "reports", "ünïcode",
		"jid-0123456789abcdef", "3f1e2c5a9b7d4e6f8a0b1c2d3e4f5a6b"}
	tests := []struct {
		ring        string
		fingerprint uint64
		owners      []string // of keys, in order
	}{
		{"1:a=1,b=1,c=1", 0x542b0633d3cf7d4d, []string{"a", "c", "b", "a", "c", "b", "b", "b", "b", "b"}},
		{"3:a=1,b=1,c=2", 0xd9f7416ac3eb92f, []string{"a", "c", "b", "a", "c", "b", "b", "b", "b", "b"}},
		{"2:east=1,west=3", 0x711b162420f29725, []string{"west", "east", "west", "west", "east", "west", "west", "west", "west", "west"}},
		{"7:s1=3,s2=1,s3=1,s4=2,s5=5", 0x77137765a3fca165, []string{"s4", "s5", "s5", "s5", "s4", "s5", "s4", "s5", "s1", "s3"}},
		{"9:s00=1,s01=1,s02=1,s03=1,s04=1,s05=1,s06=1,s07=1,s08=1,s09=1,s10=1,s11=1,s12=1,s13=1,s14=1,s15=1",
			0x6c11ce9cba1050de, []string{"s03", "s15", "s14", "s01", "s13", "s12", "s03", "s01", "s02", "s12"}},
	}
	for _, tt := range tests {
		t.Run(tt.ring, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(tt.ring)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.ring, err)
			}
			if got := r.Fingerprint(); got != tt.fingerprint {
				t.Errorf("Fingerprint() = %#x, want %#x", got, tt.fingerprint)
			}
			for i, k := range keys {
				if got := r.Locate(k); got != tt.owners[i] {
					t.Errorf("Locate(%q) = %q, want %q", k, got, tt.owners[i])
				}
				// Recompute from scratch: a fresh ring from reversed input
				// and the reference must agree with the golden value.
				sh := r.Shards()
				slices.Reverse(sh)
				if got := mustNew(t, r.Epoch(), sh).Locate(k); got != tt.owners[i] {
					t.Errorf("Locate(%q) on a ring rebuilt from reversed shards = %q, want %q", k, got, tt.owners[i])
				}
				if got := refLocate(sh, k); got != tt.owners[i] {
					t.Errorf("refLocate(%q) = %q, want %q", k, got, tt.owners[i])
				}
			}
		})
	}
}

// TestLocateMatchesReference checks Locate against the naive math.Log
// reference on random keys and random shard sets.
func TestLocateMatchesReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 40 {
		n := 1 + rng.IntN(20)
		shards := make([]Shard, n)
		for i := range shards {
			w := 1
			switch trial % 4 {
			case 1:
				w = 1 + rng.IntN(3)
			case 2:
				w = 1 + rng.IntN(100)
			case 3:
				w = 1 + rng.IntN(MaxWeight)
			}
			shards[i] = Shard{Name: fmt.Sprintf("shard-%d-%d", trial, i), Weight: w}
		}
		r := mustNew(t, uint64(trial), shards)
		for range 2000 {
			b := make([]byte, rng.IntN(40))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			k := string(b)
			if got, want := r.Locate(k), refLocate(shards, k); got != want {
				t.Fatalf("ring %v: Locate(%q) = %q, want %q (reference)", r, k, got, want)
			}
		}
	}
}

// TestLocateDoesNotAllocate is not parallel: testing.AllocsPerRun refuses to
// run in a parallel test.
func TestLocateDoesNotAllocate(t *testing.T) {
	for _, r := range []*Ring{
		mustNew(t, 1, equalShards(16)),
		mustNew(t, 1, []Shard{{"a", 1}, {"b", 2}, {"c", 3}}),
	} {
		keys := queueNames(64)
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			_ = r.Locate(keys[i%len(keys)])
			i++
		})
		if allocs != 0 {
			t.Errorf("ring %v: Locate allocates %v times per call, want 0", r, allocs)
		}
	}
}

// TestBalance: with N equal shards no shard gets more than 1.15 times its
// fair share of 10,000 keys.
func TestBalance(t *testing.T) {
	t.Parallel()
	for _, ks := range keySets {
		for _, n := range []int{2, 3, 5, 8, 16} {
			t.Run(fmt.Sprintf("%s/N=%d", ks.name, n), func(t *testing.T) {
				t.Parallel()
				keys := ks.keys(10_000)
				r := mustNew(t, 1, equalShards(n))
				limit := 1.15 * float64(len(keys)) / float64(n)
				counts := count(r, keys)
				t.Logf("counts %v (limit %.0f)", counts, limit)
				if len(counts) != n {
					t.Errorf("%d shards own keys, want %d: %v", len(counts), n, counts)
				}
				for name, c := range counts {
					if float64(c) > limit {
						t.Errorf("shard %s owns %d of %d keys, want at most %.0f (1.15 x fair share); all: %v",
							name, c, len(keys), limit, counts)
					}
				}
			})
		}
	}
}

// TestWeights: each shard's share of 10,000 keys is within 10% of
// weight/total weight.
func TestWeights(t *testing.T) {
	t.Parallel()
	sets := [][]Shard{
		{{"a", 1}, {"b", 2}},
		{{"a", 1}, {"b", 1}, {"c", 2}},
		{{"a", 2}, {"b", 3}, {"c", 5}},
		{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}},
		{{"a", 10}, {"b", 10}, {"c", 20}, {"d", 20}, {"e", 40}},
		{{"a", 1000}, {"b", 2000}},
	}
	for _, ks := range keySets {
		for _, shards := range sets {
			r := mustNew(t, 1, shards)
			t.Run(ks.name+"/"+r.String(), func(t *testing.T) {
				t.Parallel()
				keys := ks.keys(10_000)
				counts := count(r, keys)
				t.Logf("counts %v", counts)
				total := 0
				for _, s := range shards {
					total += s.Weight
				}
				for _, s := range shards {
					want := float64(len(keys)) * float64(s.Weight) / float64(total)
					if got := float64(counts[s.Name]); math.Abs(got-want) > 0.10*want {
						t.Errorf("shard %s (weight %d) owns %v keys, want %.0f ±10%%; all: %v", s.Name, s.Weight, got, want, counts)
					}
				}
			})
		}
	}
}

// TestMinimalDisruption: adding one shard moves keys only to it, removing one
// moves only its keys, and either moves at most the shard's weight share
// plus 5% of 10,000 keys.
func TestMinimalDisruption(t *testing.T) {
	t.Parallel()
	type change struct {
		name        string
		before      []Shard
		after       []Shard
		added       string // shard added, or ""
		removed     string // shard removed, or ""
		shareOfMove float64
	}
	var changes []change
	for _, n := range []int{2, 3, 5, 8, 16} {
		base := equalShards(n)
		grown := equalShards(n + 1)
		changes = append(changes,
			change{fmt.Sprintf("add to %d", n), base, grown, grown[n].Name, "", 1 / float64(n+1)},
			change{fmt.Sprintf("remove last of %d", n), base, base[:n-1], "", base[n-1].Name, 1 / float64(n)},
			change{fmt.Sprintf("remove first of %d", n), base, base[1:], "", base[0].Name, 1 / float64(n)},
		)
	}
	weighted := []Shard{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 1}}
	changes = append(changes,
		change{"add weight 2 to weighted", weighted, append(slices.Clone(weighted), Shard{"e", 2}), "e", "", 2.0 / 9},
		change{"add weight 1 to weighted", weighted, append(slices.Clone(weighted), Shard{"e", 1}), "e", "", 1.0 / 8},
		change{"remove weight 3 from weighted", weighted, slices.Delete(slices.Clone(weighted), 2, 3), "", "c", 3.0 / 7},
		change{"remove weight 1 from weighted", weighted, weighted[:3], "", "d", 1.0 / 7},
	)
	for _, ks := range keySets {
		for _, c := range changes {
			t.Run(ks.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				keys := ks.keys(10_000)
				before, after := mustNew(t, 1, c.before), mustNew(t, 2, c.after)
				moved := 0
				for _, k := range keys {
					was, is := before.Locate(k), after.Locate(k)
					if was == is {
						continue
					}
					moved++
					if c.added != "" && is != c.added {
						t.Fatalf("Locate(%q) moved from %q to %q, want moves only to the added shard %q", k, was, is, c.added)
					}
					if c.removed != "" && was != c.removed {
						t.Fatalf("Locate(%q) moved from %q to %q, want moves only from the removed shard %q", k, was, is, c.removed)
					}
				}
				t.Logf("%d keys moved, expected about %.0f", moved, c.shareOfMove*float64(len(keys)))
				if limit := (c.shareOfMove + 0.05) * float64(len(keys)); float64(moved) > limit {
					t.Errorf("%d of %d keys moved, want at most %.0f", moved, len(keys), limit)
				}
				if moved == 0 {
					t.Errorf("no key moved, want about %.0f", c.shareOfMove*float64(len(keys)))
				}
			})
		}
	}
}

func TestNegLogUnit(t *testing.T) {
	t.Parallel()
	// Golden bit patterns: the logarithm must be bit-identical on every
	// platform; a change here is a change of placement.
	golden := []struct {
		z    uint64
		bits uint64
	}{
		{1, 0x40425e4f7b2737fa},
		{3, 0x4041d1b02751cfe2},
		{1<<52 + 1, 0x3fe62e42fefa39ed},
		{1<<53 - 1, 0x3ca0000000000000},
		{6369051672525773, 0x3fd62e42fefa39ee},
		{12345678901, 0x402b001df720db2b},
	}
	if got, want := math.Float64bits(ln2Hi), uint64(0x3fe62e42fee00000); got != want {
		t.Errorf("ln2Hi bits = %#x, want %#x", got, want)
	}
	for _, g := range golden {
		if got := math.Float64bits(negLogUnit(g.z)); got != g.bits {
			t.Errorf("negLogUnit(%d) bits = %#x, want %#x", g.z, got, g.bits)
		}
	}
	// Accuracy against math.Log, at the edges of each reduction step and at
	// random points.
	check := func(z uint64) {
		got := negLogUnit(z)
		want := -math.Log(float64(z) / (1 << 53))
		if math.Abs(got-want) > 5e-16*want { // about two ulps
			t.Errorf("negLogUnit(%d) = %v, want %v (math.Log) to 5e-16 relative", z, got, want)
		}
	}
	for e := range 53 {
		p := uint64(1) << e
		for _, z := range []uint64{p - 1, p, p + 1, uint64(float64(p) * math.Sqrt2), uint64(float64(p)*math.Sqrt2) + 1} {
			if z >= 1 && z < 1<<53 {
				check(z)
			}
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100_000 {
		check(unitNumerator(rng.Uint64()))
	}
}
