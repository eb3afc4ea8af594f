package conformance

// decodeNilRE matches the decoder's error for a missing JSON argument (spec
// 1.4; the Ruby-bundled copy names the function json_decode).
const decodeNilRE = `bad argument #1 to '(json_)?decode' \(string expected, got nil\)`

// jsonArgErrors checks the lua-cjson messages for malformed JSON given as the
// argument at index i of args (spec 1.4).
func jsonArgErrors(h *H, now any, cmd string, args []any, i int) {
	h.t.Helper()
	with := func(v any) []any {
		a := append([]any(nil), args...)
		a[i] = v
		return a
	}
	h.do(now, cmd, with("")...).err("Expected value but found T_END at character 1")
	h.do(now, cmd, with("{]")...).err("Expected object key string but found T_ARR_END at character 2")
	h.do(now, cmd, with("[}")...).err("Expected value but found T_OBJ_END at character 2")
	h.do(now, cmd, with("x")...).err("Expected value but found invalid token at character 1")
}

// Spec 2.2, 6.2, 6.3: get and multiget.
func getCases() []testCase {
	return []testCase{
		{"get/no_jid", func(h *H) {
			h.do(0, "get").err("Job(): no jid provided")
		}},
		{"get/missing_is_nil", func(h *H) {
			h.do(0, "get", "nope").isNil()
		}},
		{"get/full_json_after_put", func(h *H) {
			h.put(12.7, "q", "j")
			h.jobIs(13, "j", newJob("j", "q", 12))
		}},
		{"multiget/order_and_missing_omitted", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b")
			h.same(jidsOf(h.jobList(h.do(0, "multiget", "b", "missing", "a"))), []string{"b", "a"}, "multiget b missing a")
			jobs := h.jobList(h.do(0, "multiget", "a"))
			if len(jobs) == 1 {
				h.objHas(jobs[0], newJob("a", "q", 0), "multiget a")
			} else {
				h.t.Errorf("multiget a returned %d jobs, want 1", len(jobs))
			}
			h.do(0, "multiget", "x", "y").text("{}")
		}},
	}
}

// Spec 4.2, 6.24, 6.25: put and requeue.
func putCases() []testCase {
	return []testCase{
		{"put/full_json_with_options", func(h *H) {
			h.do(10, "put", putter, "q", "j", "My.Klass", `{"x":1}`, 0,
				"priority", 3, "tags", []string{"t1", "t2"}, "retries", 2).is("j")
			want := newJob("j", "q", 10)
			want["klass"] = "My.Klass"
			want["data"] = `{"x":1}`
			want["priority"] = 3
			want["tags"] = []string{"t1", "t2"}
			want["retries"] = 2
			want["remaining"] = 2
			h.jobIs(11, "j", want)
		}},
		{"put/validation_errors", func(h *H) {
			h.noEffect(0, []string{"q", "j"}, func() {
				h.do(0, "put").err("Queue(): no queue name provided")
				h.do(0, "put", putter).err("Queue(): no queue name provided")
				h.do(0, "put", putter, "q").err(`Put(): Arg "jid" missing`)
				h.do(0, "put", putter, "q", "j").err(`Put(): Arg "klass" missing`)
				h.do(0, "put", putter, "q", "j", klass).errRE(decodeNilRE)
				jsonArgErrors(h, 0, "put", []any{putter, "q", "j", klass, "{}", 0}, 4)
				h.do(0, "put", putter, "q", "j", klass, "false").err(`Put(): Arg "data" missing or not JSON: false`)
				h.do(0, "put", putter, "q", "j", klass, noData).err(`Put(): Arg "delay" not a number: nil`)
				h.do(0, "put", putter, "q", "j", klass, noData, "x").err(`Put(): Arg "delay" not a number: x`)
				h.do(0, "put", putter, "q", "j", klass, noData, "").err(`Put(): Arg "delay" not a number: `)
				h.do(0, "put", putter, "q", "j", klass, noData, 0, "priority").errRE(`Odd number of additional args: table: 0x[0-9a-fA-F]+`)
				h.do(0, "put", putter, "q", "j", klass, noData, 0, "retries", "x").err(`Put(): Arg "retries" not a number: x`)
				h.do(0, "put", putter, "q", "j", klass, noData, 0, "tags", "false").err(`Put(): Arg "tags" not JSONfalse`)
				h.do(0, "put", putter, "q", "j", klass, noData, 0, "tags", "[").anyErr()
				h.do(0, "put", putter, "q", "j", klass, noData, 0, "priority", "x").err(`Put(): Arg "priority" not a numberx`)
				h.do(0, "put", putter, "q", "j", klass, noData, 0, "depends", "false").err(`Put(): Arg "depends" not JSON: false`)
				h.do(0, "put", putter, "q", "j", klass, noData, 0, "depends", "[").anyErr()
			})
		}},
		{"put/bad_option_after_tag_removal_is_not_rolled_back", func(h *H) {
			// Spec 1.4 and 6.24 step 2: old tags are removed before the
			// options are validated, and the error does not undo that.
			h.put(0, "q", "j", "tags", []string{"a", "b"})
			h.wantEvents(func() {
				h.do(1, "put", putter, "q", "j", klass, noData, 0, "priority", "x").err(`Put(): Arg "priority" not a numberx`)
			})
			h.jobHas(2, "j", obj{"tags": obj{}, "state": "waiting", "queue": "q", "history": arr{hist(0, "put", "q", "q")}})
			h.do(2, "tag", "get", "a").jsonIs(`{"total":0,"jobs":{}}`)
			h.do(2, "tag", "get", "b").jsonIs(`{"total":0,"jobs":{}}`)
		}},
		{"put/delay_schedules", func(h *H) {
			h.putDelay(0, "q", "j", 10)
			h.jobHas(0, "j", obj{"state": "scheduled"})
			h.do(0, "jobs", "scheduled", "q").is([]string{"j"})
			h.do(0, "length", "q").is(1)
			h.same(h.peek(5, "q", 10), []string{}, "peek before the delay")
			h.same(h.pop(9.5, "q", "w", 10), []string{}, "pop before the delay")
			h.wantState(9.5, "scheduled", "j")
			h.same(h.peek(10, "q", 10), []string{"j"}, "peek at the delay")
			h.wantState(10, "waiting", "j")
			h.do(10, "jobs", "scheduled", "q").is([]string{})
		}},
		{"put/zero_and_negative_delay_wait", func(h *H) {
			h.putDelay(0, "q", "a", 0)
			h.putDelay(0, "q", "b", -5)
			h.wantState(0, "waiting", "a", "b")
			h.do(0, "jobs", "scheduled", "q").is([]string{})
		}},
		{"put/reput_carries_priority_tags_retries", func(h *H) {
			h.put(0, "q", "j", "priority", 5, "tags", []string{"t"}, "retries", 3)
			h.do(1, "put", putter, "q", "j", "Other", `{"a":1}`, 0).is("j")
			want := newJob("j", "q", 0)
			want["klass"] = "Other"
			want["data"] = `{"a":1}`
			want["priority"] = 5
			want["tags"] = []string{"t"}
			want["retries"] = 3
			want["remaining"] = 3
			want["history"] = arr{hist(0, "put", "q", "q"), hist(1, "put", "q", "q")}
			h.jobIs(1, "j", want)
			h.do(1, "tag", "get", "t").jsonIs(`{"total":1,"jobs":["j"]}`)
		}},
		{"put/reput_overrides_options", func(h *H) {
			h.put(0, "q", "j", "priority", 5, "tags", []string{"t"}, "retries", 3)
			h.put(1, "q", "j", "priority", 1, "tags", []string{"u"}, "retries", 1)
			h.jobHas(1, "j", obj{"priority": 1, "tags": []string{"u"}, "retries": 1, "remaining": 1})
			h.do(1, "tag", "get", "t").jsonIs(`{"total":0,"jobs":{}}`)
			h.do(1, "tag", "get", "u").jsonIs(`{"total":1,"jobs":["j"]}`)
		}},
		{"put/reput_running_job", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(1, "q", "w1", "j")
			h.put(2, "q", "j")
			h.jobHas(2, "j", obj{"state": "waiting", "worker": "", "expires": 0})
			h.do(3, "complete", "j", "w1", "q", noData).err("Complete(): Job j is not currently running: waiting")
			h.do(3, "heartbeat", "j", "w1").err("Heartbeat(): Job j not currently running: waiting")
			h.do(3, "fail", "j", "w1", "g", "m").err("Fail(): Job jnot currently running: waiting")
			h.do(3, "retry", "j", "q", "w1").err("Retry(): Job j is not currently running: waiting")
			h.do(3, "workers", "w1").jsonIs(`{"jobs":{},"stalled":{}}`)
			h.do(3, "jobs", "running", "q").is([]string{})
			h.popOne(4, "q", "w2", "j")
		}},
		{"put/reput_with_delay_and_running", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(1, "q", "w1", "j")
			h.putDelay(2, "q", "j", 10)
			h.jobHas(2, "j", obj{"state": "scheduled", "worker": ""})
			h.do(3, "complete", "j", "w1", "q", noData).err("Complete(): Job j is not currently running: scheduled")
			h.do(3, "length", "q").is(1)
		}},
		{"put/reput_complete_job", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(1, "q", "w", "j")
			h.complete(2, "j", "w", "q")
			h.do(2, "jobs", "complete").is([]string{"j"})
			h.put(3, "q", "j")
			h.do(3, "jobs", "complete").is([]string{})
			h.jobHas(3, "j", obj{"state": "waiting", "queue": "q", "failure": obj{}})
			h.popOne(4, "q", "w", "j")
		}},
		{"put/reput_failed_job_keeps_failure", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(1, "q", "w", "j")
			h.fail(2, "j", "w", "g", "boom")
			h.put(3, "q", "j")
			h.jobHas(3, "j", obj{
				"state":   "waiting",
				"failure": obj{"group": "g", "message": "boom", "when": 2, "worker": "w"},
			})
			h.do(3, "failed").text("{}")
			h.do(3, "failed", "g").jsonIs(`{"total":0,"jobs":{}}`)
			h.popOne(4, "q", "w", "j")
			h.complete(5, "j", "w", "q")
			h.jobHas(5, "j", obj{"failure": obj{}})
		}},
		{"put/reput_resets_remaining", func(h *H) {
			h.put(0, "q", "j", "retries", 2)
			h.popOne(1, "q", "w", "j")
			h.do(2, "retry", "j", "q", "w").is(1)
			h.jobHas(2, "j", obj{"remaining": 1})
			h.put(3, "q", "j")
			h.jobHas(3, "j", obj{"remaining": 2, "retries": 2})
		}},
		{"put/depends_object_counts_as_empty", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b", "depends", obj{"x": "a"})
			h.wantState(0, "waiting", "b")
		}},
		{"put/same_queue_twice_appends_history", func(h *H) {
			h.put(0, "q", "j")
			h.put(5, "q", "j")
			h.jobHas(5, "j", obj{"history": arr{hist(0, "put", "q", "q"), hist(5, "put", "q", "q")}})
			h.do(5, "length", "q").is(1)
		}},
		{"put/fractional_priority_kept", func(h *H) {
			h.put(0, "q", "j", "priority", "2.5")
			h.jobHas(0, "j", obj{"priority": 2.5})
		}},
		{"put/registers_queue", func(h *H) {
			h.putDelay(0, "q", "j", 10)
			h.do(0, "queues").jsonIs(arr{obj{"name": "q", "waiting": 0, "running": 0, "stalled": 0, "scheduled": 1, "depends": 0, "recurring": 0, "paused": false}})
		}},
		{"requeue/missing_job", func(h *H) {
			h.noEffect(0, []string{"q", "j"}, func() {
				h.do(0, "requeue", putter, "q", "j", klass, noData, 0).err("Requeue(): Job j does not exist")
				h.do(0, "requeue", putter, "q").err("Job(): no jid provided")
			})
		}},
		{"requeue/existing_job", func(h *H) {
			h.put(0, "q", "j", "priority", 2)
			h.popOne(1, "q", "w", "j")
			h.do(2, "requeue", "w", "q", "j", klass, `{"b":2}`, 0).is("j")
			h.jobHas(2, "j", obj{"state": "waiting", "worker": "", "data": `{"b":2}`, "priority": 2,
				"history": arr{hist(0, "put", "q", "q"), hist(1, "popped", "worker", "w"), hist(2, "put", "q", "q")}})
			h.do(3, "complete", "j", "w", "q", noData).err("Complete(): Job j is not currently running: waiting")
		}},
		{"requeue/canceled_job", func(h *H) {
			h.put(0, "q", "j")
			h.do(1, "cancel", "j").is([]string{"j"})
			h.do(2, "requeue", putter, "q", "j", klass, noData, 0).err("Requeue(): Job j does not exist")
			h.do(2, "get", "j").isNil()
		}},
	}
}
