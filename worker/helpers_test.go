package worker_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/internal/redistest"
	"github.com/qless-router/qless-router/worker"
)

// newClient returns a client of addrs under the worker name, closed at the
// end of the test.
func newClient(t testing.TB, name string, addrs ...string) *client.Client {
	t.Helper()
	cfg := client.DefaultLocalConfig()
	cfg.Addrs = addrs
	cfg.WorkerName = name
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// redisEnv is a fresh Redis with the lock length set to lock seconds, and
// a client to put and inspect jobs with.
type redisEnv struct {
	addr string
	c    *client.Client
}

func newRedisEnv(t *testing.T, lock int) *redisEnv {
	t.Helper()
	srv := redistest.Start(t)
	e := &redisEnv{addr: srv.Addr, c: newClient(t, "producer", srv.Addr)}
	if lock > 0 {
		if err := e.c.SetConfig(testCtx(t), "heartbeat", strconv.Itoa(lock)); err != nil {
			t.Fatalf("config.set heartbeat: %v", err)
		}
	}
	return e
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testLogger logs to the test's output when -v, else discards.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// running is a worker running in the background.
type running struct {
	w    *worker.Worker
	done chan error
}

// startWorker builds a worker on c with cfg (Queues and a local preset
// filled in by the caller), lets setup register handlers, and runs it until
// the end of the test.
func startWorker(t *testing.T, c *client.Client, cfg worker.Config, setup func(*worker.Worker)) *running {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	w, err := worker.New(c, cfg)
	if err != nil {
		t.Fatalf("worker.New: %v", err)
	}
	if setup != nil {
		setup(w)
	}
	r := &running{w: w, done: make(chan error, 1)}
	go func() { r.done <- w.Run(context.Background()) }()
	t.Cleanup(func() {
		w.Stop()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Errorf("worker %s did not stop", w.Name())
		}
	})
	return r
}

// wait waits for Run to return and returns its error.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("Run of %s did not return", r.w.Name())
		return nil
	}
}

// localConfig is DefaultLocalConfig on queues.
func localConfig(queues ...string) worker.Config {
	cfg := worker.DefaultLocalConfig()
	cfg.Queues = queues
	return cfg
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}

// never checks that cond stays false for d (a negative check has to take
// some time).
func never(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("%s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}

// jobOf fetches a job, failing the test on error.
func jobOf(t testing.TB, c *client.Client, jid string) *client.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	j, err := c.Job(ctx, jid)
	if err != nil {
		t.Fatalf("Job(%s): %v", jid, err)
	}
	return j
}

// stateIs returns a condition: job jid is in state.
func stateIs(t testing.TB, c *client.Client, jid, state string) func() bool {
	return func() bool { return jobOf(t, c, jid).State == state }
}

// put puts a job, failing the test on error.
func put(t testing.TB, c *client.Client, queue, klass string, data any, opts ...client.Option) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	jid, err := c.Queue(queue).Put(ctx, klass, data, opts...)
	if err != nil {
		t.Fatalf("Put(%s, %s): %v", queue, klass, err)
	}
	return jid
}

// gate is a handler that blocks until released or its context ends, and
// reports the jobs it started and the causes of their ends.
type gate struct {
	release chan struct{}
	started chan string
	mu      sync.Mutex
	causes  map[string]error // guarded by mu
	calls   atomic.Int64
}

func newGate() *gate {
	return &gate{release: make(chan struct{}), started: make(chan string, 100), causes: map[string]error{}}
}

func (g *gate) handle(ctx context.Context, job *client.Job) error {
	g.calls.Add(1)
	g.started <- job.JID
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		g.causes[job.JID] = context.Cause(ctx)
		g.mu.Unlock()
		return ctx.Err()
	}
}

func (g *gate) cause(jid string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.causes[jid]
}

// waitStarted waits for the handler to start a job and returns its jid.
func (g *gate) waitStarted(t testing.TB) string {
	t.Helper()
	select {
	case jid := <-g.started:
		return jid
	case <-time.After(20 * time.Second):
		t.Fatal("timed out waiting for a job to start")
		return ""
	}
}

var _ io.Writer = (*syncBuffer)(nil)
var _ = errors.New
