package router

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/internal/redisproc"
)

// restartable is a redis-server that a test can kill and start again on
// the same port and directory.
type restartable struct {
	t    *testing.T
	srv  *redisproc.Server
	cfg  redisproc.Config
	addr string
}

// startRestartable starts a server; with aof, every write is in its
// append-only file, fsynced before the reply, so a restart keeps it.
func startRestartable(t *testing.T, aof bool) *restartable {
	t.Helper()
	cfg := redisproc.Config{Dir: t.TempDir()}
	if aof {
		cfg.Args = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	srv, err := redisproc.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(srv.Addr)
	cfg.Port, _ = strconv.Atoi(port)
	rs := &restartable{t: t, srv: srv, cfg: cfg, addr: srv.Addr}
	t.Cleanup(func() { rs.srv.Stop() })
	return rs
}

// restart kills the server (no shutdown: what is not on disk is lost) and
// starts it again on the same port and directory.
func (rs *restartable) restart() {
	rs.t.Helper()
	rs.srv.Kill()
	srv, err := redisproc.Start(context.Background(), rs.cfg)
	if err != nil {
		rs.t.Fatalf("restart %s: %v", rs.addr, err)
	}
	rs.srv = srv
}

// TestShardRestartMidMove restarts a shard in the middle of a move (the
// router that made it abandoned it at a step; the courier delivers once the
// shard is back): the target before the import (no persistence needed: the
// job is in the intent), the target after the import and the source after
// the intent or after the import (with an append-only file, as a shard that
// must not lose acknowledged writes runs). In every case the job ends up in
// exactly one queue, once, with its history, data, tags and tracking.
func TestShardRestartMidMove(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		step    string // where the router abandons the move
		restart string // the shard restarted: "a" (source) or "b" (target)
		aof     bool
	}{
		{"target before the import", stepAfterIntent, "b", false},
		{"target after the import", stepAfterImport, "b", true},
		{"source after the intent", stepAfterIntent, "a", true},
		{"source after the import", stepAfterImport, "a", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			servers := map[string]*restartable{}
			var addrs []string
			for _, n := range []string{"a", "b", "c"} {
				servers[n] = startRestartable(t, tc.aof && n == tc.restart)
				addrs = append(addrs, servers[n].addr)
			}
			armed := false
			x := startXClusterOn(t, addrs, func(s, id string, courier bool) error {
				if armed && s == tc.step {
					return errCrash
				}
				return nil
			}, nil)
			qa, qb := x.queueOn("a", "qa"), x.queueOn("b", "qb")
			x.must(x.r1, "put", "0", "w", qa, "j", "K", `{"n":1}`, "0", "tags", `["t"]`)
			x.must(x.r1, "track", "0", "track", "j")
			x.must(x.r1, "pop", "1", qa, "w", "1")
			x.must(x.r1, "log", "1", "j", "hello")
			armed = true
			_, err := x.do(x.r1, "complete", "2", "j", "w", qa, `{"n":2}`, "next", qb)
			x.r1.xwg.Wait()
			armed = false
			if tc.step == stepAfterIntent && !errors.Is(err, errCrash) || tc.step != stepAfterIntent && err != nil {
				t.Fatalf("complete with a crash at %s: %v", tc.step, err)
			}

			marker := x.shards[tc.restart]
			if _, err := marker.Do(context.Background(), "SET", "restart-marker", "1"); err != nil {
				t.Fatal(err)
			}
			servers[tc.restart].restart()
			// The courier delivers once the shard answers again (its client
			// reconnects; the restarted server has lost the script).
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for {
				if _, err := x.r2.DeliverPending(ctx); err == nil {
					if x.outboxes() == 0 {
						break
					}
				} else if ctx.Err() != nil {
					t.Fatalf("DeliverPending after the restart: %v", err)
				}
				select {
				case <-ctx.Done():
					t.Fatalf("outboxes not empty after the restart: %d intents", x.outboxes())
				case <-time.After(20 * time.Millisecond):
				}
			}

			// The restart happened, and the append-only file kept the data.
			if rep, err := marker.Do(ctx, "EXISTS", "restart-marker"); err != nil || rep.Int != map[bool]int64{false: 0, true: 1}[tc.aof] {
				t.Errorf("after the restart, EXISTS restart-marker = %v, %v (append-only file: %v)", rep, err, tc.aof)
			}
			if got := x.copies("j"); !cmp.Equal(got, map[string]string{"b": "waiting"}) {
				t.Errorf("copies of j = %v, want one waiting on b", got)
			}
			v := x.get("j")
			if want := []string{"put", "popped", "hello", "done", "put"}; v.Queue != qb || v.Data != `{"n":2}` || !v.Tracked || !cmp.Equal(whats(v), want) {
				t.Errorf("job after the move = %+v, want queue %s, data n=2, tracked, history %v", v, qb, want)
			}
			if !cmp.Equal(v.Tags, []string{"t"}) {
				t.Errorf("tags = %v", v.Tags)
			}
			if got := x.must(x.r2, "tag", "3", "get", "t").Str; got != `{"total":1,"jobs":["j"]}` {
				t.Errorf("tag get t = %s", got)
			}
			for q, want := range map[string]int64{qa: 0, qb: 1} {
				if got := x.must(x.r2, "length", "3", q).Int; got != want {
					t.Errorf("length %s = %d, want %d", q, got, want)
				}
			}
			if n, err := x.r2.DeliverPending(ctx); err != nil || n != 0 {
				t.Errorf("second DeliverPending = %d, %v", n, err)
			}
			popped := x.must(x.r2, "pop", "4", qb, "w", "5").Str
			var jobs []map[string]any
			if err := json.Unmarshal([]byte(popped), &jobs); err != nil || len(jobs) != 1 || jobs[0]["jid"] != "j" {
				t.Errorf("pop %s = %s", qb, popped)
			}
		})
	}
}
