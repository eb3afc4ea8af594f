package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// Events of the ql:log channel and of the ql:w:<worker> channels (spec
// 11.2), as LogEvent.Event.
const (
	EventPut         = "put"
	EventLockLost    = "lock_lost"
	EventCanceled    = "canceled"
	EventCompleted   = "completed"
	EventAdvanced    = "advanced"
	EventFailed      = "failed"
	EventConfigSet   = "config_set"
	EventConfigUnset = "config_unset"
)

// LogEvent is one message of ql:log or of a worker's channel ql:w:<worker>.
// Fields the event does not carry are "".
type LogEvent struct {
	// Event is one of the Event* constants.
	Event string
	// JID is the job (every event but config_set and config_unset).
	JID string
	// Queue: put, canceled, completed, advanced (the queue left).
	Queue string
	// To: advanced (the queue entered).
	To string
	// Worker: lock_lost, canceled, failed.
	Worker string
	// Group and Message: failed.
	Group   string
	Message string
	// Option and Value: config_set, config_unset.
	Option string
	Value  string
	// Channel is the channel the message came on: "ql:log" or
	// "ql:w:<worker>".
	Channel string
	// Raw is the message as published.
	Raw string
}

// Handlers are the callbacks of a Listener. It subscribes to the channels
// of the handlers that are set. The event handlers run one at a time, in
// the order the events were published, on a goroutine of the Listener; a
// slow handler delays the next events (and, past the Listener's buffer, the
// connection). OnConnect and OnDisconnect run on another goroutine, and may
// overlap the event handlers.
type Handlers struct {
	// Jid events of tracked jobs (ql:canceled, ql:completed, ...): the jid.
	OnCanceled  func(jid string)
	OnCompleted func(jid string)
	OnFailed    func(jid string)
	OnPopped    func(jid string)
	OnPut       func(jid string)
	OnStalled   func(jid string)
	OnTrack     func(jid string)
	OnUntrack   func(jid string)
	// OnLog receives every ql:log message.
	OnLog func(LogEvent)
	// OnWorker receives the lock events (lock_lost, canceled) of the
	// workers named in Workers, from their ql:w:<worker> channels.
	OnWorker func(LogEvent)
	Workers  []string
	// OnConnect is called each time the Listener is subscribed, with the
	// address of the router (or Redis): first in Listen, then after each
	// reconnection.
	OnConnect func(addr string)
	// OnDisconnect is called when the connection is lost. Pub/sub does
	// not keep messages: events published until OnConnect is called again
	// are not received.
	OnDisconnect func(err error)
}

func (h *Handlers) channels() []string {
	var out []string
	add := func(f func(string), ch string) {
		if f != nil {
			out = append(out, ch)
		}
	}
	add(h.OnCanceled, "ql:canceled")
	add(h.OnCompleted, "ql:completed")
	add(h.OnFailed, "ql:failed")
	add(h.OnPopped, "ql:popped")
	add(h.OnPut, "ql:put")
	add(h.OnStalled, "ql:stalled")
	add(h.OnTrack, "ql:track")
	add(h.OnUntrack, "ql:untrack")
	if h.OnLog != nil {
		out = append(out, "ql:log")
	}
	if h.OnWorker != nil {
		for _, w := range h.Workers {
			out = append(out, "ql:w:"+w)
		}
	}
	return out
}

// Listener receives qless events on its own connection, and moves to
// another router when that connection fails. Safe for concurrent use.
type Listener struct {
	c        *Client
	h        Handlers
	channels []string
	msgs     chan rueidis.PubSubMessage

	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed when dispatch returned
	runDone chan struct{} // closed when run returned

	mu   sync.Mutex
	addr string // guarded by mu
}

// listenerBuffer is the number of messages a Listener holds for its
// handlers before it stops reading its connection.
const listenerBuffer = 1024

// Listen subscribes to the events of h on a connection of its own and
// returns once subscribed: events published after Listen returns are
// received. ctx bounds only that first subscription; the Listener then runs
// until its Close or the Client's.
func (c *Client) Listen(ctx context.Context, h Handlers) (*Listener, error) {
	chs := h.channels()
	if len(chs) == 0 {
		return nil, errors.New("client: Listen: no handler set")
	}
	if c.closed.Load() {
		return nil, ErrClosed
	}
	c.learn(ctx)
	l := &Listener{c: c, h: h, channels: chs, msgs: make(chan rueidis.PubSubMessage, listenerBuffer),
		done: make(chan struct{}), runDone: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	conn, err := l.connect(ctx)
	if err != nil {
		l.cancel()
		return nil, err
	}
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		l.cancel()
		conn.close()
		return nil, ErrClosed
	}
	if c.listeners == nil {
		c.listeners = make(map[*Listener]bool)
	}
	c.listeners[l] = true
	c.mu.Unlock()
	go l.dispatch()
	go l.run(conn)
	return l, nil
}

// WatchWorker listens to the lock events (lock_lost, canceled) of worker,
// the channel ql:w:<worker>: fn is called for each.
func (c *Client) WatchWorker(ctx context.Context, worker string, fn func(LogEvent)) (*Listener, error) {
	return c.Listen(ctx, Handlers{Workers: []string{worker}, OnWorker: fn})
}

// Addr returns the address of the router (or Redis) the Listener is
// subscribed on, "" while it reconnects.
func (l *Listener) Addr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr
}

// Close unsubscribes and waits for the running handler to return. Events
// not yet handled are dropped. Idempotent.
func (l *Listener) Close() error {
	l.cancel()
	<-l.runDone
	<-l.done
	l.c.mu.Lock()
	delete(l.c.listeners, l)
	l.c.mu.Unlock()
	return nil
}

// subscription is one live subscribed connection.
type subscription struct {
	addr    string
	rc      rueidis.Client
	release func()
	lost    <-chan error
}

func (s *subscription) close() {
	s.release()
	s.rc.Close()
}

// connect subscribes on the best reachable endpoint.
func (l *Listener) connect(ctx context.Context) (*subscription, error) {
	var lastErr error
	for _, ep := range l.c.candidates() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := l.subscribe(ctx, ep.addr)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = err
		var se *ServerError
		if errors.As(err, &se) {
			return nil, err
		}
		ep.markDown(time.Now(), l.c.cfg.DownTime)
	}
	if lastErr == nil {
		lastErr = ErrUnavailable
	} else {
		lastErr = fmt.Errorf("%w: %w", ErrUnavailable, lastErr)
	}
	return nil, lastErr
}

func (l *Listener) subscribe(ctx context.Context, addr string) (*subscription, error) {
	opt := l.c.opt
	opt.InitAddress = []string{addr}
	opt.ForceSingleClient = true
	opt.DisableCache = true
	opt.DisableRetry = true
	opt.AlwaysRESP2 = true
	opt.PipelineMultiplex = -1
	rc, err := rueidis.NewClient(opt)
	if err != nil {
		if rc != nil {
			rc.Close()
		}
		return nil, &NetError{Addr: addr, Command: "SUBSCRIBE", Err: err}
	}
	dc, release := rc.Dedicate()
	s := &subscription{addr: addr, rc: rc, release: release}
	want := len(l.channels)
	confirmed := make(chan struct{})
	var once sync.Once
	n := 0
	s.lost = dc.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) {
			select {
			case l.msgs <- m:
			case <-l.ctx.Done():
			}
		},
		OnSubscription: func(ps rueidis.PubSubSubscription) {
			if ps.Kind == "subscribe" {
				n++
				if n >= want {
					once.Do(func() { close(confirmed) })
				}
			}
		},
	})
	fail := func(err error) (*subscription, error) {
		s.close()
		if re, ok := rueidis.IsRedisErr(err); ok {
			return nil, &ServerError{Addr: addr, Command: "SUBSCRIBE", Text: re.Error()}
		}
		return nil, &NetError{Addr: addr, Command: "SUBSCRIBE", Err: err}
	}
	if err := dc.Do(ctx, dc.B().Subscribe().Channel(l.channels...).Build()).Error(); err != nil {
		return fail(err)
	}
	timer := time.NewTimer(2 * l.c.cfg.DialTimeout)
	defer timer.Stop()
	select {
	case <-confirmed:
	case err := <-s.lost:
		if err == nil {
			err = errors.New("subscription ended")
		}
		return fail(err)
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-timer.C:
		return fail(errors.New("no subscription confirmation"))
	}
	l.mu.Lock()
	l.addr = addr
	l.mu.Unlock()
	if l.h.OnConnect != nil {
		l.h.OnConnect(addr)
	}
	return s, nil
}

// run keeps the Listener subscribed until Close.
func (l *Listener) run(s *subscription) {
	defer close(l.runDone)
	defer func() {
		if s != nil {
			s.close()
		}
	}()
	for {
		select {
		case <-l.ctx.Done():
			return
		case err := <-s.lost:
			s.close()
			s = nil
			l.mu.Lock()
			l.addr = ""
			l.mu.Unlock()
			if err == nil {
				err = errors.New("subscription ended")
			}
			if l.ctx.Err() != nil {
				return
			}
			l.c.log.Info("event connection lost; reconnecting", "error", err)
			if l.h.OnDisconnect != nil {
				l.h.OnDisconnect(err)
			}
			l.c.requestDiscovery()
			for s == nil {
				ns, err := l.connect(l.ctx)
				if err == nil {
					s = ns
					break
				}
				if l.ctx.Err() != nil {
					return
				}
				l.c.log.Debug("event reconnection failed", "error", err)
				t := time.NewTimer(l.c.cfg.DownTime)
				select {
				case <-l.ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
	}
}

// dispatch runs the handlers, one message at a time.
func (l *Listener) dispatch() {
	defer close(l.done)
	for {
		select {
		case <-l.ctx.Done():
			return
		case m := <-l.msgs:
			l.handle(m)
		}
	}
}

func (l *Listener) handle(m rueidis.PubSubMessage) {
	h := &l.h
	var f func(string)
	switch m.Channel {
	case "ql:canceled":
		f = h.OnCanceled
	case "ql:completed":
		f = h.OnCompleted
	case "ql:failed":
		f = h.OnFailed
	case "ql:popped":
		f = h.OnPopped
	case "ql:put":
		f = h.OnPut
	case "ql:stalled":
		f = h.OnStalled
	case "ql:track":
		f = h.OnTrack
	case "ql:untrack":
		f = h.OnUntrack
	case "ql:log":
		if h.OnLog != nil {
			h.OnLog(ParseLogEvent(m.Channel, m.Message))
		}
		return
	default:
		if strings.HasPrefix(m.Channel, "ql:w:") && h.OnWorker != nil {
			h.OnWorker(ParseLogEvent(m.Channel, m.Message))
		}
		return
	}
	if f != nil {
		f(m.Message)
	}
}

// ParseLogEvent decodes a ql:log or ql:w:<worker> message. Values that are
// not strings (a canceled job that did not exist has `false` queue and
// worker) are left "". A message that is not a JSON object gives a LogEvent
// with only Channel and Raw.
func ParseLogEvent(channel, message string) LogEvent {
	e := LogEvent{Channel: channel, Raw: message}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(message), &m) != nil {
		return e
	}
	str := func(k string) string {
		var s string
		if v, ok := m[k]; ok && json.Unmarshal(v, &s) == nil {
			return s
		}
		return ""
	}
	e.Event, e.JID, e.Queue, e.To = str("event"), str("jid"), str("queue"), str("to")
	e.Worker, e.Group, e.Message = str("worker"), str("group"), str("message")
	e.Option, e.Value = str("option"), str("value")
	return e
}
