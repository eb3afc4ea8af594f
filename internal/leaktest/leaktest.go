// Package leaktest checks, at the end of a test binary, that no goroutine of
// the code under test outlived the tests. A package's TestMain calls
//
//	os.Exit(leaktest.Verify(m.Run(), "qless-router/shard.", "github.com/redis/rueidis"))
//
// where the markers are substrings of the stacks that count as leaks
// (function names of the package under test and of the libraries it owns).
package leaktest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Timeout is how long Verify lets goroutines finish winding down.
const Timeout = 10 * time.Second

// Verify returns code unchanged, or 1 when the tests passed (code 0) but
// goroutines matching markers are still running after Timeout; it prints
// their stacks to stderr.
func Verify(code int, markers ...string) int {
	if code != 0 {
		return code
	}
	if left := Check(Timeout, markers...); left != "" {
		fmt.Fprintf(os.Stderr, "goroutines still running after the tests:\n%s\n", left)
		return 1
	}
	return code
}

// Check polls until no goroutine's stack contains one of markers and
// returns "" then, or the stacks still matching at the deadline.
func Check(timeout time.Duration, markers ...string) string {
	deadline := time.Now().Add(timeout)
	for {
		left := matching(markers)
		if left == "" || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond) // polling the runtime, not waiting for a test event
	}
}

// matching returns the stacks of the goroutines (other than the caller)
// that contain one of markers.
func matching(markers []string) string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "internal/leaktest.matching(") {
			continue // the goroutine checking
		}
		for _, m := range markers {
			if strings.Contains(g, m) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}
