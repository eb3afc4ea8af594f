package router

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/core"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, e := range []envelope{
		{kind: envPublish, id: "ab-1", shards: []string{"a", "b"}, channel: "chan|with|bars\n", message: "m|s\x00g\r\n"},
		{kind: envSync, id: "ab-2", shards: []string{"a"}},
		{kind: envPing, id: "x-3"},
	} {
		got, err := decodeEnvelope(e.encode())
		if err != nil {
			t.Fatalf("decode(%q): %v", e.encode(), err)
		}
		if diff := cmp.Diff(e, got, cmp.AllowUnexported(envelope{})); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
	for _, bad := range []string{"", "v2|pub|x|a|0|", "v1|pub|x|a|9|ab", "v1|pub|x|a"} {
		if _, err := decodeEnvelope(bad); err == nil {
			t.Errorf("decodeEnvelope(%q) = nil error", bad)
		}
	}
}

// hubHarness drives a hub by hand (no goroutines): messages are accepted
// and drained synchronously and deliveries recorded in order.
type hubHarness struct {
	t     *testing.T
	clock *core.FakeClock
	h     *hub
	got   []string
}

func newHubHarness(t *testing.T, shards ...string) *hubHarness {
	t.Helper()
	cfg := DefaultLocalConfig()
	clock := core.NewFakeClock(time.Unix(1_700_000_000, 0))
	cfg.Clock = clock
	var ss []Shard
	for _, n := range shards {
		ss = append(ss, newStubShard(n))
	}
	r, err := NewWithShards(cfg, ss)
	if err != nil {
		t.Fatal(err)
	}
	hh := &hubHarness{t: t, clock: clock, h: r.events}
	r.events.out = func(channel, message string) { hh.got = append(hh.got, channel+"="+message) }
	return hh
}

// recv makes shard deliver one message (a "name" or an envelope "F<id>")
// and drains.
func (hh *hubHarness) recv(shard, msg string, fences map[string]envelope) {
	if e, ok := fences[msg]; ok {
		hh.h.accept(inMsg{shard: shard, channel: publishChannel, message: e.encode()})
	} else {
		hh.h.accept(inMsg{shard: shard, channel: "ql:log", message: msg})
	}
	hh.h.expire(hh.clock.Now())
	hh.h.drain()
}

func (hh *hubHarness) want(step string, want ...string) {
	hh.t.Helper()
	var w []string
	for _, m := range want {
		if strings.HasPrefix(m, "F") {
			w = append(w, "fence="+m)
		} else {
			w = append(w, "ql:log="+m)
		}
	}
	if diff := cmp.Diff(w, hh.got, cmpEmpty); diff != "" {
		hh.t.Fatalf("%s: deliveries (-want +got):\n%s", step, diff)
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })

func fences(shards []string, ids ...string) map[string]envelope {
	m := make(map[string]envelope)
	for _, id := range ids {
		m[id] = envelope{kind: envPublish, id: id, shards: shards, channel: "fence", message: id}
	}
	return m
}

func TestHubFenceOrdering(t *testing.T) {
	t.Parallel()
	hh := newHubHarness(t, "a", "b", "c")
	fs := fences([]string{"a", "b", "c"}, "F1")
	hh.recv("a", "E1", fs)
	hh.recv("a", "F1", fs)
	hh.recv("a", "E2", fs) // after the fence on a: held
	hh.want("a done", "E1")
	hh.recv("b", "F1", fs)
	hh.want("b's copy", "E1")
	hh.recv("c", "E3", fs) // before the fence on c: delivered first
	hh.want("c's event", "E1", "E3")
	hh.recv("c", "F1", fs)
	hh.want("all copies", "E1", "E3", "F1", "E2")
	hh.recv("b", "E4", fs)
	hh.want("after", "E1", "E3", "F1", "E2", "E4")
}

func TestHubFenceWaitsForEarlierEvents(t *testing.T) {
	t.Parallel()
	hh := newHubHarness(t, "a", "b")
	fs := fences([]string{"a", "b"}, "F1", "F2")
	// Two fences cross: F2 has every copy with only a fence ahead of it,
	// so it goes first; F1 waits for its copy on b.
	hh.recv("a", "F1", fs)
	hh.recv("b", "F2", fs)
	hh.want("one copy each", nil...)
	hh.recv("a", "F2", fs)
	hh.want("F2 complete", "F2")
	hh.recv("b", "E1", fs)
	hh.want("E1 after F2 on b", "F2", "E1")
	hh.recv("b", "F1", fs)
	hh.want("F1 complete", "F2", "E1", "F1")
}

func TestHubFenceDeadline(t *testing.T) {
	t.Parallel()
	hh := newHubHarness(t, "a", "b")
	fs := fences([]string{"a", "b"}, "F1")
	hh.recv("a", "F1", fs)
	hh.recv("a", "E1", fs)
	hh.want("waiting for b", nil...)
	hh.clock.Advance(hh.h.r.cfg.PublishTimeout)
	hh.recv("b", "E2", fs)
	hh.want("deadline", "F1", "E1", "E2")
	hh.recv("b", "F1", fs) // late copy: ignored
	hh.want("late copy", "F1", "E1", "E2")

	// Crossing fences with events between them cannot all be ordered;
	// the deadline delivers them.
	hh.got = nil
	fs = fences([]string{"a", "b"}, "G1", "G2")
	for _, m := range []string{"G1", "Ea", "G2"} {
		hh.recv("a", m, fs)
	}
	for _, m := range []string{"G2", "Eb", "G1"} {
		hh.recv("b", m, fs)
	}
	hh.want("stuck", nil...)
	hh.clock.Advance(hh.h.r.cfg.PublishTimeout)
	hh.h.expire(hh.clock.Now())
	hh.h.drain()
	slices.Sort(hh.got)
	if want := []string{"fence=G1", "fence=G2", "ql:log=Ea", "ql:log=Eb"}; !slices.Equal(hh.got, want) {
		t.Fatalf("forced: delivered %q, want %q in any order", hh.got, want)
	}
}

func TestHubLoopDeadlineWithFakeClock(t *testing.T) {
	t.Parallel()
	cfg := DefaultLocalConfig()
	clock := core.NewFakeClock(time.Unix(1_700_000_000, 0))
	cfg.Clock = clock
	a, b := newStubShard("a"), newStubShard("b")
	r, err := NewWithShards(cfg, []Shard{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer r.Stop(context.Background())
	got := make(chan string, 10)
	cancel := r.Events(func(channel, message string) { got <- channel + "=" + message })
	defer cancel()
	b.muted.Store(true) // b takes the publish but never echoes it
	if _, err := r.Publish(context.Background(), "chan", "hello"); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := clock.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		t.Fatalf("delivered %q before the deadline", m)
	default:
	}
	clock.Advance(cfg.PublishTimeout)
	select {
	case m := <-got:
		if m != "chan=hello" {
			t.Fatalf("got %q", m)
		}
	case <-ctx.Done():
		t.Fatal("not delivered after the deadline")
	}
}

func TestSlowSubscriberDisconnected(t *testing.T) {
	t.Parallel()
	cfg := DefaultLocalConfig()
	cfg.EventQueueLimit = 3
	a := newStubShard("a")
	r, err := NewWithShards(cfg, []Shard{a, newStubShard("b")})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer r.Stop(context.Background())
	block := make(chan struct{})
	dropped := make(chan struct{})
	r.EventsNotify(func(string, string) { <-block }, func() { close(dropped) })
	fast := make(chan string, 100)
	r.Events(func(_, m string) { fast <- m })
	// One message at a time: the fast subscriber keeps up, the slow one
	// falls behind by more than the limit.
	for i := 0; i < 10; i++ {
		a.emit("ql:log", fmt.Sprint(i))
		select {
		case m := <-fast:
			if m != fmt.Sprint(i) {
				t.Fatalf("fast subscriber got %q, want %d", m, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("fast subscriber starved at %d", i)
		}
	}
	select {
	case <-dropped:
	case <-time.After(10 * time.Second):
		t.Fatal("slow subscriber not dropped")
	}
	close(block)
}

// collector records the events a router delivers.
type collector struct {
	mu  sync.Mutex
	got []string
}

func (c *collector) add(channel, message string) {
	c.mu.Lock()
	c.got = append(c.got, channel+" "+message)
	c.mu.Unlock()
}

func (c *collector) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

func TestEventsOfEveryShardAndPublishOrder(t *testing.T) {
	t.Parallel()
	rs := startRedises(t, 3)
	r1 := startRouter(t, "r1", rs, nil)
	r2 := startRouter(t, "r2", rs, nil)
	var c1, c2 collector
	defer r1.Events(c1.add)()
	defer r2.Events(c2.add)()
	var queues []string
	for _, rd := range rs {
		queues = append(queues, queueOn(t, r1.Router, rd.name, "ev-"))
	}
	const rounds = 5
	for round := 0; round < rounds; round++ {
		for i, q := range queues {
			jid := fmt.Sprintf("ev-%d-%d", round, i)
			r2.q(t, "put", "100", "w", q, jid, "K", "{}", "0")
		}
		if _, err := r2.Publish(context.Background(), "fence", fmt.Sprint(round)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*collector{&c1, &c2} {
		waitFor(t, "fences", 10*time.Second, func() string {
			got := c.snapshot()
			if !slices.Contains(got, fmt.Sprintf("fence %d", rounds-1)) {
				return fmt.Sprintf("%d events so far", len(got))
			}
			return ""
		})
		got := c.snapshot()
		seen := map[string]bool{}
		for _, m := range got {
			if round, ok := strings.CutPrefix(m, "fence "); ok {
				for i := range queues {
					want := fmt.Sprintf(`ql:log {"jid":"ev-%s-%d","event":"put","queue":"%s"}`, round, i, queues[i])
					if !seen[want] {
						t.Fatalf("fence %s delivered before %s; events: %q", round, want, got)
					}
				}
			}
			seen[m] = true
		}
	}

	// Sync: every event published before it has reached the subscribers.
	for i, q := range queues {
		r1.q(t, "put", "200", "w", q, fmt.Sprint("sync-", i), "K", "{}", "0")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got := c2.snapshot()
	for i, q := range queues {
		want := fmt.Sprintf(`ql:log {"jid":"sync-%d","event":"put","queue":"%s"}`, i, q)
		if !slices.Contains(got, want) {
			t.Errorf("after Sync, %s is missing", want)
		}
	}
	for _, m := range got {
		if strings.HasPrefix(m, publishChannel) {
			t.Errorf("internal message delivered: %q", m)
		}
	}
}

// A router subscribes to the shards' events only once a subscriber
// registers: until then no shard sends it anything (each subscribed router
// costs every shard CPU per event).
func TestShardEventsSubscribedOnDemand(t *testing.T) {
	t.Parallel()
	rs := startRedises(t, 2)
	r := startRouter(t, "r1", rs, nil)
	numpat := func() int64 {
		var n int64
		for _, rd := range rs {
			rep, err := r.shards[rd.name].Do(context.Background(), "PUBSUB", "NUMPAT")
			if err != nil {
				t.Fatal(err)
			}
			n += rep.Int
		}
		return n
	}
	if n := numpat(); n != 0 {
		t.Fatalf("pattern subscriptions on the shards before any subscriber = %d, want 0", n)
	}
	var c collector
	defer r.Events(c.add)() // returns once the shards' subscriptions deliver
	if n := numpat(); n != int64(len(rs)) {
		t.Fatalf("pattern subscriptions after Events = %d, want one per shard (%d)", n, len(rs))
	}
	q := queueOn(t, r.Router, rs[1].name, "od-")
	r.q(t, "put", "100", "w", q, "od-1", "K", "{}", "0")
	want := fmt.Sprintf(`ql:log {"jid":"od-1","event":"put","queue":"%s"}`, q)
	waitFor(t, "the put event", 10*time.Second, func() string {
		if !slices.Contains(c.snapshot(), want) {
			return "not yet"
		}
		return ""
	})
	// A second subscriber starts nothing more.
	defer r.Events(func(string, string) {})()
	if n := numpat(); n != int64(len(rs)) {
		t.Errorf("pattern subscriptions after a second subscriber = %d, want %d", n, len(rs))
	}
}
