package router

import (
	"context"
	"testing"
	"time"

	"github.com/qless-router/qless-router/core"
)

// gatedShard holds every x.import until its gate opens.
type gatedShard struct {
	Shard
	gate chan struct{}
}

func (g *gatedShard) CallArgs(ctx context.Context, argv ...string) (core.Reply, error) {
	if len(argv) > 0 && argv[0] == "x.import" {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return core.Reply{}, ctx.Err()
		}
	}
	return g.Shard.CallArgs(ctx, argv...)
}

func (g *gatedShard) CallTx(ctx context.Context, argvs ...[]string) ([]core.Reply, []error, error) {
	return g.Shard.(txShard).CallTx(ctx, argvs...)
}

// TestAsyncImportReadsOwnWrites: with AsyncImport, complete with next into
// another shard's queue answers before the import; while the import is held
// back, another router does not see the job in its new queue yet, and this
// router's read of that queue waits for the import and sees it.
func TestAsyncImportReadsOwnWrites(t *testing.T) {
	t.Parallel()
	var shards []Shard
	var gated *gatedShard
	for _, rd := range startRedises(t, 3) {
		var s Shard = startShardClient(t, rd.name, rd.srv.Addr)
		if rd.name == "b" {
			gated = &gatedShard{Shard: s, gate: make(chan struct{})}
			s = gated
		}
		shards = append(shards, s)
	}
	mk := func(name string) *Router {
		cfg := DefaultLocalConfig()
		cfg.Name = name
		cfg.CrossShard.AsyncImport = true
		r, err := NewWithShards(cfg, shards)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Stop(context.Background()) })
		return r
	}
	r1, r2 := mk("r1"), mk("r2")
	x := &xcluster{t: t, r1: r1, r2: r2}
	qa, qb := x.queueOn("a", "qa"), x.queueOn("b", "qb")
	x.must(r1, "put", "0", "w", qa, "j", "K", "{}", "0")
	x.must(r1, "pop", "1", qa, "w", "1")
	if got := x.must(r1, "complete", "2", "j", "w", qa, "{}", "next", qb).Str; got != "waiting" {
		t.Fatalf("complete = %q", got)
	}
	// The other router: not there yet.
	if got := x.must(r2, "length", "3", qb).Int; got != 0 {
		t.Fatalf("length %s through r2 before the import = %d, want 0", qb, got)
	}
	// This router: waits for the import.
	got := make(chan core.Reply, 1)
	go func() {
		rep, _ := x.do(r1, "length", "3", qb)
		got <- rep
	}()
	deadline := time.Now().Add(10 * time.Second)
	for r1.moves.waiting.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("r1's length did not wait for the import")
		}
		select {
		case rep := <-got:
			t.Fatalf("length through r1 answered %v before the import", rep)
		case <-time.After(time.Millisecond):
		}
	}
	close(gated.gate)
	if rep := <-got; rep.Int != 1 {
		t.Errorf("length %s through r1 = %v, want 1", qb, rep)
	}
	r1.xwg.Wait()
	if n := x.must(r2, "length", "4", qb).Int; n != 1 {
		t.Errorf("length %s through r2 after the import = %d, want 1", qb, n)
	}
}
