package resp

import (
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
	case s.events <- event{channel, message}:
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
			s.ps.Publish(ev.channel, ev.message)
		case <-s.evStop:
			return
		}
	}
}

// subscribe subscribes the connection to channels (or patterns). The first
// subscription detaches the connection.
func (s *Server) subscribe(conn redcon.Conn, ss *session, pattern bool, channels [][]byte) {
	if ss.sub == nil {
		ss.sub = &subConn{Conn: conn, s: s, ss: ss}
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

func (d *detachedConn) Close() error {
	err := d.DetachedConn.Close()
	d.once.Do(func() { d.s.unregister(d.ss) })
	return err
}
