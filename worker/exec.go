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
	"strconv"
	"strings"
	"time"

	"github.com/qless-router/qless-router/client"
)

// ExecConfig configures the handler Exec returns.
type ExecConfig struct {
	// Command is the program and its arguments, e.g. {"/bin/sh", "-c",
	// "bin/process-job"}. Required.
	Command []string
	// Dir is the program's working directory; "" means the worker's.
	Dir string
	// Env is added to the worker's environment, before the QLESS_* job
	// variables.
	Env []string
	// Stdout and Stderr receive the program's output; nil means the
	// worker's own stdout and stderr.
	Stdout, Stderr io.Writer
	// StderrTail is how many bytes of the program's stderr go into the
	// failure message. 0 means 4096.
	StderrTail int
	// WaitDelay bounds the wait for the program's output to close after it
	// exited (or was killed) when something it started keeps it open. 0
	// means 1s.
	WaitDelay time.Duration
}

// ExitError is the error of a program run by Exec that did not exit with
// status 0. Its group is "exit-<status>", or "signal" when a signal ended
// it.
type ExitError struct {
	// Status is the exit status, -1 when a signal ended the program.
	Status int
	// State describes the end, e.g. "exit status 3" or "signal: killed".
	State string
	// Stderr is the tail of the program's stderr.
	Stderr string
}

func (e *ExitError) Error() string {
	msg := "command ended with " + e.State
	if e.Stderr != "" {
		msg += "; stderr tail:\n" + e.Stderr
	}
	return msg
}

// Group is "exit-<status>", or "signal".
func (e *ExitError) Group() string {
	if e.Status < 0 {
		return "signal"
	}
	return "exit-" + strconv.Itoa(e.Status)
}

// Exec returns a handler that runs a program per job, for workers in any
// language: the program gets the job's JSON (as qless `get` gives it) on
// its stdin and these environment variables:
//
//	QLESS_JID, QLESS_KLASS, QLESS_QUEUE, QLESS_WORKER,
//	QLESS_PRIORITY, QLESS_RETRIES, QLESS_REMAINING,
//	QLESS_TAGS (a JSON list)
//
// Exit status 0 completes the job; any other end fails it with an
// *ExitError holding the tail of the program's stderr. The worker
// heartbeats the job while the program runs; when the job's context ends
// (lost lock, kill, stop) the program and everything it started in its
// process group are killed.
func Exec(cfg ExecConfig) (Handler, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, errors.New("worker: ExecConfig.Command is empty")
	}
	if cfg.StderrTail < 0 {
		return nil, fmt.Errorf("worker: ExecConfig.StderrTail = %d, want >= 0", cfg.StderrTail)
	}
	if cfg.StderrTail == 0 {
		cfg.StderrTail = 4096
	}
	if cfg.WaitDelay <= 0 {
		cfg.WaitDelay = time.Second
	}
	command := append([]string(nil), cfg.Command...)
	env := append([]string(nil), cfg.Env...)
	return func(ctx context.Context, job *client.Job) error {
		input, err := json.Marshal(job.Job)
		if err != nil {
			return fmt.Errorf("worker: exec: encode job: %w", err)
		}
		cmd := exec.CommandContext(ctx, command[0], command[1:]...)
		cmd.Dir = cfg.Dir
		tags, _ := json.Marshal(job.Tags)
		if job.Tags == nil {
			tags = []byte("[]")
		}
		cmd.Env = append(append(os.Environ(), env...),
			"QLESS_JID="+job.JID,
			"QLESS_KLASS="+job.Klass,
			"QLESS_QUEUE="+job.Queue,
			"QLESS_WORKER="+job.Worker,
			"QLESS_PRIORITY="+strconv.FormatFloat(job.Priority, 'f', -1, 64),
			"QLESS_RETRIES="+strconv.Itoa(job.Retries),
			"QLESS_REMAINING="+strconv.Itoa(job.Remaining),
			"QLESS_TAGS="+string(tags),
		)
		cmd.Stdin = bytes.NewReader(input)
		cmd.Stdout = cfg.Stdout
		if cmd.Stdout == nil {
			cmd.Stdout = os.Stdout
		}
		stderr := cfg.Stderr
		if stderr == nil {
			stderr = os.Stderr
		}
		tail := newTail(cfg.StderrTail)
		cmd.Stderr = io.MultiWriter(stderr, tail)
		cmd.WaitDelay = cfg.WaitDelay
		isolate(cmd)
		err = cmd.Run()
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err == nil || (cmd.ProcessState != nil && cmd.ProcessState.Success()) {
			return nil
		}
		if cmd.ProcessState == nil {
			return fmt.Errorf("worker: exec %s: %w", command[0], err)
		}
		return &ExitError{
			Status: cmd.ProcessState.ExitCode(),
			State:  cmd.ProcessState.String(),
			Stderr: strings.TrimRight(tail.String(), "\n"),
		}
	}, nil
}
