package client_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/internal/devcluster"
	"github.com/qless-router/qless-router/internal/redistest"
)

// BenchmarkLifecycle measures put + pop + complete of one job, from
// parallel goroutines sharing one client, straight on one Redis.
func BenchmarkLifecycle(b *testing.B) {
	srv := redistest.Start(b)
	cfg := client.DefaultConfig()
	cfg.Addrs = []string{srv.Addr}
	c, err := client.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		q := c.Queue(fmt.Sprintf("bench-%d", n.Add(1)))
		for pb.Next() {
			if _, err := q.Put(ctx, "K", nil); err != nil {
				b.Error(err)
				return
			}
			j, err := q.Pop(ctx)
			if err != nil || j == nil {
				b.Error("pop: ", err)
				return
			}
			if _, err := j.Complete(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLifecycleCluster is BenchmarkLifecycle through the routers of a
// 3-router, 3-shard cluster (each goroutine with its own client, so that
// the clients spread over the routers).
func BenchmarkLifecycleCluster(b *testing.B) {
	ctx := context.Background()
	cl, err := devcluster.Start(ctx, devcluster.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Stop(ctx)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := n.Add(1)
		cfg := client.DefaultConfig()
		cfg.Addrs = cl.RESPAddrs()[:1]
		cfg.WorkerName = fmt.Sprintf("bench-worker-%d", i)
		c, err := client.New(cfg)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		q := c.Queue(fmt.Sprintf("bench-%d", i))
		for pb.Next() {
			if _, err := q.Put(ctx, "K", nil); err != nil {
				b.Error(err)
				return
			}
			j, err := q.Pop(ctx)
			if err != nil || j == nil {
				b.Error("pop: ", err)
				return
			}
			if _, err := j.Complete(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
