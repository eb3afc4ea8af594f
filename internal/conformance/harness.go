package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// obj and arr spell expected JSON values: obj{} is the JSON `{}`, arr{} the
// JSON `[]`.
type (
	obj = map[string]any
	arr = []any
)

// session is what the cases of one Run share: the target and one command
// connection, re-dialled after a network failure.
type session struct {
	target  Target
	sha     string
	timeout time.Duration
	conn    *respConn // nil until first use and after a network error
	fences  int       // fence messages published so far
}

func (s *session) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// H is the harness a case gets: the session plus the subtest's *testing.T.
type H struct {
	t *testing.T
	s *session
}

// raw sends one raw command on the command connection. A network failure
// ends the case.
func (h *H) raw(args ...string) (any, error) {
	h.t.Helper()
	if h.s.conn == nil {
		c, err := dialRESP(h.s.target.Addr, h.s.timeout)
		if err != nil {
			h.t.Fatalf("conformance: %v", err)
		}
		h.s.conn = c
	}
	v, err := h.s.conn.do(args...)
	var re ReplyError
	if err != nil && !errors.As(err, &re) {
		h.s.close()
		h.t.Fatalf("conformance: %s: %v", strings.Join(args, " "), err)
	}
	return v, err
}

// eval runs the qless script with the given argv as a stock client does:
// EVALSHA <sha> 0 argv..., and on NOSCRIPT a SCRIPT LOAD and one retry.
func (h *H) eval(argv ...string) (any, error) {
	h.t.Helper()
	args := append([]string{"EVALSHA", h.s.sha, "0"}, argv...)
	v, err := h.raw(args...)
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		got, lerr := h.raw("SCRIPT", "LOAD", h.s.target.Script)
		if lerr != nil {
			h.t.Fatalf("conformance: SCRIPT LOAD: %v", lerr)
		}
		if got != h.s.sha {
			h.t.Fatalf("conformance: SCRIPT LOAD = %v, want %s", got, h.s.sha)
		}
		v, err = h.raw(args...)
	}
	return v, err
}

// flush empties the database (FLUSHDB), as the Python suite does between tests.
func (h *H) flush() {
	h.t.Helper()
	if v, err := h.raw("FLUSHDB"); err != nil || v != "OK" {
		h.t.Fatalf("conformance: FLUSHDB = %v, %v; want OK", v, err)
	}
}

// queues returns n queue names for multi-queue cases: Target.Queues(n) when
// set, else "q1", "q2", ...
func (h *H) queues(n int) []string {
	h.t.Helper()
	fixed := make([]string, n)
	for i := range fixed {
		fixed[i] = "q" + strconv.Itoa(i+1)
	}
	return h.queuesOr(fixed...)
}

// queuesOr returns len(fixed) queue names for a case in which one operation
// or one job involves several queues: Target.Queues(len(fixed)) when set,
// else fixed itself. Through a router the names then live on one shard, so
// the case checks qless semantics rather than cross-shard moves; against a
// single Redis without Target.Queues the case keeps its historical names.
func (h *H) queuesOr(fixed ...string) []string {
	h.t.Helper()
	f := h.s.target.Queues
	if f == nil {
		return fixed
	}
	n := len(fixed)
	qs := f(n)
	if len(qs) != n {
		h.t.Fatalf("conformance: Target.Queues(%d) returned %d names", n, len(qs))
	}
	return qs
}

// argText renders one argument as a client would send it: strings as they
// are, numbers in decimal, anything else (lists, objects) as JSON.
func argText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return mustJSON(x)
	}
}

func mustJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("conformance: cannot encode %#v: %v", v, err))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// call runs one qless command: EVALSHA <sha> 0 cmd now args.... The reply is
// nil, string, int64 or []string (or []any for arrays of other values).
func (h *H) call(now any, cmd string, args ...any) (any, error) {
	h.t.Helper()
	argv := []string{cmd, argText(now)}
	for _, a := range args {
		argv = append(argv, argText(a))
	}
	v, err := h.eval(argv...)
	if a, ok := v.([]any); ok {
		ss := make([]string, 0, len(a))
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return v, err
			}
			ss = append(ss, s)
		}
		return ss, err
	}
	return v, err
}

// res is the outcome of one command, with assertion methods.
type res struct {
	h    *H
	desc string
	v    any
	rerr error // the error reply, if any
}

// do runs a qless command and returns its outcome for checking.
func (h *H) do(now any, cmd string, args ...any) *res {
	h.t.Helper()
	v, err := h.call(now, cmd, args...)
	parts := []string{cmd, argText(now)}
	for _, a := range args {
		s := argText(a)
		if len(s) > 60 {
			s = s[:57] + "..."
		}
		parts = append(parts, s)
	}
	return &res{h: h, desc: strings.Join(parts, " "), v: v, rerr: err}
}

// ok fails the case on an error reply and returns the reply.
func (r *res) ok() any {
	r.h.t.Helper()
	if r.rerr != nil {
		r.h.t.Fatalf("%s: unexpected error: %v", r.desc, r.rerr)
	}
	return r.v
}

// str expects a bulk string reply.
func (r *res) str() string {
	r.h.t.Helper()
	v := r.ok()
	s, ok := v.(string)
	if !ok {
		r.h.t.Fatalf("%s = %#v, want a string reply", r.desc, v)
	}
	return s
}

// is compares the raw reply with want (nil, string, int64/int or []string).
func (r *res) is(want any) {
	r.h.t.Helper()
	got := r.ok()
	if n, ok := want.(int); ok {
		want = int64(n)
	}
	if w, ok := want.([]string); ok && len(w) == 0 {
		// An empty array reply must be an empty array, not nil.
		if g, ok := got.([]string); !ok || len(g) != 0 {
			r.h.t.Errorf("%s = %#v, want an empty array", r.desc, got)
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		r.h.t.Errorf("%s: reply mismatch (-want +got):\n%s", r.desc, diff)
	}
}

// isNil expects a nil reply.
func (r *res) isNil() {
	r.h.t.Helper()
	if got := r.ok(); got != nil {
		r.h.t.Errorf("%s = %#v, want nil", r.desc, got)
	}
}

// text expects a bulk string reply exactly equal to want (no JSON parsing):
// used where the spec prescribes literal text such as `{}`.
func (r *res) text(want string) {
	r.h.t.Helper()
	if got := r.str(); got != want {
		r.h.t.Errorf("%s = %q, want exactly %q", r.desc, got, want)
	}
}

// contains expects a bulk string reply containing sub.
func (r *res) contains(sub string) {
	r.h.t.Helper()
	if got := r.str(); !strings.Contains(got, sub) {
		r.h.t.Errorf("%s = %q, want it to contain %q", r.desc, got, sub)
	}
}

// matches expects a bulk string reply matching the regular expression re.
func (r *res) matches(re string) {
	r.h.t.Helper()
	if got := r.str(); !regexp.MustCompile(re).MatchString(got) {
		r.h.t.Errorf("%s = %q, want it to match %s", r.desc, got, re)
	}
}

// json parses a JSON bulk string reply.
func (r *res) json() any {
	r.h.t.Helper()
	s := r.str()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		r.h.t.Fatalf("%s = %q: not JSON: %v", r.desc, s, err)
	}
	return v
}

// jsonIs compares a JSON reply with want, given as JSON text or as a Go value
// built from obj, arr, strings, numbers and booleans. `{}` and `[]` differ.
func (r *res) jsonIs(want any, opts ...cmp.Option) {
	r.h.t.Helper()
	got := r.json()
	if diff := cmp.Diff(normJSON(r.h.t, want), got, opts...); diff != "" {
		r.h.t.Errorf("%s: JSON mismatch (-want +got):\n%s", r.desc, diff)
	}
}

// approx compares floating point numbers to 1e-9 relative precision.
func approx() cmp.Option { return cmpopts.EquateApprox(1e-9, 1e-9) }

// ignoreWaitRun leaves the wait and run objects of stats out of a comparison.
func ignoreWaitRun() cmp.Option {
	return cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "wait" || k == "run" })
}

// normJSON turns an expected value into what json.Unmarshal would give.
func normJSON(t *testing.T, want any) any {
	t.Helper()
	text, ok := want.(string)
	if !ok {
		text = mustJSON(want)
	}
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("conformance: bad expected JSON %q: %v", text, err)
	}
	return v
}

// userScriptRE matches the form Ruby clients recognise: user_script:<n>: <msg>.
func userScriptRE(msg string) *regexp.Regexp {
	return regexp.MustCompile(`user_script:\d+:\s*` + regexp.QuoteMeta(msg))
}

// err expects an error reply containing `user_script:<digits>: <msg>` (spec
// 1.4: what Ruby clients need to recognise a qless error).
func (r *res) err(msg string) {
	r.h.t.Helper()
	if r.rerr == nil {
		r.h.t.Errorf("%s = %#v, want error %q", r.desc, r.v, msg)
		return
	}
	if !userScriptRE(msg).MatchString(r.rerr.Error()) {
		r.h.t.Errorf("%s: error %q, want it to contain %q preceded by `user_script:<n>: `", r.desc, r.rerr.Error(), msg)
	}
}

// errRE is err with a regular expression for the message.
func (r *res) errRE(re string) {
	r.h.t.Helper()
	if r.rerr == nil {
		r.h.t.Errorf("%s = %#v, want error matching %s", r.desc, r.v, re)
		return
	}
	if !regexp.MustCompile(`user_script:\d+:\s*` + re).MatchString(r.rerr.Error()) {
		r.h.t.Errorf("%s: error %q, want it to match %s preceded by `user_script:<n>: `", r.desc, r.rerr.Error(), re)
	}
}

// errContains expects an error reply containing msg anywhere: for errors that
// come from Redis itself rather than the script (arity errors).
func (r *res) errContains(msg string) {
	r.h.t.Helper()
	if r.rerr == nil {
		r.h.t.Errorf("%s = %#v, want error containing %q", r.desc, r.v, msg)
		return
	}
	if !strings.Contains(r.rerr.Error(), msg) {
		r.h.t.Errorf("%s: error %q, want it to contain %q", r.desc, r.rerr.Error(), msg)
	}
}

// anyErr expects some error reply.
func (r *res) anyErr() {
	r.h.t.Helper()
	if r.rerr == nil {
		r.h.t.Errorf("%s = %#v, want an error", r.desc, r.v)
	}
}

// ---- qless shortcuts ----

const (
	klass   = "Klass"
	putter  = "putter" // the worker name put uses by default
	noData  = "{}"
	noDelay = 0
)

// put puts jid into q (worker "putter", class Klass, data {}, no delay) with
// optional keyword options, and checks the reply is the jid.
func (h *H) put(now any, q, jid string, opts ...any) {
	h.t.Helper()
	args := append([]any{putter, q, jid, klass, noData, noDelay}, opts...)
	h.do(now, "put", args...).is(jid)
}

// putDelay is put with a delay.
func (h *H) putDelay(now any, q, jid string, delay any, opts ...any) {
	h.t.Helper()
	args := append([]any{putter, q, jid, klass, noData, delay}, opts...)
	h.do(now, "put", args...).is(jid)
}

// jobList parses a JSON list of jobs (`{}` when empty).
func (h *H) jobList(r *res) []obj {
	h.t.Helper()
	v := r.json()
	switch x := v.(type) {
	case map[string]any:
		if len(x) != 0 {
			h.t.Fatalf("%s = %v, want a list of jobs", r.desc, x)
		}
		return nil
	case []any:
		out := make([]obj, len(x))
		for i, e := range x {
			o, ok := e.(map[string]any)
			if !ok {
				h.t.Fatalf("%s: element %d = %#v, want a job object", r.desc, i, e)
			}
			out[i] = o
		}
		return out
	}
	h.t.Fatalf("%s = %#v, want a JSON list", r.desc, v)
	return nil
}

func jidsOf(jobs []obj) []string {
	out := []string{}
	for _, j := range jobs {
		s, _ := j["jid"].(string)
		out = append(out, s)
	}
	return out
}

// pop pops up to n jobs and returns their jids in reply order.
func (h *H) pop(now any, q, worker string, n int) []string {
	h.t.Helper()
	return jidsOf(h.jobList(h.do(now, "pop", q, worker, n)))
}

// popJobs pops up to n jobs and returns the job objects.
func (h *H) popJobs(now any, q, worker string, n int) []obj {
	h.t.Helper()
	return h.jobList(h.do(now, "pop", q, worker, n))
}

// peek peeks at up to n jobs and returns their jids in reply order.
func (h *H) peek(now any, q string, n int) []string {
	h.t.Helper()
	return jidsOf(h.jobList(h.do(now, "peek", q, n)))
}

// popOne pops exactly jid from q for worker.
func (h *H) popOne(now any, q, worker, jid string) {
	h.t.Helper()
	h.same(h.pop(now, q, worker, 1), []string{jid}, "pop %s %v %s", q, now, worker)
}

// complete completes jid and checks the reply is "complete".
func (h *H) complete(now any, jid, worker, q string) {
	h.t.Helper()
	h.do(now, "complete", jid, worker, q, noData).is("complete")
}

// fail fails jid and checks the reply is the jid.
func (h *H) fail(now any, jid, worker, group, msg string) {
	h.t.Helper()
	h.do(now, "fail", jid, worker, group, msg).is(jid)
}

// get returns the job JSON of jid, which must exist.
func (h *H) get(now any, jid string) obj {
	h.t.Helper()
	v := h.do(now, "get", jid).json()
	o, ok := v.(map[string]any)
	if !ok {
		h.t.Fatalf("get %s = %#v, want a job object", jid, v)
	}
	return o
}

// field returns one field of the job JSON of jid.
func (h *H) field(now any, jid, name string) any {
	h.t.Helper()
	j := h.get(now, jid)
	v, ok := j[name]
	if !ok {
		h.t.Fatalf("get %s: no key %q in %v", jid, name, j)
	}
	return v
}

// state returns the state of jid.
func (h *H) state(now any, jid string) string {
	h.t.Helper()
	s, _ := h.field(now, jid, "state").(string)
	return s
}

// wantState checks the state of each jid.
func (h *H) wantState(now any, state string, jids ...string) {
	h.t.Helper()
	for _, j := range jids {
		if got := h.state(now, j); got != state {
			h.t.Errorf("state of %s at %v = %q, want %q", j, now, got, state)
		}
	}
}

// sortSets sorts the unordered dependents and dependencies lists of a job.
func sortSets(j map[string]any) {
	for _, k := range []string{"dependents", "dependencies"} {
		if l, ok := j[k].([]any); ok {
			sort.Slice(l, func(a, b int) bool { return fmt.Sprint(l[a]) < fmt.Sprint(l[b]) })
		}
	}
}

// jobIs compares the whole job JSON of jid with want (all 17 keys).
func (h *H) jobIs(now any, jid string, want obj) {
	h.t.Helper()
	got := h.get(now, jid)
	w := normJSON(h.t, want).(map[string]any)
	sortSets(got)
	sortSets(w)
	if diff := cmp.Diff(w, got); diff != "" {
		h.t.Errorf("get %s at %v: job mismatch (-want +got):\n%s", jid, now, diff)
	}
}

// jobHas compares only the keys of want with the job JSON of jid.
func (h *H) jobHas(now any, jid string, want obj) {
	h.t.Helper()
	got := h.get(now, jid)
	h.objHas(got, want, "get "+jid)
}

// objHas compares only the keys of want with got.
func (h *H) objHas(got map[string]any, want obj, desc string) {
	h.t.Helper()
	w := normJSON(h.t, want).(map[string]any)
	sub := make(map[string]any, len(w))
	for k := range w {
		v, ok := got[k]
		if !ok {
			h.t.Errorf("%s: missing key %q", desc, k)
			continue
		}
		sub[k] = v
	}
	sortSets(sub)
	sortSets(w)
	if diff := cmp.Diff(w, sub); diff != "" {
		h.t.Errorf("%s: mismatch (-want +got):\n%s", desc, diff)
	}
}

// same compares two values with cmp.Diff.
func (h *H) same(got, want any, format string, args ...any) {
	h.t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		h.t.Errorf("%s: mismatch (-want +got):\n%s", fmt.Sprintf(format, args...), diff)
	}
}

// newJob is the JSON of a job just put at `when` into q with the defaults of
// put; tests override keys as needed.
func newJob(jid, q string, when int) obj {
	return obj{
		"jid":              jid,
		"klass":            klass,
		"state":            "waiting",
		"queue":            q,
		"worker":           "",
		"tracked":          false,
		"priority":         0,
		"expires":          0,
		"retries":          5,
		"remaining":        5,
		"data":             noData,
		"tags":             obj{},
		"history":          arr{obj{"when": when, "what": "put", "q": q}},
		"failure":          obj{},
		"spawned_from_jid": false,
		"dependents":       obj{},
		"dependencies":     obj{},
	}
}

// hist builds one history entry.
func hist(when int, what string, kv ...any) obj {
	o := obj{"when": when, "what": what}
	for i := 0; i+1 < len(kv); i += 2 {
		o[kv[i].(string)] = kv[i+1]
	}
	return o
}

// history returns the history entries of jid.
func (h *H) history(now any, jid string) []any {
	h.t.Helper()
	l, _ := h.field(now, jid, "history").([]any)
	return l
}

// historyWhats returns the `what` of each history entry of jid.
func (h *H) historyWhats(now any, jid string) []string {
	h.t.Helper()
	out := []string{}
	for _, e := range h.history(now, jid) {
		o, _ := e.(map[string]any)
		s, _ := o["what"].(string)
		out = append(out, s)
	}
	return out
}

// snapshot renders what qless commands report about the server: every queue
// listing, the named jobs, recurring jobs, queues and stats, workers, failures,
// tracking, config, tags and completed jobs.
func (h *H) snapshot(now any, names []string) string {
	h.t.Helper()
	var b strings.Builder
	show := func(cmd string, args ...any) {
		v, err := h.call(now, cmd, args...)
		fmt.Fprintf(&b, "%s %v => %#v %v\n", cmd, args, v, err)
	}
	show("queues")
	show("workers")
	show("failed")
	show("track")
	show("config.get")
	show("tag", "top", 0, 1000)
	show("jobs", "complete", 0, 1000)
	for _, n := range names {
		show("get", n)
		show("recur.get", n)
		show("queues", n)
		show("length", n)
		show("stats", n, now)
		show("workers", n)
		show("failed", n)
		show("tag", "get", n, 0, 1000)
		for _, st := range []string{"running", "stalled", "scheduled", "depends", "recurring"} {
			show("jobs", st, n, 0, 1000)
		}
	}
	return b.String()
}

// noEffect checks that fn changes nothing that qless commands report about
// names (jids, queues, workers, groups, tags) and publishes no event.
func (h *H) noEffect(now any, names []string, fn func()) {
	h.t.Helper()
	before := h.snapshot(now, names)
	evs := h.events(fn)
	if len(evs) != 0 {
		h.t.Errorf("bad input published events: %v", evs)
	}
	after := h.snapshot(now, names)
	if diff := cmp.Diff(before, after); diff != "" {
		h.t.Errorf("bad input changed state (-before +after):\n%s", diff)
	}
}
