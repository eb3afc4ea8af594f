package client_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/internal/leaktest"
	"github.com/qless-router/qless-router/internal/redistest"
)

// TestMain fails the package when goroutines of the client outlive the
// tests (a Client or Listener not closed, or one that does not stop).
func TestMain(m *testing.M) {
	code := m.Run()
	stopExampleServer()
	os.Exit(leaktest.Verify(code, "qless-router/client."))
}

// clock is a settable clock for Config.Clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1700000000, 250000000)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is a client on a fresh Redis (the script is loaded by the client at
// its first call, on NOSCRIPT), with a settable clock.
type env struct {
	t     *testing.T
	addr  string
	clock *clock
	c     *client.Client
	ctx   context.Context
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := redistest.Start(t)
	e := &env{t: t, addr: srv.Addr, clock: newClock(), ctx: context.Background()}
	e.c = e.client("worker-1")
	return e
}

// client returns another client of the same Redis and clock.
func (e *env) client(worker string, mod ...func(*client.Config)) *client.Client {
	e.t.Helper()
	cfg := client.DefaultLocalConfig()
	cfg.Addrs = []string{e.addr}
	cfg.WorkerName = worker
	cfg.Clock = e.clock.Now
	for _, f := range mod {
		f(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		e.t.Fatalf("client.New: %v", err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// must returns v, or fails the test given to the function it returns:
// must(c.Job(ctx, jid))(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// qlessErr checks that err is an *client.Error whose message contains want.
func qlessErr(t *testing.T, err error, want string) *client.Error {
	t.Helper()
	var qe *client.Error
	if !errors.As(err, &qe) {
		t.Fatalf("error = %v (%T), want a *client.Error containing %q", err, err, want)
	}
	if !strings.Contains(qe.Message, want) {
		t.Fatalf("error message = %q, want it to contain %q", qe.Message, want)
	}
	return qe
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}
