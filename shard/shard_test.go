package shard

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/redisproc"
	"github.com/qless-router/qless-router/internal/redistest"
)

// fakeScript is a stand-in for the qless script with its invocation
// protocol (spec 1.1) and one command per reply shape, so that these tests
// do not depend on the progress of package lua.
const fakeScript = `
if #KEYS > 0 then error('No Keys should be provided') end
local command = ARGV[1]
if not command then error('Must provide a command') end
local now
if #ARGV < 2 then now = tonumber() else now = tonumber(ARGV[2]) end
if not now then error('Arg "now" missing or not a number: nil') end
local commands = {
  str = function() return 'hello' end,
  json = function() return '{"a":[1,2]}' end,
  int = function() return 2.7 end,
  neg = function() return -2.7 end,
  none = function() return nil end,
  ['false'] = function() return false end,
  ['true'] = function() return true end,
  arr = function() return {'a', 'b', 'c'} end,
  empty = function() return {} end,
  args = function() local out = {} for i = 3, #ARGV do out[#out + 1] = ARGV[i] end return out end,
  put = function() redis.call('zadd', 'ql:q:' .. ARGV[3] .. '-work', 0, ARGV[4]) return ARGV[4] end,
  boom = function() error('Boom(): Arg "x" missing') end,
  assert = function() assert(false) end,
  wrongargs = function() return redis.call('del') end,
  publish = function() redis.call('publish', 'ql:log', ARGV[3]) end,
}
local f = commands[command]
if not f then error('Unknown command ' .. command) end
return f()
`

func sha(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// testShard returns an unstarted Shard for the Redis at addr, running
// fakeScript, with the local timings; tweak changes the Config.
func testShard(t *testing.T, addr string, tweak ...func(*Config)) *Shard {
	t.Helper()
	cfg := DefaultLocalConfig()
	cfg.Name = "s1"
	cfg.URL = "redis://" + addr
	cfg.Functions = false // (fakeScript has no library form; qlessShard turns it on)
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.script, s.sha = fakeScript, sha(fakeScript)
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

// startShard is testShard, started.
func startShard(t *testing.T, addr string, tweak ...func(*Config)) *Shard {
	t.Helper()
	s := testShard(t, addr, tweak...)
	if err := s.Start(ctx(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, bounded by the deadline
	}
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// restart starts a new redis-server on the port of a killed one.
func restart(t *testing.T, addr string) *redisproc.Server {
	t.Helper()
	srv, err := redisproc.Start(context.Background(), redisproc.Config{Port: port(t, addr)})
	if err != nil {
		t.Fatalf("restart redis on %s: %v", addr, err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

func TestCallReplies(t *testing.T) {
	t.Parallel()
	s := startShard(t, redistest.Start(t).Addr)
	tests := []struct {
		cmd  string
		args []string
		want core.Reply
	}{
		{"str", nil, core.StringReply("hello")},
		{"json", nil, core.StringReply(`{"a":[1,2]}`)},
		{"int", nil, core.IntReply(2)},
		{"neg", nil, core.IntReply(-2)},
		{"none", nil, core.NilReply()},
		{"false", nil, core.NilReply()},
		{"true", nil, core.IntReply(1)},
		{"arr", nil, core.ArrayReply([]string{"a", "b", "c"})},
		{"empty", nil, core.ArrayReply([]string{})},
		{"args", []string{"x", "", "z y"}, core.ArrayReply([]string{"x", "", "z y"})},
	}
	for _, tt := range tests {
		got, err := s.Call(ctx(t), tt.cmd, "1700000000.5", tt.args...)
		if err != nil {
			t.Fatalf("Call(%q): %v", tt.cmd, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Call(%q) (-want +got):\n%s", tt.cmd, diff)
		}
		if tt.want.Type == core.ReplyArray && got.Array == nil {
			t.Errorf("Call(%q) gave a nil array, want an empty one", tt.cmd)
		}
	}
	if !s.Healthy() || s.LastError() != nil {
		t.Errorf("Healthy() = %v, LastError() = %v; want true, nil", s.Healthy(), s.LastError())
	}
}

// A unix:// URL reaches a shard over its Unix domain socket: calls and
// events work as over TCP.
func TestUnixSocket(t *testing.T) {
	t.Parallel()
	srv, err := redisproc.Start(context.Background(), redisproc.Config{UnixSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	if srv.Socket == "" {
		t.Fatal("redisproc: no Socket with UnixSocket set")
	}
	s := startShard(t, "", func(c *Config) { c.URL = "unix://" + srv.Socket })
	got, err := s.Call(ctx(t), "args", "1700000000.5", "via", "socket")
	if err != nil {
		t.Fatalf("Call over %s: %v", s.cfg.URL, err)
	}
	if diff := cmp.Diff(core.ArrayReply([]string{"via", "socket"}), got); diff != "" {
		t.Errorf("Call over the socket (-want +got):\n%s", diff)
	}
	if err := s.Publish(ctx(t), "ql:log", "m"); err != nil {
		t.Fatalf("Publish over the socket: %v", err)
	}
	if !s.Healthy() {
		t.Errorf("Healthy() = false over the socket, LastError() = %v", s.LastError())
	}
}

func TestScriptErrors(t *testing.T) {
	t.Parallel()
	s := startShard(t, redistest.Start(t).Addr)
	tests := []struct {
		name string
		call func() (core.Reply, error)
		msg  string
	}{
		{"qless error", func() (core.Reply, error) { return s.Call(ctx(t), "boom", "1") }, `Boom(): Arg "x" missing`},
		{"unknown command", func() (core.Reply, error) { return s.Call(ctx(t), "nope", "1") }, "Unknown command nope"},
		{"bad now", func() (core.Reply, error) { return s.Call(ctx(t), "str", "soon") }, `Arg "now" missing or not a number: nil`},
		{"empty now", func() (core.Reply, error) { return s.Call(ctx(t), "str", "") }, `Arg "now" missing or not a number: nil`},
		{"missing now", func() (core.Reply, error) { return s.CallArgs(ctx(t), "str") }, "bad argument #1 to 'tonumber' (value expected)"},
		{"missing command", func() (core.Reply, error) { return s.CallArgs(ctx(t)) }, "Must provide a command"},
		{"assertion", func() (core.Reply, error) { return s.Call(ctx(t), "assert", "1") }, "assertion failed!"},
		{"keys", func() (core.Reply, error) { return s.Do(ctx(t), "EVALSHA", s.sha, "1", "k", "str", "1") }, "No Keys should be provided"},
		{"wrong arity", func() (core.Reply, error) { return s.Call(ctx(t), "wrongargs", "1") }, "Wrong number of args calling Redis command from script"},
	}
	for _, tt := range tests {
		_, err := tt.call()
		var se *core.ScriptError
		if !errors.As(err, &se) {
			t.Errorf("%s: error %T %v, want *core.ScriptError", tt.name, err, err)
			continue
		}
		if se.Message != tt.msg {
			t.Errorf("%s: Message = %q, want %q (Text %q)", tt.name, se.Message, tt.msg, se.Text)
		}
		if !strings.HasPrefix(se.Text, "ERR ") || se.Error() != se.Text {
			t.Errorf("%s: Text = %q, want the full error text starting with ERR", tt.name, se.Text)
		}
		if tt.name != "keys" && tt.name != "wrong arity" && !strings.Contains(se.Text, "user_script:") {
			t.Errorf("%s: Text = %q, want the user_script: wrapping", tt.name, se.Text)
		}
	}
	// A script error is not a shard failure.
	if !s.Healthy() {
		t.Errorf("Healthy() = false after script errors")
	}
}

func TestNoScriptFallback(t *testing.T) {
	t.Parallel()
	s := startShard(t, redistest.Start(t).Addr)
	exists := func() core.Reply {
		r, err := s.Do(ctx(t), "SCRIPT", "EXISTS", s.sha)
		if err != nil {
			t.Fatalf("SCRIPT EXISTS: %v", err)
		}
		return r
	}
	if diff := cmp.Diff(core.ArrayReply([]string{"1"}), exists()); diff != "" {
		t.Fatalf("script not loaded by Start (-want +got):\n%s", diff)
	}
	if _, err := s.Do(ctx(t), "SCRIPT", "FLUSH"); err != nil {
		t.Fatalf("SCRIPT FLUSH: %v", err)
	}
	if diff := cmp.Diff(core.ArrayReply([]string{"0"}), exists()); diff != "" {
		t.Fatalf("script still loaded after flush (-want +got):\n%s", diff)
	}
	got, err := s.Call(ctx(t), "str", "1")
	if err != nil || !cmp.Equal(got, core.StringReply("hello")) {
		t.Fatalf("Call after SCRIPT FLUSH = %v, %v; want \"hello\"", got, err)
	}
	if diff := cmp.Diff(core.ArrayReply([]string{"1"}), exists()); diff != "" {
		t.Fatalf("the call did not load the script again (-want +got):\n%s", diff)
	}
}

func TestDoPublishFlush(t *testing.T) {
	t.Parallel()
	s := startShard(t, redistest.Start(t).Addr)
	if _, err := s.Call(ctx(t), "put", "1", "q", "j1"); err != nil {
		t.Fatalf("Call(put): %v", err)
	}
	checks := []struct {
		args []string
		want core.Reply
	}{
		{[]string{"ZCARD", "ql:q:q-work"}, core.IntReply(1)},
		{[]string{"ZSCORE", "ql:q:q-work", "j1"}, core.StringReply("0")},
		{[]string{"ZSCORE", "ql:q:q-work", "nope"}, core.NilReply()},
		{[]string{"ZRANGE", "ql:q:q-work", "0", "-1", "WITHSCORES"}, core.ArrayReply([]string{"j1", "0"})},
		{[]string{"ZRANGE", "ql:q:none", "0", "-1"}, core.ArrayReply([]string{})},
	}
	for _, c := range checks {
		got, err := s.Do(ctx(t), c.args...)
		if err != nil {
			t.Fatalf("Do(%q): %v", c.args, err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("Do(%q) (-want +got):\n%s", c.args, diff)
		}
	}
	if _, err := s.Do(ctx(t), "GET", "ql:q:q-work"); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Errorf("Do(GET of a zset) error = %v, want WRONGTYPE", err)
	}
	for _, bad := range [][]string{nil, {""}, {"psubscribe", "x"}} {
		if _, err := s.Do(ctx(t), bad...); err == nil {
			t.Errorf("Do(%q) = nil error, want one", bad)
		}
	}
	if err := s.Publish(ctx(t), "ql:log", "x"); err != nil {
		t.Errorf("Publish: %v", err)
	}
	if err := s.FlushDB(ctx(t)); err != nil {
		t.Fatalf("FlushDB: %v", err)
	}
	if got, _ := s.Do(ctx(t), "DBSIZE"); !cmp.Equal(got, core.IntReply(0)) {
		t.Errorf("DBSIZE after FlushDB = %v, want 0", got)
	}
}

// collector gathers subscribed messages without blocking.
type collector struct {
	mu   sync.Mutex
	msgs []string
}

func (c *collector) add(ch, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, ch+" "+msg)
}

func (c *collector) has(m string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.msgs {
		if x == m {
			return true
		}
	}
	return false
}

func (c *collector) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// subscribe runs Subscribe in a goroutine until the test ends, and waits
// until messages flow (a probe published on ql:probe arrives).
func subscribe(t *testing.T, s *Shard) *collector {
	t.Helper()
	c := &collector{}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Subscribe(sctx, c.add) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Subscribe: %v", err)
		}
	})
	waitSubscribed(t, s, c)
	return c
}

// waitSubscribed publishes probes until one arrives.
func waitSubscribed(t *testing.T, s *Shard, c *collector) {
	t.Helper()
	i := 0
	eventually(t, "the subscription", func() bool {
		i++
		probe := "probe-" + strconv.Itoa(i)
		r, err := s.Do(ctx(t), "PUBLISH", "ql:probe", probe)
		if err != nil || r.Int == 0 {
			return false
		}
		eventually(t, "probe "+probe, func() bool { return c.has("ql:probe " + probe) })
		return true
	})
}

func TestSubscribe(t *testing.T) {
	t.Parallel()
	s := startShard(t, redistest.Start(t).Addr)
	c := subscribe(t, s)
	for i := 0; i < 50; i++ {
		if err := s.Publish(ctx(t), "ql:track", "j"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Publish(ctx(t), "other", "not mine"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Call(ctx(t), "publish", "1", `{"jid":"j","event":"put","queue":"q"}`); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the script's message", func() bool { return c.has(`ql:log {"jid":"j","event":"put","queue":"q"}`) })
	var got []string
	for _, m := range c.get() {
		if strings.HasPrefix(m, "ql:track ") {
			got = append(got, m)
		}
		if strings.HasPrefix(m, "other") {
			t.Errorf("received %q from a non-ql channel", m)
		}
	}
	var want []string
	for i := 0; i < 50; i++ {
		want = append(want, "ql:track j"+strconv.Itoa(i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages out of order or lost (-want +got):\n%s", diff)
	}
}

func TestSubscribeAfterRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := startShard(t, srv.Addr)
	c := subscribe(t, s)
	srv.Kill()
	eventually(t, "Healthy() = false", func() bool { return !s.Healthy() })
	restart(t, srv.Addr)
	waitSubscribed(t, s, c)
	if err := s.Publish(ctx(t), "ql:put", "after"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a message after the restart", func() bool { return c.has("ql:put after") })
}

func TestHealth(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := startShard(t, srv.Addr)
	if !s.Healthy() {
		t.Fatalf("Healthy() = false after Start")
	}
	srv.Kill()
	eventually(t, "Healthy() = false", func() bool { return !s.Healthy() })
	if err := s.LastError(); !errors.Is(err, core.ErrShardDown) {
		t.Errorf("LastError() = %v, want core.ErrShardDown", err)
	}
	_, err := s.Call(ctx(t), "str", "1")
	var se *core.ShardError
	if !errors.As(err, &se) || se.Shard != "s1" || !errors.Is(err, core.ErrShardDown) {
		t.Errorf("Call on a dead shard: %v, want a *core.ShardError of s1 matching ErrShardDown", err)
	}
	restart(t, srv.Addr)
	eventually(t, "Healthy() = true", s.Healthy)
	if s.LastError() != nil {
		t.Errorf("LastError() = %v while healthy", s.LastError())
	}
	// The restarted server lost the script; the health loop loaded it again.
	if r, err := s.Do(ctx(t), "SCRIPT", "EXISTS", s.sha); err != nil || r.Array[0] != "1" {
		t.Errorf("SCRIPT EXISTS after restart = %v, %v; want [1]", r, err)
	}
	if got, err := s.Call(ctx(t), "str", "1"); err != nil || !cmp.Equal(got, core.StringReply("hello")) {
		t.Errorf("Call after restart = %v, %v", got, err)
	}
}

// TestHealthFakeClock shows the health loop runs on the injected clock: a
// dead shard noticed by a call recovers only when the clock moves.
func TestHealthFakeClock(t *testing.T) {
	t.Parallel()
	clock := core.NewFakeClock(time.Unix(1700000000, 0))
	srv := redistest.Start(t)
	s := startShard(t, srv.Addr, func(c *Config) { c.Clock = clock; c.HealthInterval = time.Minute })
	if err := clock.WaitForTimers(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if _, err := s.Call(ctx(t), "str", "1"); !errors.Is(err, core.ErrShardDown) {
		t.Fatalf("Call on a dead shard: %v, want core.ErrShardDown", err)
	}
	if s.Healthy() {
		t.Fatal("Healthy() = true after a call failed to connect")
	}
	restart(t, srv.Addr)
	eventually(t, "Healthy() = true after advancing the clock", func() bool {
		clock.Advance(time.Minute)
		return s.Healthy()
	})
}

func TestStartDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	s := testShard(t, addr)
	err = s.Start(ctx(t))
	var se *core.ShardError
	if !errors.As(err, &se) || se.Shard != "s1" || !errors.Is(err, core.ErrShardDown) {
		t.Fatalf("Start on a closed port: %v, want a *core.ShardError of s1 matching ErrShardDown", err)
	}

	s2 := testShard(t, addr, func(c *Config) { c.StartDown = true })
	if err := s2.Start(ctx(t)); err != nil {
		t.Fatalf("Start with StartDown: %v", err)
	}
	if s2.Healthy() {
		t.Fatal("Healthy() = true for an unreachable shard")
	}
	if _, err := s2.Call(ctx(t), "str", "1"); !errors.Is(err, core.ErrShardDown) {
		t.Fatalf("Call before connecting: %v, want core.ErrShardDown", err)
	}
	// A subscription made while the shard is down starts flowing once the
	// shard is reached.
	c := &collector{}
	sctx, cancel := context.WithCancel(context.Background())
	subDone := make(chan error, 1)
	go func() { subDone <- s2.Subscribe(sctx, c.add) }()
	defer func() {
		cancel()
		if err := <-subDone; err != nil {
			t.Errorf("Subscribe: %v", err)
		}
	}()
	restart(t, addr)
	eventually(t, "Healthy() = true", s2.Healthy)
	waitSubscribed(t, s2, c)
	if got, err := s2.Call(ctx(t), "str", "1"); err != nil || !cmp.Equal(got, core.StringReply("hello")) {
		t.Errorf("Call once connected = %v, %v", got, err)
	}
	// The first Shard can be started now.
	if err := s.Start(ctx(t)); err != nil {
		t.Fatalf("second Start after a failed one: %v", err)
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t).Addr

	unstarted := testShard(t, addr)
	for i := 0; i < 2; i++ {
		if err := unstarted.Stop(ctx(t)); err != nil {
			t.Fatalf("Stop before Start (%d): %v", i, err)
		}
	}
	if err := unstarted.Start(ctx(t)); !errors.Is(err, core.ErrStopped) {
		t.Errorf("Start after Stop: %v, want core.ErrStopped", err)
	}
	if _, err := unstarted.Call(ctx(t), "str", "1"); !errors.Is(err, core.ErrStopped) {
		t.Errorf("Call on a stopped shard: %v, want core.ErrStopped", err)
	}
	if err := unstarted.Subscribe(ctx(t), func(string, string) {}); err != nil {
		t.Errorf("Subscribe on a stopped shard: %v, want nil", err)
	}

	s := startShard(t, addr)
	if err := s.Start(ctx(t)); err == nil {
		t.Error("second Start = nil error, want one")
	}
	subDone := make(chan error, 1)
	go func() { subDone <- s.Subscribe(context.Background(), func(string, string) {}) }()
	for i := 0; i < 3; i++ {
		if err := s.Stop(ctx(t)); err != nil {
			t.Fatalf("Stop (%d): %v", i, err)
		}
	}
	select {
	case err := <-subDone:
		if err != nil {
			t.Errorf("Subscribe after Stop returned %v, want nil", err)
		}
	case <-ctx(t).Done():
		t.Fatal("Subscribe did not return after Stop")
	}
	if _, err := s.Call(ctx(t), "str", "1"); !errors.Is(err, core.ErrStopped) {
		t.Errorf("Call after Stop: %v, want core.ErrStopped", err)
	}
	if err := s.Publish(ctx(t), "ql:x", "y"); !errors.Is(err, core.ErrStopped) {
		t.Errorf("Publish after Stop: %v, want core.ErrStopped", err)
	}
}

func TestSubscribeBeforeStart(t *testing.T) {
	t.Parallel()
	s := testShard(t, "127.0.0.1:1")
	if err := s.Subscribe(ctx(t), func(string, string) {}); err == nil {
		t.Error("Subscribe before Start = nil error, want one")
	}
}

// TestConcurrentCalls runs calls from many goroutines on shared pipelines.
func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	s := startShard(t, redistest.Start(t).Addr)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				want := strconv.Itoa(g) + "-" + strconv.Itoa(i)
				got, err := s.Call(ctx(t), "args", "1", want)
				if err != nil || len(got.Array) != 1 || got.Array[0] != want {
					errs <- errors.New("Call(args " + want + ") = " + got.String())
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestReadOnly: a primary demoted to a replica (as during a failover)
// answers writes with READONLY, which is a shard failure, not a script
// answer.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	primary := redistest.Start(t)
	s := startShard(t, redistest.Start(t).Addr)
	host, p, _ := net.SplitHostPort(primary.Addr)
	if _, err := s.Do(ctx(t), "REPLICAOF", host, p); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	_, err := s.Call(ctx(t), "put", "1", "q", "j")
	t.Logf("write on a replica: %v", err)
	var se *core.ShardError
	if !errors.As(err, &se) || !errors.Is(err, core.ErrShardDown) || !strings.Contains(err.Error(), "READONLY") {
		t.Fatalf("write on a replica: %v, want a *core.ShardError matching ErrShardDown with READONLY", err)
	}
	if got, err := s.Call(ctx(t), "str", "1"); err != nil || !cmp.Equal(got, core.StringReply("hello")) {
		t.Errorf("read on a replica = %v, %v", got, err)
	}
}

// TestStartStopRace stops shards while they start; the race detector and
// the leak check in TestMain judge the outcome.
func TestStartStopRace(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t).Addr
	for i := 0; i < 10; i++ {
		s := testShard(t, addr)
		started := make(chan error, 1)
		go func() { started <- s.Start(ctx(t)) }()
		if err := s.Stop(ctx(t)); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if err := <-started; err != nil && !errors.Is(err, core.ErrStopped) {
			t.Fatalf("Start racing Stop: %v, want nil or core.ErrStopped", err)
		}
		if _, err := s.Call(ctx(t), "str", "1"); !errors.Is(err, core.ErrStopped) {
			t.Fatalf("Call after Stop: %v, want core.ErrStopped", err)
		}
	}
}
