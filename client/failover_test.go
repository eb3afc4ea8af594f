package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qless-router/qless-router/internal/redistest"
)

// Proxy modes: what happens to a chunk from the client that contains the
// marker.
const (
	pass        = iota // forwarded
	dropRequest        // the connection is cut; the chunk is not forwarded
	dropReply          // the chunk is forwarded, then the client side is cut
	swallow            // the chunk is neither forwarded nor answered
)

// proxy is a TCP proxy in front of a Redis that can lose requests or
// replies, to test what the client does with a call in flight.
type proxy struct {
	t      *testing.T
	ln     net.Listener
	target string
	mode   atomic.Int32
	marker atomic.Pointer[string]

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target}
	empty := ""
	p.marker.Store(&empty)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// arm sets the mode for chunks containing marker.
func (p *proxy) arm(mode int32, marker string) {
	p.marker.Store(&marker)
	p.mode.Store(mode)
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		var mute atomic.Bool // set: replies are dropped
		p.wg.Add(2)
		go func() { // server to client
			defer p.wg.Done()
			defer c.Close()
			defer s.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := s.Read(buf)
				if err != nil {
					return
				}
				if mute.Load() {
					continue
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
		go func() { // client to server
			defer p.wg.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if err != nil {
					s.Close()
					return
				}
				chunk := buf[:n]
				if m := *p.marker.Load(); m != "" && bytes.Contains(chunk, []byte(m)) {
					switch p.mode.Load() {
					case dropRequest:
						c.Close()
						s.Close()
						return
					case dropReply:
						mute.Store(true)
						_, _ = s.Write(chunk)
						c.Close() // the server still runs it
						return
					case swallow:
						continue
					}
				}
				if _, err := s.Write(chunk); err != nil {
					c.Close()
					return
				}
			}
		}()
	}
}

// cut closes every connection, as a router that stops does.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) close() {
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// failoverEnv is a client whose Addrs are [proxy, redis], both leading to
// one Redis, with a worker name that ranks the proxy first.
func failoverEnv(t *testing.T) (*Client, *proxy, string) {
	t.Helper()
	return failoverEnvWith(t, true)
}

// failoverEnvWith, with both false, makes a client of the proxy alone.
func failoverEnvWith(t *testing.T, both bool) (*Client, *proxy, string) {
	t.Helper()
	srv := redistest.Start(t)
	p := newProxy(t, srv.Addr)
	worker := ""
	for i := 0; ; i++ {
		w := fmt.Sprintf("w%d", i)
		if rank(w, p.addr()) > rank(w, srv.Addr) {
			worker = w
			break
		}
	}
	cfg := DefaultLocalConfig()
	cfg.Addrs = []string{srv.Addr, p.addr()}
	if !both {
		cfg.Addrs = []string{p.addr()}
	}
	cfg.WorkerName = worker
	cfg.Discovery = -1
	cfg.DownTime = time.Minute // stay on Redis once moved
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.Current() != p.addr() {
		t.Fatalf("Current() = %s, want the proxy %s first", c.Current(), p.addr())
	}
	return c, p, srv.Addr
}

// history counts a job's history entries of kind what.
func history(t *testing.T, c *Client, jid, what string) int {
	t.Helper()
	j, err := c.Job(context.Background(), jid)
	if err != nil {
		t.Fatalf("Job(%s): %v", jid, err)
	}
	n := 0
	for _, h := range j.History {
		if h.What == what {
			n++
		}
	}
	return n
}

func TestWriteInFlight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mode    int32
		applied bool
	}{
		{"request lost", dropRequest, false},
		{"reply lost", dropReply, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c, p, redis := failoverEnv(t)
			q := c.Queue("q")
			if _, err := q.Put(ctx, "K", nil, WithJID("setup")); err != nil {
				t.Fatal(err)
			}
			p.arm(tc.mode, "put")
			jid, err := q.Put(ctx, "K", nil, WithJID("x"))
			if jid != "x" {
				t.Errorf("Put returned jid %q, want x", jid)
			}
			var ne *NetError
			if !errors.Is(err, ErrOutcomeUnknown) || !errors.As(err, &ne) || !ne.MaybeApplied || ne.Addr != p.addr() {
				t.Fatalf("Put with its %s = %v, want a NetError from %s matching ErrOutcomeUnknown", tc.name, err, p.addr())
			}
			// The client moved to Redis and did not send the put there.
			_, err = c.Job(ctx, "x")
			switch {
			case tc.applied && err != nil:
				t.Fatalf("Job(x) = %v, want the job (the put reached Redis once)", err)
			case tc.applied:
				if n := history(t, c, "x", "put"); n != 1 {
					t.Fatalf("job x has %d put entries, want 1 (no resend)", n)
				}
			case !errors.Is(err, ErrNotFound):
				t.Fatalf("Job(x) = %v, want ErrNotFound (the put was lost, and not resent)", err)
			}
			if c.Current() != redis {
				t.Errorf("Current() = %s, want %s", c.Current(), redis)
			}
		})
	}
}

func TestReadInFlightIsRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, p, redis := failoverEnv(t)
	if _, err := c.Queue("q").Put(ctx, "K", nil, WithJID("a")); err != nil {
		t.Fatal(err)
	}
	p.arm(dropRequest, "get")
	j, err := c.Job(ctx, "a")
	if err != nil || j.JID != "a" {
		t.Fatalf("Job(a) through a proxy that cuts it = %v, %v; want it answered by Redis", j, err)
	}
	if c.Current() != redis {
		t.Errorf("Current() = %s, want %s", c.Current(), redis)
	}
}

func TestWriteAfterIdleCloseIsSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, p, _ := failoverEnvWith(t, false)
	q := c.Queue("q")
	for i := range 20 {
		p.cut() // the server closes the idle connections, as a stopping router
		waitNoticed(t, c, p.addr())
		jid := fmt.Sprintf("j%d", i)
		if _, err := q.Put(ctx, "K", nil, WithJID(jid)); err != nil {
			t.Fatalf("Put after the connection was closed: %v", err)
		}
		if n := history(t, c, jid, "put"); n != 1 {
			t.Fatalf("job %s has %d put entries, want 1", jid, n)
		}
	}
}

// waitNoticed waits until the client's connections to addr have seen that
// the server closed them.
func waitNoticed(t *testing.T, c *Client, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		ep := c.endpoints[addr]
		c.mu.Unlock()
		all := true
		ep.mu.Lock()
		for _, l := range ep.links {
			if cur := l.cur.Load(); cur != nil && cur.failure.Load() == nil {
				all = false
			}
		}
		ep.mu.Unlock()
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the client did not notice the closed connections")
		}
		time.Sleep(time.Millisecond) // polling with a deadline
	}
}

// TestWriteRacingClose closes the connections just as writes are sent: a
// write either succeeds or reports ErrOutcomeUnknown, and never runs twice.
func TestWriteRacingClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, p, _ := failoverEnvWith(t, false)
	q := c.Queue("q")
	unknown := 0
	for i := range 20 {
		p.cut()
		jid := fmt.Sprintf("j%d", i)
		_, err := q.Put(ctx, "K", nil, WithJID(jid))
		switch {
		case err == nil:
			if n := history(t, c, jid, "put"); n != 1 {
				t.Fatalf("job %s has %d put entries, want 1", jid, n)
			}
		case errors.Is(err, ErrOutcomeUnknown):
			unknown++
			if _, err := c.Job(ctx, jid); err == nil {
				if n := history(t, c, jid, "put"); n != 1 {
					t.Fatalf("job %s has %d put entries, want 1", jid, n)
				}
			}
		case errors.Is(err, ErrUnavailable):
			// Not sent; nothing to check.
		default:
			t.Fatalf("Put racing a close = %v", err)
		}
	}
	t.Logf("%d of 20 puts reported an unknown outcome", unknown)
}

func TestWriteContextEndsInFlight(t *testing.T) {
	t.Parallel()
	c, p, _ := failoverEnv(t)
	p.arm(swallow, "put")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Queue("q").Put(ctx, "K", nil)
	if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put whose context ends in flight = %v, want ErrOutcomeUnknown and DeadlineExceeded", err)
	}
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg := DefaultLocalConfig()
	cfg.Addrs = []string{addr}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Queue("q").Put(context.Background(), "K", nil)
	var ne *NetError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &ne) || ne.MaybeApplied || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("Put with no server = %v, want ErrUnavailable (not sent)", err)
	}
	c.Close()
	if _, err := c.Job(context.Background(), "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Job after Close = %v, want ErrClosed", err)
	}
}
