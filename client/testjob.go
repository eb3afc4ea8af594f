package client

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/qless-router/qless-router/core"
)

// NewTestJob returns a Job that belongs to no server, for unit tests of job
// code. Fields left zero get defaults: a random JID, Queue "test-queue",
// State "running", Worker "test-worker", Data `{}`, Retries and Remaining
// 5, Expires 60 seconds from now, and a history of put and popped.
//
// Its methods do not send anything: they record the call (TestCalls), update
// the job's fields as the server would in the common case, and succeed,
// unless an error was set with SetTestError. Heartbeat extends Expires by
// 60 seconds; Retry decrements Remaining.
func NewTestJob(j core.Job) *Job {
	now := time.Now()
	if j.JID == "" {
		j.JID = NewJID()
	}
	if j.Queue == "" {
		j.Queue = "test-queue"
	}
	if j.State == "" {
		j.State = core.StateRunning
	}
	if j.Worker == "" && j.State == core.StateRunning {
		j.Worker = "test-worker"
	}
	if j.Data == "" {
		j.Data = "{}"
	}
	if j.Retries == 0 && j.Remaining == 0 {
		j.Retries, j.Remaining = 5, 5
	}
	if j.Expires == 0 && j.State == core.StateRunning {
		j.Expires = float64(now.Add(60 * time.Second).Unix())
	}
	if j.History == nil {
		j.History = []core.HistoryEntry{{When: now.Unix(), What: "put", Queue: j.Queue}}
		if j.State == core.StateRunning {
			j.History = append(j.History, core.HistoryEntry{When: now.Unix(), What: "popped", Worker: j.Worker})
		}
	}
	return &Job{Job: j, rec: &recorder{}}
}

// Call is one call recorded by a test job: the qless command and its
// arguments after `now`.
type Call struct {
	Command string
	Args    []string
}

// String renders the call as "command arg1 arg2 ...".
func (c Call) String() string {
	return strings.TrimSpace(c.Command + " " + strings.Join(c.Args, " "))
}

// TestCalls returns the calls a test job recorded, oldest first; nil for a
// job of a server.
func (j *Job) TestCalls() []Call {
	if j.rec == nil {
		return nil
	}
	j.rec.mu.Lock()
	defer j.rec.mu.Unlock()
	return slices.Clone(j.rec.calls)
}

// SetTestError makes the test job's later calls of the qless command (e.g.
// "heartbeat", "complete") fail with err, or succeed again when err is
// nil. Use an *Error to imitate the server, e.g.
//
//	&client.Error{Command: "heartbeat", Message: "Heartbeat(): Job j1 not currently running: waiting"}
//
// which matches ErrLockLost. It does nothing on a job of a server.
func (j *Job) SetTestError(command string, err error) {
	if j.rec == nil {
		return
	}
	j.rec.mu.Lock()
	defer j.rec.mu.Unlock()
	if j.rec.errs == nil {
		j.rec.errs = make(map[string]error)
	}
	if err == nil {
		delete(j.rec.errs, command)
	} else {
		j.rec.errs[command] = err
	}
}

// recorder stands in for the server of a test job.
type recorder struct {
	mu    sync.Mutex
	calls []Call           // guarded by mu
	errs  map[string]error // guarded by mu
}

// call records a call and fabricates the server's reply.
func (r *recorder) call(cmd string, args []string) (result, error) {
	r.mu.Lock()
	r.calls = append(r.calls, Call{Command: cmd, Args: slices.Clone(args)})
	err := r.errs[cmd]
	r.mu.Unlock()
	if err != nil {
		return result{}, err
	}
	reply := core.NilReply()
	switch cmd {
	case "heartbeat":
		reply = core.IntReply(time.Now().Add(60 * time.Second).Unix())
	case "complete":
		reply = core.StringReply(completeState(args))
	}
	return result{fake: &reply}, nil
}

// completeState is the state a complete with these arguments leads to
// when every dependency is unmet.
func completeState(args []string) string {
	opts := map[string]string{}
	for i := 4; i+1 < len(args); i += 2 {
		opts[args[i]] = args[i+1]
	}
	if _, ok := opts["next"]; !ok {
		return core.StateComplete
	}
	if d := opts["depends"]; d != "" && d != "[]" {
		return core.StateDepends
	}
	if f, err := strconv.ParseFloat(opts["delay"], 64); err == nil && f > 0 {
		return core.StateScheduled
	}
	return core.StateWaiting
}

// applyTags updates a tag list as tag add / tag remove do.
func applyTags(list []string, action string, tags []string) []string {
	out := slices.Clone(list)
	for _, t := range tags {
		i := slices.Index(out, t)
		switch {
		case action == "add" && i < 0:
			out = append(out, t)
		case action == "remove" && i >= 0:
			out = slices.DeleteFunc(out, func(s string) bool { return s == t })
		}
	}
	return out
}
