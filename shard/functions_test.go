package shard

import (
	"errors"
	"strings"
	"testing"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/redistest"
	"github.com/qless-router/qless-router/lua"
)

// fcalls returns how many FCALLs the server has run (INFO commandstats).
func fcalls(t *testing.T, c rueidis.Client) string {
	t.Helper()
	info, err := c.Do(ctx(t), c.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_fcall:calls="); ok {
			n, _, _ := strings.Cut(rest, ",")
			return n
		}
	}
	return "0"
}

// With Functions the script runs as the function library: calls are
// FCALLs, error texts are exactly the script's, and a server that lost the
// library (FUNCTION FLUSH) gets it again on the next call.
func TestFunctions(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := testShard(t, srv.Addr, func(c *Config) { c.Functions = true })
	s.script, s.sha = lua.Script(), lua.SHA()
	if err := s.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()

	if _, err := s.Call(ctx(t), "put", "1700000000", "w", "q", "j1", "K", "{}", "0"); err != nil {
		t.Fatal(err)
	}
	if n := fcalls(t, raw); n != "1" {
		t.Errorf("FCALL calls after one put = %s, want 1", n)
	}
	// The error a client of one Redis would read, byte for byte.
	for _, args := range [][]string{
		{"put", "1700000000", "w", "q"},
		{"get", "not-a-time", "j1"},
		{"complete", "1700000000", "j1", "w", "q", "{}"},
	} {
		want := raw.Do(ctx(t), raw.B().Evalsha().Sha1(lua.SHA()).Numkeys(0).Arg(args...).Build()).Error()
		_, got := s.CallArgs(ctx(t), args...)
		var se *core.ScriptError
		if want == nil || !errors.As(got, &se) {
			t.Fatalf("%q: EVALSHA error %v, shard error %v", args, want, got)
		}
		if se.Text != fullErrorText(want.Error()) {
			t.Errorf("%q:\nshard  %s\nscript %s", args, se.Text, fullErrorText(want.Error()))
		}
		if msg, _ := lua.ParseError(se.Text); se.Message != msg {
			t.Errorf("%q: Message %q, want %q", args, se.Message, msg)
		}
	}

	if err := raw.Do(ctx(t), raw.B().FunctionFlush().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Call(ctx(t), "length", "1700000000", "q"); err != nil || got.Int != 1 {
		t.Fatalf("length after FUNCTION FLUSH = %v, %v; want 1", got, err)
	}
	if n := fcalls(t, raw); n != "6" {
		t.Errorf("FCALL calls = %s, want 6 (1 + 3 errors + the refused and the resent call)", n)
	}
}

// A server that refuses FUNCTION (here renamed away, as an ACL or Redis 6
// would) is called with EVALSHA.
func TestFunctionsRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--rename-command", "FUNCTION", "")
	s := testShard(t, srv.Addr, func(c *Config) { c.Functions = true })
	s.script, s.sha = lua.Script(), lua.SHA()
	if err := s.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Call(ctx(t), "put", "1700000000", "w", "q", "j1", "K", "{}", "0"); err != nil || got.Str != "j1" {
		t.Fatalf("put = %v, %v", got, err)
	}
	if s.useFn.Load() {
		t.Error("useFn is on although the server refused FUNCTION")
	}
}
