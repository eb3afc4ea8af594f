package ring

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
)

const (
	// MaxWeight is the greatest weight a shard may have.
	MaxWeight = 1_000_000
	// MaxNameLen is the greatest length of a shard name, in bytes.
	MaxNameLen = 64
)

// Shard is one member of a ring: a name that identifies a shard (a Redis
// deployment) across routers, and a weight. A shard of weight 2 receives
// about twice the keys of a shard of weight 1.
type Shard struct {
	// Name is 1 to MaxNameLen bytes of ASCII letters, digits, '.', '_' and
	// '-' (see ValidateName). It is hashed for placement: renaming a shard
	// moves its keys.
	Name string
	// Weight is in [1, MaxWeight].
	Weight int
}

// Ring is an immutable placement of keys onto shards for one epoch. It is
// safe for concurrent use. The zero value is not usable; build one with New
// or Parse.
type Ring struct {
	epoch  uint64
	shards []Shard // sorted by name
	text   string  // canonical String form
	fp     uint64  // xxhash of text

	// slots holds one entry per shard, grouped by weight class and sorted by
	// name inside each class; classes indexes into it.
	slots   []slot
	classes []class
}

// slot is the precomputed placement state of one shard.
type slot struct {
	seed  uint64 // shardSeed(name)
	shard int    // index into Ring.shards
}

// class is a run of slots whose shards have the same weight.
type class struct {
	start, end int
	weight     float64
}

// New returns the ring of the given epoch over shards. The order of shards
// does not matter. It fails if shards is empty, if a name is invalid (see
// ValidateName) or repeated, or if a weight is outside [1, MaxWeight].
func New(epoch uint64, shards []Shard) (*Ring, error) {
	if len(shards) == 0 {
		return nil, errors.New("ring: no shards")
	}
	sorted := slices.Clone(shards)
	for i, s := range sorted {
		if err := ValidateName(s.Name); err != nil {
			return nil, fmt.Errorf("ring: shard %d: %w", i, err)
		}
		if s.Weight < 1 || s.Weight > MaxWeight {
			return nil, fmt.Errorf("ring: shard %q: weight %d is outside [1, %d]", s.Name, s.Weight, MaxWeight)
		}
	}
	slices.SortFunc(sorted, func(a, b Shard) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Name == sorted[i-1].Name {
			return nil, fmt.Errorf("ring: shard name %q is repeated", sorted[i].Name)
		}
	}

	r := &Ring{epoch: epoch, shards: sorted}
	r.text = encode(epoch, sorted)
	r.fp = xxhash.Sum64String(r.text)

	// Group shards by weight; inside a class, slots stay in name order so
	// that a tie on the hash goes to the smaller name.
	order := make([]int, len(sorted))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return sorted[a].Weight - sorted[b].Weight })
	r.slots = make([]slot, len(sorted))
	for i, si := range order {
		r.slots[i] = slot{seed: shardSeed(sorted[si].Name), shard: si}
		w := sorted[si].Weight
		if i == 0 || sorted[order[i-1]].Weight != w {
			r.classes = append(r.classes, class{start: i, weight: float64(w)})
		}
		r.classes[len(r.classes)-1].end = i + 1
	}
	return r, nil
}

// ValidateName reports whether name may name a shard: 1 to MaxNameLen bytes
// of ASCII letters, digits, '.', '_' and '-'. These names need no quoting in
// the text form, in flags or in metric labels.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("shard name is empty")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("shard name %.16q... is longer than %d bytes", name, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("shard name %q has a byte %q that is not a letter, digit, '.', '_' or '-'", name, c)
		}
	}
	return nil
}

// Locate returns the name of the shard that owns key (a queue name or a
// jid). It does not allocate.
func (r *Ring) Locate(key string) string {
	return r.shards[r.LocateIndex(key)].Name
}

// LocateIndex returns the index in Shards() of the shard that owns key, for
// callers that keep per-shard state in a slice parallel to Shards(). It does
// not allocate.
func (r *Ring) LocateIndex(key string) int {
	kh := xxhash.Sum64String(key)
	c := r.classes[0]
	bi, bh := r.classWinner(kh, c)
	if len(r.classes) == 1 {
		return r.slots[bi].shard
	}
	bs := c.weight / negLogUnit(unitNumerator(bh))
	for _, c := range r.classes[1:] {
		i, h := r.classWinner(kh, c)
		s := c.weight / negLogUnit(unitNumerator(h))
		if s > bs || s == bs && (h > bh || h == bh && r.slots[i].shard < r.slots[bi].shard) {
			bi, bh, bs = i, h, s
		}
	}
	return r.slots[bi].shard
}

// classWinner returns the slot with the greatest pair hash in class c (the
// first, i.e. smallest name, on a tie) and that hash. Within a class all
// weights are equal, so the greatest hash has the greatest score.
func (r *Ring) classWinner(kh uint64, c class) (int, uint64) {
	slots := r.slots[c.start:c.end]
	bi, bh := 0, mix64(kh^slots[0].seed)
	for i := 1; i < len(slots); i++ {
		if h := mix64(kh ^ slots[i].seed); h > bh {
			bi, bh = i, h
		}
	}
	return c.start + bi, bh
}

// Epoch returns the ring's epoch.
func (r *Ring) Epoch() uint64 { return r.epoch }

// Len returns the number of shards.
func (r *Ring) Len() int { return len(r.shards) }

// Shards returns a copy of the shards, sorted by name.
func (r *Ring) Shards() []Shard { return slices.Clone(r.shards) }

// Contains reports whether the ring has a shard with this name.
func (r *Ring) Contains(name string) bool {
	_, ok := slices.BinarySearchFunc(r.shards, name, func(s Shard, n string) int { return strings.Compare(s.Name, n) })
	return ok
}

// Fingerprint returns a 64-bit hash of the epoch and the shard set (names and
// weights), independent of the order the shards were given in. Two rings
// with the same fingerprint are, barring a hash collision, equal; routers
// compare fingerprints to detect two different rings claiming one epoch.
func (r *Ring) Fingerprint() uint64 { return r.fp }

// Equal reports whether r and o have the same epoch and the same shards.
// Two nil rings are equal.
func (r *Ring) Equal(o *Ring) bool {
	if r == nil || o == nil {
		return r == o
	}
	return r.epoch == o.epoch && slices.Equal(r.shards, o.shards)
}
