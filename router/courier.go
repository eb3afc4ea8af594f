package router

import (
	"context"
	"strconv"
)

// Couriers (DESIGN section 4). Each shard's outbox (ql:x:outbox, ql:x:due)
// has one courier at a time: the live router that Owner picks for the key
// "courier:<shard>" among the members of the cluster (every shard's, for a
// router without membership). A courier polls its shards every
// Config.CrossShard.CourierInterval and delivers the intents that are due:
// resolve intents at once, move intents once they are older than
// Config.CrossShard.Grace (the router that recorded a move delivers it
// itself; the courier finishes what a router left half done). Deliveries
// are idempotent, so two couriers overlapping during a membership change do
// no harm.

// courierKey is the rendezvous key of shard's courier.
func courierKey(shard string) string { return "courier:" + shard }

// couriedShards returns the shards this router is the courier of, in name
// order.
func (r *Router) couriedShards() []Shard {
	if r.member == nil {
		out := make([]Shard, 0, len(r.names))
		for _, n := range r.names {
			out = append(out, r.shards[n])
		}
		return out
	}
	members := r.member.Members()
	self := r.cfg.Membership.NodeName
	var out []Shard
	for _, n := range r.names {
		if Owner(members, courierKey(n)) == self {
			out = append(out, r.shards[n])
		}
	}
	return out
}

// runCouriers runs the couriers and the reconciler of this router until ctx
// ends.
func (r *Router) runCouriers(ctx context.Context) {
	t := r.xclock.NewTicker(r.cfg.CrossShard.CourierInterval)
	defer t.Stop()
	rec := r.xclock.NewTicker(r.cfg.CrossShard.ReconcileInterval)
	defer rec.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			for _, s := range r.couriedShards() {
				if _, err := r.courierPass(ctx, s, r.cfg.CrossShard.Grace.Milliseconds()); err != nil && ctx.Err() == nil {
					r.log.Warn("courier pass failed", "shard", s.Name(), "err", err)
				}
			}
		case <-rec.C():
			for _, s := range r.couriedShards() {
				r.reconcile(ctx, s)
			}
		}
	}
}

// courierPass delivers the intents of s's outbox that are due: resolve
// intents, and move intents recorded more than grace ms ago by the router
// clock. It returns how many it delivered; it stops at the first failure
// (the rest wait for the next pass).
func (r *Router) courierPass(ctx context.Context, s Shard, grace int64) (int, error) {
	max := strconv.FormatInt(r.xclock.Now().UnixMilli()-grace, 10)
	rep, err := s.CallArgs(ctx, "x.pending", r.clockNow(), max, strconv.Itoa(r.cfg.CrossShard.Batch))
	if err != nil {
		return 0, err
	}
	n := 0
	for i := 0; i+1 < len(rep.Array); i += 2 {
		if err := r.deliver(ctx, s, rep.Array[i], rep.Array[i+1], true); err != nil {
			r.xstats.Failures.Add(1)
			return n, err
		}
		n++
	}
	return n, nil
}

// DeliverPending makes this router deliver, now, every intent of every
// shard's outbox that a courier would deliver, whatever its age (grace is
// ignored): for tests, tools and a graceful handover. It returns how many
// intents it delivered.
func (r *Router) DeliverPending(ctx context.Context) (int, error) {
	total := 0
	for _, n := range r.names {
		for {
			k, err := r.courierPass(ctx, r.shards[n], -1<<40)
			total += k
			if err != nil {
				return total, err
			}
			if k < r.cfg.CrossShard.Batch {
				break
			}
		}
	}
	return total, nil
}
