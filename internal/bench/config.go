package bench

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/qless-router/qless-router/lua"
)

// Phase names accepted in Config.Phases.
const (
	// PhasePut times put of new jobs into empty queues.
	PhasePut = "put"
	// PhasePopComplete pre-puts the jobs (not timed), then times pop
	// (count 1) followed by complete of the popped job.
	PhasePopComplete = "pop+complete"
	// PhaseLifecycle times the whole life of a job: put, pop, heartbeat,
	// complete.
	PhaseLifecycle = "lifecycle"
)

// AllPhases lists every phase, in the order Run runs them.
func AllPhases() []string { return []string{PhasePut, PhasePopComplete, PhaseLifecycle} }

// Target is one address to measure: a Redis server running the qless script
// directly, or a qless-router in front of shards.
type Target struct {
	// Name labels the target in the report ("direct", "router").
	Name string
	// Addr is the host:port the simulated qless clients talk to.
	Addr string
	// RedisAddrs are the Redis servers whose INFO cpu and INFO commandstats
	// are sampled around each timed phase, for Result.RedisCPUPerJob and
	// Result.EvalshaUsecPerCall: Addr itself for a direct target, every
	// shard behind a router. Empty means "do not sample"; those fields stay
	// zero. Sampling uses its own connections, never the clients'.
	RedisAddrs []string
	// RouterAddrs are routers running in processes of their own whose INFO
	// cpu (the router process's CPU) is sampled around each timed phase,
	// for Result.RouterCPUPerJob. Leave out routers running inside this
	// process: their CPU is in Result.BenchCPUPerJob.
	RouterAddrs []string
	// Script, when set, replaces Config.Script for this target: another
	// qless script measured beside ours in the same run (e.g. the reference
	// qless-core script on a Redis of its own). It must take the same
	// calling convention (put with a worker argument).
	Script string
}

// script returns the script t's clients run.
func (t Target) script(cfg Config) string {
	if t.Script != "" {
		return t.Script
	}
	return cfg.Script
}

// Config describes a benchmark run. Start from DefaultConfig; the zero value
// is not valid.
type Config struct {
	// Targets are measured one after another for each phase and level, in
	// this order; the first is the baseline of the report's ratio column.
	Targets []Target
	// Script is the qless script text the clients load on NOSCRIPT
	// (lua.Script()). Its SHA-1 is what EVALSHA sends.
	Script string
	// Clients are the concurrency levels: the number of simulated qless
	// clients, each one goroutine issuing one command at a time.
	Clients []int
	// Jobs is the number of jobs per phase, level and target; a phase ends
	// when they are all done or MaxDuration has passed.
	Jobs int
	// MaxDuration bounds the timed part of each phase (and, separately, the
	// untimed pre-put of pop+complete). Calls still in flight at the bound
	// get a short grace before they are cancelled.
	MaxDuration time.Duration
	// Queues is the number of queues the jobs of a phase are spread over
	// (job i goes to queue i mod Queues). Use more than one to spread the
	// load over the shards behind a router.
	Queues int
	// Phases to run, out of PhasePut, PhasePopComplete and PhaseLifecycle.
	Phases []string
	// Rounds repeats the whole run (every phase, level and target, in the
	// same interleaved order) this many times; 0 means 1. On a noisy
	// machine the ratio between targets within one round is steadier than
	// any single figure, and the report adds the median over the rounds.
	Rounds int
	// Connections is the number of connections per target. 0 (the default)
	// gives each simulated client its own connection, as a stock qless
	// client process has: the truest picture of N concurrent qless
	// clients. A positive value makes the simulated clients share that many
	// connections (client i uses connection i mod Connections), and
	// rueidis auto-pipelines their concurrent commands on it; 1 is the
	// fully shared, pipelined extreme. (rueidis' own PipelineMultiplex does
	// not help here: it sends commands without keys, as every qless
	// EVALSHA is, all down its first connection.)
	Connections int
	// KeepData skips the clean-up after each phase. By default jobs left
	// waiting by the put phase are cancelled and the benchmark's queue and
	// worker names are forgotten (queue.forget, worker.deregister), so that a
	// shared target keeps only completed jobs, which the script's own
	// retention trims.
	KeepData bool
	// Logger receives progress at Info and clean-up trouble at Warn; nil
	// discards.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: 1, 8 and 32 clients, 20000 jobs and at
// most 30 s per phase, one queue, every phase, one connection per client and
// the project's own script. Targets must still be set.
func DefaultConfig() Config {
	return Config{
		Script:      lua.Script(),
		Clients:     []int{1, 8, 32},
		Jobs:        20000,
		MaxDuration: 30 * time.Second,
		Queues:      1,
		Phases:      AllPhases(),
	}
}

// DefaultLocalConfig is a small preset for tests and quick local checks:
// 200 jobs at 1 and 4 clients, at most 10 s per phase.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.Clients = []int{1, 4}
	c.Jobs = 200
	c.MaxDuration = 10 * time.Second
	return c
}

// Validate reports the first invalid field, by name.
func (c Config) Validate() error {
	if len(c.Targets) == 0 {
		return errors.New("bench: Config.Targets is empty")
	}
	names := map[string]bool{}
	for i, t := range c.Targets {
		if t.Name == "" {
			return fmt.Errorf("bench: Config.Targets[%d].Name is empty", i)
		}
		if names[t.Name] {
			return fmt.Errorf("bench: Config.Targets[%d].Name %q is used twice", i, t.Name)
		}
		names[t.Name] = true
		if t.Addr == "" {
			return fmt.Errorf("bench: Config.Targets[%d].Addr is empty", i)
		}
		for j, a := range t.RedisAddrs {
			if a == "" {
				return fmt.Errorf("bench: Config.Targets[%d].RedisAddrs[%d] is empty", i, j)
			}
		}
	}
	if c.Rounds < 0 {
		return fmt.Errorf("bench: Config.Rounds = %d, want >= 0", c.Rounds)
	}
	if c.Script == "" {
		return errors.New("bench: Config.Script is empty")
	}
	if len(c.Clients) == 0 {
		return errors.New("bench: Config.Clients is empty")
	}
	for i, n := range c.Clients {
		if n <= 0 || n > 10000 {
			return fmt.Errorf("bench: Config.Clients[%d] = %d, want 1..10000", i, n)
		}
	}
	if c.Jobs <= 0 {
		return fmt.Errorf("bench: Config.Jobs = %d, want > 0", c.Jobs)
	}
	if c.MaxDuration <= 0 {
		return fmt.Errorf("bench: Config.MaxDuration = %s, want > 0", c.MaxDuration)
	}
	if c.Queues <= 0 {
		return fmt.Errorf("bench: Config.Queues = %d, want > 0", c.Queues)
	}
	if len(c.Phases) == 0 {
		return errors.New("bench: Config.Phases is empty")
	}
	for i, p := range c.Phases {
		switch p {
		case PhasePut, PhasePopComplete, PhaseLifecycle:
		default:
			return fmt.Errorf("bench: Config.Phases[%d] = %q, want one of %q", i, p, AllPhases())
		}
	}
	if c.Connections < 0 {
		return fmt.Errorf("bench: Config.Connections = %d, want >= 0", c.Connections)
	}
	return nil
}
