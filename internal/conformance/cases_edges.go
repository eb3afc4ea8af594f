package conformance

// Boundary rules and bug-compatible quirks (spec 1.4, 1.5, 2.4, 9, 16.15).
func edgeCases() []testCase {
	return []testCase{
		{"edge/put_repeated_option_last_wins", func(h *H) {
			h.put(0, "q", "j", "priority", 1, "priority", 2, "tags", []string{"a"}, "tags", []string{"b"})
			h.jobHas(0, "j", obj{"priority": 2, "tags": []string{"b"}})
		}},
		{"edge/complete_dangling_option_is_ignored", func(h *H) {
			// complete pairs options without the odd-count check (spec 1.5):
			// a dangling "next" has no value, so this is a plain complete.
			h.put(0, "q", "j")
			h.popOne(1, "q", "w", "j")
			h.do(2, "complete", "j", "w", "q", noData, "next").is("complete")
			h.wantState(2, "complete", "j")
		}},
		{"edge/put_tags_json_string_fails_after_publishing", func(h *H) {
			// Spec 1.4: tags that decode to a string pass the JSON check and
			// break when iterated, after the put event was published.
			h.wantEvents(func() {
				h.do(0, "put", putter, "q", "j", klass, noData, 0, "tags", `"abc"`).errRE(`bad argument #1 to '\w+' \(table expected, got string\)`)
			}, ev("ql:log", putMsg("j", "q")))
		}},
		{"edge/scheduled_job_scored_at_promotion", func(h *H) {
			// Spec 2.4: a delayed job enters the work set with the time of
			// the check that promotes it, not its scheduled time.
			h.putDelay(0, "q", "a", 10)
			h.put(20, "q", "b")
			h.same(h.pop(30, "q", "w", 2), []string{"b", "a"}, "pop order")
		}},
		{"edge/negative_schedule_time_never_released", func(h *H) {
			h.putDelay(-100, "q", "j", 10)
			h.same(h.pop(0, "q", "w", 5), []string{}, "pop")
			h.do(0, "jobs", "scheduled", "q").is([]string{"j"})
			h.wantState(0, "scheduled", "j")
		}},
		{"edge/negative_recurring_time_never_spawned_or_listed", func(h *H) {
			h.recur(-100, "q", "r", 60, 0)
			h.do(0, "jobs", "recurring", "q").is([]string{})
			h.same(h.pop(0, "q", "w", 5), []string{}, "pop")
			h.do(0, "queues", "q").jsonIs(queueObj("q", 0, 0, 0, 0, 0, 1, false))
		}},
		{"edge/negative_lock_expiry_boundaries", func(h *H) {
			// queues counts stalled in [0, now]; jobs stalled uses [-inf, now].
			h.put(-200, "q", "j")
			h.popOne(-100, "q", "w", "j")
			h.do(0, "queues", "q").jsonIs(queueObj("q", 0, 1, 0, 0, 0, 0, false))
			h.do(0, "jobs", "stalled", "q").is([]string{"j"})
			h.do(0, "jobs", "running", "q").is([]string{})
		}},
		{"edge/negative_last_seen_worker_never_pruned", func(h *H) {
			h.do(-1000000, "pop", "q", "w", 1).text("{}")
			h.do(0, "workers").jsonIs(`[{"name":"w","jobs":0,"stalled":0}]`)
		}},
		{"edge/negative_wait_not_in_histogram", func(h *H) {
			h.put(100, "q", "j")
			h.popOne(50, "q", "w", "j")
			h.do(50, "stats", "q", 50).jsonIs(statsObj(0, 0, 0, statBlock(1, -50, 0, nil), noStats()))
		}},
		{"edge/retry_of_job_in_other_queue_ignores_queue_field", func(h *H) {
			// Spec 6.10: the queue argument is not checked against the job.
			h.put(0, "q", "j")
			h.popOne(1, "q", "w", "j")
			h.do(2, "retry", "j", "q", "w", 0).is(4)
			h.popOne(3, "q", "w", "j")
		}},
		{"edge/pop_from_job_with_grace_field_after_put", func(h *H) {
			// The grace flag survives put (spec 4.4), so a job that got a
			// courtesy notice, then was re-put and popped, is invalidated at
			// once on its next expiry, even by another queue's pop order.
			h.put(0, "q", "j")
			h.popOne(0, "q", "w1", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.put(62, "q", "j")
			h.popOne(63, "q", "w1", "j")
			h.wantEvents(func() { h.popOne(124, "q", "w2", "j") })
		}},
	}
}
