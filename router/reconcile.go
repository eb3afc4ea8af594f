package router

import (
	"context"
	"strconv"
)

// reconcile is the periodic check of a shard this router is the courier of
// (Config.CrossShard.ReconcileInterval): an intent still in the outbox
// after Config.CrossShard.ReconcileAge had no working courier (its router
// died, the target was down); it is delivered now, counted in
// XStats.Repaired and logged.
func (r *Router) reconcile(ctx context.Context, s Shard) {
	max := strconv.FormatInt(r.xclock.Now().UnixMilli()-r.cfg.CrossShard.ReconcileAge.Milliseconds(), 10)
	rep, err := s.CallArgs(ctx, "x.pending", r.clockNow(), max, strconv.Itoa(r.cfg.CrossShard.Batch))
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("reconcile: outbox not readable", "shard", s.Name(), "err", err)
		}
		return
	}
	for i := 0; i+1 < len(rep.Array); i += 2 {
		id := rep.Array[i]
		if err := r.deliver(ctx, s, id, rep.Array[i+1], true); err != nil {
			r.xstats.Failures.Add(1)
			r.log.Warn("reconcile: old intent still not delivered", "shard", s.Name(), "intent", id, "err", err)
			continue
		}
		r.xstats.Repaired.Add(1)
		r.log.Info("reconcile: delivered an old intent", "shard", s.Name(), "intent", id)
	}
}
