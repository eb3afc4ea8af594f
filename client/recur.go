package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/qless-router/qless-router/core"
)

// RecurringJob is a recurring job template (core.RecurringJob: JID, Klass,
// Queue, Data, Priority, Interval in seconds, Retries, Count, Backlog,
// Tags) with methods that change it through the Client that fetched it.
// Setters update the field they change. Not safe for concurrent use; its
// Client is.
type RecurringJob struct {
	core.RecurringJob
	c *Client
}

// Recurring fetches the recurring job jid (recur.get). It returns
// ErrNotFound when there is none.
func (c *Client) Recurring(ctx context.Context, jid string) (*RecurringJob, error) {
	msg, err := c.call(ctx, read, "recur.get", jid)
	if err != nil {
		return nil, err
	}
	r := result{msg: msg}
	if r.isNil() {
		return nil, fmt.Errorf("client: recurring job %q: %w", jid, ErrNotFound)
	}
	out := &RecurringJob{c: c}
	if err := r.json(&out.RecurringJob); err != nil {
		return nil, err
	}
	return out, nil
}

// Unrecur deletes the recurring job jid (unrecur); instances already
// spawned stay.
func (c *Client) Unrecur(ctx context.Context, jid string) error {
	_, err := c.call(ctx, write, "unrecur", jid)
	return err
}

// Every returns the interval between instances.
func (r *RecurringJob) Every() time.Duration {
	return time.Duration(r.Interval * float64(time.Second))
}

// Decode decodes the template's data into v (encoding/json).
func (r *RecurringJob) Decode(v any) error {
	if err := json.Unmarshal([]byte(r.Data), v); err != nil {
		return fmt.Errorf("client: recurring job %s: decode data: %w", r.JID, err)
	}
	return nil
}

func (r *RecurringJob) update(ctx context.Context, key, value string) error {
	if r.c == nil {
		return ErrNoClient
	}
	_, err := r.c.call(ctx, write, "recur.update", r.JID, key, value)
	return err
}

// SetInterval changes the interval; the next instance moves by the
// difference.
func (r *RecurringJob) SetInterval(ctx context.Context, d time.Duration) error {
	if err := r.update(ctx, "interval", seconds(d)); err != nil {
		return err
	}
	r.Interval = d.Seconds()
	return nil
}

// SetPriority changes the priority of future instances.
func (r *RecurringJob) SetPriority(ctx context.Context, p float64) error {
	if err := r.update(ctx, "priority", ftoa(p)); err != nil {
		return err
	}
	r.Priority = p
	return nil
}

// SetRetries changes the retries of future instances.
func (r *RecurringJob) SetRetries(ctx context.Context, n int) error {
	if err := r.update(ctx, "retries", strconv.Itoa(n)); err != nil {
		return err
	}
	r.Retries = n
	return nil
}

// SetBacklog changes the backlog limit (0: none).
func (r *RecurringJob) SetBacklog(ctx context.Context, n int) error {
	if err := r.update(ctx, "backlog", strconv.Itoa(n)); err != nil {
		return err
	}
	r.Backlog = n
	return nil
}

// SetData changes the data of future instances (encoded as for Put).
func (r *RecurringJob) SetData(ctx context.Context, data any) error {
	text, err := encodeData(data)
	if err != nil {
		return err
	}
	if err := r.update(ctx, "data", text); err != nil {
		return err
	}
	r.Data = text
	return nil
}

// SetKlass changes the class of future instances.
func (r *RecurringJob) SetKlass(ctx context.Context, klass string) error {
	if err := r.update(ctx, "klass", klass); err != nil {
		return err
	}
	r.Klass = klass
	return nil
}

// Move moves the recurring job to another queue, keeping its schedule.
func (r *RecurringJob) Move(ctx context.Context, queue string) error {
	if err := r.update(ctx, "queue", queue); err != nil {
		return err
	}
	r.Queue = queue
	return nil
}

// Tag adds tags to the template (given to future instances); Tags becomes
// the resulting list.
func (r *RecurringJob) Tag(ctx context.Context, tags ...string) error {
	return r.tag(ctx, "recur.tag", tags)
}

// Untag removes tags from the template; Tags becomes the resulting list.
func (r *RecurringJob) Untag(ctx context.Context, tags ...string) error {
	return r.tag(ctx, "recur.untag", tags)
}

func (r *RecurringJob) tag(ctx context.Context, cmd string, tags []string) error {
	if r.c == nil {
		return ErrNoClient
	}
	msg, err := r.c.call(ctx, write, cmd, append([]string{r.JID}, tags...)...)
	if err != nil {
		return err
	}
	list, err := result{msg: msg}.jsonStrings()
	if err != nil {
		return err
	}
	r.Tags = list
	return nil
}

// Cancel deletes the recurring job (unrecur).
func (r *RecurringJob) Cancel(ctx context.Context) error {
	if r.c == nil {
		return ErrNoClient
	}
	return r.c.Unrecur(ctx, r.JID)
}
