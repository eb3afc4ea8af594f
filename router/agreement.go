package router

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Shard-set agreement (DESIGN section 6): every router of a cluster must
// route with the same shard set, or two routers would send one queue to two
// different shards. A router that sees a live router with a different shard
// set refuses every command that touches shards, saying why, until the
// views agree again. The verdict is recomputed on membership changes, off
// the hot path; commands read it with one atomic load.

// ErrRefused wraps the reason a router refuses to route.
var ErrRefused = errors.New("refusing to route")

// refusal returns the current reason to refuse routing, or nil.
func (r *Router) refusal() error {
	if p := r.refuse.Load(); p != nil {
		return *p
	}
	return nil
}

// agreementRecheck is how often the verdict is recomputed besides on
// membership changes (a metadata update can arrive without a join).
const agreementRecheck = time.Second

// watchAgreement recomputes the verdict on every membership change, and
// every agreementRecheck, until ctx ends.
func (r *Router) watchAgreement(ctx context.Context) {
	changes, unsubscribe := r.member.Subscribe()
	defer unsubscribe()
	tick := r.xclock.NewTicker(agreementRecheck)
	defer tick.Stop()
	r.checkAgreement()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
		case <-tick.C():
		}
		r.checkAgreement()
	}
}

func (r *Router) checkAgreement() {
	err := r.member.Agreement()
	if err == nil || !errors.Is(err, ErrShardSetMismatch) {
		if r.refuse.Swap(nil) != nil {
			r.log.Info("routers agree on the shard set again; routing resumed")
		}
		return
	}
	refused := fmt.Errorf("router %s: %w: %w", r.name, ErrRefused, err)
	if old := r.refuse.Swap(&refused); old == nil {
		r.log.Error("routers disagree on the shard set; refusing to route", "err", err)
	}
}
