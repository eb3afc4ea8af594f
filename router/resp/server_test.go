package resp

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/rueidis"
)

func newClient(t *testing.T, addr, password string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:  []string{addr},
		DisableCache: true,
		Password:     password,
	})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%s): %v", addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sha1Of(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// errText returns the error text of err as rueidis reports it ("" for
// nil). rueidis drops a leading "ERR " of error replies, so tests compare
// with rueidisText(want); TestErrorTextsRaw checks the bytes on the wire.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func rueidisText(s string) string { return strings.TrimPrefix(s, "ERR ") }

// TestStockClientFlow drives the server as a stock qless client does, through
// rueidis (which first tries HELLO 3 and must fall back to RESP2).
func TestStockClientFlow(t *testing.T) {
	t.Parallel()
	s, b := startServer(t, nil)
	c := newClient(t, s.Addr(), "")
	ctx := ctxT(t)

	clientScript := "-- the client's bundled qless.lua\nlocal QlessAPI = {}\n"
	sha, err := c.Do(ctx, c.B().ScriptLoad().Script(clientScript).Build()).ToString()
	if err != nil {
		t.Fatalf("SCRIPT LOAD: %v", err)
	}
	if want := sha1Of(clientScript); sha != want {
		t.Fatalf("SCRIPT LOAD = %q, want sha1 %q", sha, want)
	}

	got, err := c.Do(ctx, c.B().Evalsha().Sha1(sha).Numkeys(0).Arg("put", "1700000000.5", "w", "q", "jid1", "Klass", "{}", "0").Build()).ToString()
	if err != nil {
		t.Fatalf("EVALSHA put: %v", err)
	}
	if want := "put 1700000000.5 w q jid1 Klass {} 0"; got != want {
		t.Errorf("EVALSHA put = %q, want %q", got, want)
	}
	if diff := cmp.Diff([]string{"put", "1700000000.5", "w", "q", "jid1", "Klass", "{}", "0"}, b.lastQless()); diff != "" {
		t.Errorf("Backend.Qless args (-want +got):\n%s", diff)
	}

	// Upper-case SHA works as on Redis.
	if _, err := c.Do(ctx, c.B().Evalsha().Sha1(strings.ToUpper(sha)).Numkeys(0).Arg("get", "1", "jid1").Build()).ToString(); err != nil {
		t.Errorf("EVALSHA with upper-case sha: %v", err)
	}

	// The server's own script is known without SCRIPT LOAD.
	if _, err := c.Do(ctx, c.B().Evalsha().Sha1(sha1Of(ownScript)).Numkeys(0).Arg("get", "1", "j").Build()).ToString(); err != nil {
		t.Errorf("EVALSHA own script: %v", err)
	}

	// Unknown SHA: the exact NOSCRIPT text clients compare against.
	err = c.Do(ctx, c.B().Evalsha().Sha1(sha1Of("never loaded")).Numkeys(0).Arg("get", "1", "j").Build()).Error()
	if want := "NOSCRIPT No matching script. Please use EVAL."; errText(err) != rueidisText(want) {
		t.Errorf("EVALSHA unknown sha: err %q, want %q", errText(err), want)
	}

	// rueidis' Lua helper: EVALSHA, NOSCRIPT, then EVAL, which makes the SHA known.
	other := "-- another copy of qless.lua\n"
	v, err := rueidis.NewLuaScript(other).Exec(ctx, c, nil, []string{"int", "1"}).AsInt64()
	if err != nil || v != 42 {
		t.Errorf("Lua.Exec = %d, %v; want 42", v, err)
	}
	exists, err := c.Do(ctx, c.B().ScriptExists().Sha1(sha1Of(other), sha, sha1Of("nope")).Build()).AsIntSlice()
	if err != nil {
		t.Fatalf("SCRIPT EXISTS: %v", err)
	}
	if diff := cmp.Diff([]int64{1, 1, 0}, exists); diff != "" {
		t.Errorf("SCRIPT EXISTS (-want +got):\n%s", diff)
	}

	// Script errors pass through verbatim; other errors become ERR <msg>.
	err = c.Do(ctx, c.B().Evalsha().Sha1(sha).Numkeys(0).Arg("script-error", "1").Build()).Error()
	if errText(err) != rueidisText(scriptErrText) {
		t.Errorf("script error = %q, want %q", errText(err), scriptErrText)
	}
	err = c.Do(ctx, c.B().Evalsha().Sha1(sha).Numkeys(0).Arg("shard-down", "1").Build()).Error()
	if want := "ERR put: shard s1: shard down"; errText(err) != rueidisText(want) {
		t.Errorf("shard error = %q, want %q", errText(err), want)
	}

	// Keys are refused with the script's own error.
	err = c.Do(ctx, c.B().Evalsha().Sha1(sha).Numkeys(1).Key("k").Arg("get", "1").Build()).Error()
	if want := "ERR user_script:1: No Keys should be provided script: " + sha + ", on @user_script:1."; errText(err) != rueidisText(want) {
		t.Errorf("EVALSHA with a key = %q, want %q", errText(err), want)
	}

	// Reply shapes.
	arr, err := c.Do(ctx, c.B().Evalsha().Sha1(sha).Numkeys(0).Arg("array", "a", "b").Build()).AsStrSlice()
	if err != nil || !cmp.Equal([]string{"a", "b"}, arr) {
		t.Errorf("array reply = %q, %v", arr, err)
	}
	empty, err := c.Do(ctx, c.B().Evalsha().Sha1(sha).Numkeys(0).Arg("array").Build()).ToArray()
	if err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("empty array reply = %v, %v; want an empty (non-nil) array", empty, err)
	}
	if err := c.Do(ctx, c.B().Evalsha().Sha1(sha).Numkeys(0).Arg("nil").Build()).Error(); !rueidis.IsRedisNil(err) {
		t.Errorf("nil reply: err %v, want redis nil", err)
	}

	// SCRIPT FLUSH forgets the client's script but not the server's own.
	if err := c.Do(ctx, c.B().ScriptFlush().Build()).Error(); err != nil {
		t.Fatalf("SCRIPT FLUSH: %v", err)
	}
	exists, _ = c.Do(ctx, c.B().ScriptExists().Sha1(sha, sha1Of(ownScript)).Build()).AsIntSlice()
	if diff := cmp.Diff([]int64{0, 1}, exists); diff != "" {
		t.Errorf("SCRIPT EXISTS after FLUSH (-want +got):\n%s", diff)
	}

	// Ruby's Queue#length: MULTI, four ZCARDs, EXEC.
	var res []rueidis.RedisResult
	c.Dedicated(func(d rueidis.DedicatedClient) error {
		res = d.DoMulti(ctx,
			d.B().Multi().Build(),
			d.B().Zcard().Key("ql:q:jobs-locks").Build(),
			d.B().Zcard().Key("ql:q:jobs-work").Build(),
			d.B().Zcard().Key("ql:q:jobs-scheduled").Build(),
			d.B().Zcard().Key("ql:q:jobs-depends").Build(),
			d.B().Exec().Build())
		return nil
	})
	for i := 1; i <= 4; i++ {
		if st, err := res[i].ToString(); err != nil || st != "QUEUED" {
			t.Errorf("queued ZCARD %d = %q, %v; want QUEUED", i, st, err)
		}
	}
	counts, err := res[5].AsIntSlice()
	if err != nil {
		t.Fatalf("EXEC: %v", err)
	}
	if diff := cmp.Diff([]int64{15, 14, 19, 17}, counts); diff != "" {
		t.Errorf("EXEC replies (-want +got):\n%s", diff)
	}

	// qless-py's RecurringJob.next.
	score, err := c.Do(ctx, c.B().Zscore().Key("ql:q:jobs-recur").Member("jid").Build()).ToString()
	if err != nil || score != "1700000000.5" {
		t.Errorf("ZSCORE = %q, %v", score, err)
	}

	// Server commands a client issues.
	info, err := c.Do(ctx, c.B().Info().Build()).ToString()
	if err != nil {
		t.Fatalf("INFO: %v", err)
	}
	for _, want := range []string{"redis_version:7.0.15\r\n", "# Cluster\r\n", "qless_shards:3\r\n", "qless_script_sha:" + sha1Of(ownScript)} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q:\n%s", want, info)
		}
	}
	if err := c.Do(ctx, c.B().Select().Index(0).Build()).Error(); err != nil {
		t.Errorf("SELECT 0: %v", err)
	}
	err = c.Do(ctx, c.B().Select().Index(1).Build()).Error()
	if want := "ERR DB index is out of range"; errText(err) != rueidisText(want) {
		t.Errorf("SELECT 1 = %q, want %q", errText(err), want)
	}
	err = c.Do(ctx, c.B().Arbitrary("KEYS").Args("*").Build()).Error()
	if want := "ERR unknown command 'KEYS'"; errText(err) != rueidisText(want) {
		t.Errorf("KEYS = %q, want %q", errText(err), want)
	}
	n, err := c.Do(ctx, c.B().Publish().Channel("private-uuid").Message("disconnect").Build()).AsInt64()
	if err != nil || n != 0 { // no client has subscribed: the server has no feed yet
		t.Errorf("PUBLISH = %d, %v; want 0", n, err)
	}

	// Cluster commands.
	routers, err := c.Do(ctx, c.B().Arbitrary("QLESS.ROUTERS").Build()).ToAny()
	if err != nil {
		t.Fatalf("QLESS.ROUTERS: %v", err)
	}
	wantRouters := []any{[]any{"r1", "127.0.0.1:6380", "127.0.0.1:8080"}, []any{"r2", "127.0.0.1:6381", ""}}
	if diff := cmp.Diff(wantRouters, routers); diff != "" {
		t.Errorf("QLESS.ROUTERS (-want +got):\n%s", diff)
	}
	shard, err := c.Do(ctx, c.B().Arbitrary("qless.locate").Args("jobs").Build()).ToString()
	if err != nil || shard != "shard-jobs" {
		t.Errorf("QLESS.LOCATE jobs = %q, %v", shard, err)
	}
}

// TestHelloFallback checks the exact HELLO answer RESP3 clients rely on to
// fall back to RESP2.
func TestHelloFallback(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, func(c *Config) { c.Password = "pw" })
	r := dialRaw(t, s.Addr())
	for _, args := range [][]string{{"HELLO", "3"}, {"hello", "3", "AUTH", "default", "pw"}, {"HELLO"}} {
		if got, want := r.do(args...), respError("ERR unknown command 'HELLO'"); got != want {
			t.Errorf("%q = %#v, want %#v", args, got, want)
		}
	}
}

func TestRawCommands(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, func(c *Config) { c.AdminPassword = "admin" })
	r := dialRaw(t, s.Addr())
	tests := []struct {
		args []string
		want any
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"ping", "hi"}, "hi"},
		{[]string{"ECHO", "x"}, "x"},
		{[]string{"CLIENT", "SETNAME", "worker-1"}, "OK"},
		{[]string{"CLIENT", "GETNAME"}, "worker-1"},
		{[]string{"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}, "OK"},
		{[]string{"CLIENT", "SETNAME", "bad name"}, respError("ERR Client names cannot contain spaces, newlines or special characters.")},
		{[]string{"COMMAND"}, []any{}},
		{[]string{"FLUSHDB"}, respError("NOPERM this connection has no permissions to run the 'flushdb' command: AUTH with the admin password first")},
		{[]string{"AUTH", "x"}, respError("WRONGPASS invalid username-password pair or user is disabled.")},
		{[]string{"AUTH", "admin"}, "OK"},
		{[]string{"FLUSHDB"}, "OK"},
		{[]string{"UNSUBSCRIBE"}, []any{"unsubscribe", nil, int64(0)}},
		{[]string{"GET", "k"}, respError("ERR unknown command 'GET'")},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, r.do(tt.args...)); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.args, diff)
		}
	}
	if got, ok := r.do("CLIENT", "ID").(int64); !ok || got <= 0 {
		t.Errorf("CLIENT ID = %v, want a positive integer", got)
	}
}

// TestErrorTextsRaw checks error replies byte for byte.
func TestErrorTextsRaw(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, nil)
	r := dialRaw(t, s.Addr())
	own := sha1Of(ownScript)
	tests := []struct {
		args []string
		want any
	}{
		{[]string{"EVALSHA", own, "0", "script-error"}, respError(scriptErrText)},
		{[]string{"EVALSHA", own, "0", "shard-down"}, respError("ERR put: shard s1: shard down")},
		{[]string{"EVALSHA", own, "1", "k", "get"}, respError("ERR user_script:1: No Keys should be provided script: " + own + ", on @user_script:1.")},
		{[]string{"EVALSHA", sha1Of("x"), "0", "get"}, respError("NOSCRIPT No matching script. Please use EVAL.")},
		{[]string{"SELECT", "1"}, respError("ERR DB index is out of range")},
		{[]string{"FOO", "bar"}, respError("ERR unknown command 'FOO'")},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, r.do(tt.args...)); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.args, diff)
		}
	}
}

func TestQuit(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, nil)
	r := dialRaw(t, s.Addr())
	if got := r.do("QUIT"); got != "OK" {
		t.Fatalf("QUIT = %#v, want OK", got)
	}
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readValue(r.rd); !errors.Is(err, io.EOF) {
		t.Errorf("after QUIT: read err %v, want EOF", err)
	}
	waitFor(t, "the connection to be forgotten", func() bool { return s.connectedClients() == 0 })
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s, b := startServer(t, func(c *Config) {
		c.Password = "secret"
		c.AdminPassword = "admin-secret"
	})
	ctx := ctxT(t)

	r := dialRaw(t, s.Addr())
	steps := []struct {
		args []string
		want any
	}{
		{[]string{"PING"}, respError("NOAUTH Authentication required.")},
		{[]string{"EVALSHA", sha1Of(ownScript), "0", "get", "1", "j"}, respError("NOAUTH Authentication required.")},
		{[]string{"AUTH", "wrong"}, respError("WRONGPASS invalid username-password pair or user is disabled.")},
		{[]string{"AUTH", "someone", "secret"}, respError("WRONGPASS invalid username-password pair or user is disabled.")},
		{[]string{"PING"}, respError("NOAUTH Authentication required.")},
		{[]string{"AUTH", "default", "secret"}, "OK"},
		{[]string{"PING"}, "PONG"},
		{[]string{"FLUSHALL"}, respError("NOPERM this connection has no permissions to run the 'flushall' command: AUTH with the admin password first")},
		{[]string{"AUTH", "admin-secret"}, "OK"},
		{[]string{"FLUSHALL", "ASYNC"}, "OK"},
	}
	for _, st := range steps {
		if diff := cmp.Diff(st.want, r.do(st.args...)); diff != "" {
			t.Errorf("%q (-want +got):\n%s", st.args, diff)
		}
	}

	// rueidis sends AUTH during its handshake.
	_, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()}, DisableCache: true, Password: "wrong"})
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("rueidis with a wrong password: err %v, want WRONGPASS", err)
	}
	c := newClient(t, s.Addr(), "secret")
	if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
		t.Errorf("PING after AUTH: %v", err)
	}
	if err := c.Do(ctx, c.B().Flushdb().Build()).Error(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Errorf("FLUSHDB as a normal client: err %v, want NOPERM", err)
	}
	admin := newClient(t, s.Addr(), "admin-secret")
	if err := admin.Do(ctx, admin.B().Flushdb().Build()).Error(); err != nil {
		t.Errorf("FLUSHDB as admin: %v", err)
	}
	if got := b.flushCount(); got != 2 {
		t.Errorf("Backend.FlushAll calls = %d, want 2", got)
	}
}

func TestNoPassword(t *testing.T) {
	t.Parallel()
	s, b := startServer(t, nil)
	r := dialRaw(t, s.Addr())
	if got := r.do("FLUSHDB"); got != "OK" {
		t.Errorf("FLUSHDB without passwords = %#v, want OK", got)
	}
	if b.flushCount() != 1 {
		t.Errorf("Backend.FlushAll calls = %d, want 1", b.flushCount())
	}
	want := respError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	if got := r.do("AUTH", "x"); got != want {
		t.Errorf("AUTH without passwords = %#v, want %#v", got, want)
	}
}

// TestPubSub: PSUBSCRIBE '*' (the conformance harness) and SUBSCRIBE receive
// the cluster's events and PUBLISHes.
func TestPubSub(t *testing.T) {
	t.Parallel()
	s, b := startServer(t, nil)
	ctx := ctxT(t)
	c := newClient(t, s.Addr(), "")
	// The server registers its event feed only when a client subscribes.
	feeds := func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.subs)
	}
	if n := feeds(); n != 0 {
		t.Fatalf("event feeds before any SUBSCRIBE = %d, want 0", n)
	}

	var mu sync.Mutex
	var got []rueidis.PubSubMessage
	received := func() []rueidis.PubSubMessage {
		mu.Lock()
		defer mu.Unlock()
		return append([]rueidis.PubSubMessage(nil), got...)
	}
	subCtx, stopSub := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Receive(subCtx, c.B().Psubscribe().Pattern("*").Build(), func(m rueidis.PubSubMessage) {
			mu.Lock()
			got = append(got, m)
			mu.Unlock()
		})
	}()
	raw := dialRaw(t, s.Addr())
	if diff := cmp.Diff([]any{"subscribe", "ql:w:worker-1", int64(1)}, raw.do("SUBSCRIBE", "ql:w:worker-1")); diff != "" {
		t.Fatalf("SUBSCRIBE (-want +got):\n%s", diff)
	}
	waitFor(t, "two subscribers", func() bool { return s.subscribers() == 2 })
	if n := feeds(); n != 1 {
		t.Errorf("event feeds with two subscribed connections = %d, want 1", n)
	}

	b.emit("ql:log", `{"jid":"J","event":"put","queue":"Q"}`)
	b.emit("ql:w:worker-1", "lock_lost")
	pub := newClient(t, s.Addr(), "")
	if err := pub.Do(ctx, pub.B().Publish().Channel("uuid-chan").Message("disconnect").Build()).Error(); err != nil {
		t.Fatalf("PUBLISH: %v", err)
	}
	waitFor(t, "three pattern messages", func() bool { return len(received()) >= 3 })
	want := []rueidis.PubSubMessage{
		{Pattern: "*", Channel: "ql:log", Message: `{"jid":"J","event":"put","queue":"Q"}`},
		{Pattern: "*", Channel: "ql:w:worker-1", Message: "lock_lost"},
		{Pattern: "*", Channel: "uuid-chan", Message: "disconnect"},
	}
	if diff := cmp.Diff(want, received()); diff != "" {
		t.Errorf("pattern messages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"message", "ql:w:worker-1", "lock_lost"}, raw.read()); diff != "" {
		t.Errorf("channel message (-want +got):\n%s", diff)
	}

	// In subscribed mode only the subscription commands are served.
	if got := raw.do("PING"); !cmp.Equal([]any{"pong", ""}, got) {
		t.Errorf("PING while subscribed = %#v", got)
	}
	if diff := cmp.Diff([]any{"unsubscribe", "ql:w:worker-1", int64(0)}, raw.do("UNSUBSCRIBE", "ql:w:worker-1")); diff != "" {
		t.Errorf("UNSUBSCRIBE (-want +got):\n%s", diff)
	}
	stopSub()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Receive: %v", err)
	}
}

// TestStop: Stop closes every connection, subscribers included, cancels the
// commands in flight, and is idempotent.
func TestStop(t *testing.T) {
	t.Parallel()
	b := &fakeBackend{}
	s, err := New(DefaultLocalConfig(), b)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	s, err = New(DefaultLocalConfig(), b)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	sub := dialRaw(t, s.Addr())
	sub.do("PSUBSCRIBE", "ql:*")
	busy := dialRaw(t, s.Addr())
	load := busy.do("EVAL", "x", "0", "int")
	if load != int64(42) {
		t.Fatalf("EVAL = %#v", load)
	}
	busy.send("EVAL", "x", "0", "block", "1")
	waitFor(t, "the blocked command", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.qless) == 2
	})
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	for _, r := range []*rawConn{sub, busy} {
		r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, err := readValue(r.rd); err != nil {
				break
			}
		}
	}
	if n := s.connectedClients(); n != 0 {
		t.Errorf("connections after Stop = %d", n)
	}
	if err := s.Start(ctx); err == nil {
		t.Errorf("Start after Stop succeeded")
	}
}

// TestSlowSubscriber: a subscriber that stops reading is disconnected after
// SubscriberWriteTimeout and the others keep receiving.
func TestSlowSubscriber(t *testing.T) {
	t.Parallel()
	s, b := startServer(t, func(c *Config) { c.SubscriberWriteTimeout = 100 * time.Millisecond })
	slow := dialRaw(t, s.Addr())
	slow.do("SUBSCRIBE", "big")
	fast := dialRaw(t, s.Addr())
	fast.do("PSUBSCRIBE", "b*")
	waitFor(t, "two subscribers", func() bool { return s.subscribers() == 2 })

	const n = 64
	msg := strings.Repeat("x", 512<<10)
	got := make(chan error, 1)
	go func() {
		fast.c.SetReadDeadline(time.Now().Add(20 * time.Second))
		for i := 0; i < n; i++ {
			v, err := readValue(fast.rd)
			if err != nil {
				got <- err
				return
			}
			if m, ok := v.([]any); !ok || len(m) != 4 || len(m[3].([]byte)) != len(msg) {
				got <- errors.New("unexpected message")
				return
			}
		}
		got <- nil
	}()
	for i := 0; i < n; i++ {
		b.emit("big", msg)
	}
	if err := <-got; err != nil {
		t.Fatalf("fast subscriber: %v", err)
	}
	waitFor(t, "the slow subscriber to be dropped", func() bool { return s.subscribers() == 1 })
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mod  func(*Config)
		want string // substring of the error, "" for valid
	}{
		{func(c *Config) {}, ""},
		{func(c *Config) { c.Addr = "" }, "Config.Addr"},
		{func(c *Config) { c.MaxScripts = 0 }, "Config.MaxScripts"},
		{func(c *Config) { c.EventBuffer = -1 }, "Config.EventBuffer"},
		{func(c *Config) { c.IdleTimeout = -time.Second }, "Config.IdleTimeout"},
		{func(c *Config) { c.SubscriberWriteTimeout = -time.Second }, "Config.SubscriberWriteTimeout"},
		{func(c *Config) { c.Password, c.AdminPassword = "a", "a" }, "Config.AdminPassword"},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.mod(&c)
		err := c.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate() = %v, want error naming %q", err, tt.want)
		}
	}
	if _, err := New(DefaultConfig(), nil); err == nil {
		t.Errorf("New with a nil backend succeeded")
	}
}

// BenchmarkRueidisEvalsha measures EVALSHA round trips through the server
// over loopback, from 32 goroutines sharing one rueidis client (its
// auto-pipelining puts them on one connection), with a backend that answers
// at once or after 100µs (about a shard round trip), one call at a time or
// with PipelineParallel.
func BenchmarkRueidisEvalsha(b *testing.B) {
	for _, bc := range []struct {
		name     string
		delay    time.Duration
		parallel int
	}{
		{"instant", 0, 0},
		{"100us", 100 * time.Microsecond, 0},
		{"100us-parallel64", 100 * time.Microsecond, 64},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := DefaultLocalConfig()
			cfg.Script = ownScript
			cfg.PipelineParallel = bc.parallel
			s, err := New(cfg, &fakeBackend{})
			if err != nil {
				b.Fatal(err)
			}
			s.backend = nopBackend{Backend: s.backend, delay: bc.delay}
			ctx := context.Background()
			if err := s.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer s.Stop(ctx)
			c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()}, DisableCache: true})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			cmd := c.B().Evalsha().Sha1(sha1Of(ownScript)).Numkeys(0).Arg("heartbeat", "1700000000.5", "jid", "worker").Build().Pin()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.Do(ctx, cmd).Error(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestPipelineParallel: with PipelineParallel, a pipelined batch of EVALSHAs
// runs in parallel (the backend's barrier needs all of them in flight) and
// the replies keep their order; a mixed batch runs one command at a time.
func TestPipelineParallel(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, func(c *Config) { c.PipelineParallel = 4 })
	r := dialRaw(t, s.Addr())
	own := sha1Of(ownScript)
	var batch []byte
	for i := range 6 {
		batch = append(batch, encodeCommand("EVALSHA", own, "0", "barrier", "4", strconv.Itoa(i))...)
	}
	batch = append(batch, encodeCommand("EVALSHA", own, "0", "barrier", "4", "6")...) // calls after the 4th do not wait
	r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.c.Write(batch); err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		if got, want := r.read(), strconv.Itoa(i); got != want {
			t.Errorf("reply %d = %#v, want %q", i, got, want)
		}
	}

	mixed := append(encodeCommand("EVALSHA", own, "0", "int"), encodeCommand("PING")...)
	mixed = append(mixed, encodeCommand("EVALSHA", sha1Of("unknown"), "0", "int")...)
	if _, err := r.c.Write(mixed); err != nil {
		t.Fatal(err)
	}
	for _, want := range []any{int64(42), "PONG", respError("NOSCRIPT No matching script. Please use EVAL.")} {
		if diff := cmp.Diff(want, r.read()); diff != "" {
			t.Errorf("mixed batch (-want +got):\n%s", diff)
		}
	}
}
