package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/qless-router/qless-router/core"
)

// fanOut runs fn on the named shards in parallel under one deadline
// (Config.FanOutTimeout, or ctx's if sooner) and returns the results of the
// shards that answered. The error is nil when every shard answered; the
// first *core.ScriptError in shard-name order when one did (a script error
// is the deterministic answer to the arguments, the same on every shard);
// else a *core.FanOutError naming every shard that did not answer. The
// results of the others are returned in every case, for callers that can
// use a partial answer.
func fanOut[T any](ctx context.Context, r *Router, names []string, fn func(ctx context.Context, s Shard) (T, error)) (map[string]T, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.FanOutTimeout)
	defer cancel()
	type result struct {
		name string
		v    T
		err  error
	}
	ch := make(chan result, len(names))
	for _, n := range names {
		s := r.shards[n]
		go func() {
			v, err := fn(ctx, s)
			ch <- result{n, v, shardErr(s, err)}
		}()
	}
	out := make(map[string]T, len(names))
	errs := make(map[string]error)
	for range names {
		x := <-ch
		if x.err != nil {
			errs[x.name] = x.err
			continue
		}
		out[x.name] = x.v
	}
	if len(errs) == 0 {
		return out, nil
	}
	for _, n := range names {
		var se *core.ScriptError
		if err := errs[n]; err != nil && errors.As(err, &se) {
			return out, se
		}
	}
	return out, core.NewFanOutError(errs)
}

// partialOK reports whether a fan-out's error still leaves a merge worth
// computing and returning along with it: nil, or a *core.FanOutError (some
// shards did not answer; the merge then covers the others). A script error
// is the answer itself.
func partialOK(err error) bool {
	var fe *core.FanOutError
	return err == nil || errors.As(err, &fe)
}

// both runs f and g concurrently and returns their errors joined.
func both(f, g func() error) error {
	ch := make(chan error, 1)
	go func() { ch <- g() }()
	e1 := f()
	e2 := <-ch
	if e1 != nil {
		return e1
	}
	return e2
}

// callString runs a qless command that answers with a string (JSON).
func callString(ctx context.Context, s Shard, argv ...string) (string, error) {
	rep, err := s.CallArgs(ctx, argv...)
	if err != nil {
		return "", err
	}
	if rep.Type != core.ReplyString {
		return "", &core.ShardError{Shard: s.Name(), Err: fmt.Errorf("%s: unexpected reply %s", argv[0], rep)}
	}
	return rep.Str, nil
}

// zrangeScores reads a sorted set with scores by rank: ZRANGE key start stop
// WITHSCORES, or ZREVRANGE when rev.
func zrangeScores(ctx context.Context, s Shard, key string, start, stop int64, rev bool) ([]scored, error) {
	cmd := "ZRANGE"
	if rev {
		cmd = "ZREVRANGE"
	}
	rep, err := s.Do(ctx, cmd, key, strconv.FormatInt(start, 10), strconv.FormatInt(stop, 10), "WITHSCORES")
	if err != nil {
		return nil, err
	}
	items, err := parseWithScores(rep.Array)
	if err != nil {
		return nil, &core.ShardError{Shard: s.Name(), Err: err}
	}
	return items, nil
}

// scoreMap turns scored members into member -> score.
func scoreMap(items []scored) map[string]float64 {
	m := make(map[string]float64, len(items))
	for _, it := range items {
		m[it.member] = it.score
	}
	return m
}

// fanOutCommand serves the commands of class fan-out (DESIGN section 3).
func (r *Router) fanOutCommand(ctx context.Context, args []string) (core.Reply, error) {
	cmd, rest := args[0], args[2:]
	switch cmd {
	case "queues":
		return r.queues(ctx, args)
	case "workers":
		if len(rest) == 0 {
			return r.workers(ctx, args)
		}
		return r.workerJobs(ctx, args)
	case "failed":
		if len(rest) == 0 {
			return r.failedGroups(ctx, args)
		}
		return r.failedPage(ctx, args)
	case "jobs":
		return r.jobsComplete(ctx, args)
	case "tag":
		if rest[0] == "get" {
			return r.tagGet(ctx, args)
		}
		return r.tagTop(ctx, args)
	case "track":
		return r.tracked(ctx, args)
	case "unfail":
		return r.unfail(ctx, args)
	case "worker.deregister":
		if len(rest) == 0 {
			return r.anyShard().CallArgs(ctx, args...)
		}
		return r.everyShard(ctx, args)
	}
	return r.anyShard().CallArgs(ctx, args...)
}

// everyShard sends the same command to every shard and answers with the
// reply of the first (they are all nil for the commands that use it).
func (r *Router) everyShard(ctx context.Context, args []string) (core.Reply, error) {
	res, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (core.Reply, error) {
		return s.CallArgs(ctx, args...)
	})
	if err != nil {
		return core.Reply{}, err
	}
	return res[r.names[0]], nil
}

// queues: `queues` without a queue. Each shard lists the queues of its
// ql:queues with their counts; the merged list is ordered as one Redis
// orders ql:queues (first-seen time ascending, then name), using the scores
// read with ZRANGE ql:queues 0 -1 WITHSCORES. A queue listed by several
// shards (its owner changed, or another shard registered it) appears once,
// with the earliest first-seen time and the sums of its counts (its jobs may
// be split while a migration runs); `paused` is the owner's.
func (r *Router) queues(ctx context.Context, args []string) (core.Reply, error) {
	type shardQueues struct {
		list   []core.QueueCounts
		scores map[string]float64
	}
	res, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (shardQueues, error) {
		var out shardQueues
		err := both(func() error {
			text, err := callString(ctx, s, args...)
			if err != nil {
				return err
			}
			raws, err := decodeList(text)
			if err != nil {
				return &core.ShardError{Shard: s.Name(), Err: err}
			}
			for _, raw := range raws {
				var q core.QueueCounts
				if err := json.Unmarshal(raw, &q); err != nil {
					return &core.ShardError{Shard: s.Name(), Err: err}
				}
				out.list = append(out.list, q)
			}
			return nil
		}, func() error {
			items, err := zrangeScores(ctx, s, "ql:queues", 0, -1, false)
			out.scores = scoreMap(items)
			return err
		})
		return out, err
	})
	if !partialOK(err) {
		return core.Reply{}, err
	}
	rg := r.ring.Load()
	merged := make(map[string]*core.QueueCounts)
	first := make(map[string]float64)
	var order []scored
	for _, n := range r.names {
		sq := res[n]
		for _, q := range sq.list {
			score, ok := sq.scores[q.Name]
			if !ok {
				score = math.Inf(1) // registered after the ZRANGE: newest
			}
			m, seen := merged[q.Name]
			if !seen {
				c := q
				merged[q.Name] = &c
				first[q.Name] = score
				order = append(order, scored{member: q.Name})
				continue
			}
			first[q.Name] = min(first[q.Name], score)
			m.Waiting += q.Waiting
			m.Stalled += q.Stalled
			m.Running += q.Running
			m.Scheduled += q.Scheduled
			m.Depends += q.Depends
			m.Recurring += q.Recurring
			if rg.Locate(q.Name) == n {
				m.Paused = q.Paused
			}
		}
	}
	for i := range order {
		order[i].score = first[order[i].member]
	}
	sortScored(order, false)
	var w jsonWriter
	if len(order) == 0 {
		return core.StringReply("{}"), err
	}
	w.byte('[')
	for i, it := range order {
		if i > 0 {
			w.byte(',')
		}
		writeQueueCounts(&w, merged[it.member])
	}
	w.byte(']')
	return core.StringReply(w.String()), err
}

// workers: `workers` without a name. Each shard prunes and lists its
// registry; a worker known to several shards (it popped from queues of
// several shards) appears once with the sums of its job and stalled counts,
// ordered as one Redis would read ql:workers: most recently seen first (the
// greatest last-seen time of any shard, from ZRANGE ql:workers 0 -1
// WITHSCORES), ties by name descending.
func (r *Router) workers(ctx context.Context, args []string) (core.Reply, error) {
	type shardWorkers struct {
		list   []core.WorkerSummary
		scores map[string]float64
	}
	res, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (shardWorkers, error) {
		var out shardWorkers
		// The script prunes before it lists; reading the scores afterwards
		// keeps pruned workers out (they are ignored anyway: only listed
		// names are reported).
		text, err := callString(ctx, s, args...)
		if err != nil {
			return out, err
		}
		raws, err := decodeList(text)
		if err != nil {
			return out, &core.ShardError{Shard: s.Name(), Err: err}
		}
		for _, raw := range raws {
			var ws core.WorkerSummary
			if err := json.Unmarshal(raw, &ws); err != nil {
				return out, &core.ShardError{Shard: s.Name(), Err: err}
			}
			out.list = append(out.list, ws)
		}
		if len(out.list) == 0 || len(r.names) == 1 {
			return out, nil
		}
		items, err := zrangeScores(ctx, s, "ql:workers", 0, -1, false)
		out.scores = scoreMap(items)
		return out, err
	})
	if !partialOK(err) {
		return core.Reply{}, err
	}
	merged := make(map[string]*core.WorkerSummary)
	last := make(map[string]float64)
	var order []scored
	for _, n := range r.names {
		sw := res[n]
		for _, ws := range sw.list {
			score, ok := sw.scores[ws.Name]
			if !ok {
				score = math.Inf(-1)
			}
			if m, seen := merged[ws.Name]; seen {
				m.Jobs += ws.Jobs
				m.Stalled += ws.Stalled
				last[ws.Name] = max(last[ws.Name], score)
				continue
			}
			c := ws
			merged[ws.Name] = &c
			last[ws.Name] = score
			order = append(order, scored{member: ws.Name})
		}
	}
	if len(order) == 0 {
		return core.StringReply("{}"), err
	}
	for i := range order {
		order[i].score = last[order[i].member]
	}
	sortScored(order, true)
	var w jsonWriter
	w.byte('[')
	for i, it := range order {
		if i > 0 {
			w.byte(',')
		}
		m := merged[it.member]
		w.byte('{')
		w.key("name", true)
		w.str(m.Name)
		w.intField("jobs", false, m.Jobs)
		w.intField("stalled", false, m.Stalled)
		w.byte('}')
	}
	w.byte(']')
	return core.StringReply(w.String()), err
}

// workerJobs: `workers <name>`. The jobs and stalled lists of every shard
// are merged highest lock expiry first (ties by jid descending), as one
// Redis reads ql:w:<name>:jobs, with the expiries read by ZRANGE
// ql:w:<name>:jobs 0 -1 WITHSCORES.
func (r *Router) workerJobs(ctx context.Context, args []string) (core.Reply, error) {
	type shardJobs struct {
		wj     core.WorkerJobs
		scores map[string]float64
	}
	key := "ql:w:" + args[2] + ":jobs"
	res, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (shardJobs, error) {
		var out shardJobs
		text, err := callString(ctx, s, args...)
		if err != nil {
			return out, err
		}
		if err := json.Unmarshal([]byte(text), &out.wj); err != nil {
			return out, &core.ShardError{Shard: s.Name(), Err: err}
		}
		if len(out.wj.Jobs)+len(out.wj.Stalled) == 0 {
			return out, nil
		}
		items, err := zrangeScores(ctx, s, key, 0, -1, false)
		out.scores = scoreMap(items)
		return out, err
	})
	if !partialOK(err) {
		return core.Reply{}, err
	}
	var jobs, stalled []scored
	for _, n := range r.names {
		sj := res[n]
		add := func(dst *[]scored, jids []string) {
			for _, j := range jids {
				score, ok := sj.scores[j]
				if !ok {
					score = math.Inf(-1)
				}
				*dst = append(*dst, scored{member: j, score: score})
			}
		}
		add(&jobs, sj.wj.Jobs)
		add(&stalled, sj.wj.Stalled)
	}
	sortScored(jobs, true)
	sortScored(stalled, true)
	var w jsonWriter
	w.byte('{')
	w.key("jobs", true)
	w.strList(members(jobs))
	w.key("stalled", false)
	w.strList(members(stalled))
	w.byte('}')
	return core.StringReply(w.String()), err
}

// failedGroups: `failed` without a group. The counts of each failure group
// add up across shards. Groups are written in name order (replies are
// compared parsed; one Redis writes Lua table order).
func (r *Router) failedGroups(ctx context.Context, args []string) (core.Reply, error) {
	res, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (map[string]float64, error) {
		text, err := callString(ctx, s, args...)
		if err != nil {
			return nil, err
		}
		var m map[string]float64
		if err := json.Unmarshal([]byte(text), &m); err != nil {
			// `{}` decodes as an empty map; anything else is unexpected.
			return nil, &core.ShardError{Shard: s.Name(), Err: fmt.Errorf("failed: %w", err)}
		}
		return m, nil
	})
	if !partialOK(err) {
		return core.Reply{}, err
	}
	sum := make(map[string]float64)
	for _, m := range res {
		for g, c := range m {
			sum[g] += c
		}
	}
	if len(sum) == 0 {
		return core.StringReply("{}"), err
	}
	groups := make([]string, 0, len(sum))
	for g := range sum {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	var w jsonWriter
	w.byte('{')
	for i, g := range groups {
		w.key(g, i == 0)
		w.num(sum[g])
	}
	w.byte('}')
	return core.StringReply(w.String()), err
}

// allItems is the count used to read a whole list or set through the
// script's paging arguments: large, and still written by Lua as a plain
// integer.
const allItems = 10_000_000_000_000

// failedLists reads, from every shard, the failure group's total and its
// first n jids (newest first; n = 0 reads all), with each jid's failure time
// (the `failure.when` of its job, read with multiget).
func (r *Router) failedLists(ctx context.Context, now, group string, n int64) (map[string][]failedEntry, int64, error) {
	if n <= 0 {
		n = allItems
	}
	type shardFailed struct {
		total   int64
		entries []failedEntry
	}
	res, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (shardFailed, error) {
		var out shardFailed
		text, err := callString(ctx, s, "failed", now, group, "0", strconv.FormatInt(n, 10))
		if err != nil {
			return out, err
		}
		var page core.JobPage
		if err := json.Unmarshal([]byte(text), &page); err != nil {
			return out, &core.ShardError{Shard: s.Name(), Err: err}
		}
		out.total = page.Total
		out.entries, err = failureTimes(ctx, s, now, page.Jobs)
		return out, err
	})
	lists := make(map[string][]failedEntry, len(res))
	var total int64
	for n, sf := range res {
		lists[n] = sf.entries
		total += sf.total
	}
	return lists, total, err
}

// failureTimes returns jids with the failure times of their jobs on s, in
// the given order. A jid whose job is gone (a race) takes the time of the
// one before it, so that it keeps its place in a merge.
func failureTimes(ctx context.Context, s Shard, now string, jids []string) ([]failedEntry, error) {
	out := make([]failedEntry, len(jids))
	if len(jids) == 0 {
		return out, nil
	}
	text, err := callString(ctx, s, append([]string{"multiget", now}, jids...)...)
	if err != nil {
		return nil, err
	}
	raws, err := decodeList(text)
	if err != nil {
		return nil, &core.ShardError{Shard: s.Name(), Err: err}
	}
	when := make(map[string]float64, len(raws))
	for _, raw := range raws {
		h, err := decodeJobHead(raw)
		if err != nil {
			return nil, &core.ShardError{Shard: s.Name(), Err: err}
		}
		when[h.JID] = h.Failure.When
	}
	prev := math.Inf(1)
	for i, j := range jids {
		w, ok := when[j]
		if !ok {
			w = prev
		}
		out[i] = failedEntry{jid: j, when: w}
		prev = w
	}
	return out, nil
}

// mergeFailed merges the newest-first lists of the shards into one, newest
// failure first. Each shard's own order (its LPUSH order) is kept; between
// shards the greater failure time comes first, and equal times (failures
// within the same second) go to the shard whose name sorts first.
func (r *Router) mergeFailed(lists map[string][]failedEntry) []string {
	ordered := make([][]failedEntry, 0, len(lists))
	for _, n := range r.names {
		if l := lists[n]; len(l) > 0 {
			ordered = append(ordered, l)
		}
	}
	merged := kway(ordered, func(a, b failedEntry) bool { return a.when > b.when })
	out := make([]string, len(merged))
	for i, e := range merged {
		out[i] = e.jid
	}
	return out
}

// failedPage: `failed <group> [start [limit]]`. The total is the sum of the
// shards' totals; the jobs are the page [start, start+limit-1] of the merged
// newest-first list: each shard returns its first start+limit jids, their
// failure times come from multiget, and mergeFailed orders them.
func (r *Router) failedPage(ctx context.Context, args []string) (core.Reply, error) {
	start, err1 := intArg(args, 3, 0)
	limit, err2 := intArg(args, 4, 25)
	if err1 != nil || err2 != nil {
		// Not numbers (the script's error), or not exact integers.
		return r.anyShard().CallArgs(ctx, args...)
	}
	now, group := args[1], args[2]
	stop := start + limit - 1
	n := int64(0) // all
	if start >= 0 && stop >= 0 {
		n = stop + 1
	}
	lists, total, err := r.failedLists(ctx, now, group, n)
	if !partialOK(err) {
		return core.Reply{}, err
	}
	// With start and stop both >= 0, merged holds at least the first
	// stop+1 of the union; otherwise it holds all of it.
	merged := r.mergeFailed(lists)
	lo, hi := rankRange(len(merged), start, stop)
	var w jsonWriter
	w.byte('{')
	w.intField("total", true, total)
	w.key("jobs", false)
	w.strList(merged[lo:hi])
	w.byte('}')
	return core.StringReply(w.String()), err
}

// jobsComplete: `jobs complete [offset [count]]`, one Redis's ZREVRANGE
// ql:completed offset offset+count-1: each shard gives its first
// offset+count completed jids with their completion times (ZREVRANGE ...
// WITHSCORES), merged most recent first (ties by jid descending), then the
// page is cut.
func (r *Router) jobsComplete(ctx context.Context, args []string) (core.Reply, error) {
	offset, err1 := intArg(args, 3, 0)
	count, err2 := intArg(args, 4, 25)
	if err1 != nil || err2 != nil {
		return r.anyShard().CallArgs(ctx, args...)
	}
	start, stop := offset, offset+count-1
	fetch := int64(-1)
	if start >= 0 && stop >= 0 {
		fetch = stop
	}
	res, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) ([]scored, error) {
		return zrangeScores(ctx, s, "ql:completed", 0, fetch, true)
	})
	if !partialOK(err) {
		return core.Reply{}, err
	}
	var all []scored
	for _, n := range r.names {
		all = append(all, res[n]...)
	}
	sortScored(all, true)
	lo, hi := rankRange(len(all), start, stop)
	return core.ArrayReply(members(all[lo:hi])), err
}

// tagGet: `tag get <tag> [offset [count]]`. total adds the shards' ZCARD
// ql:t:<tag>; the jobs are one Redis's ZRANGE offset..offset+count-1 of the
// union: each shard gives its first offset+count members with their tag
// times, merged ascending by time, ties by jid.
func (r *Router) tagGet(ctx context.Context, args []string) (core.Reply, error) {
	if len(args) < 4 {
		return r.anyShard().CallArgs(ctx, args...) // the script's "Arg tag missing"
	}
	offset, err1 := intArg(args, 4, 0)
	count, err2 := intArg(args, 5, 25)
	if err1 != nil || err2 != nil {
		return r.anyShard().CallArgs(ctx, args...)
	}
	key := "ql:t:" + args[3]
	start, stop := offset, offset+count-1
	fetch := int64(-1)
	if start >= 0 && stop >= 0 {
		fetch = stop
	}
	type shardTag struct {
		total int64
		items []scored
	}
	res, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (shardTag, error) {
		var out shardTag
		err := both(func() error {
			rep, err := s.Do(ctx, "ZCARD", key)
			out.total = rep.Int
			return err
		}, func() error {
			var err error
			out.items, err = zrangeScores(ctx, s, key, 0, fetch, false)
			return err
		})
		return out, err
	})
	if !partialOK(err) {
		return core.Reply{}, err
	}
	var all []scored
	var total int64
	for _, n := range r.names {
		all = append(all, res[n].items...)
		total += res[n].total
	}
	sortScored(all, false)
	lo, hi := rankRange(len(all), start, stop)
	var w jsonWriter
	w.byte('{')
	w.intField("total", true, total)
	w.key("jobs", false)
	w.strList(members(all[lo:hi]))
	w.byte('}')
	return core.StringReply(w.String()), err
}

// tagTop: `tag top [offset [count]]`. The usage counters of ql:tags add up
// across shards (ZRANGE ql:tags 0 -1 WITHSCORES); the tags whose sum is at
// least 2 are listed highest first, ties by name descending (one Redis's
// ZREVRANGEBYSCORE ql:tags +inf 2 LIMIT offset count).
func (r *Router) tagTop(ctx context.Context, args []string) (core.Reply, error) {
	offset, err1 := intArg(args, 3, 0)
	count, err2 := intArg(args, 4, 25)
	if err1 != nil || err2 != nil {
		return r.anyShard().CallArgs(ctx, args...)
	}
	res, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) ([]scored, error) {
		return zrangeScores(ctx, s, "ql:tags", 0, -1, false)
	})
	if !partialOK(err) {
		return core.Reply{}, err
	}
	sum := make(map[string]float64)
	for _, items := range res {
		for _, it := range items {
			sum[it.member] += it.score
		}
	}
	var top []scored
	for tag, c := range sum {
		if c >= 2 {
			top = append(top, scored{member: tag, score: c})
		}
	}
	sortScored(top, true)
	lo, hi := limitRange(len(top), offset, count)
	var w jsonWriter
	w.strList(members(top[lo:hi]))
	return core.StringReply(w.String()), err
}

// tracked: `track` without arguments. Each shard lists the jobs of its
// ql:tracked and the tracked jids whose job is gone; the merged lists are
// ordered by tracking time (ZRANGE ql:tracked 0 -1 WITHSCORES), ties by jid.
// A jid whose job some shard still has is not expired (its tracking entry
// stayed behind when it moved), and a job listed twice (a move in flight)
// is reported once, from the shard that is not its tombstone.
func (r *Router) tracked(ctx context.Context, args []string) (core.Reply, error) {
	type shardTrack struct {
		jobs    []json.RawMessage
		expired []string
		scores  map[string]float64
	}
	res, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (shardTrack, error) {
		var out shardTrack
		err := both(func() error {
			text, err := callString(ctx, s, args...)
			if err != nil {
				return err
			}
			var wire struct {
				Jobs    json.RawMessage `json:"jobs"`
				Expired json.RawMessage `json:"expired"`
			}
			if err := json.Unmarshal([]byte(text), &wire); err != nil {
				return &core.ShardError{Shard: s.Name(), Err: err}
			}
			if out.jobs, err = decodeList(string(wire.Jobs)); err != nil {
				return &core.ShardError{Shard: s.Name(), Err: err}
			}
			if out.expired, err = decodeStrings(wire.Expired); err != nil {
				return &core.ShardError{Shard: s.Name(), Err: err}
			}
			return nil
		}, func() error {
			items, err := zrangeScores(ctx, s, "ql:tracked", 0, -1, false)
			out.scores = scoreMap(items)
			return err
		})
		return out, err
	})
	if !partialOK(err) {
		return core.Reply{}, err
	}
	type jobAt struct {
		raw   json.RawMessage
		state string
		score float64
	}
	jobs := make(map[string]jobAt)
	expiredAt := make(map[string]float64)
	for _, n := range r.names {
		st := res[n]
		for _, raw := range st.jobs {
			h, err := decodeJobHead(raw)
			if err != nil {
				return core.Reply{}, &core.ShardError{Shard: n, Err: err}
			}
			score, ok := st.scores[h.JID]
			if !ok {
				score = math.Inf(1)
			}
			if prev, seen := jobs[h.JID]; seen && prev.state != stateMoving {
				continue
			}
			jobs[h.JID] = jobAt{raw: raw, state: h.State, score: score}
		}
		for _, j := range st.expired {
			score, ok := st.scores[j]
			if !ok {
				score = math.Inf(1)
			}
			if prev, seen := expiredAt[j]; !seen || score < prev {
				expiredAt[j] = score
			}
		}
	}
	var jobOrder, expOrder []scored
	for j, at := range jobs {
		jobOrder = append(jobOrder, scored{member: j, score: at.score})
	}
	for j, score := range expiredAt {
		if _, live := jobs[j]; !live {
			expOrder = append(expOrder, scored{member: j, score: score})
		}
	}
	sortScored(jobOrder, false)
	sortScored(expOrder, false)
	raws := make([]json.RawMessage, len(jobOrder))
	for i, it := range jobOrder {
		raws[i] = jobs[it.member].raw
	}
	var w jsonWriter
	w.byte('{')
	w.key("jobs", true)
	w.rawList(raws)
	w.key("expired", false)
	w.strList(members(expOrder))
	w.byte('}')
	return core.StringReply(w.String()), err
}

// unfail: `unfail <queue> <group> [count]`. One Redis moves the oldest
// count jobs of the group. The router reads the oldest count jids of the
// group on every shard (LRANGE ql:f:<group> -count -1) with their failure
// times, picks the globally oldest count, and asks each shard to unfail as
// many as it holds of them; the reply is the sum.
//
// A shard that does not own <queue> moves the jobs it put back to the
// owner in the same step (unfailOn, docs/cross-shard.md).
func (r *Router) unfail(ctx context.Context, args []string) (core.Reply, error) {
	count, err := intArg(args, 4, 25)
	if len(args) < 4 || err != nil || count <= 0 {
		// Missing arguments, a bad count, or a count Redis rejects: the
		// script's (or Redis's) own error, from one shard.
		return r.anyShard().CallArgs(ctx, args...)
	}
	now, queue, group := args[1], args[2], args[3]
	res, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) ([]failedEntry, error) {
		rep, err := s.Do(ctx, "LRANGE", "ql:f:"+group, strconv.FormatInt(-count, 10), "-1")
		if err != nil {
			return nil, err
		}
		entries, err := failureTimes(ctx, s, now, rep.Array)
		if err != nil {
			return nil, err
		}
		slices.Reverse(entries) // oldest first
		return entries, nil
	})
	if err != nil {
		return core.Reply{}, err
	}
	type tagged struct {
		shard string
		e     failedEntry
	}
	lists := make([][]tagged, 0, len(res))
	for _, n := range r.names {
		var l []tagged
		for _, e := range res[n] {
			l = append(l, tagged{n, e})
		}
		if len(l) > 0 {
			lists = append(lists, l)
		}
	}
	oldest := kway(lists, func(a, b tagged) bool { return a.e.when < b.e.when })
	if int64(len(oldest)) > count {
		oldest = oldest[:count]
	}
	take := make(map[string]int64)
	var names []string
	for _, t := range oldest {
		if take[t.shard] == 0 {
			names = append(names, t.shard)
		}
		take[t.shard]++
	}
	if len(names) == 0 {
		return core.IntReply(0), nil
	}
	moved, err := fanOut(ctx, r, names, func(ctx context.Context, s Shard) (int64, error) {
		rep, err := r.unfailOn(ctx, s, now, queue, group, strconv.FormatInt(take[s.Name()], 10))
		return rep.Int, err
	})
	var sum int64
	for _, v := range moved {
		sum += v
	}
	if err != nil {
		return core.Reply{}, err
	}
	return core.IntReply(sum), nil
}
