package redisproc

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLimitCPU(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("LimitCPU needs root to create a cgroup")
	}
	s, err := Start(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	undo, err := s.LimitCPU(0.25)
	if err != nil {
		t.Fatalf("LimitCPU: %v", err)
	}
	pid := strconv.Itoa(s.cmd.Process.Pid)
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*qless-redis-" + pid)
	dirs2, _ := filepath.Glob("/sys/fs/cgroup/cpu/qless-redis-" + pid)
	dirs = append(dirs, dirs2...)
	if len(dirs) != 1 {
		t.Fatalf("cgroup of pid %s: found %v, want one", pid, dirs)
	}
	procs, err := os.ReadFile(filepath.Join(dirs[0], "cgroup.procs"))
	if err != nil || strings.TrimSpace(string(procs)) != pid {
		t.Fatalf("cgroup.procs = %q, %v; want the server's pid %s", procs, err, pid)
	}
	quota, _ := os.ReadFile(filepath.Join(dirs[0], "cpu.cfs_quota_us"))
	max, _ := os.ReadFile(filepath.Join(dirs[0], "cpu.max"))
	if got := strings.TrimSpace(string(quota) + string(max)); !strings.HasPrefix(got, "25000") {
		t.Fatalf("quota = %q, want 25000 of a 100000 period", got)
	}
	if err := Ping(context.Background(), s.Addr); err != nil {
		t.Fatalf("server does not answer under the limit: %v", err)
	}
	if err := undo(); err != nil {
		t.Fatalf("undo: %v", err)
	}
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Fatalf("cgroup %s still there after undo (%v)", dirs[0], err)
	}
}
