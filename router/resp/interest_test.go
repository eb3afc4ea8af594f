package resp

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// interestBackend is a fakeBackend that follows its clients' subscriptions
// (Interest): it records every want and release, and can hold a want.
type interestBackend struct {
	*fakeBackend
	mu     sync.Mutex
	log    []string                 // "want c:ql:a", "release p:*", in order
	feeds  int                      // Feed registrations
	events int                      // Events registrations (must stay 0)
	hold   map[string]chan struct{} // a want of this key waits for the channel
	held   chan string              // told the key of a held want when it starts
}

var _ Interest = (*interestBackend)(nil)

func (b *interestBackend) Feed(fn func(channel, message string)) func() {
	b.mu.Lock()
	b.feeds++
	b.mu.Unlock()
	return b.fakeBackend.Events(fn)
}

func (b *interestBackend) Events(fn func(channel, message string)) func() {
	b.mu.Lock()
	b.events++
	b.mu.Unlock()
	return b.fakeBackend.Events(fn)
}

func (b *interestBackend) Want(ctx context.Context, channel string, pattern bool) (func(), error) {
	key := wantKey(pattern, channel)
	b.mu.Lock()
	gate := b.hold[key]
	b.mu.Unlock()
	if gate != nil {
		b.held <- key
		<-gate
	}
	b.mu.Lock()
	b.log = append(b.log, "want "+key)
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.log = append(b.log, "release "+key)
			b.mu.Unlock()
		})
	}, nil
}

func (b *interestBackend) entries() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.log)
}

func startInterestServer(t *testing.T) (*Server, *interestBackend) {
	t.Helper()
	b := &interestBackend{fakeBackend: &fakeBackend{}, hold: map[string]chan struct{}{}, held: make(chan string, 1)}
	return startServerWith(t, nil, b), b
}

// The server wants each channel and pattern a connection subscribes to,
// once, releases it at the unsubscribe, and everything at the close; it
// registers its feed with Feed, not Events.
func TestInterestFollowsSubscriptions(t *testing.T) {
	t.Parallel()
	s, b := startInterestServer(t)
	c := dialRaw(t, s.Addr())
	c.send("SUBSCRIBE", "ql:a", "ql:b")
	c.read()
	c.read()
	c.send("SUBSCRIBE", "ql:a") // again: no second want
	c.read()
	c.send("PSUBSCRIBE", "*")
	c.read()
	c.send("UNSUBSCRIBE", "ql:a")
	c.read()
	c.send("PUNSUBSCRIBE")
	c.read()
	want := []string{"want c:ql:a", "want c:ql:b", "want p:*", "release c:ql:a", "release p:*"}
	if got := b.entries(); !slices.Equal(got, want) {
		t.Fatalf("wants = %q, want %q", got, want)
	}
	c.c.Close()
	waitFor(t, "the release of ql:b at the close", func() bool {
		return slices.Contains(b.entries(), "release c:ql:b")
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.feeds != 1 || b.events != 0 {
		t.Errorf("feeds %d, events %d; want the feed registered once with Feed", b.feeds, b.events)
	}
}

// A subscription is confirmed only once its want returns, on a new
// connection and on one already subscribed.
func TestSubscribeWaitsForWant(t *testing.T) {
	t.Parallel()
	for _, already := range []bool{false, true} {
		s, b := startInterestServer(t)
		c := dialRaw(t, s.Addr())
		if already {
			c.do("SUBSCRIBE", "ql:first")
		}
		gate := make(chan struct{})
		b.mu.Lock()
		b.hold["c:ql:slow"] = gate
		b.mu.Unlock()
		c.send("SUBSCRIBE", "ql:slow")
		<-b.held
		replied := make(chan any, 1)
		go func() { replied <- c.read() }()
		select {
		case r := <-replied:
			t.Fatalf("already subscribed %v: reply %v before the want returned", already, r)
		case <-time.After(100 * time.Millisecond):
		}
		close(gate)
		select {
		case <-replied:
		case <-time.After(5 * time.Second):
			t.Fatalf("already subscribed %v: no reply after the want returned", already)
		}
	}
}
