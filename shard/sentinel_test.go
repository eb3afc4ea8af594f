package shard

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/redisproc"
)

// startSentinel runs a redis-server in Sentinel mode monitoring the master
// set "mym" at primary (with replica), with short failure timings, until the test ends.
func startSentinel(t *testing.T, primary, replica string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	host, pport, _ := net.SplitHostPort(primary)
	rhost, rport, _ := net.SplitHostPort(replica)
	dir := t.TempDir()
	conf := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
		"sentinel monitor mym %s %s 1\n"+
		"sentinel down-after-milliseconds mym 1000\n"+ // (300 ms made a loaded test machine fail over twice)
		"sentinel failover-timeout mym 3000\n"+
		// Known from the start, rather than after the sentinel's first INFO
		// round (10 s).
		"sentinel known-replica mym %s %s\n", p, dir, host, pport, rhost, rport)
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", path, "--sentinel", "--logfile", filepath.Join(dir, "sentinel.log"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sentinel: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "sentinel.log"))
			t.Logf("sentinel log:\n%s", log)
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	eventually(t, "the sentinel to answer", func() bool { return redisproc.Ping(context.Background(), addr) == nil })
	return addr
}

func TestSentinel(t *testing.T) {
	t.Parallel()
	primary, replica := replicated(t)
	sentinel := startSentinel(t, primary.Addr, replica.Addr)

	s := startShard(t, "", func(c *Config) { c.URL = "redis-sentinel://" + sentinel + "/mym" })
	if got, err := s.Call(ctx(t), "put", "1", "q", "j1"); err != nil || !cmp.Equal(got, core.StringReply("j1")) {
		t.Fatalf("Call through Sentinel = %v, %v", got, err)
	}
	if got, err := s.Do(ctx(t), "WAIT", "1", "5000"); err != nil || got.Int != 1 {
		t.Fatalf("WAIT for the replica = %v, %v", got, err)
	}
	// Wait until the sentinel knows the replica, then kill the primary: the
	// shard must follow the failover to the promoted replica.
	eventually(t, "the sentinel to discover the replica", func() bool {
		r, err := sentinelReplicas(ctx(t), sentinel)
		return err == nil && r > 0
	})
	t0 := time.Now()
	primary.Kill()
	eventually(t, "a write after the failover", func() bool {
		got, err := s.Call(ctx(t), "put", "2", "q", "j2")
		return err == nil && cmp.Equal(got, core.StringReply("j2"))
	})
	t.Logf("failover took %s", time.Since(t0))
	if got, err := s.Do(ctx(t), "ZCARD", "ql:q:q-work"); err != nil || got.Int != 2 {
		t.Errorf("ZCARD on the new primary = %v, %v; want 2 (j1 replicated, j2 written)", got, err)
	}
	eventually(t, "Healthy() = true", s.Healthy)
}

// sentinelReplicas asks a Sentinel how many replicas of mym it knows.
func sentinelReplicas(ctx context.Context, sentinel string) (int, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{sentinel}, DisableCache: true, AlwaysRESP2: true})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	r, err := c.Do(ctx, c.B().Arbitrary("SENTINEL", "REPLICAS", "mym").Build()).ToArray()
	return len(r), err
}
