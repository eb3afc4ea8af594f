package conformance

import (
	"os"
	"testing"

	"github.com/qless-router/qless-router/internal/leaktest"
)

// TestMain fails the package when goroutines of the suite or of the
// redis-server helpers outlive the tests.
func TestMain(m *testing.M) {
	os.Exit(leaktest.Verify(m.Run(), "internal/conformance.", "internal/redisproc."))
}
