package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/internal/devcluster"
)

func startCluster(t *testing.T) *devcluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := devcluster.Start(ctx, devcluster.DefaultConfig())
	if err != nil {
		t.Fatalf("devcluster.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.Stop(ctx); err != nil {
			t.Errorf("cluster Stop: %v", err)
		}
	})
	return cl
}

func clusterClient(t *testing.T, addrs []string, worker string, conns int) *client.Client {
	t.Helper()
	cfg := client.DefaultLocalConfig()
	cfg.Addrs = addrs
	cfg.WorkerName = worker
	cfg.Conns = conns
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCluster runs against 3 routers over 3 shards: discovery of every
// router from one address, spreading, events through a router, and
// failover of calls and of a listener when the router in use stops.
func TestCluster(t *testing.T) {
	t.Parallel()
	cl := startCluster(t)
	ctx := context.Background()
	all := slices.Sorted(slices.Values(cl.RESPAddrs()))
	if len(all) != 3 {
		t.Fatalf("RESPAddrs = %v", all)
	}

	// Discovery: one address is enough to learn the three routers.
	c := clusterClient(t, all[:1], "main-worker", 2)
	ok(t, c.Ping(ctx))
	if got := slices.Sorted(slices.Values(c.Routers())); !slices.Equal(got, all) {
		t.Fatalf("Routers() after the first call = %v, want %v", got, all)
	}

	// Spreading: clients of different workers use different routers.
	used := map[string]int{}
	for i := range 30 {
		sc := clusterClient(t, all[:1], fmt.Sprintf("spread-%d", i), 1)
		ok(t, sc.Ping(ctx))
		used[sc.Current()]++
		sc.Close()
	}
	if len(used) != 3 {
		t.Fatalf("30 clients used routers %v, want all 3", used)
	}

	// Work through the cluster: queues on several shards.
	var jids []string
	for i := range 6 {
		q := c.Queue(fmt.Sprintf("cq-%d", i))
		jids = append(jids, must(q.Put(ctx, "K", map[string]int{"i": i}, client.WithTags("cluster")))(t))
	}
	if page := must(c.Tagged(ctx, "cluster", 0, 10))(t); page.Total != 6 {
		t.Fatalf("Tagged across shards: total %d, want 6", page.Total)
	}
	if got := must(c.Jobs(ctx, jids...))(t); len(got) != 6 {
		t.Fatalf("Jobs across shards: %d jobs, want 6", len(got))
	}

	// Events through the router in use.
	var log eventLog
	connects := make(chan string, 8)
	disconnects := make(chan error, 8)
	h := log.handlers()
	h.OnLog = nil
	h.OnConnect = func(addr string) { connects <- addr }
	h.OnDisconnect = func(err error) { disconnects <- err }
	l, err := c.Listen(ctx, h)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer l.Close()
	home := <-connects
	if home != c.Current() {
		t.Fatalf("listener on %s, client on %s: want the same router", home, c.Current())
	}
	q0 := c.Queue("cq-0")
	j := must(c.Job(ctx, jids[0]))(t)
	ok(t, j.Track(ctx))
	p := must(q0.Pop(ctx))(t)
	must(p.Complete(ctx))(t)
	waitEvents(t, &log, []string{"track:" + jids[0], "popped:" + jids[0], "completed:" + jids[0]})

	// Failover: stop the router in use.
	p1 := must(c.Queue("cq-1").Pop(ctx))(t)
	stopped := slices.Index(cl.RESPAddrs(), home)
	// Writes racing the stop either succeed or report an unknown outcome;
	// none runs twice.
	var wg sync.WaitGroup
	results := make(map[string]error)
	var mu sync.Mutex
	racer := clusterClient(t, []string{home}, "racer", 2)
	ok(t, racer.Ping(ctx))
	if racer.Current() != home {
		t.Logf("racer on %s, not on the stopped router %s", racer.Current(), home)
	}
	stopDone := make(chan struct{})
	started := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		after := 0
		deadline := time.Now().Add(20 * time.Second)
		for i := 0; i < 20000 && after < 50 && time.Now().Before(deadline); i++ {
			if i == 10 {
				close(started)
			}
			select {
			case <-stopDone:
				after++
			default:
			}
			jid := fmt.Sprintf("race-%d", i)
			_, err := racer.Queue("race").Put(ctx, "K", nil, client.WithJID(jid))
			mu.Lock()
			results[jid] = err
			mu.Unlock()
		}
	}()
	<-started
	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	ok(t, cl.StopRouter(stopCtx, stopped))
	cancel()
	close(stopDone)
	wg.Wait()

	// A read is retried on another router; writes continue there.
	got := must(c.Job(ctx, p1.JID))(t)
	if got.State != "running" {
		t.Fatalf("job after failover: %s", got.State)
	}
	if c.Current() == home || c.Current() == "" {
		t.Fatalf("Current() = %q after its router %s stopped", c.Current(), home)
	}
	must(p1.Complete(ctx))(t)
	must(c.Queue("cq-2").Put(ctx, "K", nil))(t)

	unknown, failed := 0, 0
	for jid, err := range results {
		switch {
		case err == nil:
			if n := putCount(t, c, jid); n != 1 {
				t.Errorf("job %s: %d put entries, want 1", jid, n)
			}
		case errors.Is(err, client.ErrOutcomeUnknown):
			unknown++
			if n := putCount(t, c, jid); n > 1 {
				t.Errorf("job %s: %d put entries, want at most 1", jid, n)
			}
		default:
			failed++
			t.Logf("put %s: %v", jid, err)
			if n := putCount(t, c, jid); n > 1 {
				t.Errorf("job %s: %d put entries, want at most 1", jid, n)
			}
		}
	}
	t.Logf("racing puts: %d ok, %d unknown outcome, %d failed", len(results)-unknown-failed, unknown, failed)

	// The listener moved too, and events keep coming.
	select {
	case err := <-disconnects:
		t.Logf("listener lost its router: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("listener did not notice that its router stopped")
	}
	select {
	case addr := <-connects:
		if addr == home {
			t.Fatalf("listener reconnected to the stopped router %s", addr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("listener did not reconnect")
	}
	j2 := must(c.Job(ctx, jids[2]))(t)
	ok(t, j2.Track(ctx))
	waitEvents(t, &log, []string{"track:" + jids[0], "popped:" + jids[0], "completed:" + jids[0], "track:" + jids[2]})

	// Discovery drops the stopped router.
	waitFor(t, "the client to forget the stopped router", 10*time.Second, func() bool {
		return len(c.Routers()) == 2 && !slices.Contains(c.Routers(), home)
	})
}

// putCount is the number of put entries in a job's history, 0 when the job
// does not exist.
func putCount(t *testing.T, c *client.Client, jid string) int {
	t.Helper()
	j, err := c.Job(context.Background(), jid)
	if errors.Is(err, client.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("Job(%s): %v", jid, err)
	}
	n := 0
	for _, h := range j.History {
		if h.What == "put" {
			n++
		}
	}
	return n
}
