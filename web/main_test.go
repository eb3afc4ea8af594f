package web_test

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package if goroutines of this package or of rueidis
// outlive the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitNoLeaks(10 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

var leakMarkers = []string{"qless-router/web.", "github.com/redis/rueidis"}

// waitNoLeaks polls until no goroutine matches leakMarkers, and returns the
// stacks of those still running at the deadline.
func waitNoLeaks(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		leaked := leakedGoroutines()
		if leaked == "" || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(20 * time.Millisecond) // polling the runtime, not waiting for a test event
	}
}

func leakedGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		s := string(g)
		if strings.Contains(s, "waitNoLeaks") || strings.Contains(s, "leakedGoroutines") || strings.Contains(s, "web_test.TestMain") {
			continue
		}
		for _, m := range leakMarkers {
			if strings.Contains(s, m) {
				out = append(out, s)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}
