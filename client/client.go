package client

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/lua"
)

// Client is a qless client. It talks RESP to the routers of a qless-router
// cluster (or to one Redis running the qless script), learns the live
// routers, and moves to another router when the one in use fails. Safe for
// concurrent use; Close it when done.
type Client struct {
	cfg    Config
	script string
	sha    string
	opt    rueidis.ClientOption // connection options; InitAddress unset
	seeds  []string
	log    *slog.Logger

	mu        sync.Mutex
	endpoints map[string]*endpoint // guarded by mu
	routers   []string             // guarded by mu; RESP addresses of the live routers
	plain     bool                 // guarded by mu; the server has no QLESS.ROUTERS
	learned   bool                 // guarded by mu; routers learned at least once
	lastTry   time.Time            // guarded by mu; last failed first discovery
	home      string               // guarded by mu; the endpoint of the last success
	listeners map[*Listener]bool   // guarded by mu; open listeners, closed by Close

	discoverMu sync.Mutex // serializes discovery
	closed     atomic.Bool
	kick       chan struct{}
	bg         context.Context // ends at Close
	cancelBG   context.CancelFunc
	done       chan struct{} // closed when the discovery loop returned
	closeOnce  sync.Once
}

// New returns a client for cfg. It does no I/O: connections open at the
// first call. Close releases them.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Client{
		cfg:       cfg,
		script:    cfg.Script,
		log:       cfg.Logger.With("component", "qless-client"),
		endpoints: make(map[string]*endpoint),
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	c.bg, c.cancelBG = context.WithCancel(context.Background())
	if c.script == "" {
		c.script, c.sha = lua.Script(), lua.SHA()
	} else {
		c.sha = sha1Hex(c.script)
	}
	if cfg.URL != "" {
		opt, err := rueidis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("client: Config.URL: %w", err)
		}
		c.seeds = opt.InitAddress
		opt.InitAddress = nil
		c.opt = opt
	} else {
		c.seeds = slices.Clone(cfg.Addrs)
	}
	if cfg.Username != "" {
		c.opt.Username = cfg.Username
	}
	if cfg.Password != "" {
		c.opt.Password = cfg.Password
	}
	if cfg.DB != 0 {
		c.opt.SelectDB = cfg.DB
	}
	if cfg.TLS != nil {
		c.opt.TLSConfig = cfg.TLS
	}
	c.opt.Dialer = net.Dialer{Timeout: cfg.DialTimeout}
	c.opt.ConnWriteTimeout = 0
	if cfg.Discovery > 0 {
		go c.discoverLoop()
	} else {
		close(c.done)
	}
	return c, nil
}

// WorkerName is the worker name the client sends with pop, heartbeat,
// complete, fail and retry.
func (c *Client) WorkerName() string { return c.cfg.WorkerName }

// Now returns the client's current time (Config.Clock).
func (c *Client) Now() time.Time { return c.cfg.Clock() }

// Close closes the client's Listeners, stops discovery and closes every
// connection. Calls in flight fail. Idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.mu.Lock()
		var ls []*Listener
		for l := range c.listeners {
			ls = append(ls, l)
		}
		c.mu.Unlock()
		for _, l := range ls {
			l.Close()
		}
		c.cancelBG()
		<-c.done
		c.mu.Lock()
		eps := c.endpoints
		c.endpoints = map[string]*endpoint{}
		c.mu.Unlock()
		for _, ep := range eps {
			ep.closeNow()
		}
	})
	return nil
}

// Routers returns the RESP addresses of the routers the client knows, as
// last learned from QLESS.ROUTERS (Config.Addrs before that, or with a plain
// Redis).
func (c *Client) Routers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.routers) > 0 {
		return slices.Clone(c.routers)
	}
	return slices.Clone(c.seeds)
}

// Current returns the address of the router (or Redis) that served the
// last successful call, "" before any.
func (c *Client) Current() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.home
}

// Ping checks that a router (or Redis) answers, learning the routers first
// if not done yet.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.raw(ctx, "PING", func(b rueidis.Builder) rueidis.Completed { return b.Ping().Build() })
	return err
}

// now formats the client's clock as qless wants it: float seconds, like
// Ruby's Time.now.to_f.
func (c *Client) now() string {
	t := c.cfg.Clock()
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64)
}

// safety says whether a command may be sent again to another router after
// the connection failed with the command possibly sent.
type safety uint8

const (
	// write: the command changes state; it is not resent once it may have
	// reached a server.
	write safety = iota
	// read: the command changes nothing, or only makes a change that any
	// later call would make anyway and that applies once (promotion of due
	// scheduled jobs, pruning of idle workers); it is resent to another
	// router.
	read
)

// staleRetries bounds the new attempts on one endpoint of a call that met a
// closed connection (see run).
const staleRetries = 3

// closedConn reports a connection failure of an established connection (not
// a failed dial), after which a new connection to the same router may work.
func closedConn(err error) bool {
	var ne *NetError
	return errors.As(err, &ne) && !isDialError(ne.Err)
}

// call runs one qless command (EVALSHA of the script) with failover.
func (c *Client) call(ctx context.Context, s safety, cmd string, args ...string) (rueidis.RedisMessage, error) {
	build := func(b rueidis.Builder) rueidis.Completed {
		return b.Evalsha().Sha1(c.sha).Numkeys(0).Arg(cmd, c.now()).Arg(args...).Build()
	}
	return c.run(ctx, s, cmd, build, true)
}

// raw runs a Redis command that changes nothing (PING), with failover.
func (c *Client) raw(ctx context.Context, name string, build func(rueidis.Builder) rueidis.Completed) (rueidis.RedisMessage, error) {
	return c.run(ctx, read, name, build, false)
}

func (c *Client) run(ctx context.Context, s safety, cmd string, build func(rueidis.Builder) rueidis.Completed, script bool) (rueidis.RedisMessage, error) {
	if c.closed.Load() {
		return rueidis.RedisMessage{}, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return rueidis.RedisMessage{}, err
	}
	c.learn(ctx)
	var lastErr error
	for _, ep := range c.candidates() {
		if !ep.acquire() {
			continue
		}
		msg, stale, err := c.try(ctx, ep, s, cmd, build, script)
		// The connection had failed before the call (the server closed it)
		// and nothing was sent, or a read met a closed connection: try
		// again, on a new connection to the same router. (rueidis replaces
		// a broken connection lazily, so the next call may still meet it:
		// a few attempts. A router that cannot be dialed is left at once.)
		for retry := 0; (stale || s == read && closedConn(err)) &&
			retry < staleRetries && ctx.Err() == nil; retry++ {
			msg, stale, err = c.try(ctx, ep, s, cmd, build, script)
		}
		ep.release()
		if err == nil {
			ep.markUp()
			c.setHome(ep.addr)
			return msg, nil
		}
		var ne *NetError
		if !errors.As(err, &ne) {
			return msg, err
		}
		lastErr = err
		if ctx.Err() != nil {
			return msg, err
		}
		ep.markDown(time.Now(), c.cfg.DownTime)
		c.requestDiscovery()
		if ne.MaybeApplied {
			c.log.Warn("connection failed with a write in flight; not resending",
				"addr", ep.addr, "command", cmd, "error", ne.Err)
			return msg, err
		}
		c.log.Info("router failed; trying another", "addr", ep.addr, "command", cmd, "error", ne.Err)
	}
	if c.closed.Load() {
		return rueidis.RedisMessage{}, ErrClosed
	}
	if lastErr == nil {
		return rueidis.RedisMessage{}, ErrUnavailable
	}
	return rueidis.RedisMessage{}, fmt.Errorf("%w: %w", ErrUnavailable, lastErr)
}

// try runs the command on one endpoint, loading the script on NOSCRIPT.
// stale reports a connection that had failed before the call, so that
// nothing was sent and a new connection may do better.
func (c *Client) try(ctx context.Context, ep *endpoint, s safety, cmd string, build func(rueidis.Builder) rueidis.Completed, script bool) (msg rueidis.RedisMessage, stale bool, err error) {
	netErr := func(err error, sent bool) error {
		return &NetError{Addr: ep.addr, Command: cmd, MaybeApplied: sent && s == write, Err: err}
	}
	l, err := ep.link(c.opt, c.cfg.Conns)
	if err != nil {
		return rueidis.RedisMessage{}, false, netErr(err, false)
	}
	for attempt := 0; ; attempt++ {
		msg, sent, err := l.do(ctx, build(l.rc.B()))
		if err == nil || rueidis.IsRedisNil(err) {
			return msg, false, nil
		}
		re, ok := rueidis.IsRedisErr(err)
		if !ok {
			return msg, !sent && !isDialError(err), netErr(err, sent)
		}
		if script && re.IsNoScript() && attempt == 0 {
			// Nothing ran: load the script and send the call again.
			if err := c.loadScript(ctx, l); err != nil {
				var ne *NetError
				if errors.As(err, &ne) {
					ne.Addr, ne.Command = ep.addr, cmd
				}
				return rueidis.RedisMessage{}, false, err
			}
			continue
		}
		text := re.Error()
		if script {
			if m, ok := parseScriptError(text); ok {
				return msg, false, &Error{Command: cmd, Message: m}
			}
		}
		return msg, false, &ServerError{Addr: ep.addr, Command: cmd, Text: text}
	}
}

func (c *Client) loadScript(ctx context.Context, l *link) error {
	msg, _, err := l.do(ctx, l.rc.B().ScriptLoad().Script(c.script).Build())
	if err != nil {
		if re, ok := rueidis.IsRedisErr(err); ok {
			return &ServerError{Command: "SCRIPT LOAD", Text: re.Error()}
		}
		return &NetError{Command: "SCRIPT LOAD", Err: err}
	}
	got, _ := msg.ToString()
	if !strings.EqualFold(got, c.sha) {
		return &ServerError{Command: "SCRIPT LOAD", Text: fmt.Sprintf("server named the script %q, want %q", got, c.sha)}
	}
	return nil
}

func (c *Client) setHome(addr string) {
	c.mu.Lock()
	if c.home != addr {
		old := c.home
		c.home = addr
		c.mu.Unlock()
		if old != "" {
			c.log.Info("now using router", "addr", addr, "previous", old)
		}
		return
	}
	c.mu.Unlock()
}

// candidates lists the endpoints to try for a call, best first: the live
// routers (Config.Addrs until they are learned) ranked by rendezvous hash of
// the worker name, so that clients spread over the routers and each keeps
// to one; then the addresses of Config.Addrs that discovery did not list
// (a load balancer, another name of a router), as a last resort. Endpoints
// marked down go after the others of their group.
func (c *Client) candidates() []*endpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	worker := c.cfg.WorkerName
	group := func(addrs []string, skip map[string]bool) []*endpoint {
		eps := make([]*endpoint, 0, len(addrs))
		for _, a := range addrs {
			if skip[a] {
				continue
			}
			ep := c.endpoints[a]
			if ep == nil {
				ep = &endpoint{addr: a}
				c.endpoints[a] = ep
			}
			eps = append(eps, ep)
		}
		sort.SliceStable(eps, func(i, j int) bool {
			di, dj := eps[i].isDown(now), eps[j].isDown(now)
			if di != dj {
				return dj
			}
			return rank(worker, eps[i].addr) > rank(worker, eps[j].addr)
		})
		return eps
	}
	if len(c.routers) == 0 {
		return group(c.seeds, nil)
	}
	listed := make(map[string]bool, len(c.routers))
	for _, a := range c.routers {
		listed[a] = true
	}
	return append(group(c.routers, nil), group(c.seeds, listed)...)
}

// rank is the rendezvous score of a router for a worker.
func rank(worker, addr string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(worker))
	h.Write([]byte{0})
	h.Write([]byte(addr))
	x := h.Sum64()
	// fnv mixes the last bytes poorly; finish with a 64-bit mixer.
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
