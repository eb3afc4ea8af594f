package ring

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// ErrConflict means two different rings claim the same epoch.
var ErrConflict = errors.New("ring: different rings with the same epoch")

// Table publishes the current ring of a router. Readers call Load on every
// command; writers replace the whole ring. It is safe for concurrent use and
// lock-free. The zero value is an empty table, ready to use; a Table must not
// be copied after first use.
type Table struct {
	p atomic.Pointer[Ring]
}

// Load returns the current ring, or nil if none has been stored.
func (t *Table) Load() *Ring { return t.p.Load() }

// Store makes r the current ring unconditionally (nil empties the table).
// Most callers want Adopt, which never goes back to an older epoch.
func (t *Table) Store(r *Ring) { t.p.Store(r) }

// Adopt makes r the current ring if the table is empty or r's epoch is
// higher than the current one, and reports whether it did. A ring of an
// older epoch, or equal to the current one, is ignored. A different ring
// with the current epoch is refused with an error wrapping ErrConflict.
// Adopt of nil does nothing.
func (t *Table) Adopt(r *Ring) (bool, error) {
	if r == nil {
		return false, nil
	}
	for {
		cur := t.p.Load()
		if cur != nil {
			switch {
			case r.epoch < cur.epoch:
				return false, nil
			case r.epoch == cur.epoch:
				if r.fp == cur.fp && r.Equal(cur) {
					return false, nil
				}
				return false, fmt.Errorf("%w: epoch %d: have %q, offered %q", ErrConflict, r.epoch, cur.text, r.text)
			}
		}
		if t.p.CompareAndSwap(cur, r) {
			return true, nil
		}
	}
}
