package client

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Option is a per-call option: WithJID, WithDelay, WithPriority, WithTags,
// WithRetries, WithDepends, WithBacklog, WithOffset, WithNext, WithData,
// WithFailure. Each method documents the options it accepts; any other
// makes the call fail before anything is sent. A later option overrides an
// earlier one of the same kind.
type Option func(*options)

type options struct {
	jid      string
	delay    time.Duration
	priority float64
	tags     []string
	retries  int
	depends  []string
	backlog  int
	offset   time.Duration
	next     string
	data     any
	group    string
	message  string
	set      map[string]bool // names of the options given
}

func (o *options) mark(name string) {
	if o.set == nil {
		o.set = make(map[string]bool)
	}
	o.set[name] = true
}

func (o *options) has(name string) bool { return o.set[name] }

// WithJID sets the jid of a new job (Put) or recurring job (Recur) instead
// of a random one. Putting a jid that exists moves and updates that job
// (qless semantics), so a caller-chosen jid makes a job unique: at most one
// job per jid exists.
func WithJID(jid string) Option { return func(o *options) { o.jid = jid; o.mark("WithJID") } }

// WithDelay delays a job: Put, Complete with WithNext, Retry. The job is
// scheduled and becomes waiting after d.
func WithDelay(d time.Duration) Option {
	return func(o *options) { o.delay = d; o.mark("WithDelay") }
}

// WithPriority sets a job's priority (Put, Recur). Higher pops first;
// default 0.
func WithPriority(p float64) Option {
	return func(o *options) { o.priority = p; o.mark("WithPriority") }
}

// WithTags sets a job's tags (Put, Recur).
func WithTags(tags ...string) Option {
	return func(o *options) { o.tags = tags; o.mark("WithTags") }
}

// WithRetries sets how many times a job may be retried or lose its lock
// before it fails (Put, Recur). Default 5 for Put, 5 for Recur.
func WithRetries(n int) Option {
	return func(o *options) { o.retries = n; o.mark("WithRetries") }
}

// WithDepends makes a job wait until the given jobs complete (Put, Complete
// with WithNext). Jids of jobs that do not exist or are complete are
// ignored.
func WithDepends(jids ...string) Option {
	return func(o *options) { o.depends = jids; o.mark("WithDepends") }
}

// WithBacklog limits how many missed instances of a recurring job are
// spawned at once after a pause (Recur). 0, the default, means no limit.
func WithBacklog(n int) Option {
	return func(o *options) { o.backlog = n; o.mark("WithBacklog") }
}

// WithOffset delays the first instance of a recurring job (Recur).
func WithOffset(d time.Duration) Option {
	return func(o *options) { o.offset = d; o.mark("WithOffset") }
}

// WithNext makes Complete move the job to the queue instead of completing
// it.
func WithNext(queue string) Option {
	return func(o *options) { o.next = queue; o.mark("WithNext") }
}

// WithData replaces a job's data: Complete, Fail, Heartbeat. v is encoded
// with encoding/json; a json.RawMessage, []byte or string holding JSON
// text is sent as it is. Note that fail and heartbeat store the data
// re-encoded by the server (key order, `[]` as `{}`), complete stores it
// verbatim.
func WithData(v any) Option { return func(o *options) { o.data = v; o.mark("WithData") } }

// WithFailure records a failure group and message with Retry: when retries
// are exhausted the job fails in that group with that message.
func WithFailure(group, message string) Option {
	return func(o *options) { o.group, o.message = group, message; o.mark("WithFailure") }
}

// collect applies opts and checks that each is one of allowed.
func collect(call string, opts []Option, allowed ...string) (*options, error) {
	o := &options{}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	for name := range o.set {
		ok := false
		for _, a := range allowed {
			if a == name {
				ok = true
				break
			}
		}
		if !ok {
			return nil, fmt.Errorf("client: %s does not take %s", call, name)
		}
	}
	return o, nil
}

// encodeData turns a job payload into JSON text: nil is `{}`; json.RawMessage,
// []byte and string are taken as JSON text (checked); anything else is
// encoded with encoding/json.
func encodeData(v any) (string, error) {
	var b []byte
	switch d := v.(type) {
	case nil:
		return "{}", nil
	case json.RawMessage:
		b = d
	case []byte:
		b = d
	case string:
		b = []byte(d)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return "", fmt.Errorf("client: encode job data: %w", err)
		}
		return string(b), nil
	}
	if !json.Valid(b) {
		return "", fmt.Errorf("client: job data is not valid JSON: %.60q", b)
	}
	return string(b), nil
}

// jsonList encodes a string list as a JSON array (`[]` when empty).
func jsonList(list []string) string {
	if len(list) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(list)
	return string(b)
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func seconds(d time.Duration) string { return ftoa(d.Seconds()) }
