package resp

import (
	"context"
	"sync/atomic"
	"testing"
)

// barrierBackend is a fakeBackend whose Barrier emits a message that was
// "published before the SUBSCRIBE" but reaches the server only now, as a
// router's shard messages do.
type barrierBackend struct {
	*fakeBackend
	calls atomic.Int32
}

func (b *barrierBackend) Barrier(ctx context.Context) error {
	b.calls.Add(1)
	b.emit("ql:log", "before-subscribe")
	return nil
}

// TestSubscribeFence: a new subscriber gets the messages published after
// its first SUBSCRIBE and none of those published before, even when those
// reach the server late.
func TestSubscribeFence(t *testing.T) {
	t.Parallel()
	b := &barrierBackend{fakeBackend: &fakeBackend{}}
	s := startServerWith(t, nil, b)
	for round := 1; round <= 20; round++ {
		sub := dialRaw(t, s.Addr())
		if got := sub.do("PSUBSCRIBE", "*"); !isSubscribeReply(got, "psubscribe", "*") {
			t.Fatalf("PSUBSCRIBE * = %#v", got)
		}
		b.emit("ql:log", "after-subscribe")
		got := sub.read()
		want := []any{"pmessage", "*", "ql:log", "after-subscribe"}
		if !equalAny(got, want) {
			t.Fatalf("round %d: first message = %#v, want %#v", round, got, want)
		}
		sub.c.Close()
	}
	if n := b.calls.Load(); n != 20 {
		t.Fatalf("Barrier called %d times, want once per first subscription (20)", n)
	}
}

func isSubscribeReply(v any, kind, ch string) bool {
	a, ok := v.([]any)
	return ok && len(a) == 3 && a[0] == kind && a[1] == ch
}

func equalAny(got any, want []any) bool {
	a, ok := got.([]any)
	if !ok || len(a) != len(want) {
		return false
	}
	for i := range a {
		if a[i] != want[i] {
			return false
		}
	}
	return true
}

// TestUnsubscribeFence: a message published before a subscriber's
// UNSUBSCRIBE (here one that reaches the server only during the barrier, as
// a router's shard messages may) reaches it before the unsubscribe reply,
// as on one Redis (the qless test harness collects events this way).
func TestUnsubscribeFence(t *testing.T) {
	t.Parallel()
	b := &barrierBackend{fakeBackend: &fakeBackend{}}
	s := startServerWith(t, nil, b)
	for _, kind := range []string{"punsubscribe", "unsubscribe"} {
		sub := dialRaw(t, s.Addr())
		if kind == "punsubscribe" {
			sub.do("PSUBSCRIBE", "*")
		} else {
			sub.do("SUBSCRIBE", "ql:log")
		}
		before := b.calls.Load()
		sub.send(kind)
		got := sub.read()
		if a, ok := got.([]any); !ok || len(a) < 3 || a[len(a)-1] != "before-subscribe" {
			t.Fatalf("%s: first reply %#v, want the message published before it", kind, got)
		}
		if got := sub.read(); !isSubscribeReply(got, kind, map[string]any{"punsubscribe": "*", "unsubscribe": "ql:log"}[kind].(string)) {
			t.Fatalf("%s: then %#v, want its reply", kind, got)
		}
		if b.calls.Load() != before+1 {
			t.Errorf("%s: Barrier called %d times, want once", kind, b.calls.Load()-before)
		}
		sub.c.Close()
	}
}
