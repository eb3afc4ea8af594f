package worker_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/worker"
)

// childAddrEnv gives a test child the Redis address of its test.
const childAddrEnv = "QLESS_WORKER_TEST_ADDR"

// childRegistry is the registry of the test children: what the handlers do
// is what their class says.
func childRegistry() *worker.Registry {
	reg := worker.NewRegistry()
	classMW := func(next worker.Handler) worker.Handler {
		return func(ctx context.Context, job *client.Job) error {
			fmt.Fprintf(os.Stderr, "class middleware in pid %d\n", os.Getpid())
			return next(ctx, job)
		}
	}
	reg.Handle("OK", func(ctx context.Context, job *client.Job) error {
		fmt.Printf("hello from the child of %s\n", job.JID)
		// The job is attached to the child's client: Log works.
		return job.Log(ctx, "ran in pid "+strconv.Itoa(os.Getpid()), nil)
	}, classMW)
	reg.Handle("Fail", func(ctx context.Context, job *client.Job) error {
		return fmt.Errorf("loading: %w", &fs.PathError{Op: "open", Path: "/nope", Err: fs.ErrNotExist})
	})
	reg.Handle("Crash", func(ctx context.Context, job *client.Job) error {
		fmt.Fprintln(os.Stderr, "about to crash")
		os.Exit(3)
		return nil
	})
	reg.Handle("Panic", func(ctx context.Context, job *client.Job) error {
		panic("child panic")
	})
	reg.Handle("Hang", func(ctx context.Context, job *client.Job) error {
		fmt.Fprintln(os.Stderr, "hanging")
		select {} // until killed
	})
	return reg
}

// runTestChild is the main of a child process of the ProcessPerJob tests.
func runTestChild() int {
	cfg := client.DefaultLocalConfig()
	cfg.Addrs = []string{os.Getenv(childAddrEnv)}
	c, err := client.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer c.Close()
	ran, err := worker.MaybeRunChild(context.Background(), c, childRegistry())
	if err != nil || !ran {
		fmt.Fprintln(os.Stderr, "child:", ran, err)
		return 1
	}
	return 0
}

func processConfig(addr string, stdout, stderr *syncBuffer, queues ...string) worker.Config {
	cfg := localConfig(queues...)
	cfg.Mode = worker.ProcessPerJob
	cfg.ChildArgs = []string{}
	// No 1 s sleep of the race detector at each child's exit.
	cfg.ChildEnv = []string{childAddrEnv + "=" + addr, "GORACE=atexit_sleep_ms=0"}
	cfg.ChildStdout, cfg.ChildStderr = stdout, stderr
	return cfg
}

func TestProcessPerJob(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	var stdout, stderr syncBuffer
	cfg := processConfig(e.addr, &stdout, &stderr, "q")
	cfg.Concurrency = 3
	var parentMW atomic.Int64
	r := startWorker(t, newClient(t, "w1", e.addr), cfg, func(w *worker.Worker) {
		// The parent needs the classes too (it fails a class it does not
		// know without starting a child).
		for _, k := range []string{"OK", "Fail", "Crash", "Panic"} {
			w.Handle(k, func(context.Context, *client.Job) error {
				panic("the parent must not run handlers in ProcessPerJob mode")
			})
		}
		w.Use(func(next worker.Handler) worker.Handler {
			return func(ctx context.Context, job *client.Job) error {
				parentMW.Add(1)
				return next(ctx, job)
			}
		})
	})
	ok1, ok2 := put(t, e.c, "q", "OK", nil), put(t, e.c, "q", "OK", nil)
	fail := put(t, e.c, "q", "Fail", nil)
	crash := put(t, e.c, "q", "Crash", nil)
	pan := put(t, e.c, "q", "Panic", nil)
	for _, jid := range []string{ok1, ok2} {
		waitFor(t, 20*time.Second, "OK job completed", stateIs(t, e.c, jid, core.StateComplete))
	}
	for _, jid := range []string{fail, crash, pan} {
		waitFor(t, 20*time.Second, "job "+jid+" failed", stateIs(t, e.c, jid, core.StateFailed))
	}
	// Each OK job ran in a process of its own, not this one.
	pids := map[string]bool{}
	for _, jid := range []string{ok1, ok2} {
		var pid string
		for _, h := range jobOf(t, e.c, jid).History {
			if p, ok := strings.CutPrefix(h.What, "ran in pid "); ok {
				pid = p
			}
		}
		if pid == "" || pid == strconv.Itoa(os.Getpid()) || pids[pid] {
			t.Errorf("job %s ran in pid %q; want a child of its own (this is %d, others %v)", jid, pid, os.Getpid(), pids)
		}
		pids[pid] = true
		if !strings.Contains(stdout.String(), "hello from the child of "+jid) {
			t.Errorf("child stdout %q lacks the line of %s", stdout.String(), jid)
		}
	}
	if n := strings.Count(stderr.String(), "class middleware in pid"); n != 2 {
		t.Errorf("class middleware ran %d times in children, want 2; stderr:\n%s", n, stderr.String())
	}
	if n := parentMW.Load(); n != 5 {
		t.Errorf("worker-wide middleware ran %d times in the parent, want 5", n)
	}
	f := jobOf(t, e.c, fail).Failure
	if f.Group != "Fail:*fs.PathError" || f.Message != "loading: open /nope: file does not exist" {
		t.Errorf("failure of Fail = %+v, want the child's error type and text", f)
	}
	f = jobOf(t, e.c, crash).Failure
	if f.Group != "Crash:crashed" || !strings.Contains(f.Message, "exit status 3") || !strings.Contains(f.Message, "about to crash") {
		t.Errorf("failure of Crash = %+v, want group Crash:crashed with the exit status and stderr tail", f)
	}
	f = jobOf(t, e.c, pan).Failure
	if f.Group != "Panic:panic" || !strings.Contains(f.Message, "panic: child panic") || !strings.Contains(f.Message, "goroutine") {
		t.Errorf("failure of Panic = %+v, want group Panic:panic with the stack", f)
	}
	// The worker counts an outcome once the server's reply is back, which
	// may be just after the server shows it.
	waitFor(t, 10*time.Second, "the worker to count the outcomes", func() bool { s := r.w.Stats(); return s.Completed+s.Failed >= 5 })
	if s := r.w.Stats(); s.Completed != 2 || s.Failed != 3 {
		t.Errorf("Stats = %+v, want 2 completed and 3 failed", s)
	}
}

func TestProcessPerJobKillsTheChild(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	var stdout, stderr syncBuffer
	cfg := processConfig(e.addr, &stdout, &stderr, "q")
	r := startWorker(t, newClient(t, "w1", e.addr), cfg, func(w *worker.Worker) {
		w.Handle("Hang", func(context.Context, *client.Job) error { return nil })
	})
	// A lost lock kills the child and leaves the job alone.
	lost := put(t, e.c, "q", "Hang", nil)
	waitFor(t, 20*time.Second, "child hanging", func() bool { return strings.Count(stderr.String(), "hanging") == 1 })
	if err := e.c.Timeout(testCtx(t), lost); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "lock loss handled", func() bool { return r.w.Stats().LockLost == 1 })
	// The stalled job is popped again by the same worker: kill it.
	waitFor(t, 20*time.Second, "child hanging again", func() bool { return strings.Count(stderr.String(), "hanging") == 2 })
	r.w.KillRunning()
	waitFor(t, 20*time.Second, "killed job failed", stateIs(t, e.c, lost, core.StateFailed))
	if f := jobOf(t, e.c, lost).Failure; f.Group != "Hang:killed" {
		t.Errorf("failure %+v, want group Hang:killed", f)
	}
}
