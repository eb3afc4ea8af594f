package shard

import (
	"os"
	"testing"

	"github.com/qless-router/qless-router/internal/leaktest"
)

// TestMain fails the package if goroutines of this package or of rueidis
// outlive the tests.
func TestMain(m *testing.M) {
	os.Exit(leaktest.Verify(m.Run(), "qless-router/shard.", "github.com/redis/rueidis"))
}
