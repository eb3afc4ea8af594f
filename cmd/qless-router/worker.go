package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/worker"
)

// runWorker is `qless-router worker --exec CMD`: a ready worker for jobs
// written in any language.
func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	def := worker.DefaultConfig()
	fs := newFlagSet("worker", stderr)
	command := fs.String("exec", "", "command run for each job with /bin/sh -c: the job's JSON on its stdin, QLESS_JID, QLESS_KLASS, QLESS_QUEUE, QLESS_WORKER, QLESS_PRIORITY, QLESS_RETRIES, QLESS_REMAINING and QLESS_TAGS in its environment; exit status 0 completes the job, anything else fails it with the tail of its stderr (required)")
	addrs := fs.StringSlice("addr", []string{"127.0.0.1:6380"}, "RESP addresses of routers (one is enough: the others are learned), or of one Redis running the qless script (comma separated)")
	password := fs.String("password", "", "password of the routers or Redis (AUTH)")
	queues := fs.StringSlice("queue", nil, "queues to take jobs from, in order (comma separated or repeated; required)")
	concurrency := fs.Int("concurrency", def.Concurrency, "jobs run at once")
	reserver := fs.String("reserver", "ordered", "how queues are picked: ordered (the first queue with work), round-robin, or shuffled-round-robin")
	name := fs.String("name", "", "the worker's qless name (default: <hostname>-<pid>)")
	interval := fs.Duration("interval", def.Interval, "wait after a pop that found no job")
	heartbeat := fs.Duration("heartbeat-interval", 0, "time between heartbeats of a running job (0: a third of the job's lock length)")
	stopTimeout := fs.Duration("stop-timeout", def.StopTimeout, "wait for running commands to end after TERM or INT")
	stderrTail := fs.Int("stderr-tail", def.StderrTail, "bytes of a failed command's stderr kept in the job's failure message")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: qless-router worker --exec CMD --queue Q[,Q...] [flags]

Pops jobs and runs CMD for each, heartbeating the job while CMD runs. A job
whose lock is lost has its command killed and is left alone.

Signals, as in qless: TERM and INT stop now (running commands are killed and
their jobs given back to their queues), QUIT finishes the running jobs and
exits, USR1 kills the running jobs (they fail) and carries on, USR2 pauses
taking jobs and writes every goroutine's stack to stderr, CONT resumes.`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *command == "" {
		fs.Usage()
		return errors.New("worker: --exec is required")
	}
	if len(*queues) == 0 {
		fs.Usage()
		return errors.New("worker: --queue is required")
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg := def
	cfg.Queues, cfg.Concurrency = *queues, *concurrency
	cfg.Interval, cfg.HeartbeatInterval, cfg.StopTimeout, cfg.StderrTail = *interval, *heartbeat, *stopTimeout, *stderrTail
	cfg.HandleSignals, cfg.StackDump, cfg.Logger = true, stderr, logger
	switch *reserver {
	case "ordered":
		cfg.Reserver = worker.Ordered()
	case "round-robin":
		cfg.Reserver = worker.RoundRobin()
	case "shuffled-round-robin":
		cfg.Reserver = worker.ShuffledRoundRobin(nil)
	default:
		return fmt.Errorf("worker: --reserver %q: want ordered, round-robin or shuffled-round-robin", *reserver)
	}
	h, err := worker.Exec(worker.ExecConfig{
		Command:    []string{"/bin/sh", "-c", *command},
		Stdout:     stdout,
		Stderr:     stderr,
		StderrTail: *stderrTail,
	})
	if err != nil {
		return err
	}

	ccfg := client.DefaultConfig()
	ccfg.Addrs, ccfg.Password, ccfg.WorkerName, ccfg.Logger = *addrs, *password, *name, logger
	// Enough connections for every job's heartbeat and completion plus the
	// pops.
	ccfg.Conns = max(ccfg.Conns, *concurrency+1)
	c, err := client.New(ccfg)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer c.Close()
	w, err := worker.New(c, cfg)
	if err != nil {
		return err
	}
	w.HandleAny(h)
	start := time.Now()
	err = w.Run(ctx)
	logger.Info("worker exiting", "uptime", time.Since(start).Round(time.Millisecond), "stats", w.Stats())
	return err
}
