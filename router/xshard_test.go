package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/core"
)

// xcluster is two routers over three shards that share real shard clients
// (with transactions). r1 is the router under test, whose hook can make it
// abandon a cross-shard operation; r2 plays the courier, on demand.
type xcluster struct {
	t      *testing.T
	r1, r2 *Router
	shards map[string]Shard
	clock  *core.FakeClock // both routers' CrossShard.Clock
}

var errCrash = errors.New("injected crash")

func startXCluster(t *testing.T, hook func(step, id string, courier bool) error) *xcluster {
	t.Helper()
	return startXClusterWith(t, hook, nil)
}

// startXClusterWith is startXCluster with a change to each router's
// configuration (after the defaults of the test cluster).
func startXClusterWith(t *testing.T, hook func(step, id string, courier bool) error, change func(*Config)) *xcluster {
	t.Helper()
	var addrs []string
	for _, rd := range startRedises(t, 3) {
		addrs = append(addrs, rd.srv.Addr)
	}
	return startXClusterOn(t, addrs, hook, change)
}

// startXClusterOn is startXClusterWith over given Redis servers, for shards
// a, b, c in that order.
func startXClusterOn(t *testing.T, addrs []string, hook func(step, id string, courier bool) error, change func(*Config)) *xcluster {
	t.Helper()
	var shards []Shard
	byName := make(map[string]Shard)
	for i, addr := range addrs {
		name := string(rune('a' + i))
		s := startShardClient(t, name, addr)
		shards = append(shards, s)
		byName[name] = s
	}
	clock := core.NewFakeClock(time.Unix(1_700_000_000, 0))
	mk := func(name string, hook func(step, id string, courier bool) error) *Router {
		cfg := DefaultLocalConfig()
		cfg.Name = name
		// A fake clock that never moves: the couriers' tickers stay silent
		// and the test delivers with DeliverPending.
		cfg.CrossShard.Clock = clock
		if change != nil {
			change(&cfg)
		}
		r, err := NewWithShards(cfg, shards)
		if err != nil {
			t.Fatal(err)
		}
		r.xhook = hook
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Stop(context.Background()) })
		return r
	}
	return &xcluster{t: t, r1: mk("r1", hook), r2: mk("r2", nil), shards: byName, clock: clock}
}

// queueOn returns a queue name owned by shard.
func (x *xcluster) queueOn(shard, prefix string) string {
	x.t.Helper()
	for i := 0; i < 10000; i++ {
		q := fmt.Sprintf("%s-%d", prefix, i)
		if o, _ := x.r1.Locate(q); o == shard {
			return q
		}
	}
	x.t.Fatalf("no queue on shard %s", shard)
	return ""
}

func (x *xcluster) do(r *Router, args ...string) (core.Reply, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return r.Qless(ctx, args)
}

func (x *xcluster) must(r *Router, args ...string) core.Reply {
	x.t.Helper()
	rep, err := x.do(r, args...)
	if err != nil {
		x.t.Fatalf("%q: %v", args, err)
	}
	return rep
}

// copies returns, per shard, the state of jid's hash there ("" for none).
func (x *xcluster) copies(jid string) map[string]string {
	x.t.Helper()
	out := make(map[string]string)
	for n, s := range x.shards {
		rep, err := s.Do(context.Background(), "HGET", "ql:j:"+jid, "state")
		if err != nil {
			x.t.Fatal(err)
		}
		if rep.Type == core.ReplyString {
			out[n] = rep.Str
		}
	}
	return out
}

// outboxes returns the number of intents left in every outbox.
func (x *xcluster) outboxes() int64 {
	x.t.Helper()
	var n int64
	for _, s := range x.shards {
		rep, err := s.Do(context.Background(), "HLEN", "ql:x:outbox")
		if err != nil {
			x.t.Fatal(err)
		}
		n += rep.Int
	}
	return n
}

type jobView struct {
	State        string   `json:"state"`
	Queue        string   `json:"queue"`
	Data         string   `json:"data"`
	Tags         []string `json:"tags"`
	Tracked      bool     `json:"tracked"`
	Dependencies []string `json:"dependencies"`
	History      []struct {
		What string `json:"what"`
	} `json:"history"`
}

func (x *xcluster) get(jid string) jobView {
	x.t.Helper()
	rep := x.must(x.r2, "get", "100", jid)
	var v jobView
	text := rep.Str
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		// "{}" lists decode as objects; retry without the lists.
		var loose map[string]any
		if err := json.Unmarshal([]byte(text), &loose); err != nil {
			x.t.Fatalf("get %s = %q: %v", jid, text, err)
		}
		for _, k := range []string{"tags", "dependencies", "history"} {
			if m, ok := loose[k].(map[string]any); ok && len(m) == 0 {
				loose[k] = []any{}
			}
		}
		b, _ := json.Marshal(loose)
		if err := json.Unmarshal(b, &v); err != nil {
			x.t.Fatalf("get %s = %q: %v", jid, text, err)
		}
	}
	return v
}

func whats(v jobView) []string {
	var out []string
	for _, h := range v.History {
		out = append(out, h.What)
	}
	return out
}

// TestMoveSurvivesACrashAtEveryStep: a router that stops at any step of a
// move (complete with next, put of an existing jid) leaves the job in
// exactly one queue, once, with its history and data, after a courier (the
// other router) delivers what was left; delivering again changes nothing.
func TestMoveSurvivesACrashAtEveryStep(t *testing.T) {
	t.Parallel()
	for _, op := range []string{"complete-next", "put"} {
		for _, step := range []string{stepBeforeIntent, stepAfterIntent, stepAfterImport, stepBeforeAck} {
			t.Run(op+"/"+step, func(t *testing.T) {
				t.Parallel()
				armed := false
				x := startXCluster(t, func(s, id string, courier bool) error {
					if armed && s == step {
						return errCrash
					}
					return nil
				})
				qa, qb := x.queueOn("a", "qa"), x.queueOn("b", "qb")
				x.must(x.r1, "put", "0", "w", qa, "j", "K", `{"n":1}`, "0", "tags", `["t"]`)
				x.must(x.r1, "track", "0", "track", "j")
				x.must(x.r1, "pop", "1", qa, "w", "1")
				armed = true
				var err error
				switch op {
				case "complete-next":
					_, err = x.do(x.r1, "complete", "2", "j", "w", qa, `{"n":2}`, "next", qb)
				case "put":
					_, err = x.do(x.r1, "put", "2", "w", qb, "j", "K", `{"n":2}`, "0")
				}
				// The steps after the import run after the reply (the job is
				// already in its new queue): the command succeeds and the
				// router abandons the rest in the background.
				late := step == stepAfterImport || step == stepBeforeAck
				if late && err != nil || !late && !errors.Is(err, errCrash) {
					t.Fatalf("%s with a crash at %s: err = %v", op, step, err)
				}
				x.r1.xwg.Wait()
				armed = false
				if _, err := x.r2.DeliverPending(context.Background()); err != nil {
					t.Fatalf("DeliverPending: %v", err)
				}
				if step == stepBeforeIntent {
					// Nothing happened: the job still runs in qa on a.
					if got := x.copies("j"); !cmp.Equal(got, map[string]string{"a": "running"}) {
						t.Fatalf("copies = %v", got)
					}
					return
				}
				if got := x.copies("j"); !cmp.Equal(got, map[string]string{"b": "waiting"}) {
					t.Errorf("copies of j = %v, want one waiting on b", got)
				}
				if n := x.outboxes(); n != 0 {
					t.Errorf("%d intents left in the outboxes", n)
				}
				v := x.get("j")
				wantWhats := []string{"put", "popped", "done", "put"}
				if op == "put" {
					wantWhats = []string{"put", "popped", "put"}
				}
				if v.Queue != qb || v.Data != `{"n":2}` || !v.Tracked || !cmp.Equal(whats(v), wantWhats) {
					t.Errorf("job after the move = %+v", v)
				}
				if got := x.must(x.r2, "length", "3", qb).Int; got != 1 {
					t.Errorf("length %s = %d, want 1", qb, got)
				}
				if got := x.must(x.r2, "length", "3", qa).Int; got != 0 {
					t.Errorf("length %s = %d, want 0", qa, got)
				}
				if got := x.must(x.r2, "tag", "3", "get", "t").Str; op == "complete-next" && got != `{"total":1,"jobs":["j"]}` {
					t.Errorf("tag get t = %s", got)
				}
				// Delivering again is a no-op.
				if n, err := x.r2.DeliverPending(context.Background()); err != nil || n != 0 {
					t.Errorf("second DeliverPending = %d, %v", n, err)
				}
				popped := x.must(x.r2, "pop", "4", qb, "w", "5").Str
				var jobs []map[string]any
				if err := json.Unmarshal([]byte(popped), &jobs); err != nil || len(jobs) != 1 || jobs[0]["jid"] != "j" {
					t.Errorf("pop %s = %s", qb, popped)
				}
			})
		}
	}
}

// TestIntentDeliveredTwice: an import applied twice (two couriers during a
// membership change) takes effect once.
func TestIntentDeliveredTwice(t *testing.T) {
	t.Parallel()
	crash := true
	x := startXCluster(t, func(s, id string, courier bool) error {
		if crash && s == stepAfterIntent {
			return errCrash
		}
		return nil
	})
	qa, qb := x.queueOn("a", "qa"), x.queueOn("b", "qb")
	x.must(x.r1, "put", "0", "w", qa, "j", "K", `{}`, "0")
	if _, err := x.do(x.r1, "put", "1", "w", qb, "j", "K", `{}`, "0"); !errors.Is(err, errCrash) {
		t.Fatalf("put: %v", err)
	}
	if _, err := x.do(x.r2, "x.pending", "1", "+inf", "10"); err == nil {
		t.Errorf("a client's x.pending went through the router")
	}
	rep, err := x.shards["a"].CallArgs(context.Background(), "x.pending", "1", "+inf", "10")
	if err != nil || len(rep.Array) != 2 {
		t.Fatalf("x.pending = %v, %v", rep, err)
	}
	id, text := rep.Array[0], rep.Array[1]
	for i := 0; i < 2; i++ {
		got, err := x.shards["b"].CallArgs(context.Background(), "x.import", "1", "a:"+id, text, "60")
		want := []string{"ok", "dup"}[i]
		if err != nil || got.Str != want {
			t.Fatalf("import %d = %v, %v; want %s", i, got, err, want)
		}
	}
	crash = false
	if _, err := x.r2.DeliverPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := x.copies("j"); !cmp.Equal(got, map[string]string{"b": "waiting"}) {
		t.Errorf("copies = %v", got)
	}
	if got := x.must(x.r2, "length", "2", qb).Int; got != 1 {
		t.Errorf("length = %d", got)
	}
}

// TestResolveSurvivesACrash: the router that completes a dependency stops
// before delivering the resolve of a dependent on another shard; the
// dependent is released by the courier.
func TestResolveSurvivesACrash(t *testing.T) {
	t.Parallel()
	crash := false
	x := startXCluster(t, func(s, id string, courier bool) error {
		if crash && s == stepBeforeAck {
			return errCrash
		}
		return nil
	})
	qa, qb := x.queueOn("a", "qa"), x.queueOn("b", "qb")
	x.must(x.r1, "put", "0", "w", qa, "d", "K", `{}`, "0")
	x.must(x.r1, "put", "0", "w", qb, "j", "K", `{}`, "0", "depends", `["d"]`)
	if v := x.get("j"); v.State != "depends" || !cmp.Equal(v.Dependencies, []string{"d"}) {
		t.Fatalf("j = %+v", v)
	}
	x.must(x.r1, "pop", "1", qa, "w", "1")
	crash = true
	if got := x.must(x.r1, "complete", "2", "d", "w", qa, "{}").Str; got != "complete" {
		t.Fatalf("complete = %q", got)
	}
	crash = false
	if _, err := x.r2.DeliverPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := x.get("j"); v.State != "waiting" {
		t.Errorf("j after the courier = %+v", v)
	}
	if n := x.outboxes(); n != 0 {
		t.Errorf("%d intents left", n)
	}
}

// A template in flight (the router died after recording the move of
// recur.update queue) is not on any shard until a courier delivers it. A
// `recur` of the same jid in that window makes a new template; the late
// delivery must leave it alone rather than overwrite it with the old one.
func TestTemplateRecurredWhileInFlight(t *testing.T) {
	crash := true
	x := startXCluster(t, func(step, id string, courier bool) error {
		if crash && !courier && step == stepAfterIntent {
			return errCrash
		}
		return nil
	})
	qa, qb, qc := x.queueOn("a", "ra"), x.queueOn("b", "rb"), x.queueOn("c", "rc")
	x.must(x.r1, "recur", "10", qa, "t", "Old", `{"v":1}`, "interval", "60", "0")
	if _, err := x.do(x.r1, "recur.update", "20", "t", "queue", qb); !errors.Is(err, errCrash) {
		t.Fatalf("recur.update with the crash = %v, want the injected crash", err)
	}
	crash = false
	x.must(x.r1, "recur", "30", qc, "t", "New", `{"v":2}`, "interval", "90", "0")
	if _, err := x.r2.DeliverPending(context.Background()); err != nil {
		t.Fatalf("DeliverPending: %v", err)
	}
	got := x.must(x.r2, "recur.get", "40", "t")
	var tmpl struct {
		Klass, Queue string
		Interval     float64
	}
	if err := json.Unmarshal([]byte(got.Str), &tmpl); err != nil {
		t.Fatalf("recur.get = %q: %v", got.Str, err)
	}
	if tmpl.Klass != "New" || tmpl.Queue != qc || tmpl.Interval != 90 {
		t.Errorf("template after the late delivery = %+v, want the new one (New in %s, interval 90)", tmpl, qc)
	}
	// Exactly one queue schedules it, and only one shard holds it.
	for _, q := range []string{qa, qb, qc} {
		rep, err := x.do(x.r2, "jobs", "40", "recurring", q)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{}
		if q == qc {
			want = []string{"t"}
		}
		if !cmp.Equal(rep.Array, want) {
			t.Errorf("jobs recurring %s = %q, want %q", q, rep.Array, want)
		}
	}
	held := 0
	for _, s := range x.shards {
		rep, err := s.Do(context.Background(), "EXISTS", "ql:r:t")
		if err != nil {
			t.Fatal(err)
		}
		held += int(rep.Int)
	}
	if held != 1 || x.outboxes() != 0 {
		t.Errorf("template held by %d shards, %d intents left; want 1 and 0", held, x.outboxes())
	}
}

// The other recur commands meet a template in flight as if it had arrived:
// the router delivers the move first. An unrecur in the window removes it
// for good (no late delivery brings it back).
func TestTemplateCommandsWhileInFlight(t *testing.T) {
	for _, cmd := range []string{"recur.get", "recur.update", "recur.tag", "unrecur"} {
		t.Run(cmd, func(t *testing.T) {
			crash := true
			x := startXCluster(t, func(step, id string, courier bool) error {
				if crash && !courier && step == stepAfterIntent {
					return errCrash
				}
				return nil
			})
			qa, qb := x.queueOn("a", "ra"), x.queueOn("b", "rb")
			x.must(x.r1, "recur", "10", qa, "t", "K", `{}`, "interval", "60", "0")
			if _, err := x.do(x.r1, "recur.update", "20", "t", "queue", qb); !errors.Is(err, errCrash) {
				t.Fatalf("recur.update with the crash = %v, want the injected crash", err)
			}
			crash = false
			args := map[string][]string{
				"recur.get":    {"recur.get", "30", "t"},
				"recur.update": {"recur.update", "30", "t", "klass", "K2"},
				"recur.tag":    {"recur.tag", "30", "t", "x"},
				"unrecur":      {"unrecur", "30", "t"},
			}[cmd]
			// Through the other router, whose cache knows nothing.
			rep := x.must(x.r2, args...)
			if cmd == "recur.get" && (rep.Type != core.ReplyString || !json.Valid([]byte(rep.Str))) {
				t.Fatalf("recur.get in flight = %+v, want the template", rep)
			}
			if _, err := x.r2.DeliverPending(context.Background()); err != nil {
				t.Fatalf("DeliverPending: %v", err)
			}
			got := x.must(x.r1, "recur.get", "40", "t")
			if cmd == "unrecur" {
				if got.Type != core.ReplyNil {
					t.Errorf("recur.get after unrecur in flight = %+v, want nil", got)
				}
				return
			}
			var tmpl struct {
				Klass, Queue string
				Tags         json.RawMessage // (`{}` when empty)
			}
			if err := json.Unmarshal([]byte(got.Str), &tmpl); err != nil {
				t.Fatalf("recur.get = %q: %v", got.Str, err)
			}
			if tmpl.Queue != qb || (cmd == "recur.update") != (tmpl.Klass == "K2") || (cmd == "recur.tag") != (string(tmpl.Tags) == `["x"]`) {
				t.Errorf("template after %s in flight = %+v", cmd, tmpl)
			}
			if x.outboxes() != 0 {
				t.Errorf("%d intents left", x.outboxes())
			}
		})
	}
}
