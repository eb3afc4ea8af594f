// Package redisproc starts and stops local redis-server processes on loopback.
//
// It backs the `qless-router dev` command and the test helpers in
// internal/redistest. Every server gets its own free port and its own
// temporary directory, and persistence is off.
package redisproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config describes how to start one server. The zero value is usable.
type Config struct {
	// Binary is the redis-server executable; "" means "redis-server" on PATH.
	Binary string
	// Host is the address to bind; "" means 127.0.0.1.
	Host string
	// Port to listen on; 0 picks a free one.
	Port int
	// Dir is the working directory; "" creates a temporary one that Stop removes.
	Dir string
	// Args are extra "--name value" arguments passed to redis-server.
	Args []string
	// UnixSocket also opens a Unix domain socket (redis.sock in the
	// server's directory, mode 700), published as Server.Socket: a client
	// on the same host pays noticeably less kernel time per command on it
	// than on loopback TCP (no TCP/IP stack).
	UnixSocket bool
	// StartTimeout bounds the wait for the server to answer PING; 0 means 10s.
	StartTimeout time.Duration
}

// Server is a running redis-server process. Safe for concurrent use.
type Server struct {
	Addr   string // host:port
	Socket string // the Unix socket's path with Config.UnixSocket, else ""

	cmd     *exec.Cmd
	dir     string
	tempDir bool
	once    sync.Once
	done    chan struct{}
	waitErr error
}

// Start launches a redis-server and waits until it answers PING.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	bin := cfg.Binary
	if bin == "" {
		bin = "redis-server"
	}
	if _, err := exec.LookPath(bin); err != nil {
		return nil, fmt.Errorf("redisproc: %s not found (install it with `apt-get install redis-server`): %w", bin, err)
	}
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := cfg.Port
		if port == 0 {
			p, err := freePort(host)
			if err != nil {
				return nil, err
			}
			port = p
		}
		s, err := start(ctx, bin, host, port, cfg, timeout)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if cfg.Port != 0 {
			break // a fixed port will not get better by retrying
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, bin, host string, port int, cfg Config, timeout time.Duration) (*Server, error) {
	dir, temp := cfg.Dir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "qless-redis-")
		if err != nil {
			return nil, fmt.Errorf("redisproc: %w", err)
		}
		dir, temp = d, true
	}
	args := []string{
		"--bind", host,
		"--port", strconv.Itoa(port),
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "no",
		"--logfile", filepath.Join(dir, "redis.log"),
	}
	var socket string
	if cfg.UnixSocket {
		socket = filepath.Join(dir, "redis.sock")
		args = append(args, "--unixsocket", socket, "--unixsocketperm", "700")
	}
	args = append(args, cfg.Args...)
	cmd := exec.Command(bin, args...)
	detach(cmd)
	if err := cmd.Start(); err != nil {
		if temp {
			os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("redisproc: start %s: %w", bin, err)
	}
	s := &Server{
		Addr:    net.JoinHostPort(host, strconv.Itoa(port)),
		Socket:  socket,
		cmd:     cmd,
		dir:     dir,
		tempDir: temp,
		done:    make(chan struct{}),
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(timeout)
	for {
		// Ours, not another server on the port: a restart on a fixed port
		// that another process took meanwhile must fail, not adopt it.
		if pid, err := pidOf(ctx, s.Addr); err == nil && pid == cmd.Process.Pid && Ping(ctx, s.Addr) == nil {
			return s, nil
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			s.cleanup()
			return nil, fmt.Errorf("redisproc: redis-server on %s exited: %v: %s", s.Addr, s.waitErr, lastLines(string(log), 5))
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("redisproc: redis-server on %s did not answer PING within %s", s.Addr, timeout)
		}
	}
}

// Stop kills the server and removes its temporary directory. Idempotent.
func (s *Server) Stop() {
	s.once.Do(func() {
		if s.cmd.Process != nil {
			_ = s.cmd.Process.Kill()
		}
		<-s.done
		s.cleanup()
	})
}

// Kill stops the process abruptly but keeps the directory (for restart tests).
func (s *Server) Kill() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	<-s.done
}

// Done is closed when the process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

func (s *Server) cleanup() {
	if s.tempDir {
		os.RemoveAll(s.dir)
	}
}

// Ping opens a connection to addr and checks that it answers PING with PONG.
func Ping(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return errors.New(strings.TrimSpace(line))
	}
	return nil
}

// pidOf asks the server at addr for its process id (INFO server).
func pidOf(ctx context.Context, addr string) (int, error) {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("INFO server\r\n")); err != nil {
		return 0, err
	}
	rd := bufio.NewReader(conn)
	head, err := rd.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if !strings.HasPrefix(head, "$") {
		return 0, errors.New(strings.TrimSpace(head)) // e.g. -LOADING
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil || n < 0 || n > 1<<20 {
		return 0, fmt.Errorf("INFO: bad reply %q", head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rd, body); err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("INFO: no process_id")
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("redisproc: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
