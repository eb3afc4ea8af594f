package web_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/core"
)

// apiJob is jobJSON(jid, ...) as the API returns it: [] for empty lists,
// null for no failure and no parent.
func apiJob(jid, state, queue, worker string) string {
	return fmt.Sprintf(`{"jid":%q,"klass":"Klass","state":%q,"queue":%q,"worker":%q,"tracked":false,`+
		`"priority":0,"expires":0,"retries":5,"remaining":5,"data":"{}","tags":[],`+
		`"history":[{"when":1700000000,"what":"put","q":"q1"}],"failure":null,"spawned_from_jid":null,`+
		`"dependents":[],"dependencies":[]}`, jid, state, queue, worker)
}

// apiRichJob is richJob as the API returns it.
const apiRichJob = `{"jid":"j1","klass":"Mailer","state":"failed","queue":"q1","worker":"","tracked":true,` +
	`"priority":2,"expires":1700000061.9877,"retries":5,"remaining":3,"data":"{\"to\":\"a@b\"}",` +
	`"tags":["urgent","mail"],"history":[{"when":1700000000,"what":"put","q":"q1"},` +
	`{"when":1700000001,"what":"popped","worker":"w1"},{"when":1700000002,"what":"failed","worker":"w1","group":"smtp"},` +
	`{"when":1700000003,"what":"note","detail":"x"}],` +
	`"failure":{"group":"smtp","message":"connection refused","when":1700000002,"worker":"w1"},` +
	`"spawned_from_jid":"r1","dependents":["j9"],"dependencies":["j0"]}`

const apiStats = `{"retries":1,"failed":2,"failures":3,` +
	`"wait":{"count":2,"mean":1.5,"std":0.70710678118655,"histogram":HW},` +
	`"run":{"count":1,"mean":90,"std":0,"histogram":HR}}`

func TestAPIRoutes(t *testing.T) {
	t.Parallel()
	stats := strings.NewReplacer("HW", histogram(map[int]int{1: 1, 2: 1}), "HR", histogram(map[int]int{60: 1})).Replace(apiStats)
	counts := `{"name":"q1","waiting":3,"stalled":1,"running":2,"scheduled":4,"depends":5,"recurring":1,"paused":false}`
	tests := []struct {
		name   string
		method string
		target string
		body   string
		hdr    []string
		setup  func(f *fakeBackend)
		calls  []string
		want   string             // the whole JSON reply, compared decoded
		check  func(v any) string // or a check of parts of it
	}{
		{
			name: "cluster", method: "GET", target: "/api/cluster",
			want: `{"router":"r1","routers":[{"name":"r1","resp":"127.0.0.1:6380","http":"127.0.0.1:8080"},` +
				`{"name":"r2","resp":"127.0.0.1:6381","http":"127.0.0.1:8081"}],` +
				`"shards":[{"name":"s1","healthy":true},{"name":"s2","healthy":false}],"ring":{"epoch":3,"text":"3 s1:1 s2:1"},"cross_shard":{"delivered":3,"failures":1,"moves":4}}`,
		},
		{
			name: "locate", method: "GET", target: "/api/locate?queue=" + "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
			want: `{"queue":"<script>alert(1)</script>","shard":"s2"}`,
		},
		{
			name: "queues", method: "GET", target: "/api/queues", calls: []string{"queues"},
			want: `[{"name":"q1","waiting":3,"stalled":1,"running":2,"scheduled":4,"depends":5,"recurring":1,"paused":false,"shard":"s1"},` +
				`{"name":"<script>alert(1)</script>","waiting":0,"stalled":0,"running":0,"scheduled":0,"depends":0,"recurring":0,"paused":true,"shard":"s2"}]`,
		},
		{
			name: "queues empty", method: "GET", target: "/api/queues", calls: []string{"queues"},
			setup: func(f *fakeBackend) { f.on("queues", str("{}")) },
			want:  `[]`,
		},
		{
			name: "queue one state", method: "GET", target: "/api/queues/q1?state=running",
			calls: []string{"queues q1", "stats q1 " + dayArg, "jobs running q1 0 25", "multiget jr1"},
			want: `{"name":"q1","shard":"s1","counts":` + counts + `,"day":1699920000,"stats":` + stats +
				`,"jobs":{"running":{"state":"running","offset":0,"limit":25,"jids":["jr1"],"jobs":[` + apiJob("jr1", "running", "q1", "w1") + `]}}}`,
		},
		{
			name: "queue all states", method: "GET", target: "/api/queues/q1",
			calls: []string{"queues q1", "stats q1 " + dayArg, "peek q1 25", "jobs running q1 0 25", "multiget jr1",
				"jobs stalled q1 0 25", "jobs scheduled q1 0 25", "multiget js1", "jobs depends q1 0 25",
				"jobs recurring q1 0 25", "recur.get r1"},
			check: func(v any) string {
				jobs := v.(map[string]any)["jobs"].(map[string]any)
				var got []string
				for _, st := range []string{"waiting", "running", "stalled", "scheduled", "depends", "recurring"} {
					l, ok := jobs[st].(map[string]any)
					if !ok {
						return "no listing of " + st
					}
					got = append(got, fmt.Sprintf("%s=%v", st, l["jids"]))
				}
				want := "waiting=[jw1 jw2] running=[jr1] stalled=[] scheduled=[js1] depends=[] recurring=[r1]"
				if g := strings.Join(got, " "); g != want {
					return fmt.Sprintf("listings = %s, want %s", g, want)
				}
				rec := jobs["recurring"].(map[string]any)["recurring"].([]any)
				if len(rec) != 1 || rec[0].(map[string]any)["klass"] != "Report" {
					return fmt.Sprintf("recurring templates = %v", rec)
				}
				return ""
			},
		},
		{
			name: "queue waiting paged", method: "GET", target: "/api/queues/q1?state=waiting&offset=1&limit=1",
			setup: func(f *fakeBackend) {
				f.on("peek q1 2", str(`[`+jobJSON("jw1", "Klass", "waiting", "q1", "")+`,`+jobJSON("jw2", "Klass", "waiting", "q1", "")+`]`))
			},
			calls: []string{"queues q1", "stats q1 " + dayArg, "peek q1 2"},
			check: func(v any) string {
				l := v.(map[string]any)["jobs"].(map[string]any)["waiting"].(map[string]any)
				if fmt.Sprint(l["jids"]) != "[jw2]" || l["offset"] != 1.0 || l["limit"] != 1.0 {
					return fmt.Sprintf("waiting listing = %v", l)
				}
				return ""
			},
		},
		{
			name: "job", method: "GET", target: "/api/jobs/j1", calls: []string{"get j1"},
			want: `{"kind":"job","job":` + apiRichJob + `}`,
		},
		{
			name: "recurring job", method: "GET", target: "/api/jobs/r1", calls: []string{"get r1", "recur.get r1"},
			want: `{"kind":"recurring","recurring":{"jid":"r1","klass":"Report","state":"recur","queue":"q1","data":"{}",` +
				`"priority":1,"interval":3600,"retries":0,"count":4,"backlog":0,"tags":[]}}`,
		},
		{
			name: "completed", method: "GET", target: "/api/completed", calls: []string{"jobs complete 0 25", "multiget jc1"},
			want: `{"offset":0,"limit":25,"jids":["jc1"],"jobs":[` + apiJob("jc1", "complete", "", "") + `]}`,
		},
		{
			name: "failed groups", method: "GET", target: "/api/failed", calls: []string{"failed"},
			want: `{"total":7,"groups":[{"group":"timeout","count":5},{"group":"smtp","count":2}]}`,
		},
		{
			name: "failed groups empty", method: "GET", target: "/api/failed", calls: []string{"failed"},
			setup: func(f *fakeBackend) { f.on("failed", str("{}")) },
			want:  `{"total":0,"groups":[]}`,
		},
		{
			name: "failed group paged", method: "GET", target: "/api/failed/g?offset=5&limit=10",
			setup: func(f *fakeBackend) { f.on("failed g 5 10", str(`{"total":3,"jobs":{}}`)) },
			calls: []string{"failed g 5 10"},
			want:  `{"group":"g","total":3,"offset":5,"limit":10,"jids":[],"jobs":[]}`,
		},
		{
			name: "failed group", method: "GET", target: "/api/failed/smtp", calls: []string{"failed smtp 0 25", "multiget j1 gone"},
			want: `{"group":"smtp","total":2,"offset":0,"limit":25,"jids":["j1","gone"],"jobs":[` + apiRichJob + `]}`,
		},
		{
			name: "workers", method: "GET", target: "/api/workers", calls: []string{"workers"},
			want: `[{"name":"w1","jobs":1,"stalled":1}]`,
		},
		{
			name: "worker", method: "GET", target: "/api/workers/w1", calls: []string{"workers w1", "multiget jr1 jr2"},
			want: `{"name":"w1","jobs":{"jids":["jr1"],"jobs":[` + apiJob("jr1", "running", "q1", "w1") + `]},` +
				`"stalled":{"jids":["jr2"],"jobs":[` + apiJob("jr2", "running", "q1", "w1") + `]}}`,
		},
		{
			name: "tags top", method: "GET", target: "/api/tags/top", calls: []string{"tag top 0 25"},
			want: `{"offset":0,"limit":25,"tags":["urgent","mail"]}`,
		},
		{
			name: "tags top paged", method: "GET", target: "/api/tags/top?offset=2&limit=3",
			setup: func(f *fakeBackend) { f.on("tag top 2 3", str("{}")) },
			calls: []string{"tag top 2 3"},
			want:  `{"offset":2,"limit":3,"tags":[]}`,
		},
		{
			name: "tag", method: "GET", target: "/api/tags/urgent", calls: []string{"tag get urgent 0 25", "multiget j1"},
			want: `{"tag":"urgent","total":1,"offset":0,"limit":25,"jids":["j1"],"jobs":[` + apiRichJob + `]}`,
		},
		{
			name: "tracked", method: "GET", target: "/api/tracked", calls: []string{"track"},
			want: `{"jobs":[` + apiRichJob + `],"expired":["old1"]}`,
		},
		{
			name: "tracked empty", method: "GET", target: "/api/tracked", calls: []string{"track"},
			setup: func(f *fakeBackend) { f.on("track", str(`{"jobs":{},"expired":{}}`)) },
			want:  `{"jobs":[],"expired":[]}`,
		},
		{
			name: "config", method: "GET", target: "/api/config", calls: []string{"config.get"},
			want: `{"application":"qless","heartbeat":60,"grace-period":10,"jobs-history":604800,"jobs-history-count":50000,"stats-history":30,"histogram-history":7}`,
		},
		{
			name: "cancel", method: "POST", target: "/api/jobs/j1/cancel", calls: []string{"cancel j1"},
			want: `{"canceled":["j1"]}`,
		},
		{
			name: "track", method: "POST", target: "/api/jobs/j1/track", calls: []string{"track track j1"},
			want: `{"jid":"j1","tracked":true,"changed":true}`,
		},
		{
			name: "untrack", method: "POST", target: "/api/jobs/j1/untrack", calls: []string{"track untrack j1"},
			want: `{"jid":"j1","tracked":false,"changed":false}`,
		},
		{
			name: "priority form", method: "POST", target: "/api/jobs/j1/priority", body: "priority=7",
			calls: []string{"priority j1 7"}, want: `{"jid":"j1","priority":7}`,
		},
		{
			name: "priority query", method: "POST", target: "/api/jobs/j1/priority?priority=7",
			calls: []string{"priority j1 7"}, want: `{"jid":"j1","priority":7}`,
		},
		{
			name: "priority json", method: "POST", target: "/api/jobs/j1/priority", body: `{"priority": 7}`,
			hdr:   []string{"Content-Type", "application/json"},
			calls: []string{"priority j1 7"}, want: `{"jid":"j1","priority":7}`,
		},
		{
			name: "pause", method: "POST", target: "/api/queues/q1/pause", calls: []string{"pause q1"},
			want: `{"queue":"q1","paused":true}`,
		},
		{
			name: "unpause", method: "POST", target: "/api/queues/q1/unpause", calls: []string{"unpause q1"},
			want: `{"queue":"q1","paused":false}`,
		},
		{
			name: "unfail", method: "POST", target: "/api/failed/smtp/unfail?queue=q1&count=3", calls: []string{"unfail q1 smtp 3"},
			want: `{"group":"smtp","queue":"q1","unfailed":2}`,
		},
		{
			name: "unfail form", method: "POST", target: "/api/failed/smtp/unfail", body: "queue=q1&count=3", calls: []string{"unfail q1 smtp 3"},
			want: `{"group":"smtp","queue":"q1","unfailed":2}`,
		},
		{
			name: "escaped path segment", method: "GET", target: "/api/queues/a%2Fb?state=depends",
			setup: func(f *fakeBackend) {
				f.on("queues a/b", str(`{"name":"a/b","waiting":0,"stalled":0,"running":0,"scheduled":0,"depends":0,"recurring":0,"paused":false}`))
				f.on("stats a/b "+dayArg, str(`{"retries":0,"failed":0,"failures":0,"wait":{"count":0,"mean":0,"std":0,"histogram":`+histogram(nil)+`},"run":{"count":0,"mean":0,"std":0,"histogram":`+histogram(nil)+`}}`))
				f.on("jobs depends a/b 0 25", arr())
			},
			calls: []string{"queues a/b", "stats a/b " + dayArg, "jobs depends a/b 0 25"},
			check: func(v any) string {
				m := v.(map[string]any)
				if m["name"] != "a/b" {
					return fmt.Sprintf("name = %v, want a/b", m["name"])
				}
				h := m["stats"].(map[string]any)["wait"].(map[string]any)["histogram"].([]any)
				if len(h) != core.HistogramSize {
					return fmt.Sprintf("histogram has %d buckets, want %d", len(h), core.HistogramSize)
				}
				return ""
			},
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
			resp := do(t, s.Handler(), tc.method, tc.target, tc.body, tc.hdr...)
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: status %d, want 200; body %s", tc.method, tc.target, resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if diff := cmp.Diff(tc.calls, f.takeCalls(), cmpEmpty); diff != "" {
				t.Errorf("qless calls (-want +got):\n%s", diff)
			}
			for _, n := range f.takeNows() {
				if n != nowArg {
					t.Errorf("now = %q, want %q", n, nowArg)
				}
			}
			got := decode(t, body)
			if tc.want != "" {
				if diff := cmp.Diff(decode(t, tc.want), got); diff != "" {
					t.Errorf("reply (-want +got):\n%s\nbody: %s", diff, body)
				}
			}
			if tc.check != nil {
				if msg := tc.check(got); msg != "" {
					t.Errorf("%s\nbody: %s", msg, body)
				}
			}
		})
	}
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmp.Transformer("empty", func(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
})

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	scriptErr := &core.ScriptError{
		Text:    "ERR user_script:1: Cancel(): j1 is a dependency of j9 but is not mentioned to be canceled script: 0123456789012345678901234567890123456789, on @user_script:1.",
		Message: "Cancel(): j1 is a dependency of j9 but is not mentioned to be canceled",
	}
	fanErr := core.NewFanOutError(map[string]error{"s2": errors.New("connection refused")})
	shardErr := &core.ShardError{Shard: "s1", Err: core.ErrShardDown}
	tests := []struct {
		name       string
		method     string
		target     string
		body       string
		setup      func(f *fakeBackend)
		status     int
		wantErr    string // substring of "error"
		wantShards []string
		calls      []string
	}{
		{name: "script error", method: "POST", target: "/api/jobs/j1/cancel",
			setup:  func(f *fakeBackend) { f.on("cancel j1", fail(scriptErr)) },
			status: 400, wantErr: "Cancel(): j1 is a dependency of j9 but is not mentioned to be canceled", calls: []string{"cancel j1"}},
		{name: "script error on read", method: "GET", target: "/api/tags/x?offset=0",
			setup: func(f *fakeBackend) {
				f.on("tag get x 0 25", fail(&core.ScriptError{Text: "ERR boom", Message: `Tag(): Arg "offset" not a number: x`}))
			},
			status: 400, wantErr: `Tag(): Arg "offset" not a number: x`, calls: []string{"tag get x 0 25"}},
		{name: "fan-out error", method: "GET", target: "/api/workers",
			setup:  func(f *fakeBackend) { f.on("workers", fail(fanErr)) },
			status: 503, wantErr: "shard s2 did not answer", wantShards: []string{"s2"}, calls: []string{"workers"}},
		{name: "shard error", method: "GET", target: "/api/queues/q1?state=running",
			setup:  func(f *fakeBackend) { f.on("queues q1", fail(shardErr)) },
			status: 503, wantErr: "shard s1: shard down", wantShards: []string{"s1"}, calls: []string{"queues q1"}},
		{name: "fan-out error in multiget", method: "GET", target: "/api/failed/smtp",
			setup:  func(f *fakeBackend) { f.on("multiget j1 gone", fail(fanErr)) },
			status: 503, wantErr: "s2", wantShards: []string{"s2"}, calls: []string{"failed smtp 0 25", "multiget j1 gone"}},
		{name: "missing job", method: "GET", target: "/api/jobs/missing",
			status: 404, wantErr: `job "missing" not found`, calls: []string{"get missing", "recur.get missing"}},
		{name: "bad reply", method: "GET", target: "/api/jobs/j1",
			setup:  func(f *fakeBackend) { f.on("get j1", num(3)) },
			status: 502, wantErr: "unexpected reply to get", calls: []string{"get j1"}},
		{name: "bad state", method: "GET", target: "/api/queues/q1?state=bogus", status: 400, wantErr: `state "bogus"`},
		{name: "bad limit", method: "GET", target: "/api/failed/g?limit=0", status: 400, wantErr: "limit"},
		{name: "huge limit", method: "GET", target: "/api/failed/g?limit=100000", status: 400, wantErr: "limit"},
		{name: "waiting too deep", method: "GET", target: "/api/queues/q1?state=waiting&offset=4990&limit=20", status: 400, wantErr: "peek"},
		{name: "bad offset", method: "GET", target: "/api/tags/top?offset=-1", status: 400, wantErr: "offset"},
		{name: "no locate queue", method: "GET", target: "/api/locate", status: 400, wantErr: "queue is missing"},
		{name: "bad priority", method: "POST", target: "/api/jobs/j1/priority", body: "priority=high", status: 400, wantErr: "not a number"},
		{name: "no priority", method: "POST", target: "/api/jobs/j1/priority", status: 400, wantErr: "priority is missing"},
		{name: "unfail without queue", method: "POST", target: "/api/failed/smtp/unfail", status: 400, wantErr: "queue is missing"},
		{name: "unfail bad count", method: "POST", target: "/api/failed/smtp/unfail?queue=q1&count=0", status: 400, wantErr: "count"},
		{name: "unknown route", method: "GET", target: "/api/nope", status: 404, wantErr: "no such API route"},
		{name: "cluster error", method: "GET", target: "/api/cluster",
			setup:  func(f *fakeBackend) { f.clusterErr = core.ErrNoShards },
			status: 503, wantErr: "no shards"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := standardFake()
			if tc.setup != nil {
				tc.setup(f)
			}
			s := newTestServer(t, f, nil)
			resp := do(t, s.Handler(), tc.method, tc.target, tc.body)
			body := readBody(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", tc.method, tc.target, resp.StatusCode, tc.status, body)
			}
			var got struct {
				Error  string   `json:"error"`
				Shards []string `json:"shards"`
			}
			if err := jsonUnmarshal(body, &got); err != nil {
				t.Fatalf("error body is not JSON: %v: %s", err, body)
			}
			if !strings.Contains(got.Error, tc.wantErr) {
				t.Errorf("error = %q, want it to contain %q", got.Error, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantShards, got.Shards); diff != "" {
				t.Errorf("shards (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.calls, f.takeCalls(), cmpEmpty); diff != "" {
				t.Errorf("qless calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIMethodNotAllowed(t *testing.T) {
	t.Parallel()
	f := standardFake()
	s := newTestServer(t, f, nil)
	for _, tc := range []struct{ method, target string }{
		{"GET", "/api/jobs/j1/cancel"},
		{"POST", "/api/queues"},
		{"DELETE", "/api/jobs/j1"},
	} {
		resp := do(t, s.Handler(), tc.method, tc.target, "")
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d, want 405", tc.method, tc.target, resp.StatusCode)
		}
	}
	if calls := f.takeCalls(); len(calls) != 0 {
		t.Errorf("qless calls = %q, want none", calls)
	}
}
