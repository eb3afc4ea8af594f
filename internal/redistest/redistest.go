// Package redistest starts throwaway redis-server processes for tests.
//
// Each call gets its own process on a free loopback port, stopped by
// t.Cleanup. Tests are skipped nowhere: a missing redis-server fails the test
// with a message saying how to install it (the Makefile's test target does).
package redistest

import (
	"context"
	"testing"

	"github.com/qless-router/qless-router/internal/redisproc"
)

// Start runs a fresh redis-server for the duration of the test and returns
// its host:port address.
func Start(t testing.TB, extraArgs ...string) *redisproc.Server {
	t.Helper()
	s, err := redisproc.Start(context.Background(), redisproc.Config{Args: extraArgs})
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}
