package conformance

// Spec 6.11 and 7: dependencies.
func dependsCases() []testCase {
	// finish pops jid from q and completes it.
	finish := func(h *H, now any, q, jid string) {
		h.t.Helper()
		h.popOne(now, q, "w", jid)
		h.complete(now, jid, "w", q)
	}
	return []testCase{
		{"depends/put_with_unmet_dependency", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b", "depends", []string{"a"})
			want := newJob("b", "q", 1)
			want["state"] = "depends"
			want["dependencies"] = []string{"a"}
			h.jobIs(1, "b", want)
			h.jobHas(1, "a", obj{"dependents": []string{"b"}, "dependencies": obj{}})
			h.do(1, "jobs", "depends", "q").is([]string{"b"})
			h.same(h.peek(1, "q", 5), []string{"a"}, "peek")
		}},
		{"depends/complete_unlocks", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b", "depends", []string{"a"})
			h.wantEvents(func() {
				h.popOne(2, "q", "w", "a")
				h.complete(3, "a", "w", "q")
			},
				ev("ql:log", `{"jid":"a","event":"completed","queue":"q"}`),
			)
			h.jobHas(3, "b", obj{"state": "waiting", "dependencies": obj{}})
			h.jobHas(3, "a", obj{"dependents": obj{}})
			h.do(3, "jobs", "depends", "q").is([]string{})
			h.popOne(4, "q", "w", "b")
		}},
		{"depends/unlocked_job_scored_at_completion_time", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b", "depends", []string{"a"})
			h.popOne(2, "q", "w", "a")
			h.put(5, "q", "c")
			h.complete(10, "a", "w", "q")
			h.same(h.pop(11, "q", "w", 2), []string{"c", "b"}, "pop order")
		}},
		{"depends/satisfied_or_missing_dependency_is_ignored", func(h *H) {
			h.put(0, "q", "a")
			finish(h, 1, "q", "a")
			h.put(2, "q", "b", "depends", []string{"a", "missing"})
			h.jobHas(2, "b", obj{"state": "waiting", "dependencies": obj{}})
			h.jobHas(2, "a", obj{"dependents": obj{}})
		}},
		{"depends/with_delay_goes_scheduled_when_unlocked", func(h *H) {
			h.put(0, "q", "a")
			h.putDelay(1, "q", "b", 20, "depends", []string{"a"})
			h.wantState(1, "depends", "b")
			h.do(1, "jobs", "scheduled", "q").is([]string{})
			finish(h, 5, "q", "a")
			h.wantState(5, "scheduled", "b")
			h.do(5, "jobs", "scheduled", "q").is([]string{"b"})
			h.same(h.pop(20, "q", "w", 5), []string{}, "pop before 21")
			h.same(h.pop(21, "q", "w", 5), []string{"b"}, "pop at 21")
		}},
		{"depends/unlock_after_delay_passed", func(h *H) {
			h.put(0, "q", "a")
			h.putDelay(1, "q", "b", 5, "depends", []string{"a"})
			finish(h, 50, "q", "a")
			h.wantState(50, "scheduled", "b")
			h.same(h.pop(50, "q", "w", 5), []string{"b"}, "pop after the stored time")
		}},
		{"depends/multiple", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b")
			h.put(1, "q", "c", "depends", []string{"a", "b"})
			h.jobHas(1, "c", obj{"dependencies": []string{"a", "b"}})
			finish(h, 2, "q", "b")
			h.jobHas(2, "c", obj{"state": "depends", "dependencies": []string{"a"}})
			finish(h, 3, "q", "a")
			h.jobHas(3, "c", obj{"state": "waiting", "dependencies": obj{}})
		}},
		{"depends/several_dependents", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b", "depends", []string{"a"})
			h.put(1, "q", "c", "depends", []string{"a"})
			h.jobHas(1, "a", obj{"dependents": []string{"b", "c"}})
			finish(h, 2, "q", "a")
			h.wantState(2, "waiting", "b", "c")
		}},
		{"depends/chain", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b", "depends", []string{"a"})
			h.put(0, "q", "c", "depends", []string{"b"})
			finish(h, 1, "q", "a")
			h.wantState(1, "waiting", "b")
			h.wantState(1, "depends", "c")
			finish(h, 2, "q", "b")
			h.wantState(2, "waiting", "c")
		}},
		{"depends/failed_dependency_blocks", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b", "depends", []string{"a"})
			h.popOne(1, "q", "w", "a")
			h.fail(2, "a", "w", "g", "m")
			h.wantState(2, "depends", "b")
			h.do(3, "cancel", "a").err("Cancel(): a is a dependency of b but is not mentioned to be canceled")
			h.put(4, "q", "a")
			finish(h, 5, "q", "a")
			h.wantState(5, "waiting", "b")
		}},
		{"depends/complete_with_next_does_not_unlock", func(h *H) {
			qs := h.queuesOr("q", "q2")
			q, q2 := qs[0], qs[1]
			h.put(0, q, "a")
			h.put(0, q, "b", "depends", []string{"a"})
			h.popOne(1, q, "w", "a")
			h.do(2, "complete", "a", "w", q, noData, "next", q2).is("waiting")
			h.wantState(2, "depends", "b")
			h.jobHas(2, "a", obj{"dependents": []string{"b"}})
			finish(h, 3, q2, "a")
			h.wantState(3, "waiting", "b")
		}},
		{"depends/fail_timeout_retry_keep_edges", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b", "depends", []string{"a"})
			h.popOne(1, "q", "w", "a")
			h.do(2, "retry", "a", "q", "w").is(4)
			h.popOne(3, "q", "w", "a")
			h.do(4, "timeout", "a").isNil()
			h.jobHas(4, "a", obj{"dependents": []string{"b"}})
			h.wantState(4, "depends", "b")
		}},
		{"depends/reput_replaces_edges", func(h *H) {
			h.put(0, "q", "a")
			h.put(0.5, "q", "c")
			h.put(1, "q", "b", "depends", []string{"a"})
			h.put(2, "q", "b", "depends", []string{"c"})
			h.jobHas(2, "b", obj{"state": "depends", "dependencies": []string{"c"}})
			h.jobHas(2, "a", obj{"dependents": obj{}})
			h.jobHas(2, "c", obj{"dependents": []string{"b"}})
			finish(h, 3, "q", "a")
			h.wantState(3, "depends", "b")
			finish(h, 4, "q", "c")
			h.wantState(4, "waiting", "b")
		}},
		{"depends/reput_with_overlapping_list", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "c")
			h.put(1, "q", "b", "depends", []string{"a", "c"})
			h.put(2, "q", "b", "depends", []string{"c"})
			h.jobHas(2, "b", obj{"dependencies": []string{"c"}})
			h.jobHas(2, "a", obj{"dependents": obj{}})
		}},
		{"depends/reput_without_depends_keeps_edges", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b", "depends", []string{"a"})
			h.put(2, "q", "b")
			h.jobHas(2, "b", obj{"state": "depends", "dependencies": []string{"a"}})
			h.put(3, "q", "b", "depends", "[]")
			h.jobHas(3, "b", obj{"state": "depends", "dependencies": []string{"a"}})
			h.putDelay(4, "q", "b", 10)
			h.jobHas(4, "b", obj{"state": "depends"})
			finish(h, 5, "q", "a")
			h.wantState(5, "scheduled", "b")
		}},
		{"depends/validation_errors", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b", "depends", []string{"a"})
			h.noEffect(1, []string{"q", "a", "b"}, func() {
				h.do(1, "depends").err("Job(): no jid provided")
				h.do(1, "depends", "b").err(`Depends(): Arg "command" missing`)
				h.do(1, "depends", "a", "on", "b").err("Depends(): Job a not in the depends state: waiting")
				h.do(1, "depends", "nope", "on", "a").err("Depends(): Job nope not in the depends state: nil")
				h.do(1, "depends", "b", "sideways", "a").err(`Depends(): Argument "command" must be "on" or "off"`)
			})
		}},
		{"depends/on_adds_edges", func(h *H) {
			h.put(0, "q", "a")
			h.put(0.5, "q", "c")
			h.put(0, "q", "done")
			finish(h, 1, "q", "done")
			h.put(2, "q", "b", "depends", []string{"a"})
			h.do(3, "depends", "b", "on", "c", "done", "missing").is(1)
			h.jobHas(3, "b", obj{"state": "depends", "dependencies": []string{"a", "c"}})
			h.jobHas(3, "c", obj{"dependents": []string{"b"}})
			finish(h, 4, "q", "a")
			h.wantState(4, "depends", "b")
			finish(h, 5, "q", "c")
			h.wantState(5, "waiting", "b")
		}},
		{"depends/off_one", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "c")
			h.put(1, "q", "b", "depends", []string{"a", "c"})
			h.wantEvents(func() {
				h.do(2, "depends", "b", "off", "a").is(1)
			})
			h.jobHas(2, "b", obj{"state": "depends", "dependencies": []string{"c"}})
			h.jobHas(2, "a", obj{"dependents": obj{}})
			h.do(3, "depends", "b", "off", "c").is(1)
			h.jobHas(3, "b", obj{"state": "waiting", "dependencies": obj{}})
			h.do(3, "jobs", "depends", "q").is([]string{})
			h.same(h.peek(3, "q", 5), []string{"c", "a", "b"}, "b back in work")
		}},
		{"depends/off_several", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "c")
			h.put(0, "q", "d")
			h.put(1, "q", "b", "depends", []string{"a", "c", "d"})
			h.do(2, "depends", "b", "off", "a", "d").is(1)
			h.jobHas(2, "b", obj{"state": "depends", "dependencies": []string{"c"}})
			h.do(3, "depends", "b", "off", "c", "missing").is(1)
			h.wantState(3, "waiting", "b")
		}},
		{"depends/off_all_ignores_delay", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "c")
			h.putDelay(1, "q", "b", 100, "depends", []string{"a", "c"})
			h.do(2, "depends", "b", "off", "all").is(1)
			h.jobHas(2, "b", obj{"state": "waiting", "dependencies": obj{}})
			h.jobHas(2, "a", obj{"dependents": obj{}})
			h.jobHas(2, "c", obj{"dependents": obj{}})
			h.do(2, "jobs", "scheduled", "q").is([]string{})
			h.do(2, "length", "q").is(3)
		}},
		{"depends/only_in_depends_state", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b", "depends", []string{"a"})
			finish(h, 1, "q", "a")
			h.do(2, "depends", "b", "on", "a").err("Depends(): Job b not in the depends state: waiting")
			h.do(2, "depends", "b", "off", "all").err("Depends(): Job b not in the depends state: waiting")
		}},
		{"depends/self_dependency_deadlocks", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "a", "depends", []string{"a"})
			h.jobHas(1, "a", obj{"state": "depends", "dependencies": []string{"a"}, "dependents": []string{"a"}})
		}},
	}
}
