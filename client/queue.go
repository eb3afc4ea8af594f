package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/qless-router/qless-router/core"
)

// Queue is the handle of one qless queue. It holds no state and costs
// nothing to make; safe for concurrent use.
type Queue struct {
	c    *Client
	name string
}

// Queue returns the handle of the queue name.
func (c *Client) Queue(name string) *Queue { return &Queue{c: c, name: name} }

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// NewJID returns a random jid: 32 lowercase hex digits, as the Ruby and
// Python clients make them.
func NewJID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Put adds a job of class klass with data to the queue (put) and returns
// its jid. data is encoded with encoding/json; a json.RawMessage, []byte or
// string is taken as JSON text; nil is `{}`.
//
// Options: WithJID, WithDelay, WithPriority, WithTags, WithRetries,
// WithDepends. The class's Config.ClassDefaults come first, call options
// override them. Options given neither way are not sent: a new job gets
// qless's defaults (priority 0, no tags, 5 retries), and a re-put of an
// existing jid keeps the job's priority, tags, retries and dependencies.
//
// Put is not resent after a connection failure that may have delivered it;
// the returned jid is valid even then, so that the caller can look the job
// up, or put it again under the same jid (which never makes a second job).
func (q *Queue) Put(ctx context.Context, klass string, data any, opts ...Option) (string, error) {
	text, err := encodeData(data)
	if err != nil {
		return "", err
	}
	if def := q.c.cfg.ClassDefaults[klass]; def != nil {
		opts = append(def(json.RawMessage(text)), opts...)
	}
	o, err := collect("Put", opts, "WithJID", "WithDelay", "WithPriority", "WithTags", "WithRetries", "WithDepends")
	if err != nil {
		return "", err
	}
	jid := o.jid
	if !o.has("WithJID") {
		jid = NewJID()
	}
	args := append([]string{q.c.cfg.WorkerName, q.name, jid, klass, text, seconds(o.delay)}, putOptions(o)...)
	msg, err := q.c.call(ctx, write, "put", args...)
	if err != nil {
		return jid, err
	}
	return result{msg: msg}.str()
}

// Pop takes the next job of the queue for this client's worker (pop), or
// returns nil when none is ready.
func (q *Queue) Pop(ctx context.Context) (*Job, error) {
	jobs, err := q.PopMany(ctx, 1)
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	return jobs[0], nil
}

// PopMany takes up to n jobs of the queue (pop), highest priority first,
// jobs whose lock expired ahead of all.
func (q *Queue) PopMany(ctx context.Context, n int) ([]*Job, error) {
	msg, err := q.c.call(ctx, write, "pop", q.name, q.c.cfg.WorkerName, strconv.Itoa(n))
	if err != nil {
		return nil, err
	}
	return q.c.decodeJobs(result{msg: msg})
}

// Peek returns up to n jobs that Pop would take next, without taking them
// (peek). Peek is not a pure read: it spawns due recurring jobs and
// promotes due scheduled jobs, so it is not resent after a connection
// failure.
func (q *Queue) Peek(ctx context.Context, n int) ([]*Job, error) {
	msg, err := q.c.call(ctx, write, "peek", q.name, strconv.Itoa(n))
	if err != nil {
		return nil, err
	}
	return q.c.decodeJobs(result{msg: msg})
}

// Length returns the number of jobs waiting, running or scheduled in the
// queue (length; jobs waiting on dependencies are not counted).
func (q *Queue) Length(ctx context.Context) (int64, error) {
	msg, err := q.c.call(ctx, read, "length", q.name)
	if err != nil {
		return 0, err
	}
	return result{msg: msg}.int()
}

// Counts returns the queue's job counts per state and whether it is paused
// (queues <queue>).
func (q *Queue) Counts(ctx context.Context) (core.QueueCounts, error) {
	var out core.QueueCounts
	msg, err := q.c.call(ctx, read, "queues", q.name)
	if err != nil {
		return out, err
	}
	err = result{msg: msg}.json(&out)
	return out, err
}

// Pause stops Pop from handing out jobs of the queue.
func (q *Queue) Pause(ctx context.Context) error {
	_, err := q.c.call(ctx, write, "pause", q.name)
	return err
}

// Unpause lets Pop hand out jobs of the queue again.
func (q *Queue) Unpause(ctx context.Context) error {
	_, err := q.c.call(ctx, write, "unpause", q.name)
	return err
}

// Paused reports whether the queue is paused.
func (q *Queue) Paused(ctx context.Context) (bool, error) {
	c, err := q.Counts(ctx)
	return c.Paused, err
}

// SetHeartbeat sets the lock length of the queue's jobs (configuration
// `<queue>-heartbeat`), whole seconds.
func (q *Queue) SetHeartbeat(ctx context.Context, d time.Duration) error {
	return q.c.SetConfig(ctx, q.name+"-heartbeat", strconv.FormatInt(int64(d/time.Second), 10))
}

// Heartbeat returns the lock length of the queue's jobs: its own setting,
// else the global `heartbeat`.
func (q *Queue) Heartbeat(ctx context.Context) (time.Duration, error) {
	for _, key := range []string{q.name + "-heartbeat", "heartbeat"} {
		v, ok, err := q.c.GetConfig(ctx, key)
		if err != nil {
			return 0, err
		}
		if ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("client: config %s = %q: %w", key, v, err)
			}
			return time.Duration(f * float64(time.Second)), nil
		}
	}
	return 60 * time.Second, nil
}

// UnsetHeartbeat removes the queue's own lock length.
func (q *Queue) UnsetHeartbeat(ctx context.Context) error {
	return q.c.UnsetConfig(ctx, q.name+"-heartbeat")
}

// SetMaxConcurrency caps the queue's running jobs (configuration
// `<queue>-max-concurrency`); 0 removes the cap.
func (q *Queue) SetMaxConcurrency(ctx context.Context, n int) error {
	return q.c.SetConfig(ctx, q.name+"-max-concurrency", strconv.Itoa(n))
}

// Stats returns the queue's statistics for the day (UTC) that holds t
// (stats).
func (q *Queue) Stats(ctx context.Context, t time.Time) (core.Stats, error) {
	var out core.Stats
	msg, err := q.c.call(ctx, read, "stats", q.name, strconv.FormatInt(t.Unix(), 10))
	if err != nil {
		return out, err
	}
	err = result{msg: msg}.json(&out)
	return out, err
}

// Job states that Queue.Jobs lists.
const (
	ListRunning   = "running"
	ListStalled   = "stalled"
	ListScheduled = "scheduled"
	ListDepends   = "depends"
	ListRecurring = "recurring"
)

// Jobs lists the jids of the queue's jobs in a state (jobs <state>
// <queue>): ListRunning, ListStalled (lock expired), ListScheduled,
// ListDepends or ListRecurring (recurring job templates), from offset, at
// most count.
func (q *Queue) Jobs(ctx context.Context, state string, offset, count int) ([]string, error) {
	msg, err := q.c.call(ctx, read, "jobs", state, q.name, strconv.Itoa(offset), strconv.Itoa(count))
	if err != nil {
		return nil, err
	}
	return result{msg: msg}.strings()
}

// Recur adds a recurring job to the queue (recur): an instance of class
// klass with data is put every interval, the first after WithOffset. It
// returns the recurring job's jid; instances are "<jid>-1", "<jid>-2", ....
// Options: WithJID, WithOffset, WithPriority, WithTags, WithRetries (default
// 5, as the Ruby and Python clients), WithBacklog. Recurring the same jid
// again updates it.
func (q *Queue) Recur(ctx context.Context, klass string, data any, interval time.Duration, opts ...Option) (string, error) {
	text, err := encodeData(data)
	if err != nil {
		return "", err
	}
	o, err := collect("Recur", opts, "WithJID", "WithOffset", "WithPriority", "WithTags", "WithRetries", "WithBacklog")
	if err != nil {
		return "", err
	}
	jid := o.jid
	if !o.has("WithJID") {
		jid = NewJID()
	}
	retries := 5
	if o.has("WithRetries") {
		retries = o.retries
	}
	args := []string{q.name, jid, klass, text, "interval", seconds(interval), seconds(o.offset),
		"priority", ftoa(o.priority), "retries", strconv.Itoa(retries)}
	if o.has("WithTags") {
		args = append(args, "tags", jsonList(o.tags))
	}
	if o.has("WithBacklog") {
		args = append(args, "backlog", strconv.Itoa(o.backlog))
	}
	msg, err := q.c.call(ctx, write, "recur", args...)
	if err != nil {
		return jid, err
	}
	return result{msg: msg}.str()
}

// Forget removes the queue from the list of queues (queue.forget). Its jobs
// are untouched.
func (q *Queue) Forget(ctx context.Context) error {
	_, err := q.c.call(ctx, write, "queue.forget", q.name)
	return err
}

// Unfail moves up to count jobs of failure group back into this queue
// (unfail), oldest failure first, and returns how many moved.
func (q *Queue) Unfail(ctx context.Context, group string, count int) (int64, error) {
	msg, err := q.c.call(ctx, write, "unfail", q.name, group, strconv.Itoa(count))
	if err != nil {
		return 0, err
	}
	return result{msg: msg}.int()
}

// decodeJobs decodes a JSON list of jobs (`{}` when empty).
func (c *Client) decodeJobs(r result) ([]*Job, error) {
	s, err := r.str()
	if err != nil || s == "" {
		return nil, err
	}
	list, err := core.DecodeList[core.Job]([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("client: decode jobs: %w", err)
	}
	out := make([]*Job, len(list))
	for i := range list {
		out[i] = c.newJob(list[i])
	}
	return out, nil
}
