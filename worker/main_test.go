package worker_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/qless-router/qless-router/internal/leaktest"
	"github.com/qless-router/qless-router/worker"
)

// TestMain runs, in a child process started by a ProcessPerJob worker of
// these tests, that one job (runTestChild); in a process started by the
// signal tests, a whole worker (runSignalWorker). Otherwise it runs the
// tests and fails the package when goroutines of the worker or the client
// outlive them.
func TestMain(m *testing.M) {
	if worker.IsChild() {
		os.Exit(runTestChild())
	}
	if os.Getenv(signalWorkerEnv) != "" {
		os.Exit(runSignalWorker())
	}
	os.Exit(leaktest.Verify(m.Run(), "qless-router/worker.", "qless-router/client."))
}

// testCtx is a context for one test step.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
