package web_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/qless-router/qless-router/core"
)

func TestDashboardPages(t *testing.T) {
	t.Parallel()
	hostileQueue := "/queues/%3Cscript%3Ealert%281%29%3C%2Fscript%3E"
	tests := []struct {
		path  string
		want  []string // substrings of the body
		calls []string
	}{
		{path: "/", calls: []string{"queues", "failed"}, want: []string{
			"Overview", "router <b>r1</b>", "3 s1:1 s2:1", "127.0.0.1:6381",
			`<span class="up">up</span>`, `<span class="down">down</span>`,
			`href="/queues/q1"`, `href="` + hostileQueue + `"`, "&lt;script&gt;alert(1)&lt;/script&gt;",
			`<td class="num warn">1</td>`, `badge paused`, "7 failed jobs in 2 groups",
		}},
		{path: "/queues/q1", calls: []string{"queues q1", "stats q1 " + dayArg, "peek q1 25"}, want: []string{
			"Queue q1", "Owner shard <b>s1</b>", `action="/api/queues/q1/pause"`, "Wait time", "Run time",
			`title="1s: 1"`, `style="height: 100%"`, `title="1m: 1"`, "1.5s", "1m30s",
			"failures 3", `href="/jobs/jw1"`, `href="/jobs/jw2"`, `class="active">waiting</a>`,
			`href="?limit=25&amp;offset=0&amp;state=running"`,
		}},
		{path: "/queues/q1?state=running", calls: []string{"queues q1", "stats q1 " + dayArg, "jobs running q1 0 25", "multiget jr1"}, want: []string{
			`href="/jobs/jr1"`, `href="/workers/w1"`, `class="active">running</a>`,
		}},
		{path: "/queues/q1?state=recurring", calls: []string{"queues q1", "stats q1 " + dayArg, "jobs recurring q1 0 25", "recur.get r1"}, want: []string{
			`href="/jobs/r1"`, "Report", "1h0m0s",
		}},
		{path: hostileQueue, calls: []string{"queues " + hostile, "stats " + hostile + " " + dayArg, "peek " + hostile + " 25"}, want: []string{
			"Queue &lt;script&gt;alert(1)&lt;/script&gt;", "Owner shard <b>s2</b>", "Unpause", "No jobs.",
		}},
		{path: "/jobs/j1", calls: []string{"get j1"}, want: []string{
			"Job j1", "<th>jid</th>", "<th>klass</th>", "<th>state</th>", "<th>queue</th>", "<th>worker</th>",
			"<th>tracked</th>", "<th>priority</th>", "<th>expires</th>", "<th>retries</th>", "<th>remaining</th>",
			"<th>data</th>", "<th>tags</th>", "<th>failure</th>", "<th>spawned_from_jid</th>",
			"<th>dependencies</th>", "<th>dependents</th>",
			"Mailer", "&#34;to&#34;: &#34;a@b&#34;", `href="/tags/urgent"`, `href="/failed/smtp"`, "connection refused",
			`href="/jobs/r1"`, `href="/jobs/j0"`, `href="/jobs/j9"`, "popped", "worker=w1", `detail=&#34;x&#34;`,
			"2023-11-14 22:13:20 UTC", `action="/api/jobs/j1/untrack"`, `action="/api/jobs/j1/cancel"`,
		}},
		{path: "/jobs/r1", calls: []string{"get r1", "recur.get r1"}, want: []string{"recurring job template", "Report", "1h0m0s"}},
		{path: "/failed", calls: []string{"failed"}, want: []string{`href="/failed/smtp"`, `href="/failed/timeout"`, "7 failed jobs"}},
		{path: "/failed/smtp", calls: []string{"failed smtp 0 25", "multiget j1 gone"}, want: []string{
			"2 jobs in this group", `href="/jobs/j1"`, `href="/jobs/gone"`, "no longer exists",
			`action="/api/failed/smtp/unfail"`, `name="queue" size="16" value="q1"`,
		}},
		{path: "/workers", calls: []string{"workers"}, want: []string{`href="/workers/w1"`}},
		{path: "/workers/w1", calls: []string{"workers w1", "multiget jr1 jr2"}, want: []string{"Jobs held (1)", "Stalled (1)", `href="/jobs/jr2"`}},
		{path: "/tags", calls: []string{"tag top 0 25"}, want: []string{`href="/tags/urgent"`, `href="/tags/mail"`}},
		{path: "/tags/urgent", calls: []string{"tag get urgent 0 25", "multiget j1"}, want: []string{"1 jobs tagged", `href="/jobs/j1"`}},
		{path: "/tracked", calls: []string{"track"}, want: []string{`href="/jobs/j1"`, "old1"}},
		{path: "/completed", calls: []string{"jobs complete 0 25", "multiget jc1"}, want: []string{`href="/jobs/jc1"`}},
		{path: "/config", calls: []string{"config.get"}, want: []string{"jobs-history-count", "50000", "&#34;qless&#34;"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			f := standardFake()
			s := newTestServer(t, f, nil)
			resp := do(t, s.Handler(), "GET", tc.path, "")
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200; body:\n%s", tc.path, resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s: body lacks %q", tc.path, w)
				}
			}
			if strings.Contains(body, "<script>alert") {
				t.Errorf("GET %s: body has an unescaped hostile name", tc.path)
			}
			if diff := cmpCalls(tc.calls, f.takeCalls()); diff != "" {
				t.Errorf("qless calls (-want +got):\n%s", diff)
			}
			if t.Failed() {
				t.Logf("body:\n%s", body)
			}
		})
	}
}

// TestDashboardEscapesHostileValues puts markup in every field a page
// shows and checks that none reaches the page unescaped.
func TestDashboardEscapesHostileValues(t *testing.T) {
	t.Parallel()
	const evil = `<img src=x onerror=alert(2)>`
	job := `{"jid":"j1","klass":"` + evil + `","state":"failed","queue":"<script>alert(1)<\/script>","worker":"` + evil + `",` +
		`"tracked":false,"priority":0,"expires":0,"retries":5,"remaining":5,"data":"{\"x\":\"<script>alert(3)<\/script>\"}",` +
		`"tags":["` + evil + `"],"history":[{"when":1700000000,"what":"` + evil + `","q":"<script>alert(1)<\/script>"}],` +
		`"failure":{"group":"` + evil + `","message":"` + evil + `","when":1700000000,"worker":"` + evil + `"},` +
		`"spawned_from_jid":"` + evil + `","dependents":["` + evil + `"],"dependencies":["<b>j</b>"]}`
	f := standardFake()
	f.on("get j1", str(job))
	f.on("multiget j1 gone", str(`[`+job+`]`))
	f.on("failed", str(`{"`+evil+`":1}`))
	f.on("workers", str(`[{"name":"`+evil+`","jobs":1,"stalled":0}]`))
	f.on("tag top 0 25", str(`["`+evil+`"]`))
	f.clusterErr = errors.New(evil)
	s := newTestServer(t, f, nil)
	for _, path := range []string{"/", "/jobs/j1", "/failed", "/failed/smtp", "/workers", "/tags", "/queues/%3Cscript%3E"} {
		f.on("queues <script>", str(`{"name":"<script>","waiting":0,"stalled":0,"running":0,"scheduled":0,"depends":0,"recurring":0,"paused":false}`))
		f.on("stats <script> "+dayArg, str(`{"retries":0,"failed":0,"failures":0,"wait":{"count":0,"mean":0,"std":0,"histogram":`+histogram(nil)+`},"run":{"count":0,"mean":0,"std":0,"histogram":`+histogram(nil)+`}}`))
		f.on("peek <script> 25", str(`[`+job+`]`))
		resp := do(t, s.Handler(), "GET", path, "")
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", path, resp.StatusCode)
		}
		for _, bad := range []string{"<img", "<script>alert", "<b>j</b>"} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s: body contains unescaped %q", path, bad)
			}
		}
		if !strings.Contains(body, "&lt;img src=x onerror=alert(2)&gt;") {
			t.Errorf("GET %s: body lacks the escaped hostile value\n%s", path, body)
		}
	}
}

func TestDashboardErrors(t *testing.T) {
	t.Parallel()
	fanErr := core.NewFanOutError(map[string]error{"s2": errors.New("connection refused")})
	tests := []struct {
		name   string
		path   string
		setup  func(f *fakeBackend)
		status int
		want   []string
	}{
		{name: "missing job", path: "/jobs/missing", status: 404, want: []string{`job &#34;missing&#34; not found`}},
		{name: "fan-out", path: "/workers", setup: func(f *fakeBackend) { f.on("workers", fail(fanErr)) },
			status: 503, want: []string{"Service Unavailable", "did not answer", "<b>s2</b>"}},
		{name: "script error", path: "/tags/x", setup: func(f *fakeBackend) {
			f.on("tag get x 0 25", fail(&core.ScriptError{Text: "ERR x", Message: `Tag(): Arg "tag" missing`}))
		}, status: 400, want: []string{`Tag(): Arg &#34;tag&#34; missing`}},
		{name: "bad state", path: "/queues/q1?state=nope", status: 400, want: []string{"state &#34;nope&#34;"}},
		{name: "bad limit", path: "/failed/smtp?limit=x", status: 400, want: []string{"limit"}},
		{name: "unknown page", path: "/nope", status: 404},
		{
			// The overview still shows the cluster when the fan-outs fail.
			name: "overview with shards down", path: "/",
			setup: func(f *fakeBackend) {
				f.on("queues", fail(fanErr))
				f.on("failed", fail(fanErr))
			},
			status: 200, want: []string{`<span class="down">down</span>`, "shard s2 did not answer: shard s2: connection refused"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := standardFake()
			if tc.setup != nil {
				tc.setup(f)
			}
			s := newTestServer(t, f, nil)
			resp := do(t, s.Handler(), "GET", tc.path, "")
			body := readBody(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s: status %d, want %d; body:\n%s", tc.path, resp.StatusCode, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s: body lacks %q\n%s", tc.path, w, body)
				}
			}
		})
	}
}

func TestDashboardFindJobAndStatic(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, standardFake(), nil)
	resp := do(t, s.Handler(), "GET", "/jobs?jid=a%2Fb", "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/jobs/a%2Fb" {
		t.Errorf("GET /jobs?jid=a/b = %d to %q, want 303 to /jobs/a%%2Fb", resp.StatusCode, resp.Header.Get("Location"))
	}
	for path, ct := range map[string]string{"/static/style.css": "text/css", "/static/app.js": "text/javascript"} {
		resp := do(t, s.Handler(), "GET", path, "")
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) || len(body) < 100 {
			t.Errorf("GET %s = %d %q (%d bytes), want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), ct)
		}
	}
}
