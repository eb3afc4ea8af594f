//go:build chaos

package chaos

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
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
	burst  int           // jobs of each burst of moves
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
		return profile{load: base, burst: 150, rounds: 1, down: 3 * time.Second, settle: 3 * time.Second, drain: 90 * time.Second}, nil
	case "long":
		base.Jobs, base.PutInterval, base.Producers = 5000, 110*time.Millisecond, 4
		return profile{load: base, burst: 300, rounds: 3, down: 5 * time.Second, settle: 6 * time.Second, drain: 3 * time.Minute}, nil
	}
	return profile{}, fmt.Errorf("-chaos.profile=%q: want short or long", name)
}

// fault is one failure injected while the load runs.
type fault struct {
	name  string
	nodes []*node
	// pick, when set, chooses the nodes when the fault comes (a shard's
	// primary changes with each failover).
	pick func(ctx context.Context) ([]*node, error)
	// partition cuts the nodes off the network instead of killing them:
	// they keep running, then are connected again.
	partition bool
	// burst: kill, with nodes, the router of a mover that is moving jobs
	// from src to dst (another shard) as fast as it can, once a quarter of
	// them moved.
	burst    bool
	src, dst string
}

// TestChaos starts a cluster, runs the load, kills routers and shards
// (alone, and together while jobs move between shards), restarts them, and
// checks every job at the end.
func TestChaos(t *testing.T) {
	prof, err := profileNamed(*profileFlag)
	if err != nil {
		t.Fatal(err)
	}
	runChaos(t, prof, clusterConfig{Shards: 3, Routers: 3}, func(cl *cluster, queues []string, owner map[string]string, bursts []pair) []fault {
		// A router, a shard, then a router and the shard that the jobs of
		// queues[0] move to, together (cross-shard moves in flight).
		hopTarget := cl.Shard(owner[queues[1]])
		var faults []fault
		for r := range prof.rounds {
			faults = append(faults,
				fault{name: "router alone", nodes: []*node{cl.Routers[(1+r)%len(cl.Routers)]}},
				fault{name: "shard alone", nodes: []*node{cl.Shard(owner[queues[r%len(queues)]])}},
				fault{name: "router and a move target shard together", nodes: []*node{cl.Routers[r%len(cl.Routers)], hopTarget}},
				fault{name: "a mover's router and its target shard, mid-burst", nodes: []*node{cl.Shard(owner[bursts[r].dst])},
					burst: true, src: bursts[r].src, dst: bursts[r].dst},
			)
		}
		return faults
	})
}

// TestChaosFailover runs the load on shards that each have a replica and a
// Sentinel, with routers that acknowledge a write once the replica has it
// (--wait-replicas 1), and kills each shard's primary in turn: Sentinel
// promotes the replica, the routers follow, the killed primary comes back
// as a replica; then a router; then it cuts a primary off the network,
// still running, and connects it again after Sentinel has promoted its
// replica. Every acknowledged job must be there.
func TestChaosFailover(t *testing.T) {
	prof, err := profileNamed(*profileFlag)
	if err != nil {
		t.Fatal(err)
	}
	prof.rounds = 0 // no bursts of moves: the faults are failovers
	prof.down = max(prof.down, 5*time.Second)
	runChaos(t, prof, clusterConfig{Shards: 2, Routers: 2, Replicated: true}, func(cl *cluster, _ []string, _ map[string]string, _ []pair) []fault {
		primaryOf := func(name string) func(ctx context.Context) ([]*node, error) {
			return func(ctx context.Context) ([]*node, error) {
				p, err := cl.Primary(ctx, name)
				return []*node{p}, err
			}
		}
		return []fault{
			{name: "primary of shard-1", pick: primaryOf("shard-1")},
			{name: "primary of shard-2", pick: primaryOf("shard-2")},
			{name: "router alone", nodes: []*node{cl.Routers[1]}},
			{name: "primary of shard-1 again (the first replica)", pick: primaryOf("shard-1")},
			{name: "primary of shard-2 cut off the network (it keeps running)", pick: primaryOf("shard-2"), partition: true},
		}
	})
}

// pair is a burst's source and target queues.
type pair struct{ src, dst string }

// runChaos starts a cluster of cfg's shape, runs prof's load with the faults
// makeFaults gives, and checks every job at the end.
func runChaos(t *testing.T, prof profile, cfg clusterConfig, makeFaults func(cl *cluster, queues []string, owner map[string]string, bursts []pair) []fault) {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		t.Fatalf("read the router image's script: %v (build the images with `make images`)", err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cfg.RouterImage, cfg.RedisImage, cfg.Ready = routerImage, redisImage, 60*time.Second
	cl := startCluster(ctx, t, cfg)
	t.Logf("cluster up in %v: routers %v", time.Since(start).Round(time.Millisecond), cl.RouterAddrs())
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range cl.all() {
				t.Log(cl.Logs(context.Background(), n, 30))
			}
		}
	})

	queues, owner := pickQueues(ctx, t, cl, prof.load.RunID, nil)
	// Each round's burst has queues of its own (no worker serves a burst's
	// source), its target shard rotating.
	var bursts []pair
	all := slices.Clone(queues)
	for r := range prof.rounds {
		bq, _ := pickQueues(ctx, t, cl, fmt.Sprintf("%s-burst%d", prof.load.RunID, r), owner)
		// bq has one queue per shard: the target is shard r+1's, the source
		// the next shard's.
		d := slices.IndexFunc(bq, func(q string) bool { return owner[q] == cl.Shards[r%len(cl.Shards)].Name })
		bursts = append(bursts, pair{bq[(d+1)%len(bq)], bq[d]})
		prof.load.AlsoServe = append(prof.load.AlsoServe, bursts[r].dst)
		all = append(all, bursts[r].src, bursts[r].dst)
	}
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
	for _, q := range all {
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

	faults := makeFaults(cl, queues, owner, bursts)
	loadStart := time.Now()
	for i, f := range faults {
		if err := sleepCtx(ctx, prof.settle); err != nil {
			t.Fatal(err)
		}
		if f.pick != nil {
			if f.nodes, err = f.pick(ctx); err != nil {
				t.Fatalf("fault %d (%s): %v", i+1, f.name, err)
			}
		}
		var moverDone chan struct{}
		if f.burst {
			var mr *node
			moverDone, mr = startBurst(ctx, t, cl, ld, newC, f.src, f.dst, prof.burst)
			f.nodes = append([]*node{mr}, f.nodes...)
		}
		names := nodeNames(f.nodes)
		t.Logf("%6.1fs fault %d/%d (%s): %s %v", time.Since(loadStart).Seconds(), i+1, len(faults), f.name, map[bool]string{false: "kill", true: "cut off"}[f.partition], names)
		down, up := cl.Kill, cl.Start
		if f.partition {
			down, up = cl.Partition, cl.Heal
		}
		for _, n := range f.nodes {
			if err := down(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		if err := sleepCtx(ctx, prof.down); err != nil {
			t.Fatal(err)
		}
		for _, n := range f.nodes {
			if err := up(ctx, n); err != nil {
				t.Fatalf("%v\n%s", err, cl.Logs(ctx, n, 40))
			}
		}
		t.Logf("%6.1fs fault %d/%d: %v back", time.Since(loadStart).Seconds(), i+1, len(faults), names)
		if moverDone != nil {
			select {
			case <-moverDone:
				t.Logf("%6.1fs fault %d/%d: burst moved", time.Since(loadStart).Seconds(), i+1, len(faults))
			case <-time.After(2 * time.Minute):
				t.Errorf("fault %d: the mover did not empty %s within 2 minutes", i+1, f.src)
			}
		}
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

// startBurst puts n jobs into src and starts a mover that moves them to
// dst (another shard) through one router; once a quarter of them moved it
// returns that router, to be killed, and a channel closed when the mover is
// done.
func startBurst(ctx context.Context, t *testing.T, cl *cluster, ld *load, newC func(string) (*client.Client, error), src, dst string, n int) (chan struct{}, *node) {
	t.Helper()
	mc, err := newC(fmt.Sprintf("%s-mover-%d", ld.cfg.RunID, time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	if err := ld.burst(ctx, mc, src, dst, n); err != nil {
		t.Fatalf("burst: %v", err)
	}
	var moved atomic.Int64
	done := make(chan struct{})
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	go func() {
		defer close(done)
		defer cancel()
		defer mc.Close()
		ld.mover(mctx, mc, src, 8, &moved)
	}()
	for deadline := time.Now().Add(30 * time.Second); moved.Load() < int64(n/4) && time.Now().Before(deadline); {
		_ = sleepCtx(ctx, 5*time.Millisecond)
	}
	cur := mc.Current()
	for _, r := range cl.Routers {
		if r.Addr() == cur {
			return done, r
		}
	}
	t.Fatalf("the mover's router %q is none of %v", cur, cl.RouterAddrs())
	return nil, nil
}

// drain polls the shards until the verdict has no problem, or until bound;
// it returns the last verdict.
func drain(ctx context.Context, cl *cluster, ld *load, owner map[string]string, bound time.Duration) (verdict, error) {
	deadline := time.Now().Add(bound)
	for {
		shards := map[string]shardState{}
		var readErr error
		for _, s := range cl.Shards {
			p, err := cl.Primary(ctx, s.Name)
			if err != nil {
				readErr = err
				break
			}
			st, err := readShard(ctx, p, s.Name, ld.cfg.RunID)
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
// is a cross-shard move. It adds their owners to owner (nil: a new map).
func pickQueues(ctx context.Context, t *testing.T, cl *cluster, prefix string, owner map[string]string) ([]string, map[string]string) {
	t.Helper()
	byShard := map[string]string{}
	if owner == nil {
		owner = map[string]string{}
	}
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
	placed := make([]string, len(queues))
	for i, q := range queues {
		placed[i] = q + " on " + owner[q]
	}
	t.Logf("queues: %s", strings.Join(placed, ", "))
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
