package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/qless-router/qless-router/internal/bench"
	"github.com/qless-router/qless-router/internal/redisproc"
)

// benchFlags are the flags of `qless-router bench`.
type benchFlags struct {
	local       bool
	redis       string
	router      string
	shardAddrs  []string
	clients     []int
	jobs        int
	maxDuration time.Duration
	queues      int
	phases      []string
	connections int
	json        bool
	verbose     bool
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	def := bench.DefaultConfig()
	var f benchFlags
	fs := newFlagSet("bench", stderr)
	fs.BoolVar(&f.local, "local", false, "start a throwaway local redis-server (and a router in front of it) and measure them")
	fs.StringVar(&f.redis, "redis", "", "host:port of a Redis running the qless script, measured directly")
	fs.StringVar(&f.router, "router", "", "host:port of a qless-router, measured through the router")
	fs.StringSliceVar(&f.shardAddrs, "shard-addrs", nil, "Redis shards behind --router whose CPU is sampled (comma separated)")
	fs.IntSliceVar(&f.clients, "clients", def.Clients, "concurrency levels (simulated qless clients)")
	fs.IntVar(&f.jobs, "jobs", def.Jobs, "jobs per phase, level and target")
	fs.DurationVar(&f.maxDuration, "max-duration", def.MaxDuration, "time bound of each phase")
	fs.IntVar(&f.queues, "queues", def.Queues, "queues the jobs are spread over")
	fs.StringSliceVar(&f.phases, "phases", def.Phases, "phases to run: put, pop+complete, lifecycle")
	fs.IntVar(&f.connections, "connections", 0, "connections per target (0: one per client, like stock qless clients)")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON")
	fs.BoolVar(&f.verbose, "verbose", false, "log progress to stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: qless-router bench (--local | --redis ADDR | --router ADDR --shard-addrs A,B) [flags]\n\nRuns put, pop+complete and the lifecycle put -> pop -> heartbeat -> complete at each\nconcurrency level and prints jobs/s, p50/p99 per command and Redis CPU per job.\nWith several targets the report compares each with the first.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := def
	cfg.Clients, cfg.Jobs, cfg.MaxDuration = f.clients, f.jobs, f.maxDuration
	cfg.Queues, cfg.Phases, cfg.Connections = f.queues, f.phases, f.connections
	if f.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if f.local {
		cleanup, targets, err := localBenchTargets(ctx)
		if err != nil {
			return err
		}
		defer cleanup()
		cfg.Targets = append(cfg.Targets, targets...)
	}
	if f.redis != "" {
		cfg.Targets = append(cfg.Targets, bench.Target{Name: "direct", Addr: f.redis, RedisAddrs: []string{f.redis}})
	}
	if f.router != "" {
		cfg.Targets = append(cfg.Targets, bench.Target{Name: "router", Addr: f.router, RedisAddrs: f.shardAddrs})
	}
	if len(cfg.Targets) == 0 {
		fs.Usage()
		return errors.New("bench: give --local, --redis or --router")
	}
	report, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if f.json {
		return report.WriteJSON(stdout)
	}
	return report.WriteText(stdout)
}

// localBenchTargets starts a throwaway redis-server and returns it as the
// "direct" target.
func localBenchTargets(ctx context.Context) (func(), []bench.Target, error) {
	srv, err := redisproc.Start(ctx, redisproc.Config{})
	if err != nil {
		return nil, nil, err
	}
	targets := []bench.Target{{Name: "direct", Addr: srv.Addr, RedisAddrs: []string{srv.Addr}}}
	return srv.Stop, targets, nil
}
