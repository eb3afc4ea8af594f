package client

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/qless-router/qless-router/core"
)

// Job is a qless job with every field the server reports (core.Job: JID,
// Klass, Queue, State, Data, History, Dependencies, Dependents, Priority,
// Tags, Retries (the original allowance), Remaining, Worker, Expires,
// Failure, Tracked, SpawnedFrom) and methods that act on it through the
// Client that fetched it.
//
// A Job is a snapshot: methods update the fields they change (State after
// Complete, Expires after Heartbeat, Tags after Tag, ...), nothing else
// refreshes it (Refresh fetches it again). A Job is not safe for concurrent
// use; its Client is. A worker that heartbeats from a goroutine of its own
// while job code uses the Job heartbeats a copy: lock := *job;
// lock.Heartbeat(ctx).
type Job struct {
	core.Job
	c *Client
	// rec, for a test job, records the calls instead of sending them.
	rec *recorder
}

func (c *Client) newJob(j core.Job) *Job { return &Job{Job: j, c: c} }

// Client returns the client the job was fetched with (nil for a test job).
func (j *Job) Client() *Client { return j.c }

// RawData returns the job's data, JSON text.
func (j *Job) RawData() json.RawMessage { return json.RawMessage(j.Data) }

// Decode decodes the job's data into v (encoding/json).
func (j *Job) Decode(v any) error {
	data := j.Data
	if data == "" {
		data = "{}"
	}
	if err := json.Unmarshal([]byte(data), v); err != nil {
		return fmt.Errorf("client: job %s: decode data: %w", j.JID, err)
	}
	return nil
}

// ExpiresAt returns the expiry of the job's lock, the zero time when it has
// none.
func (j *Job) ExpiresAt() time.Time {
	if j.Expires == 0 {
		return time.Time{}
	}
	sec, frac := math.Modf(j.Expires)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// TTL returns how long the job's lock has left by the client's clock:
// negative once expired, 0 when the job has no lock.
func (j *Job) TTL() time.Duration {
	if j.Expires == 0 {
		return 0
	}
	now := time.Now
	if j.c != nil {
		now = j.c.cfg.Clock
	}
	return j.ExpiresAt().Sub(now())
}

// do sends a call about the job, or records it for a test job.
func (j *Job) do(ctx context.Context, s safety, cmd string, args ...string) (result, error) {
	if j.rec != nil {
		return j.rec.call(cmd, args)
	}
	if j.c == nil {
		return result{}, ErrNoClient
	}
	msg, err := j.c.call(ctx, s, cmd, args...)
	return result{msg: msg}, err
}

// worker is the worker name sent with heartbeat, complete, fail and retry:
// the job's worker for a test job, the client's otherwise.
func (j *Job) worker() string {
	if j.c == nil {
		return j.Worker
	}
	return j.c.cfg.WorkerName
}

// Heartbeat renews the job's lock (heartbeat) and updates Expires. With
// WithData it also replaces the job's data. It fails with ErrLockLost when
// the worker no longer holds the job. Options: WithData.
func (j *Job) Heartbeat(ctx context.Context, opts ...Option) (time.Time, error) {
	o, err := collect("Heartbeat", opts, "WithData")
	if err != nil {
		return time.Time{}, err
	}
	args := []string{j.JID, j.worker()}
	var data string
	if o.has("WithData") {
		if data, err = encodeData(o.data); err != nil {
			return time.Time{}, err
		}
		args = append(args, data)
	}
	r, err := j.do(ctx, write, "heartbeat", args...)
	if err != nil {
		return time.Time{}, err
	}
	exp, err := r.int()
	if err != nil {
		return time.Time{}, err
	}
	j.Expires = float64(exp)
	if o.has("WithData") {
		j.Data = data
	}
	return j.ExpiresAt(), nil
}

// Complete completes the job (complete), sending its data (or WithData's).
// With WithNext it moves the job to that queue instead, optionally delayed
// (WithDelay) or waiting on other jobs (WithDepends). It returns the job's
// new state: "complete", "waiting", "scheduled" or "depends", and sets
// State and Queue. It fails with ErrLockLost when the worker no longer
// holds the job. Options: WithNext, WithDelay, WithDepends, WithData.
func (j *Job) Complete(ctx context.Context, opts ...Option) (string, error) {
	o, err := collect("Complete", opts, "WithNext", "WithDelay", "WithDepends", "WithData")
	if err != nil {
		return "", err
	}
	data := j.Data
	if o.has("WithData") {
		if data, err = encodeData(o.data); err != nil {
			return "", err
		}
	} else if data == "" {
		data = "{}"
	}
	args := []string{j.JID, j.worker(), j.Job.Queue, data}
	if o.has("WithNext") {
		args = append(args, "next", o.next)
		if o.has("WithDelay") {
			args = append(args, "delay", seconds(o.delay))
		}
		if o.has("WithDepends") {
			args = append(args, "depends", jsonList(o.depends))
		}
	} else if o.has("WithDelay") || o.has("WithDepends") {
		return "", fmt.Errorf("client: Complete: WithDelay and WithDepends need WithNext")
	}
	r, err := j.do(ctx, write, "complete", args...)
	if err != nil {
		return "", err
	}
	state, err := r.str()
	if err != nil {
		return "", err
	}
	j.Data = data
	j.State = state
	j.Worker = ""
	j.Expires = 0
	if o.has("WithNext") {
		j.Job.Queue = o.next
		if state == "scheduled" {
			// The server leaves the state field "waiting" while the job is
			// in the scheduled set (spec 16.7); report what it answered.
			j.State = core.StateScheduled
		}
	} else {
		j.Job.Queue = ""
	}
	return state, nil
}

// Fail fails the job in group with message (fail). It fails with
// ErrLockLost when the worker no longer holds the job. Options: WithData.
func (j *Job) Fail(ctx context.Context, group, message string, opts ...Option) error {
	o, err := collect("Fail", opts, "WithData")
	if err != nil {
		return err
	}
	args := []string{j.JID, j.worker(), group, message}
	var data string
	if o.has("WithData") {
		if data, err = encodeData(o.data); err != nil {
			return err
		}
		args = append(args, data)
	}
	if _, err := j.do(ctx, write, "fail", args...); err != nil {
		return err
	}
	if o.has("WithData") {
		j.Data = data
	}
	j.State = core.StateFailed
	j.Failure = &core.Failure{Group: group, Message: message, Worker: j.worker()}
	if j.c != nil {
		j.Failure.When = j.c.cfg.Clock().Unix()
	}
	j.Worker = ""
	j.Expires = 0
	return nil
}

// Retry gives the job back to its queue (retry), after WithDelay if given,
// using up one retry. It returns the retries left; when none were left the
// job failed instead (in group "failed-retries-<queue>", or WithFailure's)
// and Retry returns -1. It fails with ErrLockLost when the worker no longer
// holds the job. Options: WithDelay, WithFailure.
func (j *Job) Retry(ctx context.Context, opts ...Option) (int, error) {
	o, err := collect("Retry", opts, "WithDelay", "WithFailure")
	if err != nil {
		return 0, err
	}
	args := []string{j.JID, j.Job.Queue, j.worker(), seconds(o.delay)}
	if o.has("WithFailure") {
		args = append(args, o.group, o.message)
	}
	r, err := j.do(ctx, write, "retry", args...)
	if err != nil {
		return 0, err
	}
	var n int64
	if j.rec != nil {
		n = max(int64(j.Remaining)-1, -1)
	} else if n, err = r.int(); err != nil {
		return 0, err
	}
	j.Remaining = int(n)
	switch {
	case n < 0:
		j.State = core.StateFailed
	case o.delay > 0:
		j.State = core.StateScheduled
	default:
		j.State = core.StateWaiting
	}
	return int(n), nil
}

// Requeue puts the job into queue (requeue), keeping its class and data; it
// fails if the job no longer exists. Priority, tags and retries stay as
// they are unless given. Options: WithDelay, WithPriority, WithTags,
// WithRetries, WithDepends.
func (j *Job) Requeue(ctx context.Context, queue string, opts ...Option) error {
	o, err := collect("Requeue", opts, "WithDelay", "WithPriority", "WithTags", "WithRetries", "WithDepends")
	if err != nil {
		return err
	}
	data := j.Data
	if data == "" {
		data = "{}"
	}
	args := append([]string{j.worker(), queue, j.JID, j.Klass, data, seconds(o.delay)}, putOptions(o)...)
	if _, err := j.do(ctx, write, "requeue", args...); err != nil {
		return err
	}
	j.Job.Queue = queue
	j.Worker = ""
	j.Expires = 0
	switch {
	case o.has("WithDepends") && len(o.depends) > 0:
		j.State = core.StateDepends
	case o.delay > 0:
		j.State = core.StateScheduled
	default:
		j.State = core.StateWaiting
	}
	if o.has("WithPriority") {
		j.Priority = o.priority
	}
	if o.has("WithTags") {
		j.Tags = o.tags
	}
	if o.has("WithRetries") {
		j.Retries, j.Remaining = o.retries, o.retries
	}
	return nil
}

// Cancel deletes the job (cancel). It is refused while other jobs depend
// on it.
func (j *Job) Cancel(ctx context.Context) error {
	_, err := j.do(ctx, write, "cancel", j.JID)
	return err
}

// Timeout takes the job from its worker at once (timeout): it goes back to
// the front of its queue, state "stalled".
func (j *Job) Timeout(ctx context.Context) error {
	if _, err := j.do(ctx, write, "timeout", j.JID); err != nil {
		return err
	}
	j.State = core.StateStalled
	j.Expires = 0
	return nil
}

// Tag adds tags to the job and sets Tags to the resulting list.
func (j *Job) Tag(ctx context.Context, tags ...string) error {
	return j.tag(ctx, "add", tags)
}

// Untag removes tags from the job and sets Tags to the resulting list.
func (j *Job) Untag(ctx context.Context, tags ...string) error {
	return j.tag(ctx, "remove", tags)
}

func (j *Job) tag(ctx context.Context, action string, tags []string) error {
	r, err := j.do(ctx, write, "tag", append([]string{action, j.JID}, tags...)...)
	if err != nil {
		return err
	}
	if j.rec != nil {
		j.Tags = applyTags(j.Tags, action, tags)
		return nil
	}
	list, err := r.jsonStrings()
	if err != nil {
		return err
	}
	j.Tags = list
	return nil
}

// SetPriority changes the job's priority (priority).
func (j *Job) SetPriority(ctx context.Context, p float64) error {
	if _, err := j.do(ctx, write, "priority", j.JID, ftoa(p)); err != nil {
		return err
	}
	j.Priority = p
	return nil
}

// Track marks the job tracked: its events are published on the jid
// channels (ql:completed, ql:failed, ...).
func (j *Job) Track(ctx context.Context) error {
	if _, err := j.do(ctx, write, "track", "track", j.JID); err != nil {
		return err
	}
	j.Tracked = true
	return nil
}

// Untrack stops tracking the job.
func (j *Job) Untrack(ctx context.Context) error {
	if _, err := j.do(ctx, write, "track", "untrack", j.JID); err != nil {
		return err
	}
	j.Tracked = false
	return nil
}

// Log appends a message to the job's history, with data (a JSON object;
// nil for none) as its details.
func (j *Job) Log(ctx context.Context, message string, data any) error {
	args := []string{j.JID, message}
	if data != nil {
		d, err := encodeData(data)
		if err != nil {
			return err
		}
		args = append(args, d)
	}
	_, err := j.do(ctx, write, "log", args...)
	return err
}

// Depend makes the job (which must be in state "depends") also wait on
// jids.
func (j *Job) Depend(ctx context.Context, jids ...string) error {
	if _, err := j.do(ctx, write, "depends", append([]string{j.JID, "on"}, jids...)...); err != nil {
		return err
	}
	if j.rec != nil {
		j.Dependencies = append(j.Dependencies, jids...)
	}
	return nil
}

// Undepend removes jids from the job's dependencies; when none are left it
// becomes waiting. With no jids it removes them all.
func (j *Job) Undepend(ctx context.Context, jids ...string) error {
	args := []string{j.JID, "off"}
	if len(jids) == 0 {
		args = append(args, "all")
	} else {
		args = append(args, jids...)
	}
	_, err := j.do(ctx, write, "depends", args...)
	return err
}

// Refresh fetches the job again and replaces every field.
func (j *Job) Refresh(ctx context.Context) error {
	if j.rec != nil {
		return nil
	}
	if j.c == nil {
		return ErrNoClient
	}
	n, err := j.c.Job(ctx, j.JID)
	if err != nil {
		return err
	}
	j.Job = n.Job
	return nil
}

// putOptions renders the put options that were given, in put's
// keyword/value form. Options not given are not sent, so a re-put keeps the
// job's priority, tags and retries (spec 6.24).
func putOptions(o *options) []string {
	var args []string
	if o.has("WithPriority") {
		args = append(args, "priority", ftoa(o.priority))
	}
	if o.has("WithTags") {
		args = append(args, "tags", jsonList(o.tags))
	}
	if o.has("WithRetries") {
		args = append(args, "retries", strconv.Itoa(o.retries))
	}
	if o.has("WithDepends") {
		args = append(args, "depends", jsonList(o.depends))
	}
	return args
}
