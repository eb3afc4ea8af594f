package router

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// upstream returns what the router is subscribed to on a shard: its exact
// channels (sorted) and its pattern count.
func upstream(t *testing.T, s Shard) (channels []string, patterns int64) {
	t.Helper()
	ctx := context.Background()
	chs, err := s.Do(ctx, "PUBSUB", "CHANNELS")
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Do(ctx, "PUBSUB", "NUMPAT")
	if err != nil {
		t.Fatal(err)
	}
	channels = slices.Clone(chs.Array)
	slices.Sort(channels)
	return channels, n.Int
}

// A router subscribes upstream to just the channels wanted through it:
// a feed hears a worker's channel and not the ql:log of every job, the
// whole ql:* stream only while some want asks for it, and nothing but the
// internal channel once every want is released.
func TestWantNarrowsUpstreamSubscriptions(t *testing.T) {
	t.Parallel()
	redises := startRedises(t, 2)
	tr := startRouter(t, "r1", redises, nil)
	f := &collector{}
	stop := tr.FeedNotify(f.add, nil)
	defer stop()
	for name, s := range tr.shards {
		if chs, pat := upstream(t, s); !slices.Equal(chs, []string{publishChannel}) || pat != 0 {
			t.Fatalf("shard %s with a feed and no wants: channels %v, %d patterns; want only %s", name, chs, pat, publishChannel)
		}
	}

	release, err := tr.Want(context.Background(), "ql:w:alice", false)
	if err != nil {
		t.Fatalf("Want: %v", err)
	}
	for name, s := range tr.shards {
		chs, pat := upstream(t, s)
		if !slices.Equal(chs, []string{"ql:w:alice", publishChannel}) || pat != 0 {
			t.Errorf("shard %s wanting ql:w:alice: channels %v, %d patterns", name, chs, pat)
		}
		// Published right after Want returned: heard. ql:log: not asked for.
		for _, ch := range []string{"ql:log", "ql:w:alice"} {
			if err := s.Publish(context.Background(), ch, "from-"+name); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name := range tr.shards {
		waitFor(t, "the worker's message", 5*time.Second, func() string {
			if !slices.Contains(f.snapshot(), "ql:w:alice from-"+name) {
				return "not yet"
			}
			return ""
		})
	}
	// A marker through the whole stream: everything published before it has
	// been handed over; no ql:log among it.
	all, err := tr.Want(context.Background(), "*", true)
	if err != nil {
		t.Fatalf("Want pattern: %v", err)
	}
	for name, s := range tr.shards {
		if _, pat := upstream(t, s); pat != 1 {
			t.Errorf("shard %s with a pattern want: %d patterns, want 1", name, pat)
		}
		if err := s.Publish(context.Background(), "ql:log", "marker-"+name); err != nil {
			t.Fatal(err)
		}
	}
	for name := range tr.shards {
		waitFor(t, "the marker", 5*time.Second, func() string {
			if !slices.Contains(f.snapshot(), "ql:log marker-"+name) {
				return "not yet"
			}
			return ""
		})
	}
	got := f.snapshot()
	for _, m := range got {
		if strings.HasPrefix(m, "ql:log from-") {
			t.Errorf("heard %q without wanting ql:log", m)
		}
		if strings.Count(strings.Join(got, "\n"), m) != 1 {
			t.Errorf("heard %q more than once", m)
		}
	}

	all()
	release()
	release() // idempotent
	for name, s := range tr.shards {
		waitFor(t, "the subscriptions to go", 5*time.Second, func() string {
			if chs, pat := upstream(t, s); !slices.Equal(chs, []string{publishChannel}) || pat != 0 {
				return "shard " + name + " still subscribed to " + strings.Join(chs, ",")
			}
			return ""
		})
	}
	// Clients' publishes need no want: they travel on the internal channel.
	if _, err := tr.Publish(context.Background(), "private-uuid", "disconnect"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the client's publish", 5*time.Second, func() string {
		if !slices.Contains(f.snapshot(), "private-uuid disconnect") {
			return "not yet"
		}
		return ""
	})
	if r, err := tr.Want(context.Background(), "not-ql", false); err != nil {
		t.Errorf("Want of a non-ql channel: %v", err)
	} else {
		r()
	}
}

// Events wants everything while registered: qless events of every shard
// reach it, and the pattern goes when it is cancelled.
func TestEventsWantsEverything(t *testing.T) {
	t.Parallel()
	redises := startRedises(t, 2)
	tr := startRouter(t, "r1", redises, nil)
	f := &collector{}
	cancel := tr.Events(f.add)
	jid := tr.q(t, "put", "1", "w", queueOn(t, tr.Router, "b", "q"), "j1", "K", "{}", "0").Str
	waitFor(t, "the put event", 5*time.Second, func() string {
		if !slices.Contains(f.snapshot(), `ql:log {"jid":"`+jid+`","event":"put","queue":"`+queueOn(t, tr.Router, "b", "q")+`"}`) {
			return "not yet"
		}
		return ""
	})
	cancel()
	for name, s := range tr.shards {
		waitFor(t, "the pattern to go", 5*time.Second, func() string {
			if _, pat := upstream(t, s); pat != 0 {
				return "shard " + name + " still has the pattern"
			}
			return ""
		})
	}
}

func TestMayMatchQless(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		channel string
		pattern bool
		want    bool
	}{
		{"ql:w:alice", false, true},
		{"private-uuid", false, false},
		{"ql", false, false},
		{"*", true, true},
		{"q*", true, true},
		{"ql:*", true, true},
		{"ql:w:*", true, true},
		{"?l:log", true, true},
		{"[q]l:*", true, true},
		{"foo*", true, false},
		{"qx*", true, false},
		{"\\q*", true, true}, // an escape: be safe
	} {
		if got := mayMatchQless(c.channel, c.pattern); got != c.want {
			t.Errorf("mayMatchQless(%q, pattern %v) = %v, want %v", c.channel, c.pattern, got, c.want)
		}
	}
}
