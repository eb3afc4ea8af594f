package ring

import (
	"slices"
	"strings"
	"testing"
)

// FuzzLocate: for any key and any shard set the fuzzer can build, Locate
// never panics, returns a member, agrees with LocateIndex, and does not
// depend on the order the shards were given in.
func FuzzLocate(f *testing.F) {
	f.Add("queue-1", "a,b,c", []byte{1, 1, 2})
	f.Add("", "only", []byte{})
	f.Add("\xff\x00jid", "s1,s2,s3,s4,s5,s6,s7,s8,s9,s10,s11,s12,s13,s14,s15,s16", []byte{0, 255, 7})
	f.Add(strings.Repeat("k", 1000), "x.y,x_y,x-y", []byte{200, 100, 50})
	f.Fuzz(func(t *testing.T, key, names string, weights []byte) {
		var shards []Shard
		for i, name := range strings.Split(names, ",") {
			w := 1
			if len(weights) > 0 {
				// Spread small fuzz bytes over the whole weight range.
				w = 1 + int(weights[i%len(weights)])*int(weights[(i+1)%len(weights)])*15
			}
			shards = append(shards, Shard{Name: name, Weight: w})
		}
		r, err := New(1, shards)
		if err != nil {
			return // invalid sets are New's business, tested elsewhere
		}
		got := r.Locate(key)
		if !r.Contains(got) {
			t.Fatalf("ring %v: Locate(%q) = %q, not a member", r, key, got)
		}
		if i := r.LocateIndex(key); r.Shards()[i].Name != got {
			t.Fatalf("ring %v: LocateIndex(%q) = %d, Locate = %q", r, key, i, got)
		}
		rev := slices.Clone(shards)
		slices.Reverse(rev)
		if again := mustNew(t, 1, rev).Locate(key); again != got {
			t.Fatalf("ring %v: Locate(%q) = %q, but %q with the shards reversed", r, key, got, again)
		}
	})
}

// FuzzParse: Parse never panics, and whatever it accepts round-trips
// through String.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"3:a=1,b=1,c=2", "0:only", "1:a,b,c", "007:a=01", "18446744073709551615:x=1000000",
		"", ":", "1:", "1:a=", "1:=1", "1:a=1,a=1", "x:a=1", "1:a=0", "1:a=1,,b=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		text := r.String()
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but Parse of its String %q: %v", s, text, err)
		}
		if !again.Equal(r) || again.String() != text || again.Fingerprint() != r.Fingerprint() {
			t.Fatalf("Parse(%q) = %v, Parse(%q) = %v; want equal rings", s, r, text, again)
		}
	})
}
