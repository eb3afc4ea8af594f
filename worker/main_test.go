package worker_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

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
	code := m.Run()
	if code == 0 {
		if left := lingering(10 * time.Second); left != "" {
			fmt.Fprintf(os.Stderr, "goroutines still running after the tests:\n%s\n", left)
			code = 1
		}
	}
	os.Exit(code)
}

func lingering(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var out []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "lingering") {
				continue
			}
			if strings.Contains(g, "qless-router/worker.") || strings.Contains(g, "qless-router/client.") {
				out = append(out, g)
			}
		}
		if len(out) == 0 || time.Now().After(deadline) {
			return strings.Join(out, "\n\n")
		}
		time.Sleep(20 * time.Millisecond) // polling the runtime, not waiting for a test event
	}
}

// testCtx is a context for one test step.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
