//go:build unix

package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/worker"
)

// The environment of a signal-test worker process.
const (
	signalWorkerEnv = "QLESS_WORKER_TEST_SIGNALS" // its worker name
	signalAddrEnv   = "QLESS_WORKER_TEST_SIGNALS_ADDR"
	signalGateEnv   = "QLESS_WORKER_TEST_SIGNALS_GATE" // a directory
)

// runSignalWorker is the main of a worker process of the signal tests. Its
// Gate jobs run until a file named after the jid appears in the gate
// directory (or their context ends); Quick jobs just complete.
func runSignalWorker() int {
	cfg := client.DefaultLocalConfig()
	cfg.Addrs = []string{os.Getenv(signalAddrEnv)}
	cfg.WorkerName = os.Getenv(signalWorkerEnv)
	c, err := client.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer c.Close()
	wcfg := worker.DefaultLocalConfig()
	wcfg.Queues = []string{"q"}
	wcfg.Concurrency = 2
	wcfg.HandleSignals = true
	wcfg.StackDump = os.Stderr
	wcfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	w, err := worker.New(c, wcfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	gate := os.Getenv(signalGateEnv)
	w.Handle("Gate", func(ctx context.Context, job *client.Job) error {
		if err := os.WriteFile(filepath.Join(gate, job.JID+".started"), nil, 0o644); err != nil {
			return err
		}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if _, err := os.Stat(filepath.Join(gate, job.JID)); err == nil {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
			}
		}
	})
	w.Handle("Quick", func(context.Context, *client.Job) error { return nil })
	if err := w.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "Run:", err)
		return 1
	}
	return 0
}

// signalProc is a worker process of the signal tests.
type signalProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *syncBuffer
	gate   string
	exited chan error
}

func startSignalWorker(t *testing.T, addr, name string) *signalProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &signalProc{t: t, stderr: &syncBuffer{}, gate: t.TempDir(), exited: make(chan error, 1)}
	p.cmd = exec.Command(exe)
	p.cmd.Env = append(os.Environ(), signalWorkerEnv+"="+name, signalAddrEnv+"="+addr,
		signalGateEnv+"="+p.gate, "GORACE=atexit_sleep_ms=0")
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("worker process stderr:\n%s", p.stderr.String())
		}
	})
	p.waitLog("worker started")
	return p
}

func (p *signalProc) signal(s syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		p.t.Fatalf("signal %v: %v", s, err)
	}
}

func (p *signalProc) waitLog(text string) {
	p.t.Helper()
	waitFor(p.t, 20*time.Second, "worker log "+text, func() bool { return strings.Contains(p.stderr.String(), text) })
}

// open lets the Gate job jid finish.
func (p *signalProc) open(jid string) {
	p.t.Helper()
	if err := os.WriteFile(filepath.Join(p.gate, jid), nil, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// waitExit waits for the process to exit and returns its exit code.
func (p *signalProc) waitExit() int {
	p.t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatalf("worker process: %v", err)
		}
		return 0
	case <-time.After(20 * time.Second):
		p.t.Fatal("the worker process did not exit")
		return -1
	}
}

// waitStarted waits until the Gate job jid runs in the process.
func (p *signalProc) waitStarted(jid string) {
	p.t.Helper()
	waitFor(p.t, 20*time.Second, "gate job "+jid+" running", func() bool {
		_, err := os.Stat(filepath.Join(p.gate, jid+".started"))
		return err == nil
	})
}

func TestSignalsStopNow(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			e := newRedisEnv(t, 0)
			p := startSignalWorker(t, e.addr, "sig-w")
			jid := put(t, e.c, "q", "Gate", nil)
			p.waitStarted(jid)
			p.signal(sig)
			if code := p.waitExit(); code != 0 {
				t.Errorf("exit code %d after %v, want 0", code, sig)
			}
			j := jobOf(t, e.c, jid)
			if j.State != core.StateWaiting || j.Remaining != 4 {
				t.Errorf("job after %v: state %q remaining %d, want given back (waiting, 4 left)", sig, j.State, j.Remaining)
			}
		})
	}
}

func TestSignalQuitDrains(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	p := startSignalWorker(t, e.addr, "sig-w")
	first := put(t, e.c, "q", "Gate", nil)
	p.waitStarted(first)
	p.signal(syscall.SIGQUIT)
	p.waitLog("draining")
	second := put(t, e.c, "q", "Quick", nil)
	never(t, 300*time.Millisecond, "the draining worker took a new job", func() bool {
		return jobOf(t, e.c, second).State != core.StateWaiting
	})
	p.open(first)
	if code := p.waitExit(); code != 0 {
		t.Errorf("exit code %d after QUIT, want 0", code)
	}
	if j := jobOf(t, e.c, first); j.State != core.StateComplete {
		t.Errorf("running job after QUIT: state %q, want complete", j.State)
	}
	if j := jobOf(t, e.c, second); j.State != core.StateWaiting {
		t.Errorf("job put after QUIT: state %q, want waiting", j.State)
	}
}

func TestSignalUSR1KillsRunningJobsAndCarriesOn(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	p := startSignalWorker(t, e.addr, "sig-w")
	jid := put(t, e.c, "q", "Gate", nil)
	p.waitStarted(jid)
	p.signal(syscall.SIGUSR1)
	waitFor(t, 20*time.Second, "killed job failed", stateIs(t, e.c, jid, core.StateFailed))
	if f := jobOf(t, e.c, jid).Failure; f.Group != "Gate:killed" {
		t.Errorf("failure %+v, want group Gate:killed", f)
	}
	quick := put(t, e.c, "q", "Quick", nil)
	waitFor(t, 20*time.Second, "next job completed", stateIs(t, e.c, quick, core.StateComplete))
	p.signal(syscall.SIGTERM)
	if code := p.waitExit(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

func TestSignalUSR2PausesAndDumpsStacksCONTResumes(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	p := startSignalWorker(t, e.addr, "sig-w")
	p.signal(syscall.SIGUSR2)
	p.waitLog("msg=paused")
	// The stack dump (its own goroutine is always in it: the fetchers may
	// not have started yet when the signal comes this early).
	p.waitLog("worker.(*Worker).DumpStacks")
	jid := put(t, e.c, "q", "Quick", nil)
	never(t, 300*time.Millisecond, "the paused worker took a job", func() bool {
		return jobOf(t, e.c, jid).State != core.StateWaiting
	})
	p.signal(syscall.SIGCONT)
	waitFor(t, 20*time.Second, "job completed after CONT", stateIs(t, e.c, jid, core.StateComplete))
	p.signal(syscall.SIGTERM)
	if code := p.waitExit(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}
