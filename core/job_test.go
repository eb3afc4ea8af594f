package core

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A job as `get` returns it for a new job (spec 2.2): every list empty, so
// encoded as {}; no failure; not spawned.
const newJobJSON = `{"jid":"a1","klass":"Foo","state":"waiting","queue":"q","worker":"",
"tracked":false,"priority":0,"expires":0,"retries":5,"remaining":5,"data":"{\"x\":1}",
"tags":{},"history":[{"when":1700000000,"what":"put","q":"q"}],"failure":{},
"spawned_from_jid":false,"dependents":{},"dependencies":{}}`

// A failed, tracked, recurring instance with dependents and log history.
const failedJobJSON = `{"jid":"r-3","klass":"Bar","state":"failed","queue":"q2","worker":"",
"tracked":true,"priority":-10.5,"expires":0,"retries":2,"remaining":-1,"data":"{}",
"tags":["a","b"],"history":[
 {"when":1700000000,"what":"put","q":"q2"},
 {"when":1700000001,"what":"popped","worker":"w1"},
 {"when":1700000002,"what":"note","level":3,"q":7,"nested":{"k":[1,2]}},
 {"when":1700000003,"what":"failed","worker":"w1","group":"boom"}],
"failure":{"group":"boom","message":"it broke","when":1700000003,"worker":"w1"},
"spawned_from_jid":"r","dependents":["d1","d2"],"dependencies":["p1"]}`

func TestJobUnmarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Job
	}{
		{
			name: "new job",
			in:   newJobJSON,
			want: Job{
				JID: "a1", Klass: "Foo", State: StateWaiting, Queue: "q", Retries: 5, Remaining: 5,
				Data:    `{"x":1}`,
				History: []HistoryEntry{{When: 1700000000, What: "put", Queue: "q"}},
			},
		},
		{
			name: "failed job",
			in:   failedJobJSON,
			want: Job{
				JID: "r-3", Klass: "Bar", State: StateFailed, Queue: "q2", Tracked: true,
				Priority: -10.5, Retries: 2, Remaining: -1, Data: "{}", Tags: []string{"a", "b"},
				History: []HistoryEntry{
					{When: 1700000000, What: "put", Queue: "q2"},
					{When: 1700000001, What: "popped", Worker: "w1"},
					{When: 1700000002, What: "note", Extra: map[string]json.RawMessage{
						"level": json.RawMessage(`3`), "q": json.RawMessage(`7`),
						"nested": json.RawMessage(`{"k":[1,2]}`),
					}},
					{When: 1700000003, What: "failed", Worker: "w1", Group: "boom"},
				},
				Failure:      &Failure{Group: "boom", Message: "it broke", When: 1700000003, Worker: "w1"},
				SpawnedFrom:  "r",
				Dependents:   []string{"d1", "d2"},
				Dependencies: []string{"p1"},
			},
		},
		{
			name: "running job with 14-digit expiry",
			in: `{"jid":"j","klass":"K","state":"running","queue":"q","worker":"w","tracked":false,
"priority":1.1,"expires":1700000061.9877,"retries":0,"remaining":0,"data":"[]","tags":["x"],
"history":{},"failure":{},"spawned_from_jid":false,"dependents":{},"dependencies":{}}`,
			want: Job{JID: "j", Klass: "K", State: StateRunning, Queue: "q", Worker: "w",
				Priority: 1.1, Expires: 1700000061.9877, Data: "[]", Tags: []string{"x"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got Job
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, rawJSONEqual); diff != "" {
				t.Fatalf("Unmarshal mismatch (-want +got):\n%s", diff)
			}
			// Round trip through MarshalJSON: same value back.
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			var again Job
			if err := json.Unmarshal(b, &again); err != nil {
				t.Fatalf("Unmarshal(Marshal): %v\n%s", err, b)
			}
			if diff := cmp.Diff(got, again, rawJSONEqual); diff != "" {
				t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
			}
		})
	}
}

// rawJSONEqual compares raw JSON by meaning.
var rawJSONEqual = cmp.Comparer(func(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return cmp.Equal(x, y)
})

func TestJobMarshalShape(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Job{JID: "a", Data: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 17 {
		t.Errorf("Marshal(Job) has %d keys, want 17: %s", len(m), b)
	}
	want := map[string]string{
		"tags": "{}", "history": "{}", "dependents": "{}", "dependencies": "{}",
		"failure": "{}", "spawned_from_jid": "false", "data": `"{}"`,
	}
	for k, v := range want {
		if string(m[k]) != v {
			t.Errorf("Marshal(Job)[%q] = %s, want %s", k, m[k], v)
		}
	}
}

func TestJobUnmarshalErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"tags":{"a":1}}`,
		`{"tags":"x"}`,
		`{"history":[1]}`,
		`{"spawned_from_jid":3}`,
		`{"failure":[]}`,
		`[]`,
	} {
		var j Job
		if err := json.Unmarshal([]byte(in), &j); err == nil {
			t.Errorf("Unmarshal(%s) = nil error, want one", in)
		}
	}
}

func TestRecurringJob(t *testing.T) {
	t.Parallel()
	in := `{"jid":"r","klass":"K","state":"recur","queue":"q","data":"{}","priority":0,
"interval":60,"retries":0,"count":3,"backlog":0,"tags":{}}`
	var got RecurringJob
	if err := json.Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	want := RecurringJob{JID: "r", Klass: "K", State: StateRecur, Queue: "q", Data: "{}", Interval: 60, Count: 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("mismatch (-want +got):\n%s", diff)
	}
	b, _ := json.Marshal(got)
	if !strings.Contains(string(b), `"tags":{}`) {
		t.Errorf("Marshal(RecurringJob) = %s, want tags {}", b)
	}
	in2 := strings.Replace(in, `"tags":{}`, `"tags":["a"]`, 1)
	if err := json.Unmarshal([]byte(in2), &got); err != nil || len(got.Tags) != 1 {
		t.Fatalf("Unmarshal with tags: %v, %v", got.Tags, err)
	}
}

func TestQueueCountsWorkersStats(t *testing.T) {
	t.Parallel()
	var qs []QueueCounts
	in := `[{"name":"q","waiting":1,"stalled":2,"running":3,"scheduled":4,"depends":5,"recurring":6,"paused":true}]`
	if err := json.Unmarshal([]byte(in), &qs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]QueueCounts{{Name: "q", Waiting: 1, Stalled: 2, Running: 3, Scheduled: 4, Depends: 5, Recurring: 6, Paused: true}}, qs); diff != "" {
		t.Errorf("queues (-want +got):\n%s", diff)
	}
	none, err := DecodeList[QueueCounts]([]byte(`{}`))
	if err != nil || none != nil {
		t.Errorf("DecodeList({}) = %v, %v; want nil, nil", none, err)
	}
	if b, _ := EncodeList[QueueCounts](nil); string(b) != "{}" {
		t.Errorf("EncodeList(nil) = %s, want {}", b)
	}

	var ws []WorkerSummary
	if err := json.Unmarshal([]byte(`[{"name":"w","jobs":2,"stalled":1}]`), &ws); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]WorkerSummary{{Name: "w", Jobs: 2, Stalled: 1}}, ws); diff != "" {
		t.Errorf("workers (-want +got):\n%s", diff)
	}
	var wj WorkerJobs
	if err := json.Unmarshal([]byte(`{"jobs":{},"stalled":["a"]}`), &wj); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(WorkerJobs{Stalled: []string{"a"}}, wj); diff != "" {
		t.Errorf("worker jobs (-want +got):\n%s", diff)
	}
	if b, _ := json.Marshal(WorkerJobs{}); string(b) != `{"jobs":{},"stalled":{}}` {
		t.Errorf("Marshal(WorkerJobs{}) = %s", b)
	}

	var p JobPage
	if err := json.Unmarshal([]byte(`{"total":0,"jobs":{}}`), &p); err != nil || p.Total != 0 || p.Jobs != nil {
		t.Errorf("JobPage = %+v, %v", p, err)
	}
	if b, _ := json.Marshal(JobPage{Total: 2, Jobs: []string{"a", "b"}}); string(b) != `{"total":2,"jobs":["a","b"]}` {
		t.Errorf("Marshal(JobPage) = %s", b)
	}

	// Spec 9 example: 20 jobs popped at 0..19 after a put at 0.
	hist := make([]string, HistogramSize)
	for i := range hist {
		hist[i] = "0"
		if i < 20 {
			hist[i] = "1"
		}
	}
	stats := `{"retries":0,"failed":1,"failures":2,"wait":{"count":20,"mean":9.5,"std":5.9160797830996,"histogram":[` +
		strings.Join(hist, ",") + `]},"run":{"count":0,"mean":0,"std":0,"histogram":[` +
		strings.Repeat("0,", HistogramSize-1) + `0]}}`
	var s Stats
	if err := json.Unmarshal([]byte(stats), &s); err != nil {
		t.Fatal(err)
	}
	if s.Wait.Count != 20 || s.Wait.Mean != 9.5 || len(s.Wait.Histogram) != HistogramSize || s.Wait.Histogram[19] != 1 || s.Failures != 2 || s.Failed != 1 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	se := &ScriptError{Text: `ERR user_script:1: Put(): Arg "jid" missing script: x, on @user_script:1.`, Message: `Put(): Arg "jid" missing`}
	if se.Error() != se.Text {
		t.Errorf("ScriptError.Error() = %q, want Text", se.Error())
	}
	if NewFanOutError(nil) != nil || NewFanOutError(map[string]error{"a": nil}) != nil {
		t.Error("NewFanOutError of no errors != nil")
	}
	down := &ShardError{Shard: "b", Err: ErrShardDown}
	err := NewFanOutError(map[string]error{"c": se, "b": down, "a": nil})
	var fo *FanOutError
	if !errors.As(err, &fo) {
		t.Fatalf("NewFanOutError returned %T", err)
	}
	if diff := cmp.Diff([]string{"b", "c"}, fo.Shards()); diff != "" {
		t.Errorf("Shards() (-want +got):\n%s", diff)
	}
	if fo.Errs[0] != down {
		t.Errorf("an existing *ShardError was rewrapped")
	}
	if !errors.Is(err, ErrShardDown) {
		t.Error("errors.Is(fan-out, ErrShardDown) = false")
	}
	var got *ScriptError
	if !errors.As(err, &got) || got != se {
		t.Error("errors.As(fan-out, *ScriptError) did not find the script error")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "shards b, c did not answer: shard b: shard down; shard c: ERR") {
		t.Errorf("Error() = %q", msg)
	}
}
