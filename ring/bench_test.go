package ring

import (
	"fmt"
	"testing"
)

// BenchmarkLocate measures Locate over a fixed set of queue names, for rings
// of equal weights (no logarithm) and of mixed weights.
func BenchmarkLocate(b *testing.B) {
	keys := queueNames(1024)
	cases := []struct {
		name   string
		shards []Shard
	}{
		{"shards=3", equalShards(3)},
		{"shards=16", equalShards(16)},
		{"shards=3/weighted", []Shard{{"a", 1}, {"b", 2}, {"c", 3}}},
		{"shards=16/weighted", weightedShards(16)},
	}
	for _, c := range cases {
		r := mustNew(b, 1, c.shards)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = r.Locate(keys[i&1023])
				i++
			}
		})
	}
}

// weightedShards returns n shards with weights 1 and 2 alternating, the
// common shape of a cluster with two sizes of machine.
func weightedShards(n int) []Shard {
	s := make([]Shard, n)
	for i := range s {
		s[i] = Shard{Name: fmt.Sprintf("s%02d", i), Weight: 1 + i%2}
	}
	return s
}
