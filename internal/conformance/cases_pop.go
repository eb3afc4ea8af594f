package conformance

import "fmt"

// Spec 2.4, 6.19-6.21: pop, peek, ordering and pause.
func popPeekCases() []testCase {
	return []testCase{
		{"pop/validation_errors", func(h *H) {
			h.put(0, "q", "j")
			h.noEffect(0, []string{"q", "j", "w"}, func() {
				h.do(0, "pop").err("Queue(): no queue name provided")
				h.do(0, "pop", "q").err(`Pop(): Arg "worker" missing`)
				h.do(0, "pop", "q", "w").err(`Pop(): Arg "count" missing or not a number: nil`)
				h.do(0, "pop", "q", "w", "x").err(`Pop(): Arg "count" missing or not a number: x`)
			})
		}},
		{"peek/validation_errors", func(h *H) {
			h.put(0, "q", "j")
			h.noEffect(0, []string{"q", "j"}, func() {
				h.do(0, "peek").err("Queue(): no queue name provided")
				h.do(0, "peek", "q").err(`Peek(): Arg "count" missing or not a number: nil`)
				h.do(0, "peek", "q", "x").err(`Peek(): Arg "count" missing or not a number: x`)
			})
		}},
		{"pop/full_json", func(h *H) {
			h.put(0, "q", "j")
			jobs := h.popJobs(5, "q", "w", 1)
			want := newJob("j", "q", 0)
			want["state"] = "running"
			want["worker"] = "w"
			want["expires"] = 65
			want["history"] = arr{hist(0, "put", "q", "q"), hist(5, "popped", "worker", "w")}
			if len(jobs) != 1 {
				h.t.Fatalf("pop returned %d jobs, want 1", len(jobs))
			}
			h.objHas(jobs[0], want, "pop reply")
			if len(jobs[0]) != 17 {
				h.t.Errorf("pop reply has %d keys, want 17: %v", len(jobs[0]), jobs[0])
			}
			h.jobIs(6, "j", want)
			h.do(6, "jobs", "running", "q").is([]string{"j"})
			h.do(6, "queues", "q").jsonIs(obj{"name": "q", "waiting": 0, "running": 1, "stalled": 0, "scheduled": 0, "depends": 0, "recurring": 0, "paused": false})
		}},
		{"pop/many_in_batches", func(h *H) {
			var all []string
			for i := range 10 {
				jid := fmt.Sprintf("j%d", i)
				all = append(all, jid)
				h.put(i, "q", jid)
			}
			h.same(h.pop(10, "q", "w", 4), all[:4], "first pop of 4")
			h.same(h.pop(10, "q", "w", 10), all[4:], "second pop of 10")
			h.do(10, "pop", "q", "w", 10).text("{}")
			h.do(10, "length", "q").is(10)
		}},
		{"pop/higher_priority_first", func(h *H) {
			h.put(0, "q", "a", "priority", 0)
			h.put(0, "q", "b", "priority", 5)
			h.put(0, "q", "c", "priority", -10)
			h.put(0, "q", "d", "priority", 9)
			h.same(h.peek(1, "q", 10), []string{"d", "b", "a", "c"}, "peek order")
			h.same(h.pop(1, "q", "w", 10), []string{"d", "b", "a", "c"}, "pop order")
		}},
		{"pop/earlier_put_first", func(h *H) {
			h.put(0, "q", "c")
			h.put(1, "q", "a")
			h.put(2, "q", "b")
			h.same(h.peek(3, "q", 10), []string{"c", "a", "b"}, "peek order")
			h.same(h.pop(3, "q", "w", 1), []string{"c"}, "pop 1")
			h.same(h.pop(3, "q", "w", 1), []string{"a"}, "pop 1")
			h.same(h.pop(3, "q", "w", 1), []string{"b"}, "pop 1")
		}},
		{"pop/ties_reverse_lexicographic", func(h *H) {
			h.put(5, "q", "b")
			h.put(5, "q", "a")
			h.put(5, "q", "c")
			h.same(h.peek(5, "q", 3), []string{"c", "b", "a"}, "peek order of equal scores")
			h.same(h.pop(5, "q", "w", 3), []string{"c", "b", "a"}, "pop order of equal scores")
		}},
		{"pop/priority_beats_time", func(h *H) {
			h.put(0, "q", "old", "priority", 1)
			h.put(100, "q", "new", "priority", 2)
			h.same(h.pop(200, "q", "w", 2), []string{"new", "old"}, "pop order")
		}},
		{"pop/count_zero_registers_worker", func(h *H) {
			h.put(0, "q", "j")
			h.do(1, "pop", "q", "w", 0).text("{}")
			h.do(1, "workers").jsonIs(`[{"name":"w","jobs":0,"stalled":0}]`)
			h.wantState(1, "waiting", "j")
		}},
		{"pop/empty_queue_registers_worker", func(h *H) {
			h.do(1, "pop", "q", "w", 5).text("{}")
			h.do(1, "workers").jsonIs(`[{"name":"w","jobs":0,"stalled":0}]`)
		}},
		{"peek/does_not_change_job", func(h *H) {
			h.put(0, "q", "j")
			jobs := h.jobList(h.do(3, "peek", "q", 1))
			if len(jobs) != 1 {
				h.t.Fatalf("peek returned %d jobs, want 1", len(jobs))
			}
			h.objHas(jobs[0], newJob("j", "q", 0), "peek reply")
			h.jobIs(4, "j", newJob("j", "q", 0))
			h.do(4, "workers").text("{}")
			h.same(h.pop(5, "q", "w", 5), []string{"j"}, "pop after peek")
		}},
		{"peek/count_limits", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.put(2, "q", "c")
			h.same(h.peek(3, "q", 2), []string{"a", "b"}, "peek 2")
			h.same(h.peek(3, "q", 0), []string{}, "peek 0")
			h.do(3, "peek", "q", 0).text("{}")
		}},
		{"peek/expired_locks_first_without_invalidating", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.popOne(2, "q", "w", "a")
			h.wantEvents(func() {
				jobs := h.jobList(h.do(63, "peek", "q", 10))
				h.same(jidsOf(jobs), []string{"a", "b"}, "peek after a's lock expired")
				if len(jobs) == 2 {
					h.objHas(jobs[0], obj{"state": "running", "worker": "w", "expires": 62}, "peeked a")
				}
			})
			h.jobHas(63, "a", obj{"history": arr{hist(0, "put", "q", "q"), hist(2, "popped", "worker", "w")}})
			// The pop that follows does the courtesy pass: a is not handed out.
			h.same(h.pop(63, "q", "w2", 10), []string{"b"}, "pop after the expiry")
		}},
		{"pop/paused_queue", func(h *H) {
			h.put(0, "q", "j")
			h.do(0, "pause", "q").isNil()
			h.do(1, "pop", "q", "w", 5).text("{}")
			h.do(1, "workers").text("{}")
			h.same(h.peek(1, "q", 5), []string{"j"}, "peek of a paused queue")
			h.do(1, "queues", "q").jsonIs(obj{"name": "q", "waiting": 1, "running": 0, "stalled": 0, "scheduled": 0, "depends": 0, "recurring": 0, "paused": true})
			h.do(2, "unpause", "q").isNil()
			h.do(2, "queues", "q").jsonIs(obj{"name": "q", "waiting": 1, "running": 0, "stalled": 0, "scheduled": 0, "depends": 0, "recurring": 0, "paused": false})
			h.same(h.pop(3, "q", "w", 5), []string{"j"}, "pop after unpause")
		}},
		{"pause/does_not_stop_other_commands", func(h *H) {
			h.put(0, "q", "a")
			h.popOne(1, "q", "w", "a")
			h.do(2, "pause", "q").isNil()
			h.put(3, "q", "b")
			h.do(4, "heartbeat", "a", "w").is(64)
			h.complete(5, "a", "w", "q")
			h.do(5, "length", "q").is(1)
		}},
		{"pause/paused_pop_skips_lock_invalidation", func(h *H) {
			h.put(0, "q", "a")
			h.popOne(1, "q", "w", "a")
			h.do(2, "pause", "q").isNil()
			h.wantEvents(func() {
				h.do(100, "pop", "q", "w2", 5).text("{}")
			})
			h.jobHas(100, "a", obj{"state": "running", "worker": "w"})
			h.do(100, "jobs", "stalled", "q").is([]string{"a"})
		}},
		{"pause/several_queues_and_arity", func(h *H) {
			qs := h.queuesOr("a", "b")
			a, b := qs[0], qs[1]
			h.do(0, "pause", a, b).isNil()
			h.do(0, "queues", a).jsonIs(obj{"name": a, "waiting": 0, "running": 0, "stalled": 0, "scheduled": 0, "depends": 0, "recurring": 0, "paused": true})
			h.do(0, "queues", b).jsonIs(obj{"name": b, "waiting": 0, "running": 0, "stalled": 0, "scheduled": 0, "depends": 0, "recurring": 0, "paused": true})
			h.do(0, "unpause", a, b).isNil()
			h.do(0, "queues", b).jsonIs(obj{"name": b, "waiting": 0, "running": 0, "stalled": 0, "scheduled": 0, "depends": 0, "recurring": 0, "paused": false})
			h.do(0, "pause").errContains("Wrong number of args calling Redis command from script")
			h.do(0, "unpause").errContains("Wrong number of args calling Redis command from script")
		}},
	}
}

// Spec 12: max concurrency.
func concurrencyCases() []testCase {
	put5 := func(h *H) {
		for i, j := range []string{"a", "b", "c", "d", "e"} {
			h.put(i, "q", j)
		}
	}
	return []testCase{
		{"concurrency/limit_caps_pop", func(h *H) {
			h.do(0, "config.set", "q-max-concurrency", 2).isNil()
			put5(h)
			h.same(h.pop(10, "q", "w", 5), []string{"a", "b"}, "pop 5 with limit 2")
			h.do(11, "pop", "q", "w2", 5).text("{}")
			h.do(11, "workers").jsonIs(`[{"name":"w2","jobs":0,"stalled":0},{"name":"w","jobs":2,"stalled":0}]`)
			h.complete(12, "a", "w", "q")
			h.same(h.pop(13, "q", "w", 5), []string{"c"}, "pop after one completed")
		}},
		{"concurrency/zero_means_unlimited", func(h *H) {
			h.do(0, "config.set", "q-max-concurrency", 0).isNil()
			put5(h)
			h.same(h.pop(10, "q", "w", 5), []string{"a", "b", "c", "d", "e"}, "pop 5 with limit 0")
		}},
		{"concurrency/lowering_below_running", func(h *H) {
			h.do(0, "config.set", "q-max-concurrency", 3).isNil()
			put5(h)
			h.same(h.pop(10, "q", "w", 5), []string{"a", "b", "c"}, "pop with limit 3")
			h.do(11, "config.set", "q-max-concurrency", 1).isNil()
			h.do(12, "pop", "q", "w", 5).text("{}")
			h.complete(13, "a", "w", "q")
			h.complete(13, "b", "w", "q")
			h.do(14, "pop", "q", "w", 5).text("{}")
			h.complete(15, "c", "w", "q")
			h.same(h.pop(16, "q", "w", 5), []string{"d"}, "pop after all finished")
		}},
		{"concurrency/raising", func(h *H) {
			h.do(0, "config.set", "q-max-concurrency", 1).isNil()
			put5(h)
			h.same(h.pop(10, "q", "w", 5), []string{"a"}, "pop with limit 1")
			h.do(11, "config.set", "q-max-concurrency", 3).isNil()
			h.same(h.pop(12, "q", "w", 5), []string{"b", "c"}, "pop with limit 3")
		}},
		{"concurrency/expired_locks_do_not_count", func(h *H) {
			h.do(0, "config.set", "q-max-concurrency", 1).isNil()
			h.do(0, "config.set", "grace-period", 0).isNil()
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.same(h.pop(2, "q", "w1", 5), []string{"a"}, "first pop")
			h.do(10, "pop", "q", "w2", 5).text("{}")
			// a's lock expired at 62: it no longer counts, and the pop that
			// invalidates it hands it out inside the limit.
			h.same(h.pop(63, "q", "w2", 5), []string{"a"}, "pop after a's lock expired")
			h.jobHas(63, "a", obj{"worker": "w2", "remaining": 4})
			h.wantState(63, "waiting", "b")
			h.do(64, "pop", "q", "w3", 5).text("{}")
		}},
		{"concurrency/per_queue", func(h *H) {
			h.do(0, "config.set", "q-max-concurrency", 1).isNil()
			h.put(0, "q", "a")
			h.put(0, "q", "b")
			h.put(0, "other", "c")
			h.put(0, "other", "d")
			h.same(len(h.pop(1, "q", "w", 5)), 1, "pop from the limited queue")
			h.same(len(h.pop(1, "other", "w", 5)), 2, "pop from the other queue")
		}},
	}
}
