package lua

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func decodeJSON(t *testing.T, text string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("JSON %q: %v", text, err)
	}
	return v
}

func TestDependencies(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		q.str("put", "1", "w", "q", "a", "K", "{}", "0")
		q.str("put", "1", "w", "q", "b", "K", "{}", "5", "depends", `["a","missing"]`)
		q.str("put", "1", "w", "q", "c", "K", "{}", "0", "depends", `["a"]`)
		if got := jobOf(t, q.str("get", "2", "b"))["state"]; got != "depends" {
			t.Fatalf("b state = %v, want depends", got)
		}
		if got := q.fails("cancel", "2", "a"); got != "Cancel(): a is a dependency of b but is not mentioned to be canceled" &&
			got != "Cancel(): a is a dependency of c but is not mentioned to be canceled" {
			t.Errorf("cancel a: %q", got)
		}
		if got := q.fails("depends", "2", "a", "on", "b"); got != "Depends(): Job a not in the depends state: waiting" {
			t.Errorf("depends on a waiting job: %q", got)
		}
		// c is released by hand, b when a completes (into scheduled: it had a delay).
		if q.int("depends", "3", "c", "off", "a") != 1 {
			t.Errorf("depends off != 1")
		}
		if got := jobOf(t, q.str("get", "3", "c"))["state"]; got != "waiting" {
			t.Errorf("c state = %v, want waiting", got)
		}
		q.str("pop", "4", "q", "w", "1") // c was put later but a pops first (earlier time)
		if got := q.str("complete", "5", "a", "w", "q", "{}"); got != "complete" {
			t.Fatalf("complete a = %q", got)
		}
		braw := q.str("get", "6", "b")
		if b := jobOf(t, braw); b["state"] != "scheduled" || !strings.Contains(braw, `"dependencies":{}`) {
			t.Errorf("b after a completed = %s", braw)
		}
		if got := q.list("ZRANGE", "ql:q:q-scheduled", "0", "-1"); len(got) != 1 || got[0] != "b" {
			t.Errorf("scheduled = %q", got)
		}
		// complete with next and depends (6.6).
		q.str("put", "7", "w", "q", "d", "K", "{}", "0")
		q.str("put", "7", "w", "q", "e", "K", "{}", "0")
		popped := q.str("pop", "8", "q", "w", "5")
		if !strings.Contains(popped, `"jid":"d"`) {
			t.Fatalf("pop = %s", popped)
		}
		if got := q.str("complete", "9", "d", "w", "q", "{}", "next", "q2", "depends", `["e"]`, "delay", "10"); got != "depends" {
			t.Errorf("complete with depends = %q", got)
		}
		if got := q.str("complete", "9", "e", "w", "q", "{}", "next", "q2", "delay", "10"); got != "scheduled" {
			t.Errorf("complete with delay = %q", got)
		}
		e := jobOf(t, q.str("get", "9", "e"))
		if e["state"] != "waiting" || e["queue"] != "q2" {
			t.Errorf("e = %v, want state waiting (quirk 16.7) in q2", e)
		}
	})
}

func TestRecurring(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		if got := q.str("recur", "0", "q", "r", "K", `{"x":1}`, "interval", "60", "0",
			"tags", `["t1"]`, "backlog", "1"); got != "r" {
			t.Fatalf("recur = %q", got)
		}
		want := map[string]any{"jid": "r", "klass": "K", "state": "recur", "queue": "q", "data": `{"x":1}`,
			"priority": 0.0, "interval": 60.0, "retries": 0.0, "count": 0.0, "backlog": 1.0, "tags": []any{"t1"}}
		if diff := cmp.Diff(want, decodeJSON(t, q.str("recur.get", "1", "r"))); diff != "" {
			t.Errorf("recur.get (-want +got):\n%s", diff)
		}
		// Popped at 600 with backlog 1: exactly the instances due at 540 and 600.
		var jobs []map[string]any
		if err := json.Unmarshal([]byte(q.str("pop", "600", "q", "w", "10")), &jobs); err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 2 || jobs[0]["jid"] != "r-1" || jobs[1]["jid"] != "r-2" || jobs[0]["spawned_from_jid"] != "r" {
			t.Fatalf("pop spawned %v", jobs)
		}
		h := jobs[0]["history"].([]any)[0].(map[string]any)
		if h["when"] != 540.0 || h["q"] != "q" {
			t.Errorf("r-1 put history = %v, want when 540", h)
		}
		if got := q.str("tag", "601", "get", "t1"); got != `{"total":2,"jobs":["r-1","r-2"]}` {
			t.Errorf("tag get t1 = %s", got)
		}
		if got := q.int("recur.update", "601", "r", "interval", "30", "priority", "2", "queue", "q2"); got != 1 {
			t.Errorf("recur.update = %d", got)
		}
		if got, _ := q.redis("ZSCORE", "ql:q:q2-recur", "r").ToString(); got != "630" {
			t.Errorf("next due after interval 60->30 = %s, want 630", got)
		}
		if got := q.fails("recur.update", "601", "r", "priority", "x"); got != `Recur(): Arg "priority" must be a number: x` {
			t.Errorf("bad priority: %q", got)
		}
		if got := q.str("recur.tag", "601", "r", "t2", "t2"); got != `["t1","t2","t2"]` {
			t.Errorf("recur.tag = %s", got)
		}
		if got := q.str("recur.untag", "601", "r", "t2", "t1"); got != `{}` {
			t.Errorf("recur.untag = %s", got)
		}
		if got := q.evalList("jobs", "601", "recurring", "q2"); len(got) != 1 || got[0] != "r" {
			t.Errorf("jobs recurring q2 = %q", got)
		}
		if q.int("unrecur", "602", "r") != 1 || !q.isNil("recur.get", "602", "r") {
			t.Errorf("unrecur did not remove the template")
		}
		if got := q.fails("recur", "1", "q", "r", "K", "{}", "cron", "60", "0"); got != `Recur(): schedule type "cron" unknown` {
			t.Errorf("recur cron: %q", got)
		}
	})
}

func TestFailuresAndListings(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		for _, j := range []string{"a", "b", "c"} {
			q.str("put", "1", "w", "q", "j"+j, "K", "{}", "0", "tags", `["x","y"]`)
		}
		q.str("pop", "2", "q", "w", "3")
		q.str("fail", "3", "ja", "w", "boom", "it broke", `{"k":[]}`)
		q.str("fail", "4", "jb", "w", "boom", "again")
		if got := q.str("failed", "5"); got != `{"boom":2}` {
			t.Errorf("failed = %s", got)
		}
		if got := q.str("failed", "5", "boom", "0", "1"); got != `{"total":2,"jobs":["jb"]}` {
			t.Errorf("failed boom = %s", got)
		}
		ja := jobOf(t, q.str("get", "5", "ja"))
		if ja["data"] != `{"k":{}}` || ja["expires"] != 0.0 {
			t.Errorf("failed job = %v (data re-encoded, expires empty->0)", ja)
		}
		if got := q.int("retry", "6", "jc", "q", "w", "0", "grp", "msg"); got != 4 {
			t.Errorf("retry = %d", got)
		}
		if got := q.int("unfail", "7", "q", "boom", "10"); got != 2 {
			t.Errorf("unfail = %d", got)
		}
		if got := q.str("failed", "8"); got != `{}` {
			t.Errorf("failed after unfail = %s", got)
		}
		if got := q.int("length", "8", "q"); got != 3 {
			t.Errorf("length = %d", got)
		}
		qs := decodeJSON(t, q.str("queues", "8", "q"))
		if diff := cmp.Diff(map[string]any{"name": "q", "waiting": 3.0, "stalled": 0.0, "running": 0.0,
			"scheduled": 0.0, "depends": 0.0, "recurring": 0.0, "paused": false}, qs); diff != "" {
			t.Errorf("queues q (-want +got):\n%s", diff)
		}
		q.isNil("pause", "8", "q")
		if got := q.str("pop", "9", "q", "w", "1"); got != "{}" {
			t.Errorf("pop of a paused queue = %s", got)
		}
		q.isNil("unpause", "9", "q")
		if got := q.evalList("jobs", "9", "running", "q"); len(got) != 0 {
			t.Errorf("jobs running = %q", got)
		}
		if got := q.str("tag", "9", "top"); got != `["x","y"]` && got != `["y","x"]` {
			t.Errorf("tag top = %s", got)
		}
		if got := q.str("tag", "9", "add", "ja", "z", "x"); got != `["x","y","z"]` {
			t.Errorf("tag add = %s", got)
		}
		if got := q.str("tag", "9", "remove", "ja", "x", "nope"); got != `["y","z"]` {
			t.Errorf("tag remove = %s", got)
		}
		if got := q.str("track", "9", "track", "ja"); got != "1" {
			t.Errorf("track = %s", got)
		}
		tr := decodeJSON(t, q.str("track", "9")).(map[string]any)
		if len(tr["jobs"].([]any)) != 1 || tr["expired"] == nil {
			t.Errorf("track listing = %v", tr)
		}
		q.str("pop", "10", "q", "w2", "1")
		ws := decodeJSON(t, q.str("workers", "11")).([]any)
		if len(ws) != 2 || ws[0].(map[string]any)["name"] != "w2" {
			t.Errorf("workers = %v", ws)
		}
		if got := q.str("workers", "11", "w2"); !strings.HasPrefix(got, `{"jobs":["`) || !strings.HasSuffix(got, `"],"stalled":{}}`) {
			t.Errorf("workers w2 = %s", got)
		}
		q.isNil("worker.deregister", "12", "w", "w2")
		if got := q.str("workers", "12"); got != "{}" {
			t.Errorf("workers after deregister = %s", got)
		}
		if got := q.evalList("cancel", "13", "ja", "nope"); len(got) != 2 {
			t.Errorf("cancel reply = %q", got)
		}
		if !q.isNil("get", "13", "ja") {
			t.Errorf("canceled job still exists")
		}
		q.isNil("queue.forget", "13", "q")
		if got := q.str("queues", "13"); got != "{}" {
			t.Errorf("queues after forget = %s", got)
		}
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		if got := q.int("config.get", "1", "heartbeat"); got != 60 {
			t.Errorf("config.get heartbeat = %d", got)
		}
		if got := q.str("config.get", "1", "application"); got != "qless" {
			t.Errorf("config.get application = %q", got)
		}
		if !q.isNil("config.get", "1", "max-job-history") {
			t.Errorf("config.get of an option without default is not nil")
		}
		q.isNil("config.set", "1", "heartbeat", "100")
		if got := q.str("config.get", "1", "heartbeat"); got != "100" {
			t.Errorf("config.get heartbeat after set = %q", got)
		}
		all := decodeJSON(t, q.str("config.get", "1")).(map[string]any)
		if all["heartbeat"] != "100" || all["grace-period"] != 10.0 || len(all) != 7 {
			t.Errorf("config.get = %v", all)
		}
		q.isNil("config.unset", "1", "heartbeat")
		if got := q.int("config.get", "1", "heartbeat"); got != 60 {
			t.Errorf("config.get heartbeat after unset = %d", got)
		}
		if got := q.fails("config.set", "1", "heartbeat"); got != `config.set(): Arg "value" missing` {
			t.Errorf("config.set without value: %q", got)
		}
	})
}

// Every histogram slot of spec 9 (s0..s59, m1..m59, h1..h23, d1..d6) is
// named as the stats command reads it: one job waits into each slot.
func TestStatsHistogramEverySlot(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		const day = 86400
		var waits []float64
		for k := 0; k < 60; k++ {
			waits = append(waits, float64(k)+0.5)
		}
		for k := 1; k < 60; k++ {
			waits = append(waits, float64(60*k)+59)
		}
		for k := 1; k < 24; k++ {
			waits = append(waits, float64(3600*k)+1)
		}
		for k := 1; k < 7; k++ {
			waits = append(waits, float64(day*k)+1)
		}
		now := 40.0 * day
		for i, w := range waits {
			q.str("put", ftoa(now-w), "w", "q", "j"+itoa(i), "K", "{}", "0")
		}
		popped := decodeJSON(t, q.str("pop", ftoa(now), "q", "w", itoa(len(waits)))).([]any)
		if len(popped) != len(waits) {
			t.Fatalf("pop returned %d jobs, want %d", len(popped), len(waits))
		}
		var stats struct {
			Wait struct {
				Count     int
				Histogram []int
			}
		}
		if err := json.Unmarshal([]byte(q.str("stats", ftoa(now), "q", ftoa(now))), &stats); err != nil {
			t.Fatal(err)
		}
		want := make([]int, 148)
		for i := range want {
			want[i] = 1
		}
		if stats.Wait.Count != len(waits) {
			t.Errorf("wait count = %d, want %d", stats.Wait.Count, len(waits))
		}
		if diff := cmp.Diff(want, stats.Wait.Histogram); diff != "" {
			t.Errorf("wait histogram (-want +got):\n%s", diff)
		}
	})
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
