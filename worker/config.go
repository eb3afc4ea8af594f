package worker

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Mode says where jobs run.
type Mode int

const (
	// Goroutines runs each job in a goroutine of the worker's process.
	Goroutines Mode = iota
	// ProcessPerJob runs each job in a child process of its own (see the
	// package documentation).
	ProcessPerJob
)

func (m Mode) String() string {
	switch m {
	case Goroutines:
		return "goroutines"
	case ProcessPerJob:
		return "process-per-job"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Config configures a Worker. Start from DefaultConfig and set Queues.
type Config struct {
	// Queues are the queues the worker pops jobs from, in the order the
	// Reserver is given them. At least one.
	Queues []string
	// Reserver picks the queues to pop from. nil means Ordered().
	Reserver Reserver
	// Concurrency is the number of jobs run at once (goroutines or child
	// processes). 0 means 1.
	Concurrency int
	// Mode is Goroutines (the default) or ProcessPerJob.
	Mode Mode
	// Fetchers is the number of pops that may be in flight at once; each
	// takes at most Concurrency/Fetchers jobs. More than one keeps a busy
	// worker's slots filled while a pop travels. 0 means Concurrency/8
	// rounded up, at most 4. The Reserver is then called from that many
	// goroutines at once.
	Fetchers int
	// HeartbeatInterval is the time between two heartbeats of a running
	// job. 0 means a third of the time the job's lock had left when it was
	// popped (the lock length is the server's `heartbeat` or
	// `<queue>-heartbeat` configuration, 60 s by default), and never less
	// than MinHeartbeatInterval.
	HeartbeatInterval time.Duration
	// MinHeartbeatInterval bounds the computed heartbeat interval from
	// below. 0 means 50ms.
	MinHeartbeatInterval time.Duration
	// Interval is the wait after a pop found no job (or failed) before the
	// next pop. 0 means 5s.
	Interval time.Duration
	// StopTimeout bounds the wait, after Stop, for canceled handlers to
	// return and for the give-back of their jobs; Run then returns an
	// error naming the jobs still running. It also bounds each call that
	// settles a job (complete, fail, retry). 0 means 10s.
	StopTimeout time.Duration
	// HandleSignals makes Run handle the process signals as in qless (see
	// Worker.HandleSignals) for as long as it runs.
	HandleSignals bool
	// StackDump receives the goroutine stacks on USR2 (Worker.Pause with
	// DumpStacks). nil means os.Stderr.
	StackDump io.Writer
	// Logger receives the worker's structured logs. nil discards them.
	Logger *slog.Logger

	// The following apply to ProcessPerJob only.

	// ChildPath is the program run for each job. "" means the current
	// executable (os.Executable).
	ChildPath string
	// ChildArgs are its arguments. nil means the arguments of the current
	// process (os.Args[1:]), so that the child builds the same client and
	// worker.
	ChildArgs []string
	// ChildEnv is added to the current environment of the child.
	ChildEnv []string
	// ChildStdout and ChildStderr receive the child's output; nil means
	// the worker's own stdout and stderr. The worker also keeps the last
	// StderrTail bytes of the child's stderr for the failure message of a
	// crash.
	ChildStdout io.Writer
	ChildStderr io.Writer
	// StderrTail is how many bytes of a child's (or an Exec program's)
	// stderr go into a failure message. 0 means 4096.
	StderrTail int
}

// DefaultConfig returns the defaults: the Ordered reserver, one job at a
// time in a goroutine, heartbeats at a third of the lock, 5 s idle
// interval, 10 s stop timeout. Queues must still be set.
func DefaultConfig() Config {
	return Config{
		Concurrency:          1,
		Mode:                 Goroutines,
		MinHeartbeatInterval: 50 * time.Millisecond,
		Interval:             5 * time.Second,
		StopTimeout:          10 * time.Second,
		StderrTail:           4096,
	}
}

// DefaultLocalConfig is DefaultConfig with short timings for tests and local
// development: 50 ms idle interval, 2 s stop timeout, 10 ms minimum
// heartbeat interval.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.Interval = 50 * time.Millisecond
	c.StopTimeout = 2 * time.Second
	c.MinHeartbeatInterval = 10 * time.Millisecond
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case len(c.Queues) == 0:
		return errors.New("worker: Config.Queues is empty")
	case c.Concurrency < 0:
		return fmt.Errorf("worker: Config.Concurrency = %d, want >= 0", c.Concurrency)
	case c.Fetchers < 0:
		return fmt.Errorf("worker: Config.Fetchers = %d, want >= 0", c.Fetchers)
	case c.Mode != Goroutines && c.Mode != ProcessPerJob:
		return fmt.Errorf("worker: Config.Mode = %v, want Goroutines or ProcessPerJob", c.Mode)
	case c.HeartbeatInterval < 0:
		return fmt.Errorf("worker: Config.HeartbeatInterval = %v, want >= 0", c.HeartbeatInterval)
	case c.MinHeartbeatInterval < 0:
		return fmt.Errorf("worker: Config.MinHeartbeatInterval = %v, want >= 0", c.MinHeartbeatInterval)
	case c.Interval < 0:
		return fmt.Errorf("worker: Config.Interval = %v, want >= 0", c.Interval)
	case c.StopTimeout < 0:
		return fmt.Errorf("worker: Config.StopTimeout = %v, want >= 0", c.StopTimeout)
	case c.StderrTail < 0:
		return fmt.Errorf("worker: Config.StderrTail = %d, want >= 0", c.StderrTail)
	}
	for i, q := range c.Queues {
		if q == "" {
			return fmt.Errorf("worker: Config.Queues[%d] is empty", i)
		}
	}
	return nil
}

// withDefaults fills the zero values that stand for a default.
func (c Config) withDefaults() Config {
	if c.Reserver == nil {
		c.Reserver = Ordered()
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.Fetchers == 0 {
		c.Fetchers = min((c.Concurrency+7)/8, 4)
	}
	c.Fetchers = min(c.Fetchers, c.Concurrency)
	if c.MinHeartbeatInterval == 0 {
		c.MinHeartbeatInterval = 50 * time.Millisecond
	}
	if c.Interval == 0 {
		c.Interval = 5 * time.Second
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.StderrTail == 0 {
		c.StderrTail = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
