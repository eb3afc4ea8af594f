package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/qless-router/qless-router/internal/node"
	"github.com/qless-router/qless-router/lua"
	"github.com/qless-router/qless-router/ring"
	"github.com/qless-router/qless-router/router"
	"github.com/qless-router/qless-router/router/resp"
	"github.com/qless-router/qless-router/web"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	nc, logger, err := serveConfig(args, stderr)
	if err != nil {
		return err
	}
	n, err := node.Start(ctx, nc)
	if err != nil {
		return err
	}
	httpBound := ""
	if n.Web != nil {
		httpBound = n.Web.Addr().String()
	}
	logger.Info("serving", "resp", n.RESP.Addr(), "http", httpBound, "gossip", n.Router.Membership().LocalAddr(), "ring", n.Router.Ring().String())
	<-ctx.Done()
	logger.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return n.Stop(stopCtx)
}

// serveConfig turns serve's flags (and QLESS_ROUTER_* variables) into the
// router process's configuration and its logger.
func serveConfig(args []string, stderr io.Writer) (node.Config, *slog.Logger, error) {
	host, _ := os.Hostname()
	fs := newFlagSet("serve", stderr)
	shards := fs.StringArray("shard", nil, "a shard as NAME=URL (repeatable); URL is redis://[:password@]host:port[/db], rediss://..., redis-sentinel://host:port,host:port/master or unix:///path/redis.sock (a shard on this host)")
	weights := fs.StringArray("weight", nil, "a shard's ring weight as NAME=W (repeatable; default 1)")
	epoch := fs.Uint64("epoch", 1, "ring epoch of this shard set; every router must use the same shards and epoch")
	respAddr := fs.String("resp-addr", ":6380", "address of the RESP (Redis protocol) front end")
	httpAddr := fs.String("http-addr", ":8080", "address of the dashboard, JSON API and /metrics (empty: off)")
	httpToken := fs.String("http-token", "", "bearer token the dashboard and API require (empty: open)")
	gossipAddr := fs.String("gossip-addr", "127.0.0.1:7946", "host:port memberlist binds to (an explicit address: 0.0.0.0 advertises an unreachable one)")
	advertise := fs.String("advertise-addr", "", "host:port other routers reach this one's gossip at (default: --gossip-addr)")
	advertiseRESP := fs.String("advertise-resp-addr", "", "host:port clients are told to reach this router's RESP front end at (QLESS.ROUTERS, /api/cluster), e.g. a container's published port (default: --resp-addr as bound)")
	advertiseHTTP := fs.String("advertise-http-addr", "", "host:port clients are told to reach this router's HTTP side at (default: --http-addr as bound)")
	joins := fs.StringArray("join", nil, "gossip address of another router to join (repeatable)")
	nodeName := fs.String("node-name", host, "this router's unique name in the cluster")
	password := fs.String("requirepass", "", "password RESP clients must AUTH with (empty: no authentication, every command allowed)")
	adminPassword := fs.String("admin-password", "", "password needed for FLUSHDB/FLUSHALL when --requirepass is set")
	fanOut := fs.Duration("fanout-timeout", router.DefaultConfig().FanOutTimeout, "deadline of commands that ask several shards")
	xdef := router.DefaultConfig().CrossShard
	asyncImport := fs.Bool("async-import", xdef.AsyncImport, "a command that moves a job to another shard answers once the move is recorded and imports it in the background (one round trip less; another router may not see the job in its new queue for about one round trip); false: answer after the import")
	probeOnMiss := fs.Bool("probe-on-miss", xdef.ProbeOnMiss, "a put of a jid the jid directory does not know asks every shard whether the job exists elsewhere (for shards holding jobs put before the directory, e.g. after a migration from one Redis)")
	waitReplicas := fs.Int("wait-replicas", 0, "durability: a qless command that writes is acknowledged only once this many replicas of its shard have it (WAIT), so that a failover loses no acknowledged write; fewer in --wait-timeout fail the command (it ran on the primary). 0: acknowledge at once, as Redis does")
	waitTimeout := fs.Duration("wait-timeout", time.Second, "how long a write waits for --wait-replicas")
	flushDelay := fs.Duration("flush-delay", router.DefaultConfig().ShardClient.MaxFlushDelay, "while several commands to a shard are in flight, wait up to this long after each write to send more with the next (rueidis MaxFlushDelay): fewer system calls for the router and Redis under load, for at most this much added latency; a lone command is sent at once. 0: never wait")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: qless-router serve --shard NAME=URL [--shard ...] [flags]\n\nRuns one router: a RESP front end that any qless client can use, in front of the shards.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return node.Config{}, nil, err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return node.Config{}, nil, err
	}
	shardCfgs, err := parseShards(*shards, *weights)
	if err != nil {
		return node.Config{}, nil, err
	}
	gossipHost, gossipPort, err := splitHostPort(*gossipAddr)
	if err != nil {
		return node.Config{}, nil, fmt.Errorf("--gossip-addr: %w", err)
	}
	mc := router.DefaultMembershipConfig()
	mc.NodeName, mc.BindAddr, mc.BindPort, mc.Join, mc.Logger = *nodeName, gossipHost, gossipPort, *joins, logger
	if *advertise != "" {
		if mc.AdvertiseAddr, mc.AdvertisePort, err = splitHostPort(*advertise); err != nil {
			return node.Config{}, nil, fmt.Errorf("--advertise-addr: %w", err)
		}
	}
	rc := router.DefaultConfig()
	rc.Name, rc.Shards, rc.Epoch, rc.FanOutTimeout, rc.Logger = *nodeName, shardCfgs, *epoch, *fanOut, logger
	rc.CrossShard.AsyncImport, rc.CrossShard.ProbeOnMiss = *asyncImport, *probeOnMiss
	rc.ShardClient.StartDown = true // a shard that is down fails only its own queues
	rc.ShardClient.WaitReplicas, rc.ShardClient.WaitTimeout = *waitReplicas, *waitTimeout
	rc.ShardClient.MaxFlushDelay = *flushDelay
	switch {
	case *flushDelay < 0:
		return node.Config{}, nil, fmt.Errorf("--flush-delay must not be negative, got %s", *flushDelay)
	case *waitReplicas < 0:
		return node.Config{}, nil, fmt.Errorf("--wait-replicas must not be negative, got %d", *waitReplicas)
	case *waitReplicas > 0 && *waitTimeout < time.Millisecond:
		return node.Config{}, nil, fmt.Errorf("--wait-timeout must be at least 1ms with --wait-replicas, got %s", *waitTimeout)
	}
	rc.Membership = &mc
	pc := resp.DefaultConfig()
	pc.Addr, pc.Password, pc.AdminPassword, pc.Script, pc.Version, pc.Logger = *respAddr, *password, *adminPassword, lua.Script(), version, logger

	nc := node.Config{Router: rc, RESP: pc, Logger: logger, AdvertiseRESP: *advertiseRESP, AdvertiseHTTP: *advertiseHTTP}
	for flag, addr := range map[string]string{"--advertise-resp-addr": *advertiseRESP, "--advertise-http-addr": *advertiseHTTP} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return node.Config{}, nil, fmt.Errorf("%s: %w", flag, err)
		}
	}
	if *httpAddr != "" {
		wc := web.DefaultConfig()
		wc.Addr, wc.Token, wc.Logger = *httpAddr, *httpToken, logger
		nc.Web = &wc
	}
	return nc, logger, nil
}

// parseShards turns NAME=URL flags (and NAME=W weights) into shard configs.
func parseShards(specs, weights []string) ([]router.ShardConfig, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("give at least one --shard NAME=URL")
	}
	w := map[string]int{}
	for _, s := range weights {
		name, val, ok := strings.Cut(s, "=")
		n, err := strconv.Atoi(val)
		if !ok || err != nil || n < 1 {
			return nil, fmt.Errorf("--weight %q: want NAME=W with W a positive integer", s)
		}
		w[name] = n
	}
	var out []router.ShardConfig
	seen := map[string]bool{}
	for _, s := range specs {
		name, url, ok := strings.Cut(s, "=")
		if !ok || url == "" {
			return nil, fmt.Errorf("--shard %q: want NAME=URL", s)
		}
		if err := ring.ValidateName(name); err != nil {
			return nil, fmt.Errorf("--shard %q: %w", s, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("--shard %q: shard %s is given twice", s, name)
		}
		seen[name] = true
		out = append(out, router.ShardConfig{Name: name, URL: url, Weight: w[name]})
		delete(w, name)
	}
	for name := range w {
		return nil, fmt.Errorf("--weight %s: no --shard of that name", name)
	}
	return out, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		return "", 0, fmt.Errorf("%q: give an explicit, reachable host address (memberlist advertises the bind address)", addr)
	}
	return host, port, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
