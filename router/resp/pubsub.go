package resp

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/redcon"
)

// Pub/sub. Subscribers are served by a redcon.PubSub local to this server:
// the first (P)SUBSCRIBE of a connection detaches it from redcon's command
// loop and hands it to the PubSub, which from then on reads its commands
// itself and accepts only (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING and QUIT, as
// Redis does in subscribed mode. The messages come from Backend.Events: the
// shards' ql:* events and the PUBLISHes of every router's clients.

// onEvent is the callback registered with Backend.Events. It never blocks:
// a message that finds the buffer full is dropped.
func (s *Server) onEvent(channel, message string) {
	select {
	case s.events <- event{channel: channel, message: message}:
	default:
		if n := s.dropped.Add(1); n == 1 || n%1000 == 0 {
			s.log.Warn("subscriber messages dropped: event buffer full",
				"dropped_total", n, "buffer", s.cfg.EventBuffer)
		}
	}
}

// deliver writes the buffered messages to the subscribers until Stop.
func (s *Server) deliver() {
	defer close(s.evDone)
	for {
		select {
		case ev := <-s.events:
			if ev.pause != nil {
				close(ev.pause.reached)
				select {
				case <-ev.pause.resume:
				case <-s.evStop:
					return
				}
				continue
			}
			s.ps.Publish(ev.channel, ev.message)
		case <-s.evStop:
			return
		}
	}
}

// pausePoint is a marker in the event stream: the delivery goroutine closes
// reached when every message queued before the marker has been delivered,
// then waits for resume.
type pausePoint struct {
	reached chan struct{}
	resume  chan struct{}
}

// subscribe subscribes the connection to channels (or patterns). The first
// subscription detaches the connection.
//
// A router hears its shards' messages asynchronously, so a message published
// before the SUBSCRIBE may still be on its way. To give the subscription the
// point in time one Redis gives it, the first subscription of a connection
// waits for Backend.Barrier (every earlier message is then queued here), then
// pauses delivery right after those messages, subscribes, and resumes: the
// subscriber gets every message published after its SUBSCRIBE and none
// before. Later subscriptions of an already subscribed connection are served
// by the PubSub directly and take effect at once.
func (s *Server) subscribe(conn redcon.Conn, ss *session, pattern bool, channels [][]byte) {
	first := ss.sub == nil
	if first {
		ss.sub = &subConn{Conn: conn, s: s, ss: ss}
		s.feed()
	}
	s.want(ss, pattern, channels)
	if first {
		if resume := s.fence(ss, "subscribe"); resume != nil {
			defer resume()
		}
	}
	for _, ch := range channels {
		if pattern {
			s.ps.Psubscribe(ss.sub, string(ch))
		} else {
			s.ps.Subscribe(ss.sub, string(ch))
		}
	}
}

// subConn is the connection as the PubSub sees it. It intercepts Detach so
// that the server knows the connection left redcon's loop, and the detached
// connection's Close so that the server forgets it when it ends.
type subConn struct {
	redcon.Conn
	s  *Server
	ss *session
}

func (c *subConn) Detach() redcon.DetachedConn {
	c.ss.detached.Store(true)
	return &detachedConn{DetachedConn: c.Conn.Detach(), s: c.s, ss: c.ss}
}

type detachedConn struct {
	redcon.DetachedConn
	s    *Server
	ss   *session
	once sync.Once
}

// Flush writes what the PubSub buffered, with Config.SubscriberWriteTimeout:
// a subscriber that does not read its messages would otherwise block the
// delivery to every other subscriber. It is disconnected, as Redis
// disconnects a subscriber past its output buffer limit.
func (d *detachedConn) Flush() error {
	nc := d.NetConn()
	if t := d.s.cfg.SubscriberWriteTimeout; t > 0 {
		nc.SetWriteDeadline(time.Now().Add(t))
	}
	err := d.DetachedConn.Flush()
	if err != nil {
		d.s.log.Info("subscriber disconnected", "remote", d.RemoteAddr(), "err", err)
		nc.Close() // its reader then fails and the PubSub forgets it
	}
	return err
}

// ReadCommand is how the PubSub reads a subscribed connection's commands:
// the server sees the (un)subscriptions first, to want (and release) their
// channels from an Interest backend before the PubSub confirms them, and to
// deliver what was published before an unsubscribe.
func (d *detachedConn) ReadCommand() (redcon.Command, error) {
	cmd, err := d.DetachedConn.ReadCommand()
	if err == nil && len(cmd.Args) > 0 {
		name, args := cmd.Args[0], cmd.Args[1:]
		switch {
		case eqFold(name, "subscribe"), eqFold(name, "psubscribe"):
			d.s.want(d.ss, eqFold(name, "psubscribe"), args)
		case eqFold(name, "unsubscribe"), eqFold(name, "punsubscribe"):
			// As on one Redis, the messages of the commands that came
			// before reach the subscriber before the unsubscribe's reply:
			// wait until delivery has passed everything published so far.
			if resume := d.s.fence(d.ss, "unsubscribe"); resume != nil {
				resume()
			}
			d.s.unwant(d.ss, eqFold(name, "punsubscribe"), args)
		}
	}
	return cmd, err
}

func (d *detachedConn) Close() error {
	err := d.DetachedConn.Close()
	d.once.Do(func() { d.s.unregister(d.ss) })
	return err
}

// feed registers the server's event feed with Backend.Events (Feed of an
// Interest backend), once, at the first subscription (it returns once the
// feed delivers). It stays registered until Stop.
func (s *Server) feed() {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if s.stopEv == nil {
		if in, ok := s.backend.(Interest); ok {
			s.stopEv = in.Feed(s.onEvent)
		} else {
			s.stopEv = s.backend.Events(s.onEvent)
		}
	}
}

// want asks an Interest backend for the channels (or patterns) a
// connection subscribes to, each once per connection, and waits (bounded
// by Config.SubscribeFenceTimeout) until they are heard.
func (s *Server) want(ss *session, pattern bool, channels [][]byte) {
	in, ok := s.backend.(Interest)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ss.ctx, s.cfg.SubscribeFenceTimeout)
	defer cancel()
	for _, ch := range channels {
		key := wantKey(pattern, string(ch))
		ss.wantMu.Lock()
		_, have := ss.wants[key]
		ss.wantMu.Unlock()
		if have {
			continue
		}
		release, err := in.Want(ctx, string(ch), pattern)
		if err != nil {
			s.log.Warn("subscription not confirmed upstream", "channel", string(ch), "pattern", pattern, "err", err)
		}
		ss.wantMu.Lock()
		if ss.wants == nil {
			ss.wants = map[string]func(){}
		}
		if _, dup := ss.wants[key]; dup || ss.wantsReleased {
			ss.wantMu.Unlock()
			release()
			continue
		}
		ss.wants[key] = release
		ss.wantMu.Unlock()
	}
}

// unwant releases the channels (or patterns) of an unsubscribe; none means
// all of that kind.
func (s *Server) unwant(ss *session, pattern bool, channels [][]byte) {
	prefix := wantKey(pattern, "")
	ss.wantMu.Lock()
	var releases []func()
	if len(channels) == 0 {
		for key, release := range ss.wants {
			if strings.HasPrefix(key, prefix) {
				releases = append(releases, release)
				delete(ss.wants, key)
			}
		}
	}
	for _, ch := range channels {
		key := prefix + string(ch)
		if release, ok := ss.wants[key]; ok {
			releases = append(releases, release)
			delete(ss.wants, key)
		}
	}
	ss.wantMu.Unlock()
	for _, release := range releases {
		release()
	}
}

// releaseWants releases everything a closing connection wanted.
func (s *Server) releaseWants(ss *session) {
	ss.wantMu.Lock()
	wants := ss.wants
	ss.wants = nil
	ss.wantsReleased = true
	ss.wantMu.Unlock()
	for _, release := range wants {
		release()
	}
}

func wantKey(pattern bool, channel string) string {
	if pattern {
		return "p:" + channel
	}
	return "c:" + channel
}

// fence runs the Barrier of the backend, if any, and pauses the delivery
// goroutine after every message queued so far. It returns the func that
// resumes delivery, or nil when nothing was paused (no Barrier, a Barrier
// error or timeout, or the server stopping: the subscription then takes
// effect without the guarantee, as before).
func (s *Server) fence(ss *session, what string) (resume func()) {
	b, ok := s.backend.(Barrier)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ss.ctx, s.cfg.SubscribeFenceTimeout)
	defer cancel()
	if err := b.Barrier(ctx); err != nil {
		s.log.Warn(what+" without fence: barrier failed", "err", err)
		return nil
	}
	p := &pausePoint{reached: make(chan struct{}), resume: make(chan struct{})}
	select {
	case s.events <- event{pause: p}:
	case <-ctx.Done():
		s.log.Warn(what + " without fence: event queue full")
		return nil
	case <-s.evStop:
		return nil
	}
	select {
	case <-p.reached:
		return func() { close(p.resume) }
	case <-ctx.Done():
		// The marker is queued: let delivery pass it when it gets there.
		close(p.resume)
		s.log.Warn(what + " without fence: delivery did not reach the marker in time")
		return nil
	case <-s.evDone:
		return nil
	}
}
