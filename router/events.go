package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qless-router/qless-router/core"
)

// Events (DESIGN section 9).
//
// Each router subscribes once to every shard's ql:* channels, when its first
// subscriber registers (Events), and hands every message to its own
// subscribers, in the order each shard published them. Messages of
// different shards interleave in arrival order.
//
// A client's PUBLISH must reach the subscribers of every router, and after
// the events that happened before it, as on one Redis. The publishing router
// wraps the message in an envelope carrying an id and the list of shards it
// publishes to, and publishes it on the internal channel ql:x:publish of
// every healthy shard. Every router (the publisher too) receives one copy
// per shard, in each shard's stream after everything that shard published
// earlier. A router keeps a queue per shard; a copy at the head of a queue
// holds that shard's later messages back until the copy of every listed
// shard has arrived and nothing but such copies is ahead of them in any
// queue. Then the client's message is delivered once, and the queues move
// on. So when a subscriber gets the message, it has got every event that
// any listed shard published before the PUBLISH reached it, and nothing
// that a shard published after. If a copy does not arrive within
// Config.PublishTimeout (a shard went away, or two routers' envelopes
// crossed on two shards in opposite orders), the message is delivered
// anyway and the held messages follow.
//
// Backpressure: the shard readers never block (they append to the hub's
// input). Each subscriber has its own queue and goroutine; a subscriber
// whose queue exceeds Config.EventQueueLimit is disconnected (its
// callback is never called again; the dropped callback of EventsNotify
// tells its owner), as Redis disconnects a pubsub client past its output
// buffer limit. Nothing is dropped otherwise.

// publishChannel is the internal channel of published envelopes. It is
// never delivered to subscribers.
const publishChannel = "ql:x:publish"

// Envelope kinds.
const (
	envPublish = "pub"  // a client's PUBLISH
	envSync    = "sync" // a barrier for Sync; delivers nothing
	envPing    = "ping" // a subscription check at Start; not ordered
)

// envelope is what travels on publishChannel:
// v1|<kind>|<id>|<shard,shard...>|<len(channel)>|<channel><message>
type envelope struct {
	kind, id string
	shards   []string
	channel  string
	message  string
}

func (e envelope) encode() string {
	return "v1|" + e.kind + "|" + e.id + "|" + strings.Join(e.shards, ",") + "|" +
		strconv.Itoa(len(e.channel)) + "|" + e.channel + e.message
}

func decodeEnvelope(s string) (envelope, error) {
	var e envelope
	parts := make([]string, 5)
	rest := s
	for i := range parts {
		var ok bool
		parts[i], rest, ok = strings.Cut(rest, "|")
		if !ok {
			return e, fmt.Errorf("envelope %.40q: too few fields", s)
		}
	}
	if parts[0] != "v1" {
		return e, fmt.Errorf("envelope %.40q: unknown version", s)
	}
	n, err := strconv.Atoi(parts[4])
	if err != nil || n < 0 || n > len(rest) {
		return e, fmt.Errorf("envelope %.40q: bad channel length", s)
	}
	e.kind, e.id = parts[1], parts[2]
	if parts[3] != "" {
		e.shards = strings.Split(parts[3], ",")
	}
	e.channel, e.message = rest[:n], rest[n:]
	return e, nil
}

// inMsg is one message received from a shard, or a marker of an envelope
// copy in a shard's queue (fence != "").
type inMsg struct {
	shard, channel, message string
	fence                   string
}

// fence is an envelope (publish or sync) waiting for its copies.
type fence struct {
	env      envelope
	arrived  map[string]bool
	deadline time.Time
	forced   bool
}

// hub orders and delivers the events of one router.
type hub struct {
	r     *Router
	token string // prefix of this router's envelope ids
	seq   atomic.Uint64

	mu   sync.Mutex
	in   []inMsg       // guarded by mu; received, not yet processed
	wake chan struct{} // signalled when in grows

	// out hands a message to the subscribers (fanToSubscribers); tests
	// replace it to watch the order of delivery.
	out func(channel, message string)

	// Touched only by the loop goroutine.
	queues    map[string][]inMsg
	fences    map[string]*fence
	delivered map[string]bool
	doneOrder []doneFence

	subMu  sync.Mutex
	subs   []*subscriber // guarded by subMu; copy on write
	subSeq uint64        // guarded by subMu

	waitMu  sync.Mutex
	pings   map[string]chan struct{} // guarded by waitMu; by ping id
	syncs   map[string]chan struct{} // guarded by waitMu; by sync id
	cancel  context.CancelFunc
	stopped chan struct{}
}

type doneFence struct {
	id string
	at time.Time
}

func newHub(r *Router) *hub {
	var b [8]byte
	_, _ = rand.Read(b[:])
	h := &hub{
		r:         r,
		token:     hex.EncodeToString(b[:]),
		wake:      make(chan struct{}, 1),
		queues:    make(map[string][]inMsg),
		fences:    make(map[string]*fence),
		delivered: make(map[string]bool),
		pings:     make(map[string]chan struct{}),
		syncs:     make(map[string]chan struct{}),
	}
	h.out = h.fanToSubscribers
	return h
}

func (h *hub) start(ctx context.Context) {
	ctx, h.cancel = context.WithCancel(ctx)
	h.stopped = make(chan struct{})
	go func() {
		defer close(h.stopped)
		h.loop(ctx)
	}()
}

// stop ends the loop and disconnects every subscriber.
func (h *hub) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.stopped
	}
	h.subMu.Lock()
	subs := h.subs
	h.subs = nil
	h.subMu.Unlock()
	for _, s := range subs {
		s.close()
	}
}

// receive is called by the shard readers: it never blocks.
func (h *hub) receive(shard, channel, message string) {
	if channel == publishChannel {
		if e, err := decodeEnvelope(message); err == nil && e.kind == envPing {
			h.waitMu.Lock()
			ch := h.pings[e.id]
			delete(h.pings, e.id)
			h.waitMu.Unlock()
			if ch != nil {
				close(ch)
			}
			return
		}
	}
	h.mu.Lock()
	h.in = append(h.in, inMsg{shard: shard, channel: channel, message: message})
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *hub) nextID() string {
	return h.token + "-" + strconv.FormatUint(h.seq.Add(1), 10)
}

func (h *hub) loop(ctx context.Context) {
	clock := h.r.clock
	for {
		var timer core.Timer
		var timeout <-chan time.Time
		if d, ok := h.nextDeadline(); ok {
			timer = clock.NewTimer(d.Sub(clock.Now()))
			timeout = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-h.wake:
		case <-timeout:
		}
		if timer != nil {
			timer.Stop()
		}
		h.mu.Lock()
		batch := h.in
		h.in = nil
		h.mu.Unlock()
		for _, m := range batch {
			h.accept(m)
		}
		h.expire(clock.Now())
		h.drain()
	}
}

func (h *hub) nextDeadline() (time.Time, bool) {
	var d time.Time
	found := false
	for _, f := range h.fences {
		if !f.forced && (!found || f.deadline.Before(d)) {
			d, found = f.deadline, true
		}
	}
	return d, found
}

// accept puts one received message into its shard's queue.
func (h *hub) accept(m inMsg) {
	if m.channel != publishChannel {
		h.queues[m.shard] = append(h.queues[m.shard], m)
		return
	}
	e, err := decodeEnvelope(m.message)
	if err != nil {
		h.r.log.Warn("events: bad envelope", "shard", m.shard, "err", err)
		return
	}
	if h.delivered[e.id] {
		return // a late copy of an envelope delivered by its deadline
	}
	f := h.fences[e.id]
	if f == nil {
		// Wait only for the shards this router hears (another router may
		// list a shard this one does not have during a change of shard set).
		e.shards = slices.DeleteFunc(e.shards, func(n string) bool { _, ok := h.r.shards[n]; return !ok })
		f = &fence{env: e, arrived: make(map[string]bool), deadline: h.r.clock.Now().Add(h.r.cfg.PublishTimeout)}
		h.fences[e.id] = f
	}
	f.arrived[m.shard] = true
	h.queues[m.shard] = append(h.queues[m.shard], inMsg{shard: m.shard, fence: e.id})
}

// expire forces the envelopes whose deadline has passed, and forgets old
// delivered ids.
func (h *hub) expire(now time.Time) {
	for id, f := range h.fences {
		if !f.forced && !now.Before(f.deadline) {
			f.forced = true
			missing := []string{}
			for _, s := range f.env.shards {
				if !f.arrived[s] {
					missing = append(missing, s)
				}
			}
			h.r.log.Warn("events: published message delivered without every shard's copy", "id", id, "missing", missing)
		}
	}
	keep := 10 * h.r.cfg.PublishTimeout
	i := 0
	for i < len(h.doneOrder) && now.Sub(h.doneOrder[i].at) > keep {
		delete(h.delivered, h.doneOrder[i].id)
		i++
	}
	h.doneOrder = h.doneOrder[i:]
}

// ready reports whether envelope f may be delivered: forced, or every
// listed shard's copy has arrived with nothing but other envelope copies
// ahead of it in that shard's queue.
func (h *hub) ready(f *fence) bool {
	if f.forced {
		return true
	}
	for _, s := range f.env.shards {
		if !f.arrived[s] {
			return false
		}
		for _, m := range h.queues[s] {
			if m.fence == f.env.id {
				break
			}
			if m.fence == "" {
				return false
			}
		}
	}
	return true
}

// drain delivers everything that may be delivered.
func (h *hub) drain() {
	names := h.r.names
	for progress := true; progress; {
		progress = false
		for _, n := range names {
			q := h.queues[n]
			for len(q) > 0 {
				m := q[0]
				if m.fence == "" {
					h.out(m.channel, m.message)
				} else if !h.delivered[m.fence] {
					f := h.fences[m.fence]
					if f == nil || !h.ready(f) {
						break
					}
					h.complete(f)
				}
				q = q[1:]
				progress = true
			}
			if len(q) == 0 {
				q = nil
			}
			h.queues[n] = q
		}
	}
}

// complete delivers an envelope that is ready.
func (h *hub) complete(f *fence) {
	id := f.env.id
	delete(h.fences, id)
	h.delivered[id] = true
	h.doneOrder = append(h.doneOrder, doneFence{id: id, at: h.r.clock.Now()})
	switch f.env.kind {
	case envPublish:
		h.out(f.env.channel, f.env.message)
	case envSync:
		h.waitMu.Lock()
		ch := h.syncs[id]
		delete(h.syncs, id)
		h.waitMu.Unlock()
		if ch != nil {
			h.flushSubscribers(ch)
		}
	}
}

// flushSubscribers closes done once every current subscriber has handled
// everything queued for it so far.
func (h *hub) flushSubscribers(done chan struct{}) {
	h.subMu.Lock()
	subs := h.subs
	h.subMu.Unlock()
	var wg sync.WaitGroup
	for _, s := range subs {
		ack := make(chan struct{})
		if s.push(item{ack: ack}) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-ack:
				case <-s.gone:
				}
			}()
		}
	}
	go func() { wg.Wait(); close(done) }()
}

// fanToSubscribers queues one message for every subscriber.
func (h *hub) fanToSubscribers(channel, message string) {
	h.subMu.Lock()
	subs := h.subs
	h.subMu.Unlock()
	for _, s := range subs {
		if !s.push(item{channel: channel, message: message}) {
			h.remove(s, true)
		}
	}
}

func (h *hub) add(fn func(channel, message string), dropped func()) *subscriber {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	h.subSeq++
	s := &subscriber{id: h.subSeq, fn: fn, dropped: dropped, limit: h.r.cfg.EventQueueLimit,
		wake: make(chan struct{}, 1), gone: make(chan struct{})}
	h.subs = append(slices.Clone(h.subs), s)
	go s.run()
	return s
}

// remove unregisters s; overflow says it fell too far behind.
func (h *hub) remove(s *subscriber, overflow bool) {
	h.subMu.Lock()
	i := slices.Index(h.subs, s)
	if i >= 0 {
		h.subs = slices.Delete(slices.Clone(h.subs), i, i+1)
	}
	h.subMu.Unlock()
	if i < 0 {
		return
	}
	if overflow {
		h.r.log.Warn("events: subscriber too slow; disconnected", "limit", s.limit)
	}
	s.close()
	if overflow && s.dropped != nil {
		go s.dropped()
	}
}

// item is one message for a subscriber, or an acknowledgement request.
type item struct {
	channel, message string
	ack              chan struct{}
}

type subscriber struct {
	id      uint64
	fn      func(channel, message string)
	dropped func()
	limit   int

	mu     sync.Mutex
	q      []item // guarded by mu
	closed bool   // guarded by mu
	wake   chan struct{}
	gone   chan struct{} // closed when the subscriber is removed
}

// push queues it; false means the subscriber is over its limit.
func (s *subscriber) push(it item) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if len(s.q) >= s.limit && it.ack == nil {
		s.mu.Unlock()
		return false
	}
	s.q = append(s.q, it)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

func (s *subscriber) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		s.q = nil
		close(s.gone)
	}
	s.mu.Unlock()
}

func (s *subscriber) run() {
	for {
		s.mu.Lock()
		for len(s.q) == 0 && !s.closed {
			s.mu.Unlock()
			select {
			case <-s.gone:
				return
			case <-s.wake:
			}
			s.mu.Lock()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		it := s.q[0]
		s.q[0] = item{}
		s.q = s.q[1:]
		s.mu.Unlock()
		if it.ack != nil {
			close(it.ack)
			continue
		}
		s.fn(it.channel, it.message)
	}
}

// Events registers fn for every message of the cluster: the events of every
// shard and the PUBLISHes of clients of any router. fn is called from one
// goroutine per registration, one message at a time, in order; it should
// not block for long (see EventsNotify). cancel unregisters fn; after it
// returns fn is not called again... except for a call already running.
func (r *Router) Events(fn func(channel, message string)) (cancel func()) {
	return r.EventsNotify(fn, nil)
}

// EventsNotify is Events with a dropped callback, called (once, on its own
// goroutine) if the subscriber is disconnected because more than
// Config.EventQueueLimit messages waited for fn. It wants every ql:*
// channel (Want) while registered.
func (r *Router) EventsNotify(fn func(channel, message string), dropped func()) (cancel func()) {
	stop := r.FeedNotify(fn, dropped)
	release, err := r.Want(context.Background(), "", true)
	if err != nil {
		r.log.Warn("events: subscription not confirmed by every shard", "err", err)
	}
	return func() {
		stop()
		release()
	}
}

// FeedNotify registers fn like EventsNotify, but for the messages of the
// channels some Want asked for (and every client's PUBLISH) only: a front
// end that tracks its clients' subscriptions wants just those channels.
func (r *Router) FeedNotify(fn func(channel, message string), dropped func()) (cancel func()) {
	s := r.events.add(fn, dropped)
	r.subscribeShards()
	return func() { r.events.remove(s, false) }
}

// subscribers returns the number of registered subscribers.
func (h *hub) subscribers() int {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	return len(h.subs)
}

// subscribeShards subscribes to every shard's events, once, and waits (at
// most Config.SubscribeTimeout) until each subscription delivers. A shard
// that can (listenerShard) gets a Listener following the router's interest;
// any other delivers every ql:* message. Before Start or after Stop it does
// nothing.
func (r *Router) subscribeShards() {
	r.mu.Lock()
	ready, subCtx := r.subReady, r.subCtx
	first := ready == nil && subCtx != nil && !r.stopped
	if first {
		ready = make(chan struct{})
		r.subReady = ready
		r.interest.mu.Lock()
		for _, n := range r.names {
			s := r.shards[n]
			fn := func(channel, message string) { r.events.receive(n, channel, message) }
			if ls, ok := s.(listenerShard); ok {
				l, err := ls.Listen(subCtx, fn)
				if err != nil {
					r.log.Error("subscribe to shard events", "shard", n, "err", err)
					continue
				}
				r.interest.listeners[n] = l
				r.wg.Go(func() { <-l.Done() }) // Stop waits for the listener to end
				continue
			}
			r.wg.Add(1) // (under mu: Stop's Wait starts after stopped is set)
			go func() {
				defer r.wg.Done()
				if err := s.Subscribe(subCtx, fn); err != nil {
					r.log.Error("subscribe to shard events", "shard", n, "err", err)
				}
			}()
		}
		r.interest.request()
		r.interest.mu.Unlock()
	}
	r.mu.Unlock()
	switch {
	case first:
		r.events.waitSubscribed(subCtx, r.cfg.SubscribeTimeout)
		close(ready)
	case ready != nil:
		// Another subscriber started them: wait until they deliver too.
		t := time.NewTimer(r.cfg.SubscribeTimeout)
		defer t.Stop()
		select {
		case <-ready:
		case <-t.C:
		}
	}
}

// Publish publishes message on channel to the subscribers of every router,
// ordered after every event that happened before it (see the comment at the
// top of events.go). It returns the number of this router's subscribers,
// which is all a router can count without waiting (one Redis returns the
// number of clients that received the message). It fails when no shard
// took the envelope.
func (r *Router) Publish(ctx context.Context, channel, message string) (int64, error) {
	if err := r.sendEnvelope(ctx, envPublish, r.events.nextID(), channel, message); err != nil {
		return 0, err
	}
	return int64(r.events.subscribers()), nil
}

// Sync waits until this router's subscribers have been handed every event
// that any shard published before Sync was called (a barrier through every
// shard's event stream, as Publish uses). The RESP front end uses it to
// answer UNSUBSCRIBE after the messages of the commands that came before.
func (r *Router) Sync(ctx context.Context) error {
	id := r.events.nextID()
	done := make(chan struct{})
	r.events.waitMu.Lock()
	r.events.syncs[id] = done
	r.events.waitMu.Unlock()
	defer func() {
		r.events.waitMu.Lock()
		delete(r.events.syncs, id)
		r.events.waitMu.Unlock()
	}()
	if err := r.sendEnvelope(ctx, envSync, id, "", ""); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sendEnvelope publishes an envelope on every healthy shard.
func (r *Router) sendEnvelope(ctx context.Context, kind, id, channel, message string) error {
	var targets []string
	for _, n := range r.names {
		if r.shards[n].Healthy() {
			targets = append(targets, n)
		}
	}
	if len(targets) == 0 {
		return fmt.Errorf("router: publish: %w: no shard is healthy", core.ErrNoShards)
	}
	payload := envelope{kind: kind, id: id, shards: targets, channel: channel, message: message}.encode()
	res, err := fanOut(ctx, r, targets, func(ctx context.Context, s Shard) (struct{}, error) {
		return struct{}{}, s.Publish(ctx, publishChannel, payload)
	})
	if len(res) == 0 {
		return err
	}
	if err != nil {
		r.log.Warn("publish: some shards did not take the message; it is delivered after Config.PublishTimeout", "err", err)
	}
	return nil
}

// waitSubscribed waits (at most timeout) until the subscription of every
// shard delivers: it publishes a ping envelope on each shard until the ping
// comes back. Shards that never answer are logged.
func (h *hub) waitSubscribed(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, n := range h.r.names {
		s := h.r.shards[n]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.ping(ctx, s); err != nil {
				h.r.log.Warn("events: shard subscription not confirmed", "shard", s.Name(), "err", err)
			}
		}()
	}
	wg.Wait()
}

// ping publishes ping envelopes on s every few milliseconds until one comes
// back through the subscription.
func (h *hub) ping(ctx context.Context, s Shard) error {
	for {
		id := h.nextID()
		ch := make(chan struct{})
		h.waitMu.Lock()
		h.pings[id] = ch
		h.waitMu.Unlock()
		err := s.Publish(ctx, publishChannel, envelope{kind: envPing, id: id, shards: []string{s.Name()}}.encode())
		// A network wait bounded by ctx, not background scheduling: real
		// time, so that a router on a fake clock still starts.
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ch:
			t.Stop()
			return nil
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		h.waitMu.Lock()
		delete(h.pings, id)
		h.waitMu.Unlock()
		if ctx.Err() != nil {
			return errors.Join(ctx.Err(), err)
		}
	}
}
