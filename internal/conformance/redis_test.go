package conformance

import (
	"fmt"
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

// TestSingleRedisNamedQueues runs the suite with queue names from
// Target.Queues, including characters JSON escapes, as a router suite would.
func TestSingleRedisNamedQueues(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	Run(t, Target{
		Addr:   s.Addr,
		Script: lua.Script(),
		Queues: func(n int) []string {
			qs := make([]string, n)
			for i := range qs {
				qs[i] = fmt.Sprintf("jobs/%c é", 'a'+i)
			}
			return qs
		},
	})
}
