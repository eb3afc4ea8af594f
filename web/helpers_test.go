package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/web"
)

// testNow is the fake clock's time: `now` of every qless call is
// "1700000000.500000", today's stats day is 1699920000.
var testNow = time.Unix(1700000000, 500000000)

const (
	nowArg = "1700000000.500000"
	dayArg = "1699920000"
)

// reply is a canned answer of the fake backend.
type reply struct {
	rep core.Reply
	err error
}

func str(s string) reply    { return reply{rep: core.StringReply(s)} }
func num(n int64) reply     { return reply{rep: core.IntReply(n)} }
func arr(a ...string) reply { return reply{rep: core.ArrayReply(a)} }
func nilReply() reply       { return reply{rep: core.NilReply()} }
func fail(err error) reply  { return reply{err: err} }

// fakeBackend answers qless calls from canned replies keyed by the call's
// arguments without `now` ("get j1"), or by the command name alone, and
// records every call. Safe for concurrent use.
type fakeBackend struct {
	mu         sync.Mutex
	replies    map[string]reply
	calls      [][]string
	nows       []string
	cluster    web.Cluster
	clusterErr error
	owners     map[string]string
}

func newFake() *fakeBackend {
	return &fakeBackend{
		replies: make(map[string]reply),
		owners:  make(map[string]string),
		cluster: web.Cluster{
			Router:     "r1",
			Routers:    []web.RouterInfo{{Name: "r1", RESPAddr: "127.0.0.1:6380", HTTPAddr: "127.0.0.1:8080"}, {Name: "r2", RESPAddr: "127.0.0.1:6381", HTTPAddr: "127.0.0.1:8081"}},
			Shards:     []web.ShardInfo{{Name: "s1", Healthy: true}, {Name: "s2", Healthy: false}},
			Ring:       web.RingInfo{Epoch: 3, Text: "3 s1:1 s2:1"},
			CrossShard: map[string]int64{"moves": 4, "delivered": 3, "failures": 1},
		},
	}
}

// on sets the reply of a call given as its arguments without now.
func (f *fakeBackend) on(call string, r reply) *fakeBackend {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[call] = r
	return f
}

func (f *fakeBackend) Qless(ctx context.Context, args []string) (core.Reply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(args) < 2 {
		return core.Reply{}, fmt.Errorf("fake: call without now: %q", args)
	}
	call := append([]string{args[0]}, args[2:]...)
	f.calls = append(f.calls, call)
	f.nows = append(f.nows, args[1])
	if r, ok := f.replies[strings.Join(call, " ")]; ok {
		return r.rep, r.err
	}
	if r, ok := f.replies[args[0]]; ok {
		return r.rep, r.err
	}
	return core.Reply{}, fmt.Errorf("fake: unexpected call %q", call)
}

func (f *fakeBackend) Cluster(ctx context.Context) (web.Cluster, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cluster, f.clusterErr
}

func (f *fakeBackend) Locate(queue string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.owners[queue]; ok {
		return s, nil
	}
	return "s1", nil
}

// takeCalls returns the calls recorded so far, joined with spaces, and
// forgets them.
func (f *fakeBackend) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = strings.Join(c, " ")
	}
	f.calls = nil
	return out
}

func (f *fakeBackend) takeNows() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.nows
	f.nows = nil
	return n
}

// newTestServer builds a Server over f with a fake clock.
func newTestServer(t *testing.T, f *fakeBackend, mod func(*web.Config)) *web.Server {
	t.Helper()
	cfg := web.DefaultLocalConfig()
	cfg.Clock = core.NewFakeClock(testNow)
	if mod != nil {
		mod(&cfg)
	}
	s, err := web.New(cfg, f)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	return s
}

// do serves one request through the handler and returns the response.
func do(t *testing.T, h http.Handler, method, target, body string, hdr ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

// decode parses a JSON body into generic values.
func decode(t *testing.T, body string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	return v
}

// jobJSON is a job as qless's get/multiget/peek encode it (spec 2.2): 17
// keys, {} for empty lists and no failure, false for no parent.
func jobJSON(jid, klass, state, queue, worker string) string {
	return fmt.Sprintf(`{"jid":%q,"klass":%q,"state":%q,"queue":%q,"worker":%q,"tracked":false,`+
		`"priority":0,"expires":0,"retries":5,"remaining":5,"data":"{}","tags":{},`+
		`"history":[{"when":1700000000,"what":"put","q":"q1"}],"failure":{},"spawned_from_jid":false,`+
		`"dependents":{},"dependencies":{}}`, jid, klass, state, queue, worker)
}

// richJob is a failed, tracked job with every field set.
const richJob = `{"jid":"j1","klass":"Mailer","state":"failed","queue":"q1","worker":"","tracked":true,` +
	`"priority":2,"expires":1700000061.9877,"retries":5,"remaining":3,"data":"{\"to\":\"a@b\"}",` +
	`"tags":["urgent","mail"],"history":[{"when":1700000000,"what":"put","q":"q1"},` +
	`{"when":1700000001,"what":"popped","worker":"w1"},{"when":1700000002,"what":"failed","worker":"w1","group":"smtp"},` +
	`{"when":1700000003,"what":"note","detail":"x"}],` +
	`"failure":{"group":"smtp","message":"connection refused","when":1700000002,"worker":"w1"},` +
	`"spawned_from_jid":"r1","dependents":["j9"],"dependencies":["j0"]}`

// recurJSON is a recurring job template as recur.get encodes it (spec 2.5).
const recurJSON = `{"jid":"r1","klass":"Report","state":"recur","queue":"q1","data":"{}","priority":1,` +
	`"interval":3600,"retries":0,"count":4,"backlog":0,"tags":{}}`

// histogram returns a stats histogram of 148 buckets with counts at the
// given positions.
func histogram(at map[int]int) string {
	h := make([]int, core.HistogramSize)
	for i, n := range at {
		h[i] = n
	}
	b, _ := json.Marshal(h)
	return string(b)
}

// hostile is a queue name that must never reach a page unescaped.
const hostile = `<script>alert(1)</script>`

// standardFake is a fake backend with replies for every route of the API
// and the dashboard.
func standardFake() *fakeBackend {
	f := newFake()
	f.owners["q1"] = "s1"
	f.owners[hostile] = "s2"
	f.on("queues", str(`[{"name":"q1","waiting":3,"stalled":1,"running":2,"scheduled":4,"depends":5,"recurring":1,"paused":false},`+
		`{"name":"<script>alert(1)<\/script>","waiting":0,"stalled":0,"running":0,"scheduled":0,"depends":0,"recurring":0,"paused":true}]`))
	counts := `{"name":"q1","waiting":3,"stalled":1,"running":2,"scheduled":4,"depends":5,"recurring":1,"paused":false}`
	f.on("queues q1", str(counts))
	f.on("queues "+hostile, str(`{"name":"<script>alert(1)<\/script>","waiting":0,"stalled":0,"running":0,"scheduled":0,"depends":0,"recurring":0,"paused":true}`))
	stats := `{"retries":1,"failed":2,"failures":3,` +
		`"wait":{"count":2,"mean":1.5,"std":0.70710678118655,"histogram":` + histogram(map[int]int{1: 1, 2: 1}) + `},` +
		`"run":{"count":1,"mean":90,"std":0,"histogram":` + histogram(map[int]int{60: 1}) + `}}`
	f.on("stats q1 "+dayArg, str(stats))
	f.on("stats "+hostile+" "+dayArg, str(`{"retries":0,"failed":0,"failures":0,"wait":{"count":0,"mean":0,"std":0,"histogram":`+histogram(nil)+`},"run":{"count":0,"mean":0,"std":0,"histogram":`+histogram(nil)+`}}`))
	f.on("peek q1 25", str(`[`+jobJSON("jw1", "Klass", "waiting", "q1", "")+`,`+jobJSON("jw2", "Klass", "waiting", "q1", "")+`]`))
	f.on("peek "+hostile+" 25", str(`{}`))
	f.on("jobs running q1 0 25", arr("jr1"))
	f.on("jobs stalled q1 0 25", arr())
	f.on("jobs scheduled q1 0 25", arr("js1"))
	f.on("jobs depends q1 0 25", arr())
	f.on("jobs recurring q1 0 25", arr("r1"))
	f.on("multiget jr1", str(`[`+jobJSON("jr1", "Klass", "running", "q1", "w1")+`]`))
	f.on("multiget js1", str(`[`+jobJSON("js1", "Klass", "scheduled", "q1", "")+`]`))
	f.on("get j1", str(richJob))
	f.on("get r1", nilReply())
	f.on("recur.get r1", str(recurJSON))
	f.on("get missing", nilReply())
	f.on("recur.get missing", nilReply())
	f.on("failed", str(`{"smtp":2,"timeout":5}`))
	f.on("failed smtp 0 25", str(`{"total":2,"jobs":["j1","gone"]}`))
	f.on("multiget j1 gone", str(`[`+richJob+`]`))
	f.on("workers", str(`[{"name":"w1","jobs":1,"stalled":1}]`))
	f.on("workers w1", str(`{"jobs":["jr1"],"stalled":["jr2"]}`))
	f.on("multiget jr1 jr2", str(`[`+jobJSON("jr1", "Klass", "running", "q1", "w1")+`,`+jobJSON("jr2", "Klass", "running", "q1", "w1")+`]`))
	f.on("tag top 0 25", str(`["urgent","mail"]`))
	f.on("tag get urgent 0 25", str(`{"total":1,"jobs":["j1"]}`))
	f.on("multiget j1", str(`[`+richJob+`]`))
	f.on("track", str(`{"jobs":[`+richJob+`],"expired":["old1"]}`))
	f.on("config.get", str(`{"application":"qless","heartbeat":60,"grace-period":10,"jobs-history":604800,"jobs-history-count":50000,"stats-history":30,"histogram-history":7}`))
	f.on("jobs complete 0 25", arr("jc1"))
	f.on("multiget jc1", str(`[`+jobJSON("jc1", "Klass", "complete", "", "")+`]`))
	f.on("cancel j1", arr("j1"))
	f.on("track track j1", str("1"))
	f.on("track untrack j1", str("0"))
	f.on("priority j1 7", num(7))
	f.on("pause q1", nilReply())
	f.on("unpause q1", nilReply())
	f.on("unfail q1 smtp 3", num(2))
	return f
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// cmpCalls diffs qless calls, treating nil and empty alike.
func cmpCalls(want, got []string) string { return cmp.Diff(want, got, cmpEmpty) }

// cmpJSON diffs two JSON texts by value.
func cmpJSON(t *testing.T, want, got string) string {
	t.Helper()
	return cmp.Diff(decode(t, want), decode(t, got))
}
