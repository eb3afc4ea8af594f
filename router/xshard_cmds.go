package router

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/shard"
)

// The qless commands that may cross shards (docs/cross-shard.md).

// maxMoveAttempts bounds the retries of a command that met a tombstone (and
// delivered its move first) or a job that was not where the router thought.
const maxMoveAttempts = 3

// option returns the value of the last `name value` pair of args from
// index from on (the scripts read options in order, the last one wins).
func option(args []string, from int, name string) (string, bool) {
	v, ok := "", false
	for i := from; i+1 < len(args); i += 2 {
		if args[i] == name {
			v, ok = args[i+1], true
		}
	}
	return v, ok
}

// jsonList decodes a JSON list of strings; nil when text is not one (the
// script gives its own error for that).
func jsonList(text string) []string {
	var l []string
	if json.Unmarshal([]byte(text), &l) != nil {
		return nil
	}
	return l
}

// remoteDeps registers jid as a dependent of each of deps that lives on
// another shard than on (x.link there) and returns those that were linked:
// the caller adds them to jid with x.deps. Dependencies on on itself, and
// those that are complete or exist nowhere, are left to the script. fresh
// are the edges this call created (not there before), for unlinkFresh when
// the command then fails.
func (r *Router) remoteDeps(ctx context.Context, on Shard, jid string, deps []string) (linked []string, fresh []remoteEdge, err error) {
	stamp := strconv.FormatInt(r.xclock.Now().UnixMilli(), 10)
	for _, d := range distinct(deps) {
		for attempt := 0; attempt < maxMoveAttempts; attempt++ {
			s, found, err := r.findJob(ctx, d)
			if err != nil {
				return nil, fresh, err
			}
			if !found || s == on {
				break
			}
			rep, err := s.CallArgs(ctx, "x.link", r.clockNow(), d, jid, stamp)
			if err != nil {
				return nil, fresh, err
			}
			if rep.Str == "moving" {
				if _, err := r.finishMove(ctx, s, d); err != nil {
					return nil, fresh, err
				}
				continue
			}
			if rep.Str == "linked" || rep.Str == "already" {
				linked = append(linked, d)
			}
			if rep.Str == "linked" {
				fresh = append(fresh, remoteEdge{dep: d, on: s})
			}
			break
		}
	}
	return linked, fresh, nil
}

// remoteEdge is a dependents edge that remoteDeps created on shard on.
type remoteEdge struct {
	dep string
	on  Shard
}

// unlinkFresh takes back the edges remoteDeps created for a command that
// then failed (a failure is left to the reconciler).
func (r *Router) unlinkFresh(ctx context.Context, now, jid string, fresh []remoteEdge) {
	for _, e := range fresh {
		if _, err := e.on.CallArgs(ctx, "x.unlink", now, e.dep, jid); err != nil {
			r.log.Warn("remote dependency edge of a failed command not dropped; left to the reconciler", "jid", jid, "dep", e.dep, "err", err)
		}
	}
}

// withDeps appends x.deps of linked to argvs (a put or complete that places
// jid into queue at now with delay); stamp is the router's clock in ms.
func withDeps(argvs [][]string, now, jid, delay, queue, stamp string, linked []string) [][]string {
	if len(linked) == 0 {
		return argvs
	}
	if delay == "" {
		delay = "0"
	}
	return append(argvs, append([]string{"x.deps", now, jid, delay, queue, stamp}, linked...))
}

// putX serves put and requeue with several shards: `put worker queue jid
// klass data delay [opts]`. The jid directory (claim) says where the job
// lives: a new jid, or one living on the queue's owner, is put there; an
// existing jid elsewhere is put where it is and moved to the owner in the
// same step (moveTx). Dependencies on other shards are linked first.
func (r *Router) putX(ctx context.Context, args []string, queue string) (core.Reply, error) {
	if len(args) < 5 {
		return r.byQueue(ctx, args, []string{queue})
	}
	jid, now := args[4], args[1]
	owner := r.owner(queue)
	var deps []string
	if text, ok := option(args, 8, "depends"); ok {
		deps = jsonList(text)
	}
	delay := ""
	if len(args) > 7 {
		delay = args[7]
	}
	for attempt := 0; ; attempt++ {
		at, err := r.claim(ctx, jid, owner)
		if err != nil {
			// The jid's home shard is down: a put must not fail for a shard
			// that does not own its queue. The job is put on the owner
			// unchecked (a jid living elsewhere would be duplicated).
			r.log.Warn("put: jid directory unavailable; putting on the queue owner", "jid", jid, "err", err)
			at = owner
		}
		linked, fresh, err := r.remoteDeps(ctx, at, jid, deps)
		if err != nil {
			return core.Reply{}, err
		}
		var old []string
		if len(deps) > 0 {
			// A non-empty list replaces the job's dependencies: the script
			// drops the other halves of the old edges on its own shard,
			// the router those on other shards (afterwards).
			rep, err := at.Do(ctx, "SMEMBERS", "ql:j:"+jid+"-dependencies")
			if err != nil {
				return core.Reply{}, err
			}
			old = rep.Array
		}
		argvs := withDeps([][]string{args}, now, jid, delay, queue, strconv.FormatInt(r.xclock.Now().UnixMilli(), 10), linked)
		var reps []core.Reply
		var errs []error
		if at == owner {
			if len(argvs) == 1 {
				rep, err := owner.CallArgs(ctx, args...)
				reps, errs = []core.Reply{rep}, []error{err}
				if err != nil && !shard.Moving(err) {
					return rep, err
				}
			} else if reps, errs, err = callTx(ctx, owner, argvs...); err != nil {
				return core.Reply{}, err
			}
		} else if reps, errs, err = r.moveTx(ctx, at, owner, now, queue, "job", jid, true, argvs...); err != nil {
			return core.Reply{}, err
		}
		if shard.Moving(errs[0]) && attempt < maxMoveAttempts {
			if _, err := r.finishMove(ctx, at, jid); err != nil {
				return core.Reply{}, err
			}
			continue
		}
		if errs[0] == nil {
			r.jids.put(jobKey(jid), owner.Name())
			r.unlinkRemote(ctx, at, now, jid, without(old, deps))
		} else {
			r.unlinkFresh(ctx, now, jid, fresh)
		}
		return reps[0], errs[0]
	}
}

// without returns the members of list that are not in drop.
func without(list, drop []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(drop, s) {
			out = append(out, s)
		}
	}
	return out
}

// unlinkRemote drops jid from the dependents of each of deps that lives on
// another shard than on (whose script dropped the local ones): jid no
// longer depends on them. A failure is left to the reconciler.
func (r *Router) unlinkRemote(ctx context.Context, on Shard, now, jid string, deps []string) {
	for _, d := range distinct(deps) {
		loc, found, err := r.findJob(ctx, d)
		if err == nil && (!found || loc == on) {
			continue
		}
		if err == nil {
			_, err = loc.CallArgs(ctx, "x.unlink", now, d, jid)
		}
		if err != nil {
			r.log.Warn("remote dependency edge not dropped; left to the reconciler", "jid", jid, "dep", d, "err", err)
		}
	}
}

// jobShard returns the cached shard of jid, else looks for it.
func (r *Router) jobShard(ctx context.Context, jid string) (Shard, error) {
	if name, ok := r.jids.get(jobKey(jid)); ok {
		return r.shards[name], nil
	}
	return r.locate(ctx, jid, false)
}

// toQueue serves complete with `next` and retry, which put the job into
// queue: when queue's owner is not the job's shard, the command runs on the
// job's shard and the job moves to the owner in the same step.
// Dependencies of complete on jobs of other shards are linked first and
// added in the same transaction (x.deps), wherever the job goes.
func (r *Router) toQueue(ctx context.Context, args []string, jid, queue string) (core.Reply, error) {
	dst := r.owner(queue)
	now := args[1]
	var deps []string
	if text, ok := option(args, 6, "depends"); ok && args[0] == "complete" {
		deps = jsonList(text)
	}
	for attempt := 0; ; attempt++ {
		s, err := r.jobShard(ctx, jid)
		if err != nil {
			return core.Reply{}, err
		}
		linked, fresh, err := r.remoteDeps(ctx, s, jid, deps)
		if err != nil {
			return core.Reply{}, err
		}
		delay, _ := option(args, 6, "delay")
		argvs := withDeps([][]string{args}, now, jid, delay, queue, strconv.FormatInt(r.xclock.Now().UnixMilli(), 10), linked)
		// (Not byJob when s == dst: if the job is not on s after all, the
		// command must follow it with a move, not run where it is.)
		var reps []core.Reply
		var errs []error
		if s == dst && len(argvs) == 1 {
			rep, cerr := s.CallArgs(ctx, args...)
			var se *core.ScriptError
			if cerr != nil && !errors.As(cerr, &se) {
				return rep, cerr
			}
			reps, errs = []core.Reply{rep}, []error{cerr}
		} else if s == dst {
			reps, errs, err = callTx(ctx, s, argvs...)
		} else {
			reps, errs, err = r.moveTx(ctx, s, dst, now, queue, "job", jid, true, argvs...)
		}
		if err != nil {
			return core.Reply{}, err
		}
		if errs[0] != nil {
			r.unlinkFresh(ctx, now, jid, fresh)
		}
		if shard.NotHere(errs[0]) && attempt < maxMoveAttempts {
			r.jids.drop(jobKey(jid), s.Name())
			if shard.Moving(errs[0]) {
				if _, err := r.finishMove(ctx, s, jid); err != nil {
					return core.Reply{}, err
				}
				continue
			}
			loc, lerr := r.locate(ctx, jid, false)
			if lerr == nil && loc != s {
				continue
			}
			return reps[0], errs[0]
		}
		rep := reps[0]
		if errs[0] == nil {
			r.jids.put(jobKey(jid), dst.Name())
			// complete answered before x.deps placed the job in depends.
			if len(reps) > 1 && reps[1].Int > 0 && rep.Str == "waiting" {
				rep = core.StringReply("depends")
			}
		}
		return rep, errs[0]
	}
}

// unfailOn runs `unfail queue group n` on s; when s does not own queue, the
// jobs it put back move to the owner in the same step.
func (r *Router) unfailOn(ctx context.Context, s Shard, now, queue, group, n string) (core.Reply, error) {
	dst := r.owner(queue)
	args := []string{"unfail", now, queue, group, n}
	if s == dst {
		return s.CallArgs(ctx, args...)
	}
	reps, errs, err := r.moveTx(ctx, s, dst, now, queue, "", "", true, args)
	if err != nil {
		return core.Reply{}, err
	}
	return reps[0], errs[0]
}

// recurUpdateX serves recur.update: a `queue` pair whose owner is not the
// template's shard moves the template there in the same step.
func (r *Router) recurUpdateX(ctx context.Context, args []string, jid string) (core.Reply, error) {
	queue, ok := option(args, 3, "queue")
	if !ok {
		return r.byJob(ctx, args, jid)
	}
	dst := r.owner(queue)
	for attempt := 0; ; attempt++ {
		var s Shard
		if name, ok := r.jids.get(recurKey(jid)); ok {
			s = r.shards[name]
		} else {
			var err error
			if s, err = r.locate(ctx, jid, true); err != nil {
				return core.Reply{}, err
			}
		}
		var reps []core.Reply
		var errs []error
		if s == dst {
			// (Not byJob: a template that is not on s after all must move.)
			rep, cerr := s.CallArgs(ctx, args...)
			var se *core.ScriptError
			if cerr != nil && !errors.As(cerr, &se) {
				return rep, cerr
			}
			reps, errs = []core.Reply{rep}, []error{cerr}
		} else {
			var err error
			if reps, errs, err = r.moveTx(ctx, s, dst, args[1], queue, "recur", jid, true, args); err != nil {
				return core.Reply{}, err
			}
		}
		if errs[0] == nil {
			r.jids.put(recurKey(jid), dst.Name())
		}
		if shard.NotHere(errs[0]) && attempt < maxMoveAttempts {
			r.jids.drop(recurKey(jid), s.Name())
			loc, lerr := r.locate(ctx, jid, true)
			if lerr == nil && loc != s {
				continue
			}
		}
		return reps[0], errs[0]
	}
}

// recurX serves recur: a template of that jid on another shard than the
// queue's owner is replaced there (the script keeps its count, as one
// Redis would) and moves to the owner in the same step.
func (r *Router) recurX(ctx context.Context, args []string, queue string) (core.Reply, error) {
	if len(args) < 4 {
		return r.byQueue(ctx, args, []string{queue})
	}
	jid, owner := args[3], r.owner(queue)
	res, err := r.probeTemplates(ctx, jid)
	if err != nil {
		return core.Reply{}, err
	}
	// A template in flight (only its move markers are left) is delivered
	// first, so that this recur replaces it where it lands.
	if delivered, err := r.finishTemplateMoves(ctx, jid, res); err != nil {
		return core.Reply{}, err
	} else if delivered {
		if res, err = r.probeTemplates(ctx, jid); err != nil {
			return core.Reply{}, err
		}
	}
	if res[owner.Name()].found {
		return r.byQueue(ctx, args, []string{queue})
	}
	for _, n := range r.names {
		if !res[n].found {
			continue
		}
		reps, errs, err := r.moveTx(ctx, r.shards[n], owner, args[1], queue, "recur", jid, true, args)
		if err != nil {
			return core.Reply{}, err
		}
		if errs[0] == nil {
			r.jids.put(recurKey(jid), owner.Name())
		}
		return reps[0], errs[0]
	}
	return r.byQueue(ctx, args, []string{queue})
}

// dependsX serves depends: the script handles the dependencies on the job's
// own shard; those on other shards are linked there afterwards (on: x.link,
// then x.deps adds them to the job) or unlinked (off: x.unlink). For `off
// all` the job's dependencies are read in the same transaction as the
// command.
func (r *Router) dependsX(ctx context.Context, args []string, jid string) (core.Reply, error) {
	if len(args) < 5 || (args[3] != "on" && args[3] != "off") {
		return r.byJob(ctx, args, jid)
	}
	now := args[1]
	all := args[3] == "off" && args[4] == "all"
	for attempt := 0; ; attempt++ {
		s, err := r.jobShard(ctx, jid)
		if err != nil {
			return core.Reply{}, err
		}
		var rep, deps core.Reply
		var cerr error
		if all {
			reps, errs, err := callTx(ctx, s, []string{"x.depsof", now, jid}, args)
			if err != nil {
				return core.Reply{}, err
			}
			deps, rep, cerr = reps[0], reps[1], errs[1]
		} else {
			rep, cerr = s.CallArgs(ctx, args...)
			var se *core.ScriptError
			if cerr != nil && !errors.As(cerr, &se) {
				return rep, cerr
			}
		}
		if shard.NotHere(cerr) && attempt < maxMoveAttempts {
			r.jids.drop(jobKey(jid), s.Name())
			if shard.Moving(cerr) {
				if _, err := r.finishMove(ctx, s, jid); err != nil {
					return core.Reply{}, err
				}
				continue
			}
			if loc, lerr := r.locate(ctx, jid, false); lerr == nil && loc != s {
				continue
			}
		}
		if cerr != nil {
			return rep, cerr
		}
		r.jids.put(jobKey(jid), s.Name())
		switch {
		case args[3] == "on":
			linked, _, err := r.remoteDeps(ctx, s, jid, args[4:])
			if err != nil {
				return core.Reply{}, err
			}
			if len(linked) > 0 {
				stamp := strconv.FormatInt(r.xclock.Now().UnixMilli(), 10)
				if _, err := s.CallArgs(ctx, append([]string{"x.deps", now, jid, "0", "", stamp}, linked...)...); err != nil {
					return core.Reply{}, err
				}
			}
		case all:
			r.unlinkRemote(ctx, s, now, jid, deps.Array)
		default:
			r.unlinkRemote(ctx, s, now, jid, args[4:])
		}
		return rep, nil
	}
}

// pipeShard is implemented by shards that can pipeline a raw command
// after a script call (*shard.Shard). Safe for concurrent use.
type pipeShard interface {
	CallThenDo(ctx context.Context, argv []string, raw ...string) (core.Reply, error, core.Reply, error)
}

var _ pipeShard = (*shard.Shard)(nil)

// pendingResolves counts a shard's resolve intents (due at 0).
var pendingResolves = []string{"ZCOUNT", "ql:x:due", "-inf", "0"}

// completeX serves complete without `next`. Completing a job can leave
// intents to release its dependents on other shards: they are delivered at
// once, before the reply, as one Redis releases them in the same call. On
// the common path (the jid cached) the command and a ZCOUNT of the outbox's
// resolve intents share one round trip.
func (r *Router) completeX(ctx context.Context, args []string, jid string) (core.Reply, error) {
	if name, ok := r.jids.get(jobKey(jid)); ok {
		s := r.shards[name]
		if p, ok := s.(pipeShard); ok {
			rep, err, n, nerr := p.CallThenDo(ctx, args, pendingResolves...)
			if !answersMissing("complete", rep, err) {
				r.learnJobReply("complete", jobKey(jid), s, rep, err)
				if err == nil && nerr == nil && n.Int > 0 {
					r.resolveNow(ctx, s, jid)
				}
				return rep, err
			}
			// Not there after all: byJob looks for it (nothing was written).
		} else {
			// A shard without pipelining (a test double): its resolve
			// intents wait for the courier.
			return r.byJob(ctx, args, jid)
		}
	}
	rep, err := r.byJob(ctx, args, jid)
	if err != nil || rep.Str != "complete" {
		return rep, err
	}
	if name, ok := r.jids.get(jobKey(jid)); ok {
		s := r.shards[name]
		if n, err := s.Do(ctx, pendingResolves...); err == nil && n.Int > 0 {
			r.resolveNow(ctx, s, jid)
		}
	}
	return rep, err
}

// resolveNow delivers s's resolve intents (a complete of jid left some);
// a failure is left to the courier.
func (r *Router) resolveNow(ctx context.Context, s Shard, jid string) {
	if _, err := r.courierPass(ctx, s, r.xclock.Now().UnixMilli()); err != nil {
		r.xstats.Failures.Add(1)
		r.log.Warn("complete: dependents on other shards not released yet; left to the courier", "jid", jid, "err", err)
	}
}

// unlinkCanceled drops, on each shard of a cancel, the dependents edges of
// its jids to dependents that are canceled in the same call on another
// shard (x.unlink), so that each shard's script applies the dependents rule
// to the others only.
func (r *Router) unlinkCanceled(ctx context.Context, now string, order []string, groups map[string][]string, loc map[string]string, found map[string]map[string]jobCopy, named map[string]bool) {
	for _, n := range order {
		for _, j := range groups[n] {
			var drop []string
			for _, d := range found[j][n].dependents {
				if named[d] && loc[d] != n {
					drop = append(drop, d)
				}
			}
			if len(drop) == 0 {
				continue
			}
			if _, err := r.shards[n].CallArgs(ctx, append([]string{"x.unlink", now, j}, drop...)...); err != nil {
				r.log.Warn("cancel: remote edges not dropped", "jid", j, "shard", n, "err", err)
			}
		}
	}
}

// locateLive is locateJobs for commands that act on several jids (cancel,
// timeout): a jid whose only copy is the tombstone of a move in flight has
// its move delivered first, so that the command finds the job where it went
// (a tombstone is not the job: cancel would skip it, timeout refuse it).
func (r *Router) locateLive(ctx context.Context, now string, jids []string) (map[string]string, map[string]map[string]jobCopy, error) {
	for attempt := 0; ; attempt++ {
		loc, found, err := r.locateJobs(ctx, now, jids)
		if err != nil {
			return nil, nil, err
		}
		moved := false
		for _, j := range distinct(jids) {
			c, ok := found[j][loc[j]]
			if !ok || c.state != stateMoving {
				continue
			}
			if attempt >= maxMoveAttempts {
				break
			}
			if _, err := r.finishMove(ctx, r.shards[loc[j]], j); err != nil {
				return nil, nil, err
			}
			moved = true
		}
		if !moved {
			return loc, found, nil
		}
	}
}

// unlinkCanceledDeps drops, on other shards, the dependents edges of the
// canceled jobs (whose scripts dropped only the halves on their own
// shards): a canceled job depends on nothing. copies are the jobs as
// located before the cancel.
func (r *Router) unlinkCanceledDeps(ctx context.Context, now string, jids []string, loc map[string]string, found map[string]map[string]jobCopy) {
	for _, j := range distinct(jids) {
		c, ok := found[j][loc[j]]
		if !ok || c.state == "complete" || c.state == stateMoving {
			continue
		}
		var h struct {
			Dependencies json.RawMessage `json:"dependencies"`
		}
		if json.Unmarshal(c.raw, &h) != nil {
			continue
		}
		deps, err := decodeStrings(h.Dependencies)
		if err != nil || len(deps) == 0 {
			continue
		}
		r.unlinkRemote(ctx, r.shards[loc[j]], now, j, deps)
	}
}

// mentionedElsewhere returns the jids of a cancel that live on other shards
// than n and are dependents of the jobs of group (on n): sent to n after its
// group, they count as mentioned for its script's dependents rule (they do
// not exist on n, so it has nothing else to check or do for them).
func mentionedElsewhere(n string, group []string, loc map[string]string, found map[string]map[string]jobCopy, named map[string]bool) []string {
	var out []string
	seen := make(map[string]bool)
	for _, j := range group {
		for _, d := range found[j][n].dependents {
			if named[d] && loc[d] != n && !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}
