package web_test

import (
	"os"
	"testing"

	"github.com/qless-router/qless-router/internal/leaktest"
)

// TestMain fails the package if goroutines of this package or of rueidis
// outlive the tests.
func TestMain(m *testing.M) {
	os.Exit(leaktest.Verify(m.Run(), "qless-router/web.", "github.com/redis/rueidis"))
}
