package redisproc

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func startT(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// A server started on a fixed port that another server holds fails: it
// must not take the other one, which answers PING on that port, for its
// own (a restart on a port another test took meanwhile did, and then sent
// that server commands meant for its own).
func TestStartOnATakenPortFails(t *testing.T) {
	t.Parallel()
	other := startT(t, Config{})
	_, port, _ := net.SplitHostPort(other.Addr)
	p, _ := strconv.Atoi(port)
	s, err := Start(context.Background(), Config{Port: p, StartTimeout: 5 * time.Second})
	if err == nil {
		s.Stop()
		t.Fatalf("Start on the port of a running server succeeded")
	}
	if !strings.Contains(err.Error(), "exited") {
		t.Errorf("Start on a taken port: %v, want that the server exited", err)
	}
	if err := Ping(context.Background(), other.Addr); err != nil {
		t.Errorf("the other server: %v", err)
	}
}

// Kill, then Start on the same port and directory, is a restart.
func TestRestartOnItsPort(t *testing.T) {
	t.Parallel()
	s := startT(t, Config{Dir: t.TempDir()})
	_, port, _ := net.SplitHostPort(s.Addr)
	p, _ := strconv.Atoi(port)
	s.Kill()
	again := startT(t, Config{Port: p})
	if again.Addr != s.Addr {
		t.Errorf("restarted at %s, want %s", again.Addr, s.Addr)
	}
	pid, err := pidOf(context.Background(), again.Addr)
	if err != nil || pid != again.cmd.Process.Pid {
		t.Errorf("pidOf = %d, %v; want %d", pid, err, again.cmd.Process.Pid)
	}
}
