package router

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// The reconciler (DESIGN section 4) is the periodic check, every
// Config.CrossShard.ReconcileInterval, of the shards this router is the
// courier of. It finds what a crash (a router that died half way, a shard
// that was down) left half done and repairs it, counting each repair in
// XStats and logging it:
//
//   - an intent still in the outbox after Config.CrossShard.ReconcileAge had
//     no working courier: it is delivered now (XStats.RepairedIntents);
//   - a remote dependency edge whose other side is gone or never came
//     (XStats.RepairedEdges). Each shard indexes the edges whose other side
//     may live elsewhere (ql:x:edges, lua/src/80_xshard.lua); an edge last
//     known good more than ReconcileAge ago is checked against the other
//     side: a dependent J (elsewhere) of D (here) that does not exist or does
//     not list D among its dependencies is dropped from D's dependents (a
//     router died between linking and putting J, or J was canceled); a
//     dependency D (elsewhere) of J (here) that does not exist or is complete
//     is resolved (J released if it was the last); one that exists but does
//     not list J is linked again. A good edge is marked good now, and checked
//     again after ReconcileAge.

// reconcile runs one reconciliation pass on s.
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
		r.xstats.RepairedIntents.Add(1)
		r.log.Info("reconcile: delivered an old intent", "shard", s.Name(), "intent", id)
	}
	if _, err := r.reconcileEdges(ctx, s); err != nil && ctx.Err() == nil {
		r.log.Warn("reconcile: remote dependency edges not checked", "shard", s.Name(), "err", err)
	}
}

// reconcileEdges checks the remote dependency edges of s last known good
// more than ReconcileAge ago (at most Batch of them) and repairs those whose
// other side is gone. It returns how many it repaired.
func (r *Router) reconcileEdges(ctx context.Context, s Shard) (int, error) {
	nowMs := r.xclock.Now().UnixMilli()
	max := strconv.FormatInt(nowMs-r.cfg.CrossShard.ReconcileAge.Milliseconds(), 10)
	rep, err := s.CallArgs(ctx, "x.edges", r.clockNow(), max, strconv.Itoa(r.cfg.CrossShard.Batch))
	if err != nil {
		return 0, err
	}
	repaired := 0
	for _, m := range rep.Array {
		fixed, err := r.checkEdge(ctx, s, m, max, strconv.FormatInt(nowMs, 10))
		if err != nil {
			r.xstats.Failures.Add(1)
			return repaired, err
		}
		if fixed != "" {
			repaired++
			r.xstats.Repaired.Add(1)
			r.xstats.RepairedEdges.Add(1)
			kind, a, b, _ := splitEdge(m)
			r.log.Info("reconcile: repaired a remote dependency edge", "shard", s.Name(), "kind", kind, "job", a, "other", b, "repair", fixed)
		}
	}
	return repaired, nil
}

// splitEdge splits an index member "kind<TAB>a<TAB>b".
func splitEdge(m string) (kind, a, b string, ok bool) {
	parts := strings.SplitN(m, "\t", 3)
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// checkEdge checks one indexed edge of s and repairs it; it returns what it
// did when it repaired something ("" when the edge was good or is no longer
// there). max is the score the edge was read under, stamp the time to mark
// a good edge with.
func (r *Router) checkEdge(ctx context.Context, s Shard, m, max, stamp string) (string, error) {
	now := r.clockNow()
	remote, fixed, err := r.edgeHere(ctx, s, m, max)
	if err != nil || !remote {
		return fixed, err
	}
	kind, a, b, ok := splitEdge(m)
	if !ok {
		return "", fmt.Errorf("router: shard %s: bad edge %q", s.Name(), m)
	}
	keep := func() (string, error) {
		_, err := s.CallArgs(ctx, "x.edgefix", now, m, max, "keep", stamp)
		return "", err
	}
	loc, found, err := r.findJob(ctx, b)
	if err != nil {
		return "", err
	}
	if found && loc == s {
		// The other side arrived here (the probe may have delivered its
		// move): the edge is local now.
		_, fixed, err := r.edgeHere(ctx, s, m, max)
		return fixed, err
	}
	switch kind {
	case "dent": // b (elsewhere) is a dependent of a (here)
		if found {
			in, err := loc.Do(ctx, "SISMEMBER", "ql:j:"+b+"-dependencies", a)
			if err != nil {
				return "", err
			}
			if in.Int == 1 {
				return keep()
			}
		}
		rep, err := s.CallArgs(ctx, "x.edgefix", now, m, max, "drop")
		if err != nil || rep.Str != "dropped" {
			return "", err
		}
		return "dropped a dependent that is gone", nil
	case "dep": // b (elsewhere) is a dependency of a (here)
		if found {
			st, err := loc.Do(ctx, "HGET", "ql:j:"+b, "state")
			if err != nil {
				return "", err
			}
			if st.Str != "complete" {
				in, err := loc.Do(ctx, "SISMEMBER", "ql:j:"+b+"-dependents", a)
				if err != nil {
					return "", err
				}
				if in.Int == 1 {
					return keep()
				}
				rep, err := loc.CallArgs(ctx, "x.link", now, b, a, stamp)
				if err != nil {
					return "", err
				}
				if rep.Str == "linked" {
					if _, err := keep(); err != nil {
						return "", err
					}
					return "linked a dependency that had lost its dependent", nil
				}
				if rep.Str == "moving" {
					return "", nil // the next pass finds it where it went
				}
			}
		}
		if _, err := s.CallArgs(ctx, "x.resolve", now, a, b, seconds(r.cfg.CrossShard.AppliedTTL)); err != nil {
			return "", err
		}
		return "resolved a dependency that is gone or complete", nil
	}
	return "", fmt.Errorf("router: shard %s: bad edge %q", s.Name(), m)
}

// edgeHere asks s what it knows of edge m (x.edge): remote when the other
// side is elsewhere; otherwise what s repaired, if anything.
func (r *Router) edgeHere(ctx context.Context, s Shard, m, max string) (remote bool, fixed string, err error) {
	cls, err := s.CallArgs(ctx, "x.edge", r.clockNow(), m, max)
	if err != nil {
		return false, "", err
	}
	switch cls.Str {
	case "remote":
		return true, "", nil
	case "dropped":
		return false, "dropped a dependent that no longer depends on it", nil
	case "resolved":
		return false, "resolved a dependency that is complete", nil
	case "relinked":
		return false, "linked a dependency that had lost its dependent", nil
	}
	return false, "", nil
}
