// Package devcluster runs a whole qless-router cluster in one process: N
// local redis-server shards and M routers that find each other through
// memberlist on loopback. It backs `qless-router dev` (the README's run
// command) and the tests that run the conformance suite through routers.
package devcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/qless-router/qless-router/internal/node"
	"github.com/qless-router/qless-router/internal/redisproc"
	"github.com/qless-router/qless-router/lua"
	"github.com/qless-router/qless-router/router"
	"github.com/qless-router/qless-router/router/resp"
	"github.com/qless-router/qless-router/shard"
	"github.com/qless-router/qless-router/web"
)

// Config describes the cluster. Start from DefaultConfig.
type Config struct {
	// Shards is the number of redis-server shards (>= 1).
	Shards int
	// Routers is the number of routers (>= 1).
	Routers int
	// Host is the loopback address everything binds to.
	Host string
	// RESPPort is the RESP port of the first router; the others follow
	// (RESPPort+1, ...). 0 picks free ports.
	RESPPort int
	// HTTPPort is the dashboard/API port of the first router; the others
	// follow. 0 picks free ports.
	HTTPPort int
	// Password, when set, is required by every router (AUTH).
	Password string
	// Local selects the short loopback timings of the Default*LocalConfig
	// presets (tests); false uses the production defaults.
	Local bool
	// ConvergeTimeout bounds the wait for every router to see every other.
	ConvergeTimeout time.Duration
	// Logger receives the components' logs; nil discards.
	Logger *slog.Logger
	// Version is reported by the routers' INFO.
	Version string
	// TCPShards makes the routers reach the shards over loopback TCP. By
	// default they use each shard's Unix socket, as a router on a shard's
	// host should (see docs/operations.md): it costs the router and Redis
	// less per command. Clients reach the shards over TCP either way
	// (ShardAddrs).
	TCPShards bool
	// FlushDelay is the routers' shard.Config.MaxFlushDelay (0: flush at
	// once; DefaultConfig: shard.DefaultMaxFlushDelay).
	FlushDelay time.Duration
}

// DefaultConfig is 3 shards and 3 routers on 127.0.0.1 with free ports.
func DefaultConfig() Config {
	return Config{Shards: 3, Routers: 3, Host: "127.0.0.1", Local: true, ConvergeTimeout: 15 * time.Second, FlushDelay: shard.DefaultMaxFlushDelay}
}

// Validate names the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Shards < 1:
		return fmt.Errorf("devcluster: Config.Shards = %d, want >= 1", c.Shards)
	case c.Routers < 1:
		return fmt.Errorf("devcluster: Config.Routers = %d, want >= 1", c.Routers)
	case c.Host == "":
		return errors.New("devcluster: Config.Host is empty")
	case c.FlushDelay < 0:
		return fmt.Errorf("devcluster: Config.FlushDelay = %s, want >= 0", c.FlushDelay)
	case c.RESPPort < 0 || c.RESPPort+c.Routers > 65535:
		return fmt.Errorf("devcluster: Config.RESPPort = %d is out of range", c.RESPPort)
	case c.HTTPPort < 0 || c.HTTPPort+c.Routers > 65535:
		return fmt.Errorf("devcluster: Config.HTTPPort = %d is out of range", c.HTTPPort)
	case c.ConvergeTimeout <= 0:
		return errors.New("devcluster: Config.ConvergeTimeout must be > 0")
	}
	return nil
}

// Cluster is a running cluster. Its fields are read-only.
type Cluster struct {
	cfg    Config
	Shards []*redisproc.Server
	Nodes  []*node.Node
	// ShardNames are the names of Shards, in order ("shard-1", ...).
	ShardNames []string
}

// Start starts the shards, then the routers, and waits until every router
// sees all the others. On error everything started so far is stopped.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg}
	ok := false
	defer func() {
		if !ok {
			_ = c.Stop(context.Background())
		}
	}()
	var shards []router.ShardConfig
	for i := range cfg.Shards {
		s, err := redisproc.Start(ctx, redisproc.Config{Host: cfg.Host, UnixSocket: !cfg.TCPShards})
		if err != nil {
			return nil, err
		}
		name := "shard-" + strconv.Itoa(i+1)
		c.Shards = append(c.Shards, s)
		c.ShardNames = append(c.ShardNames, name)
		url := "redis://" + s.Addr
		if s.Socket != "" {
			url = "unix://" + s.Socket
		}
		shards = append(shards, router.ShardConfig{Name: name, URL: url})
	}
	var seed string
	for i := range cfg.Routers {
		n, err := c.startNode(ctx, i, shards, seed)
		if err != nil {
			return nil, err
		}
		if seed == "" {
			seed = n.Router.Membership().LocalAddr()
		}
	}
	if err := c.WaitConverged(ctx, cfg.Routers); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

func (c *Cluster) startNode(ctx context.Context, i int, shards []router.ShardConfig, seed string) (*node.Node, error) {
	cfg := c.cfg
	rc, mc, pc, wc := router.DefaultConfig(), router.DefaultMembershipConfig(), resp.DefaultConfig(), web.DefaultConfig()
	if cfg.Local {
		rc, mc, pc, wc = router.DefaultLocalConfig(), router.DefaultLocalMembershipConfig(), resp.DefaultLocalConfig(), web.DefaultLocalConfig()
	}
	name := "router-" + strconv.Itoa(i+1)
	rc.Name, rc.Shards, rc.Epoch, rc.Logger = name, shards, 1, cfg.Logger
	rc.ShardClient.MaxFlushDelay = cfg.FlushDelay
	mc.NodeName, mc.BindAddr, mc.BindPort = name, cfg.Host, 0
	if seed != "" {
		mc.Join = []string{seed}
	}
	rc.Membership = &mc
	port := 0
	if cfg.RESPPort != 0 {
		port = cfg.RESPPort + i
	}
	pc.Addr = net.JoinHostPort(cfg.Host, strconv.Itoa(port))
	pc.Password, pc.Script, pc.Version, pc.Logger = cfg.Password, lua.Script(), cfg.Version, cfg.Logger
	httpPort := 0
	if cfg.HTTPPort != 0 {
		httpPort = cfg.HTTPPort + i
	}
	wc.Addr, wc.Logger = net.JoinHostPort(cfg.Host, strconv.Itoa(httpPort)), cfg.Logger
	n, err := node.Start(ctx, node.Config{Router: rc, RESP: pc, Web: &wc, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("devcluster: %s: %w", name, err)
	}
	c.Nodes = append(c.Nodes, n)
	return n, nil
}

// WaitConverged waits until every running router sees want routers.
func (c *Cluster) WaitConverged(ctx context.Context, want int) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConvergeTimeout)
	defer cancel()
	for {
		converged := true
		for _, n := range c.Nodes {
			if n == nil {
				continue
			}
			if got := len(n.Router.Membership().Members()); got != want {
				converged = false
			}
		}
		if converged {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devcluster: routers did not converge on %d members: %w", want, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// RESPAddrs lists the RESP addresses of the running routers.
func (c *Cluster) RESPAddrs() []string {
	var out []string
	for _, n := range c.Nodes {
		if n != nil {
			out = append(out, n.RESP.Addr())
		}
	}
	return out
}

// HTTPAddrs lists the dashboard/API addresses of the running routers.
func (c *Cluster) HTTPAddrs() []string {
	var out []string
	for _, n := range c.Nodes {
		if n != nil && n.Web != nil {
			out = append(out, n.Web.Addr().String())
		}
	}
	return out
}

// ShardAddrs lists the shards' Redis addresses.
func (c *Cluster) ShardAddrs() []string {
	out := make([]string, len(c.Shards))
	for i, s := range c.Shards {
		out[i] = s.Addr
	}
	return out
}

// StopRouter stops router i gracefully (it leaves the membership).
func (c *Cluster) StopRouter(ctx context.Context, i int) error {
	n := c.Nodes[i]
	if n == nil {
		return nil
	}
	c.Nodes[i] = nil
	return n.Stop(ctx)
}

// KillRouter stops router i as a crash would: its client connections drop
// and it vanishes from the membership without leaving (the others notice
// through their failure detector).
func (c *Cluster) KillRouter(ctx context.Context, i int) error {
	n := c.Nodes[i]
	if n == nil {
		return nil
	}
	c.Nodes[i] = nil
	return n.Crash(ctx)
}

// Stop stops every router, then every shard. Idempotent.
func (c *Cluster) Stop(ctx context.Context) error {
	var errs []error
	for i := range c.Nodes {
		errs = append(errs, c.StopRouter(ctx, i))
	}
	for _, s := range c.Shards {
		s.Stop()
	}
	c.Shards = nil
	return errors.Join(errs...)
}
