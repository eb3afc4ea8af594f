package conformance

import "fmt"

// Spec 6.13 and 10: workers.
func workersCases() []testCase {
	return []testCase{
		{"workers/listing", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.popOne(2, "q", "w1", "a")
			h.popOne(5, "q", "w2", "b")
			h.do(10, "workers").jsonIs(`[{"name":"w2","jobs":1,"stalled":0},{"name":"w1","jobs":1,"stalled":0}]`)
			h.do(10, "workers", "w1").jsonIs(`{"jobs":["a"],"stalled":{}}`)
			h.do(10, "workers", "w2").jsonIs(`{"jobs":["b"],"stalled":{}}`)
		}},
		{"workers/stalled_and_boundary", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.popOne(0, "q", "w", "a")
			h.popOne(5, "q", "w", "b")
			h.do(60, "workers", "w").jsonIs(`{"jobs":["b","a"],"stalled":["a"]}`)
			h.do(60, "workers").jsonIs(`[{"name":"w","jobs":2,"stalled":1}]`)
			h.do(61, "workers", "w").jsonIs(`{"jobs":["b"],"stalled":["a"]}`)
			h.do(70, "workers", "w").jsonIs(`{"jobs":{},"stalled":["b","a"]}`)
			h.do(70, "workers").jsonIs(`[{"name":"w","jobs":0,"stalled":2}]`)
		}},
		{"workers/jobs_highest_expiry_first", func(h *H) {
			for i, j := range []string{"a", "b", "c"} {
				h.put(i, "q", j)
			}
			h.popOne(3, "q", "w", "a")
			h.popOne(4, "q", "w", "b")
			h.popOne(5, "q", "w", "c")
			h.do(10, "workers", "w").jsonIs(`{"jobs":["c","b","a"],"stalled":{}}`)
			h.do(11, "heartbeat", "a", "w").is(71)
			h.do(12, "workers", "w").jsonIs(`{"jobs":["a","c","b"],"stalled":{}}`)
		}},
		{"workers/lock_beyond_range_is_in_neither_list", func(h *H) {
			h.do(0, "config.set", "heartbeat", 9000000).isNil()
			h.put(0, "q", "a")
			h.popOne(0, "q", "w", "a")
			h.do(1, "workers", "w").jsonIs(`{"jobs":{},"stalled":{}}`)
			h.do(1, "workers").jsonIs(`[{"name":"w","jobs":0,"stalled":0}]`)
		}},
		{"workers/max_worker_age_prunes", func(h *H) {
			h.do(0, "config.set", "max-worker-age", 100).isNil()
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.popOne(2, "q", "w1", "a")
			h.do(50, "pop", "q", "w2", 0).text("{}")
			h.do(101, "workers").jsonIs(`[{"name":"w2","jobs":0,"stalled":0},{"name":"w1","jobs":0,"stalled":1}]`)
			h.do(102, "workers").jsonIs(`[{"name":"w2","jobs":0,"stalled":0}]`)
			// Pruning deleted w1's job set: the still running a is not listed.
			h.popOne(103, "q", "w1", "b")
			h.do(104, "workers", "w1").jsonIs(`{"jobs":["b"],"stalled":{}}`)
			h.wantState(104, "running", "a")
		}},
		{"workers/default_max_age", func(h *H) {
			h.do(0, "pop", "q", "w", 1).text("{}")
			h.do(86399, "workers").jsonIs(`[{"name":"w","jobs":0,"stalled":0}]`)
			h.do(86400, "workers").text("{}")
		}},
		{"workers/unknown_worker", func(h *H) {
			h.do(0, "workers", "nobody").jsonIs(`{"jobs":{},"stalled":{}}`)
			h.do(0, "workers").text("{}")
		}},
		{"workers/job_leaves_worker", func(h *H) {
			jids := []string{"complete", "fail", "retry", "put", "cancel", "timeout"}
			for _, j := range jids {
				h.put(0, "q", j)
			}
			if got := len(h.pop(1, "q", "w", 10)); got != len(jids) {
				h.t.Fatalf("pop returned %d jobs, want %d", got, len(jids))
			}
			h.do(2, "workers").jsonIs(fmt.Sprintf(`[{"name":"w","jobs":%d,"stalled":0}]`, len(jids)))
			h.complete(3, "complete", "w", "q")
			h.fail(3, "fail", "w", "g", "m")
			h.do(3, "retry", "retry", "q", "w").is(4)
			h.put(3, "q", "put")
			h.do(3, "cancel", "cancel").is([]string{"cancel"})
			h.do(3, "timeout", "timeout").isNil()
			// timeout leaves the entry (spec 10).
			h.do(4, "workers", "w").jsonIs(`{"jobs":["timeout"],"stalled":{}}`)
		}},
		{"workers/deregister", func(h *H) {
			h.put(0, "q", "a")
			h.popOne(0, "q", "w1", "a")
			h.do(1, "pop", "q", "w2", 1).text("{}")
			h.do(2, "worker.deregister", "w1", "nobody").isNil()
			h.do(2, "workers").jsonIs(`[{"name":"w2","jobs":0,"stalled":0}]`)
			h.do(2, "workers", "w1").jsonIs(`{"jobs":["a"],"stalled":{}}`)
			h.do(2, "worker.deregister").errContains("Wrong number of args calling Redis command from script")
		}},
	}
}

// Spec 6.14 and 13: tracking.
func trackCases() []testCase {
	return []testCase{
		{"track/errors", func(h *H) {
			h.put(0, "q", "j")
			h.noEffect(0, []string{"q", "j"}, func() {
				h.do(0, "track", "track").err(`Track(): Arg "jid" missing`)
				h.do(0, "track", "track", "nope").err("Track(): Job does not exist")
				h.do(0, "track", "untrack", "nope").err("Track(): Job does not exist")
				h.do(0, "track", "foo", "j").err(`Track(): Unknown action "foo"`)
			})
		}},
		{"track/replies_and_flag", func(h *H) {
			h.put(0, "q", "j")
			h.do(1, "track", "track", "j").text("1")
			h.jobHas(1, "j", obj{"tracked": true})
			h.do(1, "track", "track", "j").text("0")
			h.do(2, "track", "untrack", "j").text("1")
			h.jobHas(2, "j", obj{"tracked": false})
			h.do(2, "track", "untrack", "j").text("0")
			h.do(3, "track", "TRACK", "j").text("1")
			h.do(3, "track", "UnTrack", "j").text("1")
		}},
		{"track/listing", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b")
			h.put(0, "q", "c")
			h.do(2, "track", "track", "b").text("1")
			h.do(3, "track", "track", "a").text("1")
			got, ok := h.do(4, "track").json().(map[string]any)
			if !ok {
				h.t.Fatalf("track reply is not an object")
			}
			h.same(got["expired"], map[string]any{}, "expired")
			jobs, _ := got["jobs"].([]any)
			var jids []string
			for _, j := range jobs {
				o, _ := j.(map[string]any)
				jids = append(jids, fmt.Sprint(o["jid"]))
				if len(o) != 17 || o["tracked"] != true {
					h.t.Errorf("tracked job %v: want a full job object with tracked true", o)
				}
			}
			h.same(jids, []string{"b", "a"}, "tracked jobs in tracking order")
		}},
	}
}

// Spec 6.15 and 13: tags.
func tagCases() []testCase {
	return []testCase{
		{"tag/errors", func(h *H) {
			h.put(0, "q", "j")
			h.noEffect(0, []string{"q", "j", "t"}, func() {
				h.do(0, "tag").err(`Tag(): Arg "command" must be "add", "remove", "get" or "top"`)
				h.do(0, "tag", "foo").err(`Tag(): First argument must be "add", "remove" or "get"`)
				h.do(0, "tag", "add").err(`Tag(): Arg "jid" missing`)
				h.do(0, "tag", "add", "nope", "t").err("Tag(): Job nope does not exist")
				h.do(0, "tag", "remove").err(`Tag(): Arg "jid" missing`)
				h.do(0, "tag", "remove", "nope", "t").err("Tag(): Job nope does not exist")
				h.do(0, "tag", "get").err(`Tag(): Arg "tag" missing`)
				h.do(0, "tag", "get", "t", "x").err(`Tag(): Arg "offset" not a number: x`)
				h.do(0, "tag", "get", "t", 0, "x").err(`Tag(): Arg "count" not a number: x`)
			})
		}},
		{"tag/add_and_remove", func(h *H) {
			h.put(0, "q", "j", "tags", []string{"a"})
			h.do(1, "tag", "add", "j", "b", "c", "b", "a").text(`["a","b","c"]`)
			h.jobHas(1, "j", obj{"tags": []string{"a", "b", "c"}})
			h.do(2, "tag", "remove", "j", "a", "zz").text(`["b","c"]`)
			h.jobHas(2, "j", obj{"tags": []string{"b", "c"}})
			h.do(2, "tag", "get", "a").jsonIs(`{"total":0,"jobs":{}}`)
			h.do(2, "tag", "get", "b").jsonIs(`{"total":1,"jobs":["j"]}`)
			h.do(3, "tag", "remove", "j", "b", "c").text("{}")
			h.jobHas(3, "j", obj{"tags": obj{}})
		}},
		{"tag/get_order_and_paging", func(h *H) {
			for i := range 5 {
				h.put(i, "q", fmt.Sprintf("j%d", i), "tags", []string{"t"})
			}
			h.do(5, "tag", "get", "t").jsonIs(`{"total":5,"jobs":["j0","j1","j2","j3","j4"]}`)
			h.do(5, "tag", "get", "t", 1, 2).jsonIs(`{"total":5,"jobs":["j1","j2"]}`)
			h.do(5, "tag", "get", "t", 10, 2).jsonIs(`{"total":5,"jobs":{}}`)
			// Adding the tag again refreshes its time.
			h.do(6, "tag", "add", "j0", "t").text(`["t"]`)
			h.do(6, "tag", "get", "t").jsonIs(`{"total":5,"jobs":["j1","j2","j3","j4","j0"]}`)
		}},
		{"tag/get_ties_lexicographic", func(h *H) {
			h.put(0, "q", "b", "tags", []string{"t"})
			h.put(0, "q", "c", "tags", []string{"t"})
			h.put(0, "q", "a", "tags", []string{"t"})
			h.do(0, "tag", "get", "t").jsonIs(`{"total":3,"jobs":["a","b","c"]}`)
		}},
		{"tag/get_default_count_25", func(h *H) {
			var jids []string
			for i := range 30 {
				j := fmt.Sprintf("j%02d", i)
				jids = append(jids, j)
				h.put(i, "q", j, "tags", []string{"t"})
			}
			h.do(30, "tag", "get", "t").jsonIs(obj{"total": 30, "jobs": jids[:25]})
		}},
		{"tag/top", func(h *H) {
			h.put(0, "q", "a", "tags", []string{"t", "u", "v"})
			h.put(0, "q", "b", "tags", []string{"t", "u"})
			h.put(0, "q", "c", "tags", []string{"t"})
			h.do(0, "tag", "top").jsonIs(`["t","u"]`)
			h.do(0, "tag", "top", 1, 1).jsonIs(`["u"]`)
			h.do(0, "tag", "top", 0, 1).jsonIs(`["t"]`)
			h.do(0, "tag", "top", 5, 1).text("{}")
		}},
		{"tag/counter_drifts", func(h *H) {
			h.put(0, "q", "j")
			h.do(1, "tag", "add", "j", "a").text(`["a"]`)
			h.do(1, "tag", "top").text("{}")
			// Adding a tag the job already has still counts.
			h.do(2, "tag", "add", "j", "a").text(`["a"]`)
			h.do(2, "tag", "top").jsonIs(`["a"]`)
			// Removing a tag the job does not have still subtracts.
			h.do(3, "tag", "remove", "j", "b").text(`["a"]`)
			h.do(3, "tag", "add", "j", "b").text(`["a","b"]`)
			h.do(3, "tag", "add", "j", "b").text(`["a","b"]`)
			h.do(3, "tag", "top").jsonIs(`["a"]`)
		}},
		{"tag/reput_replaces_index_entries", func(h *H) {
			h.put(0, "q", "j", "tags", []string{"a", "b"})
			h.put(1, "q", "j", "tags", []string{"b", "c"})
			h.do(1, "tag", "get", "a").jsonIs(`{"total":0,"jobs":{}}`)
			h.do(1, "tag", "get", "b").jsonIs(`{"total":1,"jobs":["j"]}`)
			h.do(1, "tag", "get", "c").jsonIs(`{"total":1,"jobs":["j"]}`)
			h.jobHas(1, "j", obj{"tags": []string{"b", "c"}})
		}},
	}
}

// Spec 6.17: priority.
func priorityCases() []testCase {
	return []testCase{
		{"priority/errors", func(h *H) {
			h.put(0, "q", "j")
			h.noEffect(0, []string{"q", "j"}, func() {
				h.do(0, "priority").err("Job(): no jid provided")
				h.do(0, "priority", "j").err(`Priority(): Arg "priority" missing or not a number: nil`)
				h.do(0, "priority", "j", "x").err(`Priority(): Arg "priority" missing or not a number: x`)
				h.do(0, "priority", "nope", 1).err("Priority(): Job nope does not exist")
			})
		}},
		{"priority/reply_truncated", func(h *H) {
			h.put(0, "q", "j")
			h.do(1, "priority", "j", 2.7).is(2)
			h.jobHas(1, "j", obj{"priority": 2.7})
			h.do(1, "priority", "j", -2.7).is(-2)
			h.jobHas(1, "j", obj{"priority": -2.7})
		}},
		{"priority/rescores_waiting_job_without_time", func(h *H) {
			h.put(1, "q", "a")
			h.put(2, "q", "b")
			h.put(3, "q", "c")
			h.same(h.peek(4, "q", 3), []string{"a", "b", "c"}, "peek before")
			h.do(4, "priority", "c", 0).is(0)
			h.same(h.peek(4, "q", 3), []string{"c", "a", "b"}, "peek after")
			h.do(4, "priority", "b", 1).is(1)
			h.same(h.pop(4, "q", "w", 3), []string{"b", "c", "a"}, "pop after")
		}},
		{"priority/other_states_store_only", func(h *H) {
			h.put(0, "q", "r")
			h.popOne(0, "q", "w", "r")
			h.do(1, "priority", "r", 5).is(5)
			h.jobHas(1, "r", obj{"priority": 5, "state": "running"})
			h.putDelay(0, "q", "s", 10)
			h.do(1, "priority", "s", 3).is(3)
			h.put(2, "q", "x", "priority", 2)
			// s keeps its priority when promoted.
			h.same(h.pop(10, "q", "w", 5), []string{"s", "x"}, "pop after promotion")
			h.complete(11, "r", "w", "q")
			h.do(12, "priority", "r", 9).is(9)
			h.jobHas(12, "r", obj{"priority": 9, "state": "complete"})
			h.do(12, "length", "q").is(2)
		}},
	}
}

// Spec 6.18: log.
func logCases() []testCase {
	return []testCase{
		{"log/errors", func(h *H) {
			h.put(0, "q", "j")
			h.noEffect(0, []string{"q", "j"}, func() {
				h.do(0, "log").err(`Log(): Argument 'jid' missing`)
				h.do(0, "log", "j").err(`Log(): Argument 'message' missing`)
				jsonArgErrors(h, 0, "log", []any{"j", "m", "{}"}, 2)
				h.do(0, "log", "j", "m", "false").err(`Log(): Argument 'data' not cjson: false`)
				h.do(0, "log", "nope", "m").err("Log(): Job nope does not exist")
			})
		}},
		{"log/appends_history_without_events", func(h *H) {
			h.put(0, "q", "j")
			h.wantEvents(func() {
				h.do(5.5, "log", "j", "hello").isNil()
				h.do(6, "log", "j", "custom", `{"a":1,"when":999,"what":"x"}`).isNil()
				h.do(7, "log", "j", "list", `[10, 20]`).isNil()
			})
			h.jobHas(8, "j", obj{"history": arr{
				hist(0, "put", "q", "q"),
				hist(5, "hello"),
				hist(6, "custom", "a", 1),
				hist(7, "list", "1", 10, "2", 20),
			}})
		}},
	}
}

// Spec 2.3: history length cap.
func historyCases() []testCase {
	puts := func(h *H, n int) {
		h.t.Helper()
		for i := range n {
			h.put(i, "q", "j")
		}
	}
	whens := func(h *H) []int {
		h.t.Helper()
		var out []int
		for _, e := range h.history(1000, "j") {
			o, _ := e.(map[string]any)
			f, _ := o["when"].(float64)
			out = append(out, int(f))
		}
		return out
	}
	seq := func(from, to int) []int {
		out := []int{}
		for i := from; i <= to; i++ {
			out = append(out, i)
		}
		return out
	}
	return []testCase{
		{"history/cap_keeps_first_and_latest", func(h *H) {
			h.do(0, "config.set", "max-job-history", 5).isNil()
			puts(h, 100)
			h.same(whens(h), []int{0, 96, 97, 98, 99}, "history times")
		}},
		{"history/default_cap_100", func(h *H) {
			puts(h, 150)
			h.same(whens(h), append([]int{0}, seq(51, 149)...), "history times")
		}},
		{"history/cap_zero_is_unlimited", func(h *H) {
			h.do(0, "config.set", "max-job-history", 0).isNil()
			puts(h, 150)
			h.same(whens(h), seq(0, 149), "history times")
		}},
		{"history/cap_2_does_not_trim", func(h *H) {
			h.do(0, "config.set", "max-job-history", 2).isNil()
			puts(h, 10)
			h.same(whens(h), seq(0, 9), "history times")
		}},
		{"history/cap_1_keeps_two", func(h *H) {
			h.do(0, "config.set", "max-job-history", 1).isNil()
			puts(h, 10)
			h.same(whens(h), []int{0, 9}, "history times")
		}},
		{"history/cap_applies_to_log_and_pop", func(h *H) {
			h.do(0, "config.set", "max-job-history", 3).isNil()
			h.put(0, "q", "j")
			h.popOne(1, "q", "w", "j")
			h.do(2, "log", "j", "one").isNil()
			h.do(3, "log", "j", "two").isNil()
			h.same(h.historyWhats(4, "j"), []string{"put", "one", "two"}, "history whats")
		}},
	}
}
