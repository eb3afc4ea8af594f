package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
)

// ChildEnv is the environment variable that marks a child process started
// by a ProcessPerJob worker; its value is the parent's worker name.
const ChildEnv = "QLESS_WORKER_CHILD"

// childResultFD is the file descriptor on which a child reports its
// outcome (the first of exec.Cmd.ExtraFiles).
const childResultFD = 3

// maxChildResult bounds the size of a child's report.
const maxChildResult = 1 << 20

// IsChild reports whether this process is a child started by a
// ProcessPerJob worker to run one job.
func IsChild() bool { return os.Getenv(ChildEnv) != "" }

// childResult is what a child writes on its result descriptor, as one JSON
// object.
type childResult struct {
	// OK: the handler returned nil.
	OK bool `json:"ok"`
	// Settled: the handler returned an error matching ErrSettled.
	Settled bool `json:"settled,omitempty"`
	// Group is the group suffix of the failure (after "<class>:").
	Group string `json:"group,omitempty"`
	// Message is the error text.
	Message string `json:"message,omitempty"`
}

// ChildError is the error a child process reported for its job: the
// handler's error, with its group (see Group) and text as the child saw
// them.
type ChildError struct {
	// GroupName is the group after "<class>:" (e.g. "*net.OpError").
	GroupName string
	// Message is the error's text.
	Message string
}

func (e *ChildError) Error() string { return e.Message }

// Group returns GroupName.
func (e *ChildError) Group() string { return e.GroupName }

// CrashError is the error of a child process that ended without reporting
// an outcome: it crashed, was killed, or exited early. Its group is
// "crashed".
type CrashError struct {
	// PID is the child's process id.
	PID int
	// State describes how it ended, e.g. "exit status 2" or "signal:
	// killed".
	State string
	// Stderr is the tail of its stderr.
	Stderr string
}

func (e *CrashError) Error() string {
	msg := fmt.Sprintf("child process %d ended without reporting a result (%s)", e.PID, e.State)
	if e.Stderr != "" {
		msg += "; stderr tail:\n" + e.Stderr
	}
	return msg
}

// Group is "crashed".
func (e *CrashError) Group() string { return "crashed" }

// runInChild runs job in a child process and returns its outcome. The
// child is killed when ctx ends.
func (w *Worker) runInChild(ctx context.Context, job *client.Job) error {
	input, err := json.Marshal(job.Job)
	if err != nil {
		return fmt.Errorf("worker: encode job for the child: %w", err)
	}
	path := w.cfg.ChildPath
	if path == "" {
		if path, err = os.Executable(); err != nil {
			return fmt.Errorf("worker: find the executable to run the child: %w", err)
		}
	}
	args := w.cfg.ChildArgs
	if args == nil {
		args = os.Args[1:]
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(append(os.Environ(), w.cfg.ChildEnv...), ChildEnv+"="+w.name)
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stdout = w.cfg.ChildStdout
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	stderr := w.cfg.ChildStderr
	if stderr == nil {
		stderr = os.Stderr
	}
	tail := newTail(w.cfg.StderrTail)
	cmd.Stderr = io.MultiWriter(stderr, tail)
	cmd.WaitDelay = time.Second
	isolate(cmd)

	r, wr, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("worker: result pipe for the child: %w", err)
	}
	cmd.ExtraFiles = []*os.File{wr}
	if err := cmd.Start(); err != nil {
		r.Close()
		wr.Close()
		return fmt.Errorf("worker: start the child: %w", err)
	}
	wr.Close()
	results := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, maxChildResult))
		results <- b
	}()
	werr := cmd.Wait()
	var out []byte
	select {
	case out = <-results:
	case <-time.After(time.Second):
		// A grandchild holds the pipe open; the child is gone.
	}
	r.Close()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var res childResult
	if len(out) == 0 || json.Unmarshal(out, &res) != nil {
		state := "no exit status"
		if cmd.ProcessState != nil {
			state = cmd.ProcessState.String()
		} else if werr != nil {
			state = werr.Error()
		}
		return &CrashError{PID: cmd.Process.Pid, State: state, Stderr: tail.String()}
	}
	switch {
	case res.OK:
		return nil
	case res.Settled:
		return fmt.Errorf("%w: %s", ErrSettled, res.Message)
	default:
		return &ChildError{GroupName: res.Group, Message: res.Message}
	}
}

// MaybeRunChild runs the job of a child process and reports true, when this
// process is a child started by a ProcessPerJob worker (IsChild); else it
// does nothing and reports false. Call it at the top of main when the child
// should not do what main does before Worker.Run (which calls it itself).
//
// The child reads the job from stdin, runs the handler registered in reg
// for its class, wrapped in the class's middleware (not the worker-wide
// middleware, which runs in the parent), and reports the outcome to the
// parent. With a non-nil c the handler gets the job as c fetches it, so
// that methods that do not need the job's lock (Log, Tag, Track, ...) work;
// Heartbeat, Complete, Fail and Retry are refused unless c has the parent's
// worker name (the value of ChildEnv). With a nil c the job has no client
// and its methods fail with client.ErrNoClient.
//
// The returned error is about the protocol (no job on stdin, no result
// descriptor); the handler's own outcome goes to the parent.
func MaybeRunChild(ctx context.Context, c *client.Client, reg *Registry) (bool, error) {
	if !IsChild() {
		return false, nil
	}
	return true, runChild(ctx, c, reg)
}

func (w *Worker) runChild(ctx context.Context) error { return runChild(ctx, w.c, w.reg) }

func runChild(ctx context.Context, c *client.Client, reg *Registry) error {
	out := os.NewFile(childResultFD, "qless-worker-result")
	if out == nil {
		return errors.New("worker: child: no result descriptor (fd 3)")
	}
	defer out.Close()
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		return fmt.Errorf("worker: child: read the job: %w", err)
	}
	var cj core.Job
	if err := json.Unmarshal(input, &cj); err != nil {
		return fmt.Errorf("worker: child: decode the job: %w", err)
	}
	job := &client.Job{Job: cj}
	var res childResult
	if c != nil {
		fetched, err := c.Job(ctx, cj.JID)
		switch {
		case err != nil:
			res = failure(fmt.Errorf("worker: child: fetch job %s: %w", cj.JID, err))
		case fetched == nil:
			res = failure(fmt.Errorf("worker: child: job %s: %w", cj.JID, client.ErrNotFound))
		default:
			job = fetched
		}
	}
	if res.Group == "" {
		res = runChildHandler(ctx, reg, job)
	}
	b, _ := json.Marshal(res)
	if _, err := out.Write(b); err != nil {
		return fmt.Errorf("worker: child: report the result: %w", err)
	}
	return nil
}

func runChildHandler(ctx context.Context, reg *Registry, job *client.Job) (res childResult) {
	defer func() {
		if p := recover(); p != nil {
			res = failure(&PanicError{Value: p, Stack: debug.Stack()})
		}
	}()
	e, ok := reg.lookup(job.Klass)
	if !ok {
		return failure(&NoHandlerError{Klass: job.Klass})
	}
	err := e.inner(ctx, job)
	switch {
	case err == nil:
		return childResult{OK: true}
	case errors.Is(err, ErrSettled):
		return childResult{Settled: true, Message: err.Error()}
	}
	return failure(err)
}

// failure is the report of an error.
func failure(err error) childResult {
	var g Grouper
	group := errorType(err)
	if errors.As(err, &g) {
		group = g.Group()
	}
	return childResult{Group: group, Message: err.Error()}
}
