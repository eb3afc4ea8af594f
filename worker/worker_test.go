package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/worker"
)

func TestRunsAndCompletesJobs(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	var mu sync.Mutex
	seen := map[string]int{}
	cfg := localConfig("q")
	cfg.Concurrency = 4
	r := startWorker(t, newClient(t, "w1", e.addr), cfg, func(w *worker.Worker) {
		w.Handle("Count", func(ctx context.Context, job *client.Job) error {
			var d struct{ N int }
			if err := job.Decode(&d); err != nil {
				return err
			}
			mu.Lock()
			seen[job.JID] = d.N
			mu.Unlock()
			return nil
		})
	})
	var jids []string
	for i := range 20 {
		jids = append(jids, put(t, e.c, "q", "Count", map[string]int{"N": i}))
	}
	waitFor(t, 20*time.Second, "20 jobs completed", func() bool { return r.w.Stats().Completed == 20 })
	for i, jid := range jids {
		j := jobOf(t, e.c, jid)
		if j.State != core.StateComplete {
			t.Errorf("job %s state %q, want complete", jid, j.State)
		}
		mu.Lock()
		if seen[jid] != i {
			t.Errorf("handler saw job %s with N=%d, want %d", jid, seen[jid], i)
		}
		mu.Unlock()
	}
	if s := r.w.Stats(); s.Popped != 20 || s.Failed != 0 || s.Errors != 0 {
		t.Errorf("Stats = %+v, want 20 popped, no failure or error", s)
	}
}

func TestHandlerErrorFailsTheJobInItsTypesGroup(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	startWorker(t, newClient(t, "w1", e.addr), localConfig("q"), func(w *worker.Worker) {
		w.Handle("Open", func(ctx context.Context, job *client.Job) error {
			return fmt.Errorf("reading config: %w", &fs.PathError{Op: "open", Path: "/etc/x", Err: fs.ErrNotExist})
		})
		w.Handle("Panic", func(ctx context.Context, job *client.Job) error {
			panic("kaboom")
		})
	})
	open := put(t, e.c, "q", "Open", nil)
	pan := put(t, e.c, "q", "Panic", nil)
	orphan := put(t, e.c, "q", "Nobody", nil)
	for _, jid := range []string{open, pan, orphan} {
		waitFor(t, 10*time.Second, "job "+jid+" failed", stateIs(t, e.c, jid, core.StateFailed))
	}
	f := jobOf(t, e.c, open).Failure
	if f.Group != "Open:*fs.PathError" || f.Message != "reading config: open /etc/x: file does not exist" || f.Worker != "w1" {
		t.Errorf("failure of Open = %+v, want group Open:*fs.PathError with the error text, by w1", f)
	}
	f = jobOf(t, e.c, pan).Failure
	if f.Group != "Panic:panic" || !strings.HasPrefix(f.Message, "panic: kaboom\n\n") ||
		!strings.Contains(f.Message, "worker_test.TestHandlerErrorFailsTheJobInItsTypesGroup") {
		t.Errorf("failure of Panic = %+v, want group Panic:panic with the value and the stack", f)
	}
	f = jobOf(t, e.c, orphan).Failure
	if f.Group != "Nobody:no-handler" {
		t.Errorf("failure of a class without handler = %+v, want group Nobody:no-handler", f)
	}
}

func TestHeartbeatsKeepTheLock(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 1) // a 1 s lock: heartbeats every ~333 ms
	g := newGate()
	r := startWorker(t, newClient(t, "w1", e.addr), localConfig("q"), func(w *worker.Worker) {
		w.Handle("Slow", g.handle)
	})
	jid := put(t, e.c, "q", "Slow", nil)
	g.waitStarted(t)
	first := jobOf(t, e.c, jid).Expires
	// Several lock lengths pass; the heartbeats keep moving the expiry on.
	waitFor(t, 10*time.Second, "5 heartbeats", func() bool { return r.w.Stats().Heartbeats >= 5 })
	j := jobOf(t, e.c, jid)
	if j.State != core.StateRunning || j.Worker != "w1" || j.Expires <= first+1 {
		t.Errorf("after 5 heartbeats: state %q worker %q expires %v (first %v); want still running for w1 with a later expiry",
			j.State, j.Worker, j.Expires, first)
	}
	// Another worker finds nothing to take, even after the first lock
	// length is long gone.
	other := newClient(t, "w2", e.addr)
	if got, err := other.Queue("q").Pop(testCtx(t)); err != nil || got != nil {
		t.Errorf("Pop by w2 = %v, %v; want nothing", got, err)
	}
	close(g.release)
	waitFor(t, 10*time.Second, "job completed", stateIs(t, e.c, jid, core.StateComplete))
	// The worker counts the completion once the reply is back, which may be
	// just after the server shows it.
	waitFor(t, 10*time.Second, "the worker to count the completion", func() bool { return r.w.Stats().Completed == 1 })
	if s := r.w.Stats(); s.LockLost != 0 || s.Completed != 1 {
		t.Errorf("Stats = %+v, want 1 completed and no lock lost", s)
	}
}

func TestLockLostCancelsTheJob(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	g := newGate()
	cfg := localConfig("q")
	cfg.Concurrency = 3
	// A worker of the same name as the producer: its re-put sends no
	// lock_lost event, the next heartbeat is refused instead.
	cfg.HeartbeatInterval = 50 * time.Millisecond
	wc := newClient(t, "w1", e.addr)
	r := startWorker(t, wc, cfg, func(w *worker.Worker) { w.Handle("Slow", g.handle) })
	timedOut := put(t, e.c, "q", "Slow", nil)
	canceled := put(t, e.c, "q", "Slow", nil)
	reput := put(t, e.c, "q", "Slow", nil)
	for range 3 {
		g.waitStarted(t)
	}
	ctx := testCtx(t)
	// timeout publishes lock_lost on ql:w:w1.
	if err := e.c.Timeout(ctx, timedOut); err != nil {
		t.Fatal(err)
	}
	// cancel publishes canceled on ql:w:w1.
	if err := e.c.Cancel(ctx, canceled); err != nil {
		t.Fatal(err)
	}
	// A put by w1 itself: no event; the heartbeat is refused.
	if _, err := wc.Queue("other").Put(ctx, "Slow", nil, client.WithJID(reput)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "3 jobs dropped", func() bool { return r.w.Stats().LockLost == 3 })
	if c := g.cause(timedOut); !errors.Is(c, client.ErrLockLost) || !strings.Contains(c.Error(), "lock_lost event") {
		t.Errorf("cause of the timed-out job = %v, want a lock_lost event matching client.ErrLockLost", c)
	}
	if c := g.cause(canceled); !errors.Is(c, worker.ErrJobCanceled) || !errors.Is(c, client.ErrLockLost) {
		t.Errorf("cause of the canceled job = %v, want ErrJobCanceled", c)
	}
	var qe *client.Error
	if c := g.cause(reput); !errors.As(c, &qe) || qe.Command != "heartbeat" || !errors.Is(c, client.ErrLockLost) {
		t.Errorf("cause of the re-put job = %v, want the refused heartbeat", c)
	}
	// None was completed or failed by the worker. (The timed-out job is
	// back in the queue, stalled, and may have been popped again.)
	if j := jobOf(t, e.c, timedOut); j.State != core.StateStalled && j.State != core.StateRunning {
		t.Errorf("timed-out job state %q, want stalled or running again (left alone)", j.State)
	}
	if j := jobOf(t, e.c, reput); j.State != core.StateWaiting || j.Queue != "other" {
		t.Errorf("re-put job state %q in %q, want waiting in other", j.State, j.Queue)
	}
	if s := r.w.Stats(); s.Completed != 0 || s.Failed != 0 {
		t.Errorf("Stats = %+v, want nothing completed or failed", s)
	}
}

func TestStopGivesRunningJobsBack(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	g := newGate()
	r := startWorker(t, newClient(t, "w1", e.addr), localConfig("q"), func(w *worker.Worker) {
		w.Handle("Slow", g.handle)
	})
	jid := put(t, e.c, "q", "Slow", nil)
	g.waitStarted(t)
	r.w.Stop()
	if err := r.wait(t); err != nil {
		t.Fatalf("Run after Stop = %v", err)
	}
	j := jobOf(t, e.c, jid)
	if j.State != core.StateWaiting || j.Remaining != 4 {
		t.Errorf("job after Stop: state %q remaining %d, want waiting with 4 retries left", j.State, j.Remaining)
	}
	if !errors.Is(g.cause(jid), worker.ErrStopped) {
		t.Errorf("cause = %v, want ErrStopped", g.cause(jid))
	}
}

func TestRunContextEndStops(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	w, err := worker.New(newClient(t, "w1", e.addr), localConfig("q"))
	if err != nil {
		t.Fatal(err)
	}
	w.Handle("K", func(context.Context, *client.Job) error { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	jid := put(t, e.c, "q", "K", nil)
	waitFor(t, 10*time.Second, "job completed", stateIs(t, e.c, jid, core.StateComplete))
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v after its context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if err := w.Run(context.Background()); err == nil {
		t.Errorf("second Run = nil, want an error")
	}
}

func TestStopTimeoutWithAStubbornHandler(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	release := make(chan struct{})
	defer close(release)
	cfg := localConfig("q")
	cfg.StopTimeout = 200 * time.Millisecond
	started := make(chan struct{}, 1)
	r := startWorker(t, newClient(t, "w1", e.addr), cfg, func(w *worker.Worker) {
		w.Handle("Stubborn", func(ctx context.Context, job *client.Job) error {
			started <- struct{}{}
			<-release // ignores ctx
			return nil
		})
	})
	jid := put(t, e.c, "q", "Stubborn", nil)
	<-started
	r.w.Stop()
	err := r.wait(t)
	if err == nil || !strings.Contains(err.Error(), jid) {
		t.Errorf("Run = %v, want an error naming the job %s still running", err, jid)
	}
}

func TestDrainFinishesRunningJobsAndTakesNoMore(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	g := newGate()
	r := startWorker(t, newClient(t, "w1", e.addr), localConfig("q"), func(w *worker.Worker) {
		w.Handle("Slow", g.handle)
	})
	first := put(t, e.c, "q", "Slow", nil)
	g.waitStarted(t)
	r.w.Drain()
	second := put(t, e.c, "q", "Slow", nil)
	close(g.release)
	if err := r.wait(t); err != nil {
		t.Fatalf("Run after Drain = %v", err)
	}
	if j := jobOf(t, e.c, first); j.State != core.StateComplete {
		t.Errorf("running job after Drain: state %q, want complete", j.State)
	}
	if j := jobOf(t, e.c, second); j.State != core.StateWaiting {
		t.Errorf("job put after Drain: state %q, want waiting (not taken)", j.State)
	}
}

func TestKillRunningFailsTheJobsAndCarriesOn(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	g := newGate()
	cfg := localConfig("q")
	cfg.Concurrency = 2
	r := startWorker(t, newClient(t, "w1", e.addr), cfg, func(w *worker.Worker) {
		w.Handle("Slow", g.handle)
		w.Handle("Quick", func(context.Context, *client.Job) error { return nil })
	})
	a, b := put(t, e.c, "q", "Slow", nil), put(t, e.c, "q", "Slow", nil)
	g.waitStarted(t)
	g.waitStarted(t)
	r.w.KillRunning()
	for _, jid := range []string{a, b} {
		waitFor(t, 10*time.Second, "killed job failed", stateIs(t, e.c, jid, core.StateFailed))
		if f := jobOf(t, e.c, jid).Failure; f.Group != "Slow:killed" {
			t.Errorf("killed job failure %+v, want group Slow:killed", f)
		}
	}
	quick := put(t, e.c, "q", "Quick", nil)
	waitFor(t, 10*time.Second, "a later job completed", stateIs(t, e.c, quick, core.StateComplete))
	if s := r.w.Stats(); s.Killed != 2 {
		t.Errorf("Stats.Killed = %d, want 2", s.Killed)
	}
}

func TestPauseAndResume(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	var reserves, inFlight atomic.Int64
	cfg := localConfig("q")
	cfg.Reserver = worker.ReserverFunc(func(ctx context.Context, queues []string, n int, pop worker.PopFunc) ([]*client.Job, error) {
		reserves.Add(1)
		inFlight.Add(1)
		defer inFlight.Add(-1)
		return worker.Ordered().Reserve(ctx, queues, n, pop)
	})
	r := startWorker(t, newClient(t, "w1", e.addr), cfg, func(w *worker.Worker) {
		w.Handle("K", func(context.Context, *client.Job) error { return nil })
	})
	waitFor(t, 10*time.Second, "a first pop", func() bool { return reserves.Load() > 0 })
	r.w.Pause()
	if !r.w.Paused() {
		t.Fatal("Paused() = false after Pause")
	}
	// A pop in flight at the Pause may still end (and take a job, as qless's
	// pause lets the current reservation finish); wait for it, then no new
	// reservation may start.
	waitFor(t, 10*time.Second, "the pop in flight at the pause to end", func() bool { return inFlight.Load() == 0 })
	base := reserves.Load()
	jid := put(t, e.c, "q", "K", nil)
	never(t, 300*time.Millisecond, "the paused worker popped", func() bool {
		return reserves.Load() > base || jobOf(t, e.c, jid).State != core.StateWaiting
	})
	r.w.Resume()
	waitFor(t, 10*time.Second, "job completed after Resume", stateIs(t, e.c, jid, core.StateComplete))
}

func TestRetryMiddlewareGivesJobsBackUntilTheySucceed(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	var attempts atomic.Int64
	r := startWorker(t, newClient(t, "w1", e.addr), localConfig("q"), func(w *worker.Worker) {
		w.Use(worker.Retry(worker.ConstantBackoff(0)))
		w.Handle("Flaky", func(ctx context.Context, job *client.Job) error {
			if attempts.Add(1) < 3 {
				return errors.New("not yet")
			}
			return nil
		})
		w.Handle("Broken", func(ctx context.Context, job *client.Job) error {
			return errors.New("never")
		})
	})
	flaky := put(t, e.c, "q", "Flaky", nil)
	broken := put(t, e.c, "q", "Broken", nil, client.WithRetries(2))
	waitFor(t, 10*time.Second, "flaky job completed", stateIs(t, e.c, flaky, core.StateComplete))
	waitFor(t, 10*time.Second, "broken job failed", stateIs(t, e.c, broken, core.StateFailed))
	if f := jobOf(t, e.c, broken).Failure; f.Group != "Broken:*errors.errorString" || f.Message != "never" {
		t.Errorf("broken job failure %+v, want its own group and message once retries ran out", f)
	}
	if s := r.w.Stats(); s.Retried != 4 {
		t.Errorf("Stats.Retried = %d, want 4 (2 flaky, 2 broken)", s.Retried)
	}
}

func TestHandlerThatSettlesTheJobItself(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	r := startWorker(t, newClient(t, "w1", e.addr), localConfig("q"), func(w *worker.Worker) {
		w.Handle("Step", func(ctx context.Context, job *client.Job) error {
			if _, err := job.Complete(ctx, client.WithNext("next")); err != nil {
				return err
			}
			return worker.ErrSettled
		})
	})
	jid := put(t, e.c, "q", "Step", nil)
	waitFor(t, 10*time.Second, "job moved", func() bool { return jobOf(t, e.c, jid).Queue == "next" })
	j := jobOf(t, e.c, jid)
	if j.State != core.StateWaiting {
		t.Errorf("moved job state %q, want waiting", j.State)
	}
	waitFor(t, 10*time.Second, "settled counted", func() bool { return r.w.Stats().Settled == 1 })
	if s := r.w.Stats(); s.Completed != 0 || s.Errors != 0 {
		t.Errorf("Stats = %+v, want no completion by the worker and no error", s)
	}
}

func TestClassMiddlewareAndReserverAcrossQueues(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	var mu sync.Mutex
	var order []string
	tagged := func(next worker.Handler) worker.Handler {
		return func(ctx context.Context, job *client.Job) error {
			mu.Lock()
			order = append(order, job.Queue)
			mu.Unlock()
			return next(ctx, job)
		}
	}
	// Jobs in both queues before the worker starts: round robin takes
	// them alternately.
	for range 3 {
		put(t, e.c, "a", "K", nil)
		put(t, e.c, "b", "K", nil)
	}
	cfg := localConfig("a", "b")
	cfg.Reserver = worker.RoundRobin()
	r := startWorker(t, newClient(t, "w1", e.addr), cfg, func(w *worker.Worker) {
		w.Handle("K", func(context.Context, *client.Job) error { return nil }, tagged)
	})
	waitFor(t, 10*time.Second, "6 jobs completed", func() bool { return r.w.Stats().Completed == 6 })
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(order, ","); got != "a,b,a,b,a,b" {
		t.Errorf("queues in the order run = %s, want a,b,a,b,a,b", got)
	}
}

func TestJobsOfAPopInFlightAtStopAreGivenBack(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	jid := put(t, e.c, "q", "K", nil)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cfg := localConfig("q")
	cfg.Reserver = worker.ReserverFunc(func(ctx context.Context, queues []string, n int, pop worker.PopFunc) ([]*client.Job, error) {
		once.Do(func() { close(entered) })
		<-release
		return pop(ctx, queues[0], n)
	})
	var ran atomic.Bool
	r := startWorker(t, newClient(t, "w1", e.addr), cfg, func(w *worker.Worker) {
		w.Handle("K", func(context.Context, *client.Job) error { ran.Store(true); return nil })
	})
	<-entered
	r.w.Stop()
	close(release)
	if err := r.wait(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if ran.Load() {
		t.Errorf("the handler ran a job popped after the stop")
	}
	if j := jobOf(t, e.c, jid); j.State != core.StateWaiting || j.Worker != "w1" && j.Worker != "" {
		t.Errorf("job popped after the stop: state %q worker %q, want waiting again", j.State, j.Worker)
	}
}

func TestConcurrencyLimitWithSeveralFetchers(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	var mu sync.Mutex
	runs := map[string]int{}
	var now, peak atomic.Int64
	cfg := localConfig("q")
	cfg.Concurrency = 6
	cfg.Fetchers = 3
	r := startWorker(t, newClient(t, "w1", e.addr), cfg, func(w *worker.Worker) {
		w.Handle("K", func(ctx context.Context, job *client.Job) error {
			n := now.Add(1)
			defer now.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			mu.Lock()
			runs[job.JID]++
			mu.Unlock()
			// Yield so that jobs overlap.
			select {
			case <-ctx.Done():
			case <-time.After(time.Millisecond):
			}
			return nil
		})
	})
	for range 100 {
		put(t, e.c, "q", "K", nil)
	}
	waitFor(t, 20*time.Second, "100 jobs completed", func() bool { return r.w.Stats().Completed == 100 })
	mu.Lock()
	defer mu.Unlock()
	for jid, n := range runs {
		if n != 1 {
			t.Errorf("job %s ran %d times", jid, n)
		}
	}
	if len(runs) != 100 {
		t.Errorf("%d jobs ran, want 100", len(runs))
	}
	if p := peak.Load(); p > 6 {
		t.Errorf("%d handlers ran at once, want at most Concurrency = 6", p)
	}
}

// A handler that settles its job itself (here: completes it into another
// queue) and is then told the lock is lost (a heartbeat after its own
// Complete is refused) is counted as settled, not as a lost lock.
func TestSettledBeforeLockLostCountsAsSettled(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	cfg := localConfig("q")
	cfg.HeartbeatInterval = 20 * time.Millisecond
	var heardLoss atomic.Bool
	r := startWorker(t, newClient(t, "w1", e.addr), cfg, func(w *worker.Worker) {
		w.Handle("Move", func(ctx context.Context, job *client.Job) error {
			if _, err := job.Complete(ctx, client.WithNext("q2")); err != nil {
				return err
			}
			select { // the next heartbeat is refused: the job is not ours now
			case <-ctx.Done():
				heardLoss.Store(errors.Is(context.Cause(ctx), client.ErrLockLost))
			case <-time.After(5 * time.Second):
			}
			return fmt.Errorf("moved to q2: %w", worker.ErrSettled)
		})
	})
	jid := put(t, e.c, "q", "Move", nil)
	waitFor(t, 10*time.Second, "the worker to count the job", func() bool {
		s := r.w.Stats()
		return s.Settled+s.LockLost > 0
	})
	if !heardLoss.Load() {
		t.Fatal("the handler was not canceled by the refused heartbeat; the test proves nothing")
	}
	if s := r.w.Stats(); s.Settled != 1 || s.LockLost != 0 {
		t.Errorf("Stats = %+v, want 1 settled and no lock lost", s)
	}
	if j := jobOf(t, e.c, jid); j.State != core.StateWaiting || j.Queue != "q2" {
		t.Errorf("job = %s in %s, want waiting in q2", j.State, j.Queue)
	}
}

// A job given back at a stop is not popped again by a pop that was in
// flight at the stop: the give-back waits for the fetchers, so the job
// costs one retry, not two.
func TestStopGivesBackAfterPopsInFlight(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	g := newGate()
	var running atomic.Bool // the job's handler has started
	stopped := make(chan struct{})
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(stopped) }) })
	var inFlight atomic.Bool
	cfg := localConfig("q")
	cfg.Concurrency = 2
	var jid string
	cfg.Reserver = worker.ReserverFunc(func(ctx context.Context, queues []string, n int, pop worker.PopFunc) ([]*client.Job, error) {
		if running.Load() {
			// This pop is in flight at the stop. It reaches the server once
			// the running job is back in its queue, if the worker gives it
			// back while pops are in flight (the bug), or after a bound
			// (below StopTimeout, which the give-back must fit in).
			inFlight.Store(true)
			<-stopped
			deadline := time.Now().Add(cfg.StopTimeout / 2)
			for time.Now().Before(deadline) && jobOf(t, e.c, jid).State != core.StateWaiting {
				time.Sleep(5 * time.Millisecond) // polling a condition, bounded
			}
		}
		return pop(ctx, queues[0], n)
	})
	r := startWorker(t, newClient(t, "w1", e.addr), cfg, func(w *worker.Worker) {
		w.Handle("Slow", func(ctx context.Context, job *client.Job) error {
			running.Store(true)
			return g.handle(ctx, job)
		})
	})
	jid = put(t, e.c, "q", "Slow", nil)
	g.waitStarted(t)
	waitFor(t, 10*time.Second, "a pop in flight", inFlight.Load)
	r.w.Stop()
	release.Do(func() { close(stopped) })
	if err := r.wait(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if j := jobOf(t, e.c, jid); j.State != core.StateWaiting || j.Remaining != 4 {
		t.Errorf("job after the stop: %s with %d retries left, want waiting with 4 (given back once)", j.State, j.Remaining)
	}
	if s := r.w.Stats(); s.Popped != 1 || s.Retried != 1 {
		t.Errorf("Stats = %+v, want the job popped and given back once", s)
	}
}
