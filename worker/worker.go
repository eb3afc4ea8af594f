package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qless-router/qless-router/client"
)

// Causes of a job's context cancellation (context.Cause).
var (
	// ErrJobCanceled: the job was canceled (qless `cancel`) while it ran.
	// It matches client.ErrLockLost too.
	ErrJobCanceled = fmt.Errorf("worker: job canceled while running: %w", client.ErrLockLost)
	// ErrKilled: the job was killed (KillRunning, SIGUSR1). The worker
	// fails it in group "<class>:killed".
	ErrKilled = errors.New("worker: job killed")
	// ErrStopped: the worker is stopping at once (Stop, SIGTERM, SIGINT, the
	// end of Run's context). A job whose handler then returns an error is
	// given back to its queue (qless `retry`); one that returns nil is
	// completed.
	ErrStopped = errors.New("worker: stopping")
)

// The cause of a lost lock is client.ErrLockLost itself.

// Worker pops and runs jobs. Build it with New, register handlers, then
// Run it. Its methods are safe for concurrent use.
type Worker struct {
	c    *client.Client
	cfg  Config
	reg  *Registry
	log  *slog.Logger
	name string
	pop  PopFunc

	stats counters
	debug bool // the logger takes debug records

	mu       sync.Mutex
	tasks    map[string]*task // guarded by mu; running jobs by jid
	paused   bool             // guarded by mu
	draining bool             // guarded by mu
	stopped  bool             // guarded by mu
	started  bool             // guarded by mu; Run was called
	reserved int              // guarded by mu; slots held by pops in flight
	changed  chan struct{}    // guarded by mu; closed and replaced at a control change or a freed slot
	stopCh   chan struct{}    // closed by Stop
	// fetched is closed once Run's fetchers have returned: no pop is in
	// flight any more (see giveBack).
	fetched chan struct{}
	wg      sync.WaitGroup // running tasks
}

// New returns a worker that pops through c, under c's worker name
// (client.Config.WorkerName). It does no I/O.
func New(c *client.Client, cfg Config) (*Worker, error) {
	if c == nil {
		return nil, errors.New("worker: New with a nil client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Queues = slices.Clone(cfg.Queues)
	w := &Worker{
		c:       c,
		cfg:     cfg,
		reg:     NewRegistry(),
		name:    c.WorkerName(),
		tasks:   make(map[string]*task),
		stopCh:  make(chan struct{}),
		fetched: make(chan struct{}),
		changed: make(chan struct{}),
	}
	w.log = cfg.Logger.With("component", "worker", "worker", w.name)
	w.debug = w.log.Enabled(context.Background(), slog.LevelDebug)
	w.pop = func(ctx context.Context, queue string, n int) ([]*client.Job, error) {
		return c.Queue(queue).PopMany(ctx, n)
	}
	return w, nil
}

// Name is the worker's qless name (its client's worker name).
func (w *Worker) Name() string { return w.name }

// Registry returns the worker's registry of handlers.
func (w *Worker) Registry() *Registry { return w.reg }

// Handle registers h for jobs of class klass, wrapped in mw (see
// Registry.Handle).
func (w *Worker) Handle(klass string, h Handler, mw ...Middleware) { w.reg.Handle(klass, h, mw...) }

// HandleAny registers h for every class without a handler of its own.
func (w *Worker) HandleAny(h Handler, mw ...Middleware) { w.reg.HandleAny(h, mw...) }

// Use adds worker-wide middleware (see Registry.Use).
func (w *Worker) Use(mw ...Middleware) { w.reg.Use(mw...) }

// Stats are the worker's counters since New.
type Stats struct {
	// Popped counts the jobs popped.
	Popped int64
	// Completed, Failed and Retried count the jobs the worker completed,
	// failed, and gave back to their queues (Stop, or the Retry
	// middleware).
	Completed, Failed, Retried int64
	// Settled counts jobs their handler settled itself (ErrSettled),
	// Retried included.
	Settled int64
	// LockLost counts jobs dropped because their lock was lost or they were
	// canceled.
	LockLost int64
	// Killed counts jobs killed by KillRunning.
	Killed int64
	// Errors counts the calls that settle jobs (complete, fail, retry) and
	// the pops that failed.
	Errors int64
	// Heartbeats counts the heartbeats sent, successful or not.
	Heartbeats int64
}

type counters struct {
	popped, completed, failed, retried, settled, lockLost, killed, errors, heartbeats atomic.Int64
}

// Stats returns the worker's counters.
func (w *Worker) Stats() Stats {
	s := &w.stats
	return Stats{
		Popped: s.popped.Load(), Completed: s.completed.Load(), Failed: s.failed.Load(),
		Retried: s.retried.Load(), Settled: s.settled.Load(), LockLost: s.lockLost.Load(),
		Killed: s.killed.Load(), Errors: s.errors.Load(), Heartbeats: s.heartbeats.Load(),
	}
}

// Running returns the jids of the jobs running now.
func (w *Worker) Running() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.tasks))
	for jid := range w.tasks {
		out = append(out, jid)
	}
	slices.Sort(out)
	return out
}

// Paused reports whether the worker is paused (Pause).
func (w *Worker) Paused() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.paused
}

// notifyLocked wakes every fetcher. Callers hold mu.
func (w *Worker) notifyLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

func (w *Worker) poke() {
	w.mu.Lock()
	w.notifyLocked()
	w.mu.Unlock()
}

// Stop makes Run return now: it stops taking jobs and cancels the running
// ones with cause ErrStopped (see there). Jobs that a pop in flight at the
// stop brings are given back to their queues without running. Safe to
// call before Run and more than once.
func (w *Worker) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.stopped = true
	close(w.stopCh)
	for _, t := range w.tasks {
		t.cancel(ErrStopped)
	}
	w.notifyLocked()
}

// Drain makes the worker stop taking jobs and Run return once the running
// ones are done (qless QUIT).
func (w *Worker) Drain() {
	w.mu.Lock()
	w.draining = true
	w.mu.Unlock()
	w.poke()
}

// KillRunning kills the jobs running now (qless USR1): their contexts are
// canceled with cause ErrKilled (child processes are killed) and the jobs
// fail in group "<class>:killed". The worker carries on.
func (w *Worker) KillRunning() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.tasks {
		t.cancel(ErrKilled)
	}
	if n := len(w.tasks); n > 0 {
		w.log.Warn("killing running jobs", "jobs", n)
	}
}

// Pause makes the worker stop taking new jobs; running jobs go on.
func (w *Worker) Pause() {
	w.mu.Lock()
	w.paused = true
	w.mu.Unlock()
	w.log.Info("paused")
	w.poke()
}

// Resume undoes Pause.
func (w *Worker) Resume() {
	w.mu.Lock()
	w.paused = false
	w.mu.Unlock()
	w.log.Info("resumed")
	w.poke()
}

// DumpStacks writes the stacks of every goroutine of the process to
// Config.StackDump (os.Stderr by default).
func (w *Worker) DumpStacks() {
	out := w.cfg.StackDump
	if out == nil {
		out = os.Stderr
	}
	if err := pprof.Lookup("goroutine").WriteTo(out, 2); err != nil {
		w.log.Error("dump goroutine stacks", "error", err)
	}
}

// Run pops and runs jobs until ctx ends or Stop is called (it then stops at
// once, see Stop) or Drain is called (it returns once the running jobs are
// done). It returns nil after a clean stop, and an error when handlers did
// not return within Config.StopTimeout of being canceled.
//
// In a child process started by a ProcessPerJob worker, Run runs the one
// job the parent gave it and returns (see MaybeRunChild).
//
// Run may be called once.
func (w *Worker) Run(ctx context.Context) error {
	if IsChild() {
		return w.runChild(ctx)
	}
	w.mu.Lock()
	if w.started {
		w.mu.Unlock()
		return errors.New("worker: Run called twice")
	}
	w.started = true
	w.mu.Unlock()

	if w.cfg.HandleSignals {
		stop := w.HandleSignals(ctx)
		defer stop()
	}
	// Run's context ending is a Stop.
	ctxDone := context.AfterFunc(ctx, w.Stop)
	defer ctxDone()

	// fetchCtx ends StopTimeout after a Stop: a pop in flight at the stop
	// may finish (its jobs are given back at once) unless it hangs.
	fetchCtx, cancelFetch := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelFetch()
	go func() {
		select {
		case <-w.stopCh:
		case <-fetchCtx.Done():
			return
		}
		t := time.NewTimer(w.cfg.StopTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancelFetch()
		case <-fetchCtx.Done():
		}
	}()
	// The lock events are watched until every job is done.
	watchCtx, cancelWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWatch()
	watchDone := w.watchLocks(watchCtx)

	w.log.Info("worker started", "queues", w.cfg.Queues, "concurrency", w.cfg.Concurrency,
		"mode", w.cfg.Mode.String(), "fetchers", w.cfg.Fetchers)
	var fetchers sync.WaitGroup
	for range w.cfg.Fetchers {
		fetchers.Go(func() { w.fetchLoop(fetchCtx, context.WithoutCancel(ctx)) })
	}
	fetchers.Wait()
	close(w.fetched)
	if w.isDraining() {
		w.log.Info("draining: waiting for running jobs", "jobs", len(w.Running()))
	}

	err := w.wait()
	cancelFetch()
	cancelWatch()
	<-watchDone
	w.log.Info("worker stopped", "stats", w.Stats())
	return err
}

// wait waits for the running jobs: without bound while draining, at most
// StopTimeout once stopped.
func (w *Worker) wait() error {
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-w.stopCh:
	}
	select {
	case <-done:
		return nil
	case <-time.After(w.cfg.StopTimeout):
	}
	left := w.Running()
	w.log.Error("handlers did not return after stop", "jobs", left, "timeout", w.cfg.StopTimeout)
	return fmt.Errorf("worker: %d handlers did not return within %v of the stop: %v",
		len(left), w.cfg.StopTimeout, left)
}

func (w *Worker) isDraining() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.draining && !w.stopped
}

// fetchLoop pops jobs while there are free slots, until stop or drain.
// Config.Fetchers of them run at once, each popping at most its share of
// the slots, so that several pops can be in flight.
func (w *Worker) fetchLoop(ctx, runCtx context.Context) {
	share := (w.cfg.Concurrency + w.cfg.Fetchers - 1) / w.cfg.Fetchers
	// Timers are synchronous since Go 1.23: after Stop or Reset no stale
	// tick is received, so no draining is needed.
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	defer idle.Stop()
	for {
		w.mu.Lock()
		stopped, draining, paused := w.stopped, w.draining, w.paused
		n := min(w.cfg.Concurrency-len(w.tasks)-w.reserved, share)
		changed := w.changed
		if !stopped && !draining && !paused && n > 0 {
			w.reserved += n
		}
		w.mu.Unlock()
		if stopped || draining || ctx.Err() != nil {
			return
		}
		if paused || n <= 0 {
			select {
			case <-changed:
			case <-ctx.Done():
			}
			continue
		}
		jobs, err := w.cfg.Reserver.Reserve(ctx, w.cfg.Queues, n, w.pop)
		for _, j := range jobs {
			w.start(runCtx, j)
		}
		w.mu.Lock()
		w.reserved -= n
		if len(jobs) > 0 && len(jobs) < n {
			// Unused slots for the other fetchers. (Not after an empty
			// pop: idle fetchers would wake each other up.)
			w.notifyLocked()
		}
		changed = w.changed
		w.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			w.stats.errors.Add(1)
			w.log.Warn("pop failed", "error", err)
		}
		if len(jobs) > 0 && err == nil {
			continue
		}
		// Nothing to do (or an error): wait the idle interval, or for a
		// control change or a freed slot.
		idle.Reset(w.cfg.Interval)
		select {
		case <-idle.C:
		case <-changed:
			idle.Stop()
		case <-ctx.Done():
			idle.Stop()
		}
	}
}

// task is one running job.
type task struct {
	w      *Worker
	job    *client.Job
	ctx    context.Context
	cancel context.CancelCauseFunc
	start  time.Time
	// jid, klass and queue are the job's as popped (the handler may change
	// the job's fields).
	jid, klass, queue string

	hbMu      sync.Mutex
	hbStopped bool        // guarded by hbMu
	hbTimer   *time.Timer // guarded by hbMu
	hbJob     *client.Job // guarded by hbMu; a copy the heartbeats update
	hbEvery   time.Duration
	hbWG      sync.WaitGroup
}

// logger is the worker's logger with the job's attributes. (Made on use:
// most jobs log nothing.)
func (t *task) logger() *slog.Logger {
	return t.w.log.With("jid", t.jid, "klass", t.klass, "queue", t.queue)
}

// start runs a popped job in a goroutine.
func (w *Worker) start(runCtx context.Context, j *client.Job) {
	w.stats.popped.Add(1)
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(runCtx))
	t := &task{w: w, job: j, ctx: ctx, cancel: cancel, start: time.Now(), jid: j.JID, klass: j.Klass, queue: j.Queue}
	w.mu.Lock()
	if old := w.tasks[j.JID]; old != nil {
		// The same jid again: our earlier run lost the lock to ourselves.
		old.cancel(client.ErrLockLost)
	}
	w.tasks[j.JID] = t
	if w.stopped {
		t.cancel(ErrStopped)
	}
	w.wg.Add(1)
	w.mu.Unlock()
	go t.run()
}

// finish removes the task from the running set.
func (w *Worker) finish(t *task) {
	w.mu.Lock()
	if w.tasks[t.jid] == t {
		delete(w.tasks, t.jid)
	}
	w.notifyLocked()
	w.mu.Unlock()
	t.cancel(nil)
	w.wg.Done()
}

// lockLost cancels the running job jid with cause.
func (w *Worker) lockLost(jid string, cause error) {
	w.mu.Lock()
	t := w.tasks[jid]
	w.mu.Unlock()
	if t != nil {
		t.cancel(cause)
	}
}

func (t *task) run() {
	w := t.w
	defer w.finish(t)
	if errors.Is(context.Cause(t.ctx), ErrStopped) {
		// Popped by a pop in flight at the stop: given back unrun.
		w.settle(t, ErrStopped)
		return
	}
	if w.debug {
		t.logger().Debug("job started")
	}
	t.startHeartbeats()
	err := w.execute(t.ctx, t.job)
	t.stopHeartbeats()
	w.settle(t, err)
}

// execute runs the job's handler chain, catching panics.
func (w *Worker) execute(ctx context.Context, job *client.Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	e, ok := w.reg.lookup(job.Klass)
	if !ok {
		return &NoHandlerError{Klass: job.Klass}
	}
	if w.cfg.Mode == ProcessPerJob {
		return w.reg.wrapOuter(w.runInChild)(ctx, job)
	}
	return e.full(ctx, job)
}

// settle completes, fails or gives back the job after its handler returned.
func (w *Worker) settle(t *task, err error) {
	job, log := t.job, t.logger()
	elapsed := time.Since(t.start)
	cause := context.Cause(t.ctx)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), w.cfg.StopTimeout)
	defer cancel()
	var serr error
	switch {
	case errors.Is(err, ErrSettled):
		// (Checked first: a heartbeat that lands after the handler's own
		// Complete is refused, which cancels the task as if the lock were
		// lost, but the job went where the handler sent it.)
		w.stats.settled.Add(1)
		var re *RetriedError
		if errors.As(err, &re) {
			w.stats.retried.Add(1)
		}
		log.Info("job settled by its handler", "outcome", err, "elapsed", elapsed)
		return
	case errors.Is(cause, client.ErrLockLost):
		w.stats.lockLost.Add(1)
		log.Warn("job lost its lock; dropped", "cause", cause, "error", err, "elapsed", elapsed)
		return
	case errors.Is(cause, ErrKilled):
		w.stats.killed.Add(1)
		msg := "killed by the worker (KillRunning / SIGUSR1)"
		if err != nil {
			msg += ": " + err.Error()
		}
		serr = job.Fail(ctx, job.Klass+":killed", msg)
		if serr == nil {
			w.stats.failed.Add(1)
			log.Warn("job killed", "elapsed", elapsed)
		}
	case errors.Is(cause, ErrStopped) && err != nil:
		// A job given back while a pop is still in flight could be popped
		// again by that pop, and given back once more at the cost of
		// another retry: wait for the fetchers first (bounded by ctx).
		select {
		case <-w.fetched:
		case <-ctx.Done():
		}
		var left int
		left, serr = job.Retry(ctx)
		if serr == nil {
			w.stats.retried.Add(1)
			log.Info("job interrupted by the stop; given back to its queue", "error", err,
				"retries_left", left, "elapsed", elapsed)
		}
	case err == nil:
		_, serr = job.Complete(ctx)
		if serr == nil {
			w.stats.completed.Add(1)
			if w.debug {
				log.Debug("job completed", "elapsed", elapsed)
			}
		}
	default:
		group := Group(job.Klass, err)
		serr = job.Fail(ctx, group, err.Error())
		if serr == nil {
			w.stats.failed.Add(1)
			log.Warn("job failed", "group", group, "error", err, "elapsed", elapsed)
		}
	}
	if serr != nil {
		if errors.Is(serr, client.ErrLockLost) {
			w.stats.lockLost.Add(1)
			log.Warn("job lost its lock before it was settled", "error", serr, "elapsed", elapsed)
			return
		}
		w.stats.errors.Add(1)
		log.Error("settling the job failed", "error", serr, "handler_error", err, "elapsed", elapsed)
	}
}

// interval is the time between heartbeats of a lock that had ttl left when
// the job was popped.
func (w *Worker) interval(ttl time.Duration) time.Duration {
	if w.cfg.HeartbeatInterval > 0 {
		return w.cfg.HeartbeatInterval
	}
	return max(ttl/3, w.cfg.MinHeartbeatInterval)
}

func (t *task) startHeartbeats() {
	t.hbMu.Lock()
	defer t.hbMu.Unlock()
	cp := *t.job
	t.hbJob = &cp
	// The lock length is what the pop gave (heartbeat's reply is truncated
	// to whole seconds, too coarse to measure short locks).
	t.hbEvery = t.w.interval(cp.TTL())
	t.hbTimer = time.AfterFunc(t.hbEvery, t.beat)
}

// beat sends one heartbeat and schedules the next. Beats never overlap: the
// timer is re-armed only at the end of one.
func (t *task) beat() {
	t.hbMu.Lock()
	if t.hbStopped {
		t.hbMu.Unlock()
		return
	}
	t.hbWG.Add(1)
	job := t.hbJob
	t.hbMu.Unlock()
	defer t.hbWG.Done()

	w := t.w
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), max(t.hbEvery, time.Second))
	exp, err := job.Heartbeat(ctx)
	cancel()
	w.stats.heartbeats.Add(1)
	switch {
	case err == nil:
		if w.debug {
			t.logger().Debug("heartbeat", "expires", exp)
		}
	case errors.Is(err, client.ErrLockLost):
		t.logger().Warn("heartbeat refused: lock lost", "error", err)
		t.cancel(err)
		return
	default:
		t.logger().Warn("heartbeat failed; will try again", "error", err, "lock_left", job.TTL())
	}
	t.hbMu.Lock()
	if !t.hbStopped {
		t.hbTimer.Reset(t.hbEvery)
	}
	t.hbMu.Unlock()
}

// stopHeartbeats stops the heartbeats and waits for one in flight.
func (t *task) stopHeartbeats() {
	t.hbMu.Lock()
	t.hbStopped = true
	if t.hbTimer != nil {
		t.hbTimer.Stop()
	}
	t.hbMu.Unlock()
	t.hbWG.Wait()
}
