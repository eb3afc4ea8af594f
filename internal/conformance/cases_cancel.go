package conformance

// Spec 6.22 and 7: cancel.
func cancelCases() []testCase {
	return []testCase{
		{"cancel/waiting", func(h *H) {
			h.put(0, "q", "j")
			h.do(1, "cancel", "j").is([]string{"j"})
			h.do(1, "get", "j").isNil()
			h.do(1, "length", "q").is(0)
			h.same(h.pop(1, "q", "w", 5), []string{}, "pop after cancel")
		}},
		{"cancel/no_args_and_missing", func(h *H) {
			h.do(0, "cancel").is([]string{})
			h.do(0, "cancel", "x", "y").is([]string{"x", "y"})
		}},
		{"cancel/scheduled_and_depends", func(h *H) {
			h.put(0, "q", "a")
			h.putDelay(0, "q", "s", 10)
			h.put(0, "q", "d", "depends", []string{"a"})
			h.do(1, "cancel", "s", "d").is([]string{"s", "d"})
			h.do(1, "jobs", "scheduled", "q").is([]string{})
			h.do(1, "jobs", "depends", "q").is([]string{})
			h.jobHas(1, "a", obj{"dependents": obj{}})
			h.do(1, "queues", "q").jsonIs(obj{"name": "q", "waiting": 1, "running": 0, "stalled": 0, "scheduled": 0, "depends": 0, "recurring": 0, "paused": false})
			// a no longer has dependents: it can be canceled alone.
			h.do(2, "cancel", "a").is([]string{"a"})
		}},
		{"cancel/running", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(1, "q", "w", "j")
			h.do(2, "cancel", "j").is([]string{"j"})
			h.do(2, "workers", "w").jsonIs(`{"jobs":{},"stalled":{}}`)
			h.do(2, "jobs", "running", "q").is([]string{})
			h.do(3, "complete", "j", "w", "q", noData).err("Complete(): Job j does not exist")
			h.do(3, "heartbeat", "j", "w").err("Heartbeat(): Job j does not exist")
			h.do(3, "fail", "j", "w", "g", "m").err("Fail(): Job jdoes not exist")
		}},
		{"cancel/complete_job_is_skipped", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(1, "q", "w", "j")
			h.complete(2, "j", "w", "q")
			h.wantEvents(func() {
				h.do(3, "cancel", "j").is([]string{"j"})
			})
			h.wantState(3, "complete", "j")
			h.do(3, "jobs", "complete").is([]string{"j"})
		}},
		{"cancel/failed", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(1, "q", "w", "j")
			h.fail(2, "j", "w", "g", "m")
			h.do(3, "cancel", "j").is([]string{"j"})
			h.do(3, "failed").text("{}")
			h.do(3, "failed", "g").jsonIs(`{"total":0,"jobs":{}}`)
			h.do(3, "get", "j").isNil()
		}},
		{"cancel/failed_keeps_rest_of_group", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.same(h.pop(2, "q", "w", 2), []string{"a", "b"}, "pop")
			h.fail(3, "a", "w", "g", "m")
			h.fail(4, "b", "w", "g", "m")
			h.do(5, "cancel", "a").is([]string{"a"})
			h.do(5, "failed").jsonIs(`{"g":1}`)
			h.do(5, "failed", "g").jsonIs(`{"total":1,"jobs":["b"]}`)
		}},
		{"cancel/after_retry_exhaustion", func(h *H) {
			h.put(0, "q", "j", "retries", 0)
			h.popOne(1, "q", "w", "j")
			h.do(2, "retry", "j", "q", "w").is(-1)
			h.do(3, "cancel", "j").is([]string{"j"})
			h.do(3, "failed").text("{}")
		}},
		{"cancel/after_lock_exhaustion", func(h *H) {
			h.put(0, "q", "j", "retries", 0)
			h.popOne(0, "q", "w", "j")
			h.do(61, "pop", "q", "w", 1).text("{}")
			h.do(71, "pop", "q", "w", 1).text("{}")
			h.wantState(71, "failed", "j")
			h.do(72, "cancel", "j").is([]string{"j"})
			h.do(72, "failed").text("{}")
		}},
		{"cancel/dependency_not_mentioned", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b", "depends", []string{"a"})
			h.noEffect(1, []string{"q", "a", "b"}, func() {
				h.do(1, "cancel", "a").err("Cancel(): a is a dependency of b but is not mentioned to be canceled")
			})
		}},
		{"cancel/dependency_check_is_before_any_write", func(h *H) {
			h.put(0, "q", "x")
			h.put(0, "q", "a")
			h.put(0, "q", "b", "depends", []string{"a"})
			h.noEffect(1, []string{"q", "a", "b", "x"}, func() {
				h.do(1, "cancel", "x", "a").err("Cancel(): a is a dependency of b but is not mentioned to be canceled")
			})
		}},
		{"cancel/with_dependents_in_either_order", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b", "depends", []string{"a"})
			h.do(1, "cancel", "a", "b").is([]string{"a", "b"})
			h.do(1, "get", "a").isNil()
			h.do(1, "get", "b").isNil()
			h.put(2, "q", "c")
			h.put(2, "q", "d", "depends", []string{"c"})
			h.do(3, "cancel", "d", "c").is([]string{"d", "c"})
			h.do(3, "get", "c").isNil()
			h.do(3, "length", "q").is(0)
		}},
		{"cancel/chain_needs_all", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b", "depends", []string{"a"})
			h.put(0, "q", "c", "depends", []string{"b"})
			h.do(1, "cancel", "a", "b").err("Cancel(): b is a dependency of c but is not mentioned to be canceled")
			h.do(1, "cancel", "c", "a", "b").is([]string{"c", "a", "b"})
			for _, j := range []string{"a", "b", "c"} {
				h.do(1, "get", j).isNil()
			}
		}},
		{"cancel/dependent_alone_unlinks_dependency", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b", "depends", []string{"a"})
			h.do(1, "cancel", "b").is([]string{"b"})
			h.jobHas(1, "a", obj{"dependents": obj{}})
			h.do(2, "cancel", "a").is([]string{"a"})
		}},
		{"cancel/removes_tags", func(h *H) {
			h.put(0, "q", "a", "tags", []string{"t"})
			h.put(0, "q", "b", "tags", []string{"t"})
			h.do(0, "tag", "top").jsonIs(`["t"]`)
			h.do(1, "cancel", "a").is([]string{"a"})
			h.do(1, "tag", "get", "t").jsonIs(`{"total":1,"jobs":["b"]}`)
			h.do(1, "tag", "top").text("{}")
		}},
		{"cancel/tracked_stays_in_tracked_set", func(h *H) {
			h.put(0, "q", "j")
			h.do(0, "track", "track", "j").text("1")
			h.do(1, "cancel", "j").is([]string{"j"})
			h.do(1, "track").jsonIs(`{"jobs":{},"expired":["j"]}`)
		}},
	}
}
