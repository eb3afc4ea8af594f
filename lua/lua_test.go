package lua

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/rueidis"
)

// The 37 command names of spec 6.1.
var specCommands = []string{
	"get", "multiget", "config.get", "config.set", "config.unset", "queues",
	"complete", "failed", "fail", "jobs", "retry", "depends", "heartbeat",
	"workers", "track", "tag", "stats", "priority", "log", "peek", "pop",
	"pause", "unpause", "cancel", "timeout", "put", "requeue", "unfail",
	"recur", "unrecur", "recur.get", "recur.update", "recur.tag",
	"recur.untag", "length", "worker.deregister", "queue.forget",
}

func TestAssembly(t *testing.T) {
	t.Parallel()
	names, err := filepath.Glob("src/*.lua")
	if err != nil || len(names) == 0 {
		t.Fatalf("Glob(src/*.lua) = %v, %v", names, err)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		text, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(text)
		if len(text) > 0 && text[len(text)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	if Script() != b.String() {
		t.Fatalf("Script() differs from the concatenation of %v", names)
	}
	sum := sha1.Sum([]byte(Script()))
	if got, want := SHA(), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("SHA() = %s, want %s", got, want)
	}
	if !strings.HasPrefix(Script(), "-- qless server script") {
		t.Fatalf("Script() does not start with the prelude")
	}
	lib := Library()
	if !strings.HasPrefix(lib, "#!lua name="+FunctionName()+"\n") ||
		!strings.Contains(lib, "local LIB = true\n") || strings.Contains(lib, "local LIB = false") ||
		!strings.HasSuffix(lib, "redis.register_function('"+FunctionName()+"', qless)\n") {
		t.Fatalf("Library() is not the library form of the modules")
	}
	if Library() != lib || Script() != b.String() {
		t.Fatalf("assembly is not deterministic")
	}
}

func TestEntryChecks(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{nil, "Must provide a command"},
			{[]string{"nope", "1"}, "Unknown command nope"},
			{[]string{"get put", "1"}, "Unknown command get put"},
			{[]string{"", "1"}, "Unknown command"}, // message trimmed
			{[]string{"get"}, "bad argument #1 to 'tonumber' (value expected)"},
			{[]string{"get", "soon"}, `Arg "now" missing or not a number: nil`},
			{[]string{"pause", "1"}, "Wrong number of args calling Redis command from script"},
		} {
			if got := q.fails(c.args...); got != c.want {
				t.Errorf("%q: error %q, want %q", c.args, got, c.want)
			}
		}
		err := q.evalKeys([]string{"k"}, "get", "1", "j").Error()
		if err == nil || !strings.Contains(err.Error(), "No Keys should be provided") {
			t.Fatalf("call with a key: %v, want \"No Keys should be provided\"", err)
		}
		// The Ruby client needs `user_script:<n>: <message>` (1.4); the
		// library form reads user_function, which ParseError also takes.
		form := "user_script:"
		if q.lib {
			form = "user_function:"
		}
		if !strings.Contains(err.Error(), form) {
			t.Errorf("call with a key: %v, want the Redis 7 form with %s", err, form)
		}
		// strtod semantics for now (1.1).
		if !q.isNil("get", " 0x10 ", "j") || !q.isNil("get", "1e3", "j") {
			t.Errorf("get with a hex or exponent time did not answer nil")
		}
	})
}

// Every name of spec 6.1 reaches its own block: none falls through to the
// "Unknown command" of 90_dispatch.lua.
func TestEveryCommandDispatched(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		if len(specCommands) != 37 {
			t.Fatalf("%d commands listed, want 37", len(specCommands))
		}
		for _, name := range specCommands {
			err := q.eval(name, "1").Error()
			if err != nil && strings.Contains(err.Error(), "Unknown command") {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

// jobOf decodes one job JSON object and checks the 17 keys of spec 2.2.
func jobOf(t *testing.T, text string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatalf("job JSON %q: %v", text, err)
	}
	for _, k := range []string{"jid", "klass", "state", "queue", "worker", "tracked",
		"priority", "expires", "retries", "remaining", "data", "tags", "history",
		"failure", "spawned_from_jid", "dependents", "dependencies"} {
		if _, ok := m[k]; !ok {
			t.Errorf("job JSON lacks %q: %s", k, text)
		}
	}
	if len(m) != 17 {
		t.Errorf("job JSON has %d keys, want 17: %s", len(m), text)
	}
	return m
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		if got := q.str("put", "100", "w1", "q", "j1", "K", `{"a":[]}`, "0",
			"priority", "0", "tags", "[]", "retries", "5", "depends", "[]"); got != "j1" {
			t.Fatalf("put = %q, want j1", got)
		}
		popped := q.str("pop", "101", "q", "w1", "1")
		var jobs []json.RawMessage
		if err := json.Unmarshal([]byte(popped), &jobs); err != nil || len(jobs) != 1 {
			t.Fatalf("pop = %s (%v), want one job", popped, err)
		}
		job := jobOf(t, string(jobs[0]))
		if job["state"] != "running" || job["worker"] != "w1" || job["expires"] != 161.0 || job["data"] != `{"a":[]}` {
			t.Errorf("popped job = %v", job)
		}
		if got := q.int("heartbeat", "102.7", "j1", "w1", `{"b":[]}`); got != 162 {
			t.Errorf("heartbeat = %d, want 162 (truncated)", got)
		}
		if got := q.str("complete", "103", "j1", "w1", "q", `{"c":[]}`); got != "complete" {
			t.Errorf("complete = %q", got)
		}
		job = jobOf(t, q.str("get", "104", "j1"))
		want := []any{
			map[string]any{"when": 100.0, "what": "put", "q": "q"},
			map[string]any{"when": 101.0, "what": "popped", "worker": "w1"},
			map[string]any{"when": 103.0, "what": "done"},
		}
		if diff := cmp.Diff(want, job["history"]); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
		if job["state"] != "complete" || job["queue"] != "" || job["data"] != `{"c":[]}` {
			t.Errorf("completed job = %v", job)
		}
		if got := q.str("pop", "105", "q", "w1", "1"); got != "{}" {
			t.Errorf("pop of an empty queue = %q, want {}", got)
		}
		if got := q.str("multiget", "105", "nope"); got != "{}" {
			t.Errorf("multiget of a missing job = %q, want {}", got)
		}
		if !q.isNil("get", "105", "nope") {
			t.Errorf("get of a missing job is not nil")
		}
		// Statistics (9): one wait of 1 s and one run of 2 s on day 0.
		var stats struct {
			Wait, Run struct {
				Count     int
				Mean, Std float64
				Histogram []int
			}
		}
		if err := json.Unmarshal([]byte(q.str("stats", "106", "q", "50")), &stats); err != nil {
			t.Fatal(err)
		}
		if stats.Wait.Count != 1 || stats.Wait.Mean != 1 || len(stats.Wait.Histogram) != 148 || stats.Wait.Histogram[1] != 1 ||
			stats.Run.Count != 1 || stats.Run.Mean != 2 || stats.Run.Histogram[2] != 1 {
			t.Errorf("stats = %+v", stats)
		}
	})
}

// 2.3: the first entry stays, plus the most recent limit-1; limit 2 never
// trims and limit 1 keeps two entries.
func TestHistoryCap(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		for _, c := range []struct {
			limit string
			puts  int
			want  []int
		}{
			{"5", 100, []int{0, 96, 97, 98, 99}},
			{"3", 10, []int{0, 8, 9}},
			{"2", 10, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
			{"1", 10, []int{0, 9}},
			{"0", 6, []int{0, 1, 2, 3, 4, 5}},
			{"-1", 4, []int{0, 1, 2, 3}},
		} {
			q.isNil("config.set", "0", "max-job-history", c.limit)
			jid := "cap" + c.limit
			for i := 0; i < c.puts; i++ {
				q.str("put", itoa(i), "w", "q", jid, "K", "{}", "0")
			}
			var job struct{ History []struct{ When int } }
			if err := json.Unmarshal([]byte(q.str("get", "1000", jid)), &job); err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, h := range job.History {
				got = append(got, h.When)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("max-job-history %s, %d puts: history times (-want +got):\n%s", c.limit, c.puts, diff)
			}
			raw := q.list("LRANGE", "ql:j:"+jid+"-history", "0", "-1")
			if len(raw) != len(c.want) || raw[0] != `[0,"put",{"q":"q"}]` {
				t.Errorf("max-job-history %s: stored history %q", c.limit, raw)
			}
		}
	})
}

func TestJSONFormatting(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		q.str("put", "1700000001.9876542", "w", "q", "j", "K", `{"url":"a/b","n":[]}`, "0")
		popped := q.str("pop", "1700000001.9876542", "q", "w", "1")
		for _, want := range []string{
			`"expires":1700000061.9877`,            // 14 significant digits (1.3)
			`"data":"{\"url\":\"a\/b\",\"n\":[]}"`, // verbatim, as a JSON string, / escaped
			`"tags":{}`, `"dependents":{}`, `"dependencies":{}`, `"failure":{}`,
			`"spawned_from_jid":false`, `"tracked":false`,
		} {
			if !strings.Contains(popped, want) {
				t.Errorf("pop reply %s lacks %s", popped, want)
			}
		}
		time, _ := q.redis("HGET", "ql:j:j", "time").ToString()
		if want := fmt.Sprintf("%.20f", 1700000001.9876542); time != want {
			t.Errorf("time field = %q, want %q", time, want)
		}
		if got := q.int("priority", "1", "j", "1.1"); got != 1 {
			t.Errorf("priority reply = %d, want 1", got)
		}
		pri, _ := q.redis("HGET", "ql:j:j", "priority").ToString()
		if pri != "1.1000000000000001" {
			t.Errorf("stored priority = %q, want Redis %%.17g form", pri)
		}
		// Stored as sent by put.
		q.str("put", "1", "w", "q", "k", "K", "{}", "0", "priority", " 3", "retries", "0x2")
		for field, want := range map[string]string{"priority": " 3", "retries": "0x2", "remaining": "0x2", "tags": "{}"} {
			if got, _ := q.redis("HGET", "ql:j:k", field).ToString(); got != want {
				t.Errorf("put stored %s = %q, want %q", field, got, want)
			}
		}
	})
}

func TestPubSubPayloads(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		sub := q.subscribe()
		step := func(name string, want []message, cmds ...[]string) {
			t.Helper()
			for _, c := range cmds {
				if err := q.eval(c...).Error(); err != nil && !rueidis.IsRedisNil(err) {
					t.Fatalf("%s: %v: %v", name, c, err)
				}
			}
			if diff := cmp.Diff(want, sub.collect(q), cmp.AllowUnexported(message{})); diff != "" {
				t.Errorf("%s: messages (-want +got):\n%s", name, diff)
			}
		}
		step("config", []message{
			{"ql:log", `{"option":"heartbeat","event":"config_set","value":"30\/x"}`},
			{"ql:log", `{"event":"config_unset","option":"heartbeat"}`},
		}, []string{"config.set", "1", "heartbeat", "30/x"}, []string{"config.unset", "1", "heartbeat"})
		step("put and track", []message{
			{"ql:log", `{"jid":"j1","event":"put","queue":"q"}`},
			{"ql:track", "j1"},
			{"ql:popped", "j1"},
		}, []string{"put", "1", "w1", "q", "j1", "K", "{}", "0"},
			[]string{"track", "1", "track", "j1"},
			[]string{"pop", "2", "q", "w1", "1"})
		step("re-put by another worker", []message{
			{"ql:log", `{"jid":"j1","event":"put","queue":"q"}`},
			{"ql:w:w1", `{"jid":"j1","event":"lock_lost","worker":"w1"}`},
			{"ql:log", `{"jid":"j1","event":"lock_lost","worker":"w1"}`},
			{"ql:put", "j1"},
		}, []string{"put", "3", "w2", "q", "j1", "K", "{}", "0"})
		step("complete", []message{
			{"ql:popped", "j1"},
			{"ql:completed", "j1"},
			{"ql:log", `{"jid":"j1","event":"completed","queue":"q"}`},
		}, []string{"pop", "4", "q", "w1", "1"}, []string{"complete", "5", "j1", "w1", "q", "{}"})
		step("advance", []message{
			{"ql:log", `{"jid":"j2","event":"put","queue":"q"}`},
			{"ql:log", `{"jid":"j2","to":"q2","event":"advanced","queue":"q"}`},
		}, []string{"put", "6", "w1", "q", "j2", "K", "{}", "0"},
			[]string{"pop", "7", "q", "w1", "1"},
			[]string{"complete", "8", "j2", "w1", "q", "{}", "next", "q2"})
		step("fail and cancel", []message{
			{"ql:log", `{"jid":"j3","event":"put","queue":"q"}`},
			{"ql:log", `{"message":"it \"broke\"","jid":"j3","group":"g\/1","event":"failed","worker":"w1"}`},
			{"ql:log", `{"jid":"nope","queue":false,"event":"canceled","worker":false}`},
			{"ql:log", `{"jid":"j3","queue":"q","event":"canceled","worker":""}`},
		}, []string{"put", "9", "w1", "q", "j3", "K", "{}", "0"},
			[]string{"pop", "10", "q", "w1", "1"},
			[]string{"fail", "11", "j3", "w1", "g/1", `it "broke"`},
			[]string{"cancel", "12", "nope", "j3"})
		step("timeout and cancel of a running job", []message{
			{"ql:log", `{"jid":"j4","event":"put","queue":"q"}`},
			{"ql:w:w1", `{"jid":"j4","event":"lock_lost","worker":"w1"}`},
			{"ql:log", `{"jid":"j4","event":"lock_lost","worker":"w1"}`},
			{"ql:log", `{"jid":"j4","queue":"q","event":"canceled","worker":"w1"}`},
			{"ql:w:w1", `{"jid":"j4","queue":"q","event":"canceled","worker":"w1"}`},
		}, []string{"put", "13", "w1", "q", "j4", "K", "{}", "0"},
			[]string{"pop", "14", "q", "w1", "1"},
			[]string{"timeout", "15", "j4"},
			[]string{"cancel", "16", "j4"})
	})
}

// 4.4: courtesy notice first, hand-out on the first pop a grace period
// later, and the heartbeat quirk that skips the next notice.
func TestGracePeriod(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		sub := q.subscribe()
		q.str("put", "0", "w1", "q", "j", "K", "{}", "0")
		q.str("track", "0", "track", "j")
		q.str("pop", "0", "q", "w1", "1")
		if got := q.str("pop", "70", "q", "w2", "1"); got != "{}" {
			t.Fatalf("pop at 70 = %s, want {} (courtesy pass only)", got)
		}
		// The worker heartbeats during its grace period: the flag stays set.
		if got := q.int("heartbeat", "75", "j", "w1"); got != 135 {
			t.Fatalf("heartbeat = %d, want 135", got)
		}
		popped := q.str("pop", "140", "q", "w2", "1")
		job := jobOf(t, strings.TrimSuffix(strings.TrimPrefix(popped, "["), "]"))
		if job["worker"] != "w2" || job["remaining"] != 4.0 {
			t.Errorf("pop at 140 = %v, want j handed to w2 with 4 retries left", job)
		}
		want := []message{
			{"ql:log", `{"jid":"j","event":"put","queue":"q"}`},
			{"ql:track", "j"},
			{"ql:popped", "j"},
			{"ql:stalled", "j"},
			{"ql:w:w1", `{"jid":"j","event":"lock_lost","worker":"w1"}`},
			{"ql:log", `{"jid":"j","event":"lock_lost","worker":"w1"}`},
			{"ql:popped", "j"},
		}
		if diff := cmp.Diff(want, sub.collect(q), cmp.AllowUnexported(message{})); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
		}
		var stats struct{ Retries int }
		_ = json.Unmarshal([]byte(q.str("stats", "141", "q", "0")), &stats)
		if stats.Retries != 1 {
			t.Errorf("retries counter = %d, want 1", stats.Retries)
		}

		// Exhaustion by invalidation (retries 0).
		q.str("put", "0", "w1", "q2", "x", "K", "{}", "0", "retries", "0")
		q.str("pop", "0", "q2", "w1", "1")
		q.str("pop", "70", "q2", "w2", "1")
		if got := q.str("pop", "80", "q2", "w2", "1"); got != "{}" {
			t.Fatalf("pop at 80 = %s, want {} (the job fails)", got)
		}
		job = jobOf(t, q.str("get", "81", "x"))
		wantFailure := map[string]any{"group": "failed-retries-q2", "message": `Job exhausted retries in queue "q2"`, "when": 80.0, "worker": ""}
		if diff := cmp.Diff(wantFailure, job["failure"]); diff != "" || job["state"] != "failed" || job["remaining"] != -1.0 {
			t.Errorf("exhausted job = %v; failure (-want +got):\n%s", job, diff)
		}
	})
}

// 1.4: errors are not atomic; put removes old tags and publishes before the
// tags are iterated.
func TestErrorsAreNotAtomic(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		q.str("put", "1", "w", "q", "j", "K", "{}", "0", "tags", `["a"]`)
		if got, want := q.fails("put", "2", "w", "q", "j", "K", "{}", "0", "tags", `"x"`),
			"bad argument #1 to 'ipairs' (table expected, got string)"; got != want {
			t.Fatalf("put with string tags: %q, want %q", got, want)
		}
		if err := q.redis("ZSCORE", "ql:t:a", "j").Error(); err == nil {
			t.Errorf("old tag index entry survived")
		}
		if got := q.list("LRANGE", "ql:j:j-history", "0", "-1"); len(got) != 2 {
			t.Errorf("history = %q, want the failed put's entry kept", got)
		}
		// The odd-options error carries a Lua table address (1.5).
		if got := q.fails("put", "2", "w", "q", "j", "K", "{}", "0", "tags"); !strings.HasPrefix(got, "Odd number of additional args: table: 0x") {
			t.Errorf("odd options: %q", got)
		}
	})
}

// 2.3: an old-style `history` field is migrated on the first read.
func TestLegacyHistory(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		if err := q.redis("HSET", "ql:j:old", "jid", "old", "klass", "K", "state", "waiting",
			"queue", "q", "worker", "", "priority", "0", "expires", "0", "retries", "5",
			"remaining", "5", "data", "{}", "tags", "{}",
			"history", `[{"q":"q","put":100.5,"popped":200.7,"worker":"w","done":300}]`).Error(); err != nil {
			t.Fatal(err)
		}
		job := jobOf(t, q.str("get", "400", "old"))
		want := []any{
			map[string]any{"when": 100.0, "what": "put", "q": "q"},
			map[string]any{"when": 200.0, "what": "popped", "worker": "w"},
			map[string]any{"when": 300.0, "what": "done"},
		}
		if diff := cmp.Diff(want, job["history"]); diff != "" {
			t.Errorf("migrated history (-want +got):\n%s", diff)
		}
		if n, _ := q.redis("HEXISTS", "ql:j:old", "history").AsInt64(); n != 0 {
			t.Errorf("legacy history field kept")
		}
	})
}

// Log entries with details that are not server-written go through the
// decode path: arrays render as "1", "2" keys, and when/what are overwritten.
func TestLogDetails(t *testing.T) {
	t.Parallel()
	forms(t, func(t *testing.T, q *qless) {
		q.str("put", "1", "w", "q", "j", "K", "{}", "0")
		q.isNil("log", "2", "j", "note", `{"when":"x","a/b":1}`)
		q.isNil("log", "3", "j", "list", `["p","q"]`)
		q.isNil("log", "4", "j", "plain")
		job := jobOf(t, q.str("get", "5", "j"))
		want := []any{
			map[string]any{"when": 1.0, "what": "put", "q": "q"},
			map[string]any{"when": 2.0, "what": "note", "a/b": 1.0},
			map[string]any{"when": 3.0, "what": "list", "1": "p", "2": "q"},
			map[string]any{"when": 4.0, "what": "plain"},
		}
		if diff := cmp.Diff(want, job["history"]); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
	})
}
