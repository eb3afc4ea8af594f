// Package ring places queue names and jids onto shards (DESIGN.md sections 2
// and 6).
//
// A [Ring] is an immutable value: an epoch and a set of named, weighted
// shards. [Ring.Locate] maps any key to the name of its owner shard with
// weighted rendezvous (highest random weight) hashing over xxhash, so that
// adding or removing one shard moves only the keys that must move: about 1/N
// of them, and only to the added shard or only from the removed one.
//
// # Placement rule
//
// For a key k and a shard s with name n and weight w:
//
//	kh      = xxhash64(k)
//	seed(s) = mix64(xxhash64(n) ^ 0x9e3779b97f4a7c15)
//	h(s, k) = mix64(kh ^ seed(s))
//	u(s, k) = ((h >> 11) | 1) / 2^53              // in (0, 1)
//	score   = w / -ln(u(s, k))                    // = -w / ln(u)
//
// where mix64 is the SplitMix64 finalizer. The owner is the shard with the
// greatest score; a tie goes to the greater h, then to the smaller name.
// Among shards of equal weight the score is a monotone function of h, so the
// ring compares raw hashes within each weight class and computes the
// logarithm only for each class's winner; a ring whose shards all have the
// same weight never computes a logarithm.
//
// The logarithm is the package's own, built only from IEEE-754 operations
// that every Go platform rounds identically (with explicit conversions that
// forbid fused multiply-add), so placement depends on nothing but the key and
// the shard set: not on the process, the platform, map iteration order or
// any random seed. The order in which shards are given does not matter
// either.
//
// # Text form
//
// [Ring.String] and [Parse] use a compact form for flags and gossip:
//
//	<epoch>:<name>=<weight>,<name>=<weight>,...     e.g. "3:a=1,b=1,c=2"
//
// Shard names are 1 to [MaxNameLen] bytes of ASCII letters, digits, '.', '_'
// and '-'. Parse also accepts a name without "=<weight>" for weight 1.
//
// # Publication
//
// Routers publish the current ring through a [Table], an atomic pointer that
// readers load on every command without locking.
package ring
