package router

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSpawnedForm(t *testing.T) {
	t.Parallel()
	for jid, want := range map[string]bool{
		"r-1": true, "my.template-42": true, "a-b-7": true,
		"r-": false, "-1": false, "abc": false, "r-1x": false, "0c2f9e8b7d6a4c3b": false,
	} {
		if got := spawnedForm(jid); got != want {
			t.Errorf("spawnedForm(%q) = %v, want %v", jid, got, want)
		}
	}
}

// TestPutOfJobsWithoutDirectoryEntry: a job spawned by a recurring
// template (spawned inside a shard's script, so the jid directory has no
// entry) and, with ProbeOnMiss, a job written straight to a shard, are not
// duplicated by a put of their jid into another shard's queue: they move.
func TestPutOfJobsWithoutDirectoryEntry(t *testing.T) {
	t.Parallel()
	for _, probe := range []bool{false, true} {
		name := "spawned"
		if probe {
			name = "ProbeOnMiss"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			x := startXClusterWith(t, nil, func(c *Config) { c.CrossShard.ProbeOnMiss = probe })
			qa, qb := x.queueOn("a", "qa"), x.queueOn("b", "qb")
			jid := "t-1"
			if probe {
				// Put on shard a directly, as before a migration to the router.
				jid = "legacy"
				if _, err := x.shards["a"].CallArgs(context.Background(), "put", "0", "w", qa, jid, "K", "{}", "0"); err != nil {
					t.Fatal(err)
				}
			} else {
				x.must(x.r1, "recur", "0", qa, "t", "K", "{}", "interval", "60", "0")
				if got := x.must(x.r1, "peek", "1", qa, "1").Str; got == "{}" {
					t.Fatal("no instance spawned")
				}
			}
			if got := x.copies(jid); !cmp.Equal(got, map[string]string{"a": "waiting"}) {
				t.Fatalf("copies of %s before the put = %v", jid, got)
			}
			x.must(x.r2, "put", "2", "w", qb, jid, "K", `{"n":2}`, "0")
			x.r2.xwg.Wait()
			if got := x.copies(jid); !cmp.Equal(got, map[string]string{"b": "waiting"}) {
				t.Errorf("copies of %s after the put into %s = %v, want one waiting on b", jid, qb, got)
			}
			if v := x.get(jid); v.Queue != qb || len(v.History) != 2 {
				t.Errorf("%s = %+v, want in %s with two history entries", jid, v, qb)
			}
		})
	}
}
