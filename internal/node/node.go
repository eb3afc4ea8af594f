// Package node wires one qless-router process: the router (shards, events,
// membership), its RESP front end and its HTTP side. `qless-router serve`
// runs one node; `qless-router dev` and the cluster tests run several in one
// process (internal/devcluster).
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/qless-router/qless-router/core"

	"github.com/qless-router/qless-router/router"
	"github.com/qless-router/qless-router/router/resp"
	"github.com/qless-router/qless-router/web"
)

// Config configures one node.
type Config struct {
	Router router.Config
	RESP   resp.Config
	// Web configures the HTTP side (dashboard, JSON API, metrics); nil
	// turns it off.
	Web    *web.Config
	Logger *slog.Logger
	// AdvertiseRESP and AdvertiseHTTP, when set, are the addresses other
	// routers and clients are told to reach this router at (QLESS.ROUTERS,
	// /api/cluster), instead of the addresses the front ends listen on:
	// a published port of a container, a load balancer, a DNS name.
	AdvertiseRESP, AdvertiseHTTP string
}

// Node is one running router process. Safe for concurrent use.
type Node struct {
	Router *router.Router
	RESP   *resp.Server
	Web    *web.Server // nil without Config.Web

	log      *slog.Logger
	stopOnce sync.Once
	stopErr  error
}

// Start builds and starts a node. When the RESP address has a fixed port,
// the router starts first and the RESP front end only then, so that a
// client (or a load balancer's health check) never reaches a router that
// cannot serve yet. With port 0 (tests, dev) the front end must listen first
// so that its bound address can be advertised in the membership metadata;
// until the router is up its commands then fail with "router is starting".
func Start(ctx context.Context, cfg Config) (*Node, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{log: logger}
	b := &backend{}
	rs, err := resp.New(cfg.RESP, b)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.RESP = rs
	var fronts []frontEnd
	fronts = append(fronts, frontEnd{name: "RESP", addr: cfg.RESP.Addr, start: rs.Start, stop: rs.Stop, bound: rs.Addr})
	if cfg.Web != nil {
		ws, err := web.New(*cfg.Web, b)
		if err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
		n.Web = ws
		fronts = append(fronts, frontEnd{name: "HTTP", addr: cfg.Web.Addr, start: ws.Start, stop: ws.Stop, bound: func() string { return ws.Addr().String() }})
	}
	stopFronts := func() {
		for _, f := range fronts {
			_ = f.stop(context.Background())
		}
	}
	// Front ends on port 0 listen first, to learn the address to advertise;
	// the others start once the router can serve.
	advertised := make([]string, len(fronts))
	for i, f := range fronts {
		addr, fixed := fixedAddr(f.addr, cfg.Router.Membership)
		if fixed {
			advertised[i] = addr
			continue
		}
		if err := f.start(ctx); err != nil {
			stopFronts()
			return nil, fmt.Errorf("node: %s front end: %w", f.name, err)
		}
		advertised[i] = f.bound()
		fronts[i].started = true
	}
	if cfg.AdvertiseRESP != "" {
		advertised[0] = cfg.AdvertiseRESP
	}
	if cfg.AdvertiseHTTP != "" && cfg.Web != nil {
		advertised[1] = cfg.AdvertiseHTTP
	}
	rc := cfg.Router
	if rc.Membership != nil {
		mc := *rc.Membership
		mc.RESPAddr = advertised[0]
		if cfg.Web != nil {
			mc.HTTPAddr = advertised[1]
		}
		rc.Membership = &mc
	}
	r, err := router.New(rc)
	if err != nil {
		stopFronts()
		return nil, fmt.Errorf("node: %w", err)
	}
	if err := r.Start(ctx); err != nil {
		stopFronts()
		return nil, fmt.Errorf("node: %w", err)
	}
	n.Router = r
	b.setRouter(r)
	for _, f := range fronts {
		if f.started {
			continue
		}
		if err := f.start(ctx); err != nil {
			stopFronts()
			_ = r.Stop(context.Background())
			return nil, fmt.Errorf("node: %s front end: %w", f.name, err)
		}
	}
	return n, nil
}

// frontEnd is a RESP or HTTP server as Start orders them.
type frontEnd struct {
	name, addr string
	start      func(context.Context) error
	stop       func(context.Context) error
	bound      func() string
	started    bool
}

// fixedAddr reports whether addr names a fixed port, and the address to
// advertise for it: a missing or unspecified host is replaced by the
// membership's bind (or advertise) host, which other routers can reach.
func fixedAddr(addr string, mc *router.MembershipConfig) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "0" || port == "" {
		return "", false
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if mc != nil && mc.AdvertiseAddr != "" {
			host = mc.AdvertiseAddr
		} else if mc != nil {
			host = mc.BindAddr
		}
	}
	return net.JoinHostPort(host, port), true
}

// Stop stops the front ends first, then the router (membership leave, shard
// clients). Idempotent.
func (n *Node) Stop(ctx context.Context) error {
	return n.shutdown(ctx, (*router.Router).Stop)
}

// Crash stops the node as a crash would (see router.Router.Crash): its
// connections drop and it leaves the membership without saying so.
func (n *Node) Crash(ctx context.Context) error {
	return n.shutdown(ctx, (*router.Router).Crash)
}

// shutdown stops the front ends, then the router with stopRouter. Only the
// first call does anything; later ones return its result.
func (n *Node) shutdown(ctx context.Context, stopRouter func(*router.Router, context.Context) error) error {
	n.stopOnce.Do(func() {
		var errs []error
		if n.RESP != nil {
			errs = append(errs, n.RESP.Stop(ctx))
		}
		if n.Web != nil {
			errs = append(errs, n.Web.Stop(ctx))
		}
		if n.Router != nil {
			errs = append(errs, stopRouter(n.Router, ctx))
		}
		n.stopErr = errors.Join(errs...)
	})
	return n.stopErr
}

// backend adapts *router.Router to resp.Backend. r is set before the RESP
// server's first client can be served a qless command (Start orders it), but
// a client could connect in between: until then commands fail cleanly.
type backend struct {
	r atomic.Pointer[router.Router]

	evMu    sync.Mutex
	pending []*pendingEvents // guarded by evMu; feeds registered before the router existed
}

type pendingEvents struct {
	fn       func(channel, message string)
	all      bool   // Events (every message), not Feed
	cancel   func() // guarded by backend.evMu
	canceled bool   // guarded by backend.evMu
}

var (
	_ resp.Backend = (*backend)(nil)
	_ resp.Barrier = (*backend)(nil)
	_ web.Backend  = (*backend)(nil)
)

var errStarting = errors.New("router is starting")

func (b *backend) router() (*router.Router, error) {
	if r := b.r.Load(); r != nil {
		return r, nil
	}
	return nil, errStarting
}

func (b *backend) Qless(ctx context.Context, args []string) (core.Reply, error) {
	r, err := b.router()
	if err != nil {
		return core.Reply{}, err
	}
	return r.Qless(ctx, args)
}

func (b *backend) Read(ctx context.Context, args []string) (core.Reply, error) {
	r, err := b.router()
	if err != nil {
		return core.Reply{}, err
	}
	return r.Read(ctx, args)
}

func (b *backend) Publish(ctx context.Context, channel, message string) (int64, error) {
	r, err := b.router()
	if err != nil {
		return 0, err
	}
	return r.Publish(ctx, channel, message)
}

// Events registers fn once the router exists: a client may subscribe
// before the router is made, so registration is deferred until then.
func (b *backend) Events(fn func(channel, message string)) (cancel func()) {
	return b.register(fn, true)
}

// Feed is Events for the channels wanted (resp.Interest).
func (b *backend) Feed(fn func(channel, message string)) (cancel func()) {
	return b.register(fn, false)
}

// Want asks the router for a channel (resp.Interest).
func (b *backend) Want(ctx context.Context, channel string, pattern bool) (func(), error) {
	r, err := b.router()
	if err != nil {
		return func() {}, err
	}
	return r.Want(ctx, channel, pattern)
}

func (b *backend) register(fn func(channel, message string), all bool) (cancel func()) {
	b.evMu.Lock()
	defer b.evMu.Unlock()
	if r := b.r.Load(); r != nil {
		return subscribe(r, fn, all)
	}
	p := &pendingEvents{fn: fn, all: all}
	b.pending = append(b.pending, p)
	return func() {
		b.evMu.Lock()
		defer b.evMu.Unlock()
		p.canceled = true
		if p.cancel != nil {
			p.cancel()
		}
	}
}

// setRouter publishes r and registers the event feeds that waited for it.
func (b *backend) setRouter(r *router.Router) {
	b.evMu.Lock()
	defer b.evMu.Unlock()
	b.r.Store(r)
	for _, p := range b.pending {
		if !p.canceled {
			p.cancel = subscribe(r, p.fn, p.all)
		}
	}
	b.pending = nil
}

// subscribe registers fn with r: for every message (all), or for the
// wanted channels.
func subscribe(r *router.Router, fn func(channel, message string), all bool) (cancel func()) {
	if all {
		return r.Events(fn)
	}
	return r.FeedNotify(fn, nil)
}

func (b *backend) FlushAll(ctx context.Context) error {
	r, err := b.router()
	if err != nil {
		return err
	}
	return r.FlushAll(ctx)
}

func (b *backend) Routers(ctx context.Context) ([]resp.RouterInfo, error) {
	r, err := b.router()
	if err != nil {
		return nil, err
	}
	infos, err := r.Routers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]resp.RouterInfo, len(infos))
	for i, ri := range infos {
		out[i] = resp.RouterInfo{Name: ri.Name, RESPAddr: ri.RESPAddr, HTTPAddr: ri.HTTPAddr}
	}
	return out, nil
}

func (b *backend) Locate(queue string) (string, error) {
	r, err := b.router()
	if err != nil {
		return "", err
	}
	return r.Locate(queue)
}

// Barrier lets a new subscriber start at a cluster-wide point in time (see
// resp.Barrier): it is the router's Sync.
func (b *backend) Barrier(ctx context.Context) error {
	r, err := b.router()
	if err != nil {
		return err
	}
	return r.Sync(ctx)
}

// Cluster describes the cluster for the dashboard and /api/cluster.
func (b *backend) Cluster(ctx context.Context) (web.Cluster, error) {
	r, err := b.router()
	if err != nil {
		return web.Cluster{}, err
	}
	infos, err := r.Routers(ctx)
	if err != nil {
		return web.Cluster{}, err
	}
	c := web.Cluster{Router: r.Name()}
	for _, ri := range infos {
		c.Routers = append(c.Routers, web.RouterInfo{Name: ri.Name, RESPAddr: ri.RESPAddr, HTTPAddr: ri.HTTPAddr})
	}
	for _, name := range r.Shards() {
		c.Shards = append(c.Shards, web.ShardInfo{Name: name, Healthy: r.ShardHealthy(name)})
	}
	rg := r.Ring()
	c.Ring = web.RingInfo{Epoch: rg.Epoch(), Text: rg.String()}
	c.CrossShard = r.CrossShardStats().Snapshot()
	return c, nil
}
