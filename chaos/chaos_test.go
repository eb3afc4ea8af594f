//go:build chaos

package chaos

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/qless-router/qless-router/client"
)

var (
	profileFlag = flag.String("chaos.profile", "short", "short (about a minute of load, 3 faults) or long (several minutes, 3 rounds of faults)")
	routerImage = envOr("QLESS_CHAOS_ROUTER_IMAGE", "qless-router:dev")
	redisImage  = envOr("QLESS_CHAOS_REDIS_IMAGE", "qless-redis:dev")
	// scriptPath is the qless script the router image serves, written by
	// deploy/build-images.sh: the clients load exactly that text, so their
	// EVALSHA matches the routers' even if lua/ changed since the build.
	scriptPath = envOr("QLESS_CHAOS_SCRIPT", filepath.Join("..", "deploy", ".build", "qless.lua"))
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func TestMain(m *testing.M) {
	// testcontainers would pull its reaper image otherwise; nothing can be
	// pulled here, and the tests remove what they create themselves.
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	os.Exit(m.Run())
}

// profile sizes a run.
type profile struct {
	load   loadConfig
	rounds int           // rounds of the fault sequence
	down   time.Duration // how long a killed node stays down
	settle time.Duration // pause between two faults
	drain  time.Duration // bound of the wait for every job to end after the load
}

func profileNamed(name string) (profile, error) {
	base := loadConfig{
		RunID: "chaos", Producers: 2, Workers: 3, Concurrency: 4, HopShare: 0.5,
		Work: 10 * time.Millisecond, PutPatience: 60 * time.Second,
	}
	switch name {
	case "short":
		base.Jobs, base.PutInterval = 600, 110*time.Millisecond
		return profile{load: base, rounds: 1, down: 3 * time.Second, settle: 3 * time.Second, drain: 90 * time.Second}, nil
	case "long":
		base.Jobs, base.PutInterval, base.Producers = 5000, 110*time.Millisecond, 4
		return profile{load: base, rounds: 3, down: 5 * time.Second, settle: 6 * time.Second, drain: 3 * time.Minute}, nil
	}
	return profile{}, fmt.Errorf("-chaos.profile=%q: want short or long", name)
}

// fault is one failure injected while the load runs.
type fault struct {
	name  string
	nodes []*node
}

// TestChaos starts a cluster, runs the load, kills routers and shards
// (alone, and together while jobs move between shards), restarts them, and
// checks every job at the end.
func TestChaos(t *testing.T) {
	prof, err := profileNamed(*profileFlag)
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		t.Fatalf("read the router image's script: %v (build the images with `make images`)", err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cl := startCluster(ctx, t, clusterConfig{RouterImage: routerImage, RedisImage: redisImage, Shards: 3, Routers: 3, Ready: 60 * time.Second})
	t.Logf("cluster up in %v: routers %v", time.Since(start).Round(time.Millisecond), cl.RouterAddrs())
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range cl.all() {
				t.Log(cl.Logs(context.Background(), n, 30))
			}
		}
	})

	queues, owner := pickQueues(ctx, t, cl, prof.load.RunID)
	prof.load.Queues = queues
	newC := func(name string) (*client.Client, error) {
		cc := client.DefaultLocalConfig()
		cc.Addrs = cl.RouterAddrs()
		cc.Discovery = -1 // the routers advertise their container addresses; use the published ports
		cc.DownTime = time.Second
		cc.WorkerName = name
		cc.Script = string(script)
		return client.New(cc)
	}
	setup, err := newC("chaos-setup")
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	for _, q := range queues {
		// Short locks, so that a job whose worker lost its router or shard
		// runs again soon.
		if err := setup.Queue(q).SetHeartbeat(ctx, 5*time.Second); err != nil {
			t.Fatalf("heartbeat of %s: %v", q, err)
		}
	}

	ld := &load{cfg: prof.load, newC: newC, led: newLedger()}
	stopWorkers, err := ld.startWorkers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stopWorkers()
	produced := make(chan error, 1)
	go func() { produced <- ld.produce(ctx) }()

	// Faults: a router, a shard, then a router and the shard that the
	// jobs of queues[0] move to, together (cross-shard moves in flight).
	hopTarget := cl.Shard(owner[queues[1]])
	var faults []fault
	for r := range prof.rounds {
		faults = append(faults,
			fault{"router alone", []*node{cl.Routers[(1+r)%len(cl.Routers)]}},
			fault{"shard alone", []*node{cl.Shard(owner[queues[r%len(queues)]])}},
			fault{"router and a move target shard together", []*node{cl.Routers[r%len(cl.Routers)], hopTarget}},
		)
	}
	loadStart := time.Now()
	for i, f := range faults {
		if err := sleepCtx(ctx, prof.settle); err != nil {
			t.Fatal(err)
		}
		names := nodeNames(f.nodes)
		t.Logf("%6.1fs fault %d/%d (%s): kill %v", time.Since(loadStart).Seconds(), i+1, len(faults), f.name, names)
		for _, n := range f.nodes {
			if err := cl.Kill(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		if err := sleepCtx(ctx, prof.down); err != nil {
			t.Fatal(err)
		}
		for _, n := range f.nodes {
			if err := cl.Start(ctx, n); err != nil {
				t.Fatalf("%v\n%s", err, cl.Logs(ctx, n, 40))
			}
		}
		t.Logf("%6.1fs fault %d/%d: %v back", time.Since(loadStart).Seconds(), i+1, len(faults), names)
	}
	var putErr error
	select {
	case putErr = <-produced:
	case <-time.After(prof.load.PutPatience + time.Duration(prof.load.Jobs)*prof.load.PutInterval):
		putErr = errors.New("producers did not finish")
	}
	t.Logf("%6.1fs load put: %d put errors retried (%d with unknown outcome)", time.Since(loadStart).Seconds(), ld.putErrs.Load(), ld.unknown.Load())
	if putErr != nil {
		t.Errorf("producers: %v", putErr)
	}

	// Drain: wait until the shards show every job done, within the bound.
	v, err := drain(ctx, cl, ld, owner, prof.drain)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%6.1fs drained", time.Since(loadStart).Seconds())
	if err := stopWorkers(); err != nil {
		t.Errorf("workers: %v", err)
	}
	ws := ld.workerStats()
	t.Logf("workers: popped %d, completed %d, settled (moved) %d, failed %d, lock lost %d, settle/pop errors %d; complete-with-next errors %d",
		ws.Popped, ws.Completed, ws.Settled, ws.Failed, ws.LockLost, ws.Errors, ld.setErrs.Load())
	for _, n := range v.Notes {
		t.Log(n)
	}
	for _, a := range ld.led.anomalyList() {
		t.Errorf("handler: %s", a)
	}
	for _, p := range v.Problems {
		t.Error(p)
	}
	t.Logf("%d jobs, %d faults, total %v", prof.load.Jobs, len(faults), time.Since(start).Round(time.Second))
}

// drain polls the shards until the verdict has no problem, or until bound;
// it returns the last verdict.
func drain(ctx context.Context, cl *cluster, ld *load, owner map[string]string, bound time.Duration) (verdict, error) {
	deadline := time.Now().Add(bound)
	for {
		shards := map[string]shardState{}
		var readErr error
		for _, s := range cl.Shards {
			st, err := readShard(ctx, s, ld.cfg.RunID)
			if err != nil {
				readErr = err
				break
			}
			shards[s.Name] = st
		}
		var v verdict
		if readErr == nil {
			v = verify(ld.led.snapshot(), shards, owner)
			if len(v.Problems) == 0 {
				return v, nil
			}
		}
		if time.Now().After(deadline) {
			if readErr != nil {
				return v, readErr
			}
			return v, nil
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return v, err
		}
	}
}

// pickQueues finds one queue name per shard (each owned by a different
// shard, as the routers place them), so that every hop between two of them
// is a cross-shard move.
func pickQueues(ctx context.Context, t *testing.T, cl *cluster, prefix string) ([]string, map[string]string) {
	t.Helper()
	byShard := map[string]string{}
	owner := map[string]string{}
	var queues []string
	for i := 0; i < 200 && len(queues) < len(cl.Shards); i++ {
		q := fmt.Sprintf("%s-q%d", prefix, i)
		s, err := cl.Locate(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := byShard[s]; !ok {
			byShard[s], owner[q] = q, s
			queues = append(queues, q)
		}
	}
	if len(queues) < len(cl.Shards) {
		t.Fatalf("found queues on %d shards only: %v", len(queues), owner)
	}
	t.Logf("queues and their shards: %v", owner)
	return queues, owner
}

func nodeNames(ns []*node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
