package router

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/qless-router/qless-router/core"
)

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`a/b"c\d`, `"a\/b\"c\\d"`},
		{"\b\t\n\f\r", `"\b\t\n\f\r"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f\u007f"`},
		{"héllo ☃", `"héllo ☃"`},
		{"<&>", `"<&>"`},
	} {
		if got := string(appendJSONString(nil, tc.in)); got != tc.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestAppendJSONNumber(t *testing.T) {
	t.Parallel()
	// The examples of spec 1.3.
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{61, "61"}, {0, "0"}, {-1, "-1"},
		{1700000061.9876542, "1700000061.9877"},
		{1e15, "1e+15"}, {1.0 / 3, "0.33333333333333"},
		{math.Copysign(0, -1), "-0"}, {0.5, "0.5"}, {1e-5, "1e-05"},
	} {
		if got := string(appendJSONNumber(nil, tc.in)); got != tc.want {
			t.Errorf("appendJSONNumber(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestJSONWriterLists(t *testing.T) {
	t.Parallel()
	var w jsonWriter
	w.byte('{')
	w.key("a", true)
	w.strList(nil)
	w.key("b", false)
	w.strList([]string{"x", "y/z"})
	w.key("c", false)
	w.rawList(nil)
	w.byte('}')
	if got, want := w.String(), `{"a":{},"b":["x","y\/z"],"c":{}}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// naiveRankRange is Redis's LRANGE/ZRANGE index logic written out plainly.
func naiveRankRange(n int, start, stop int64) []int {
	if start < 0 {
		start = int64(n) + start
	}
	if stop < 0 {
		stop = int64(n) + stop
	}
	if start < 0 {
		start = 0
	}
	var out []int
	for i := start; i <= stop && i < int64(n); i++ {
		out = append(out, int(i))
	}
	return out
}

func TestRankRange(t *testing.T) {
	t.Parallel()
	for n := 0; n < 6; n++ {
		for start := int64(-8); start <= 8; start++ {
			for stop := int64(-8); stop <= 8; stop++ {
				lo, hi := rankRange(n, start, stop)
				var got []int
				for i := lo; i < hi; i++ {
					got = append(got, i)
				}
				if want := naiveRankRange(n, start, stop); !slices.Equal(got, want) {
					t.Fatalf("rankRange(%d, %d, %d) = %v, want %v", n, start, stop, got, want)
				}
			}
		}
	}
}

func TestLimitRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n             int
		offset, count int64
		lo, hi        int
	}{
		{5, 0, 25, 0, 5}, {5, 1, 2, 1, 3}, {5, 0, -1, 0, 5}, {5, 3, -5, 3, 5},
		{5, -1, 2, 0, 0}, {5, 5, 1, 0, 0}, {5, 2, 0, 0, 0}, {0, 0, 10, 0, 0},
	} {
		lo, hi := limitRange(tc.n, tc.offset, tc.count)
		if lo != tc.lo || hi != tc.hi {
			t.Errorf("limitRange(%d, %d, %d) = [%d, %d), want [%d, %d)", tc.n, tc.offset, tc.count, lo, hi, tc.lo, tc.hi)
		}
	}
}

func TestLuaNumberAndIntArg(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"12", 12, true}, {" 12 ", 12, true}, {"0x10", 16, true}, {"-0x10", -16, true},
		{"1e3", 1000, true}, {"2.5", 2.5, true}, {"", 0, false}, {"abc", 0, false}, {"1 2", 0, false},
	} {
		got, ok := luaNumber(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("luaNumber(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if n, err := intArg([]string{"x", "7"}, 1, 0); err != nil || n != 7 {
		t.Errorf("intArg = %d, %v", n, err)
	}
	if n, err := intArg([]string{"x"}, 1, 25); err != nil || n != 25 {
		t.Errorf("intArg default = %d, %v", n, err)
	}
	for _, bad := range []string{"2.5", "x", "1e15"} {
		if _, err := intArg([]string{bad}, 0, 0); err == nil {
			t.Errorf("intArg(%q) = nil error", bad)
		}
	}
}

func TestSortScoredAndKway(t *testing.T) {
	t.Parallel()
	items := []scored{{"b", 2}, {"a", 2}, {"c", 1}, {"d", math.Inf(1)}}
	sortScored(items, false)
	if got, want := members(items), []string{"c", "a", "b", "d"}; !slices.Equal(got, want) {
		t.Errorf("ascending = %v, want %v", got, want)
	}
	sortScored(items, true)
	if got, want := members(items), []string{"d", "b", "a", "c"}; !slices.Equal(got, want) {
		t.Errorf("descending = %v, want %v", got, want)
	}

	// kway keeps each list's order and interleaves by the comparison, ties
	// to the earlier list; checked against sorting the union stably.
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		var lists [][]scored
		var all []scored
		for l := 0; l < 1+rng.IntN(4); l++ {
			var list []scored
			for i := 0; i < rng.IntN(6); i++ {
				list = append(list, scored{member: string(rune('a'+l)) + string(rune('0'+i)), score: float64(rng.IntN(5))})
			}
			slices.SortStableFunc(list, func(a, b scored) int { return cmpFloat(b.score, a.score) })
			lists = append(lists, list)
			all = append(all, list...)
		}
		got := kway(lists, func(a, b scored) bool { return a.score > b.score })
		slices.SortStableFunc(all, func(a, b scored) int { return cmpFloat(b.score, a.score) })
		if diff := cmp.Diff(all, got, cmp.AllowUnexported(scored{}), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("kway (-want +got):\n%s", diff)
		}
	}
}

func TestParseWithScores(t *testing.T) {
	t.Parallel()
	got, err := parseWithScores([]string{"a", "1.5", "b", "inf", "c", "-inf"})
	if err != nil {
		t.Fatal(err)
	}
	want := []scored{{"a", 1.5}, {"b", math.Inf(1)}, {"c", math.Inf(-1)}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(scored{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := parseWithScores([]string{"a"}); err == nil {
		t.Error("odd length: want an error")
	}
}

func TestAccumulatorMatchesDirect(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 100; trial++ {
		var all []float64
		var acc core.Moments
		for part := 0; part < 1+rng.IntN(4); part++ {
			var p core.Moments
			for i := 0; i < rng.IntN(20); i++ {
				v := math.Floor(rng.Float64() * 5000)
				all = append(all, v)
				// Welford, as the script accumulates.
				p.N++
				old := p.Mean
				p.Mean += (v - p.Mean) / p.N
				p.M2 += (v - p.Mean) * (v - old)
			}
			acc = acc.Add(p)
		}
		if len(all) == 0 {
			continue
		}
		var sum float64
		for _, v := range all {
			sum += v
		}
		mean := sum / float64(len(all))
		var m2 float64
		for _, v := range all {
			m2 += (v - mean) * (v - mean)
		}
		if acc.N != float64(len(all)) || math.Abs(acc.Mean-mean) > 1e-9*math.Max(1, math.Abs(mean)) ||
			math.Abs(acc.M2-m2) > 1e-9*math.Max(1, m2) {
			t.Fatalf("accumulator = %+v, want n=%d mean=%v m2=%v", acc, len(all), mean, m2)
		}
	}
}
