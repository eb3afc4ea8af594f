package worker

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/qless-router/qless-router/client"
)

// PopFunc pops up to n jobs from queue (qless `pop` under the worker's
// name). It is what a Reserver calls.
type PopFunc func(ctx context.Context, queue string, n int) ([]*client.Job, error)

// Reserver picks the queues a worker pops from. It may keep state between
// calls. The worker calls Reserve from Config.Fetchers goroutines at once
// (one when Concurrency <= 8, by default), so it must be safe for
// concurrent use.
type Reserver interface {
	// Reserve pops at most n (>= 1) jobs from queues through pop and
	// returns them. No job and no error means that the queues had no work:
	// the worker waits its idle interval. On an error, the jobs popped
	// before it must still be returned: they are locked to the worker.
	Reserve(ctx context.Context, queues []string, n int, pop PopFunc) ([]*client.Job, error)
}

// ReserverFunc adapts a function to the Reserver interface.
type ReserverFunc func(ctx context.Context, queues []string, n int, pop PopFunc) ([]*client.Job, error)

// Reserve calls f.
func (f ReserverFunc) Reserve(ctx context.Context, queues []string, n int, pop PopFunc) ([]*client.Job, error) {
	return f(ctx, queues, n, pop)
}

var (
	_ Reserver = ReserverFunc(nil)
	_ Reserver = (*roundRobin)(nil)
)

// popInOrder pops from queues in the given order until n jobs are in hand
// or every queue was asked.
func popInOrder(ctx context.Context, queues []string, n int, pop PopFunc) ([]*client.Job, error) {
	var out []*client.Job
	for _, q := range queues {
		jobs, err := pop(ctx, q, n-len(out))
		out = append(out, jobs...)
		if err != nil {
			return out, err
		}
		if len(out) >= n {
			break
		}
	}
	return out, nil
}

// Ordered returns the reserver of qless's ordered worker: it always pops
// from the first queue that has work, so a later queue gets jobs only when
// the earlier ones are empty. It keeps no state.
func Ordered() Reserver { return ReserverFunc(popInOrder) }

// RoundRobin returns a reserver that starts each pop at the queue after the
// one it started at last time, so every queue gets its turn first. Safe for
// concurrent use.
func RoundRobin() Reserver { return &roundRobin{} }

// ShuffledRoundRobin is RoundRobin over an order that is shuffled again at
// the start of every round, so that no queue always follows the same one.
// rng is the source of randomness; nil means math/rand/v2's global source.
// Safe for concurrent use.
func ShuffledRoundRobin(rng *rand.Rand) Reserver {
	return &roundRobin{shuffle: true, rng: rng}
}

type roundRobin struct {
	shuffle bool
	mu      sync.Mutex
	rng     *rand.Rand // guarded by mu
	next    int        // guarded by mu; where the next call starts
	order   []string   // guarded by mu; the shuffled order of this round
	of      []string   // guarded by mu; the queues order was made from
}

// start returns the order of queues for this call and advances the round.
func (r *roundRobin) start(queues []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(queues)
	if n == 0 {
		return nil
	}
	base := queues
	if r.shuffle {
		if r.next%n == 0 || !slices.Equal(r.of, queues) {
			r.of = slices.Clone(queues)
			r.order = slices.Clone(queues)
			shuffle := rand.Shuffle
			if r.rng != nil {
				shuffle = r.rng.Shuffle
			}
			shuffle(n, func(i, j int) { r.order[i], r.order[j] = r.order[j], r.order[i] })
			r.next = 0
		}
		base = r.order
	}
	i := r.next % n
	r.next = (i + 1) % n
	out := make([]string, 0, n)
	out = append(out, base[i:]...)
	return append(out, base[:i]...)
}

// Reserve pops from the queues in rotated order.
func (r *roundRobin) Reserve(ctx context.Context, queues []string, n int, pop PopFunc) ([]*client.Job, error) {
	return popInOrder(ctx, r.start(queues), n, pop)
}
