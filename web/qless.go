package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/qless-router/qless-router/core"
)

// This file turns qless calls into the values the API encodes and the
// dashboard renders. Every call goes through Backend.Qless with the
// Server's clock as `now`.

// now returns the `now` of a qless call: seconds since the epoch with
// microseconds, as qless clients send it.
func (s *Server) now() string {
	return strconv.FormatFloat(float64(s.clock.Now().UnixMicro())/1e6, 'f', 6, 64)
}

// nowDay returns bin(now): the start (UTC midnight) of today in seconds.
func (s *Server) nowDay() int64 {
	t := s.clock.Now().Unix()
	return t - ((t%86400)+86400)%86400
}

// call runs one qless command.
func (s *Server) call(ctx context.Context, cmd string, args ...string) (core.Reply, error) {
	argv := make([]string, 0, len(args)+2)
	argv = append(argv, cmd, s.now())
	argv = append(argv, args...)
	return s.backend.Qless(ctx, argv)
}

// callJSON runs a qless command whose reply is JSON text and decodes it
// into out. It reports false for a nil reply (get and recur.get of a
// missing object), leaving out alone.
func (s *Server) callJSON(ctx context.Context, out any, cmd string, args ...string) (bool, error) {
	rep, err := s.call(ctx, cmd, args...)
	if err != nil {
		return false, err
	}
	switch rep.Type {
	case core.ReplyNil:
		return false, nil
	case core.ReplyString:
		if err := json.Unmarshal([]byte(rep.Str), out); err != nil {
			return false, &replyError{cmd: cmd, err: err}
		}
		return true, nil
	}
	return false, &replyError{cmd: cmd, err: fmt.Errorf("want JSON text, got %v", rep)}
}

// callList runs a qless command whose reply is a JSON list (`{}` when
// empty).
func callList[T any](ctx context.Context, s *Server, cmd string, args ...string) ([]T, error) {
	var raw json.RawMessage
	ok, err := s.callJSON(ctx, &raw, cmd, args...)
	if err != nil || !ok {
		return nil, err
	}
	list, err := core.DecodeList[T](raw)
	if err != nil {
		return nil, &replyError{cmd: cmd, err: err}
	}
	return list, nil
}

// callArray runs a qless command whose reply is an array (jobs, cancel).
func (s *Server) callArray(ctx context.Context, cmd string, args ...string) ([]string, error) {
	rep, err := s.call(ctx, cmd, args...)
	if err != nil {
		return nil, err
	}
	if rep.Type != core.ReplyArray {
		return nil, &replyError{cmd: cmd, err: fmt.Errorf("want an array, got %v", rep)}
	}
	return rep.Array, nil
}

// jobView is a job as the API returns it: the 17 keys of qless's job JSON,
// with [] for empty lists and null for no failure or no parent.
type jobView struct {
	JID          string              `json:"jid"`
	Klass        string              `json:"klass"`
	State        string              `json:"state"`
	Queue        string              `json:"queue"`
	Worker       string              `json:"worker"`
	Tracked      bool                `json:"tracked"`
	Priority     float64             `json:"priority"`
	Expires      float64             `json:"expires"`
	Retries      int                 `json:"retries"`
	Remaining    int                 `json:"remaining"`
	Data         string              `json:"data"`
	Tags         []string            `json:"tags"`
	History      []core.HistoryEntry `json:"history"`
	Failure      *core.Failure       `json:"failure"`
	SpawnedFrom  *string             `json:"spawned_from_jid"`
	Dependents   []string            `json:"dependents"`
	Dependencies []string            `json:"dependencies"`
}

func newJobView(j core.Job) jobView {
	v := jobView{
		JID: j.JID, Klass: j.Klass, State: j.State, Queue: j.Queue, Worker: j.Worker,
		Tracked: j.Tracked, Priority: j.Priority, Expires: j.Expires,
		Retries: j.Retries, Remaining: j.Remaining, Data: j.Data,
		Tags: nonNil(j.Tags), History: nonNil(j.History), Failure: j.Failure,
		Dependents: nonNil(j.Dependents), Dependencies: nonNil(j.Dependencies),
	}
	if j.SpawnedFrom != "" {
		p := j.SpawnedFrom
		v.SpawnedFrom = &p
	}
	return v
}

// recurView is a recurring job template (qless recur.get), with [] for no
// tags.
type recurView struct {
	JID      string   `json:"jid"`
	Klass    string   `json:"klass"`
	State    string   `json:"state"`
	Queue    string   `json:"queue"`
	Data     string   `json:"data"`
	Priority float64  `json:"priority"`
	Interval float64  `json:"interval"`
	Retries  int      `json:"retries"`
	Count    int      `json:"count"`
	Backlog  int      `json:"backlog"`
	Tags     []string `json:"tags"`
}

func newRecurView(r core.RecurringJob) recurView {
	return recurView{
		JID: r.JID, Klass: r.Klass, State: r.State, Queue: r.Queue, Data: r.Data,
		Priority: r.Priority, Interval: r.Interval, Retries: r.Retries,
		Count: r.Count, Backlog: r.Backlog, Tags: nonNil(r.Tags),
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// jobList is a list of jids with the jobs that exist among them (multiget
// omits missing jobs), both in list order.
type jobList struct {
	JIDs []string  `json:"jids"`
	Jobs []jobView `json:"jobs"`
}

// jobRow is one jid of a jobList with its job, nil when it is missing.
type jobRow struct {
	JID string
	Job *jobView
}

// Rows pairs every jid with its job.
func (l jobList) Rows() []jobRow {
	by := make(map[string]*jobView, len(l.Jobs))
	for i := range l.Jobs {
		by[l.Jobs[i].JID] = &l.Jobs[i]
	}
	rows := make([]jobRow, len(l.JIDs))
	for i, jid := range l.JIDs {
		rows[i] = jobRow{JID: jid, Job: by[jid]}
	}
	return rows
}

// multiget fetches the jobs of jids, in their order.
func (s *Server) multiget(ctx context.Context, jids []string) (jobList, error) {
	out := jobList{JIDs: nonNil(jids), Jobs: []jobView{}}
	if len(jids) == 0 {
		return out, nil
	}
	jobs, err := callList[core.Job](ctx, s, "multiget", jids...)
	if err != nil {
		return out, err
	}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, newJobView(j))
	}
	return out, nil
}

// queueRow is one queue of `queues` with its owner shard.
type queueRow struct {
	core.QueueCounts
	Shard string `json:"shard"`
}

func (s *Server) queues(ctx context.Context) ([]queueRow, error) {
	list, err := callList[core.QueueCounts](ctx, s, "queues")
	if err != nil {
		return nil, err
	}
	rows := make([]queueRow, len(list))
	for i, q := range list {
		rows[i] = queueRow{QueueCounts: q, Shard: s.owner(q.Name)}
	}
	return rows, nil
}

// owner names the owner shard of queue, or "" when it cannot be told.
func (s *Server) owner(queue string) string {
	name, err := s.backend.Locate(queue)
	if err != nil {
		return ""
	}
	return name
}

// queueStates are the job listings of a queue, in the dashboard's order.
// waiting is served by peek; the others by `jobs <state> <queue>`.
var queueStates = []string{"waiting", "running", "stalled", "scheduled", "depends", "recurring"}

// pageArgs is the paging of a listing.
type pageArgs struct {
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

// stateJobs is one state's listing of a queue's jobs. Recurring holds the
// templates of the recurring listing (whose jids are not jobs).
type stateJobs struct {
	State string `json:"state"`
	pageArgs
	jobList
	Recurring []recurView `json:"recurring,omitempty"`
}

// HasNext reports whether a next page may exist.
func (j stateJobs) HasNext() bool { return len(j.JIDs) >= j.Limit && j.Limit > 0 }

// queuePage is the page of one queue.
type queuePage struct {
	Name   string           `json:"name"`
	Shard  string           `json:"shard"`
	Counts core.QueueCounts `json:"counts"`
	// Day is the start (UTC midnight, in seconds) of the day of Stats.
	Day   int64                `json:"day"`
	Stats core.Stats           `json:"stats"`
	Jobs  map[string]stateJobs `json:"jobs"`
}

// queuePage gathers one queue's counts, today's stats and its jobs of the
// given states.
func (s *Server) queuePage(ctx context.Context, name string, states []string, pg pageArgs) (*queuePage, error) {
	for _, st := range states {
		if !validState(st) {
			return nil, badRequest("state %q is not one of %v", st, queueStates)
		}
		if n := 10 * s.cfg.MaxPageSize; st == "waiting" && pg.Offset+pg.Limit > n {
			return nil, badRequest("waiting jobs are listed with peek, which has no offset: offset+limit must be at most %d", n)
		}
	}
	p := &queuePage{Name: name, Shard: s.owner(name), Day: s.nowDay(), Jobs: make(map[string]stateJobs)}
	if _, err := s.callJSON(ctx, &p.Counts, "queues", name); err != nil {
		return nil, err
	}
	if _, err := s.callJSON(ctx, &p.Stats, "stats", name, strconv.FormatInt(p.Day, 10)); err != nil {
		return nil, err
	}
	if len(p.Stats.Wait.Histogram) == 0 {
		p.Stats.Wait.Histogram = make([]int64, core.HistogramSize)
	}
	if len(p.Stats.Run.Histogram) == 0 {
		p.Stats.Run.Histogram = make([]int64, core.HistogramSize)
	}
	for _, st := range states {
		js, err := s.stateJobs(ctx, name, st, pg)
		if err != nil {
			return nil, err
		}
		p.Jobs[st] = js
	}
	return p, nil
}

func validState(st string) bool {
	for _, v := range queueStates {
		if v == st {
			return true
		}
	}
	return false
}

// stateJobs lists one state of a queue. Waiting jobs come from `peek` of
// offset+limit jobs (peek has no offset; it also lists stalled jobs first
// and, as in every qless dashboard, spawns due recurring jobs and promotes
// due scheduled ones).
func (s *Server) stateJobs(ctx context.Context, queue, state string, pg pageArgs) (stateJobs, error) {
	out := stateJobs{State: state, pageArgs: pg, jobList: jobList{JIDs: []string{}, Jobs: []jobView{}}}
	if state == "waiting" {
		jobs, err := callList[core.Job](ctx, s, "peek", queue, strconv.Itoa(pg.Offset+pg.Limit))
		if err != nil {
			return out, err
		}
		if pg.Offset < len(jobs) {
			jobs = jobs[pg.Offset:]
		} else {
			jobs = nil
		}
		for _, j := range jobs {
			out.JIDs = append(out.JIDs, j.JID)
			out.Jobs = append(out.Jobs, newJobView(j))
		}
		return out, nil
	}
	jids, err := s.callArray(ctx, "jobs", state, queue, strconv.Itoa(pg.Offset), strconv.Itoa(pg.Limit))
	if err != nil {
		return out, err
	}
	if state == "recurring" {
		out.JIDs = nonNil(jids)
		out.Recurring = []recurView{}
		for _, jid := range jids {
			var r core.RecurringJob
			ok, err := s.callJSON(ctx, &r, "recur.get", jid)
			if err != nil {
				return out, err
			}
			if ok {
				out.Recurring = append(out.Recurring, newRecurView(r))
			}
		}
		return out, nil
	}
	list, err := s.multiget(ctx, jids)
	if err != nil {
		return out, err
	}
	out.jobList = list
	return out, nil
}

// jobPage is a job or a recurring job template.
type jobPage struct {
	Kind      string     `json:"kind"` // "job" or "recurring"
	Job       *jobView   `json:"job,omitempty"`
	Recurring *recurView `json:"recurring,omitempty"`
}

// job finds jid as a job, else as a recurring job template.
func (s *Server) job(ctx context.Context, jid string) (*jobPage, error) {
	var j core.Job
	ok, err := s.callJSON(ctx, &j, "get", jid)
	if err != nil {
		return nil, err
	}
	if ok {
		v := newJobView(j)
		return &jobPage{Kind: "job", Job: &v}, nil
	}
	var r core.RecurringJob
	ok, err = s.callJSON(ctx, &r, "recur.get", jid)
	if err != nil {
		return nil, err
	}
	if ok {
		v := newRecurView(r)
		return &jobPage{Kind: "recurring", Recurring: &v}, nil
	}
	return nil, &notFoundError{msg: fmt.Sprintf("job %q not found", jid)}
}

// failedGroup is one failure group and its number of failed jobs.
type failedGroup struct {
	Group string `json:"group"`
	Count int64  `json:"count"`
}

// failedGroups lists the failure groups, largest first.
type failedGroups struct {
	Total  int64         `json:"total"`
	Groups []failedGroup `json:"groups"`
}

func (s *Server) failedGroups(ctx context.Context) (*failedGroups, error) {
	var raw json.RawMessage
	if _, err := s.callJSON(ctx, &raw, "failed"); err != nil {
		return nil, err
	}
	m := make(map[string]float64)
	if len(raw) > 0 && string(raw) != "{}" {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, &replyError{cmd: "failed", err: err}
		}
	}
	out := &failedGroups{Groups: []failedGroup{}}
	for g, n := range m {
		out.Groups = append(out.Groups, failedGroup{Group: g, Count: int64(n)})
		out.Total += int64(n)
	}
	sort.Slice(out.Groups, func(i, j int) bool {
		a, b := out.Groups[i], out.Groups[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Group < b.Group
	})
	return out, nil
}

// pagedJobs is a page of a listing with a total (a failure group, a tag).
type pagedJobs struct {
	Total int64 `json:"total"`
	pageArgs
	jobList
}

// HasNext reports whether a next page exists.
func (p pagedJobs) HasNext() bool { return int64(p.Offset+p.Limit) < p.Total }

// failedPage is one failure group's page of jobs, newest failure first.
type failedPage struct {
	Group string `json:"group"`
	pagedJobs
}

func (s *Server) failedPage(ctx context.Context, group string, pg pageArgs) (*failedPage, error) {
	var jp core.JobPage
	if _, err := s.callJSON(ctx, &jp, "failed", group, strconv.Itoa(pg.Offset), strconv.Itoa(pg.Limit)); err != nil {
		return nil, err
	}
	list, err := s.multiget(ctx, jp.Jobs)
	if err != nil {
		return nil, err
	}
	return &failedPage{Group: group, pagedJobs: pagedJobs{Total: jp.Total, pageArgs: pg, jobList: list}}, nil
}

// tagPage is one tag's page of jobs.
type tagPage struct {
	Tag string `json:"tag"`
	pagedJobs
}

func (s *Server) tagPage(ctx context.Context, tag string, pg pageArgs) (*tagPage, error) {
	var jp core.JobPage
	if _, err := s.callJSON(ctx, &jp, "tag", "get", tag, strconv.Itoa(pg.Offset), strconv.Itoa(pg.Limit)); err != nil {
		return nil, err
	}
	list, err := s.multiget(ctx, jp.Jobs)
	if err != nil {
		return nil, err
	}
	return &tagPage{Tag: tag, pagedJobs: pagedJobs{Total: jp.Total, pageArgs: pg, jobList: list}}, nil
}

// topTags is a page of the most used tags (qless lists only tags used at
// least twice).
type topTags struct {
	pageArgs
	Tags []string `json:"tags"`
}

// HasNext reports whether a next page may exist.
func (t topTags) HasNext() bool { return len(t.Tags) >= t.Limit && t.Limit > 0 }

func (s *Server) topTags(ctx context.Context, pg pageArgs) (*topTags, error) {
	tags, err := callList[string](ctx, s, "tag", "top", strconv.Itoa(pg.Offset), strconv.Itoa(pg.Limit))
	if err != nil {
		return nil, err
	}
	return &topTags{pageArgs: pg, Tags: nonNil(tags)}, nil
}

func (s *Server) workers(ctx context.Context) ([]core.WorkerSummary, error) {
	list, err := callList[core.WorkerSummary](ctx, s, "workers")
	return nonNil(list), err
}

// workerPage is one worker's jobs: those it holds and those whose lock
// expired.
type workerPage struct {
	Name    string  `json:"name"`
	Jobs    jobList `json:"jobs"`
	Stalled jobList `json:"stalled"`
}

func (s *Server) workerPage(ctx context.Context, name string) (*workerPage, error) {
	var wj core.WorkerJobs
	if _, err := s.callJSON(ctx, &wj, "workers", name); err != nil {
		return nil, err
	}
	all, err := s.multiget(ctx, append(append([]string{}, wj.Jobs...), wj.Stalled...))
	if err != nil {
		return nil, err
	}
	pick := func(jids []string) jobList {
		l := jobList{JIDs: nonNil(jids), Jobs: []jobView{}}
		want := make(map[string]bool, len(jids))
		for _, j := range jids {
			want[j] = true
		}
		for _, j := range all.Jobs {
			if want[j.JID] {
				l.Jobs = append(l.Jobs, j)
			}
		}
		return l
	}
	return &workerPage{Name: name, Jobs: pick(wj.Jobs), Stalled: pick(wj.Stalled)}, nil
}

// trackedPage is qless's `track` listing.
type trackedPage struct {
	Jobs    []jobView `json:"jobs"`
	Expired []string  `json:"expired"`
}

func (s *Server) tracked(ctx context.Context) (*trackedPage, error) {
	var w struct {
		Jobs    json.RawMessage `json:"jobs"`
		Expired json.RawMessage `json:"expired"`
	}
	if _, err := s.callJSON(ctx, &w, "track"); err != nil {
		return nil, err
	}
	jobs, err := core.DecodeList[core.Job](w.Jobs)
	if err != nil {
		return nil, &replyError{cmd: "track", err: err}
	}
	expired, err := core.DecodeList[string](w.Expired)
	if err != nil {
		return nil, &replyError{cmd: "track", err: err}
	}
	out := &trackedPage{Jobs: []jobView{}, Expired: nonNil(expired)}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, newJobView(j))
	}
	return out, nil
}

// completedPage is a page of the most recently completed jobs.
type completedPage struct {
	pageArgs
	jobList
}

// HasNext reports whether a next page may exist.
func (c completedPage) HasNext() bool { return len(c.JIDs) >= c.Limit && c.Limit > 0 }

func (s *Server) completed(ctx context.Context, pg pageArgs) (*completedPage, error) {
	jids, err := s.callArray(ctx, "jobs", "complete", strconv.Itoa(pg.Offset), strconv.Itoa(pg.Limit))
	if err != nil {
		return nil, err
	}
	list, err := s.multiget(ctx, jids)
	if err != nil {
		return nil, err
	}
	return &completedPage{pageArgs: pg, jobList: list}, nil
}

// configEntry is one qless configuration option.
type configEntry struct {
	Key   string
	Value json.RawMessage
}

func (s *Server) config(ctx context.Context) (json.RawMessage, error) {
	var raw json.RawMessage
	if _, err := s.callJSON(ctx, &raw, "config.get"); err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, &replyError{cmd: "config.get", err: err}
	}
	return raw, nil
}

func configEntries(raw json.RawMessage) []configEntry {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	out := make([]configEntry, 0, len(m))
	for k, v := range m {
		out = append(out, configEntry{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// intReply reads an integer reply.
func intReply(cmd string, rep core.Reply) (int64, error) {
	switch rep.Type {
	case core.ReplyInt:
		return rep.Int, nil
	case core.ReplyString:
		if n, err := strconv.ParseInt(rep.Str, 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, &replyError{cmd: cmd, err: fmt.Errorf("want an integer, got %v", rep)}
}

// finite reports whether f is a finite number.
func finite(f float64) bool { return !math.IsInf(f, 0) && !math.IsNaN(f) }

// List returns the tracked jobs as a jobList.
func (t trackedPage) List() jobList {
	l := jobList{JIDs: make([]string, len(t.Jobs)), Jobs: t.Jobs}
	for i, j := range t.Jobs {
		l.JIDs[i] = j.JID
	}
	return l
}
