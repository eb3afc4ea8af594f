package router

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qless-router/qless-router/core"
)

// TestShardDown kills one shard's Redis: the commands of the other queues
// keep working, the dead shard's queues fail naming it, and fan-outs name
// it as the shard that did not answer.
func TestShardDown(t *testing.T) {
	t.Parallel()
	rs := startRedises(t, 3)
	tr := startRouter(t, "r1", rs, nil)
	live, dead := queueOn(t, tr.Router, "a", "d-"), queueOn(t, tr.Router, "c", "d-")
	tr.q(t, "put", "100", "w", live, "live-job", "K", "{}", "0")
	tr.q(t, "put", "100", "w", dead, "dead-job", "K", "{}", "0")
	var c collector
	defer tr.Events(c.add)()

	rs[2].srv.Kill()
	waitFor(t, "shard c unhealthy", 10*time.Second, func() string {
		if tr.shards["c"].Healthy() {
			return "still healthy"
		}
		return ""
	})

	// Other queues, and jobs on other shards, keep working.
	tr.q(t, "put", "101", "w", live, "live-2", "K", "{}", "0")
	if got := jidsOf(t, tr.q(t, "pop", "102", live, "w", "1").Str); len(got) != 1 {
		t.Errorf("pop %s = %v", live, got)
	}
	tr.q(t, "get", "103", "live-job")
	tr.q(t, "stats", "103", live, "103")

	wantShard := func(what string, err error) {
		t.Helper()
		var se *core.ShardError
		if !errors.As(err, &se) || se.Shard != "c" || !strings.Contains(err.Error(), "shard c") {
			t.Errorf("%s: error %v, want a *core.ShardError naming shard c", what, err)
		}
		var fe *core.FanOutError
		if errors.As(err, &fe) && !slices.Equal(fe.Shards(), []string{"c"}) {
			t.Errorf("%s: fan-out error names %v, want [c]", what, fe.Shards())
		}
	}
	ctx := context.Background()
	_, err := tr.Qless(ctx, []string{"put", "104", "w", dead, "x", "K", "{}", "0"})
	wantShard("put into the dead shard's queue", err)
	_, err = tr.Qless(ctx, []string{"pop", "104", dead, "w", "1"})
	wantShard("pop", err)
	_, err = tr.Read(ctx, []string{"ZCARD", "ql:q:" + dead + "-work"})
	wantShard("ZCARD", err)
	_, err = tr.Qless(ctx, []string{"get", "104", "dead-job"})
	wantShard("get of a job on the dead shard", err)
	_, err = tr.Qless(ctx, []string{"get", "104", "unknown-job"})
	wantShard("get of an unknown job (it may be on the dead shard)", err)
	for _, args := range [][]string{
		{"queues", "105"}, {"workers", "105"}, {"failed", "105"}, {"jobs", "105", "complete"},
		{"tag", "105", "top"}, {"track", "105"}, {"multiget", "105", "live-job", "unknown-job"},
	} {
		_, err := tr.Qless(ctx, args)
		var fe *core.FanOutError
		if !errors.As(err, &fe) {
			t.Errorf("%q: error %v, want a *core.FanOutError", args, err)
			continue
		}
		wantShard(strings.Join(args, " "), err)
	}
	// A listing returns the merge of the live shards with its error.
	rep, err := tr.Qless(ctx, []string{"queues", "105"})
	var fe *core.FanOutError
	if !errors.As(err, &fe) || !strings.Contains(rep.Str, `"name":"`+live+`"`) || strings.Contains(rep.Str, dead) {
		t.Errorf("partial queues = %v, %v; want the live queue %s and a fan-out error", rep, err, live)
	}
	// multiget of jids the router knows to be on live shards works.
	if got := jidsOf(t, tr.q(t, "multiget", "105", "live-job", "live-2").Str); len(got) != 2 {
		t.Errorf("multiget of cached jids = %v", got)
	}
	_, err = tr.Qless(ctx, []string{"config.set", "106", "k", "v"})
	wantShard("config.set", err)
	if got := tr.q(t, "config.get", "107", "k"); got.Str != "v" {
		t.Errorf("config.get on a live shard = %v, want v", got)
	}

	// Events of the live shards still flow; PUBLISH goes through them.
	if _, err := tr.Publish(ctx, "fence", "after-kill"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "fence", 10*time.Second, func() string {
		if !slices.Contains(c.snapshot(), "fence after-kill") {
			return "not yet"
		}
		return ""
	})
}
