package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/redistest"
)

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestWorkerExec(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ccfg := client.DefaultLocalConfig()
	ccfg.Addrs = []string{srv.Addr}
	c, err := client.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	good, err := c.Queue("jobs").Put(ctx, "Good", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := c.Queue("jobs").Put(ctx, "Bad", nil)
	if err != nil {
		t.Fatal(err)
	}

	var stdout, stderr lockedBuffer
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"worker", "--addr", srv.Addr, "--queue", "jobs", "--concurrency", "2",
			"--interval", "20ms", "--name", "exec-worker", "--exec",
			`if [ "$QLESS_KLASS" = Bad ]; then echo "oops in $QLESS_JID" >&2; exit 2; fi; echo "did $QLESS_JID with $(cat)"`,
		}, &stdout, &stderr)
	}()
	state := func(jid string) *client.Job {
		j, err := c.Job(ctx, jid)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	deadline := time.Now().Add(20 * time.Second)
	for state(good).State != core.StateComplete || state(bad).State != core.StateFailed {
		if time.Now().After(deadline) {
			t.Fatalf("jobs not settled: good %q, bad %q; stderr:\n%s", state(good).State, state(bad).State, stderr.String())
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	if out := stdout.String(); !strings.Contains(out, "did "+good+" with {") || !strings.Contains(out, `"data":"{\"n\":1}"`) {
		t.Errorf("stdout = %q, want the command's line with the job JSON", out)
	}
	f := state(bad).Failure
	if f.Group != "Bad:exit-2" || !strings.Contains(f.Message, "oops in "+bad) || f.Worker != "exec-worker" {
		t.Errorf("failure = %+v, want group Bad:exit-2 with the stderr tail, by exec-worker", f)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("worker returned %v after its context ended", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("worker did not stop")
	}
}

func TestWorkerFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"worker", "--queue", "q"}, "--exec is required"},
		{[]string{"worker", "--exec", "true"}, "--queue is required"},
		{[]string{"worker", "--exec", "true", "--queue", "q", "--reserver", "random"}, `--reserver "random"`},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
