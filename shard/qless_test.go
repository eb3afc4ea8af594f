package shard

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/redistest"
	"github.com/qless-router/qless-router/lua"
)

// qlessShard returns a started Shard running the project's real qless
// script (package lua), through its function library as in production.
func qlessShard(t *testing.T) *Shard {
	t.Helper()
	s := testShard(t, redistest.Start(t).Addr, func(c *Config) { c.Functions = true })
	s.script, s.sha = lua.Script(), lua.SHA()
	if err := s.Start(ctx(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

// TestQlessScript runs a job's life through the real script and checks the
// reply shapes of spec 1.2.
func TestQlessScript(t *testing.T) {
	t.Parallel()
	s := qlessShard(t)
	// call checks the reply; a want of StringReply("") accepts any string.
	call := func(want core.Reply, cmd, now string, args ...string) core.Reply {
		t.Helper()
		got, err := s.Call(ctx(t), cmd, now, args...)
		if err != nil {
			t.Fatalf("Call(%s %q): %v", cmd, args, err)
		}
		ok := cmp.Equal(want, got)
		if want.Type == core.ReplyString && want.Str == "" {
			ok = got.Type == core.ReplyString
		}
		if !ok {
			t.Fatalf("Call(%s %q) = %v, want %v", cmd, args, got, want)
		}
		return got
	}
	call(core.StringReply("j1"), "put", "1700000000", "me", "q", "j1", "Klass", `{"a":1}`, "0")
	call(core.IntReply(1), "length", "1700000000", "q")
	call(core.ArrayReply([]string{}), "jobs", "1700000000", "running", "q")

	var job core.Job
	got := call(core.StringReply(""), "get", "1700000000", "j1")
	if err := json.Unmarshal([]byte(got.Str), &job); err != nil {
		t.Fatalf("decode get: %v\n%s", err, got.Str)
	}
	if job.JID != "j1" || job.State != core.StateWaiting || job.Data != `{"a":1}` || job.Tags != nil || job.Failure != nil {
		t.Errorf("get j1 = %+v", job)
	}

	popped := call(core.StringReply(""), "pop", "1700000001", "q", "w1", "10")
	jobs, err := core.DecodeList[core.Job]([]byte(popped.Str))
	if err != nil || len(jobs) != 1 || jobs[0].Worker != "w1" || jobs[0].State != core.StateRunning {
		t.Fatalf("pop = %v (%v)", popped, err)
	}
	call(core.StringReply("{}"), "pop", "1700000001", "q", "w1", "10")
	call(core.ArrayReply([]string{"j1"}), "jobs", "1700000001", "running", "q")
	call(core.StringReply("complete"), "complete", "1700000002", "j1", "w1", "q", "{}")
	call(core.NilReply(), "get", "1700000002", "missing")
	call(core.NilReply(), "pause", "1700000002", "q")
}

// TestQlessScriptErrors checks the error classification with the real
// script's early errors.
func TestQlessScriptErrors(t *testing.T) {
	t.Parallel()
	s := qlessShard(t)
	tests := []struct {
		name string
		argv []string
		msg  string
	}{
		{"unknown command", []string{"nope", "1"}, "Unknown command nope"},
		{"no command", nil, "Must provide a command"},
		{"bad now", []string{"get", "x"}, `Arg "now" missing or not a number: nil`},
		{"missing now", []string{"get"}, "bad argument #1 to 'tonumber' (value expected)"},
		{"put no jid", []string{"put", "1", "me", "q"}, `Put(): Arg "jid" missing`},
	}
	for _, tt := range tests {
		_, err := s.CallArgs(ctx(t), tt.argv...)
		var se *core.ScriptError
		if !errors.As(err, &se) {
			t.Errorf("%s: %T %v, want *core.ScriptError", tt.name, err, err)
			continue
		}
		if se.Message != tt.msg || !strings.HasPrefix(se.Text, "ERR user_script:") {
			t.Errorf("%s: ScriptError{Text: %q, Message: %q}, want message %q", tt.name, se.Text, se.Message, tt.msg)
		}
	}
	_, err := s.Do(ctx(t), "EVALSHA", lua.SHA(), "1", "k", "get", "1", "j")
	var se *core.ScriptError
	if !errors.As(err, &se) || se.Message != "No Keys should be provided" {
		t.Errorf("EVALSHA with a key: %v, want the script's No Keys error", err)
	}
}
