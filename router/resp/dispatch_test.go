package resp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/qless-router/qless-router/core"
	"github.com/tidwall/redcon"
)

// newDispatcher returns a Server that is not started, for calling dispatch
// directly.
func newDispatcher(t testing.TB, mod func(*Config)) (*Server, *fakeBackend) {
	t.Helper()
	cfg := DefaultLocalConfig()
	cfg.Script = ownScript
	if mod != nil {
		mod(&cfg)
	}
	b := &fakeBackend{}
	s, err := New(cfg, b)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, b
}

func newSession(s *Server, ctx context.Context) *session {
	return &session{ctx: ctx, cancel: func() {}, id: 1, authed: s.cfg.Password == ""}
}

func toArgs(args []string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

// call dispatches one command and returns every reply written, parsed.
func call(t testing.TB, s *Server, ss *session, args [][]byte) ([]any, action) {
	t.Helper()
	var buf bytes.Buffer
	w := redcon.NewWriter(&buf)
	act := s.dispatch(w, ss, args)
	if err := w.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	return parseAll(t, buf.Bytes()), act
}

func parseAll(t testing.TB, raw []byte) []any {
	t.Helper()
	rd := bufio.NewReader(bytes.NewReader(raw))
	var out []any
	for {
		v, err := readValue(rd)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("malformed reply %q: %v", raw, err)
		}
		out = append(out, plain(v))
	}
}

// one dispatches a command that must write exactly one reply.
func one(t *testing.T, s *Server, ss *session, args ...string) any {
	t.Helper()
	got, _ := call(t, s, ss, toArgs(args))
	if len(got) != 1 {
		t.Fatalf("%q wrote %d replies, want 1: %#v", args, len(got), got)
	}
	return got[0]
}

func TestDispatchErrors(t *testing.T) {
	t.Parallel()
	s, _ := newDispatcher(t, nil)
	own := sha1Of(ownScript)
	tests := []struct {
		args []string
		want any
	}{
		{[]string{"EVALSHA", own}, respError("ERR wrong number of arguments for 'evalsha' command")},
		{[]string{"evalsha", "short", "0"}, respError("NOSCRIPT No matching script. Please use EVAL.")},
		{[]string{"EVALSHA", own, "x"}, respError("ERR value is not an integer or out of range")},
		{[]string{"EVALSHA", own, "01"}, respError("ERR value is not an integer or out of range")},
		{[]string{"EVALSHA", own, "-1"}, respError("ERR Number of keys can't be negative")},
		{[]string{"EVALSHA", own, "2", "a"}, respError("ERR Number of keys can't be greater than number of args")},
		{[]string{"EVALSHA", own, "0"}, respError("ERR user_script:1: Must provide a command script: x, on @user_script:1.")},
		{[]string{"EVAL", "text", "1", "k"}, respError("ERR user_script:1: No Keys should be provided script: " + sha1Of("text") + ", on @user_script:1.")},
		{[]string{"ZCARD"}, respError("ERR wrong number of arguments for 'zcard' command")},
		{[]string{"ZSCORE", "k"}, respError("ERR wrong number of arguments for 'zscore' command")},
		{[]string{"ZCARD", "ql:q:x-bad"}, respError("ERR shard s2: connection refused")},
		{[]string{"PING", "a", "b"}, respError("ERR wrong number of arguments for 'ping' command")},
		{[]string{"SELECT", "x"}, respError("ERR value is not an integer or out of range")},
		{[]string{"SELECT", "0"}, "OK"},
		{[]string{"SCRIPT", "LOAD"}, respError("ERR wrong number of arguments for 'script|load' command")},
		{[]string{"SCRIPT", "FLUSH", "LATER"}, respError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")},
		{[]string{"SCRIPT", "KILL"}, respError("NOTBUSY No scripts in execution right now.")},
		{[]string{"SCRIPT", "DEBUG", "YES"}, respError("ERR unknown subcommand 'DEBUG'. Try SCRIPT HELP.")},
		{[]string{"CLIENT", "KILL", "x"}, respError("ERR unknown subcommand 'KILL'. Try CLIENT HELP.")},
		{[]string{"CLIENT", "SETNAME"}, respError("ERR wrong number of arguments for 'client|setname' command")},
		{[]string{"CLIENT", "GETNAME"}, nil},
		{[]string{"CLIENT", "SETINFO", "color", "red"}, respError("ERR Unrecognized option 'color'")},
		{[]string{"FLUSHDB", "NOW"}, respError("ERR syntax error")},
		{[]string{"EXEC"}, respError("ERR EXEC without MULTI")},
		{[]string{"DISCARD"}, respError("ERR DISCARD without MULTI")},
		{[]string{"COMMAND", "COUNT"}, int64(0)},
		{[]string{"COMMAND", "DOCS"}, []any{}},
		{[]string{"QLESS.LOCATE", ""}, respError("ERR no shards")},
		{[]string{"QLESS.LOCATE"}, respError("ERR wrong number of arguments for 'qless.locate' command")},
		{[]string{"ZSCORE", "ql:q:q-recur", "missing"}, nil},
		{[]string{strings.Repeat("x", 200)}, respError("ERR unknown command '" + strings.Repeat("x", 128) + "'")},
		{[]string{"bad\r\nname"}, respError("ERR unknown command 'bad  name'")},
	}
	for _, tt := range tests {
		ss := newSession(s, context.Background())
		if diff := cmp.Diff(tt.want, one(t, s, ss, tt.args...)); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.args, diff)
		}
	}
}

func TestMulti(t *testing.T) {
	t.Parallel()
	s, b := newDispatcher(t, nil)
	own := sha1Of(ownScript)

	t.Run("mixed commands run in order", func(t *testing.T) {
		ss := newSession(s, context.Background())
		steps := []struct {
			args []string
			want any
		}{
			{[]string{"MULTI"}, "OK"},
			{[]string{"MULTI"}, respError("ERR MULTI calls can not be nested")},
			{[]string{"ZCARD", "ql:q:a-work"}, "QUEUED"},
			{[]string{"EVALSHA", own, "0", "int"}, "QUEUED"},
			{[]string{"EVALSHA", sha1Of("unknown"), "0", "int"}, "QUEUED"},
			{[]string{"PING"}, "QUEUED"},
			{[]string{"EXEC"}, []any{int64(11), int64(42), respError("NOSCRIPT No matching script. Please use EVAL."), "PONG"}},
		}
		for _, st := range steps {
			if diff := cmp.Diff(st.want, one(t, s, ss, st.args...)); diff != "" {
				t.Errorf("%q (-want +got):\n%s", st.args, diff)
			}
		}
	})

	t.Run("errors abort", func(t *testing.T) {
		ss := newSession(s, context.Background())
		steps := []struct {
			args []string
			want any
		}{
			{[]string{"MULTI"}, "OK"},
			{[]string{"ZCARD", "k"}, "QUEUED"},
			{[]string{"SUBSCRIBE", "ch"}, respError("ERR Command not allowed inside a transaction")},
			{[]string{"EXEC"}, respError("EXECABORT Transaction discarded because of previous errors.")},
			{[]string{"MULTI"}, "OK"},
			{[]string{"NOPE"}, respError("ERR unknown command 'NOPE'")},
			{[]string{"EXEC"}, respError("EXECABORT Transaction discarded because of previous errors.")},
			{[]string{"MULTI"}, "OK"},
			{[]string{"ZCARD"}, respError("ERR wrong number of arguments for 'zcard' command")},
			{[]string{"DISCARD"}, "OK"},
			{[]string{"EXEC"}, respError("ERR EXEC without MULTI")},
			{[]string{"MULTI"}, "OK"},
			{[]string{"EXEC"}, []any{}},
		}
		for _, st := range steps {
			if diff := cmp.Diff(st.want, one(t, s, ss, st.args...)); diff != "" {
				t.Errorf("%q (-want +got):\n%s", st.args, diff)
			}
		}
	})

	t.Run("queued arguments are copies", func(t *testing.T) {
		ss := newSession(s, context.Background())
		one(t, s, ss, "MULTI")
		args := toArgs([]string{"zcard", "ql:q:copy-locks"})
		call(t, s, ss, args)
		copy(args[1], "XXXXXXXXXXXXXXX")
		args2 := toArgs([]string{"ZSCORE", "ql:q:copy-recur", "jid"})
		call(t, s, ss, args2)
		copy(args2[2], "YYY")
		got := one(t, s, ss, "EXEC")
		if diff := cmp.Diff([]any{int64(len("ql:q:copy-locks")), "1700000000.5"}, got); diff != "" {
			t.Errorf("EXEC (-want +got):\n%s", diff)
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		var keys []string
		for _, r := range b.reads {
			if strings.Contains(r[1], "copy") {
				keys = append(keys, strings.Join(r, " "))
			}
		}
		want := []string{"ZCARD ql:q:copy-locks", "ZSCORE ql:q:copy-recur jid"}
		if len(keys) == 2 && keys[0] > keys[1] { // run in parallel: any order
			keys[0], keys[1] = keys[1], keys[0]
		}
		if diff := cmp.Diff(want, keys); diff != "" {
			t.Errorf("Backend.Read calls (-want +got):\n%s", diff)
		}
	})
}

func TestScriptsLimit(t *testing.T) {
	t.Parallel()
	s, _ := newDispatcher(t, func(c *Config) { c.MaxScripts = 2 })
	ss := newSession(s, context.Background())
	// The own script counts: one more fits.
	if got := one(t, s, ss, "SCRIPT", "LOAD", "a"); got != sha1Of("a") {
		t.Fatalf("SCRIPT LOAD a = %#v", got)
	}
	if got := one(t, s, ss, "SCRIPT", "LOAD", "a"); got != sha1Of("a") {
		t.Fatalf("SCRIPT LOAD a again = %#v", got)
	}
	want := respError("ERR qless-router: too many scripts loaded (MaxScripts 2); use SCRIPT FLUSH")
	if got := one(t, s, ss, "SCRIPT", "LOAD", "b"); got != want {
		t.Fatalf("SCRIPT LOAD b = %#v, want %#v", got, want)
	}
	one(t, s, ss, "SCRIPT", "FLUSH", "ASYNC")
	if got := one(t, s, ss, "SCRIPT", "LOAD", "b"); got != sha1Of("b") {
		t.Fatalf("SCRIPT LOAD b after FLUSH = %#v", got)
	}
}

func TestInfoSections(t *testing.T) {
	t.Parallel()
	s, _ := newDispatcher(t, nil)
	ss := newSession(s, context.Background())
	all, _ := one(t, s, ss, "INFO").(string)
	for _, want := range []string{"# Server\r\n", "redis_version:7.0.15\r\n", "# Clients\r\n", "# CPU\r\nused_cpu_sys:", "# Cluster\r\ncluster_enabled:0\r\n", "qless_ring_epoch:7\r\n"} {
		if !strings.Contains(all, want) {
			t.Errorf("INFO lacks %q:\n%s", want, all)
		}
	}
	server, _ := one(t, s, ss, "info", "SERVER").(string)
	if !strings.HasPrefix(server, "# Server\r\nredis_version:7.0.15\r\n") || strings.Contains(server, "# Cluster") {
		t.Errorf("INFO server =\n%s", server)
	}
	cluster, _ := one(t, s, ss, "INFO", "cluster").(string)
	if !strings.HasPrefix(cluster, "# Cluster\r\n") || strings.Contains(cluster, "redis_version") {
		t.Errorf("INFO cluster =\n%s", cluster)
	}
}

func TestParseInt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"7", 7, true}, {"-12", -12, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"99999999999999999999", 0, false},
		{"", 0, false}, {"-", 0, false}, {"+1", 0, false}, {" 1", 0, false},
		{"1 ", 0, false}, {"01", 0, false}, {"-0", 0, true}, {"1e3", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseInt([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestEvalshaAllocs keeps the hot path lean: the argument copy (bytes and
// slice) and what the backend and reply need, nothing per command beyond.
// Not parallel: AllocsPerRun counts the allocations of the whole process.
func TestEvalshaAllocs(t *testing.T) {
	s, _ := newDispatcher(t, nil)
	s.backend = nopBackend{Backend: s.backend}
	s.remember(sha1Of("client script"))
	ss := newSession(s, context.Background())
	args := toArgs([]string{"EVALSHA", sha1Of("client script"), "0", "heartbeat", "1700000000.5", "jid", "worker", "{}"})
	w := redcon.NewWriter(io.Discard)
	allocs := testing.AllocsPerRun(1000, func() {
		s.dispatch(w, ss, args)
		w.Flush()
	})
	if allocs > 2 {
		t.Errorf("EVALSHA dispatch: %.1f allocations per command, want <= 2", allocs)
	}
}

// nopBackend answers Qless without allocating, after delay.
type nopBackend struct {
	Backend
	delay time.Duration
}

func (b nopBackend) Qless(context.Context, []string) (core.Reply, error) {
	if b.delay > 0 {
		time.Sleep(b.delay)
	}
	return core.IntReply(1), nil
}

func BenchmarkDispatchEvalsha(b *testing.B) {
	s, _ := newDispatcher(b, nil)
	s.backend = nopBackend{Backend: s.backend}
	ss := newSession(s, context.Background())
	args := toArgs([]string{"EVALSHA", sha1Of(ownScript), "0", "pop", "1700000000.5", "queue", "worker", "1"})
	w := redcon.NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		s.dispatch(w, ss, args)
		w.Flush()
	}
}
