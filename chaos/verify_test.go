//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/redis/rueidis"
)

// copyOf is one job hash found on one shard.
type copyOf struct {
	Shard, State string
	Completed    bool   // in the shard's ql:completed
	LastPut      string // queue of the last "put" entry of the job's history
}

// shardState is what one shard holds, read straight from its Redis.
type shardState struct {
	Jobs    map[string]copyOf // jid -> the job hash on this shard
	Pending int64             // intents in the outbox (ql:x:outbox)
}

// readShard reads every job hash of this run (jids with prefix) and the
// outbox of shard name from node s (the shard's node, or its primary of
// the moment), bypassing the routers.
func readShard(ctx context.Context, s *node, name, prefix string) (shardState, error) {
	rc, err := dial(s.Addr())
	if err != nil {
		return shardState{}, err
	}
	defer rc.Close()
	st := shardState{Jobs: map[string]copyOf{}}
	if st.Pending, err = rc.Do(ctx, rc.B().Hlen().Key("ql:x:outbox").Build()).AsInt64(); err != nil {
		return st, fmt.Errorf("%s: HLEN ql:x:outbox: %w", s.Name, err)
	}
	var jids []string
	var cursor uint64
	for range 100000 {
		e, err := rc.Do(ctx, rc.B().Scan().Cursor(cursor).Match("ql:j:"+prefix+"*").Count(1000).Type("hash").Build()).AsScanEntry()
		if err != nil {
			return st, fmt.Errorf("%s: SCAN: %w", s.Name, err)
		}
		for _, k := range e.Elements {
			jids = append(jids, strings.TrimPrefix(k, "ql:j:"))
		}
		if cursor = e.Cursor; cursor == 0 {
			break
		}
	}
	for chunk := range slices.Chunk(jids, 500) {
		cmds := make(rueidis.Commands, 0, 3*len(chunk))
		for _, jid := range chunk {
			cmds = append(cmds,
				rc.B().Hget().Key("ql:j:"+jid).Field("state").Build(),
				rc.B().Zscore().Key("ql:completed").Member(jid).Build(),
				rc.B().Lrange().Key("ql:j:"+jid+"-history").Start(0).Stop(-1).Build())
		}
		res := rc.DoMulti(ctx, cmds...)
		for i, jid := range chunk {
			state, err := res[3*i].ToString()
			if err != nil {
				return st, fmt.Errorf("%s: HGET ql:j:%s state: %w", s.Name, jid, err)
			}
			_, zerr := res[3*i+1].AsFloat64()
			hist, err := res[3*i+2].AsStrSlice()
			if err != nil {
				return st, fmt.Errorf("%s: history of %s: %w", s.Name, jid, err)
			}
			st.Jobs[jid] = copyOf{Shard: name, State: state, Completed: zerr == nil, LastPut: lastPut(hist)}
		}
	}
	return st, nil
}

// lastPut returns the queue of the last history entry [when, "put", {q}].
func lastPut(hist []string) string {
	for i := len(hist) - 1; i >= 0; i-- {
		var e []json.RawMessage
		if json.Unmarshal([]byte(hist[i]), &e) != nil || len(e) < 3 {
			continue
		}
		var what string
		var det struct{ Q string }
		if json.Unmarshal(e[1], &what) == nil && what == "put" && json.Unmarshal(e[2], &det) == nil {
			return det.Q
		}
	}
	return ""
}

// verdict is the outcome of the final check.
type verdict struct {
	Problems []string // guarantee violations; the test fails on any
	Notes    []string // facts worth reporting (re-runs, unconfirmed puts)
}

// verify checks DESIGN.md's guarantees over what the shards hold: every job
// the test put (confirmed) exists on exactly one shard, is complete there,
// last went into the last queue of its route, and lives on that queue's
// owner; no other job of the run exists; no intent is left in an outbox.
func verify(led map[string]record, shards map[string]shardState, owner map[string]string) verdict {
	var v verdict
	copies := map[string][]copyOf{}
	for name, st := range shards {
		if st.Pending != 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("shard %s: %d intents left in its outbox", name, st.Pending))
		}
		for jid, c := range st.Jobs {
			copies[jid] = append(copies[jid], c)
		}
	}
	var lost, dup, wrong, unconfirmed, unconfirmedFound int
	report := func(counter *int, format string, args ...any) {
		*counter++
		if *counter <= 10 {
			v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
		}
	}
	reruns := map[int]int{} // executions -> (jid, queue) pairs
	for jid, r := range led {
		cs := copies[jid]
		delete(copies, jid)
		if !r.Confirmed {
			unconfirmed++
			if len(cs) > 0 {
				unconfirmedFound++
			}
		}
		for _, q := range r.Route {
			reruns[r.Runs[q]]++
		}
		switch {
		case len(cs) == 0 && r.Confirmed:
			report(&lost, "LOST: job %s (route %v) is on no shard", jid, r.Route)
			continue
		case len(cs) == 0:
			continue
		case len(cs) > 1:
			report(&dup, "DUPLICATE: job %s (route %v) is on %d shards: %+v", jid, r.Route, len(cs), cs)
			continue
		}
		c, final := cs[0], r.Route[len(r.Route)-1]
		if c.State != "complete" || !c.Completed || c.LastPut != final || c.Shard != owner[final] {
			report(&wrong, "WRONG END: job %s (route %v, runs %v) is %+v; want complete, last put into %s, on %s",
				jid, r.Route, r.Runs, c, final, owner[final])
		}
	}
	extra := 0
	for jid, cs := range copies {
		report(&extra, "EXTRA: job %s was never put by the test, found %+v", jid, cs)
	}
	for _, n := range []struct {
		what string
		n    int
	}{{"lost", lost}, {"duplicated", dup}, {"with a wrong end state", wrong}, {"extra", extra}} {
		if n.n > 10 {
			v.Problems = append(v.Problems, fmt.Sprintf("... %d jobs %s in all", n.n, n.what))
		}
	}
	if unconfirmed > 0 {
		v.Notes = append(v.Notes, fmt.Sprintf("%d puts never confirmed (%d of them exist anyway)", unconfirmed, unconfirmedFound))
	}
	counts := make([]int, 0, len(reruns))
	for k := range reruns {
		counts = append(counts, k)
	}
	sort.Ints(counts)
	var parts []string
	for _, k := range counts {
		parts = append(parts, fmt.Sprintf("%d run(s): %d", k, reruns[k]))
	}
	v.Notes = append(v.Notes, "executions per job and queue: "+strings.Join(parts, ", "))
	return v
}
