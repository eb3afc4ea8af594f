package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/redistest"
	"github.com/qless-router/qless-router/lua"
	"github.com/qless-router/qless-router/web"
)

// redisBackend is a minimal Backend over one real Redis running the
// project's qless script (EVALSHA, EVAL on NOSCRIPT), so that the pages are
// checked against real replies.
type redisBackend struct {
	client rueidis.Client
	script *rueidis.Lua
}

func newRedisBackend(t *testing.T) *redisBackend {
	t.Helper()
	srv := redistest.Start(t)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis.NewClient: %v", err)
	}
	t.Cleanup(c.Close)
	return &redisBackend{client: c, script: rueidis.NewLuaScript(lua.Script())}
}

func (b *redisBackend) Qless(ctx context.Context, args []string) (core.Reply, error) {
	m, err := b.script.Exec(ctx, b.client, nil, args).ToMessage()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return core.NilReply(), nil
		}
		if re, ok := rueidis.IsRedisErr(err); ok {
			msg, _ := lua.ParseError(re.Error())
			return core.Reply{}, &core.ScriptError{Text: re.Error(), Message: msg}
		}
		return core.Reply{}, &core.ShardError{Shard: "s1", Err: err}
	}
	switch {
	case m.IsNil():
		return core.NilReply(), nil
	case m.IsString():
		s, err := m.ToString()
		return core.StringReply(s), err
	case m.IsInt64():
		n, err := m.AsInt64()
		return core.IntReply(n), err
	case m.IsArray():
		a, err := m.AsStrSlice()
		return core.ArrayReply(a), err
	}
	return core.Reply{}, fmt.Errorf("unexpected reply %s", m.String())
}

func (b *redisBackend) Cluster(ctx context.Context) (web.Cluster, error) {
	healthy := b.client.Do(ctx, b.client.B().Ping().Build()).Error() == nil
	return web.Cluster{
		Router:  "test",
		Routers: []web.RouterInfo{{Name: "test"}},
		Shards:  []web.ShardInfo{{Name: "s1", Healthy: healthy}},
		Ring:    web.RingInfo{Epoch: 1, Text: "1 s1:1"},
	}, nil
}

func (b *redisBackend) Locate(queue string) (string, error) { return "s1", nil }

// must runs a qless command at time now and fails the test on an error.
func (b *redisBackend) must(t *testing.T, now string, args ...string) core.Reply {
	t.Helper()
	rep, err := b.Qless(context.Background(), append([]string{args[0], now}, args[1:]...))
	if err != nil {
		t.Fatalf("qless %q: %v", args, err)
	}
	return rep
}

func TestAgainstRedis(t *testing.T) {
	t.Parallel()
	b := newRedisBackend(t)
	const t0, t1, t2 = "1700000000", "1700000000.1", "1700000000.2"
	b.must(t, t0, "put", "w", "q1", "j1", "Mailer", `{"to":"a@b"}`, "0", "priority", "2", "tags", `["urgent","mail"]`, "retries", "3")
	b.must(t, t0, "put", "w", "q1", "j2", "Klass", `{}`, "0", "tags", `["urgent"]`)
	b.must(t, t0, "put", "w", "q1", "jdep", "Klass", `{}`, "0", "depends", `["j2"]`)
	b.must(t, t0, "put", "w", "q1", "jsched", "Klass", `{}`, "600")
	b.must(t, t0, "put", "w", hostile, "jx", "Klass", `{}`, "0")
	b.must(t, t0, "pause", hostile)
	b.must(t, t0, "recur", "q1", "r1", "Report", `{}`, "interval", "3600", "0.3") // due after the pops, before the pages
	b.must(t, t0, "put", "w", "q2", "jc", "Klass", `{}`, "0")
	b.must(t, t1, "pop", "q1", "worker1", "2")
	b.must(t, t1, "pop", "q2", "worker2", "1")
	b.must(t, t2, "complete", "jc", "worker2", "q2", `{}`)
	b.must(t, t2, "fail", "j1", "worker1", "smtp", "connection refused")
	b.must(t, t2, "track", "track", "j2")
	b.must(t, t2, "log", "j2", "note", `{"detail":"x"}`)

	s, err := web.New(func() web.Config {
		c := web.DefaultLocalConfig()
		c.Clock = core.NewFakeClock(testNow)
		return c
	}(), b)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()

	get := func(path string) (int, string) {
		t.Helper()
		resp := do(t, h, "GET", path, "")
		return resp.StatusCode, readBody(t, resp)
	}
	getJSON := func(path string) map[string]any {
		t.Helper()
		code, body := get(path)
		if code != 200 {
			t.Fatalf("GET %s = %d: %s", path, code, body)
		}
		v, ok := decode(t, body).(map[string]any)
		if !ok {
			t.Fatalf("GET %s: not an object: %s", path, body)
		}
		return v
	}

	// The JSON API against real replies.
	code, body := get("/api/queues")
	if code != 200 {
		t.Fatalf("GET /api/queues = %d: %s", code, body)
	}
	want := `[{"name":"<script>alert(1)</script>","waiting":1,"stalled":0,"running":0,"scheduled":0,"depends":0,"recurring":0,"paused":true,"shard":"s1"},` +
		`{"name":"q1","waiting":0,"stalled":0,"running":1,"scheduled":1,"depends":1,"recurring":1,"paused":false,"shard":"s1"},` +
		`{"name":"q2","waiting":0,"stalled":0,"running":0,"scheduled":0,"depends":0,"recurring":0,"paused":false,"shard":"s1"}]`
	if diff := cmpJSON(t, want, body); diff != "" {
		t.Errorf("GET /api/queues (-want +got):\n%s", diff)
	}

	job := getJSON("/api/jobs/j1")["job"].(map[string]any)
	if job["state"] != "failed" || job["failure"].(map[string]any)["group"] != "smtp" || len(job["history"].([]any)) != 3 ||
		fmt.Sprint(job["tags"]) != "[urgent mail]" || job["data"] != `{"to":"a@b"}` || len(job) != 17 {
		t.Errorf("GET /api/jobs/j1: job = %v", job)
	}
	if rec := getJSON("/api/jobs/r1"); rec["kind"] != "recurring" || rec["recurring"].(map[string]any)["interval"] != 3600.0 {
		t.Errorf("GET /api/jobs/r1 = %v", rec)
	}
	if code, _ := get("/api/jobs/nope"); code != 404 {
		t.Errorf("GET /api/jobs/nope = %d, want 404", code)
	}
	q := getJSON("/api/queues/q1")
	jobs := q["jobs"].(map[string]any)
	for st, want := range map[string]string{"running": "[j2]", "scheduled": "[jsched]", "depends": "[jdep]", "recurring": "[r1]", "stalled": "[]", "waiting": "[r1-1]"} {
		if got := fmt.Sprint(jobs[st].(map[string]any)["jids"]); got != want {
			t.Errorf("GET /api/queues/q1: %s jids = %s, want %s", st, got, want)
		}
	}
	if w := q["stats"].(map[string]any)["wait"].(map[string]any); w["count"] != 2.0 || len(w["histogram"].([]any)) != core.HistogramSize {
		t.Errorf("GET /api/queues/q1: wait stats = %v", w)
	}
	if f := getJSON("/api/failed"); fmt.Sprint(f["groups"]) != "[map[count:1 group:smtp]]" {
		t.Errorf("GET /api/failed = %v", f)
	}
	if f := getJSON("/api/failed/smtp"); f["total"] != 1.0 || fmt.Sprint(f["jids"]) != "[j1]" || len(f["jobs"].([]any)) != 1 {
		t.Errorf("GET /api/failed/smtp = %v", f)
	}
	if w := getJSON("/api/workers/worker1"); fmt.Sprint(w["jobs"].(map[string]any)["jids"]) != "[j2]" {
		t.Errorf("GET /api/workers/worker1 = %v", w)
	}
	if code, body := get("/api/workers"); code != 200 || !strings.Contains(body, `"name":"worker1","jobs":1,"stalled":0`) {
		t.Errorf("GET /api/workers = %d %s", code, body)
	}
	if tg := getJSON("/api/tags/urgent"); tg["total"] != 2.0 {
		t.Errorf("GET /api/tags/urgent = %v", tg)
	}
	if tg := getJSON("/api/tags/top"); fmt.Sprint(tg["tags"]) != "[urgent]" {
		t.Errorf("GET /api/tags/top = %v", tg)
	}
	if tr := getJSON("/api/tracked"); len(tr["jobs"].([]any)) != 1 {
		t.Errorf("GET /api/tracked = %v", tr)
	}
	if c := getJSON("/api/config"); c["application"] != "qless" {
		t.Errorf("GET /api/config = %v", c)
	}
	if c := getJSON("/api/completed"); fmt.Sprint(c["jids"]) != "[jc]" {
		t.Errorf("GET /api/completed = %v", c)
	}

	// Every dashboard page renders from real replies.
	for path, wants := range map[string][]string{
		"/":                          {`href="/queues/q1"`, "&lt;script&gt;alert(1)&lt;/script&gt;", "1 failed jobs in 1 groups"},
		"/queues/q1":                 {"Wait time", `href="/jobs/r1-1"`},
		"/queues/q1?state=running":   {`href="/jobs/j2"`, `href="/workers/worker1"`},
		"/queues/q1?state=depends":   {`href="/jobs/jdep"`},
		"/queues/q1?state=recurring": {`href="/jobs/r1"`, "Report"},
		"/queues/%3Cscript%3Ealert(1)%3C%2Fscript%3E": {"Unpause", `href="/jobs/jx"`},
		"/jobs/j1":         {"connection refused", `href="/failed/smtp"`, `href="/tags/mail"`, "popped"},
		"/jobs/j2":         {`href="/jobs/jdep"`, "note", `detail=&#34;x&#34;`, "Untrack"},
		"/jobs/jdep":       {`href="/jobs/j2"`},
		"/jobs/r1":         {"recurring job template"},
		"/failed":          {`href="/failed/smtp"`},
		"/failed/smtp":     {`href="/jobs/j1"`, `value="q1"`},
		"/workers":         {`href="/workers/worker1"`},
		"/workers/worker1": {`href="/jobs/j2"`},
		"/tags":            {`href="/tags/urgent"`},
		"/tags/urgent":     {`href="/jobs/j1"`, `href="/jobs/j2"`},
		"/tracked":         {`href="/jobs/j2"`},
		"/completed":       {`href="/jobs/jc"`},
		"/config":          {"jobs-history"},
	} {
		code, body := get(path)
		if code != 200 {
			t.Errorf("GET %s = %d:\n%s", path, code, body)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: body lacks %q", path, w)
			}
		}
		if strings.Contains(body, "<script>alert") {
			t.Errorf("GET %s: unescaped hostile queue name", path)
		}
	}

	// Metrics from real replies.
	resp := do(t, h, "GET", "/metrics", "")
	m := parseMetrics(t, readBody(t, resp))
	if m[`qless_queue_jobs{queue="q1",state="running"}`] != 1 || m[`qless_queue_paused{queue="<script>alert(1)</script>"}`] != 1 {
		t.Errorf("metrics = %v", m)
	}

	// Actions.
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp := do(t, h, "POST", path, body)
		return resp.StatusCode, decode(t, readBody(t, resp)).(map[string]any)
	}
	for _, tc := range []struct {
		path, body string
		status     int
		want       string
	}{
		{"/api/jobs/j2/priority", "priority=5", 200, "map[jid:j2 priority:5]"},
		{"/api/jobs/j2/untrack", "", 200, "map[changed:true jid:j2 tracked:false]"},
		{"/api/jobs/j2/track", "", 200, "map[changed:true jid:j2 tracked:true]"},
		{"/api/queues/q1/pause", "", 200, "map[paused:true queue:q1]"},
		{"/api/queues/q1/unpause", "", 200, "map[paused:false queue:q1]"},
		{"/api/failed/smtp/unfail?queue=q1&count=1", "", 200, "map[group:smtp queue:q1 unfailed:1]"},
		{"/api/jobs/jsched/cancel", "", 200, "map[canceled:[jsched]]"},
		{"/api/jobs/j2/cancel", "", 400, "map[error:Cancel(): j2 is a dependency of jdep but is not mentioned to be canceled]"},
		{"/api/jobs/nope/track", "", 400, "map[error:Track(): Job does not exist]"},
	} {
		code, v := post(tc.path, tc.body)
		if code != tc.status || fmt.Sprint(v) != tc.want {
			t.Errorf("POST %s = %d %v, want %d %s", tc.path, code, v, tc.status, tc.want)
		}
	}
	if job := getJSON("/api/jobs/j1")["job"].(map[string]any); job["state"] != "waiting" {
		t.Errorf("j1 after unfail: state %v, want waiting", job["state"])
	}
	if code, _ := get("/api/jobs/jsched"); code != http.StatusNotFound {
		t.Errorf("GET canceled job = %d, want 404", code)
	}
}
