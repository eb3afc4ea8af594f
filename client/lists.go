package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/qless-router/qless-router/core"
)

// Job fetches the job jid with every field (get). It returns ErrNotFound
// when no such job exists.
func (c *Client) Job(ctx context.Context, jid string) (*Job, error) {
	msg, err := c.call(ctx, read, "get", jid)
	if err != nil {
		return nil, err
	}
	r := result{msg: msg}
	if r.isNil() {
		return nil, fmt.Errorf("client: job %q: %w", jid, ErrNotFound)
	}
	j := c.newJob(core.Job{})
	if err := r.json(&j.Job); err != nil {
		return nil, err
	}
	return j, nil
}

// Jobs fetches several jobs (multiget), in the order of jids; jobs that do
// not exist are left out.
func (c *Client) Jobs(ctx context.Context, jids ...string) ([]*Job, error) {
	if len(jids) == 0 {
		return nil, nil
	}
	msg, err := c.call(ctx, read, "multiget", jids...)
	if err != nil {
		return nil, err
	}
	return c.decodeJobs(result{msg: msg})
}

// Cancel deletes jobs (cancel). Jobs that other jobs depend on are refused
// unless those are canceled in the same call; complete jobs are skipped.
func (c *Client) Cancel(ctx context.Context, jids ...string) error {
	if len(jids) == 0 {
		return nil
	}
	_, err := c.call(ctx, write, "cancel", jids...)
	return err
}

// Timeout takes running jobs from their workers at once (timeout).
func (c *Client) Timeout(ctx context.Context, jids ...string) error {
	if len(jids) == 0 {
		return nil
	}
	_, err := c.call(ctx, write, "timeout", jids...)
	return err
}

// Tagged lists the jids of the jobs tagged tag (tag get), oldest tagging
// first, from offset, at most count, with the total.
func (c *Client) Tagged(ctx context.Context, tag string, offset, count int) (core.JobPage, error) {
	var out core.JobPage
	msg, err := c.call(ctx, read, "tag", "get", tag, strconv.Itoa(offset), strconv.Itoa(count))
	if err != nil {
		return out, err
	}
	err = result{msg: msg}.json(&out)
	return out, err
}

// TopTags lists the most used tags (tag top; only tags used at least
// twice), from offset, at most count.
func (c *Client) TopTags(ctx context.Context, offset, count int) ([]string, error) {
	msg, err := c.call(ctx, read, "tag", "top", strconv.Itoa(offset), strconv.Itoa(count))
	if err != nil {
		return nil, err
	}
	return result{msg: msg}.jsonStrings()
}

// TrackedJobs is the reply of Tracked.
type TrackedJobs struct {
	// Jobs are the tracked jobs that exist.
	Jobs []*Job
	// Expired are tracked jids whose job no longer exists.
	Expired []string
}

// Tracked lists the tracked jobs (track).
func (c *Client) Tracked(ctx context.Context) (TrackedJobs, error) {
	var out TrackedJobs
	msg, err := c.call(ctx, read, "track")
	if err != nil {
		return out, err
	}
	var w struct {
		Jobs    json.RawMessage `json:"jobs"`
		Expired json.RawMessage `json:"expired"`
	}
	if err := (result{msg: msg}).json(&w); err != nil {
		return out, err
	}
	jobs, err := core.DecodeList[core.Job](w.Jobs)
	if err != nil {
		return out, fmt.Errorf("client: decode tracked jobs: %w", err)
	}
	for i := range jobs {
		out.Jobs = append(out.Jobs, c.newJob(jobs[i]))
	}
	if out.Expired, err = core.DecodeList[string](w.Expired); err != nil {
		return out, fmt.Errorf("client: decode tracked jobs: %w", err)
	}
	return out, nil
}

// FailedGroups returns the number of failed jobs per failure group
// (failed).
func (c *Client) FailedGroups(ctx context.Context) (map[string]int64, error) {
	msg, err := c.call(ctx, read, "failed")
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	if err := (result{msg: msg}).json(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// Failed lists the jids of the failed jobs of a group (failed <group>),
// newest failure first, from offset, at most count, with the total. Jobs
// fetches them.
func (c *Client) Failed(ctx context.Context, group string, offset, count int) (core.JobPage, error) {
	var out core.JobPage
	msg, err := c.call(ctx, read, "failed", group, strconv.Itoa(offset), strconv.Itoa(count))
	if err != nil {
		return out, err
	}
	err = result{msg: msg}.json(&out)
	return out, err
}

// Completed lists the jids of completed jobs (jobs complete), most recent
// first, from offset, at most count.
func (c *Client) Completed(ctx context.Context, offset, count int) ([]string, error) {
	msg, err := c.call(ctx, read, "jobs", "complete", strconv.Itoa(offset), strconv.Itoa(count))
	if err != nil {
		return nil, err
	}
	return result{msg: msg}.strings()
}

// Workers lists the known workers with their job counts (workers), most
// recently seen first. The server prunes idle workers first.
func (c *Client) Workers(ctx context.Context) ([]core.WorkerSummary, error) {
	msg, err := c.call(ctx, read, "workers")
	if err != nil {
		return nil, err
	}
	s, err := result{msg: msg}.str()
	if err != nil {
		return nil, err
	}
	return core.DecodeList[core.WorkerSummary]([]byte(s))
}

// WorkerJobs lists the jobs a worker holds and those whose lock expired
// (workers <name>).
func (c *Client) WorkerJobs(ctx context.Context, worker string) (core.WorkerJobs, error) {
	var out core.WorkerJobs
	msg, err := c.call(ctx, read, "workers", worker)
	if err != nil {
		return out, err
	}
	err = result{msg: msg}.json(&out)
	return out, err
}

// DeregisterWorkers removes workers from the worker list
// (worker.deregister).
func (c *Client) DeregisterWorkers(ctx context.Context, workers ...string) error {
	if len(workers) == 0 {
		return nil
	}
	_, err := c.call(ctx, write, "worker.deregister", workers...)
	return err
}

// Queues returns the counts of every known queue (queues), oldest queue
// first.
func (c *Client) Queues(ctx context.Context) ([]core.QueueCounts, error) {
	msg, err := c.call(ctx, read, "queues")
	if err != nil {
		return nil, err
	}
	s, err := result{msg: msg}.str()
	if err != nil {
		return nil, err
	}
	return core.DecodeList[core.QueueCounts]([]byte(s))
}

// GetConfig returns one configuration option (config.get <key>): its set
// value, else its built-in default; ok is false when it has neither.
func (c *Client) GetConfig(ctx context.Context, key string) (value string, ok bool, err error) {
	msg, err := c.call(ctx, read, "config.get", key)
	if err != nil {
		return "", false, err
	}
	r := result{msg: msg}
	if r.isNil() {
		return "", false, nil
	}
	v, err := r.str()
	return v, err == nil, err
}

// AllConfig returns every set option and every built-in default
// (config.get), numbers as their decimal text.
func (c *Client) AllConfig(ctx context.Context) (map[string]string, error) {
	msg, err := c.call(ctx, read, "config.get")
	if err != nil {
		return nil, err
	}
	s, err := result{msg: msg}.str()
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("client: decode config: %w", err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		out[k] = fmt.Sprint(v)
	}
	return out, nil
}

// SetConfig sets a configuration option (config.set). On a router cluster
// it applies to every shard.
func (c *Client) SetConfig(ctx context.Context, key, value string) error {
	_, err := c.call(ctx, write, "config.set", key, value)
	return err
}

// UnsetConfig removes a configuration option, restoring its default
// (config.unset).
func (c *Client) UnsetConfig(ctx context.Context, key string) error {
	_, err := c.call(ctx, write, "config.unset", key)
	return err
}
