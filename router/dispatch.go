package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/qless-router/qless-router/core"
)

// Qless runs one qless command: args is what a client gives after
// `EVALSHA <sha> 0`, i.e. the command name, now, and the command's
// arguments. The command is routed by its class in core's command table
// (DESIGN section 3; docs/routing.md):
//
//   - no command, an unknown command, or class any: one healthy shard,
//     whose script gives the exact answer or error;
//   - by queue: the queue's owner shard (several queues: each owner, in
//     parallel);
//   - by job: the shard holding the jid (jid cache, else a parallel probe);
//   - fan-out: every shard in parallel, merged as one Redis would answer;
//   - broadcast: every shard.
//
// A *core.ScriptError is the script's own answer, to be passed to the
// client verbatim. A *core.ShardError names a shard that could not answer a
// command that needed it. A *core.FanOutError names the shards that did not
// answer a fan-out: the command has failed; for the listings (queues,
// workers, failed, jobs complete, tag get/top, track, multiget) the reply
// returned with it is the merge of the shards that did answer, for a
// caller that can show a partial answer as such (the RESP front end cannot,
// and returns the error).
//
// With a single shard every command goes to it unchanged.
func (r *Router) Qless(ctx context.Context, args []string) (core.Reply, error) {
	if err := r.refusal(); err != nil {
		return core.Reply{}, err
	}
	if s := r.single(); s != nil {
		return s.CallArgs(ctx, args...)
	}
	if len(args) < 2 {
		return r.anyShard().CallArgs(ctx, args...)
	}
	c, ok := core.Lookup(args[0])
	if !ok {
		if internalCommand(args[0]) {
			return core.Reply{}, errInternalCommand(args[0])
		}
		return r.anyShard().CallArgs(ctx, args...)
	}
	route := c.Route(args[2:])
	if err := r.awaitMoves(ctx, args, route); err != nil {
		return core.Reply{}, err
	}
	switch route.Class {
	case core.ClassQueue:
		// Cross-shard cases (xshard_cmds.go).
		switch args[0] {
		case "put", "requeue":
			return r.putX(ctx, args, route.Keys[0])
		case "recur":
			return r.recurX(ctx, args, route.Keys[0])
		}
		return r.byQueue(ctx, args, route.Keys)
	case core.ClassJob:
		switch args[0] {
		case "complete", "retry":
			if route.Queue != "" {
				return r.toQueue(ctx, args, route.Keys[0], route.Queue)
			}
			if args[0] == "complete" {
				return r.completeX(ctx, args, route.Keys[0])
			}
		case "depends":
			return r.dependsX(ctx, args, route.Keys[0])
		case "recur.update":
			return r.recurUpdateX(ctx, args, route.Keys[0])
		case "multiget":
			return r.multiget(ctx, args)
		case "cancel":
			return r.cancel(ctx, args)
		case "timeout":
			if len(route.Keys) > 1 {
				return r.timeout(ctx, args)
			}
		}
		return r.byJob(ctx, args, route.Keys[0])
	case core.ClassFanOut:
		return r.fanOutCommand(ctx, args)
	case core.ClassBroadcast:
		return r.broadcastConfig(ctx, args)
	}
	return r.anyShard().CallArgs(ctx, args...)
}

// byQueue serves a command of class queue: the owner shard of the queue
// answers. With several queues (pause, unpause, queue.forget) the queues are
// grouped by owner and each owner gets its own queues, in parallel; the
// reply is nil, as for one Redis.
func (r *Router) byQueue(ctx context.Context, args []string, queues []string) (core.Reply, error) {
	if len(queues) > 1 {
		return r.manyQueues(ctx, args, queues)
	}
	if args[0] == "stats" {
		return r.stats(ctx, args, queues[0])
	}
	s := r.owner(queues[0])
	rep, err := s.CallArgs(ctx, args...)
	if err == nil {
		r.learnQueueReply(args[0], s, rep)
	}
	return rep, err
}

func (r *Router) manyQueues(ctx context.Context, args []string, queues []string) (core.Reply, error) {
	rg := r.ring.Load()
	byOwner := make(map[string][]string)
	var owners []string
	for _, q := range queues {
		o := rg.Locate(q)
		if _, ok := byOwner[o]; !ok {
			owners = append(owners, o)
		}
		byOwner[o] = append(byOwner[o], q)
	}
	res, err := fanOut(ctx, r, owners, func(ctx context.Context, s Shard) (core.Reply, error) {
		argv := append([]string{args[0], args[1]}, byOwner[s.Name()]...)
		return s.CallArgs(ctx, argv...)
	})
	if err != nil {
		return core.Reply{}, err
	}
	return res[owners[0]], nil
}

// learnQueueReply fills the jid cache from the reply of a command of class
// queue: the jid that put, requeue or recur answers, and the jids of the
// jobs that pop and peek return, are on the shard that answered.
func (r *Router) learnQueueReply(cmd string, s Shard, rep core.Reply) {
	switch cmd {
	case "put", "requeue":
		if rep.Type == core.ReplyString {
			r.jids.put(jobKey(rep.Str), s.Name())
		}
	case "recur":
		if rep.Type == core.ReplyString {
			r.jids.put(recurKey(rep.Str), s.Name())
		}
	case "pop", "peek":
		if rep.Type != core.ReplyString || rep.Str == "{}" {
			return
		}
		var jobs []struct {
			JID string `json:"jid"`
		}
		if json.Unmarshal([]byte(rep.Str), &jobs) != nil {
			return
		}
		for _, j := range jobs {
			r.jids.put(jobKey(j.JID), s.Name())
		}
	}
}

// byJob serves a command of class job with one jid. On the common path the
// jid cache names the shard and the command takes one shard round trip. If
// that shard answers as if it had no such job (answersMissing), the entry
// is dropped, the jid is looked for on every shard, and the command is sent
// again once if it lives elsewhere. Without a cache entry the jid is looked
// for first (see locate).
func (r *Router) byJob(ctx context.Context, args []string, jid string) (core.Reply, error) {
	cmd := args[0]
	recur := isRecurCommand(cmd)
	key := jobKey(jid)
	if recur {
		key = recurKey(jid)
	}
	// unrecur answers 1 whether or not the template exists, so a stale
	// entry could not be noticed: it always looks.
	if cmd != "unrecur" {
		if name, ok := r.jids.get(key); ok {
			s := r.shards[name]
			rep, err := s.CallArgs(ctx, args...)
			if !answersMissing(cmd, rep, err) {
				r.learnJobReply(cmd, key, s, rep, err)
				return rep, err
			}
			r.jids.drop(key, name)
			loc, lerr := r.locate(ctx, jid, recur)
			if lerr != nil || loc.Name() == name {
				return rep, err
			}
			return r.callJob(ctx, loc, key, args)
		}
	}
	loc, err := r.locate(ctx, jid, recur)
	if err != nil {
		return core.Reply{}, err
	}
	return r.callJob(ctx, loc, key, args)
}

func (r *Router) callJob(ctx context.Context, s Shard, key string, args []string) (core.Reply, error) {
	rep, err := s.CallArgs(ctx, args...)
	r.learnJobReply(args[0], key, s, rep, err)
	return rep, err
}

// learnJobReply keeps the cache in step with a by-job answer.
func (r *Router) learnJobReply(cmd, key string, s Shard, rep core.Reply, err error) {
	switch {
	case cmd == "unrecur":
		r.jids.drop(key, "")
	case err != nil:
	case (cmd == "get" || cmd == "recur.get") && rep.Type == core.ReplyNil:
		r.jids.drop(key, s.Name())
	default:
		r.jids.put(key, s.Name())
	}
}

// jobCopy is one shard's copy of a job, as multiget returns it.
type jobCopy struct {
	raw        json.RawMessage
	state      string
	dependents []string
}

// multigetAll asks the named shards for the given jids (multiget, in
// parallel) and returns, for each jid that some shard has, the copies by
// shard name.
func (r *Router) multigetAll(ctx context.Context, now string, groups map[string][]string) (map[string]map[string]jobCopy, error) {
	names := make([]string, 0, len(groups))
	for _, n := range r.names {
		if len(groups[n]) > 0 {
			names = append(names, n)
		}
	}
	res, err := fanOut(ctx, r, names, func(ctx context.Context, s Shard) (map[string]jobCopy, error) {
		text, err := callString(ctx, s, append([]string{"multiget", now}, groups[s.Name()]...)...)
		if err != nil {
			return nil, err
		}
		raws, err := decodeList(text)
		if err != nil {
			return nil, &core.ShardError{Shard: s.Name(), Err: err}
		}
		out := make(map[string]jobCopy, len(raws))
		for _, raw := range raws {
			var h struct {
				JID        string          `json:"jid"`
				State      string          `json:"state"`
				Dependents json.RawMessage `json:"dependents"`
			}
			if err := json.Unmarshal(raw, &h); err != nil {
				return nil, &core.ShardError{Shard: s.Name(), Err: fmt.Errorf("multiget: %w", err)}
			}
			deps, err := decodeStrings(h.Dependents)
			if err != nil {
				return nil, &core.ShardError{Shard: s.Name(), Err: err}
			}
			out[h.JID] = jobCopy{raw: raw, state: h.State, dependents: deps}
		}
		return out, nil
	})
	found := make(map[string]map[string]jobCopy)
	for n, m := range res {
		for jid, c := range m {
			if found[jid] == nil {
				found[jid] = make(map[string]jobCopy)
			}
			found[jid][n] = c
		}
	}
	return found, err
}

// holder picks the shard of a jid among the shards that returned a copy.
func (r *Router) holder(jid string, copies map[string]jobCopy) string {
	names := make([]string, 0, len(copies))
	for _, n := range r.names {
		if _, ok := copies[n]; ok {
			names = append(names, n)
		}
	}
	return r.pickHolder(jid, names, func(n string) string { return copies[n].state })
}

func distinct(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// multiget: the jobs that exist, in argument order (a jid given twice is
// listed twice, as one Redis does), missing jids left out, `{}` when none.
// When the cache knows every jid, each of those shards gets only its jids;
// if one of them is not where the cache said, or otherwise, every shard is
// asked for all of them.
func (r *Router) multiget(ctx context.Context, args []string) (core.Reply, error) {
	now, jids := args[1], distinct(args[2:])
	var found map[string]map[string]jobCopy
	groups := make(map[string][]string)
	cached := true
	for _, j := range jids {
		n, ok := r.jids.get(jobKey(j))
		if !ok {
			cached = false
			break
		}
		groups[n] = append(groups[n], j)
	}
	if cached {
		f, err := r.multigetAll(ctx, now, groups)
		if err == nil && len(f) == len(jids) {
			found = f
		}
	}
	var err error
	if found == nil {
		for _, n := range r.names {
			groups[n] = jids
		}
		if found, err = r.multigetAll(ctx, now, groups); !partialOK(err) {
			return core.Reply{}, err
		}
	}
	out := make([]json.RawMessage, 0, len(args)-2)
	where := make(map[string]string, len(found))
	for _, j := range jids {
		if copies, ok := found[j]; ok {
			where[j] = r.holder(j, copies)
			r.jids.put(jobKey(j), where[j])
		}
	}
	for _, j := range args[2:] {
		if n, ok := where[j]; ok {
			out = append(out, found[j][n].raw)
		}
	}
	var w jsonWriter
	w.rawList(out)
	return core.StringReply(w.String()), err
}

// locateJobs finds the shard of every jid of a list with one multiget on
// every shard (fresh: the cache is not trusted, because cancel of a jid that
// is not on the shard asked is not an error). A jid that no shard has is
// answered for by the script of any shard identically; it is placed with
// its neighbour in the list (the shard of the nearest located jid before
// it, else after it; the home shard of the first jid when none is located),
// so that one shard answers for a run and publishes its events in argument
// order. It returns the copies too.
func (r *Router) locateJobs(ctx context.Context, now string, jids []string) (map[string]string, map[string]map[string]jobCopy, error) {
	groups := make(map[string][]string, len(r.names))
	uniq := distinct(jids)
	for _, n := range r.names {
		groups[n] = uniq
	}
	found, err := r.multigetAll(ctx, now, groups)
	if err != nil {
		return nil, nil, err
	}
	loc := make(map[string]string, len(uniq))
	for _, j := range uniq {
		if copies, ok := found[j]; ok {
			loc[j] = r.holder(j, copies)
		}
	}
	first := ""
	for _, j := range jids {
		if n, ok := loc[j]; ok {
			first = n
			break
		}
	}
	if first == "" {
		first = r.ring.Load().Locate(jids[0])
	}
	prev := first
	for _, j := range jids {
		if n, ok := loc[j]; ok {
			prev = n
			continue
		}
		loc[j] = prev
	}
	return loc, found, nil
}

// cancel: `cancel jid...`. The jids are located (locateJobs) and grouped by
// shard, each group in argument order. When they all live on one shard, the
// command goes there whole and the script applies the dependents rule
// itself. Otherwise the rule ("<jid> is a dependency of <dependent> but is
// not mentioned to be canceled") is checked for the whole argument list
// before any shard writes, from the dependents that multiget reported; the
// first offending jid's shard is then sent its group so that its script
// gives the exact error. Then every shard cancels its group, one shard
// after the other in order of first appearance (the events of different
// shards can still interleave differently from one Redis). The reply is the
// argument list, as one Redis answers.
//
// Dependents on other shards are in the job's dependents too (cross-shard
// dependencies, docs/cross-shard.md); the halves of the canceled jobs'
// dependency edges that live on other shards are dropped afterwards
// (unlinkCanceledDeps).
func (r *Router) cancel(ctx context.Context, args []string) (core.Reply, error) {
	now, jids := args[1], args[2:]
	loc, found, err := r.locateLive(ctx, now, jids)
	if err != nil {
		return core.Reply{}, err
	}
	// A jid that exists nowhere only publishes a "canceled" event with false
	// fields, the same on any shard: cancel it with the first jid that
	// exists, so that a call whose jobs share a shard stays one script call
	// (one atomic step, events in argument order, as on one Redis).
	for _, j := range jids {
		if _, ok := found[j]; ok {
			for _, m := range jids {
				if _, ok := found[m]; !ok {
					loc[m] = loc[j]
				}
			}
			break
		}
	}
	groups := make(map[string][]string)
	var order []string
	for _, j := range jids {
		n := loc[j]
		if _, ok := groups[n]; !ok {
			order = append(order, n)
		}
		groups[n] = append(groups[n], j)
	}
	defer func() {
		for _, j := range jids {
			r.jids.drop(jobKey(j), "")
		}
	}()
	if len(order) == 1 {
		rep, err := r.shards[order[0]].CallArgs(ctx, args...)
		if err == nil {
			r.unlinkCanceledDeps(ctx, now, jids, loc, found)
		}
		return rep, err
	}
	named := make(map[string]bool, len(jids))
	for _, j := range jids {
		named[j] = true
	}
	for _, j := range distinct(jids) {
		c, ok := found[j][loc[j]]
		if !ok {
			continue
		}
		offending := false
		for _, d := range c.dependents {
			if !named[d] {
				offending = true
				break
			}
		}
		if !offending {
			continue
		}
		n := loc[j]
		argv := append(append([]string{"cancel", now}, groups[n]...), mentionedElsewhere(n, groups[n], loc, found, named)...)
		_, err := r.shards[n].CallArgs(ctx, argv...)
		if err != nil {
			return core.Reply{}, err
		}
		// The shard found no offence after all (the dependents changed
		// meanwhile) and has canceled its group: go on with the others.
		delete(groups, n)
		order = deleteName(order, n)
		break
	}
	// Edges between jobs canceled together on different shards are dropped
	// first, so that each shard's dependents rule sees only the others.
	r.unlinkCanceled(ctx, now, order, groups, loc, found, named)
	// One shard after the other, in order of first appearance, so that the
	// events come out close to argument order.
	for _, n := range order {
		if _, err := r.shards[n].CallArgs(ctx, append([]string{"cancel", now}, groups[n]...)...); err != nil {
			return core.Reply{}, err
		}
	}
	r.unlinkCanceledDeps(ctx, now, jids, loc, found)
	return core.ArrayReply(append([]string{}, jids...)), nil
}

func deleteName(list []string, name string) []string {
	out := list[:0:0]
	for _, n := range list {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

// timeout with several jids: one Redis times them out in argument order and
// stops at the first error, keeping the earlier ones timed out. The router
// locates the jids (locateJobs) and sends each maximal run of consecutive
// jids that live on the same shard to that shard, run after run; the first
// error ends the command.
func (r *Router) timeout(ctx context.Context, args []string) (core.Reply, error) {
	now, jids := args[1], args[2:]
	loc, _, err := r.locateLive(ctx, now, jids)
	if err != nil {
		return core.Reply{}, err
	}
	var rep core.Reply
	for i := 0; i < len(jids); {
		n := loc[jids[i]]
		j := i + 1
		for j < len(jids) && loc[jids[j]] == n {
			j++
		}
		rep, err = r.shards[n].CallArgs(ctx, append([]string{"timeout", now}, jids[i:j]...)...)
		if err != nil {
			return rep, err
		}
		i = j
	}
	return rep, nil
}

// queueKeyKinds are the per-queue sorted sets that Read serves.
var queueKeyKinds = map[string]bool{"work": true, "locks": true, "scheduled": true, "depends": true, "recur": true}

// parseQueueKey splits ql:q:<queue>-<kind>.
func parseQueueKey(key string) (queue, kind string, ok bool) {
	rest, ok := strings.CutPrefix(key, "ql:q:")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 || !queueKeyKinds[rest[i+1:]] {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

// Read runs one of the read-only key commands qless clients issue, on the
// owner shard of the queue named in the key: `ZCARD ql:q:<queue>-<kind>`
// (kind work, locks, scheduled, depends or recur) and `ZSCORE
// ql:q:<queue>-recur <jid>`. args[0] is the command name (any case). Other
// commands and keys are refused with an error that says what is served.
func (r *Router) Read(ctx context.Context, args []string) (core.Reply, error) {
	if err := r.refusal(); err != nil {
		return core.Reply{}, err
	}
	if len(args) >= 2 {
		queue, kind, ok := parseQueueKey(args[1])
		switch cmd := upper(args[0]); {
		case ok && cmd == "ZCARD" && len(args) == 2,
			ok && cmd == "ZSCORE" && kind == "recur" && len(args) == 3:
			argv := append([]string{cmd}, args[1:]...)
			return r.owner(queue).Do(ctx, argv...)
		}
	}
	return core.Reply{}, fmt.Errorf("router: %q is not served: only ZCARD ql:q:<queue>-<work|locks|scheduled|depends|recur> and ZSCORE ql:q:<queue>-recur <jid> are", strings.Join(args, " "))
}

// stats: `stats <queue> <date>`. The queue's owner answers; the other
// shards are asked too, because a queue's statistics of a day stay on the
// shard that owned it that day (DESIGN section 2). When more than one shard
// has statistics for that queue and day they are merged: counters and
// histograms add (core.MergeStats); count, mean and variance combine with
// the parallel formula from each shard's exact accumulators (total, mean and
// vk of ql:s:<wait|run>:<day>:<queue>, read raw, since the replies carry
// them rounded to 14 digits). The owner must answer; a shard other than the
// owner that does not answer is left out (and logged), so that a shard that
// is down fails only the statistics of its own queues.
func (r *Router) stats(ctx context.Context, args []string, queue string) (core.Reply, error) {
	owner := r.ring.Load().Locate(queue)
	res, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (core.Reply, error) {
		return s.CallArgs(ctx, args...)
	})
	var se *core.ScriptError
	if errors.As(err, &se) {
		return core.Reply{}, se
	}
	ownerReply, ok := res[owner]
	if !ok {
		var fe *core.FanOutError
		if errors.As(err, &fe) {
			for _, e := range fe.Errs {
				if e.Shard == owner {
					return core.Reply{}, e
				}
			}
		}
		return core.Reply{}, &core.ShardError{Shard: owner, Err: core.ErrShardDown}
	}
	if err != nil {
		r.log.Warn("stats: shards did not answer; their statistics are left out", "queue", queue, "err", err)
	}
	var parts []core.Stats
	var holders []string
	for _, n := range r.names {
		rep, ok := res[n]
		if !ok || rep.Type != core.ReplyString {
			continue
		}
		var st core.Stats
		if err := json.Unmarshal([]byte(rep.Str), &st); err != nil {
			return core.Reply{}, &core.ShardError{Shard: n, Err: fmt.Errorf("stats: %w", err)}
		}
		if statsEmpty(st) {
			continue
		}
		parts = append(parts, st)
		holders = append(holders, n)
	}
	switch len(parts) {
	case 0:
		return ownerReply, nil
	case 1:
		return res[holders[0]], nil
	}
	merged := core.MergeStats(parts...)
	if len(args) > 3 {
		if date, ok := luaNumber(args[3]); ok {
			suffix := string(appendJSONNumber(nil, date-luaMod(date, 86400))) + ":" + queue
			if err := r.exactSummaries(ctx, holders, suffix, &merged); err != nil {
				r.log.Warn("stats: exact accumulators unavailable; merged from the rounded replies", "queue", queue, "err", err)
			}
		}
	}
	return core.StringReply(encodeStats(merged)), nil
}

// exactSummaries recomputes the means and standard deviations of merged
// from the shards' raw accumulators (HMGET total mean vk).
func (r *Router) exactSummaries(ctx context.Context, holders []string, suffix string, merged *core.Stats) error {
	kinds := []string{"wait", "run"}
	res, err := fanOut(ctx, r, holders, func(ctx context.Context, s Shard) ([]core.Moments, error) {
		out := make([]core.Moments, len(kinds))
		for i, k := range kinds {
			rep, err := s.Do(ctx, "HMGET", "ql:s:"+k+":"+suffix, "total", "mean", "vk")
			if err != nil {
				return nil, err
			}
			if len(rep.Array) != 3 || rep.Array[0] == "" {
				continue
			}
			var f [3]float64
			for j, v := range rep.Array {
				if f[j], err = strconv.ParseFloat(v, 64); err != nil && v != "" {
					return nil, fmt.Errorf("HMGET ql:s:%s:%s: %w", k, suffix, err)
				}
			}
			out[i] = core.Moments{N: f[0], Mean: f[1], M2: f[2]}
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	for i, sum := range []*core.StatsSummary{&merged.Wait, &merged.Run} {
		var acc core.Moments
		for _, n := range holders {
			acc = acc.Add(res[n][i])
		}
		if int64(acc.N) != sum.Count {
			return fmt.Errorf("%s: accumulators count %v, replies %d (changed meanwhile)", kinds[i], acc.N, sum.Count)
		}
		if acc.N <= 0 {
			continue
		}
		sum.Mean, sum.Std = acc.Mean, 0
		if acc.N > 1 && acc.M2 > 0 {
			sum.Std = math.Sqrt(acc.M2 / (acc.N - 1))
		}
	}
	return nil
}

// broadcastConfig: config.set and config.unset write the replicated
// configuration to every shard. The first healthy shard runs the script
// (which validates the arguments and publishes the one config_set or
// config_unset event one Redis would publish); the others then get the same
// change as a raw HSET/HDEL of ql:config, so that subscribers see the event
// once. Every shard also gets the change's stamp (configsync.go). A shard
// that does not answer is named in the error; the change stands on the
// others, and the config sync brings it to the missed shard later.
func (r *Router) broadcastConfig(ctx context.Context, args []string) (core.Reply, error) {
	first := r.anyShard()
	rep, err := first.CallArgs(ctx, args...)
	if err != nil {
		return rep, err
	}
	var op, value string
	switch args[0] {
	case "config.set":
		op, value = "set", args[3]
	case "config.unset":
		op = "unset"
	default:
		return rep, nil
	}
	option, stamp := args[2], r.configStamp(op)
	writes := configWrites(op, option, value, stamp)
	if _, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (core.Reply, error) {
		cmds := writes
		if s == first {
			cmds = writes[1:] // the script wrote the value itself
		}
		for _, cmd := range cmds {
			if _, err := s.Do(ctx, cmd...); err != nil {
				return core.Reply{}, err
			}
		}
		return core.Reply{}, nil
	}); err != nil {
		return core.Reply{}, err
	}
	return rep, nil
}
