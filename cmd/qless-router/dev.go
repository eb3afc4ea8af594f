package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/qless-router/qless-router/internal/devcluster"
)

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	def := devcluster.DefaultConfig()
	fs := newFlagSet("dev", stderr)
	shards := fs.Int("shards", def.Shards, "number of local redis-server shards")
	routers := fs.Int("routers", def.Routers, "number of routers")
	respPort := fs.Int("resp-port", 6380, "RESP port of the first router; the others follow (0: free ports)")
	httpPort := fs.Int("http-port", 8080, "dashboard/API port of the first router; the others follow (0: free ports)")
	password := fs.String("requirepass", "", "password the routers require (AUTH)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	tcpShards := fs.Bool("tcp-shards", false, "routers reach the shards over loopback TCP instead of the shards' Unix sockets")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the routers to this file when stopping")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: qless-router dev [flags]\n\nStarts N local redis-server shards and M routers in this process, prints where to\nconnect, and cleans everything up on Ctrl-C. redis-server must be on PATH.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg := def
	cfg.Shards, cfg.Routers, cfg.RESPPort, cfg.HTTPPort = *shards, *routers, *respPort, *httpPort
	cfg.Password, cfg.Logger, cfg.Version, cfg.TCPShards = *password, logger, version, *tcpShards
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	c, err := devcluster.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := c.Stop(stopCtx); err != nil {
			fmt.Fprintln(stderr, "qless-router dev: stop:", err)
		}
	}()
	fmt.Fprintf(stdout, "qless-router dev cluster is up: %d shards, %d routers\n\n", *shards, *routers)
	for i, addr := range c.ShardAddrs() {
		fmt.Fprintf(stdout, "  shard   %-8s redis://%s\n", c.ShardNames[i], addr)
	}
	for i, n := range c.Nodes {
		fmt.Fprintf(stdout, "  router  %-8s redis://%s   dashboard http://%s/   (gossip %s)\n",
			fmt.Sprintf("router-%d", i+1), n.RESP.Addr(), n.Web.Addr(), n.Router.Membership().LocalAddr())
	}
	fmt.Fprintf(stdout, "\nPoint any qless client at a router, e.g. redis://%s\n", c.RESPAddrs()[0])
	fmt.Fprintf(stdout, "Try: redis-cli -p %s EVALSHA \"$(bin/qless-router script --sha)\" 0 queues %d\n", portOf(c.RESPAddrs()[0]), time.Now().Unix())
	fmt.Fprintln(stdout, "Ctrl-C stops everything.")
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping")
	return nil
}

func portOf(addr string) string {
	i := strings.LastIndexByte(addr, ':')
	return addr[i+1:]
}
