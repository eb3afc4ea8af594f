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
)

// Config configures one node.
type Config struct {
	Router router.Config
	RESP   resp.Config
	Logger *slog.Logger
}

// Node is one running router process. Safe for concurrent use.
type Node struct {
	Router *router.Router
	RESP   *resp.Server

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
	advertised, fixed := fixedAddr(cfg.RESP.Addr, cfg.Router.Membership)
	if !fixed {
		if err := rs.Start(ctx); err != nil {
			return nil, fmt.Errorf("node: RESP front end: %w", err)
		}
		advertised = rs.Addr()
	}
	rc := cfg.Router
	if rc.Membership != nil {
		mc := *rc.Membership
		mc.RESPAddr = advertised
		rc.Membership = &mc
	}
	r, err := router.New(rc)
	if err != nil {
		_ = rs.Stop(context.Background())
		return nil, fmt.Errorf("node: %w", err)
	}
	if err := r.Start(ctx); err != nil {
		_ = rs.Stop(context.Background())
		return nil, fmt.Errorf("node: %w", err)
	}
	n.Router = r
	b.setRouter(r)
	if fixed {
		if err := rs.Start(ctx); err != nil {
			_ = r.Stop(context.Background())
			return nil, fmt.Errorf("node: RESP front end: %w", err)
		}
	}
	return n, nil
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
	n.stopOnce.Do(func() {
		var errs []error
		if n.RESP != nil {
			errs = append(errs, n.RESP.Stop(ctx))
		}
		if n.Router != nil {
			errs = append(errs, n.Router.Stop(ctx))
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
	cancel   func() // guarded by backend.evMu
	canceled bool   // guarded by backend.evMu
}

var (
	_ resp.Backend = (*backend)(nil)
	_ resp.Barrier = (*backend)(nil)
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

// Events registers fn once the router exists. The RESP server registers its
// event feed when it starts, before the router does, so registration is
// deferred until then.
func (b *backend) Events(fn func(channel, message string)) (cancel func()) {
	b.evMu.Lock()
	defer b.evMu.Unlock()
	if r := b.r.Load(); r != nil {
		return r.Events(fn)
	}
	p := &pendingEvents{fn: fn}
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
			p.cancel = r.Events(p.fn)
		}
	}
	b.pending = nil
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
