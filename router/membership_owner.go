package router

import "github.com/cespare/xxhash/v2"

// Owner picks the member responsible for key by rendezvous (highest random
// weight) hashing: each member scores xxhash64(name, 0, key) and the highest
// score wins, ties going to the smaller name. The choice depends only on the
// set of names, not their order, and removing a member moves only the keys it
// owned. It returns "" when members is empty. Owner is pure and safe for
// concurrent use.
func Owner(members []Member, key string) string {
	var (
		best      string
		bestScore uint64
		found     bool
	)
	for _, mem := range members {
		s := ownerScore(mem.Name, key)
		if !found || s > bestScore || (s == bestScore && mem.Name < best) {
			best, bestScore, found = mem.Name, s, true
		}
	}
	return best
}

// ownerScore hashes name and key with a zero byte between them, so that
// ("ab", "c") and ("a", "bc") score differently.
func ownerScore(name, key string) uint64 {
	d := xxhash.New()
	_, _ = d.WriteString(name)
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(key)
	return d.Sum64()
}
