package conformance

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package when goroutines of the suite or of the
// redis-server helpers outlive the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if left := lingering(10 * time.Second); left != "" {
			fmt.Fprintf(os.Stderr, "goroutines still running after the tests:\n%s\n", left)
			code = 1
		}
	}
	os.Exit(code)
}

// lingering polls the runtime until no goroutine of ours is left and returns
// the stacks of those still there at the deadline.
func lingering(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		left := ourGoroutines()
		if left == "" || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond) // polling the runtime, not waiting for a test event
	}
}

func ourGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "ourGoroutines") {
			continue
		}
		if strings.Contains(g, "internal/conformance.") || strings.Contains(g, "internal/redisproc.") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
