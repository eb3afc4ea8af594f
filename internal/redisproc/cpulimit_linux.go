package redisproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// LimitCPU caps the server's CPU at fraction of one core with a cgroup of
// its own (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us), so that a benchmark
// on a small machine can make Redis the bottleneck, as on a cluster whose
// shards have their own machines. It needs root (or a delegated cgroup).
// The returned func removes the limit.
func (s *Server) LimitCPU(fraction float64) (undo func() error, err error) {
	if fraction <= 0 {
		return nil, fmt.Errorf("redisproc: CPU fraction %v must be > 0", fraction)
	}
	pid := strconv.Itoa(s.cmd.Process.Pid)
	const period = 100000
	quota := strconv.Itoa(max(1000, int(fraction*period)))
	var dir, procsBack string
	var files map[string]string
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		dir = filepath.Join("/sys/fs/cgroup", "qless-redis-"+pid)
		procsBack = "/sys/fs/cgroup/cgroup.procs"
		files = map[string]string{"cpu.max": quota + " " + strconv.Itoa(period)}
	} else if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err == nil {
		dir = filepath.Join("/sys/fs/cgroup/cpu", "qless-redis-"+pid)
		procsBack = "/sys/fs/cgroup/cpu/cgroup.procs"
		files = map[string]string{"cpu.cfs_period_us": strconv.Itoa(period), "cpu.cfs_quota_us": quota}
	} else {
		return nil, errors.New("redisproc: no cgroup cpu controller found (needs Linux cgroups)")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("redisproc: limit CPU: %w", err)
	}
	undo = func() error {
		_ = os.WriteFile(procsBack, []byte(pid), 0o644) // gone already if the server exited
		return os.Remove(dir)
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			_ = undo()
			return nil, fmt.Errorf("redisproc: limit CPU: %s: %w", name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(pid), 0o644); err != nil {
		_ = undo()
		return nil, fmt.Errorf("redisproc: limit CPU: %w", err)
	}
	return undo, nil
}
