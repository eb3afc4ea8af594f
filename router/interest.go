package router

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/qless-router/qless-router/shard"
)

// Interest: which of the shards' channels a router listens to.
//
// A shard spends CPU on every message it sends to a subscriber, so a router
// subscribes to just what its clients want (Want): the exact ql: channels
// they subscribed to (a worker's ql:w:<name>, the listeners' jid
// channels), and the whole ql:* stream only while some client has a
// pattern subscription or an Events registration needs everything. The
// internal channel ql:x:publish is always on: it carries clients'
// PUBLISHes (on any channel, which therefore need no upstream
// subscription) and the barriers of Sync. With no wants a router hears
// only ql:x:publish, which carries next to nothing.

// listenerShard is implemented by shards that can follow a changing set
// of channels (*shard.Shard). Others (test stand-ins) deliver every ql:*
// message through Subscribe whatever the router wants.
type listenerShard interface {
	Listen(ctx context.Context, fn func(channel, message string)) (*shard.Listener, error)
}

// interest counts the wants and keeps the shards' listeners in step.
type interest struct {
	mu        sync.Mutex
	channels  map[string]int             // guarded by mu; wants of each exact ql: channel
	all       int                        // guarded by mu; wants of every ql:* channel
	listeners map[string]*shard.Listener // guarded by mu; by shard, once subscribed
}

// request hands the current set to every listener and returns the
// version each will have applied it at. Call with mu held.
func (in *interest) request() map[string]uint64 {
	chans := make([]string, 0, len(in.channels)+1)
	chans = append(chans, publishChannel)
	for ch := range in.channels {
		chans = append(chans, ch)
	}
	slices.Sort(chans)
	vs := make(map[string]uint64, len(in.listeners))
	for name, l := range in.listeners {
		vs[name] = l.Request(chans, in.all > 0)
	}
	return vs
}

// Want makes the router hear the shards' messages on channel (with
// pattern, on every ql:* channel, unless the pattern cannot match one)
// until release is called, and waits,
// bounded by ctx and Config.SubscribeTimeout, until every healthy shard has
// confirmed the subscription: a message a shard publishes after Want
// returns reaches the Events and Feed callbacks. A channel outside ql: needs
// no subscription (only clients publish there, through envelopes). The
// error says which shards did not confirm in time; the want stays, and is
// put in place when they can be reached. release is idempotent.
func (r *Router) Want(ctx context.Context, channel string, pattern bool) (release func(), err error) {
	if !mayMatchQless(channel, pattern) {
		return func() {}, nil
	}
	r.subscribeShards()
	in := &r.interest
	in.mu.Lock()
	if pattern {
		in.all++
	} else {
		in.channels[channel]++
	}
	vs := in.request()
	listeners := maps.Clone(in.listeners)
	in.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			in.mu.Lock()
			defer in.mu.Unlock()
			if pattern {
				in.all--
			} else if in.channels[channel]--; in.channels[channel] <= 0 {
				delete(in.channels, channel)
			}
			in.request()
		})
	}
	return release, r.awaitListeners(ctx, listeners, vs)
}

// mayMatchQless reports whether a channel (or a glob pattern) can name a
// ql: channel: a pattern's literal start (up to its first special
// character) must begin with "ql:" or be the start of it.
func mayMatchQless(channel string, pattern bool) bool {
	const prefix = "ql:"
	if !pattern {
		return strings.HasPrefix(channel, prefix)
	}
	lit := channel
	if i := strings.IndexAny(channel, `*?[\`); i >= 0 {
		lit = channel[:i]
	}
	return strings.HasPrefix(lit, prefix) || strings.HasPrefix(prefix, lit)
}

// awaitListeners waits until each healthy shard's listener has applied
// its version. An unhealthy shard is not waited for: its listener
// subscribes when it is back.
func (r *Router) awaitListeners(ctx context.Context, ls map[string]*shard.Listener, vs map[string]uint64) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.SubscribeTimeout)
	defer cancel()
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for name, l := range ls {
		if !r.shards[name].Healthy() {
			continue
		}
		wg.Go(func() {
			if err := l.Wait(ctx, vs[name]); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
