package conformance

import "fmt"

// nextDue is the next due time of a recurring job as qless-py reads it:
// ZSCORE ql:q:<queue>-recur <jid> (spec 15.2).
func (h *H) nextDue(q, jid string) any {
	h.t.Helper()
	v, err := h.raw("ZSCORE", "ql:q:"+q+"-recur", jid)
	if err != nil {
		h.t.Fatalf("ZSCORE ql:q:%s-recur %s: %v", q, jid, err)
	}
	return v
}

// recurObj is the recur.get JSON with the script's defaults.
func recurObj(jid, q string, interval int) obj {
	return obj{
		"jid": jid, "klass": klass, "state": "recur", "queue": q, "data": noData,
		"priority": 0, "interval": interval, "retries": 0, "count": 0, "backlog": 0, "tags": obj{},
	}
}

// recur creates recurring job jid in q with interval and offset.
func (h *H) recur(now any, q, jid string, interval, offset any, opts ...any) {
	h.t.Helper()
	args := append([]any{q, jid, klass, noData, "interval", interval, offset}, opts...)
	h.do(now, "recur", args...).is(jid)
}

// Spec 8, 6.27-6.31: recurring jobs.
func recurCases() []testCase {
	return []testCase{
		{"recur/validation_errors", func(h *H) {
			h.noEffect(0, []string{"q", "r"}, func() {
				h.do(0, "recur").err("Queue(): no queue name provided")
				h.do(0, "recur", "q").err(`RecurringJob On(): Arg "jid" missing`)
				h.do(0, "recur", "q", "r").err(`RecurringJob On(): Arg "klass" missing`)
				h.do(0, "recur", "q", "r", klass).err(`RecurringJob On(): Arg "spec" missing`)
				h.do(0, "recur", "q", "r", klass, noData).err(`RecurringJob On(): Arg "spec" missing`)
				h.do(0, "recur", "q", "r", klass, "false", "interval", 60, 0).err(`RecurringJob On(): Arg "data" not JSON: false`)
				jsonArgErrors(h, 0, "recur", []any{"q", "r", klass, "{}", "interval", 60, 0}, 3)
				h.do(0, "recur", "q", "r", klass, noData, "cron", 60, 0).err(`Recur(): schedule type "cron" unknown`)
				h.do(0, "recur", "q", "r", klass, noData, "cron", "x").err(`Recur(): schedule type "cron" unknown`)
				h.do(0, "recur", "q", "r", klass, noData, "interval").err(`Recur(): Arg "interval" not a number: nil`)
				h.do(0, "recur", "q", "r", klass, noData, "interval", "x", 0).err(`Recur(): Arg "interval" not a number: x`)
				h.do(0, "recur", "q", "r", klass, noData, "interval", 60).err(`Recur(): Arg "offset" not a number: nil`)
				h.do(0, "recur", "q", "r", klass, noData, "interval", 60, "x").err(`Recur(): Arg "offset" not a number: x`)
				h.do(0, "recur", "q", "r", klass, noData, "interval", 0, 0).err(`Recur(): Arg "interval" must be greater than 0`)
				h.do(0, "recur", "q", "r", klass, noData, "interval", -5, 0).err(`Recur(): Arg "interval" must be greater than 0`)
				h.do(0, "recur", "q", "r", klass, noData, "interval", 60, 0, "priority").errRE(`Odd number of additional args: table: 0x[0-9a-fA-F]+`)
				h.do(0, "recur", "q", "r", klass, noData, "interval", 60, 0, "tags", "false").err(`Recur(): Arg "tags" must be JSON string array: false`)
				h.do(0, "recur", "q", "r", klass, noData, "interval", 60, 0, "priority", "x").err(`Recur(): Arg "priority" not a number: x`)
				h.do(0, "recur", "q", "r", klass, noData, "interval", 60, 0, "retries", "x").err(`Recur(): Arg "retries" not a number: x`)
				h.do(0, "recur", "q", "r", klass, noData, "interval", 60, 0, "backlog", "x").err(`Recur(): Arg "backlog" not a number: x`)
			})
		}},
		{"recur/get_json_defaults", func(h *H) {
			h.do(0, "recur", "q", "r", klass, `{"a": 1}`, "interval", 60, 10).is("r")
			want := recurObj("r", "q", 60)
			want["data"] = `{"a": 1}`
			h.do(0, "recur.get", "r").jsonIs(want)
			h.do(0, "recur.get", "nope").isNil()
			h.do(0, "get", "r").isNil()
			h.same(h.nextDue("q", "r"), "10", "next due")
		}},
		{"recur/get_json_with_options", func(h *H) {
			h.recur(0, "q", "r", 60, 0, "priority", 2, "tags", []string{"t", "u"}, "retries", 3, "backlog", 4)
			want := recurObj("r", "q", 60)
			want["priority"] = 2
			want["tags"] = []string{"t", "u"}
			want["retries"] = 3
			want["backlog"] = 4
			h.do(0, "recur.get", "r").jsonIs(want)
		}},
		{"recur/spawns_on_pop", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			jobs := h.popJobs(0, "q", "w", 5)
			h.same(jidsOf(jobs), []string{"r-1"}, "first pop")
			want := newJob("r-1", "q", 0)
			want["state"] = "running"
			want["worker"] = "w"
			want["expires"] = 60
			want["retries"] = 0
			want["remaining"] = 0
			want["spawned_from_jid"] = "r"
			want["history"] = arr{hist(0, "put", "q", "q"), hist(0, "popped", "worker", "w")}
			h.jobIs(0, "r-1", want)
			h.same(h.pop(30, "q", "w", 5), []string{}, "pop at 30")
			h.same(h.pop(60, "q", "w", 5), []string{"r-2"}, "pop at 60")
			h.jobHas(60, "r-2", obj{"spawned_from_jid": "r", "history": arr{hist(60, "put", "q", "q"), hist(60, "popped", "worker", "w")}})
			got := h.do(60, "recur.get", "r").json()
			if o, ok := got.(map[string]any); !ok || o["count"] != float64(2) {
				h.t.Errorf("recur.get r = %v, want count 2", got)
			}
			h.same(h.nextDue("q", "r"), "120", "next due")
		}},
		{"recur/peek_spawns", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			jobs := h.jobList(h.do(0, "peek", "q", 5))
			h.same(jidsOf(jobs), []string{"r-1"}, "peek")
			h.wantState(0, "waiting", "r-1")
			h.same(h.pop(1, "q", "w", 5), []string{"r-1"}, "pop after peek")
			h.do(1, "recur.get", "r").jsonIs(func() obj { o := recurObj("r", "q", 60); o["count"] = 1; return o }())
		}},
		{"recur/offset", func(h *H) {
			h.recur(0, "q", "r", 60, 10)
			h.same(h.pop(5, "q", "w", 5), []string{}, "pop before the offset")
			h.same(h.pop(10, "q", "w", 5), []string{"r-1"}, "pop at the offset")
			h.jobHas(10, "r-1", obj{"history": arr{hist(10, "put", "q", "q"), hist(10, "popped", "worker", "w")}})
			h.same(h.nextDue("q", "r"), "70", "next due")
		}},
		{"recur/due_time_floored", func(h *H) {
			h.recur(0.5, "q", "r", 60, 0)
			h.same(h.pop(0.5, "q", "w", 5), []string{"r-1"}, "pop")
			h.same(h.nextDue("q", "r"), "60", "next due")
		}},
		{"recur/several_intervals_in_one_pop", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			var want []string
			for i := 1; i <= 10; i++ {
				want = append(want, fmt.Sprintf("r-%d", i))
			}
			h.same(h.pop(599, "q", "w", 10), want, "pop 10 at 599")
			for i, j := range want {
				h.jobHas(599, j, obj{"history": arr{hist(60*i, "put", "q", "q"), hist(599, "popped", "worker", "w")}})
			}
			h.same(h.pop(599, "q", "w", 10), []string{}, "pop again at 599")
		}},
		{"recur/pop_count_limits_spawns", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			h.same(h.pop(599, "q", "w", 2), []string{"r-1", "r-2"}, "pop 2")
			h.same(h.nextDue("q", "r"), "120", "next due")
			h.same(h.pop(599, "q", "w", 3), []string{"r-3", "r-4", "r-5"}, "pop 3")
		}},
		{"recur/count_shared_between_templates", func(h *H) {
			h.recur(0, "q", "r1", 60, 0)
			h.recur(0, "q", "r2", 60, 0)
			h.same(h.pop(0, "q", "w", 1), []string{"r1-1"}, "pop 1")
			h.same(h.pop(0, "q", "w", 5), []string{"r2-1"}, "pop 5")
		}},
		{"recur/backlog", func(h *H) {
			h.recur(0, "q", "r", 60, 0, "backlog", 1)
			h.same(h.pop(600, "q", "w", 10), []string{"r-1", "r-2"}, "pop at 600")
			h.jobHas(600, "r-1", obj{"history": arr{hist(540, "put", "q", "q"), hist(600, "popped", "worker", "w")}})
			h.jobHas(600, "r-2", obj{"history": arr{hist(600, "put", "q", "q"), hist(600, "popped", "worker", "w")}})
			h.same(h.nextDue("q", "r"), "660", "next due")
		}},
		{"recur/tags_priority_retries_copied", func(h *H) {
			h.put(0, "q", "plain", "priority", 4)
			h.recur(0, "q", "r", 60, 0, "priority", 5, "tags", []string{"a", "b"}, "retries", 3)
			h.same(h.pop(0, "q", "w", 1), []string{"r-1"}, "pop")
			h.jobHas(0, "r-1", obj{"priority": 5, "tags": []string{"a", "b"}, "retries": 3, "remaining": 3})
			h.do(0, "tag", "get", "a").jsonIs(`{"total":1,"jobs":["r-1"]}`)
			h.do(0, "tag", "get", "b").jsonIs(`{"total":1,"jobs":["r-1"]}`)
		}},
		{"recur/instances_scored_at_due_time", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			h.put(30, "q", "x")
			h.same(h.pop(60, "q", "w", 1), []string{"r-1"}, "first pop at 60")
			h.same(h.pop(60, "q", "w", 1), []string{"x"}, "second pop at 60")
			h.same(h.pop(60, "q", "w", 1), []string{"r-2"}, "third pop at 60")
		}},
		{"recur/no_events_on_spawn", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			h.wantEvents(func() {
				h.same(h.peek(0, "q", 5), []string{"r-1"}, "peek")
				h.same(h.pop(60, "q", "w", 5), []string{"r-1", "r-2"}, "pop")
			})
		}},
		{"recur/listed_in_queues_and_jobs", func(h *H) {
			h.recur(0, "q", "r", 60, 30)
			h.do(0, "queues").jsonIs(arr{queueObj("q", 0, 0, 0, 0, 0, 1, false)})
			h.do(0, "jobs", "recurring", "q").is([]string{"r"})
			h.do(0, "length", "q").is(0)
		}},
		{"recur/empty_array_data", func(h *H) {
			h.do(0, "recur", "q", "r", klass, "[]", "interval", 60, 0).is("r")
			h.same(h.pop(0, "q", "w", 1), []string{"r-1"}, "pop")
			h.jobHas(0, "r-1", obj{"data": "[]"})
			h.do(0, "recur.get", "r").contains(`"data":"[]"`)
		}},
		{"recur/reissue_keeps_count_and_updates", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			h.same(h.pop(0, "q", "w", 1), []string{"r-1"}, "pop")
			h.do(10, "recur", "q", "r", "K2", `{"v":2}`, "interval", 100, 5, "priority", 5).is("r")
			want := recurObj("r", "q", 100)
			want["klass"] = "K2"
			want["data"] = `{"v":2}`
			want["priority"] = 5
			want["count"] = 1
			h.do(10, "recur.get", "r").jsonIs(want)
			h.same(h.nextDue("q", "r"), "15", "next due")
			h.same(h.pop(14, "q", "w", 1), []string{}, "pop before the new offset")
			h.same(h.pop(15, "q", "w", 1), []string{"r-2"}, "pop")
			h.jobHas(15, "r-2", obj{"klass": "K2", "priority": 5, "data": `{"v":2}`})
		}},
		{"recur/update_fields", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			h.do(0, "recur.update", "r", "priority", 7).is(1)
			h.do(0, "recur.update", "r", "retries", 2).is(1)
			h.do(0, "recur.update", "r", "data", `{"x": []}`).is(1)
			h.do(0, "recur.update", "r", "klass", "K2").is(1)
			h.do(0, "recur.update", "r", "backlog", 3).is(1)
			want := recurObj("r", "q", 60)
			want["priority"] = 7
			want["retries"] = 2
			want["data"] = `{"x": []}`
			want["klass"] = "K2"
			want["backlog"] = 3
			h.do(0, "recur.get", "r").jsonIs(want)
			h.same(h.pop(0, "q", "w", 1), []string{"r-1"}, "pop")
			h.jobHas(0, "r-1", obj{"priority": 7, "retries": 2, "remaining": 2, "data": `{"x": []}`, "klass": "K2"})
		}},
		{"recur/update_several_pairs", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			h.do(0, "recur.update", "r", "priority", 1, "retries", 4, "priority", 2).is(1)
			want := recurObj("r", "q", 60)
			want["priority"] = 2
			want["retries"] = 4
			h.do(0, "recur.get", "r").jsonIs(want)
		}},
		{"recur/update_interval_shifts_schedule", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			h.same(h.pop(0, "q", "w", 1), []string{"r-1"}, "pop")
			h.same(h.nextDue("q", "r"), "60", "next due before")
			h.do(1, "recur.update", "r", "interval", 30).is(1)
			h.same(h.nextDue("q", "r"), "30", "next due after")
			h.same(h.pop(29, "q", "w", 1), []string{}, "pop at 29")
			h.same(h.pop(30, "q", "w", 1), []string{"r-2"}, "pop at 30")
			h.same(h.nextDue("q", "r"), "60", "next due after the spawn")
		}},
		{"recur/update_errors", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			h.noEffect(0, []string{"q", "r"}, func() {
				h.do(0, "recur.update", "nope", "priority", 1).err("Recur(): No recurring job nope")
				h.do(0, "recur.update", "r", "priority").err("No value provided for priority")
				h.do(0, "recur.update", "r", "priority", "x").err(`Recur(): Arg "priority" must be a number: x`)
				h.do(0, "recur.update", "r", "retries", "x").err(`Recur(): Arg "retries" must be a number: x`)
				h.do(0, "recur.update", "r", "interval", "x").err(`Recur(): Arg "interval" must be a number: x`)
				h.do(0, "recur.update", "r", "data", "false").err(`Recur(): Arg "data" is not JSON-encoded: false`)
				h.do(0, "recur.update", "r", "data", "{]").err("Expected object key string but found T_ARR_END at character 2")
				h.do(0, "recur.update", "r", "backlog", "x").err(`Recur(): Arg "backlog" not a number: x`)
				h.do(0, "recur.update", "r", "tags", `["a"]`).err(`Recur(): Unrecognized option "tags"`)
				h.do(0, "recur.update", "r", "foo", "bar").err(`Recur(): Unrecognized option "foo"`)
			})
		}},
		{"recur/update_pairs_applied_until_error", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			h.do(0, "recur.update", "r", "priority", 5, "foo", "bar", "retries", 9).err(`Recur(): Unrecognized option "foo"`)
			want := recurObj("r", "q", 60)
			want["priority"] = 5
			h.do(0, "recur.get", "r").jsonIs(want)
		}},
		{"unrecur/removes_template_only", func(h *H) {
			h.do(0, "unrecur").err("Recurring(): no jid provided")
			h.do(0, "unrecur", "nope").is(1)
			h.recur(0, "q", "r", 60, 0)
			h.same(h.pop(0, "q", "w", 1), []string{"r-1"}, "pop")
			h.do(1, "unrecur", "r").is(1)
			h.do(1, "recur.get", "r").isNil()
			h.do(1, "jobs", "recurring", "q").is([]string{})
			h.same(h.nextDue("q", "r"), nil, "next due")
			h.jobHas(1, "r-1", obj{"state": "running", "spawned_from_jid": "r"})
			h.same(h.pop(600, "q", "w2", 5), []string{}, "pop later")
		}},
		{"unrecur/recreate_restarts_count", func(h *H) {
			h.recur(0, "q", "r", 60, 0)
			h.same(h.pop(0, "q", "w", 1), []string{"r-1"}, "pop")
			h.complete(1, "r-1", "w", "q")
			h.do(2, "unrecur", "r").is(1)
			h.recur(100, "q", "r", 60, 0)
			h.do(100, "recur.get", "r").jsonIs(recurObj("r", "q", 60))
			// The new first instance reuses the jid r-1 (spec 6.28 caveat).
			h.same(h.pop(100, "q", "w", 1), []string{"r-1"}, "pop after re-creating")
			h.same(h.historyWhats(100, "r-1"), []string{"put", "popped", "done", "put", "popped"}, "history of r-1")
		}},
		{"recur/tag_and_untag", func(h *H) {
			h.recur(0, "q", "r", 60, 10)
			h.do(0, "recur.tag", "r", "a", "b").text(`["a","b"]`)
			h.do(0, "recur.tag", "r", "a", "c").text(`["a","b","c"]`)
			h.do(0, "recur.tag", "r", "d", "d").text(`["a","b","c","d","d"]`)
			h.do(0, "recur.untag", "r", "d", "a", "zz").text(`["b","c"]`)
			h.do(0, "tag", "get", "b").jsonIs(`{"total":0,"jobs":{}}`)
			h.do(0, "recur.get", "r").contains(`"tags":["b","c"]`)
			h.same(h.pop(10, "q", "w", 1), []string{"r-1"}, "pop")
			h.jobHas(10, "r-1", obj{"tags": []string{"b", "c"}})
			h.do(10, "tag", "get", "b").jsonIs(`{"total":1,"jobs":["r-1"]}`)
			h.do(10, "recur.untag", "r", "b", "c").text("{}")
			h.do(10, "recur.get", "r").contains(`"tags":{}`)
		}},
		{"recur/tag_errors", func(h *H) {
			h.do(0, "recur.tag", "nope", "a").err("Tag(): Job nope does not exist")
			h.do(0, "recur.untag", "nope", "a").err("Untag(): Job nope does not exist")
		}},
	}
}
