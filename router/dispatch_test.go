package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/redistest"
)

// jidsOf returns the jids of a JSON list of jobs.
func jidsOf(t *testing.T, text string) []string {
	t.Helper()
	raws, err := decodeList(text)
	if err != nil {
		t.Fatalf("decode %q: %v", text, err)
	}
	var out []string
	for _, raw := range raws {
		h, err := decodeJobHead(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.JID)
	}
	return out
}

func TestRouteByQueueToOwner(t *testing.T) {
	t.Parallel()
	rs := startRedises(t, 3)
	tr := startRouter(t, "r1", rs, nil)
	for _, rd := range rs {
		q := queueOn(t, tr.Router, rd.name, "q-")
		for i := 0; i < 3; i++ {
			jid := q + "-job" + string(rune('0'+i))
			if got := tr.q(t, "put", "100", "w", q, jid, "K", "{}", "0"); got.Str != jid {
				t.Fatalf("put = %v, want %q", got, jid)
			}
		}
		// Only the owner holds the queue's keys.
		for _, other := range rs {
			rep, err := tr.shards[other.name].Shard.Do(context.Background(), "ZCARD", "ql:q:"+q+"-work")
			if err != nil {
				t.Fatal(err)
			}
			want := int64(0)
			if other.name == rd.name {
				want = 3
			}
			if rep.Int != want {
				t.Errorf("ZCARD ql:q:%s-work on shard %s = %d, want %d", q, other.name, rep.Int, want)
			}
		}
		// Read routes by the queue of the key.
		rep, err := tr.Read(context.Background(), []string{"zcard", "ql:q:" + q + "-work"})
		if err != nil || rep.Int != 3 {
			t.Errorf("Read(ZCARD ql:q:%s-work) = %v, %v, want 3", q, rep, err)
		}
		if got := tr.q(t, "length", "101", q); got.Int != 3 {
			t.Errorf("length %s = %v, want 3", q, got)
		}
		popped := jidsOf(t, tr.q(t, "pop", "102", q, "w", "2").Str)
		if len(popped) != 2 {
			t.Errorf("pop %s 2 = %v", q, popped)
		}
	}
	for _, bad := range [][]string{
		{"GET", "x"},
		{"ZCARD", "ql:workers"},
		{"ZSCORE", "ql:q:x-work", "j"},
		{"ZCARD", "ql:q:x-nope"},
	} {
		if _, err := tr.Read(context.Background(), bad); err == nil {
			t.Errorf("Read(%q) = nil error, want a refusal", bad)
		}
	}
}

func TestRecurringRead(t *testing.T) {
	t.Parallel()
	rs := startRedises(t, 2)
	tr := startRouter(t, "r1", rs, nil)
	q := queueOn(t, tr.Router, "b", "rq-")
	tr.q(t, "recur", "100", q, "rj", "K", "{}", "interval", "60", "0")
	rep, err := tr.Read(context.Background(), []string{"ZSCORE", "ql:q:" + q + "-recur", "rj"})
	if err != nil || rep.Str != "100" {
		t.Fatalf("ZSCORE = %v, %v, want 100", rep, err)
	}
	got := tr.q(t, "recur.get", "101", "rj")
	var rj core.RecurringJob
	if err := json.Unmarshal([]byte(got.Str), &rj); err != nil || rj.Queue != q {
		t.Fatalf("recur.get = %v (%v)", got, err)
	}
	// A fresh router finds the template with the ql:r: probe.
	tr2 := startRouter(t, "r2", rs, nil)
	if got := tr2.q(t, "recur.update", "102", "rj", "priority", "5"); got.Int != 1 {
		t.Fatalf("recur.update = %v", got)
	}
	if got := tr2.q(t, "unrecur", "103", "rj"); got.Int != 1 {
		t.Fatalf("unrecur = %v", got)
	}
	if got := tr.q(t, "recur.get", "104", "rj"); got.Type != core.ReplyNil {
		t.Fatalf("recur.get after unrecur = %v, want nil", got)
	}
}

func TestMultiQueueCommands(t *testing.T) {
	t.Parallel()
	rs := startRedises(t, 3)
	tr := startRouter(t, "r1", rs, nil)
	qa, qb, qc := queueOn(t, tr.Router, "a", "p-"), queueOn(t, tr.Router, "b", "p-"), queueOn(t, tr.Router, "c", "p-")
	for _, q := range []string{qa, qb, qc} {
		tr.q(t, "put", "100", "w", q, "j-"+q, "K", "{}", "0")
	}
	if got := tr.q(t, "pause", "101", qa, qb, qc); got.Type != core.ReplyNil {
		t.Fatalf("pause = %v, want nil", got)
	}
	for _, q := range []string{qa, qb, qc} {
		if got := tr.q(t, "pop", "102", q, "w", "1"); got.Str != "{}" {
			t.Errorf("pop of paused %s = %v, want {}", q, got)
		}
	}
	tr.q(t, "unpause", "103", qa, qc)
	if got := jidsOf(t, tr.q(t, "pop", "104", qa, "w", "1").Str); len(got) != 1 {
		t.Errorf("pop of unpaused %s = %v", qa, got)
	}
	if got := tr.q(t, "pop", "104", qb, "w", "1"); got.Str != "{}" {
		t.Errorf("pop of still paused %s = %v, want {}", qb, got)
	}
	// Zero queues: the script's (Redis's) own arity error.
	if _, err := tr.Qless(context.Background(), []string{"pause", "105"}); err == nil {
		t.Error("pause with no queue: want an error")
	}
}

func TestJidCacheOneRoundTrip(t *testing.T) {
	t.Parallel()
	rs := startRedises(t, 3)
	tr := startRouter(t, "r1", rs, nil)
	q := queueOn(t, tr.Router, "b", "c-")
	tr.q(t, "put", "100", "w", q, "jc", "K", "{}", "0")
	tr.q(t, "pop", "101", q, "w", "1")

	tr.resetCounts()
	if got := tr.q(t, "heartbeat", "102", "jc", "w"); got.Int != 162 {
		t.Fatalf("heartbeat = %v, want 162", got)
	}
	tr.q(t, "complete", "103", "jc", "w", q, "{}")
	for name, s := range tr.shards {
		want := int64(0)
		if name == "b" {
			want = 2
		}
		if s.calls.Load() != want || s.raw.Load() != 0 {
			t.Errorf("shard %s: %d script calls and %d raw, want %d and 0", name, s.calls.Load(), s.raw.Load(), want)
		}
	}

	// A router that has not seen the jid probes every shard once (one raw
	// read each), then asks the holder.
	tr2 := startRouter(t, "r2", rs, nil)
	tr2.resetCounts()
	var job core.Job
	if err := json.Unmarshal([]byte(tr2.q(t, "get", "104", "jc").Str), &job); err != nil || job.State != "complete" {
		t.Fatalf("get = %+v, %v", job, err)
	}
	for name, s := range tr2.shards {
		want := int64(0)
		if name == "b" {
			want = 1
		}
		if s.calls.Load() != want || s.raw.Load() != 1 {
			t.Errorf("shard %s: %d script calls and %d raw, want %d and 1", name, s.calls.Load(), s.raw.Load(), want)
		}
	}
	// Now cached.
	tr2.resetCounts()
	tr2.q(t, "get", "105", "jc")
	if s := tr2.shards["b"]; s.calls.Load() != 1 || s.raw.Load() != 0 {
		t.Errorf("second get: %d calls, %d raw on b, want 1 and 0", s.calls.Load(), s.raw.Load())
	}

	// A missing jid: probed, then answered by its home shard.
	home := tr2.Ring().Locate("nope")
	tr2.resetCounts()
	if got := tr2.q(t, "get", "106", "nope"); got.Type != core.ReplyNil {
		t.Fatalf("get nope = %v, want nil", got)
	}
	if got := tr2.shards[home].calls.Load(); got != 1 {
		t.Errorf("home shard %s got %d calls, want 1", home, got)
	}
	_, err := tr2.Qless(context.Background(), []string{"heartbeat", "107", "nope", "w"})
	var se *core.ScriptError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "does not exist") {
		t.Errorf("heartbeat nope = %v, want the script's does-not-exist error", err)
	}
}

func TestStaleCacheRelocates(t *testing.T) {
	t.Parallel()
	rs := startRedises(t, 2)
	tr := startRouter(t, "r1", rs, nil)
	qa, qb := queueOn(t, tr.Router, "a", "s-"), queueOn(t, tr.Router, "b", "s-")
	tr.q(t, "put", "100", "w", qa, "mover", "K", "{}", "0")
	// The job moves behind the router's back: canceled on a, put on b.
	call(t, tr.shards["a"], "cancel", "101", "mover")
	call(t, tr.shards["b"], "put", "102", "w", qb, "mover", "K", `{"x":1}`, "0")
	var job core.Job
	if err := json.Unmarshal([]byte(tr.q(t, "get", "103", "mover").Str), &job); err != nil || job.Queue != qb {
		t.Fatalf("get after move = %+v, %v; want the job in %s", job, err, qb)
	}
	if n, _ := tr.jids.get(jobKey("mover")); n != "b" {
		t.Errorf("cache says %q, want b", n)
	}
	// Again behind its back; a write command relocates too.
	call(t, tr.shards["b"], "cancel", "104", "mover")
	call(t, tr.shards["a"], "put", "105", "w", qa, "mover", "K", "{}", "0")
	if got := tr.q(t, "priority", "106", "mover", "7"); got.Int != 7 {
		t.Fatalf("priority after move = %v", got)
	}
}

func TestMultiget(t *testing.T) {
	t.Parallel()
	rs := startRedises(t, 3)
	tr := startRouter(t, "r1", rs, nil)
	var jids []string
	for _, rd := range rs {
		q := queueOn(t, tr.Router, rd.name, "m-")
		jid := "mj-" + rd.name
		tr.q(t, "put", "100", "w", q, jid, "K", "{}", "0")
		jids = append(jids, jid)
	}
	args := []string{"multiget", "101", jids[2], "missing", jids[0], jids[1], jids[2]}
	want := []string{jids[2], jids[0], jids[1], jids[2]}
	if got := jidsOf(t, tr.q(t, args...).Str); !cmp.Equal(got, want) {
		t.Errorf("multiget (cached) = %v, want %v", got, want)
	}
	tr2 := startRouter(t, "r2", rs, nil)
	if got := jidsOf(t, tr2.q(t, args...).Str); !cmp.Equal(got, want) {
		t.Errorf("multiget (fan-out) = %v, want %v", got, want)
	}
	if got := tr2.q(t, "multiget", "102", "x", "y"); got.Str != "{}" {
		t.Errorf("multiget of missing jids = %v, want {}", got)
	}
}

func TestCancelAcrossShards(t *testing.T) {
	t.Parallel()
	rs := startRedises(t, 2)
	tr := startRouter(t, "r1", rs, nil)
	qa, qb := queueOn(t, tr.Router, "a", "x-"), queueOn(t, tr.Router, "b", "x-")
	tr.q(t, "put", "100", "w", qa, "dep", "K", "{}", "0")
	tr.q(t, "put", "100", "w", qa, "child", "K", "{}", "0", "depends", `["dep"]`)
	tr.q(t, "put", "100", "w", qb, "other", "K", "{}", "0")

	// dep has a dependent that is not named: nothing is canceled anywhere.
	_, err := tr.Qless(context.Background(), []string{"cancel", "101", "other", "dep"})
	var se *core.ScriptError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "dep is a dependency of child but is not mentioned to be canceled") {
		t.Fatalf("cancel other dep = %v, want the dependents error", err)
	}
	for _, j := range []string{"other", "dep", "child"} {
		if tr.q(t, "get", "102", j).Type == core.ReplyNil {
			t.Errorf("%s was canceled by a refused cancel", j)
		}
	}
	got := tr.q(t, "cancel", "103", "other", "dep", "child", "ghost")
	if want := []string{"other", "dep", "child", "ghost"}; !cmp.Equal(got.Array, want) {
		t.Errorf("cancel = %v, want %v", got.Array, want)
	}
	for _, j := range []string{"other", "dep", "child"} {
		if rep := tr.q(t, "get", "104", j); rep.Type != core.ReplyNil {
			t.Errorf("get %s after cancel = %v, want nil", j, rep)
		}
	}
	if got := tr.q(t, "cancel", "105"); got.Type != core.ReplyArray || len(got.Array) != 0 {
		t.Errorf("cancel without jids = %v, want an empty array", got)
	}
}

func TestTimeoutInArgumentOrder(t *testing.T) {
	t.Parallel()
	rs := startRedises(t, 2)
	tr := startRouter(t, "r1", rs, nil)
	qa, qb := queueOn(t, tr.Router, "a", "t-"), queueOn(t, tr.Router, "b", "t-")
	for i, j := range []struct{ jid, q string }{{"ta1", qa}, {"tb1", qb}, {"ta2", qa}, {"tb2", qb}} {
		tr.q(t, "put", "10"+string(rune('0'+i)), "w", j.q, j.jid, "K", "{}", "0")
	}
	tr.q(t, "pop", "105", qa, "w", "2")
	tr.q(t, "pop", "105", qb, "w", "1") // tb1 runs, tb2 waits
	_, err := tr.Qless(context.Background(), []string{"timeout", "106", "ta1", "tb1", "tb2", "ta2"})
	var se *core.ScriptError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "tb2 not running") {
		t.Fatalf("timeout = %v, want tb2's not-running error", err)
	}
	states := map[string]string{}
	for _, j := range []string{"ta1", "tb1", "tb2", "ta2"} {
		var job core.Job
		if err := json.Unmarshal([]byte(tr.q(t, "get", "107", j).Str), &job); err != nil {
			t.Fatal(err)
		}
		states[j] = job.State
	}
	want := map[string]string{"ta1": "stalled", "tb1": "stalled", "tb2": "waiting", "ta2": "running"}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("states after a failed timeout (-want +got):\n%s", diff)
	}
}

func TestUnknownAndMalformedCommands(t *testing.T) {
	t.Parallel()
	rs := startRedises(t, 2)
	tr := startRouter(t, "r1", rs, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Must provide a command"},
		{[]string{"nope", "1"}, "Unknown command nope"},
		{[]string{"put", "1"}, "no queue name provided"},
		{[]string{"get", "1"}, "no jid provided"},
		{[]string{"failed", "1", "g", "x"}, `Arg "start" is not a number`},
		{[]string{"jobs", "1", "complete", "x"}, `Arg "offset" not a number`},
		{[]string{"tag", "1", "get"}, `Arg "tag" missing`},
		{[]string{"config.set", "1", "k"}, `Arg "value" missing`},
		{[]string{"unfail", "1", "q"}, `Arg "group" missing`},
	} {
		_, err := tr.Qless(context.Background(), tc.args)
		var se *core.ScriptError
		if !errors.As(err, &se) || !strings.Contains(se.Text, tc.want) {
			t.Errorf("Qless(%q) = %v, want a script error containing %q", tc.args, err, tc.want)
		}
	}
}

// BenchmarkRouter measures a router over three shards against one shard
// asked directly: a by-job command on a cached jid (one round trip) and the
// `queues` fan-out.
func BenchmarkRouter(b *testing.B) {
	rs := make([]testRedis, 3)
	for i := range rs {
		rs[i] = testRedis{name: string(rune('a' + i)), srv: redistest.Start(b)}
	}
	tr := startRouter(b, "rb", rs, nil)
	direct := tr.shards["a"].Shard
	q := "bench-q"
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		if _, err := tr.Qless(ctx, []string{"put", "100", "w", fmt.Sprint(q, i%3), fmt.Sprint("bj", i), "K", "{}", "0"}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := direct.CallArgs(ctx, "put", "100", "w", "dq", "dj", "K", "{}", "0"); err != nil {
		b.Fatal(err)
	}
	b.Run("get/direct", func(b *testing.B) {
		for b.Loop() {
			if _, err := direct.CallArgs(ctx, "get", "101", "dj"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get/router-cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := tr.Qless(ctx, []string{"get", "101", "bj1"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("queues/direct", func(b *testing.B) {
		for b.Loop() {
			if _, err := direct.CallArgs(ctx, "queues", "101"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("queues/router-3-shards", func(b *testing.B) {
		for b.Loop() {
			if _, err := tr.Qless(ctx, []string{"queues", "101"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
