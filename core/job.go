package core

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Job states (spec 4.1), as they appear in a job's `state`.
const (
	StateWaiting   = "waiting"
	StateRunning   = "running"
	StateScheduled = "scheduled"
	StateDepends   = "depends"
	StateStalled   = "stalled"
	StateComplete  = "complete"
	StateFailed    = "failed"
	// StateRecur is the state of a recurring job template (spec 2.5).
	StateRecur = "recur"
)

// HistogramSize is the length of a stats histogram (spec 9): s0..s59,
// m1..m59, h1..h23, d1..d6.
const HistogramSize = 148

// The qless script encodes empty lists as `{}` (spec 1.3). The types of this
// file decode `{}` (and null) as an empty list, which they hold as nil, and
// encode an empty list back as `{}`, so that they reproduce the wire shape.

// decodeList decodes a JSON array, or `{}`/null/absent as nil.
func decodeList[T any](raw json.RawMessage, what string) ([]T, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil || len(m) != 0 {
			return nil, fmt.Errorf("core: %s: want an array or {}, got %.40s", what, raw)
		}
		return nil, nil
	}
	var out []T
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("core: %s: %w", what, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

var emptyObject = json.RawMessage("{}")

// DecodeList decodes a qless JSON list: an array, or `{}` (or null) for an
// empty list, which it returns as nil. Fan-out merges use it on the replies
// of queues, workers, multiget (with T = json.RawMessage) and the like.
func DecodeList[T any](b []byte) ([]T, error) { return decodeList[T](b, "list") }

// EncodeList encodes a list the qless way: `{}` when empty, else an array.
func EncodeList[T any](list []T) ([]byte, error) { return encodeList(list) }

// encodeList encodes a list the qless way: `{}` when empty.
func encodeList[T any](list []T) (json.RawMessage, error) {
	if len(list) == 0 {
		return emptyObject, nil
	}
	return json.Marshal(list)
}

// Job is a qless job as `get`, `multiget`, `peek`, `pop` and `track` return
// it (spec 2.2). Empty lists are nil. Values are plain data: not safe for
// concurrent mutation.
type Job struct {
	JID    string
	Klass  string
	State  string
	Queue  string // "" once complete
	Worker string // "" when none
	// Tracked reports whether the jid is in ql:tracked.
	Tracked   bool
	Priority  float64
	Expires   float64 // lock expiry; 0 when unset
	Retries   int
	Remaining int
	// Data is the job's payload: JSON text, carried as a JSON string on the
	// wire (`"data":"{}"`).
	Data         string
	Tags         []string
	History      []HistoryEntry
	Failure      *Failure // nil when the wire has `{}`
	SpawnedFrom  string   // spawned_from_jid; "" when the wire has false
	Dependents   []string
	Dependencies []string
}

type jobWire struct {
	JID            string          `json:"jid"`
	Klass          string          `json:"klass"`
	State          string          `json:"state"`
	Queue          string          `json:"queue"`
	Worker         string          `json:"worker"`
	Tracked        bool            `json:"tracked"`
	Priority       float64         `json:"priority"`
	Expires        float64         `json:"expires"`
	Retries        float64         `json:"retries"`
	Remaining      float64         `json:"remaining"`
	Data           string          `json:"data"`
	Tags           json.RawMessage `json:"tags"`
	History        json.RawMessage `json:"history"`
	Failure        json.RawMessage `json:"failure"`
	SpawnedFromJID json.RawMessage `json:"spawned_from_jid"`
	Dependents     json.RawMessage `json:"dependents"`
	Dependencies   json.RawMessage `json:"dependencies"`
}

// UnmarshalJSON decodes the qless shape. Missing keys leave zero values.
func (j *Job) UnmarshalJSON(b []byte) error {
	var w jobWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("core: job: %w", err)
	}
	out := Job{
		JID: w.JID, Klass: w.Klass, State: w.State, Queue: w.Queue, Worker: w.Worker,
		Tracked: w.Tracked, Priority: w.Priority, Expires: w.Expires,
		Retries: int(w.Retries), Remaining: int(w.Remaining), Data: w.Data,
	}
	var err error
	if out.Tags, err = decodeList[string](w.Tags, "job tags"); err != nil {
		return err
	}
	if out.History, err = decodeList[HistoryEntry](w.History, "job history"); err != nil {
		return err
	}
	if out.Dependents, err = decodeList[string](w.Dependents, "job dependents"); err != nil {
		return err
	}
	if out.Dependencies, err = decodeList[string](w.Dependencies, "job dependencies"); err != nil {
		return err
	}
	if out.Failure, err = decodeFailure(w.Failure); err != nil {
		return err
	}
	if out.SpawnedFrom, err = decodeStringOrFalse(w.SpawnedFromJID); err != nil {
		return fmt.Errorf("core: job spawned_from_jid: %w", err)
	}
	*j = out
	return nil
}

// MarshalJSON encodes the qless shape: all 17 keys, `{}` for empty lists and
// for no failure, false for no spawned_from_jid.
func (j Job) MarshalJSON() ([]byte, error) {
	w := jobWire{
		JID: j.JID, Klass: j.Klass, State: j.State, Queue: j.Queue, Worker: j.Worker,
		Tracked: j.Tracked, Priority: j.Priority, Expires: j.Expires,
		Retries: float64(j.Retries), Remaining: float64(j.Remaining), Data: j.Data,
		Failure: emptyObject, SpawnedFromJID: json.RawMessage("false"),
	}
	var err error
	if w.Tags, err = encodeList(j.Tags); err != nil {
		return nil, err
	}
	if w.History, err = encodeList(j.History); err != nil {
		return nil, err
	}
	if w.Dependents, err = encodeList(j.Dependents); err != nil {
		return nil, err
	}
	if w.Dependencies, err = encodeList(j.Dependencies); err != nil {
		return nil, err
	}
	if j.Failure != nil {
		if w.Failure, err = json.Marshal(j.Failure); err != nil {
			return nil, err
		}
	}
	if j.SpawnedFrom != "" {
		if w.SpawnedFromJID, err = json.Marshal(j.SpawnedFrom); err != nil {
			return nil, err
		}
	}
	return json.Marshal(w)
}

func decodeStringOrFalse(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch string(raw) {
	case "", "null", "false":
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("want a string or false, got %.40s", raw)
	}
	return s, nil
}

// Failure is a job's failure record (spec 2.2 `failure`).
type Failure struct {
	Group   string `json:"group"`
	Message string `json:"message"`
	When    int64  `json:"when"` // floor(now) of the failure
	Worker  string `json:"worker"`
}

func decodeFailure(raw json.RawMessage) (*Failure, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("core: job failure: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	var w struct {
		Group   string  `json:"group"`
		Message string  `json:"message"`
		When    float64 `json:"when"`
		Worker  string  `json:"worker"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("core: job failure: %w", err)
	}
	return &Failure{Group: w.Group, Message: w.Message, When: int64(w.When), Worker: w.Worker}, nil
}

// HistoryEntry is one entry of a job's history as `get` renders it (spec
// 2.3): `when` and `what`, plus the details of the event. The details qless
// itself writes have fields; any other key (from `log` data) is kept in
// Extra as raw JSON.
type HistoryEntry struct {
	When   int64  // floor(now) of the event
	What   string // put, popped, done, failed, timed-out, or a log message
	Queue  string // `q`: put
	Worker string // popped, failed
	Group  string // failed
	// Extra holds every other key of the entry, and any of q, worker and
	// group whose value is not a string.
	Extra map[string]json.RawMessage
}

// UnmarshalJSON decodes one history object.
func (h *HistoryEntry) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("core: history entry: %w", err)
	}
	var out HistoryEntry
	for k, v := range m {
		switch k {
		case "when":
			var f float64
			if err := json.Unmarshal(v, &f); err == nil {
				out.When = int64(f)
				continue
			}
		case "what":
			if json.Unmarshal(v, &out.What) == nil {
				continue
			}
		case "q":
			if json.Unmarshal(v, &out.Queue) == nil {
				continue
			}
		case "worker":
			if json.Unmarshal(v, &out.Worker) == nil {
				continue
			}
		case "group":
			if json.Unmarshal(v, &out.Group) == nil {
				continue
			}
		}
		if out.Extra == nil {
			out.Extra = make(map[string]json.RawMessage)
		}
		out.Extra[k] = v
	}
	*h = out
	return nil
}

// MarshalJSON encodes the entry as one object (keys sorted). Empty Queue,
// Worker and Group are left out.
func (h HistoryEntry) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(h.Extra)+5)
	for k, v := range h.Extra {
		m[k] = v
	}
	m["when"] = h.When
	m["what"] = h.What
	if h.Queue != "" {
		m["q"] = h.Queue
	}
	if h.Worker != "" {
		m["worker"] = h.Worker
	}
	if h.Group != "" {
		m["group"] = h.Group
	}
	return json.Marshal(m)
}

// RecurringJob is a recurring job template as `recur.get` returns it (spec
// 2.5).
type RecurringJob struct {
	JID      string
	Klass    string
	State    string // always "recur"
	Queue    string
	Data     string // JSON text
	Priority float64
	Interval float64 // seconds between instances
	Retries  int
	Count    int // instances spawned so far
	Backlog  int
	Tags     []string
}

type recurWire struct {
	JID      string          `json:"jid"`
	Klass    string          `json:"klass"`
	State    string          `json:"state"`
	Queue    string          `json:"queue"`
	Data     string          `json:"data"`
	Priority float64         `json:"priority"`
	Interval float64         `json:"interval"`
	Retries  float64         `json:"retries"`
	Count    float64         `json:"count"`
	Backlog  float64         `json:"backlog"`
	Tags     json.RawMessage `json:"tags"`
}

// UnmarshalJSON decodes the recur.get shape.
func (r *RecurringJob) UnmarshalJSON(b []byte) error {
	var w recurWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("core: recurring job: %w", err)
	}
	tags, err := decodeList[string](w.Tags, "recurring job tags")
	if err != nil {
		return err
	}
	*r = RecurringJob{
		JID: w.JID, Klass: w.Klass, State: w.State, Queue: w.Queue, Data: w.Data,
		Priority: w.Priority, Interval: w.Interval, Retries: int(w.Retries),
		Count: int(w.Count), Backlog: int(w.Backlog), Tags: tags,
	}
	return nil
}

// MarshalJSON encodes the recur.get shape.
func (r RecurringJob) MarshalJSON() ([]byte, error) {
	tags, err := encodeList(r.Tags)
	if err != nil {
		return nil, err
	}
	return json.Marshal(recurWire{
		JID: r.JID, Klass: r.Klass, State: r.State, Queue: r.Queue, Data: r.Data,
		Priority: r.Priority, Interval: r.Interval, Retries: float64(r.Retries),
		Count: float64(r.Count), Backlog: float64(r.Backlog), Tags: tags,
	})
}

// QueueCounts is one queue's entry of `queues` (spec 6.5).
type QueueCounts struct {
	Name      string `json:"name"`
	Waiting   int64  `json:"waiting"`
	Stalled   int64  `json:"stalled"`
	Running   int64  `json:"running"`
	Scheduled int64  `json:"scheduled"`
	Depends   int64  `json:"depends"`
	Recurring int64  `json:"recurring"`
	Paused    bool   `json:"paused"`
}

// Stats is the reply of `stats queue date` (spec 9).
type Stats struct {
	Retries  int64        `json:"retries"`
	Failed   int64        `json:"failed"`
	Failures int64        `json:"failures"`
	Wait     StatsSummary `json:"wait"`
	Run      StatsSummary `json:"run"`
}

// StatsSummary is the `wait` or `run` part of a stats reply: the count,
// mean and sample standard deviation of the recorded durations, and their
// histogram of HistogramSize buckets (s0..s59, m1..m59, h1..h23, d1..d6).
// MergeStatsSummary combines two of them.
type StatsSummary struct {
	Count     int64   `json:"count"`
	Mean      float64 `json:"mean"`
	Std       float64 `json:"std"`
	Histogram []int64 `json:"histogram"`
}

// WorkerSummary is one entry of `workers` without an argument (spec 6.13).
type WorkerSummary struct {
	Name    string `json:"name"`
	Jobs    int64  `json:"jobs"`
	Stalled int64  `json:"stalled"`
}

// WorkerJobs is the reply of `workers <name>` (spec 6.13): the jids the
// worker holds, highest lock expiry first. Empty lists are nil.
type WorkerJobs struct {
	Jobs    []string
	Stalled []string
}

type workerJobsWire struct {
	Jobs    json.RawMessage `json:"jobs"`
	Stalled json.RawMessage `json:"stalled"`
}

// UnmarshalJSON decodes `{"jobs": [...]|{}, "stalled": [...]|{}}`.
func (w *WorkerJobs) UnmarshalJSON(b []byte) error {
	var x workerJobsWire
	if err := json.Unmarshal(b, &x); err != nil {
		return fmt.Errorf("core: worker jobs: %w", err)
	}
	jobs, err := decodeList[string](x.Jobs, "worker jobs")
	if err != nil {
		return err
	}
	stalled, err := decodeList[string](x.Stalled, "worker stalled")
	if err != nil {
		return err
	}
	*w = WorkerJobs{Jobs: jobs, Stalled: stalled}
	return nil
}

// MarshalJSON encodes the qless shape.
func (w WorkerJobs) MarshalJSON() ([]byte, error) {
	jobs, err := encodeList(w.Jobs)
	if err != nil {
		return nil, err
	}
	stalled, err := encodeList(w.Stalled)
	if err != nil {
		return nil, err
	}
	return json.Marshal(workerJobsWire{Jobs: jobs, Stalled: stalled})
}

// JobPage is a page of jids with the total count, the reply of
// `failed <group>` (spec 6.7) and `tag get` (spec 6.15). Empty Jobs is nil.
type JobPage struct {
	Total int64
	Jobs  []string
}

type jobPageWire struct {
	Total int64           `json:"total"`
	Jobs  json.RawMessage `json:"jobs"`
}

// UnmarshalJSON decodes `{"total": N, "jobs": [...]|{}}`.
func (p *JobPage) UnmarshalJSON(b []byte) error {
	var w jobPageWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("core: job page: %w", err)
	}
	jobs, err := decodeList[string](w.Jobs, "job page jobs")
	if err != nil {
		return err
	}
	*p = JobPage{Total: w.Total, Jobs: jobs}
	return nil
}

// MarshalJSON encodes the qless shape.
func (p JobPage) MarshalJSON() ([]byte, error) {
	jobs, err := encodeList(p.Jobs)
	if err != nil {
		return nil, err
	}
	return json.Marshal(jobPageWire{Total: p.Total, Jobs: jobs})
}
