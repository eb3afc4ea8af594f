package router

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/core"
)

// TestConfigSyncRepairsAShardThatMissedChanges: config.set and config.unset
// that a shard missed (it was down while they were broadcast) reach it at
// the next sync, the newest change winning; shards in step are not written.
func TestConfigSyncRepairsAShardThatMissedChanges(t *testing.T) {
	t.Parallel()
	redises := startRedises(t, 3)
	tr := startRouter(t, "r", redises, nil)
	ctx := context.Background()

	tr.q(t, "config.set", "1", "heartbeat", "30")
	tr.q(t, "config.set", "1", "grace-period", "5")
	// Two later changes reach a and b only, as when c is down during the
	// broadcast.
	stampSet, stampUnset := tr.configStamp("set"), tr.configStamp("unset")
	for _, name := range []string{"a", "b"} {
		for _, cmd := range append(configWrites("set", "heartbeat", "45", stampSet), configWrites("unset", "grace-period", "", stampUnset)...) {
			if _, err := tr.shards[name].Do(ctx, cmd...); err != nil {
				t.Fatal(err)
			}
		}
	}

	n, err := tr.syncConfig(ctx)
	if err != nil {
		t.Fatalf("syncConfig: %v", err)
	}
	if n != 2 {
		t.Errorf("syncConfig repaired %d (shard, option) pairs, want 2 (heartbeat and grace-period on c)", n)
	}
	for _, name := range []string{"a", "b", "c"} {
		for option, want := range map[string]core.Reply{"heartbeat": core.StringReply("45"), "grace-period": core.IntReply(10)} {
			got, err := tr.shards[name].CallArgs(ctx, "config.get", "2", option)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("shard %s: config.get %s mismatch (-want +got):\n%s", name, option, diff)
			}
		}
	}
	if n, err := tr.syncConfig(ctx); err != nil || n != 0 {
		t.Errorf("second syncConfig = %d, %v; want nothing to repair", n, err)
	}
}

// TestConfigBroadcastStampsEveryShard: a config change through the router
// reaches every shard with the same stamp, so a sync finds nothing to do.
func TestConfigBroadcastStampsEveryShard(t *testing.T) {
	t.Parallel()
	redises := startRedises(t, 3)
	tr := startRouter(t, "r", redises, nil)
	ctx := context.Background()
	tr.q(t, "config.set", "1", "heartbeat", "30")
	tr.q(t, "config.unset", "1", "heartbeat")
	tr.q(t, "config.set", "1", "q-max-concurrency", "3")
	var stamps []map[string]string
	for _, name := range []string{"a", "b", "c"} {
		m, err := hgetall(ctx, tr.shards[name], configStampKey)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 2 {
			t.Errorf("shard %s stamps = %v, want heartbeat and q-max-concurrency", name, m)
		}
		stamps = append(stamps, m)
	}
	if diff := cmp.Diff(stamps[0], stamps[2]); diff != "" {
		t.Errorf("stamps differ between shards a and c (-a +c):\n%s", diff)
	}
	if n, err := tr.syncConfig(ctx); err != nil || n != 0 {
		t.Errorf("syncConfig after broadcasts = %d, %v; want nothing to repair", n, err)
	}
}

// TestConfigSyncSkipsATornRead: a stamp that says set with no value next to
// it (an unset or a FLUSHDB landed between the two reads, or the value was
// removed behind the router's back) is not copied as an empty value: the
// script reads an option that is "" as a number it cannot parse.
func TestConfigSyncSkipsATornRead(t *testing.T) {
	t.Parallel()
	redises := startRedises(t, 3)
	tr := startRouter(t, "r", redises, nil)
	ctx := context.Background()
	tr.q(t, "config.set", "1", "grace-period", "5")
	newer := tr.configStamp("set")
	if _, err := tr.shards["a"].Do(ctx, "HSET", configStampKey, "grace-period", newer); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.shards["a"].Do(ctx, "HDEL", "ql:config", "grace-period"); err != nil {
		t.Fatal(err)
	}
	if n, err := tr.syncConfig(ctx); err != nil || n != 0 {
		t.Errorf("syncConfig = %d, %v; want nothing written", n, err)
	}
	for _, name := range []string{"b", "c"} {
		got, err := tr.shards[name].Do(ctx, "HGET", "ql:config", "grace-period")
		if err != nil || got.Str != "5" {
			t.Errorf("shard %s: grace-period = %v, %v; want 5 left alone", name, got, err)
		}
	}
}
