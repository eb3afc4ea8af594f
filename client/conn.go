package client

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// endpoint is one router (or Redis) address and the connections of the
// client to it. Safe for concurrent use.
type endpoint struct {
	addr string

	mu       sync.Mutex
	links    []*link   // guarded by mu; created lazily, len <= Config.Conns
	inflight int       // guarded by mu; calls using the endpoint
	closed   bool      // guarded by mu
	unlisted time.Time // guarded by mu; when discovery stopped listing it

	next      atomic.Uint32
	downUntil atomic.Int64 // unix nanoseconds; avoided until then
}

// acquire registers a call on the endpoint; false once it is closed.
func (e *endpoint) acquire() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.inflight++
	return true
}

func (e *endpoint) release() {
	e.mu.Lock()
	e.inflight--
	e.mu.Unlock()
}

func (e *endpoint) isDown(now time.Time) bool { return e.downUntil.Load() > now.UnixNano() }

func (e *endpoint) markDown(now time.Time, d time.Duration) {
	e.downUntil.Store(now.Add(d).UnixNano())
}

func (e *endpoint) markUp() { e.downUntil.Store(0) }

// link returns one of the endpoint's connections, round robin, opening it
// on first use. A connection that could not be dialed is still returned
// (rueidis dials again on the next call) with the dial error.
func (e *endpoint) link(opt rueidis.ClientOption, n int) (*link, error) {
	i := int(e.next.Add(1)) % n
	e.mu.Lock()
	if i < len(e.links) {
		l := e.links[i]
		e.mu.Unlock()
		return l, nil
	}
	e.mu.Unlock()
	// Dial outside the lock; a concurrent caller may dial too, in which
	// case the spare link is closed.
	l, err := newLink(e.addr, opt)
	if l == nil {
		return nil, err
	}
	e.mu.Lock()
	if e.closed || len(e.links) >= n {
		var other *link
		if len(e.links) > 0 {
			other = e.links[i%len(e.links)]
		}
		e.mu.Unlock()
		l.close()
		if other == nil {
			return nil, ErrClosed
		}
		return other, nil
	}
	e.links = append(e.links, l)
	e.mu.Unlock()
	return l, err
}

// retireIfIdle marks the endpoint closed if no call uses it, and returns
// its connections for the caller to close (outside its locks); ok reports
// whether it retired.
func (e *endpoint) retireIfIdle() (links []*link, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inflight > 0 || e.closed {
		return nil, false
	}
	e.closed = true
	links, e.links = e.links, nil
	return links, true
}

// closeNow closes the endpoint's connections at once (Client.Close).
func (e *endpoint) closeNow() {
	e.mu.Lock()
	e.closed = true
	links := e.links
	e.links = nil
	e.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// link is one rueidis client holding one connection (rueidis redials it
// after a failure), with what the client needs to know whether a failed
// command was written to a live connection.
//
// A command whose connection had failed before the command was written
// (the server closed it, or rueidis did) cannot have been processed: it was
// either not written at all, or written to a socket the server no longer
// reads. seq orders those events: the start of every call and of every
// write takes the next number.
type link struct {
	rc  rueidis.Client
	seq atomic.Uint64
	cur atomic.Pointer[trackedConn] // the last connection dialed
}

func newLink(addr string, base rueidis.ClientOption) (*link, error) {
	l := &link{}
	opt := base
	opt.InitAddress = []string{addr}
	opt.ForceSingleClient = true
	opt.DisableCache = true
	opt.DisableRetry = true
	opt.AlwaysRESP2 = true
	opt.AlwaysPipelining = true
	opt.PipelineMultiplex = -1
	inner := base.DialCtxFn
	opt.DialCtxFn = func(ctx context.Context, dst string, d *net.Dialer, tc *tls.Config) (net.Conn, error) {
		var (
			c   net.Conn
			err error
		)
		switch {
		case inner != nil:
			c, err = inner(ctx, dst, d, tc)
		case tc != nil:
			c, err = (&tls.Dialer{NetDialer: d, Config: tc}).DialContext(ctx, "tcp", dst)
		default:
			c, err = d.DialContext(ctx, "tcp", dst)
		}
		if err != nil {
			return nil, &dialError{err: err}
		}
		tcn := &trackedConn{Conn: c, l: l}
		l.cur.Store(tcn)
		return tcn, nil
	}
	rc, err := rueidis.NewClient(opt)
	if rc == nil {
		if err == nil {
			err = errors.New("rueidis: no client")
		}
		return nil, err
	}
	l.rc = rc
	return l, err
}

func (l *link) close() { l.rc.Close() }

// do runs cmd. sent is false when the command certainly did not reach the
// server: the connection could not be opened, or it had failed before
// anything written after the call began (the server had closed it, or
// rueidis had); err is then the connection error.
func (l *link) do(ctx context.Context, cmd rueidis.Completed) (msg rueidis.RedisMessage, sent bool, err error) {
	start := l.seq.Add(1)
	c0 := l.cur.Load()
	msg, err = l.rc.Do(ctx, cmd).ToMessage()
	if err == nil {
		return msg, true, nil
	}
	if _, ok := rueidis.IsRedisErr(err); ok || rueidis.IsRedisNil(err) {
		return msg, true, err
	}
	if isDialError(err) {
		return msg, false, err
	}
	if c0 != nil && l.cur.Load() == c0 {
		if f := c0.failure.Load(); f != nil && f.lastWrite < start {
			return msg, false, err
		}
	}
	return msg, true, err
}

// trackedConn records when its connection failed: a read or write error
// other than a timeout (the peer closed or reset it), or a local Close; and
// which write was the last to start before that. A write that starts after
// the failure was seen cannot be processed by the server: it had closed the
// connection already, or it was closed locally.
type trackedConn struct {
	net.Conn
	l         *link
	lastWrite atomic.Uint64               // link.seq at the start of the last Write
	failure   atomic.Pointer[connFailure] // nil while alive
}

type connFailure struct {
	lastWrite uint64 // trackedConn.lastWrite when the failure was seen
}

func (t *trackedConn) fail() {
	if t.failure.Load() == nil {
		t.failure.CompareAndSwap(nil, &connFailure{lastWrite: t.lastWrite.Load()})
	}
}

func (t *trackedConn) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	if err != nil && !isTimeout(err) {
		t.fail()
	}
	return n, err
}

func (t *trackedConn) Write(b []byte) (int, error) {
	s := t.l.seq.Add(1)
	for {
		old := t.lastWrite.Load()
		if old >= s || t.lastWrite.CompareAndSwap(old, s) {
			break
		}
	}
	n, err := t.Conn.Write(b)
	if err != nil && !isTimeout(err) {
		t.fail()
	}
	return n, err
}

func (t *trackedConn) Close() error {
	t.fail()
	return t.Conn.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// dialError marks a failure to open a connection: nothing was sent on it.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func isDialError(err error) bool {
	var de *dialError
	if errors.As(err, &de) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}
