package router

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestReconcilerRepairsRemoteEdges: the reconciler finds remote dependency
// edges whose other side is gone or missing and repairs them, counting and
// logging each; good edges are left alone, and nothing is checked before
// ReconcileAge.
func TestReconcilerRepairsRemoteEdges(t *testing.T) {
	t.Parallel()
	crash := false
	var logs syncBuffer
	x := startXClusterWith(t, func(step, id string, courier bool) error {
		if crash && step == stepBeforeIntent {
			return errCrash
		}
		return nil
	}, func(c *Config) {
		c.CrossShard.CourierInterval = 1000 * time.Hour
		c.CrossShard.ReconcileInterval = 1000 * time.Hour
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	ctx := context.Background()
	qa, qb, qc := x.queueOn("a", "qa"), x.queueOn("b", "qb"), x.queueOn("c", "qc")

	// good: j depends on d (other shard): a good edge, kept.
	x.must(x.r1, "put", "0", "w", qa, "d", "K", `{}`, "0")
	x.must(x.r1, "put", "0", "w", qb, "j", "K", `{}`, "0", "depends", `["d"]`)
	// dangling: a router died after linking k (on c) as a dependent of e
	// (on b) and before the put of k that adds the edge and moves it to a.
	x.must(x.r1, "put", "0", "w", qc, "k", "K", `{}`, "0")
	x.must(x.r1, "put", "1", "w", qb, "e", "K", `{}`, "0")
	crash = true
	if _, err := x.do(x.r1, "put", "2", "w", qa, "k", "K", `{}`, "0", "depends", `["e"]`); !errors.Is(err, errCrash) {
		t.Fatalf("put k with a crash before the intent: %v", err)
	}
	crash = false
	// lost dependency: m (on c) depends on f (on a), and f's shard lost
	// the edge (as after a restart without persistence).
	x.must(x.r1, "put", "2", "w", qa, "f", "K", `{}`, "0")
	x.must(x.r1, "put", "2", "w", qc, "m", "K", `{}`, "0", "depends", `["f"]`)
	if _, err := x.shards["a"].Do(ctx, "SREM", "ql:j:f-dependents", "m"); err != nil {
		t.Fatal(err)
	}
	// gone dependency: n (on b) depends on g (on c), and g vanished.
	x.must(x.r1, "put", "3", "w", qc, "g", "K", `{}`, "0")
	x.must(x.r1, "put", "3", "w", qb, "n", "K", `{}`, "0", "depends", `["g"]`)
	if _, err := x.shards["c"].Do(ctx, "DEL", "ql:j:g", "ql:j:g-dependents"); err != nil {
		t.Fatal(err)
	}

	reconcileAll := func() int {
		n := 0
		for _, name := range x.r2.names {
			k, err := x.r2.reconcileEdges(ctx, x.r2.shards[name])
			if err != nil {
				t.Fatalf("reconcileEdges %s: %v", name, err)
			}
			n += k
		}
		return n
	}
	if n := reconcileAll(); n != 0 {
		t.Errorf("before ReconcileAge: %d repairs, want none", n)
	}
	x.clock.Advance(x.r2.cfg.CrossShard.ReconcileAge + time.Second)
	if n := reconcileAll(); n != 3 {
		t.Errorf("repairs = %d, want 3 (dangling dependent, lost dependent, gone dependency)", n)
	}
	if got := x.r2.CrossShardStats().RepairedEdges.Load(); got != 3 {
		t.Errorf("XStats.RepairedEdges = %d, want 3", got)
	}
	if got := strings.Count(logs.String(), "repaired a remote dependency edge"); got != 3 {
		t.Errorf("%d repairs logged, want 3:\n%s", got, logs.String())
	}

	if v := x.get("e"); len(v.Dependencies) != 0 {
		t.Errorf("e = %+v", v)
	}
	if got := dependentsOf(t, x, "e"); len(got) != 0 {
		t.Errorf("dependents of e = %v, want none (k never depended on it)", got)
	}
	if got := dependentsOf(t, x, "d"); !cmp.Equal(got, []string{"j"}) {
		t.Errorf("dependents of d = %v, want [j] (a good edge)", got)
	}
	if got := dependentsOf(t, x, "f"); !cmp.Equal(got, []string{"m"}) {
		t.Errorf("dependents of f = %v, want [m] (linked again)", got)
	}
	if v := x.get("n"); v.State != "waiting" || len(v.Dependencies) != 0 {
		t.Errorf("n = %+v, want waiting with no dependencies (its dependency is gone)", v)
	}
	if v := x.get("j"); v.State != "depends" {
		t.Errorf("j = %+v, want depends", v)
	}

	// Checked good edges are checked again only after another ReconcileAge;
	// nothing is left to repair.
	if n := reconcileAll(); n != 0 {
		t.Errorf("second pass: %d repairs", n)
	}
	x.clock.Advance(x.r2.cfg.CrossShard.ReconcileAge + time.Second)
	if n := reconcileAll(); n != 0 {
		t.Errorf("third pass: %d repairs", n)
	}
	// And the good edge still works: d completes, j is released.
	x.must(x.r1, "pop", "4", qa, "w", "1")
	x.must(x.r1, "complete", "5", "d", "w", qa, `{}`)
	if v := x.get("j"); v.State != "waiting" {
		t.Errorf("j after d completed = %+v", v)
	}
}

func dependentsOf(t *testing.T, x *xcluster, jid string) []string {
	t.Helper()
	rep := x.must(x.r2, "get", "9", jid)
	var h struct {
		Dependents any `json:"dependents"`
	}
	if err := json.Unmarshal([]byte(normJSON(rep.Str)), &h); err != nil {
		t.Fatal(err)
	}
	l, _ := h.Dependents.([]any)
	var out []string
	for _, e := range l {
		out = append(out, e.(string))
	}
	return out
}
