package conformance

import (
	"testing"

	"github.com/qless-router/qless-router/internal/redistest"
	"github.com/qless-router/qless-router/lua"
)

// TestSingleRedis runs the suite against one redis-server with the
// project's script: the reference the router suite must match.
func TestSingleRedis(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	Run(t, Target{Addr: s.Addr, Script: lua.Script()})
}
