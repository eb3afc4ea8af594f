package devcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/internal/conformance"
	"github.com/qless-router/qless-router/lua"
)

func startCluster(t *testing.T, shards, routers int, tweak ...func(*Config)) *Cluster {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Shards, cfg.Routers = shards, routers
	for _, f := range tweak {
		f(&cfg)
	}
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

// qlessConn is a minimal qless client over rueidis for the cluster tests.
type qlessConn struct {
	t *testing.T
	c rueidis.Client
}

func dialQless(t *testing.T, addr string) *qlessConn {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true, DisableRetry: true})
	if err != nil {
		t.Fatalf("connect %s: %v", addr, err)
	}
	t.Cleanup(c.Close)
	return &qlessConn{t: t, c: c}
}

func (q *qlessConn) do(args ...string) (rueidis.RedisMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return q.c.Do(ctx, q.c.B().Evalsha().Sha1(lua.SHA()).Numkeys(0).Arg(args...).Build()).ToMessage()
}

func (q *qlessConn) must(args ...string) rueidis.RedisMessage {
	q.t.Helper()
	m, err := q.do(args...)
	if err != nil {
		q.t.Fatalf("%q: %v", args, err)
	}
	return m
}

func httpJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", url, err)
	}
}

// TestClusterMembershipAndRouterLeaving: every router reports the same
// cluster over RESP and HTTP; when one router leaves, the others report it
// gone and keep serving.
func TestClusterMembershipAndRouterLeaving(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, 3)
	var cl struct {
		Router  string `json:"router"`
		Routers []struct {
			Name, RESP, HTTP string
		} `json:"routers"`
		Shards []struct {
			Name    string `json:"name"`
			Healthy bool   `json:"healthy"`
		} `json:"shards"`
	}
	httpJSON(t, "http://"+c.HTTPAddrs()[1]+"/api/cluster", &cl)
	if cl.Router != "router-2" || len(cl.Routers) != 3 || len(cl.Shards) != 3 {
		t.Fatalf("/api/cluster = %+v, want router-2 seeing 3 routers and 3 shards", cl)
	}
	for i, r := range cl.Routers {
		if r.Name != fmt.Sprintf("router-%d", i+1) || r.RESP != c.RESPAddrs()[i] || r.HTTP != c.HTTPAddrs()[i] {
			t.Errorf("/api/cluster router %d = %+v, want router-%d at %s and %s", i, r, i+1, c.RESPAddrs()[i], c.HTTPAddrs()[i])
		}
	}
	for _, s := range cl.Shards {
		if !s.Healthy {
			t.Errorf("shard %s reported unhealthy", s.Name)
		}
	}

	q := dialQless(t, c.RESPAddrs()[2])
	q.must("put", "1", "w", "jobs", "j1", "K", "{}", "0")
	if err := c.StopRouter(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitConverged(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	rows, err := q.c.Do(context.Background(), q.c.B().Arbitrary("QLESS.ROUTERS").Build()).ToArray()
	if err != nil || len(rows) != 2 {
		t.Fatalf("QLESS.ROUTERS after router-1 left = %v, %v; want 2 routers", rows, err)
	}
	m := q.must("pop", "2", "jobs", "w", "1")
	got, err := m.ToString()
	if err != nil || !strings.Contains(got, `"jid":"j1"`) {
		t.Fatalf("pop through router-3 after router-1 left = %s, %v", got, err)
	}
}

// TestShardDown: a shard that is down fails only the commands that need
// it, with an error naming it; the other shards' queues keep working.
func TestShardDown(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, 1)
	names := queuesOn(t, c, func(i int) string { return c.ShardNames[i] })(3)
	q := dialQless(t, c.RESPAddrs()[0])
	for i, name := range names {
		q.must("put", "1", "w", name, fmt.Sprintf("j%d", i), "K", "{}", "0")
	}
	c.Shards[1].Kill()
	for _, i := range []int{0, 2} {
		m := q.must("length", "2", names[i])
		if n, err := m.AsInt64(); err != nil || n != 1 {
			t.Errorf("length %s (on %s) with shard-2 down = %d, %v; want 1", names[i], c.ShardNames[i], n, err)
		}
	}
	_, err := q.do("length", "2", names[1])
	if err == nil || !strings.Contains(err.Error(), "shard-2") {
		t.Errorf("length of a queue on the dead shard: error %v, want one naming shard-2", err)
	}
	_, err = q.do("queues", "2")
	if err == nil || !strings.Contains(err.Error(), "shard-2") {
		t.Errorf("queues fan-out with shard-2 down: error %v, want one naming shard-2", err)
	}
}

// TestConformanceAcrossShards runs the conformance suite through a router
// with each multi-queue case's queues on different shards (queue i on shard
// i mod 3), so that every move, dependency and listing of those cases
// crosses shards (docs/cross-shard.md). The retention cases keep their
// queues on one shard: retention is per shard by design (DESIGN section 2,
// jobs-history-count counts each shard's completed jobs).
func TestConformanceAcrossShards(t *testing.T) {
	c := startCluster(t, 3, 3)
	spread := queuesOn(t, c, func(i int) string { return c.ShardNames[i%len(c.ShardNames)] })
	same := queuesOn(t, c, func(int) string { return c.ShardNames[0] })
	conformance.Run(t, conformance.Target{
		Addr:   c.RESPAddrs()[0],
		Script: lua.Script(),
		Queues: func(n int) []string {
			if calledFrom("conformance.retentionCases") {
				return same(n)
			}
			return spread(n)
		},
	})

	// The moves those cases made show in the router's counters, over the
	// JSON API and /metrics.
	var cl struct {
		CrossShard map[string]int64 `json:"cross_shard"`
	}
	httpJSON(t, "http://"+c.HTTPAddrs()[0]+"/api/cluster", &cl)
	if cl.CrossShard["moves"] == 0 || cl.CrossShard["delivered"] == 0 {
		t.Errorf("/api/cluster cross_shard = %v, want moves and deliveries counted", cl.CrossShard)
	}
	resp, err := http.Get("http://" + c.HTTPAddrs()[0] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `qless_cross_shard_total{event="moves"} `) {
		t.Errorf("/metrics has no qless_cross_shard_total{event=\"moves\"}:\n%s", body)
	}
}

// calledFrom reports whether a function whose name contains name is on the
// caller's stack.
func calledFrom(name string) bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.Contains(f.Function, name) {
			return true
		}
		if !more {
			return false
		}
	}
}

// Routers reach the shards over their Unix sockets by default, and over
// loopback TCP with TCPShards; jobs and events work either way.
func TestShardTransports(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run(fmt.Sprintf("tcp=%v", tcp), func(t *testing.T) {
			c := startCluster(t, 2, 1, func(cfg *Config) { cfg.TCPShards = tcp })
			for _, s := range c.Shards {
				if (s.Socket == "") != tcp {
					t.Fatalf("shard socket %q with TCPShards=%v", s.Socket, tcp)
				}
			}
			q := dialQless(t, c.RESPAddrs()[0])
			q.must("put", "100", "w", "tq", "tj", "K", "{}", "0")
			popped := q.must("pop", "101", "tq", "w", "1")
			if got, _ := popped.ToString(); !strings.Contains(got, `"jid":"tj"`) {
				t.Errorf("pop = %s, want tj", got)
			}
		})
	}
}

// A stock client's SUBSCRIBE to exact channels through a router gets the
// events of every shard, and the router subscribes upstream to just those
// channels (no pattern), dropping them when the client goes.
func TestSubscribeThroughARouterIsNarrow(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2, 2)
	shards := c.Nodes[0].Router.Shards()
	queues := queuesOn(t, c, func(i int) string { return shards[i] })(len(shards))

	sub, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{c.RESPAddrs()[1]}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := make(chan string, 16)
	subscribed := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	received := make(chan error, 1)
	go func() {
		hctx := rueidis.WithOnSubscriptionHook(ctx, func(s rueidis.PubSubSubscription) {
			if s.Kind == "subscribe" && s.Channel == "ql:log" {
				close(subscribed)
			}
		})
		received <- sub.Receive(hctx, sub.B().Subscribe().Channel("ql:log").Build(), func(m rueidis.PubSubMessage) {
			got <- m.Channel + " " + m.Message
		})
	}()
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("SUBSCRIBE through the router not confirmed")
	}

	upstream := func(addr string) (channels []string, patterns int64) {
		rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		channels, err = rc.Do(context.Background(), rc.B().PubsubChannels().Build()).AsStrSlice()
		if err != nil {
			t.Fatal(err)
		}
		patterns, err = rc.Do(context.Background(), rc.B().PubsubNumpat().Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return channels, patterns
	}
	for _, addr := range c.ShardAddrs() {
		if chs, pats := upstream(addr); pats != 0 || !strings.Contains(strings.Join(chs, " "), "ql:log") {
			t.Errorf("shard %s: subscribed channels %v and %d patterns; want ql:log and no pattern", addr, chs, pats)
		}
	}

	// Jobs put through the other router, one on each shard, are heard.
	q := dialQless(t, c.RESPAddrs()[0])
	want := map[string]bool{}
	for i, queue := range queues {
		jid := fmt.Sprintf("narrow-%d", i)
		q.must("put", "1", "w", queue, jid, "K", "{}", "0")
		want[`ql:log {"jid":"`+jid+`","event":"put","queue":"`+queue+`"}`] = true
	}
	for len(want) > 0 {
		select {
		case m := <-got:
			delete(want, m)
		case <-time.After(10 * time.Second):
			t.Fatalf("events not heard through the router: %v", want)
		}
	}

	cancel()
	<-received
	sub.Close() // the client goes: its connection closes
	for _, addr := range c.ShardAddrs() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			chs, _ := upstream(addr)
			if !strings.Contains(strings.Join(chs, " "), "ql:log") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("shard %s: ql:log still subscribed after the client left: %v", addr, chs)
			}
			time.Sleep(20 * time.Millisecond) // poll interval, bounded by the deadline
		}
	}
}
