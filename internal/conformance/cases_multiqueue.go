package conformance

// Operations that span queues, with names from Target.Queues so that a router
// suite can put the queues on different shards.
func multiQueueCases() []testCase {
	return []testCase{
		{"multi/put_moves_waiting_job", func(h *H) {
			qs := h.queues(2)
			h.put(0, qs[0], "j", "priority", 3, "tags", []string{"t"})
			h.put(1, qs[1], "j")
			want := newJob("j", qs[1], 0)
			want["priority"] = 3
			want["tags"] = []string{"t"}
			want["history"] = arr{hist(0, "put", "q", qs[0]), hist(1, "put", "q", qs[1])}
			h.jobIs(1, "j", want)
			h.do(1, "length", qs[0]).is(0)
			h.do(1, "length", qs[1]).is(1)
			h.same(h.pop(2, qs[0], "w", 5), []string{}, "pop from the old queue")
			h.same(h.pop(2, qs[1], "w", 5), []string{"j"}, "pop from the new queue")
			h.do(2, "tag", "get", "t").jsonIs(`{"total":1,"jobs":["j"]}`)
		}},
		{"multi/put_moves_each_state", func(h *H) {
			qs := h.queues(2)
			h.put(0, qs[0], "dep")
			h.put(0, qs[0], "waiting")
			h.putDelay(0, qs[0], "scheduled", 50)
			h.put(0, qs[0], "depends", "depends", []string{"dep"})
			h.put(0, qs[0], "running")
			h.put(0, qs[0], "failed")
			h.put(0, qs[0], "complete")
			for _, j := range []string{"running", "failed", "complete"} {
				h.do(1, "priority", j, 10).is(10)
			}
			h.same(h.pop(1, qs[0], "w", 3), []string{"running", "failed", "complete"}, "pop")
			h.fail(2, "failed", "w", "g", "m")
			h.complete(2, "complete", "w", qs[0])
			for _, j := range []string{"waiting", "scheduled", "depends", "running", "failed", "complete"} {
				h.put(3, qs[1], j)
			}
			h.do(3, "queues", qs[0]).jsonIs(queueObj(qs[0], 1, 0, 0, 0, 0, 0, false))
			// depends keeps its edge (spec 7: an absent depends list keeps
			// the old edges), so it waits in the new queue's depends set.
			h.do(3, "queues", qs[1]).jsonIs(queueObj(qs[1], 5, 0, 0, 0, 1, 0, false))
			h.do(3, "failed").text("{}")
			h.do(3, "jobs", "complete").is([]string{})
			h.do(3, "workers", "w").jsonIs(`{"jobs":{},"stalled":{}}`)
			h.popOne(4, qs[0], "w", "dep")
			h.complete(5, "dep", "w", qs[0])
			h.wantState(5, "waiting", "depends")
			h.do(5, "queues", qs[1]).jsonIs(queueObj(qs[1], 6, 0, 0, 0, 0, 0, false))
		}},
		{"multi/put_running_job_elsewhere_loses_lock", func(h *H) {
			qs := h.queues(2)
			h.put(0, qs[0], "j")
			h.popOne(1, qs[0], "w", "j")
			h.wantEvents(func() { h.put(2, qs[1], "j") },
				ev("ql:log", putMsg("j", qs[1])),
				ev("ql:w:w", lockLostMsg("j", "w")),
				ev("ql:log", lockLostMsg("j", "w")),
			)
			h.do(3, "complete", "j", "w", qs[0], noData).err("Complete(): Job j is not currently running: waiting")
			h.do(3, "jobs", "running", qs[0]).is([]string{})
			h.popOne(4, qs[1], "w", "j")
			h.do(5, "complete", "j", "w", qs[0], noData).err("Complete(): Job j running in another queue: " + qs[1])
			h.complete(5, "j", "w", qs[1])
		}},
		{"multi/complete_with_next", func(h *H) {
			qs := h.queues(3)
			h.put(0, qs[0], "j")
			h.popOne(1, qs[0], "w", "j")
			h.wantEvents(func() {
				h.do(2, "complete", "j", "w", qs[0], `{"n":1}`, "next", qs[1]).is("waiting")
			}, ev("ql:log", advancedMsg("j", qs[1], qs[0])))
			h.popOne(3, qs[1], "w", "j")
			h.do(4, "complete", "j", "w", qs[1], `{"n":2}`, "next", qs[2], "delay", 10).is("scheduled")
			h.do(4, "jobs", "scheduled", qs[2]).is([]string{"j"})
			h.popOne(14, qs[2], "w", "j")
			h.complete(15, "j", "w", qs[2])
			h.jobHas(15, "j", obj{"state": "complete", "queue": "", "data": noData})
			h.same(h.historyWhats(15, "j"), []string{"put", "popped", "done", "put", "popped", "done", "put", "popped", "done"}, "history whats")
			h.do(15, "queues").jsonIs(arr{
				queueObj(qs[0], 0, 0, 0, 0, 0, 0, false),
				queueObj(qs[1], 0, 0, 0, 0, 0, 0, false),
				queueObj(qs[2], 0, 0, 0, 0, 0, 0, false),
			})
		}},
		{"multi/complete_with_next_depends_across_queues", func(h *H) {
			qs := h.queues(3)
			h.put(0, qs[2], "dep")
			h.put(0, qs[0], "j")
			h.popOne(1, qs[0], "w", "j")
			h.do(2, "complete", "j", "w", qs[0], noData, "next", qs[1], "depends", []string{"dep"}).is("depends")
			h.do(2, "jobs", "depends", qs[1]).is([]string{"j"})
			h.popOne(3, qs[2], "w", "dep")
			h.complete(4, "dep", "w", qs[2])
			h.popOne(5, qs[1], "w", "j")
		}},
		{"multi/unfail_into_other_queue", func(h *H) {
			qs := h.queues(2)
			h.put(0, qs[0], "j")
			h.popOne(1, qs[0], "w", "j")
			h.fail(2, "j", "w", "g", "m")
			h.do(3, "unfail", qs[1], "g").is(1)
			h.jobHas(3, "j", obj{"state": "waiting", "queue": qs[1]})
			h.do(3, "queues", qs[1]).jsonIs(queueObj(qs[1], 1, 0, 0, 0, 0, 0, false))
			// unfail does not register the queue (spec 6.26).
			h.do(3, "queues").jsonIs(arr{queueObj(qs[0], 0, 0, 0, 0, 0, 0, false)})
			h.popOne(4, qs[1], "w", "j")
			h.complete(5, "j", "w", qs[1])
		}},
		{"multi/recur_update_queue", func(h *H) {
			qs := h.queues(2)
			h.recur(0, qs[0], "r", 60, 30)
			h.do(1, "recur.update", "r", "queue", qs[1]).is(1)
			h.do(1, "jobs", "recurring", qs[0]).is([]string{})
			h.do(1, "jobs", "recurring", qs[1]).is([]string{"r"})
			h.same(h.nextDue(qs[1], "r"), "30", "next due in the new queue")
			h.same(h.nextDue(qs[0], "r"), nil, "next due in the old queue")
			h.do(1, "recur.get", "r").jsonIs(recurObj("r", qs[1], 60))
			h.do(1, "queues").jsonIs(arr{
				queueObj(qs[0], 0, 0, 0, 0, 0, 0, false),
				queueObj(qs[1], 0, 0, 0, 0, 0, 1, false),
			})
			h.same(h.pop(30, qs[0], "w", 5), []string{}, "pop from the old queue")
			h.same(h.pop(30, qs[1], "w", 5), []string{"r-1"}, "pop from the new queue")
			h.jobHas(30, "r-1", obj{"queue": qs[1]})
		}},
		{"multi/reissued_recur_moves_queue", func(h *H) {
			qs := h.queues(2)
			h.recur(0, qs[0], "r", 60, 0)
			h.same(h.pop(0, qs[0], "w", 1), []string{"r-1"}, "pop")
			h.recur(10, qs[1], "r", 60, 0)
			h.do(10, "jobs", "recurring", qs[0]).is([]string{})
			h.do(10, "jobs", "recurring", qs[1]).is([]string{"r"})
			h.same(h.pop(10, qs[1], "w", 1), []string{"r-2"}, "pop from the new queue")
		}},
		{"multi/queues_in_first_seen_order", func(h *H) {
			qs := h.queues(3)
			h.put(0, qs[1], "a")
			h.put(1, qs[0], "b")
			h.recur(2, qs[2], "r", 60, 100)
			h.put(3, qs[1], "c")
			h.do(4, "queues").jsonIs(arr{
				queueObj(qs[1], 2, 0, 0, 0, 0, 0, false),
				queueObj(qs[0], 1, 0, 0, 0, 0, 0, false),
				queueObj(qs[2], 0, 0, 0, 0, 0, 1, false),
			})
		}},
		{"multi/dependency_across_queues", func(h *H) {
			qs := h.queues(2)
			h.put(0, qs[0], "a")
			h.put(1, qs[1], "b", "depends", []string{"a"})
			h.jobHas(1, "b", obj{"state": "depends", "dependencies": []string{"a"}})
			h.jobHas(1, "a", obj{"dependents": []string{"b"}})
			h.do(2, "cancel", "a").err("Cancel(): a is a dependency of b but is not mentioned to be canceled")
			h.popOne(3, qs[0], "w", "a")
			h.complete(4, "a", "w", qs[0])
			h.wantState(4, "waiting", "b")
			h.popOne(5, qs[1], "w", "b")
		}},
		{"multi/depends_on_and_off_across_queues", func(h *H) {
			qs := h.queues(3)
			h.put(0, qs[0], "a")
			h.put(0, qs[2], "c")
			h.put(0.5, qs[2], "d")
			h.put(1, qs[1], "b", "depends", []string{"a"})
			h.do(2, "depends", "b", "on", "c", "d").is(1)
			h.jobHas(2, "b", obj{"dependencies": []string{"a", "c", "d"}})
			h.do(3, "depends", "b", "off", "d").is(1)
			h.jobHas(3, "d", obj{"dependents": obj{}})
			h.popOne(4, qs[0], "w", "a")
			h.complete(5, "a", "w", qs[0])
			h.wantState(5, "depends", "b")
			h.popOne(6, qs[2], "w", "c")
			h.complete(7, "c", "w", qs[2])
			h.wantState(7, "waiting", "b")
			h.popOne(8, qs[1], "w", "b")
		}},
		{"multi/put_with_completed_dependency_elsewhere", func(h *H) {
			qs := h.queues(2)
			h.put(0, qs[0], "a")
			h.popOne(1, qs[0], "w", "a")
			h.complete(2, "a", "w", qs[0])
			h.put(3, qs[1], "b", "depends", []string{"a"})
			h.jobHas(3, "b", obj{"state": "waiting", "dependencies": obj{}})
		}},
		{"multi/requeue_into_other_queue", func(h *H) {
			qs := h.queues(2)
			h.put(0, qs[0], "j")
			h.do(1, "requeue", putter, qs[1], "j", klass, noData, 0).is("j")
			h.jobHas(1, "j", obj{"queue": qs[1], "state": "waiting"})
			h.do(1, "length", qs[0]).is(0)
			h.popOne(2, qs[1], "w", "j")
		}},
		{"multi/cancel_across_queues", func(h *H) {
			qs := h.queues(2)
			h.put(0, qs[0], "a")
			h.put(0, qs[1], "b", "depends", []string{"a"})
			h.do(1, "cancel", "b", "a").is([]string{"b", "a"})
			h.do(1, "length", qs[0]).is(0)
			h.do(1, "jobs", "depends", qs[1]).is([]string{})
		}},
		{"multi/global_listings_merge", func(h *H) {
			qs := h.queues(2)
			h.put(0, qs[0], "a", "tags", []string{"t"})
			h.put(1, qs[1], "b", "tags", []string{"t"})
			h.put(2, qs[0], "c", "tags", []string{"t"})
			h.put(3, qs[1], "d")
			h.do(4, "tag", "get", "t").jsonIs(`{"total":3,"jobs":["a","b","c"]}`)
			h.do(4, "tag", "top").jsonIs(`["t"]`)
			h.do(4, "track", "track", "c").text("1")
			h.do(5, "track", "track", "b").text("1")
			h.popOne(6, qs[0], "w", "a")
			h.popOne(7, qs[1], "w", "b")
			h.popOne(8, qs[0], "w", "c")
			h.popOne(9, qs[1], "w", "d")
			h.do(10, "workers", "w").jsonIs(`{"jobs":["d","c","b","a"],"stalled":{}}`)
			h.do(10, "workers").jsonIs(`[{"name":"w","jobs":4,"stalled":0}]`)
			h.fail(11, "a", "w", "g", "m")
			h.fail(12, "b", "w", "g", "m")
			h.complete(13, "c", "w", qs[0])
			h.complete(14, "d", "w", qs[1])
			h.do(15, "failed").jsonIs(`{"g":2}`)
			h.do(15, "failed", "g").jsonIs(`{"total":2,"jobs":["b","a"]}`)
			h.do(15, "jobs", "complete").is([]string{"d", "c"})
			got, _ := h.do(15, "track").json().(map[string]any)
			jobs, _ := got["jobs"].([]any)
			h.same(jidsOf(func() []obj {
				var out []obj
				for _, j := range jobs {
					o, _ := j.(map[string]any)
					out = append(out, o)
				}
				return out
			}()), []string{"c", "b"}, "tracked jobs")
			h.do(15, "stats", qs[0], 15).jsonIs(statsObj(0, 1, 1, nil, nil), ignoreWaitRun())
			h.do(15, "stats", qs[1], 15).jsonIs(statsObj(0, 1, 1, nil, nil), ignoreWaitRun())
		}},
		{"multi/reput_of_failed_decrements_new_queue", func(h *H) {
			// Spec 6.24 step 11 and 9: the decrement goes to the new queue.
			qs := h.queues(2)
			h.put(0, qs[0], "j")
			h.popOne(1, qs[0], "w", "j")
			h.fail(2, "j", "w", "g", "m")
			h.put(3, qs[1], "j")
			h.do(3, "stats", qs[0], 3).jsonIs(statsObj(0, 1, 1, nil, nil), ignoreWaitRun())
			h.do(3, "stats", qs[1], 3).jsonIs(statsObj(0, -1, 0, nil, nil), ignoreWaitRun())
		}},
		{"multi/retry_into_other_queue", func(h *H) {
			// Spec 6.10: the queue argument chooses where the job goes, but
			// the job's queue field is not updated.
			qs := h.queues(2)
			h.put(0, qs[0], "j")
			h.popOne(1, qs[0], "w", "j")
			h.do(2, "retry", "j", qs[1], "w").is(4)
			h.do(2, "length", qs[0]).is(0)
			h.do(2, "length", qs[1]).is(1)
			h.jobHas(2, "j", obj{"queue": qs[0], "state": "waiting"})
			h.popOne(3, qs[1], "w", "j")
		}},
		{"multi/retry_exhaustion_names_group_after_queue_argument", func(h *H) {
			qs := h.queues(2)
			h.put(0, qs[0], "j", "retries", 0)
			h.popOne(1, qs[0], "w", "j")
			h.do(2, "retry", "j", qs[1], "w").is(-1)
			h.jobHas(2, "j", obj{"state": "failed", "failure": obj{
				"group": "failed-retries-" + qs[1], "message": exhausted(qs[0]), "when": 2, "worker": "",
			}})
			h.do(2, "stats", qs[1], 2).jsonIs(statsObj(0, 1, 1, nil, nil), ignoreWaitRun())
			h.do(2, "stats", qs[0], 2).jsonIs(statsObj(0, 0, 0, nil, nil), ignoreWaitRun())
		}},
		{"multi/pause_and_concurrency_are_per_queue", func(h *H) {
			qs := h.queues(3)
			h.do(0, "config.set", qs[2]+"-max-concurrency", 1).isNil()
			for _, q := range qs {
				h.put(0, q, q+"-a")
				h.put(1, q, q+"-b")
			}
			h.do(2, "pause", qs[0]).isNil()
			h.same(h.pop(3, qs[0], "w", 5), []string{}, "pop of the paused queue")
			h.same(h.pop(3, qs[1], "w", 5), []string{qs[1] + "-a", qs[1] + "-b"}, "pop of the free queue")
			h.same(h.pop(3, qs[2], "w", 5), []string{qs[2] + "-a"}, "pop of the limited queue")
		}},
		{"multi/per_queue_heartbeat", func(h *H) {
			qs := h.queues(2)
			h.do(0, "config.set", qs[0]+"-heartbeat", 10).isNil()
			h.put(0, qs[0], "a")
			h.put(0, qs[1], "b")
			h.popOne(0, qs[0], "w", "a")
			h.popOne(0, qs[1], "w", "b")
			h.jobHas(0, "a", obj{"expires": 10})
			h.jobHas(0, "b", obj{"expires": 60})
		}},
	}
}
