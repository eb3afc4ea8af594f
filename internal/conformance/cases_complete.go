package conformance

import "fmt"

// Spec 4.3, 6.6: complete.
func completeCases() []testCase {
	return []testCase{
		{"complete/validation_errors", func(h *H) {
			qs := h.queuesOr("q", "q2")
			q, q2 := qs[0], qs[1]
			h.put(0, q, "j")
			h.popOne(1, q, "w", "j")
			h.noEffect(2, []string{q, "j", "w", q2}, func() {
				h.do(2, "complete").err("Job(): no jid provided")
				h.do(2, "complete", "j").err(`Complete(): Arg "worker" missing`)
				h.do(2, "complete", "j", "w").err(`Complete(): Arg "queue" missing`)
				h.do(2, "complete", "j", "w", q).errRE(decodeNilRE)
				jsonArgErrors(h, 2, "complete", []any{"j", "w", q, "{}"}, 3)
				h.do(2, "complete", "j", "w", q, "false").err(`Complete(): Arg "data" missing or not JSON: false`)
				h.do(2, "complete", "j", "w", q, noData, "next", q2, "delay", "x").err("assertion failed!")
				h.do(2, "complete", "j", "w", q, noData, "next", q2, "depends", "false").err(`Complete(): Arg "depends" not JSON: false`)
				h.do(2, "complete", "j", "w", q, noData, "next", q2, "depends", "[").anyErr()
				h.do(2, "complete", "j", "w", q, noData, "delay", 10).err(`Complete(): "delay" cannot be used without a "next".`)
				h.do(2, "complete", "j", "w", q, noData, "depends", `["a"]`).err(`Complete(): "depends" cannot be used without a "next".`)
				h.do(2, "complete", "nope", "w", q, noData).err("Complete(): Job nope does not exist")
				h.do(2, "complete", "j", "w2", q, noData).err("Complete(): Job j has been handed out to another worker: w")
				h.do(2, "complete", "j", "w", q2, noData).err("Complete(): Job j running in another queue: " + q)
			})
		}},
		{"complete/full_json", func(h *H) {
			h.put(0, "q", "j", "retries", 3)
			h.popOne(1, "q", "w", "j")
			h.do(2, "retry", "j", "q", "w").is(2)
			h.popOne(3, "q", "w", "j")
			h.do(4, "complete", "j", "w", "q", `{"done": true}`).is("complete")
			want := newJob("j", "q", 0)
			want["state"] = "complete"
			want["queue"] = ""
			want["data"] = `{"done": true}`
			want["retries"] = 3
			want["remaining"] = 3
			want["history"] = arr{
				hist(0, "put", "q", "q"),
				hist(1, "popped", "worker", "w"),
				hist(3, "popped", "worker", "w"),
				hist(4, "done"),
			}
			h.jobIs(5, "j", want)
			h.do(5, "jobs", "complete").is([]string{"j"})
			h.do(5, "length", "q").is(0)
			h.do(5, "workers", "w").jsonIs(`{"jobs":{},"stalled":{}}`)
			h.do(5, "jobs", "running", "q").is([]string{})
		}},
		{"complete/data_verbatim_no_array_mangling", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(1, "q", "w", "j")
			data := `{"list": [], "path": "a/b", "n": 1.0}`
			h.do(2, "complete", "j", "w", "q", data).is("complete")
			h.jobHas(2, "j", obj{"data": data})
		}},
		{"complete/not_running_states", func(h *H) {
			h.put(0, "q", "waiting")
			h.putDelay(0, "q", "scheduled", 100)
			h.put(0, "q", "depends", "depends", []string{"waiting"})
			h.put(0, "q2", "failed")
			h.popOne(1, "q2", "w", "failed")
			h.fail(2, "failed", "w", "g", "m")
			h.put(0, "q3", "complete")
			h.popOne(1, "q3", "w", "complete")
			h.complete(2, "complete", "w", "q3")
			for _, c := range []struct{ jid, q string }{
				{"waiting", "q"}, {"scheduled", "q"}, {"depends", "q"}, {"failed", "q2"}, {"complete", ""},
			} {
				q := c.q
				if q == "" {
					q = "q3"
				}
				h.do(3, "complete", c.jid, "w", q, noData).err(fmt.Sprintf("Complete(): Job %s is not currently running: %s", c.jid, c.jid))
			}
		}},
		{"complete/stalled_job_rejected", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(1, "q", "w", "j")
			h.do(2, "timeout", "j").isNil()
			h.do(3, "complete", "j", "w", "q", noData).err("Complete(): Job j is not currently running: stalled")
		}},
		{"complete/advance_to_next_queue", func(h *H) {
			qs := h.queuesOr("q", "q2")
			q, q2 := qs[0], qs[1]
			h.put(0, q, "j", "retries", 2)
			h.popOne(1, q, "w", "j")
			h.do(2, "retry", "j", q, "w").is(1)
			h.popOne(3, q, "w", "j")
			h.do(4, "complete", "j", "w", q, `{"step":2}`, "next", q2).is("waiting")
			h.jobHas(4, "j", obj{
				"state": "waiting", "queue": q2, "worker": "", "expires": 0, "remaining": 2,
				"failure": obj{}, "data": `{"step":2}`,
				"history": arr{
					hist(0, "put", "q", q), hist(1, "popped", "worker", "w"),
					hist(3, "popped", "worker", "w"), hist(4, "done"), hist(4, "put", "q", q2),
				},
			})
			h.do(4, "jobs", "complete").is([]string{})
			h.do(4, "length", q).is(0)
			h.do(4, "length", q2).is(1)
			h.do(4, "queues").jsonIs(arr{
				obj{"name": q, "waiting": 0, "running": 0, "stalled": 0, "scheduled": 0, "depends": 0, "recurring": 0, "paused": false},
				obj{"name": q2, "waiting": 1, "running": 0, "stalled": 0, "scheduled": 0, "depends": 0, "recurring": 0, "paused": false},
			})
			h.popOne(5, q2, "w", "j")
			h.complete(6, "j", "w", q2)
		}},
		{"complete/advance_clears_failure", func(h *H) {
			qs := h.queuesOr("q", "q2")
			q, q2 := qs[0], qs[1]
			h.put(0, q, "j")
			h.popOne(1, q, "w", "j")
			h.fail(2, "j", "w", "g", "m")
			h.put(3, q, "j")
			h.popOne(4, q, "w", "j")
			h.do(5, "complete", "j", "w", q, noData, "next", q2).is("waiting")
			h.jobHas(5, "j", obj{"failure": obj{}})
		}},
		{"complete/advance_with_delay", func(h *H) {
			qs := h.queuesOr("q", "q2")
			q, q2 := qs[0], qs[1]
			h.put(0, q, "j")
			h.popOne(1, q, "w", "j")
			h.do(2, "complete", "j", "w", q, noData, "next", q2, "delay", 10).is("scheduled")
			// Spec 4.1 and 16.7: the state field says waiting while the job
			// sits in the scheduled set.
			h.wantState(2, "waiting", "j")
			h.do(2, "jobs", "scheduled", q2).is([]string{"j"})
			h.do(2, "length", q2).is(1)
			h.same(h.pop(5, q2, "w", 5), []string{}, "pop before the delay")
			h.same(h.pop(12, q2, "w", 5), []string{"j"}, "pop after the delay")
		}},
		{"complete/advance_with_unmet_depends", func(h *H) {
			qs := h.queuesOr("q", "q2")
			q, q2 := qs[0], qs[1]
			h.put(0, q, "dep")
			h.put(0, q, "j")
			h.popOne(1, q, "w", "j")
			h.do(2, "complete", "j", "w", q, noData, "next", q2, "depends", []string{"dep", "missing"}).is("depends")
			h.jobHas(2, "j", obj{"state": "depends", "queue": q2, "dependencies": []string{"dep"}})
			h.jobHas(2, "dep", obj{"dependents": []string{"j"}})
			h.do(2, "jobs", "depends", q2).is([]string{"j"})
			h.popOne(3, q, "w", "dep")
			h.complete(4, "dep", "w", q)
			h.wantState(4, "waiting", "j")
			h.popOne(5, q2, "w", "j")
		}},
		{"complete/advance_with_delay_and_unmet_depends", func(h *H) {
			qs := h.queuesOr("q", "q2")
			q, q2 := qs[0], qs[1]
			h.put(0, q, "dep")
			h.put(0, q, "j")
			h.popOne(1, q, "w", "j")
			h.do(2, "complete", "j", "w", q, noData, "next", q2, "delay", 50, "depends", []string{"dep"}).is("depends")
			h.wantState(2, "depends", "j")
			h.popOne(3, q, "w", "dep")
			h.complete(4, "dep", "w", q)
			// The hidden scheduled time (2 + 50) is used once the dependency is met.
			h.wantState(4, "scheduled", "j")
			h.do(4, "jobs", "scheduled", q2).is([]string{"j"})
			h.same(h.pop(51, q2, "w", 5), []string{}, "pop before the delay")
			h.same(h.pop(52, q2, "w", 5), []string{"j"}, "pop at the delay")
		}},
		{"complete/advance_with_delay_and_met_depends_ignores_delay", func(h *H) {
			qs := h.queuesOr("q", "q2")
			q, q2 := qs[0], qs[1]
			h.put(0, q, "j")
			h.popOne(1, q, "w", "j")
			h.do(2, "complete", "j", "w", q, noData, "next", q2, "delay", 50, "depends", []string{"missing"}).is("waiting")
			h.wantState(2, "waiting", "j")
			h.same(h.pop(3, q2, "w", 5), []string{"j"}, "pop right away")
		}},
		{"complete/advance_with_empty_depends_and_zero_delay", func(h *H) {
			// What the Ruby client sends for complete with next.
			qs := h.queuesOr("q", "q2")
			q, q2 := qs[0], qs[1]
			h.put(0, q, "j")
			h.popOne(1, q, "w", "j")
			h.do(2, "complete", "j", "w", q, noData, "next", q2, "delay", 0, "depends", "[]").is("waiting")
		}},
		{"complete/repeated_option_last_wins", func(h *H) {
			qs := h.queuesOr("q", "q2", "q3")
			q, q2, q3 := qs[0], qs[1], qs[2]
			h.put(0, q, "j")
			h.popOne(1, q, "w", "j")
			h.do(2, "complete", "j", "w", q, noData, "next", q2, "next", q3).is("waiting")
			h.jobHas(2, "j", obj{"queue": q3})
		}},
		{"complete/during_grace_period", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}") // courtesy notice
			h.complete(65, "j", "w", "q")
			h.wantState(65, "complete", "j")
		}},
		{"complete/after_lock_handed_to_another_worker", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.popOne(71, "q", "w2", "j")
			h.do(72, "complete", "j", "w", "q", noData).err("Complete(): Job j has been handed out to another worker: w2")
			h.complete(73, "j", "w2", "q")
		}},
	}
}

// Spec 4.7: completed-job retention.
func retentionCases() []testCase {
	completeIn := func(h *H, now int, q, jid string) {
		h.t.Helper()
		h.put(now, q, jid)
		h.popOne(now, q, "w", jid)
		h.complete(now, jid, "w", q)
	}
	completeAt := func(h *H, now int, jid string) {
		h.t.Helper()
		completeIn(h, now, "q", jid)
	}
	return []testCase{
		{"retention/by_count", func(h *H) {
			h.do(0, "config.set", "jobs-history-count", 3).isNil()
			for i := range 6 {
				completeAt(h, i, fmt.Sprintf("j%d", i))
			}
			h.do(10, "jobs", "complete").is([]string{"j5", "j4", "j3"})
			for i := range 3 {
				h.do(10, "get", fmt.Sprintf("j%d", i)).isNil()
			}
			h.wantState(10, "complete", "j3")
		}},
		{"retention/by_age", func(h *H) {
			h.do(0, "config.set", "jobs-history", 100).isNil()
			completeAt(h, 0, "a")
			completeAt(h, 50, "b")
			completeAt(h, 99, "c")
			h.do(99, "jobs", "complete").is([]string{"c", "b", "a"})
			// At 100, a (completed at 0) is exactly jobs-history old: expired.
			completeAt(h, 100, "d")
			h.do(100, "jobs", "complete").is([]string{"d", "c", "b"})
			h.do(100, "get", "a").isNil()
			completeAt(h, 160, "e")
			h.do(160, "jobs", "complete").is([]string{"e", "d", "c"})
			h.do(160, "get", "b").isNil()
		}},
		{"retention/negative_age_expires_job_just_completed", func(h *H) {
			h.do(0, "config.set", "jobs-history", -1).isNil()
			completeAt(h, 5, "j")
			h.do(5, "get", "j").isNil()
			h.do(5, "jobs", "complete").is([]string{})
		}},
		{"retention/zero_count_deletes_everything", func(h *H) {
			completeAt(h, 0, "a")
			h.do(1, "config.set", "jobs-history-count", 0).isNil()
			completeAt(h, 2, "b")
			h.do(2, "get", "a").isNil()
			h.do(2, "get", "b").isNil()
			h.do(2, "jobs", "complete").is([]string{})
		}},
		{"retention/runs_only_on_plain_complete", func(h *H) {
			qs := h.queuesOr("q", "q2")
			q, q2 := qs[0], qs[1]
			h.do(0, "config.set", "jobs-history-count", 1).isNil()
			completeIn(h, 0, q, "a")
			h.put(1, q, "b")
			h.popOne(1, q, "w", "b")
			h.do(2, "complete", "b", "w", q, noData, "next", q2).is("waiting")
			h.do(2, "jobs", "complete").is([]string{"a"})
			h.wantState(2, "complete", "a")
			h.wantState(2, "waiting", "b")
		}},
		{"retention/removes_tag_index_entries", func(h *H) {
			h.do(0, "config.set", "jobs-history-count", 1).isNil()
			h.put(0, "q", "a", "tags", []string{"t", "u"})
			h.popOne(0, "q", "w", "a")
			h.complete(0, "a", "w", "q")
			h.do(0, "tag", "get", "t").jsonIs(`{"total":1,"jobs":["a"]}`)
			completeAt(h, 1, "b")
			h.do(1, "tag", "get", "t").jsonIs(`{"total":0,"jobs":{}}`)
			h.do(1, "tag", "get", "u").jsonIs(`{"total":0,"jobs":{}}`)
		}},
		{"retention/tracked_job_reported_expired", func(h *H) {
			h.do(0, "config.set", "jobs-history-count", 1).isNil()
			h.put(0, "q", "a")
			h.do(0, "track", "track", "a").text("1")
			h.popOne(0, "q", "w", "a")
			h.complete(0, "a", "w", "q")
			completeAt(h, 1, "b")
			h.do(1, "track").jsonIs(`{"jobs":{},"expired":["a"]}`)
		}},
		{"retention/is_global_across_queues", func(h *H) {
			qs := h.queuesOr("q", "other")
			h.do(0, "config.set", "jobs-history-count", 1).isNil()
			completeIn(h, 0, qs[0], "a")
			completeIn(h, 1, qs[1], "b")
			h.do(1, "get", "a").isNil()
			h.do(1, "jobs", "complete").is([]string{"b"})
		}},
	}
}
