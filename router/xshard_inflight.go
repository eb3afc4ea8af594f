package router

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/qless-router/qless-router/core"
)

// With CrossShard.AsyncImport, a router replies to a command that moved a
// job as soon as the move is recorded on the source shard (the job's
// tombstone and the intent, one transaction with the command), and imports
// it on the target in the background. Until the import lands, the commands
// of this router that could see the job where it goes wait for it: by-queue
// commands on its new queue, by-job commands on its jid, and every fan-out.
// So a client of this router reads its own writes, as on one Redis; a
// client of another router may, for about one round trip, not see the job
// in its new queue yet (a by-jid command finds the tombstone and finishes
// the move itself).

// inflight counts the moves a router is importing in the background, by
// target queue and by jid. Safe for concurrent use.
type inflight struct {
	total   atomic.Int64 // moves in flight (the fast path reads only this)
	waiting atomic.Int64 // commands waiting for moves (tests)

	mu   sync.Mutex
	keys map[string]int // "q:<queue>" and "j:<jid>" -> moves in flight; guarded by mu
	done chan struct{}  // closed (and replaced) when a move lands; guarded by mu
}

func newInflight() *inflight {
	return &inflight{keys: make(map[string]int), done: make(chan struct{})}
}

// add records a move of jid into queue.
func (f *inflight) add(queue, jid string) {
	f.mu.Lock()
	f.keys["q:"+queue]++
	f.keys["j:"+jid]++
	f.total.Add(1)
	f.mu.Unlock()
}

// remove records that a move of jid into queue landed (or failed).
func (f *inflight) remove(queue, jid string) {
	f.mu.Lock()
	for _, k := range []string{"q:" + queue, "j:" + jid} {
		if f.keys[k]--; f.keys[k] <= 0 {
			delete(f.keys, k)
		}
	}
	f.total.Add(-1)
	close(f.done)
	f.done = make(chan struct{})
	f.mu.Unlock()
}

// wait returns once no move of the given keys ("q:<queue>", "j:<jid>") is
// in flight; with no keys, once no move at all is. It gives up with ctx.
func (f *inflight) wait(ctx context.Context, keys ...string) error {
	for {
		if f.total.Load() == 0 {
			return nil
		}
		f.mu.Lock()
		busy := len(keys) == 0 && f.total.Load() > 0
		for _, k := range keys {
			busy = busy || f.keys[k] > 0
		}
		done := f.done
		f.mu.Unlock()
		if !busy {
			return nil
		}
		f.waiting.Add(1)
		select {
		case <-done:
			f.waiting.Add(-1)
		case <-ctx.Done():
			f.waiting.Add(-1)
			return ctx.Err()
		}
	}
}

// awaitMoves makes a client command wait for the background imports it
// could observe (see above). Without moves in flight it costs one atomic
// load.
func (r *Router) awaitMoves(ctx context.Context, args []string, route core.Route) error {
	if r.moves.total.Load() == 0 {
		return nil
	}
	var keys []string
	switch route.Class {
	case core.ClassQueue:
		for _, q := range route.Keys {
			keys = append(keys, "q:"+q)
		}
		// put, requeue and recur also name a jid that may be moving.
		switch {
		case (args[0] == "put" || args[0] == "requeue") && len(args) > 4:
			keys = append(keys, "j:"+args[4])
		case args[0] == "recur" && len(args) > 3:
			keys = append(keys, "j:"+args[3])
		}
	case core.ClassJob:
		if args[0] == "multiget" || args[0] == "cancel" || args[0] == "timeout" && len(route.Keys) > 1 {
			return r.moves.wait(ctx) // they look on every shard
		}
		for _, j := range route.Keys {
			keys = append(keys, "j:"+j)
		}
	case core.ClassFanOut:
		return r.moves.wait(ctx)
	default:
		return nil
	}
	return r.moves.wait(ctx, keys...)
}
