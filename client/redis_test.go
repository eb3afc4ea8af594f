package client_test

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/lua"
)

func TestPutGetPopComplete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.c.Queue("mail")
	type payload struct {
		To string `json:"to"`
	}
	jid, err := q.Put(e.ctx, "Mailer", payload{To: "a@example.com"},
		client.WithJID("j1"), client.WithPriority(7), client.WithTags("t1", "t2"), client.WithRetries(3))
	if err != nil || jid != "j1" {
		t.Fatalf("Put = %q, %v; want j1", jid, err)
	}
	j := must(e.c.Job(e.ctx, "j1"))(t)
	want := core.Job{
		JID: "j1", Klass: "Mailer", State: core.StateWaiting, Queue: "mail", Priority: 7,
		Retries: 3, Remaining: 3, Data: `{"to":"a@example.com"}`, Tags: []string{"t1", "t2"},
		History: []core.HistoryEntry{{When: 1700000000, What: "put", Queue: "mail"}},
	}
	if diff := cmp.Diff(want, j.Job); diff != "" {
		t.Fatalf("Job(j1) (-want +got):\n%s", diff)
	}

	e.clock.Advance(time.Second)
	p := must(q.Pop(e.ctx))(t)
	if p == nil || p.JID != "j1" || p.State != core.StateRunning || p.Worker != "worker-1" {
		t.Fatalf("Pop = %+v, want j1 running for worker-1", p)
	}
	if got, want := p.TTL(), 60*time.Second; got < want-time.Second || got > want {
		t.Errorf("TTL() = %v, want about %v", got, want)
	}
	var pl payload
	ok(t, p.Decode(&pl))
	if pl.To != "a@example.com" {
		t.Errorf("Decode: To = %q", pl.To)
	}
	if string(p.RawData()) != `{"to":"a@example.com"}` {
		t.Errorf("RawData() = %s", p.RawData())
	}
	if again := must(q.Pop(e.ctx))(t); again != nil {
		t.Fatalf("second Pop = %+v, want nil", again)
	}

	e.clock.Advance(10 * time.Second)
	exp := must(p.Heartbeat(e.ctx))(t)
	if want := e.clock.Now().Add(60 * time.Second).Truncate(time.Second); !exp.Equal(want) {
		t.Errorf("Heartbeat = %v, want %v", exp, want)
	}
	exp = must(p.Heartbeat(e.ctx, client.WithData(map[string]int{"step": 2})))(t)
	if p.Data != `{"step":2}` || exp.IsZero() {
		t.Errorf("Heartbeat(WithData): Data = %s", p.Data)
	}

	state := must(p.Complete(e.ctx))(t)
	if state != core.StateComplete || p.State != core.StateComplete || p.Job.Queue != "" {
		t.Fatalf("Complete = %q, job %+v", state, p.Job)
	}
	got := must(e.c.Job(e.ctx, "j1"))(t)
	var whats []string
	for _, h := range got.History {
		whats = append(whats, h.What)
	}
	if diff := cmp.Diff([]string{"put", "popped", "done"}, whats); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if got.State != core.StateComplete {
		t.Errorf("state = %q", got.State)
	}
	if c := must(e.c.Completed(e.ctx, 0, 10))(t); !slices.Equal(c, []string{"j1"}) {
		t.Errorf("Completed = %v", c)
	}
}

func TestGetMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.c.Job(e.ctx, "nope")
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Job(nope) = %v, want ErrNotFound", err)
	}
	_, err = e.c.Recurring(e.ctx, "nope")
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Recurring(nope) = %v, want ErrNotFound", err)
	}
	if jobs := must(e.c.Jobs(e.ctx, "nope"))(t); len(jobs) != 0 {
		t.Fatalf("Jobs(nope) = %v", jobs)
	}
}

func TestPutRandomJIDAndData(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.c.Queue("q")
	for _, tc := range []struct {
		data any
		want string
	}{
		{nil, "{}"},
		{json.RawMessage(`{"a":[1,2]}`), `{"a":[1,2]}`},
		{[]byte(`[1]`), `[1]`},
		{`{"s":"x"}`, `{"s":"x"}`},
		{map[string]bool{"b": true}, `{"b":true}`},
	} {
		jid := must(q.Put(e.ctx, "K", tc.data))(t)
		if len(jid) != 32 {
			t.Errorf("random jid %q: want 32 hex digits", jid)
		}
		if j := must(e.c.Job(e.ctx, jid))(t); j.Data != tc.want {
			t.Errorf("Put(%v): data = %s, want %s", tc.data, j.Data, tc.want)
		}
	}
	if _, err := q.Put(e.ctx, "K", "not json"); err == nil {
		t.Error("Put with invalid JSON text: no error")
	}
	if _, err := q.Put(e.ctx, "K", nil, client.WithNext("x")); err == nil {
		t.Error("Put with WithNext: no error")
	}
}

func TestUniqueJID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.c.Queue("q")
	for range 3 {
		must(q.Put(e.ctx, "K", nil, client.WithJID("only"), client.WithPriority(2)))(t)
	}
	if n := must(q.Length(e.ctx))(t); n != 1 {
		t.Fatalf("Length after 3 puts of one jid = %d, want 1", n)
	}
	// A re-put without options keeps priority, tags and retries.
	must(q.Put(e.ctx, "K", nil, client.WithJID("kept"), client.WithPriority(4), client.WithTags("x"), client.WithRetries(2)))(t)
	must(e.c.Queue("other").Put(e.ctx, "K", nil, client.WithJID("kept")))(t)
	j := must(e.c.Job(e.ctx, "kept"))(t)
	if j.Priority != 4 || !slices.Equal(j.Tags, []string{"x"}) || j.Retries != 2 || j.Job.Queue != "other" {
		t.Fatalf("re-put job = %+v, want priority 4, tags [x], retries 2 in other", j.Job)
	}
}

func TestClassDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client("w", func(cfg *client.Config) {
		cfg.ClassDefaults = map[string]func(json.RawMessage) []client.Option{
			"Urgent": func(data json.RawMessage) []client.Option {
				var d struct{ Level int }
				_ = json.Unmarshal(data, &d)
				return []client.Option{client.WithPriority(float64(d.Level)), client.WithTags("urgent"), client.WithRetries(1)}
			},
		}
	})
	q := c.Queue("q")
	a := must(q.Put(e.ctx, "Urgent", map[string]int{"Level": 9}))(t)
	b := must(q.Put(e.ctx, "Urgent", map[string]int{"Level": 9}, client.WithPriority(1)))(t)
	d := must(q.Put(e.ctx, "Other", map[string]int{"Level": 9}))(t)
	for _, tc := range []struct {
		jid      string
		priority float64
		tags     []string
		retries  int
	}{{a, 9, []string{"urgent"}, 1}, {b, 1, []string{"urgent"}, 1}, {d, 0, nil, 5}} {
		j := must(c.Job(e.ctx, tc.jid))(t)
		if j.Priority != tc.priority || !slices.Equal(j.Tags, tc.tags) || j.Retries != tc.retries {
			t.Errorf("job %s: priority %v tags %v retries %d; want %v %v %d", tc.jid, j.Priority, j.Tags, j.Retries, tc.priority, tc.tags, tc.retries)
		}
	}
}

func TestDelayAndDependencies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.c.Queue("q")
	must(q.Put(e.ctx, "K", nil, client.WithJID("a")))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("b"), client.WithDepends("a")))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("c"), client.WithDelay(30*time.Second)))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("d"), client.WithDepends("a", "missing")))(t)

	b := must(e.c.Job(e.ctx, "b"))(t)
	if b.State != core.StateDepends || !slices.Equal(b.Dependencies, []string{"a"}) {
		t.Fatalf("b = %s deps %v, want depends on [a]", b.State, b.Dependencies)
	}
	a := must(e.c.Job(e.ctx, "a"))(t)
	deps := slices.Sorted(slices.Values(a.Dependents))
	if !slices.Equal(deps, []string{"b", "d"}) {
		t.Fatalf("a.Dependents = %v, want [b d]", a.Dependents)
	}
	if c := must(e.c.Job(e.ctx, "c"))(t); c.State != core.StateScheduled {
		t.Fatalf("c state = %s, want scheduled", c.State)
	}
	if got := must(q.Jobs(e.ctx, client.ListDepends, 0, 10))(t); !slices.Equal(got, []string{"b", "d"}) {
		t.Errorf("Jobs(depends) = %v", got)
	}
	if got := must(q.Jobs(e.ctx, client.ListScheduled, 0, 10))(t); !slices.Equal(got, []string{"c"}) {
		t.Errorf("Jobs(scheduled) = %v", got)
	}

	// Depend / Undepend on d.
	dj := must(e.c.Job(e.ctx, "d"))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("e")))(t)
	ok(t, dj.Depend(e.ctx, "e"))
	ok(t, dj.Undepend(e.ctx, "e"))
	ok(t, dj.Undepend(e.ctx)) // all: d becomes waiting
	if d := must(e.c.Job(e.ctx, "d"))(t); d.State != core.StateWaiting {
		t.Fatalf("d after Undepend() = %s, want waiting", d.State)
	}

	// Completing a releases b.
	p := must(q.PopMany(e.ctx, 10))(t)
	var jids []string
	for _, j := range p {
		jids = append(jids, j.JID)
	}
	sort.Strings(jids)
	if !slices.Equal(jids, []string{"a", "d", "e"}) {
		t.Fatalf("PopMany = %v, want a d e", jids)
	}
	for _, j := range p {
		if j.JID == "a" {
			must(j.Complete(e.ctx))(t)
		}
	}
	if b := must(e.c.Job(e.ctx, "b"))(t); b.State != core.StateWaiting {
		t.Fatalf("b after a completed = %s, want waiting", b.State)
	}

	// c becomes poppable after its delay.
	e.clock.Advance(31 * time.Second)
	p = must(q.PopMany(e.ctx, 10))(t)
	jids = jids[:0]
	for _, j := range p {
		jids = append(jids, j.JID)
	}
	sort.Strings(jids)
	if !slices.Equal(jids, []string{"b", "c"}) {
		t.Fatalf("PopMany after delay = %v, want b c", jids)
	}
}

func TestCompleteNext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.c.Queue("one")
	for _, jid := range []string{"x", "y", "z", "dep"} {
		must(q.Put(e.ctx, "K", nil, client.WithJID(jid)))(t)
	}
	jobs := must(q.PopMany(e.ctx, 3))(t)
	byJID := map[string]*client.Job{}
	for _, j := range jobs {
		byJID[j.JID] = j
	}
	for _, tc := range []struct {
		jid   string
		opts  []client.Option
		state string
	}{
		{"x", []client.Option{client.WithNext("two")}, core.StateWaiting},
		{"y", []client.Option{client.WithNext("two"), client.WithDelay(time.Minute)}, core.StateScheduled},
		{"z", []client.Option{client.WithNext("two"), client.WithDepends("dep"), client.WithData(map[string]int{"n": 1})}, core.StateDepends},
	} {
		j := byJID[tc.jid]
		if j == nil {
			t.Fatalf("job %s not popped (got %v)", tc.jid, jobs)
		}
		state := must(j.Complete(e.ctx, tc.opts...))(t)
		if state != tc.state || j.Job.Queue != "two" {
			t.Errorf("Complete(%s) = %q queue %q, want %q in two", tc.jid, state, j.Job.Queue, tc.state)
		}
	}
	if z := must(e.c.Job(e.ctx, "z"))(t); z.Data != `{"n":1}` || z.Job.Queue != "two" {
		t.Errorf("z = %+v", z.Job)
	}
	j := must(e.c.Job(e.ctx, "dep"))(t)
	if _, err := j.Complete(e.ctx, client.WithDelay(time.Second)); err == nil {
		t.Error("Complete(WithDelay) without WithNext: no error")
	}
}

func TestFailRetryUnfail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.c.Queue("q")
	must(q.Put(e.ctx, "K", nil, client.WithJID("f1")))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("f2")))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("r1"), client.WithRetries(1)))(t)
	jobs := must(q.PopMany(e.ctx, 3))(t)
	byJID := map[string]*client.Job{}
	for _, j := range jobs {
		byJID[j.JID] = j
	}
	ok(t, byJID["f1"].Fail(e.ctx, "boom", "it broke", client.WithData(map[string]string{"why": "x"})))
	ok(t, byJID["f2"].Fail(e.ctx, "boom", "again"))
	f1 := must(e.c.Job(e.ctx, "f1"))(t)
	if f1.State != core.StateFailed || f1.Failure == nil || f1.Failure.Group != "boom" ||
		f1.Failure.Message != "it broke" || f1.Failure.Worker != "worker-1" || f1.Failure.When != 1700000000 || f1.Data != `{"why":"x"}` {
		t.Fatalf("failed job = %+v failure %+v", f1.Job, f1.Failure)
	}
	if g := must(e.c.FailedGroups(e.ctx))(t); !cmp.Equal(g, map[string]int64{"boom": 2}) {
		t.Errorf("FailedGroups = %v", g)
	}
	page := must(e.c.Failed(e.ctx, "boom", 0, 1))(t)
	if page.Total != 2 || !slices.Equal(page.Jobs, []string{"f2"}) {
		t.Errorf("Failed(boom, 0, 1) = %+v, want total 2 [f2]", page)
	}
	page = must(e.c.Failed(e.ctx, "boom", 1, 1))(t)
	if !slices.Equal(page.Jobs, []string{"f1"}) {
		t.Errorf("Failed(boom, 1, 1) = %+v, want [f1]", page)
	}
	if n := must(q.Unfail(e.ctx, "boom", 10))(t); n != 2 {
		t.Errorf("Unfail = %d, want 2", n)
	}
	if f := must(e.c.Job(e.ctx, "f1"))(t); f.State != core.StateWaiting {
		t.Errorf("f1 after Unfail: %s", f.State)
	}

	r1 := byJID["r1"]
	if n := must(r1.Retry(e.ctx, client.WithDelay(5*time.Second)))(t); n != 0 || r1.State != core.StateScheduled {
		t.Fatalf("Retry = %d (%s), want 0 scheduled", n, r1.State)
	}
	e.clock.Advance(6 * time.Second)
	var again *client.Job
	for _, j := range must(q.PopMany(e.ctx, 5))(t) {
		if j.JID == "r1" {
			again = j
		}
	}
	if again == nil {
		t.Fatal("r1 not popped after its retry delay")
	}
	if n := must(again.Retry(e.ctx, client.WithFailure("gave-up", "no more")))(t); n != -1 || again.State != core.StateFailed {
		t.Fatalf("exhausted Retry = %d (%s), want -1 failed", n, again.State)
	}
	r := must(e.c.Job(e.ctx, "r1"))(t)
	if r.State != core.StateFailed || r.Failure == nil || r.Failure.Group != "gave-up" || r.Failure.Message != "no more" {
		t.Fatalf("r1 = %s %+v", r.State, r.Failure)
	}
}

func TestLockLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := e.client("worker-2")
	q := e.c.Queue("q")
	must(q.Put(e.ctx, "K", nil, client.WithJID("a")))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("b")))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("c")))(t)
	jobs := must(q.PopMany(e.ctx, 3))(t)
	byJID := map[string]*client.Job{}
	for _, j := range jobs {
		byJID[j.JID] = j
	}

	// a: timed out.
	ok(t, byJID["a"].Timeout(e.ctx))
	_, err := byJID["a"].Heartbeat(e.ctx)
	if !errors.Is(err, client.ErrLockLost) {
		t.Fatalf("Heartbeat after Timeout = %v, want ErrLockLost", err)
	}
	qlessErr(t, err, "not currently running: stalled")
	// ...and handed to worker-2.
	a2 := must(other.Queue("q").Pop(e.ctx))(t)
	if a2 == nil || a2.JID != "a" {
		t.Fatalf("worker-2 Pop = %v, want a", a2)
	}
	for name, err := range map[string]error{
		"complete": func() error { _, err := byJID["a"].Complete(e.ctx); return err }(),
		"fail":     byJID["a"].Fail(e.ctx, "g", "m"),
		"retry":    func() error { _, err := byJID["a"].Retry(e.ctx); return err }(),
	} {
		if !errors.Is(err, client.ErrLockLost) {
			t.Errorf("%s of a job given to another worker = %v, want ErrLockLost", name, err)
		}
	}

	// b: canceled.
	ok(t, e.c.Cancel(e.ctx, "b"))
	_, err = byJID["b"].Complete(e.ctx)
	if !errors.Is(err, client.ErrLockLost) || !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Complete of a canceled job = %v, want ErrLockLost and ErrNotFound", err)
	}
	err = byJID["b"].Fail(e.ctx, "g", "m")
	if !errors.Is(err, client.ErrLockLost) {
		t.Fatalf("Fail of a canceled job = %v, want ErrLockLost", err)
	}

	// c: re-put by someone else.
	must(other.Queue("q").Put(e.ctx, "K", nil, client.WithJID("c")))(t)
	_, err = byJID["c"].Heartbeat(e.ctx)
	if !errors.Is(err, client.ErrLockLost) {
		t.Fatalf("Heartbeat of a re-put job = %v, want ErrLockLost", err)
	}

	// Errors that are not lock losses.
	_, err = q.Jobs(e.ctx, "bogus", 0, 1)
	qe := qlessErr(t, err, `Jobs(): Unknown type "bogus"`)
	if qe.Command != "jobs" || errors.Is(err, client.ErrLockLost) || errors.Is(err, client.ErrNotFound) {
		t.Fatalf("error %+v: want command jobs, neither lock loss nor not found", qe)
	}
	if want := `qless jobs: Jobs(): Unknown type "bogus"`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestJobMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.c.Queue("q")
	for _, jid := range []string{"j", "k", "l", "m"} {
		must(q.Put(e.ctx, "K", map[string]int{"v": 1}, client.WithJID(jid)))(t)
	}
	j := must(e.c.Job(e.ctx, "j"))(t)

	ok(t, j.Tag(e.ctx, "a", "b"))
	ok(t, j.Untag(e.ctx, "a"))
	if !slices.Equal(j.Tags, []string{"b"}) {
		t.Errorf("Tags after Tag/Untag = %v", j.Tags)
	}
	ok(t, j.SetPriority(e.ctx, 12))
	ok(t, j.Track(e.ctx))
	ok(t, j.Log(e.ctx, "note", map[string]string{"k": "v"}))
	ok(t, j.Log(e.ctx, "plain", nil))
	ok(t, j.Refresh(e.ctx))
	if j.Priority != 12 || !j.Tracked || !slices.Equal(j.Tags, []string{"b"}) {
		t.Fatalf("after Refresh: %+v", j.Job)
	}
	last := j.History[len(j.History)-2:]
	if last[0].What != "note" || string(last[0].Extra["k"]) != `"v"` || last[1].What != "plain" {
		t.Errorf("log history = %+v", last)
	}
	tr := must(e.c.Tracked(e.ctx))(t)
	if len(tr.Jobs) != 1 || tr.Jobs[0].JID != "j" || len(tr.Expired) != 0 {
		t.Errorf("Tracked = %+v", tr)
	}
	ok(t, j.Untrack(e.ctx))
	if tr := must(e.c.Tracked(e.ctx))(t); len(tr.Jobs) != 0 {
		t.Errorf("Tracked after Untrack = %+v", tr)
	}

	ok(t, j.Requeue(e.ctx, "elsewhere", client.WithDelay(time.Minute)))
	got := must(e.c.Job(e.ctx, "j"))(t)
	if got.Job.Queue != "elsewhere" || got.State != core.StateScheduled || got.Priority != 12 || got.Data != `{"v":1}` {
		t.Fatalf("after Requeue: %+v", got.Job)
	}
	ok(t, j.Cancel(e.ctx))
	if _, err := e.c.Job(e.ctx, "j"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Job after Cancel = %v", err)
	}
	if err := j.Requeue(e.ctx, "q"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Requeue of a canceled job = %v, want ErrNotFound", err)
	}

	jobs := must(e.c.Jobs(e.ctx, "k", "missing", "l"))(t)
	if len(jobs) != 2 || jobs[0].JID != "k" || jobs[1].JID != "l" {
		t.Fatalf("Jobs(k, missing, l) = %v", jobs)
	}
	ok(t, e.c.Cancel(e.ctx, "k", "l"))
	if n := must(q.Length(e.ctx))(t); n != 1 {
		t.Fatalf("Length after Cancel(k, l) = %d, want 1", n)
	}
	p := must(q.Pop(e.ctx))(t)
	ok(t, e.c.Timeout(e.ctx, p.JID))
	if m := must(e.c.Job(e.ctx, "m"))(t); m.State != core.StateStalled {
		t.Fatalf("after Timeout: %s", m.State)
	}
}

func TestQueueMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.c.Queue("work")
	if q.Name() != "work" {
		t.Fatalf("Name() = %q", q.Name())
	}
	must(q.Put(e.ctx, "K", nil, client.WithJID("lo"), client.WithPriority(1)))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("hi"), client.WithPriority(5)))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("later"), client.WithDelay(time.Hour)))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("dep"), client.WithDepends("lo")))(t)

	peek := must(q.Peek(e.ctx, 5))(t)
	if len(peek) != 2 || peek[0].JID != "hi" || peek[1].JID != "lo" {
		t.Fatalf("Peek = %v, want hi lo", peek)
	}
	if n := must(q.Length(e.ctx))(t); n != 3 {
		t.Errorf("Length = %d, want 3 (depends not counted)", n)
	}
	want := core.QueueCounts{Name: "work", Waiting: 2, Scheduled: 1, Depends: 1}
	if got := must(q.Counts(e.ctx))(t); got != want {
		t.Errorf("Counts = %+v, want %+v", got, want)
	}

	ok(t, q.Pause(e.ctx))
	if p := must(q.Paused(e.ctx))(t); !p {
		t.Error("Paused after Pause = false")
	}
	if j := must(q.Pop(e.ctx))(t); j != nil {
		t.Fatalf("Pop of a paused queue = %v", j)
	}
	ok(t, q.Unpause(e.ctx))

	if d := must(q.Heartbeat(e.ctx))(t); d != 60*time.Second {
		t.Errorf("Heartbeat() default = %v", d)
	}
	ok(t, q.SetHeartbeat(e.ctx, 5*time.Minute))
	if d := must(q.Heartbeat(e.ctx))(t); d != 5*time.Minute {
		t.Errorf("Heartbeat() = %v, want 5m", d)
	}
	j := must(q.Pop(e.ctx))(t)
	if j.JID != "hi" || j.TTL() != 5*time.Minute-250*time.Millisecond && j.TTL() != 5*time.Minute {
		t.Errorf("Pop with a 5m heartbeat: %s TTL %v", j.JID, j.TTL())
	}
	ok(t, q.UnsetHeartbeat(e.ctx))
	if d := must(q.Heartbeat(e.ctx))(t); d != 60*time.Second {
		t.Errorf("Heartbeat() after unset = %v", d)
	}

	ok(t, q.SetMaxConcurrency(e.ctx, 1))
	if j := must(q.Pop(e.ctx))(t); j != nil {
		t.Errorf("Pop above max concurrency = %v", j.JID)
	}
	ok(t, q.SetMaxConcurrency(e.ctx, 0))

	if got := must(q.Jobs(e.ctx, client.ListRunning, 0, 10))(t); !slices.Equal(got, []string{"hi"}) {
		t.Errorf("Jobs(running) = %v", got)
	}
	e.clock.Advance(301 * time.Second)
	if got := must(q.Jobs(e.ctx, client.ListStalled, 0, 10))(t); !slices.Equal(got, []string{"hi"}) {
		t.Errorf("Jobs(stalled) = %v", got)
	}
	if _, err := q.Jobs(e.ctx, "bogus", 0, 10); err == nil {
		t.Error("Jobs(bogus): no error")
	}

	must(j.Complete(e.ctx))(t)
	st := must(q.Stats(e.ctx, e.clock.Now()))(t)
	if st.Run.Count != 1 || st.Wait.Count != 1 || len(st.Run.Histogram) != core.HistogramSize {
		t.Errorf("Stats = %+v", st)
	}

	qs := must(e.c.Queues(e.ctx))(t)
	if len(qs) != 1 || qs[0].Name != "work" {
		t.Errorf("Queues = %+v", qs)
	}
	ok(t, q.Forget(e.ctx))
	if qs := must(e.c.Queues(e.ctx))(t); len(qs) != 0 {
		t.Errorf("Queues after Forget = %+v", qs)
	}
}

func TestRecurring(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.c.Queue("cron")
	jid := must(q.Recur(e.ctx, "Tick", map[string]int{"n": 1}, time.Minute,
		client.WithJID("tick"), client.WithOffset(10*time.Second), client.WithPriority(3),
		client.WithTags("periodic"), client.WithBacklog(2)))(t)
	if jid != "tick" {
		t.Fatalf("Recur = %q", jid)
	}
	r := must(e.c.Recurring(e.ctx, "tick"))(t)
	want := core.RecurringJob{JID: "tick", Klass: "Tick", State: core.StateRecur, Queue: "cron", Data: `{"n":1}`,
		Priority: 3, Interval: 60, Retries: 5, Backlog: 2, Tags: []string{"periodic"}}
	if diff := cmp.Diff(want, r.RecurringJob); diff != "" {
		t.Fatalf("Recurring (-want +got):\n%s", diff)
	}
	if r.Every() != time.Minute {
		t.Errorf("Every() = %v", r.Every())
	}
	if got := must(q.Jobs(e.ctx, client.ListRecurring, 0, 10))(t); !slices.Equal(got, []string{"tick"}) {
		t.Errorf("Jobs(recurring) = %v", got)
	}

	e.clock.Advance(11 * time.Second)
	jobs := must(q.Peek(e.ctx, 10))(t)
	if len(jobs) != 1 || jobs[0].JID != "tick-1" || jobs[0].SpawnedFrom != "tick" || jobs[0].Priority != 3 {
		t.Fatalf("Peek after the offset = %+v", jobs)
	}

	ok(t, r.SetPriority(e.ctx, 8))
	ok(t, r.SetRetries(e.ctx, 2))
	ok(t, r.SetBacklog(e.ctx, 0))
	ok(t, r.SetData(e.ctx, map[string]int{"n": 2}))
	ok(t, r.SetKlass(e.ctx, "Tock"))
	ok(t, r.SetInterval(e.ctx, 2*time.Minute))
	ok(t, r.Tag(e.ctx, "x", "y"))
	ok(t, r.Untag(e.ctx, "periodic"))
	ok(t, r.Move(e.ctx, "cron2"))
	local := r.RecurringJob
	got := must(e.c.Recurring(e.ctx, "tick"))(t)
	want = core.RecurringJob{JID: "tick", Klass: "Tock", State: core.StateRecur, Queue: "cron2", Data: `{"n":2}`,
		Priority: 8, Interval: 120, Retries: 2, Count: 1, Backlog: 0, Tags: []string{"x", "y"}}
	if diff := cmp.Diff(want, got.RecurringJob); diff != "" {
		t.Fatalf("after updates (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, local, cmpopts.IgnoreFields(core.RecurringJob{}, "Count")); diff != "" {
		t.Errorf("local fields after setters (-want +got):\n%s", diff)
	}
	if err := r.SetPriority(e.ctx, 1); err != nil {
		t.Fatal(err)
	}
	var d map[string]int
	ok(t, got.Decode(&d))
	if d["n"] != 2 {
		t.Errorf("Decode = %v", d)
	}

	ok(t, r.Cancel(e.ctx))
	if _, err := e.c.Recurring(e.ctx, "tick"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Recurring after Cancel = %v", err)
	}
	must(q.Recur(e.ctx, "K", nil, time.Second, client.WithJID("r2")))(t)
	ok(t, e.c.Unrecur(e.ctx, "r2"))
	if err := r.SetRetries(e.ctx, 1); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("SetRetries of a deleted recurring job = %v, want ErrNotFound", err)
	}
	if _, err := q.Recur(e.ctx, "K", nil, time.Second, client.WithDelay(time.Second)); err == nil {
		t.Error("Recur(WithDelay): no error")
	}
}

func TestListsAndWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w2 := e.client("worker-2")
	q := e.c.Queue("q")
	for i, jid := range []string{"a", "b", "c"} {
		must(q.Put(e.ctx, "K", nil, client.WithJID(jid), client.WithTags("common", jid)))(t)
		_ = i
		e.clock.Advance(time.Second)
	}
	page := must(e.c.Tagged(e.ctx, "common", 0, 2))(t)
	if page.Total != 3 || !slices.Equal(page.Jobs, []string{"a", "b"}) {
		t.Errorf("Tagged(common, 0, 2) = %+v", page)
	}
	page = must(e.c.Tagged(e.ctx, "common", 2, 2))(t)
	if !slices.Equal(page.Jobs, []string{"c"}) {
		t.Errorf("Tagged(common, 2, 2) = %+v", page)
	}
	if top := must(e.c.TopTags(e.ctx, 0, 10))(t); !slices.Equal(top, []string{"common"}) {
		t.Errorf("TopTags = %v", top)
	}

	j1 := must(q.Pop(e.ctx))(t)
	e.clock.Advance(time.Second)
	j2 := must(w2.Queue("q").Pop(e.ctx))(t)
	ws := must(e.c.Workers(e.ctx))(t)
	want := []core.WorkerSummary{{Name: "worker-2", Jobs: 1}, {Name: "worker-1", Jobs: 1}}
	if diff := cmp.Diff(want, ws); diff != "" {
		t.Errorf("Workers (-want +got):\n%s", diff)
	}
	wj := must(e.c.WorkerJobs(e.ctx, "worker-2"))(t)
	if !slices.Equal(wj.Jobs, []string{j2.JID}) || len(wj.Stalled) != 0 {
		t.Errorf("WorkerJobs(worker-2) = %+v", wj)
	}
	ok(t, e.c.DeregisterWorkers(e.ctx, "worker-1", "worker-2"))
	if ws := must(e.c.Workers(e.ctx))(t); len(ws) != 0 {
		t.Errorf("Workers after deregister = %+v", ws)
	}
	must(j1.Complete(e.ctx))(t)
	must(j2.Complete(e.ctx))(t)
	if c := must(e.c.Completed(e.ctx, 0, 10))(t); len(c) != 2 || c[0] != j2.JID {
		t.Errorf("Completed = %v, want %s first", c, j2.JID)
	}
	// Empty calls send nothing.
	ok(t, e.c.Cancel(e.ctx))
	ok(t, e.c.Timeout(e.ctx))
	ok(t, e.c.DeregisterWorkers(e.ctx))
	if jobs := must(e.c.Jobs(e.ctx))(t); jobs != nil {
		t.Errorf("Jobs() = %v", jobs)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v, found := must2(t)(e.c.GetConfig(e.ctx, "heartbeat"))
	if !found || v != "60" {
		t.Errorf("GetConfig(heartbeat) = %q, %v; want 60", v, found)
	}
	if _, found = must2(t)(e.c.GetConfig(e.ctx, "nothing")); found {
		t.Error("GetConfig(nothing): found")
	}
	ok(t, e.c.SetConfig(e.ctx, "heartbeat", "30"))
	ok(t, e.c.SetConfig(e.ctx, "custom", "x"))
	all := must(e.c.AllConfig(e.ctx))(t)
	if all["heartbeat"] != "30" || all["custom"] != "x" || all["grace-period"] != "10" || all["application"] != "qless" {
		t.Errorf("AllConfig = %v", all)
	}
	ok(t, e.c.UnsetConfig(e.ctx, "heartbeat"))
	if v, _ = must2(t)(e.c.GetConfig(e.ctx, "heartbeat")); v != "60" {
		t.Errorf("GetConfig(heartbeat) after unset = %q", v)
	}
}

func must2(t *testing.T) func(string, bool, error) (string, bool) {
	return func(s string, b bool, err error) (string, bool) {
		t.Helper()
		ok(t, err)
		return s, b
	}
}

func TestCustomScript(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client("w", func(cfg *client.Config) { cfg.Script = lua.Script() + "\n-- a client's own copy\n" })
	jid := must(c.Queue("q").Put(e.ctx, "K", nil))(t)
	// The default client uses the project's script under its own SHA.
	if j := must(e.c.Job(e.ctx, jid))(t); j.Klass != "K" {
		t.Fatalf("Job = %+v", j.Job)
	}
}
