package router

import (
	"errors"
	"fmt"
	"testing"

	"github.com/qless-router/qless-router/core"
)

func TestJidCacheLRU(t *testing.T) {
	t.Parallel()
	c := newJidCache(3)
	c.put("j:1", "a")
	c.put("j:2", "b")
	c.put("j:3", "c")
	if n, ok := c.get("j:1"); !ok || n != "a" { // 1 is now the most recent
		t.Fatalf("get(j:1) = %q, %v", n, ok)
	}
	c.put("j:4", "a") // evicts 2
	if _, ok := c.get("j:2"); ok {
		t.Error("j:2 not evicted")
	}
	if c.len() != 3 {
		t.Errorf("len = %d, want 3", c.len())
	}
	c.put("j:1", "b")
	if n, _ := c.get("j:1"); n != "b" {
		t.Errorf("updated j:1 = %q, want b", n)
	}
	c.drop("j:1", "a") // points elsewhere now: kept
	if _, ok := c.get("j:1"); !ok {
		t.Error("drop with a stale shard removed the entry")
	}
	c.drop("j:1", "b")
	if _, ok := c.get("j:1"); ok {
		t.Error("drop did not remove the entry")
	}
	c.drop("j:3", "")
	if _, ok := c.get("j:3"); ok {
		t.Error(`drop("") did not remove the entry`)
	}
	for i := 0; i < 100; i++ {
		c.put(fmt.Sprint("j:", i), "a")
	}
	if c.len() != 3 {
		t.Errorf("len after many puts = %d, want 3", c.len())
	}
	c.clear()
	if c.len() != 0 {
		t.Errorf("len after clear = %d", c.len())
	}
}

func TestAnswersMissing(t *testing.T) {
	t.Parallel()
	script := func(msg string) error {
		return &core.ScriptError{Text: "ERR user_script:1: " + msg + " script: x", Message: msg}
	}
	for _, tc := range []struct {
		cmd   string
		reply core.Reply
		err   error
		want  bool
	}{
		{"get", core.NilReply(), nil, true},
		{"recur.get", core.NilReply(), nil, true},
		{"get", core.StringReply("{}"), nil, false},
		{"heartbeat", core.IntReply(5), nil, false},
		{"heartbeat", core.Reply{}, script("Heartbeat(): Job j does not exist"), true},
		{"fail", core.Reply{}, script("Fail(): Job jdoes not exist"), true},
		{"complete", core.Reply{}, script("Complete(): Job j is not currently running: moving"), true},
		{"complete", core.Reply{}, script("Complete(): Job j has been handed out to another worker: w"), false},
		{"timeout", core.Reply{}, script("Timeout(): Job j not running"), true},
		{"recur.update", core.Reply{}, script("Recur(): No recurring job j"), true},
		{"depends", core.Reply{}, script("Depends(): Job j not in the depends state: nil"), true},
		{"depends", core.Reply{}, script("Depends(): Job j not in the depends state: waiting"), false},
		{"priority", core.Reply{}, &core.ShardError{Shard: "a", Err: errors.New("down")}, false},
	} {
		if got := answersMissing(tc.cmd, tc.reply, tc.err); got != tc.want {
			t.Errorf("answersMissing(%s, %v, %v) = %v, want %v", tc.cmd, tc.reply, tc.err, got, tc.want)
		}
	}
}

func TestPickHolder(t *testing.T) {
	t.Parallel()
	cfg := DefaultLocalConfig()
	r, err := NewWithShards(cfg, []Shard{newStubShard("a"), newStubShard("b"), newStubShard("c")})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{"a": stateMoving, "b": "waiting", "c": "waiting"}
	state := func(n string) string { return states[n] }
	jid := jidHomedOn(t, r, "c", "ph-")
	if got := r.pickHolder(jid, []string{"a", "b", "c"}, state); got != "c" {
		t.Errorf("pickHolder = %s, want the home shard c", got)
	}
	if got := r.pickHolder(jid, []string{"a", "b"}, state); got != "b" {
		t.Errorf("pickHolder = %s, want b (a is a tombstone)", got)
	}
	if got := r.pickHolder(jid, []string{"a"}, state); got != "a" {
		t.Errorf("pickHolder = %s, want a", got)
	}
}
