package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/devcluster"
	"github.com/qless-router/qless-router/worker"
)

// startCluster runs a 3-shard, 3-router cluster for the test and returns
// it with a producer client of every router.
func startCluster(t testing.TB) (*devcluster.Cluster, *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := devcluster.Start(ctx, devcluster.DefaultConfig())
	if err != nil {
		t.Fatalf("devcluster.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("cluster Stop: %v", err)
		}
	})
	return c, newClient(t, "producer", c.RESPAddrs()...)
}

// queuePerShard names one queue owned by each shard of the cluster.
func queuePerShard(t testing.TB, c *devcluster.Cluster, prefix string) []string {
	t.Helper()
	r := c.Nodes[0].Router
	byShard := map[string]string{}
	for k := 0; len(byShard) < len(c.ShardNames); k++ {
		if k > 10000 {
			t.Fatalf("no queue found for every shard: %v", byShard)
		}
		name := fmt.Sprintf("%s-%d", prefix, k)
		owner, err := r.Locate(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := byShard[owner]; !ok {
			byShard[owner] = name
		}
	}
	out := make([]string, 0, len(c.ShardNames))
	for _, s := range c.ShardNames {
		out = append(out, byShard[s])
	}
	return out
}

func setConfig(t testing.TB, c *client.Client, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.SetConfig(ctx, kv[i], kv[i+1])
		cancel()
		if err != nil {
			t.Fatalf("config.set %s %s: %v", kv[i], kv[i+1], err)
		}
	}
}

// TestCluster runs real workers against real queues through a 3-router,
// 3-shard cluster.
func TestCluster(t *testing.T) {
	t.Parallel()
	cl, prod := startCluster(t)
	setConfig(t, prod, "heartbeat", "1", "grace-period", "0")

	t.Run("PopHeartbeatComplete", func(t *testing.T) {
		queues := queuePerShard(t, cl, "life")
		g := newGate()
		cfg := localConfig(queues...)
		cfg.Concurrency = 8
		cfg.Reserver = worker.RoundRobin()
		r := startWorker(t, newClient(t, "life-w", cl.RESPAddrs()[0]), cfg, func(w *worker.Worker) {
			w.Handle("Slow", g.handle)
			w.Handle("Quick", func(context.Context, *client.Job) error { return nil })
		})
		slow := put(t, prod, queues[1], "Slow", nil)
		g.waitStarted(t)
		var quick []string
		for i := range 30 {
			quick = append(quick, put(t, prod, queues[i%3], "Quick", nil))
		}
		// The slow job outlives its 1 s lock several times over.
		waitFor(t, 20*time.Second, "4 heartbeats", func() bool { return r.w.Stats().Heartbeats >= 4 })
		if j := jobOf(t, prod, slow); j.State != core.StateRunning || j.Worker != "life-w" {
			t.Errorf("slow job after 4 heartbeats: %q by %q, want running by life-w", j.State, j.Worker)
		}
		close(g.release)
		for _, jid := range append(quick, slow) {
			waitFor(t, 20*time.Second, "job completed", stateIs(t, prod, jid, core.StateComplete))
		}
		waitFor(t, 20*time.Second, "the worker to count the completions", func() bool { return r.w.Stats().Completed >= 31 })
		if s := r.w.Stats(); s.Completed != 31 || s.LockLost != 0 || s.Errors != 0 {
			t.Errorf("Stats = %+v, want 31 completed, no lock lost, no error", s)
		}
	})

	t.Run("StalledJobTakenOverAndLostLockCancels", func(t *testing.T) {
		q := queuePerShard(t, cl, "stall")[2]
		// Worker A never heartbeats: its job stalls after 1 s.
		ga := newGate()
		cfgA := localConfig(q)
		cfgA.HeartbeatInterval = time.Hour
		a := startWorker(t, newClient(t, "stall-a", cl.RESPAddrs()[0]), cfgA, func(w *worker.Worker) {
			w.Handle("Job", ga.handle)
		})
		jid := put(t, prod, q, "Job", nil)
		ga.waitStarted(t)
		a.w.Pause() // A takes nothing more
		var mu sync.Mutex
		var byB []string
		b := startWorker(t, newClient(t, "stall-b", cl.RESPAddrs()[1]), localConfig(q), func(w *worker.Worker) {
			w.Handle("Job", func(ctx context.Context, job *client.Job) error {
				mu.Lock()
				byB = append(byB, job.JID)
				mu.Unlock()
				return nil
			})
		})
		waitFor(t, 20*time.Second, "job completed by B", stateIs(t, prod, jid, core.StateComplete))
		waitFor(t, 20*time.Second, "A dropped the job", func() bool { return a.w.Stats().LockLost == 1 })
		if c := ga.cause(jid); !errors.Is(c, client.ErrLockLost) {
			t.Errorf("cause of A's cancellation = %v, want a lost lock", c)
		}
		mu.Lock()
		if len(byB) != 1 || byB[0] != jid {
			t.Errorf("B ran %v, want [%s]", byB, jid)
		}
		mu.Unlock()
		var poppers []string
		for _, h := range jobOf(t, prod, jid).History {
			if h.What == "popped" {
				poppers = append(poppers, h.Worker)
			}
		}
		if fmt.Sprint(poppers) != "[stall-a stall-b]" {
			t.Errorf("popped by %v, want [stall-a stall-b]", poppers)
		}
		if s := a.w.Stats(); s.Completed != 0 || s.Failed != 0 {
			t.Errorf("A's Stats = %+v, want nothing completed or failed", s)
		}
		waitFor(t, 20*time.Second, "B to count its completion", func() bool { return b.w.Stats().Completed >= 1 })
		if s := b.w.Stats(); s.Completed != 1 {
			t.Errorf("B's Stats = %+v, want 1 completed", s)
		}
	})
}

// TestClusterWorkerSurvivesItsRouter stops the router a worker talks to;
// the worker carries on through another one, lock events included.
func TestClusterWorkerSurvivesItsRouter(t *testing.T) {
	t.Parallel()
	cl, prod := startCluster(t)
	queues := queuePerShard(t, cl, "fo")
	wc := newClient(t, "fo-w", cl.RESPAddrs()...)
	g := newGate()
	cfg := localConfig(queues...)
	cfg.Concurrency = 4
	cfg.Reserver = worker.RoundRobin()
	r := startWorker(t, wc, cfg, func(w *worker.Worker) {
		w.Handle("Quick", func(context.Context, *client.Job) error { return nil })
		w.Handle("Slow", g.handle)
	})
	var jids []string
	for i := range 12 {
		jids = append(jids, put(t, prod, queues[i%3], "Quick", nil))
	}
	for _, jid := range jids {
		waitFor(t, 20*time.Second, "job completed", stateIs(t, prod, jid, core.StateComplete))
	}
	used := wc.Current()
	idx := -1
	for i, n := range cl.Nodes {
		if n != nil && n.RESP.Addr() == used {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("the worker's router %q is not one of %v", used, cl.RESPAddrs())
	}
	if err := cl.KillRouter(testCtx(t), idx); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed router %d (%s)", idx+1, used)
	jids = jids[:0]
	for i := range 12 {
		jids = append(jids, put(t, prod, queues[i%3], "Quick", nil))
	}
	for _, jid := range jids {
		waitFor(t, 30*time.Second, "job completed after the router stopped", stateIs(t, prod, jid, core.StateComplete))
	}
	if now := wc.Current(); now == used || now == "" {
		t.Errorf("worker still on %q after it stopped", now)
	}
	// Lock events reach the worker through its new router.
	slow := put(t, prod, queues[0], "Slow", nil)
	g.waitStarted(t)
	lost := r.w.Stats().LockLost
	waitFor(t, 20*time.Second, "the timeout canceled the job", func() bool {
		// The listener may still be moving: time out until it hears. (A
		// timed-out job may be between runs: stalled, or popped again by
		// this worker, which also cancels the old run as lost.)
		var qe *client.Error
		if err := prod.Timeout(testCtx(t), slow); err != nil &&
			!(errors.As(err, &qe) && strings.HasSuffix(qe.Message, "not running")) {
			t.Fatal(err)
		}
		return r.w.Stats().LockLost > lost
	})
	if c := g.cause(slow); !errors.Is(c, client.ErrLockLost) {
		t.Errorf("cause = %v, want a lost lock", c)
	}
}
