package ring

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// String returns the canonical text form of the ring,
// "<epoch>:<name>=<weight>,..." with the shards sorted by name, e.g.
// "3:a=1,b=1,c=2". Parse(r.String()) returns a ring equal to r.
func (r *Ring) String() string { return r.text }

// encode builds the canonical text form of shards sorted by name.
func encode(epoch uint64, sorted []Shard) string {
	var b strings.Builder
	b.Grow(24 + len(sorted)*(MaxNameLen/4+8))
	b.WriteString(strconv.FormatUint(epoch, 10))
	for i, s := range sorted {
		if i == 0 {
			b.WriteByte(':')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(s.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(s.Weight))
	}
	return b.String()
}

// Parse reads the text form "<epoch>:<name>[=<weight>],..." written by
// String. The epoch and weights are decimal; a shard without "=<weight>" has
// weight 1; the shards may come in any order. No spaces are allowed. The
// result is validated as by New.
func Parse(s string) (*Ring, error) {
	ep, list, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("ring: parse %.32q: missing ':' after the epoch", s)
	}
	epoch, err := strconv.ParseUint(ep, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("ring: parse %.32q: epoch: %w", s, errors.Unwrap(err))
	}
	if list == "" {
		return nil, fmt.Errorf("ring: parse %.32q: no shards", s)
	}
	shards := make([]Shard, 0, strings.Count(list, ",")+1)
	for item := range strings.SplitSeq(list, ",") {
		name, ws, hasWeight := strings.Cut(item, "=")
		w := uint64(1)
		if hasWeight {
			w, err = strconv.ParseUint(ws, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("ring: parse %.32q: shard %.32q: weight: %w", s, name, errors.Unwrap(err))
			}
		}
		shards = append(shards, Shard{Name: name, Weight: int(w)})
	}
	r, err := New(epoch, shards)
	if err != nil {
		return nil, fmt.Errorf("ring: parse %.32q: %w", s, trimPrefix(err))
	}
	return r, nil
}

// trimPrefix drops the "ring: " prefix of an error from New, so that Parse's
// message does not repeat it.
func trimPrefix(err error) error {
	if msg, ok := strings.CutPrefix(err.Error(), "ring: "); ok {
		return errors.New(msg)
	}
	return err
}
