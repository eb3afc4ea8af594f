package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/qless-router/qless-router/internal/bench"
	"github.com/qless-router/qless-router/internal/devcluster"
	"github.com/qless-router/qless-router/internal/redisproc"
)

// benchFlags are the flags of `qless-router bench`.
type benchFlags struct {
	local       bool
	localShards int
	shardCPU    float64
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
	cpuProfile  string
	reference   string
	tcpShards   bool
	rounds      int
	procs       int
	flushDelay  time.Duration
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	def := bench.DefaultConfig()
	var f benchFlags
	fs := newFlagSet("bench", stderr)
	fs.BoolVar(&f.local, "local", false, "start a throwaway local redis-server with a router in front of it, and measure both (direct, router)")
	fs.Float64Var(&f.shardCPU, "shard-cpu", 0, "with --local, cap each local redis-server at this fraction of a core (cgroups, root): makes Redis the bottleneck on a small machine, as when shards have machines of their own")
	fs.IntVar(&f.localShards, "local-shards", 0, "with --local, also measure a router in front of this many throwaway shards (e.g. 3; use --queues to spread the jobs)")
	fs.StringVar(&f.redis, "redis", "", "host:port of a Redis running the qless script, measured directly")
	fs.StringVar(&f.router, "router", "", "host:port of a qless-router, measured through the router")
	fs.StringSliceVar(&f.shardAddrs, "shard-addrs", nil, "Redis shards behind --router whose CPU is sampled (comma separated)")
	fs.IntSliceVar(&f.clients, "clients", def.Clients, "concurrency levels (simulated qless clients)")
	fs.IntVar(&f.jobs, "jobs", def.Jobs, "jobs per phase, level and target")
	fs.DurationVar(&f.maxDuration, "max-duration", def.MaxDuration, "time bound of each phase")
	fs.IntVar(&f.queues, "queues", def.Queues, "queues the jobs are spread over")
	fs.StringSliceVar(&f.phases, "phases", def.Phases, "phases to run: put, pop+complete, lifecycle")
	fs.IntVar(&f.connections, "connections", 0, "connections per target (0: one per client, like stock qless clients)")
	fs.IntVar(&f.rounds, "rounds", 1, "repeat everything this many times, interleaved, and add the median of each round's ratio (for noisy machines)")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON")
	fs.BoolVar(&f.verbose, "verbose", false, "log progress to stderr")
	fs.BoolVar(&f.tcpShards, "tcp-shards", false, "with --local, the routers reach the local shards over loopback TCP instead of their Unix sockets (clients use TCP either way)")
	fs.StringVar(&f.reference, "reference-script", "", "also measure this qless script (e.g. the reference qless-core qless.lua) directly on a throwaway local redis-server of its own, as target \"reference\" (same --shard-cpu cap)")
	fs.DurationVar(&f.flushDelay, "flush-delay", devcluster.DefaultConfig().FlushDelay, "with --local, the routers' --flush-delay (see serve)")
	fs.IntVar(&f.procs, "procs", 0, "GOMAXPROCS of this process (load generator and, with --local, the routers); 0: with --local, all cores but one, which is left to the local Redis (the load generator's CPU is not the router's, and Redis is the critical path of the direct target), unless GOMAXPROCS is set; else Go's default")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (load generator and, with --local, the routers) to this file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: qless-router bench (--local | --redis ADDR | --router ADDR --shard-addrs A,B) [flags]\n\nRuns put, pop+complete and the lifecycle put -> pop -> heartbeat -> complete at each\nconcurrency level and prints jobs/s, p50/p99 per command and Redis CPU per job.\nWith several targets the report compares each with the first.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if f.procs < 0 {
		return fmt.Errorf("bench: --procs must not be negative, got %d", f.procs)
	}
	if n := benchProcs(f.procs, f.local, os.Getenv("GOMAXPROCS") != "", runtime.NumCPU()); n > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
	}
	cfg := def
	cfg.Clients, cfg.Jobs, cfg.MaxDuration = f.clients, f.jobs, f.maxDuration
	cfg.Queues, cfg.Phases, cfg.Connections, cfg.Rounds = f.queues, f.phases, f.connections, f.rounds
	if f.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if f.local {
		cleanup, targets, err := localBenchTargets(ctx, localBench{shards: f.localShards, shardCPU: f.shardCPU, tcpShards: f.tcpShards, flushDelay: f.flushDelay})
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
		cfg.Targets = append(cfg.Targets, bench.Target{Name: "router", Addr: f.router, RedisAddrs: f.shardAddrs, RouterAddrs: []string{f.router}})
	}
	if f.reference != "" {
		if len(cfg.Targets) == 0 {
			fs.Usage()
			return errors.New("bench: --reference-script compares with a target: give --local, --redis or --router too")
		}
		cleanup, target, err := referenceTarget(ctx, f.reference, f.shardCPU)
		if err != nil {
			return err
		}
		defer cleanup()
		cfg.Targets = append(cfg.Targets, target)
	}
	if len(cfg.Targets) == 0 {
		fs.Usage()
		return errors.New("bench: give --local, --redis or --router")
	}
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	report, runErr := bench.Run(ctx, cfg)
	if report != nil {
		var err error
		if f.json {
			err = report.WriteJSON(stdout)
		} else {
			err = report.WriteText(stdout)
		}
		if runErr == nil {
			runErr = err
		}
	}
	return runErr
}

// benchProcs is the GOMAXPROCS bench sets (0: leave it): --procs when
// given, else with --local all cores but one unless the environment sets
// GOMAXPROCS.
func benchProcs(procs int, local, envSet bool, cpus int) int {
	switch {
	case procs > 0:
		return procs
	case local && !envSet:
		return max(1, cpus-1)
	}
	return 0
}

// localBench is how bench --local sets up its clusters.
type localBench struct {
	shards     int     // also a cluster of this many shards (0: none)
	shardCPU   float64 // cap of each redis-server, in cores (0: none)
	tcpShards  bool
	flushDelay time.Duration
}

// localBenchTargets starts a one-shard cluster (one redis-server, one
// router in this process) and returns the shard as the "direct" target and
// the router in front of it as "router" (reaching the shard over its Unix
// socket, or TCP with lb.tcpShards); with lb.shards > 0 it also starts a
// cluster of that many shards behind one router ("router-<n>shards").
func localBenchTargets(ctx context.Context, lb localBench) (func(), []bench.Target, error) {
	var clusters []*devcluster.Cluster
	var limits []func() error
	cleanup := func() {
		for _, c := range clusters {
			stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			_ = c.Stop(stopCtx)
			cancel()
		}
		for _, undo := range limits {
			_ = undo()
		}
	}
	start := func(n int) (*devcluster.Cluster, error) {
		cfg := devcluster.DefaultConfig()
		cfg.Shards, cfg.Routers, cfg.Version, cfg.TCPShards, cfg.FlushDelay = n, 1, version, lb.tcpShards, lb.flushDelay
		c, err := devcluster.Start(ctx, cfg)
		if err != nil {
			return nil, err
		}
		clusters = append(clusters, c)
		if lb.shardCPU > 0 {
			for _, srv := range c.Shards {
				undo, err := srv.LimitCPU(lb.shardCPU)
				if err != nil {
					return nil, err
				}
				limits = append(limits, undo)
			}
		}
		return c, nil
	}
	one, err := start(1)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	shard := one.ShardAddrs()[0]
	targets := []bench.Target{
		{Name: "direct", Addr: shard, RedisAddrs: []string{shard}},
		{Name: "router", Addr: one.RESPAddrs()[0], RedisAddrs: []string{shard}},
	}
	if lb.shards > 0 {
		many, err := start(lb.shards)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		targets = append(targets, bench.Target{
			Name: fmt.Sprintf("router-%dshards", lb.shards), Addr: many.RESPAddrs()[0], RedisAddrs: many.ShardAddrs(),
		})
	}
	return cleanup, targets, nil
}

// referenceTarget starts a throwaway redis-server for the script in path
// and returns it as target "reference", with the script to run on it.
func referenceTarget(ctx context.Context, path string, shardCPU float64) (func(), bench.Target, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, bench.Target{}, fmt.Errorf("--reference-script: %w", err)
	}
	if len(bytes.TrimSpace(text)) == 0 {
		return nil, bench.Target{}, fmt.Errorf("--reference-script: %s is empty", path)
	}
	srv, err := redisproc.Start(ctx, redisproc.Config{})
	if err != nil {
		return nil, bench.Target{}, err
	}
	var undo func() error
	cleanup := func() {
		if undo != nil {
			_ = undo()
		}
		srv.Stop()
	}
	if shardCPU > 0 {
		if undo, err = srv.LimitCPU(shardCPU); err != nil {
			cleanup()
			return nil, bench.Target{}, err
		}
	}
	return cleanup, bench.Target{Name: "reference", Addr: srv.Addr, RedisAddrs: []string{srv.Addr}, Script: string(text)}, nil
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
