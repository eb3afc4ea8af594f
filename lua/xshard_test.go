package lua

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/rueidis"
)

// moveOut runs x.export of queue's jobs on q (the source) and returns the
// intents as id, JSON pairs.
func moveOut(t *testing.T, q *qless, now, queue string, only ...string) []string {
	t.Helper()
	args := []string{"x.export", now, "A", "B", "1000", queue, "1"}
	if len(only) > 0 {
		args = append(args, "job", only[0])
	}
	out := q.evalList(args...)
	if len(out)%2 != 0 {
		t.Fatalf("x.export = %q: odd length", out)
	}
	return out
}

// jobMap decodes a job JSON for comparison.
func jobMap(t *testing.T, text string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatalf("job JSON %q: %v", text, err)
	}
	return m
}

// TestMoveEqualsOneRedis runs the same commands on a reference server and on
// two servers A and B, where B owns queue q2: on A each command that puts a
// job into q2 is followed by x.export, and its intents are imported on B.
// Afterwards B's job, queue, tag, tracking and failure views equal the
// reference's, and A keeps nothing but statistics.
func TestMoveEqualsOneRedis(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, ref *qless) {
		a, b := newQless(t, ref.lib), newQless(t, ref.lib)
		both := func(args ...string) {
			t.Helper()
			r1 := ref.eval(args...)
			r2 := a.eval(args...)
			if (r1.Error() != nil && !rueidis.IsRedisNil(r1.Error())) || (r2.Error() != nil && !rueidis.IsRedisNil(r2.Error())) {
				t.Fatalf("%q: ref %v, A %v", args, r1.Error(), r2.Error())
			}
		}
		both("put", "0", "w", "q1", "j", "K", `{"x":1}`, "0", "tags", `["t1","t2"]`, "priority", "3")
		both("put", "0", "w", "q1", "dep", "K", `{}`, "0")
		both("put", "0", "w", "q1", "kid", "K", `{}`, "0", "depends", `["j"]`)
		both("track", "1", "track", "j")
		both("pop", "2", "q1", "w", "1")
		both("log", "3", "j", "hello", `{"a":1}`)
		// complete with next into q2, depending on dep (same shard as j).
		if got := ref.str("complete", "4", "j", "w", "q1", `{"y":2}`, "next", "q2", "depends", `["dep"]`); got != "depends" {
			t.Fatalf("ref complete = %q", got)
		}
		if got := a.str("complete", "4", "j", "w", "q1", `{"y":2}`, "next", "q2", "depends", `["dep"]`); got != "depends" {
			t.Fatalf("A complete = %q", got)
		}
		out := moveOut(t, a, "4", "q2", "j")
		if len(out) != 2 {
			t.Fatalf("x.export = %q, want one intent", out)
		}
		id, intent := "A:"+out[0], out[1]
		// The tombstone answers as a job that is not here.
		if got := jobMap(t, a.str("get", "4", "j"))["state"]; got != "moving" {
			t.Errorf("tombstone state = %v, want moving", got)
		}
		if got := a.fails("put", "4", "w", "q1", "j", "K", "{}", "0"); got != "Put(): Job j is moving" {
			t.Errorf("put on the tombstone: %q", got)
		}
		if got := a.fails("priority", "4", "j", "1"); !IsMissingJob(got) {
			t.Errorf("priority on the tombstone: %q", got)
		}
		if got := a.fails("track", "4", "track", "j"); !IsMissingJob(got) {
			t.Errorf("track on the tombstone: %q", got)
		}
		if got := b.str("x.import", "4", id, intent, "60"); got != "ok" {
			t.Fatalf("x.import = %q", got)
		}
		if got := b.str("x.import", "4", id, intent, "60"); got != "dup" {
			t.Errorf("second x.import = %q, want dup", got)
		}
		if a.int("x.ack", "4", out[0], "j") != 1 {
			t.Fatal("x.ack")
		}
		if !a.isNil("get", "4", "j") {
			t.Errorf("A still has j after the ack")
		}
		// A repeat after the marker expired never overwrites the live job.
		_ = b.redis("DEL", "ql:x:applied:"+id)
		if got := b.str("x.import", "4", id, intent, "60"); got != "exists" {
			t.Errorf("x.import over a live job = %q, want exists", got)
		}

		for _, args := range [][]string{
			{"get", "5", "j"},
			{"tag", "5", "get", "t1"},
		} {
			want, got := ref.str(args...), b.str(args...)
			if args[0] == "get" {
				if diff := cmp.Diff(jobMap(t, want), jobMap(t, got)); diff != "" {
					t.Errorf("%q (-ref +B):\n%s", args, diff)
				}
				continue
			}
			if want != got {
				t.Errorf("%q: B %s, ref %s", args, got, want)
			}
		}
		if got, want := b.evalList("jobs", "5", "depends", "q2"), ref.evalList("jobs", "5", "depends", "q2"); !cmp.Equal(got, want) {
			t.Errorf("jobs depends q2: B %q, ref %q", got, want)
		}
		score := func(q *qless, key, member string) string {
			t.Helper()
			v, err := q.redis("ZSCORE", key, member).ToString()
			if err != nil && !rueidis.IsRedisNil(err) {
				t.Fatalf("ZSCORE %s %s: %v", key, member, err)
			}
			return v
		}
		for _, c := range []struct {
			q                 *qless
			name, key, member string
			want              string
		}{
			{b, "B", "ql:tags", "t1", "1"},
			{b, "B", "ql:tags", "t2", "1"},
			{a, "A", "ql:tags", "t1", "0"},
			{a, "A", "ql:queues", "q1", "0"},
			{a, "A", "ql:queues", "q2", ""},
			{b, "B", "ql:queues", "q2", "4"},
			{b, "B", "ql:tracked", "j", "1"},
			{a, "A", "ql:tracked", "j", ""},
		} {
			if got := score(c.q, c.key, c.member); got != c.want {
				t.Errorf("%s: ZSCORE %s %s = %q, want %q", c.name, c.key, c.member, got, c.want)
			}
		}

		// dep completes on A: j (now on B) is resolved through the outbox.
		both("pop", "6", "q1", "w", "1")
		both("complete", "7", "dep", "w", "q1", "{}")
		pend := a.evalList("x.pending", "7", "0", "10")
		if len(pend) != 2 || !strings.Contains(pend[1], `"k":"resolve"`) {
			t.Fatalf("x.pending = %q, want one resolve intent", pend)
		}
		var r struct{ Jid, Dep string }
		if err := json.Unmarshal([]byte(pend[1]), &r); err != nil || r.Jid != "j" || r.Dep != "dep" {
			t.Fatalf("resolve intent %s: %+v %v", pend[1], r, err)
		}
		if got := b.str("x.resolve", "7", "j", "dep", "60"); got != "released" {
			t.Fatalf("x.resolve = %q", got)
		}
		a.int("x.ack", "7", pend[0], "j")
		if got := a.evalList("x.pending", "7", "+inf", "10"); len(got) != 0 {
			t.Errorf("x.pending after ack = %q", got)
		}
		if diff := cmp.Diff(jobMap(t, ref.str("get", "8", "j")), jobMap(t, b.str("get", "8", "j"))); diff != "" {
			t.Errorf("j after resolve (-ref +B):\n%s", diff)
		}
		if got, want := b.str("pop", "9", "q2", "w", "1"), ref.str("pop", "9", "q2", "w", "1"); got != want {
			t.Errorf("pop q2: B %s, ref %s", got, want)
		}
		// kid (on A) depends on j (on B): j's completion on B resolves kid.
		ref.str("complete", "10", "j", "w", "q2", "{}")
		b.str("complete", "10", "j", "w", "q2", "{}")
		pend = b.evalList("x.pending", "10", "0", "10")
		if len(pend) != 2 || !strings.Contains(pend[1], `"jid":"kid"`) {
			t.Fatalf("B x.pending = %q", pend)
		}
		if got := a.str("x.resolve", "10", "kid", "j", "60"); got != "released" {
			t.Fatalf("x.resolve kid = %q", got)
		}
		if diff := cmp.Diff(jobMap(t, ref.str("get", "11", "kid")), jobMap(t, a.str("get", "11", "kid"))); diff != "" {
			t.Errorf("kid after resolve (-ref +A):\n%s", diff)
		}
	})
}

// TestLinkAndDeps checks the registration of a dependency on another shard:
// x.link on the dependency's shard, x.deps on the dependent's, and a
// dependency that completes while the edge is being registered.
func TestLinkAndDeps(t *testing.T) {
	t.Parallel()
	a, b := newQless(t, false), newQless(t, false)
	a.str("put", "0", "w", "qa", "d", "K", "{}", "0")
	a.str("put", "0", "w", "qa", "done", "K", "{}", "0")
	a.str("pop", "1", "qa", "w", "5")
	a.str("complete", "2", "done", "w", "qa", "{}")
	if got := a.str("x.link", "3", "d", "j"); got != "linked" {
		t.Errorf("x.link d = %q", got)
	}
	if got := a.str("x.link", "3", "done", "j"); got != "satisfied" {
		t.Errorf("x.link done = %q", got)
	}
	if got := a.str("x.link", "3", "nothing", "j"); got != "satisfied" {
		t.Errorf("x.link nothing = %q", got)
	}
	b.str("put", "3", "w", "qb", "j", "K", "{}", "10")
	if got := b.int("x.deps", "3", "j", "10", "qb", "0", "d"); got != 1 {
		t.Fatalf("x.deps = %d", got)
	}
	j := jobMap(t, b.str("get", "3", "j"))
	if j["state"] != "depends" || !cmp.Equal(j["dependencies"], []any{"d"}) {
		t.Errorf("j = %v", j)
	}
	if s, _ := b.redis("HGET", "ql:j:j", "scheduled").ToString(); s != "13" {
		t.Errorf("hidden scheduled = %q, want 13", s)
	}
	if got := b.str("x.resolve", "4", "j", "d", "60"); got != "released" {
		t.Fatalf("x.resolve = %q", got)
	}
	if got := jobMap(t, b.str("get", "4", "j"))["state"]; got != "scheduled" {
		t.Errorf("j after resolve: state %v, want scheduled", got)
	}
	// A dependency resolved before its edge arrives is skipped.
	if got := b.str("x.resolve", "5", "k", "d2", "60"); got != "absent" {
		t.Errorf("x.resolve of an absent job = %q", got)
	}
	b.str("put", "5", "w", "qb", "k", "K", "{}", "0")
	if got := b.int("x.deps", "5", "k", "0", "", "0", "d2"); got != 0 {
		t.Errorf("x.deps of a resolved dependency = %d, want 0", got)
	}
	if got := jobMap(t, b.str("get", "5", "k"))["state"]; got != "waiting" {
		t.Errorf("k state = %v, want waiting", got)
	}
	if got := a.int("x.unlink", "6", "d", "j"); got != 1 {
		t.Errorf("x.unlink = %d", got)
	}
}

// TestExportQueue moves every job of a queue (unfail's case) and a
// recurring template.
func TestExportQueue(t *testing.T) {
	t.Parallel()
	a, b := newQless(t, false), newQless(t, false)
	for _, j := range []string{"a", "b", "c"} {
		a.str("put", "0", "w", "q1", j, "K", "{}", "0")
	}
	a.str("pop", "1", "q1", "w", "3")
	for _, j := range []string{"a", "b", "c"} {
		a.str("fail", "2", j, "w", "g", "m")
	}
	if got := a.int("unfail", "3", "q2", "g", "2"); got != 2 {
		t.Fatalf("unfail = %d", got)
	}
	out := moveOut(t, a, "3", "q2")
	if len(out) != 4 {
		t.Fatalf("x.export = %q, want two intents", out)
	}
	for i := 0; i < len(out); i += 2 {
		if got := b.str("x.import", "3", "A:"+out[i], out[i+1], "60"); got != "ok" {
			t.Fatalf("import = %q", got)
		}
	}
	if got := b.list("ZRANGE", "ql:q:q2-work", "0", "-1"); !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("B q2 work = %q", got)
	}
	// unfail does not register its queue, and neither does the move.
	if got := b.list("ZRANGE", "ql:queues", "0", "-1"); len(got) != 0 {
		t.Errorf("B ql:queues = %q", got)
	}

	a.str("recur", "0", "q1", "r", "K", "{}", "interval", "60", "30")
	if a.int("recur.update", "1", "r", "queue", "q2") != 1 {
		t.Fatal("recur.update")
	}
	out = a.evalList("x.export", "1", "A", "B", "1000", "q2", "1", "recur", "r")
	if len(out) != 2 {
		t.Fatalf("x.export recur = %q", out)
	}
	if got := b.str("x.import", "1", "A:"+out[0], out[1], "60"); got != "ok" {
		t.Fatalf("import recur = %q", got)
	}
	if got, _ := b.redis("ZSCORE", "ql:q:q2-recur", "r").ToString(); got != "30" {
		t.Errorf("B next due = %q, want 30", got)
	}
	if got := b.str("pop", "30", "q2", "w", "5"); !strings.Contains(got, `"jid":"r-1"`) {
		t.Errorf("pop spawned %s", got)
	}
	if !a.isNil("recur.get", "31", "r") {
		t.Errorf("A still has the template")
	}
}

// TestEdgeIndex checks the index of remote dependency edges that the
// reconciler reads (x.edges, x.edge, x.edgefix) and x.depsof.
func TestEdgeIndex(t *testing.T) {
	t.Parallel()
	a := newQless(t, false)
	a.str("put", "0", "w", "q", "d", "K", "{}", "0")
	a.str("put", "0", "w", "q", "e", "K", "{}", "0")
	if got := a.str("x.link", "1", "d", "j", "1000"); got != "linked" {
		t.Fatalf("x.link = %q", got)
	}
	if got := a.str("x.link", "1", "d", "j", "1000"); got != "already" {
		t.Errorf("x.link again = %q, want already", got)
	}
	a.str("x.link", "1", "e", "k", "5000")
	if got := a.evalList("x.edges", "1", "2000", "10"); !cmp.Equal(got, []string{"dent\td\tj"}) {
		t.Errorf("x.edges up to 2000 = %q", got)
	}
	// j is elsewhere: the router checks it.
	if got := a.str("x.edge", "1", "dent\td\tj", "2000"); got != "remote" {
		t.Errorf("x.edge = %q, want remote", got)
	}
	// Re-registered after the read: skipped.
	if got := a.str("x.edge", "1", "dent\te\tk", "2000"); got != "skip" {
		t.Errorf("x.edge of a newer edge = %q, want skip", got)
	}
	if got := a.str("x.edgefix", "1", "dent\td\tj", "2000", "keep", "3000"); got != "kept" {
		t.Errorf("x.edgefix keep = %q", got)
	}
	if got := a.evalList("x.edges", "1", "2000", "10"); len(got) != 0 {
		t.Errorf("x.edges after keep = %q, want none", got)
	}
	if got := a.str("x.edgefix", "1", "dent\td\tj", "2000", "drop"); got != "skip" {
		t.Errorf("x.edgefix drop of a newer edge = %q, want skip", got)
	}
	if got := a.str("x.edgefix", "1", "dent\td\tj", "3000", "drop"); got != "dropped" {
		t.Errorf("x.edgefix drop = %q", got)
	}
	if got := jobMap(t, a.str("get", "1", "d"))["dependents"]; !cmp.Equal(got, map[string]any{}) {
		t.Errorf("dependents of d after the drop = %v", got)
	}
	// Both sides here, one half missing: repaired by x.edge itself.
	a.str("put", "2", "w", "q", "k", "K", "{}", "0")
	if got := a.str("x.edge", "2", "dent\te\tk", "9000"); got != "dropped" {
		t.Errorf("x.edge of a half edge = %q, want dropped", got)
	}
	a.str("put", "3", "w", "q", "m", "K", "{}", "0", "depends", `["e"]`)
	a.redis("SREM", "ql:j:e-dependents", "m")
	a.redis("ZADD", "ql:x:edges", "0", "dep\tm\te")
	if got := a.str("x.edge", "3", "dep\tm\te", "9000"); got != "relinked" {
		t.Errorf("x.edge of a lost dependent = %q, want relinked", got)
	}
	if got := jobMap(t, a.str("get", "3", "e"))["dependents"]; !cmp.Equal(got, []any{"m"}) {
		t.Errorf("dependents of e = %v, want [m]", got)
	}
	if got := a.evalList("x.depsof", "3", "m"); !cmp.Equal(got, []string{"e"}) {
		t.Errorf("x.depsof m = %q", got)
	}
	if got := a.str("x.edge", "3", "dep\tgone\te", "9000"); got != "skip" {
		t.Errorf("x.edge of an edge not indexed = %q, want skip", got)
	}
}

// TestMoveCarriesWorkerEntry: a job timed out by `timeout` keeps an entry in
// its old worker's job set (one Redis keeps it until that worker completes,
// fails or retries the jid); a move carries it, with the worker's registry
// entry. A late import of an intent whose job has left answers "gone".
func TestMoveCarriesWorkerEntry(t *testing.T) {
	t.Parallel()
	a, b := newQless(t, false), newQless(t, false)
	a.str("put", "0", "w", "q1", "j", "K", "{}", "0")
	a.str("pop", "1", "q1", "w1", "1")
	a.eval("timeout", "2", "j")
	a.str("pop", "3", "q1", "w2", "1")
	a.str("complete", "4", "j", "w2", "q1", "{}", "next", "q2")
	out := moveOut(t, a, "4", "q2", "j")
	if got := b.str("x.import", "4", "A:"+out[0], out[1], "60", "0", "600"); got != "ok" {
		t.Fatalf("x.import = %q", got)
	}
	if got := b.list("ZRANGE", "ql:w:w1:jobs", "0", "-1"); !cmp.Equal(got, []string{"j"}) {
		t.Errorf("w1's jobs on B = %q, want [j]", got)
	}
	if got := a.list("ZRANGE", "ql:w:w1:jobs", "0", "-1"); len(got) != 0 {
		t.Errorf("w1's jobs on A = %q, want none", got)
	}
	if got := b.str("workers", "5"); !strings.Contains(got, `"name":"w1"`) {
		t.Errorf("workers on B = %s, want w1 listed", got)
	}
	if got, _ := b.redis("GET", "ql:x:loc:j").ToString(); got != "B" {
		t.Errorf("directory entry on B (its home) = %q, want B", got)
	}
	// The job leaves B; the same intent delivered again is "gone".
	b.eval("cancel", "6", "j")
	if got := b.str("x.import", "6", "A:"+out[0], out[1], "60"); got != "gone" {
		t.Errorf("late import = %q, want gone", got)
	}
}
