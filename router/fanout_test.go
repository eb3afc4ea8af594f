package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/qless-router/qless-router/core"
)

// mirror runs every command on a router over several shards and on one
// reference Redis fed the same commands, and compares the answers.
type mirror struct {
	t   *testing.T
	tr  *testRouter
	ref Shard
}

func newMirror(t *testing.T, shards int) *mirror {
	t.Helper()
	rs := startRedises(t, shards+1)
	ref := startShardClient(t, "ref", rs[shards].srv.Addr)
	return &mirror{t: t, tr: startRouter(t, "r1", rs[:shards], nil), ref: ref}
}

// parsed turns a reply into a comparable value: JSON text is decoded.
func parsed(rep core.Reply) any {
	if rep.Type == core.ReplyString {
		var v any
		if err := json.Unmarshal([]byte(rep.Str), &v); err == nil {
			return v
		}
	}
	return rep
}

// do runs args on both and requires the same answer (parsed JSON compared).
func (m *mirror) do(args ...string) core.Reply {
	m.t.Helper()
	got, gerr := m.tr.Qless(context.Background(), args)
	want, werr := m.ref.CallArgs(context.Background(), args...)
	if (gerr != nil) != (werr != nil) {
		m.t.Fatalf("%q: router error %v, reference error %v", args, gerr, werr)
	}
	if gerr != nil {
		var gs, ws *core.ScriptError
		if !errors.As(gerr, &gs) || !errors.As(werr, &ws) || gs.Message != ws.Message {
			m.t.Fatalf("%q: router error %v, reference error %v", args, gerr, werr)
		}
		return core.Reply{}
	}
	if diff := cmp.Diff(parsed(want), parsed(got), cmpopts.EquateEmpty()); diff != "" {
		m.t.Fatalf("%q: router and reference differ (-reference +router):\n%s", args, diff)
	}
	return got
}

func ts(t int) string { return strconv.Itoa(t) }

func TestFanOutMatchesOneRedis(t *testing.T) {
	t.Parallel()
	m := newMirror(t, 3)
	r := m.tr.Router
	var queues []string
	for _, s := range []string{"a", "b", "c"} {
		queues = append(queues, queueOn(t, r, s, "fq-"), queueOn(t, r, s, "gq-"))
	}
	now := 1000
	tick := func() string { now++; return ts(now) }
	var jids []string
	for i := 0; i < 36; i++ {
		jid := fmt.Sprintf("job-%02d", i)
		jids = append(jids, jid)
		tags := fmt.Sprintf(`["t%d","all"]`, i%4)
		if i%5 == 0 {
			tags = `[]`
		}
		m.do("put", tick(), "me", queues[i%len(queues)], jid, "Klass", `{"i":1}`, "0", "priority", ts(i%3), "tags", tags)
	}
	for _, j := range []string{"job-03", "job-10", "job-17", "job-22", "job-31"} {
		m.do("track", tick(), "track", j)
	}
	// Four workers pop from every queue, at distinct times.
	var popped []string
	for round := 0; round < 2; round++ {
		for i, q := range queues {
			w := fmt.Sprintf("w%d", (i+round)%4)
			rep := m.do("pop", tick(), q, w, "2")
			for _, j := range jidsOf(t, rep.Str) {
				popped = append(popped, j+"|"+w+"|"+q)
			}
		}
	}
	// Fail, complete and heartbeat some of them, each at its own second.
	for i, p := range popped {
		var jid, w, q string
		fmt.Sscanf(replaceBars(p), "%s %s %s", &jid, &w, &q)
		switch i % 4 {
		case 0:
			m.do("fail", tick(), jid, w, fmt.Sprintf("g%d", i%3), "boom")
		case 1:
			m.do("complete", tick(), jid, w, q, "{}")
		case 2:
			m.do("heartbeat", tick(), jid, w)
		}
	}
	m.do("cancel", tick(), "job-31") // tracked, waiting: becomes expired
	m.do("tag", tick(), "add", "job-04", "t1", "extra")
	m.do("tag", tick(), "add", "job-09", "extra")
	m.do("tag", tick(), "remove", "job-08", "t0")

	reads := [][]string{
		{"queues"},
		{"workers"},
		{"workers", "w0"}, {"workers", "w1"}, {"workers", "w3"}, {"workers", "nobody"},
		{"failed"},
		{"failed", "g0"}, {"failed", "g0", "0", "2"}, {"failed", "g0", "1", "2"}, {"failed", "g1", "2", "10"},
		{"failed", "g2", "0", "-1"}, {"failed", "g0", "-2", "5"}, {"failed", "none"},
		{"jobs", "complete"}, {"jobs", "complete", "0", "3"}, {"jobs", "complete", "2", "3"},
		{"jobs", "complete", "1", "-1"}, {"jobs", "complete", "-3", "2"},
		{"tag", "get", "all"}, {"tag", "get", "all", "1", "3"}, {"tag", "get", "all", "0", "100"},
		{"tag", "get", "t1"}, {"tag", "get", "extra", "-2", "5"}, {"tag", "get", "none"},
		{"tag", "top"}, {"tag", "top", "1", "2"}, {"tag", "top", "0", "-1"}, {"tag", "top", "-1", "2"},
		{"track"},
		append([]string{"multiget"}, jids...),
		{"queues", queues[0]},
	}
	for _, rd := range reads {
		args := append([]string{rd[0], ts(now + 10)}, rd[1:]...)
		m.do(args...)
	}
	// unfail the oldest failures of a group spread over several shards.
	m.do("unfail", ts(now+11), queues[0], "g0", "2")
	m.do("failed", ts(now+12), "g0")
	m.do("failed", ts(now+12))
	m.do("unfail", ts(now+13), queues[1], "g0", "100")
	m.do("failed", ts(now+14))
	// Broadcast configuration: every shard sees it, one event.
	m.do("config.set", ts(now+15), "heartbeat", "120")
	for _, s := range m.tr.shards {
		if got := call(t, s, "config.get", ts(now+16), "heartbeat"); got.Str != "120" {
			t.Errorf("config.get heartbeat on %s = %v, want 120", s.Name(), got)
		}
	}
	m.do("config.get", ts(now+16))
	m.do("config.unset", ts(now+17), "heartbeat")
	m.do("config.get", ts(now+18), "heartbeat")
	m.do("worker.deregister", ts(now+19), "w0", "w2")
	m.do("workers", ts(now+20))
	m.do("queue.forget", ts(now+21), queues[0], queues[3])
	m.do("queues", ts(now+22))
}

func replaceBars(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == '|' {
			b[i] = ' '
		}
	}
	return string(b)
}

// TestStatsMergeAcrossShards writes one queue's statistics of one day on two
// shards (as after a change of owner) and on a reference Redis, and checks
// that the router's merged stats equal the reference's.
func TestStatsMergeAcrossShards(t *testing.T) {
	t.Parallel()
	m := newMirror(t, 2)
	q := "statsq"
	day := 1700006400 // a midnight
	both := func(s Shard, args ...string) {
		t.Helper()
		call(t, s, args...)
		call(t, m.ref, args...)
	}
	waits := []int{0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 4181, 6765, 10946}
	for i, wait := range waits {
		s := m.tr.shards[[]string{"a", "b"}[i%2]]
		jid := fmt.Sprintf("sj%d", i)
		put := day + 100*i
		both(s, "put", ts(put), "w", q, jid, "K", "{}", "0")
		both(s, "pop", ts(put+wait), q, "w", "1")
		// Leave no job running: an expired lock would change what a later
		// pop hands out.
		if i%3 != 1 {
			both(s, "complete", ts(put+wait+i*7), jid, "w", q, "{}")
		} else {
			both(s, "fail", ts(put+wait+1), jid, "w", "g", "m")
		}
	}
	got := m.do("stats", ts(day+90000), q, ts(day+5))
	var st core.Stats
	if err := json.Unmarshal([]byte(got.Str), &st); err != nil {
		t.Fatal(err)
	}
	if st.Wait.Count != int64(len(waits)) || st.Failed == 0 || st.Run.Count == 0 {
		t.Errorf("merged stats look empty: %+v", st)
	}
	// Each shard alone has only part of it.
	for _, s := range m.tr.shards {
		var part core.Stats
		_ = json.Unmarshal([]byte(call(t, s, "stats", ts(day+90000), q, ts(day+5)).Str), &part)
		if part.Wait.Count == st.Wait.Count {
			t.Errorf("shard %s alone has all the stats; the test does not split them", s.Name())
		}
	}
}

func TestMergeStatsEncoding(t *testing.T) {
	t.Parallel()
	h := make([]int64, core.HistogramSize)
	h[3] = 2
	text := encodeStats(core.Stats{Retries: 1, Failed: 2, Failures: 3,
		Wait: core.StatsSummary{Count: 2, Mean: 1.0 / 3, Std: 0.5, Histogram: h}})
	var st core.Stats
	if err := json.Unmarshal([]byte(text), &st); err != nil {
		t.Fatalf("encodeStats wrote %q: %v", text, err)
	}
	if st.Wait.Mean != 0.33333333333333 || len(st.Run.Histogram) != core.HistogramSize || st.Wait.Histogram[3] != 2 {
		t.Errorf("encodeStats round trip = %+v", st)
	}
	if math.IsNaN(st.Run.Std) {
		t.Error("NaN std")
	}
}
