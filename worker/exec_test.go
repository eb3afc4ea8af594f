package worker_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/worker"
)

// execScript is the program of the Exec tests: it acts on the job's class.
const execScript = `#!/bin/sh
case "$QLESS_KLASS" in
Save)
	cat > "$OUT/$QLESS_JID.json"
	env | grep '^QLESS_' | sort > "$OUT/$QLESS_JID.env"
	echo "saved $QLESS_JID"
	;;
Bad)
	echo "first line" >&2
	echo "bad input in $QLESS_JID" >&2
	exit 3
	;;
Hang)
	echo "hanging $QLESS_JID" >&2
	sleep 30
	;;
esac
`

func TestExecHandler(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, 0)
	dir := t.TempDir()
	script := filepath.Join(dir, "job.sh")
	if err := os.WriteFile(script, []byte(execScript), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	h, err := worker.Exec(worker.ExecConfig{
		Command: []string{"/bin/sh", "-c", script},
		Env:     []string{"OUT=" + dir},
		Stdout:  &stdout, Stderr: &stderr,
		StderrTail: 50,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := localConfig("q")
	cfg.Concurrency = 3
	r := startWorker(t, newClient(t, "w1", e.addr), cfg, func(w *worker.Worker) { w.HandleAny(h) })

	save := put(t, e.c, "q", "Save", map[string]string{"to": "x@example.com"}, client.WithTags("a", "b"), client.WithPriority(3))
	bad := put(t, e.c, "q", "Bad", nil)
	hang := put(t, e.c, "q", "Hang", nil)

	waitFor(t, 10*time.Second, "Save completed", stateIs(t, e.c, save, core.StateComplete))
	var got core.Job
	b, err := os.ReadFile(filepath.Join(dir, save+".json"))
	if err != nil || json.Unmarshal(b, &got) != nil {
		t.Fatalf("job JSON on stdin: %q, %v", b, err)
	}
	if got.JID != save || got.Klass != "Save" || got.Data != `{"to":"x@example.com"}` || got.Worker != "w1" || got.State != core.StateRunning {
		t.Errorf("job on stdin = %+v, want the running job of w1 with its data", got)
	}
	env, _ := os.ReadFile(filepath.Join(dir, save+".env"))
	for _, want := range []string{"QLESS_JID=" + save, "QLESS_KLASS=Save", "QLESS_QUEUE=q", "QLESS_WORKER=w1",
		"QLESS_PRIORITY=3", "QLESS_RETRIES=5", "QLESS_REMAINING=5", `QLESS_TAGS=["a","b"]`} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("environment lacks %s:\n%s", want, env)
		}
	}
	if !strings.Contains(stdout.String(), "saved "+save) {
		t.Errorf("stdout %q lacks the program's output", stdout.String())
	}

	waitFor(t, 10*time.Second, "Bad failed", stateIs(t, e.c, bad, core.StateFailed))
	f := jobOf(t, e.c, bad).Failure
	if f.Group != "Bad:exit-3" || !strings.Contains(f.Message, "exit status 3") ||
		!strings.Contains(f.Message, "bad input in "+bad) || strings.Contains(f.Message, "first line") {
		t.Errorf("failure of Bad = %+v, want group Bad:exit-3 with the last 50 bytes of stderr", f)
	}

	// A lost lock kills the program (sleep 30) at once.
	waitFor(t, 10*time.Second, "Hang running", func() bool { return strings.Contains(stderr.String(), "hanging "+hang) })
	start := time.Now()
	if err := e.c.Timeout(context.Background(), hang); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "Hang dropped", func() bool { return r.w.Stats().LockLost >= 1 })
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the program was killed after %v, want at once", d)
	}
	if _, err := worker.Exec(worker.ExecConfig{}); err == nil {
		t.Errorf("Exec with no command: nil error")
	}
}
