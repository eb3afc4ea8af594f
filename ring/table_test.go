package ring

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestTableAdopt(t *testing.T) {
	t.Parallel()
	var tab Table
	if got := tab.Load(); got != nil {
		t.Fatalf("Load() on a zero Table = %v, want nil", got)
	}
	r3 := mustNew(t, 3, []Shard{{"a", 1}, {"b", 1}})
	r3same := mustNew(t, 3, []Shard{{"b", 1}, {"a", 1}})
	r3other := mustNew(t, 3, []Shard{{"a", 1}, {"b", 2}})
	r2 := mustNew(t, 2, []Shard{{"a", 1}})
	r4 := mustNew(t, 4, []Shard{{"a", 1}, {"b", 1}, {"c", 1}})

	steps := []struct {
		offer   *Ring
		adopted bool
		err     error
		current *Ring
	}{
		{nil, false, nil, nil},
		{r3, true, nil, r3},
		{r3, false, nil, r3},
		{r3same, false, nil, r3},
		{r2, false, nil, r3},
		{r3other, false, ErrConflict, r3},
		{r4, true, nil, r4},
		{r3, false, nil, r4},
	}
	for i, s := range steps {
		adopted, err := tab.Adopt(s.offer)
		if adopted != s.adopted || !errors.Is(err, s.err) {
			t.Errorf("step %d: Adopt(%v) = %v, %v; want %v, %v", i, s.offer, adopted, err, s.adopted, s.err)
		}
		if got := tab.Load(); got != s.current {
			t.Errorf("step %d: Load() = %v, want %v", i, got, s.current)
		}
	}
	tab.Store(r2)
	if got := tab.Load(); got != r2 {
		t.Errorf("Load() after Store(%v) = %v", r2, got)
	}
}

// TestTableConcurrent runs readers against writers that adopt increasing
// epochs; run with -race. Readers must only ever see epochs go up.
func TestTableConcurrent(t *testing.T) {
	t.Parallel()
	const writers, readers, epochs = 4, 4, 200
	rings := make([]*Ring, epochs+1)
	for e := 1; e <= epochs; e++ {
		rings[e] = mustNew(t, uint64(e), equalShards(1+e%5))
	}
	var tab Table
	tab.Store(rings[1])
	var wg sync.WaitGroup
	adopted := make([]int, writers)
	for w := range writers {
		wg.Go(func() {
			for e := 1 + w; e <= epochs; e += writers {
				ok, err := tab.Adopt(rings[e])
				if err != nil {
					t.Errorf("Adopt(epoch %d): %v", e, err)
					return
				}
				if ok {
					adopted[w]++
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			last := uint64(0)
			for i := range 20_000 {
				r := tab.Load()
				if r.Epoch() < last {
					t.Errorf("Load() went back from epoch %d to %d", last, r.Epoch())
					return
				}
				last = r.Epoch()
				_ = r.Locate(fmt.Sprint(i))
				if last == epochs {
					return
				}
			}
		})
	}
	wg.Wait()
	if got := tab.Load().Epoch(); got != epochs {
		t.Errorf("final epoch = %d, want %d (adopted per writer: %v)", got, epochs, adopted)
	}
}
