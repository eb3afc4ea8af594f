package devcluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/qless-router/qless-router/internal/conformance"
	"github.com/qless-router/qless-router/lua"
)

func startCluster(t *testing.T, shards, routers int) *Cluster {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Shards, cfg.Routers = shards, routers
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("devcluster.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

// queuesOn returns a Queues function for the conformance suite that names
// queues owned by the shards that pick chooses for the i-th queue.
func queuesOn(t *testing.T, c *Cluster, pick func(i int) string) func(n int) []string {
	return func(n int) []string {
		r := c.Nodes[0].Router
		out := make([]string, 0, n)
		for i, k := 0, 0; len(out) < n; k++ {
			if k > 100000 {
				t.Fatalf("no queue name found on shard %s", pick(i))
			}
			name := fmt.Sprintf("queue-%d", k)
			owner, err := r.Locate(name)
			if err != nil {
				t.Fatal(err)
			}
			if owner == pick(i) {
				out = append(out, name)
				i++
			}
		}
		return out
	}
}

// TestConformanceThroughRouters runs the whole conformance suite of a single
// Redis, unchanged, through one router of a 3-router, 3-shard cluster. The
// suite's own single-queue names land on whatever shard owns them; its
// multi-queue cases get queues of one shard (moves between shards are the
// cross-shard protocol's business).
func TestConformanceThroughRouters(t *testing.T) {
	c := startCluster(t, 3, 3)
	conformance.Run(t, conformance.Target{
		Addr:   c.RESPAddrs()[1],
		Script: lua.Script(),
		Queues: queuesOn(t, c, func(int) string { return c.ShardNames[2] }),
	})
}
