package router

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/leaktest"
	"github.com/qless-router/qless-router/internal/redisproc"
	"github.com/qless-router/qless-router/internal/redistest"
	"github.com/qless-router/qless-router/shard"
)

// TestMain fails the package if goroutines of the router core outlive the
// tests.
func TestMain(m *testing.M) {
	os.Exit(leaktest.Verify(m.Run(), routerLeakMarkers...))
}

// routerLeakMarkers identify goroutines started by the files of the router
// core (not membership, which has its own tests).
var routerLeakMarkers = []string{"router.(*hub)", "router.(*subscriber)", "router.(*Router)", "router.fanOut", "router.both"}

// countingShard counts the calls made to a Shard.
type countingShard struct {
	Shard
	calls atomic.Int64 // CallArgs
	raw   atomic.Int64 // Do
}

func (c *countingShard) CallArgs(ctx context.Context, argv ...string) (core.Reply, error) {
	c.calls.Add(1)
	return c.Shard.CallArgs(ctx, argv...)
}

func (c *countingShard) Do(ctx context.Context, args ...string) (core.Reply, error) {
	c.raw.Add(1)
	return c.Shard.Do(ctx, args...)
}

// Listen passes through, so that the router follows its interest on the
// real shards as in production.
func (c *countingShard) Listen(ctx context.Context, fn func(channel, message string)) (*shard.Listener, error) {
	return c.Shard.(listenerShard).Listen(ctx, fn)
}

func (c *countingShard) reset() { c.calls.Store(0); c.raw.Store(0) }

// testRedis is one throwaway redis-server with its shard name.
type testRedis struct {
	name string
	srv  *redisproc.Server
}

// startRedises starts n redis-servers for shards named a, b, c, ...
func startRedises(t *testing.T, n int) []testRedis {
	t.Helper()
	out := make([]testRedis, n)
	for i := range out {
		out[i] = testRedis{name: string(rune('a' + i)), srv: redistest.Start(t)}
	}
	return out
}

// startShardClient connects a started shard client to a Redis; Cleanup
// stops it.
func startShardClient(t testing.TB, name, addr string) *shard.Shard {
	t.Helper()
	cfg := shard.DefaultLocalConfig()
	cfg.Name, cfg.URL = name, "redis://"+addr
	cfg.StartDown = true
	s, err := shard.New(cfg)
	if err != nil {
		t.Fatalf("shard.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("shard %s: Start: %v", name, err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

// testRouter is a started router over its own shard clients.
type testRouter struct {
	*Router
	shards map[string]*countingShard
}

func (tr *testRouter) resetCounts() {
	for _, s := range tr.shards {
		s.reset()
	}
}

// startRouter starts a router named name over the given Redis servers,
// with fresh shard clients; tweak may change the Config.
func startRouter(t testing.TB, name string, redises []testRedis, tweak func(*Config)) *testRouter {
	t.Helper()
	tr := &testRouter{shards: make(map[string]*countingShard)}
	var shards []Shard
	for _, rd := range redises {
		cs := &countingShard{Shard: startShardClient(t, rd.name, rd.srv.Addr)}
		tr.shards[rd.name] = cs
		shards = append(shards, cs)
	}
	cfg := DefaultLocalConfig()
	cfg.Name = name
	if tweak != nil {
		tweak(&cfg)
	}
	r, err := NewWithShards(cfg, shards)
	if err != nil {
		t.Fatalf("NewWithShards: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	tr.Router = r
	return tr
}

// q runs a qless command through the router and fails the test on error.
func (tr *testRouter) q(t *testing.T, args ...string) core.Reply {
	t.Helper()
	rep, err := tr.Qless(context.Background(), args)
	if err != nil {
		t.Fatalf("Qless(%q): %v", args, err)
	}
	return rep
}

// call runs a qless command on one shard (or a reference Redis) and fails
// the test on error.
func call(t *testing.T, s Shard, args ...string) core.Reply {
	t.Helper()
	rep, err := s.CallArgs(context.Background(), args...)
	if err != nil {
		t.Fatalf("%s: CallArgs(%q): %v", s.Name(), args, err)
	}
	return rep
}

// queueOn returns a queue name, with the given prefix, that r places on
// shard name.
func queueOn(t *testing.T, r *Router, name, prefix string) string {
	t.Helper()
	for i := 0; i < 10000; i++ {
		q := fmt.Sprintf("%s%d", prefix, i)
		if owner, _ := r.Locate(q); owner == name {
			return q
		}
	}
	t.Fatalf("no queue with prefix %q on shard %s", prefix, name)
	return ""
}

// jidHomedOn returns a jid, with the given prefix, whose home shard is name.
func jidHomedOn(t *testing.T, r *Router, name, prefix string) string {
	t.Helper()
	return queueOn(t, r, name, prefix) // the same placement applies to jids
}

// waitFor polls cond until it returns "" (done) or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done after %s: %s", what, timeout, msg)
		}
		time.Sleep(10 * time.Millisecond) // polling an external process
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := DefaultLocalConfig()
	good.Shards = []ShardConfig{{Name: "a", URL: "redis://127.0.0.1:1"}, {Name: "b", Weight: 2}}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	cases := []struct {
		name  string
		tweak func(*Config)
		want  string
	}{
		{"no shards", func(c *Config) { c.Shards = nil }, "Config.Shards is empty"},
		{"bad name", func(c *Config) { c.Shards[0].Name = "a b" }, "Config.Shards[0].Name"},
		{"repeated", func(c *Config) { c.Shards[1].Name = "a" }, `Config.Shards[1].Name "a" is repeated`},
		{"weight", func(c *Config) { c.Shards[1].Weight = -1 }, "Config.Shards[1].Weight"},
		{"fan-out", func(c *Config) { c.FanOutTimeout = 0 }, "Config.FanOutTimeout"},
		{"cache", func(c *Config) { c.JidCacheSize = 0 }, "Config.JidCacheSize"},
		{"publish", func(c *Config) { c.PublishTimeout = -1 }, "Config.PublishTimeout"},
		{"subscribe", func(c *Config) { c.SubscribeTimeout = 0 }, "Config.SubscribeTimeout"},
		{"queue limit", func(c *Config) { c.EventQueueLimit = 0 }, "Config.EventQueueLimit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := good
			c.Shards = append([]ShardConfig(nil), good.Shards...)
			tc.tweak(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestNewRejectsMismatchedShards(t *testing.T) {
	t.Parallel()
	cfg := DefaultLocalConfig()
	cfg.Shards = []ShardConfig{{Name: "a"}, {Name: "b"}}
	if _, err := NewWithShards(cfg, []Shard{&stubShard{name: "a"}}); err == nil {
		t.Fatal("NewWithShards with a missing shard client: want an error")
	}
	if _, err := NewWithShards(cfg, []Shard{&stubShard{name: "a"}, &stubShard{name: "c"}}); err == nil {
		t.Fatal("NewWithShards with an unknown shard: want an error")
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	cfg := DefaultLocalConfig()
	r, err := NewWithShards(cfg, []Shard{&stubShard{name: "a"}, &stubShard{name: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	if err := r.Start(context.Background()); !errors.Is(err, core.ErrStopped) {
		t.Fatalf("Start after Stop = %v, want ErrStopped", err)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	got, _ := r.Routers(context.Background())
	if len(got) != 1 || got[0].Name != r.Name() {
		t.Fatalf("Routers() = %v, want only this router", got)
	}
}

// stubShard is a Shard that does no I/O: publishes loop back to its
// subscriber (unless muted), everything else answers nil.
type stubShard struct {
	name    string
	muted   atomic.Bool // drop publishes silently
	sub     atomic.Pointer[func(channel, message string)]
	healthy atomic.Bool
}

func newStubShard(name string) *stubShard {
	s := &stubShard{name: name}
	s.healthy.Store(true)
	return s
}

func (s *stubShard) Name() string                  { return s.name }
func (s *stubShard) Start(context.Context) error   { return nil }
func (s *stubShard) Stop(context.Context) error    { return nil }
func (s *stubShard) Healthy() bool                 { return s.healthy.Load() }
func (s *stubShard) FlushDB(context.Context) error { return nil }
func (s *stubShard) CallArgs(context.Context, ...string) (core.Reply, error) {
	return core.NilReply(), nil
}
func (s *stubShard) Do(context.Context, ...string) (core.Reply, error) { return core.NilReply(), nil }
func (s *stubShard) Publish(_ context.Context, channel, message string) error {
	if s.muted.Load() {
		return nil
	}
	s.emit(channel, message)
	return nil
}
func (s *stubShard) emit(channel, message string) {
	if fn := s.sub.Load(); fn != nil {
		(*fn)(channel, message)
	}
}
func (s *stubShard) Subscribe(ctx context.Context, fn func(channel, message string)) error {
	s.sub.Store(&fn)
	<-ctx.Done()
	return nil
}
