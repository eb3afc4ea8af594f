package shard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/redis/rueidis"
)

// Listener is a subscription to a changing set of the shard's channels, on
// a connection of its own: exact channels, and optionally every ql:*
// channel (PSUBSCRIBE ql:*). A router listens to just what its clients
// want: every message a shard sends to a subscriber costs the shard CPU,
// and most clients want a few channels (a worker its ql:w:<name>), not the
// ql:log message of every job.
//
// Messages reach the callback once each, in the order the shard published
// them, also while the set changes: with the pattern on, a message that
// also matches an exact channel comes twice from Redis (as message and as
// pmessage) and only the pmessage copy is passed on; the pattern is taken
// before and dropped after the exact channels that replace it, so no
// message falls in between.
type Listener struct {
	s  *Shard
	fn func(channel, message string)

	mu      sync.Mutex
	want    subSet        // guarded by mu: the set asked for
	version uint64        // guarded by mu: bumped by every Set
	applied uint64        // guarded by mu: the version in place on the connection
	changed chan struct{} // guarded by mu: closed (and replaced) when applied moves
	kick    chan struct{} // wakes the loop when want changes
	done    chan struct{} // closed when the Listener has ended
}

// subSet is a set of subscriptions: exact channels and the ql:* pattern.
// A subSet is never changed once made (Request makes a new one).
type subSet struct {
	channels map[string]bool
	all      bool
}

// Listen starts a Listener with an empty set; Set says what to listen to.
// It runs until ctx ends or the Shard stops, resubscribing after a lost
// connection (waiting ResubscribeDelay, doubling up to HealthInterval, as
// Subscribe does); messages published while it was not subscribed are
// lost, as with any Redis subscriber. fn runs on the connection's reader
// goroutine, one call at a time, and must not block. Listen fails only if
// the Shard was never started.
func (s *Shard) Listen(ctx context.Context, fn func(channel, message string)) (*Listener, error) {
	s.mu.Lock()
	started := s.started || s.starting || s.stopped
	s.mu.Unlock()
	if !started {
		return nil, errors.New("shard " + s.name + ": Listen before Start")
	}
	l := &Listener{
		s:       s,
		fn:      fn,
		want:    subSet{channels: map[string]bool{}},
		changed: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	go func() {
		defer close(l.done)
		defer cancel()
		l.run(ctx)
	}()
	return l, nil
}

// Done is closed when the Listener has ended (its ctx, or the Shard's Stop).
func (l *Listener) Done() <-chan struct{} { return l.done }

// Set makes channels (exact names) and, with all, every ql:* channel the
// Listener's set. It returns once the shard has confirmed the
// subscriptions Set adds, so that everything the shard publishes after
// Set returns reaches fn; or with ctx's error, the change then still
// being made in the background. Removals are not waited for.
func (l *Listener) Set(ctx context.Context, channels []string, all bool) error {
	return l.Wait(ctx, l.Request(channels, all))
}

// Request is Set without the wait: it returns the version of the set, for
// Wait.
func (l *Listener) Request(channels []string, all bool) uint64 {
	w := subSet{channels: make(map[string]bool, len(channels)), all: all}
	for _, ch := range channels {
		w.channels[ch] = true
	}
	l.mu.Lock()
	l.want = w
	l.version++
	v := l.version
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return v
}

// Wait waits until the set of version v (or a later one) is in place, ctx
// ends or the Listener ends.
func (l *Listener) Wait(ctx context.Context, v uint64) error {
	for {
		l.mu.Lock()
		done, changed := l.applied >= v, l.changed
		l.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("shard %s: subscribe: %w", l.s.name, ctx.Err())
		case <-l.done:
			return fmt.Errorf("shard %s: subscribe: listener ended", l.s.name)
		}
	}
}

// markApplied records that version v is in place and wakes Set's waiters.
func (l *Listener) markApplied(v uint64) {
	l.mu.Lock()
	if v > l.applied {
		l.applied = v
		close(l.changed)
		l.changed = make(chan struct{})
	}
	l.mu.Unlock()
}

// run keeps a connection subscribed to the wanted set until ctx ends.
func (l *Listener) run(ctx context.Context) {
	s := l.s
	delay := s.cfg.ResubscribeDelay
	for ctx.Err() == nil {
		var err error
		var served bool
		if b := s.client.Load(); b != nil {
			served, err = l.serve(ctx, b.c)
			if served {
				delay = s.cfg.ResubscribeDelay
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.log.Debug("subscription lost; resubscribing", "err", err, "delay", delay)
		}
		t := s.clock.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C():
		}
		delay = min(2*delay, s.cfg.HealthInterval)
	}
}

// conn is the state of one subscribed connection, shared with its reader.
type conn struct {
	patternOn atomic.Bool // the ql:* pattern is confirmed (in stream order)

	mu        sync.Mutex
	confirmed map[string]bool // guarded by mu: "c:<channel>", "p:<pattern>"
	notify    chan struct{}   // guarded by mu: closed (and replaced) on every confirmation
}

func (c *conn) confirm(key string, on bool) {
	c.mu.Lock()
	if on {
		c.confirmed[key] = true
	} else {
		delete(c.confirmed, key)
	}
	close(c.notify)
	c.notify = make(chan struct{})
	c.mu.Unlock()
}

// serve subscribes one dedicated connection and follows the wanted set
// until the connection fails or ctx ends. served reports whether it got as
// far as a first confirmed set.
func (l *Listener) serve(ctx context.Context, c rueidis.Client) (served bool, err error) {
	dc, release := c.Dedicate()
	defer release()
	st := &conn{confirmed: map[string]bool{}, notify: make(chan struct{})}
	lost := dc.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) {
			if m.Pattern == "" && st.patternOn.Load() {
				return // the pmessage copy of this message is passed on
			}
			l.fn(m.Channel, m.Message)
		},
		OnSubscription: func(sub rueidis.PubSubSubscription) {
			switch sub.Kind {
			case "subscribe", "unsubscribe":
				st.confirm("c:"+sub.Channel, sub.Kind == "subscribe")
			case "psubscribe", "punsubscribe":
				if sub.Channel == eventPattern {
					st.patternOn.Store(sub.Kind == "psubscribe")
				}
				st.confirm("p:"+sub.Channel, sub.Kind == "psubscribe")
			}
		},
	})
	defer dc.SetPubSubHooks(rueidis.PubSubHooks{})
	have := subSet{channels: map[string]bool{}}
	for {
		l.mu.Lock()
		want, v := l.want, l.version
		l.mu.Unlock()
		if err := l.apply(ctx, dc, st, lost, &have, want); err != nil {
			return served, err
		}
		served = true
		l.markApplied(v)
		select {
		case <-ctx.Done():
			return served, nil
		case err := <-lost:
			return served, lostError(err)
		case <-l.kick:
		}
	}
}

// apply changes the connection's subscriptions from have to want: the
// additions first, waiting for their confirmations, then the removals.
func (l *Listener) apply(ctx context.Context, dc rueidis.DedicatedClient, st *conn, lost <-chan error, have *subSet, want subSet) error {
	var add, drop []string
	for ch := range want.channels {
		if !have.channels[ch] {
			add = append(add, ch)
		}
	}
	for ch := range have.channels {
		if !want.channels[ch] {
			drop = append(drop, ch)
		}
	}
	slices.Sort(add)
	slices.Sort(drop)
	var keys []string
	var cmds rueidis.Commands
	if want.all && !have.all {
		cmds = append(cmds, dc.B().Psubscribe().Pattern(eventPattern).Build())
		keys = append(keys, "p:"+eventPattern)
	}
	if len(add) > 0 {
		cmds = append(cmds, dc.B().Subscribe().Channel(add...).Build())
		for _, ch := range add {
			keys = append(keys, "c:"+ch)
		}
	}
	if err := l.send(ctx, dc, cmds); err != nil {
		return err
	}
	if err := l.await(ctx, st, lost, keys); err != nil {
		return err
	}
	cmds = cmds[:0]
	if len(drop) > 0 {
		cmds = append(cmds, dc.B().Unsubscribe().Channel(drop...).Build())
	}
	if have.all && !want.all {
		cmds = append(cmds, dc.B().Punsubscribe().Pattern(eventPattern).Build())
	}
	if err := l.send(ctx, dc, cmds); err != nil {
		return err
	}
	*have = want
	return nil
}

// send writes subscription commands (their confirmations come through the
// hooks).
func (l *Listener) send(ctx context.Context, dc rueidis.DedicatedClient, cmds rueidis.Commands) error {
	if len(cmds) == 0 {
		return nil
	}
	for _, res := range dc.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return fmt.Errorf("shard %s: subscribe: %w", l.s.name, err)
		}
	}
	return nil
}

// await waits until every key is confirmed, the connection is lost or ctx
// ends.
func (l *Listener) await(ctx context.Context, st *conn, lost <-chan error, keys []string) error {
	for {
		st.mu.Lock()
		all := true
		for _, k := range keys {
			if !st.confirmed[k] {
				all = false
				break
			}
		}
		notify := st.notify
		st.mu.Unlock()
		if all {
			return nil
		}
		select {
		case <-notify:
		case err := <-lost:
			return fmt.Errorf("shard %s: subscribe: %w", l.s.name, lostError(err))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// lostError is what a lost subscription connection reports (its hooks'
// channel gives an error, or is closed without one).
func lostError(err error) error {
	if err == nil {
		return errors.New("subscription connection closed")
	}
	return err
}
