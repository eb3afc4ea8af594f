package conformance

import (
	"encoding/json"
	"fmt"
)

// Spec 4.5, 6.12: heartbeat.
func heartbeatCases() []testCase {
	return []testCase{
		{"heartbeat/validation_errors", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.noEffect(1, []string{"q", "j", "w"}, func() {
				h.do(1, "heartbeat").err("Job(): no jid provided")
				h.do(1, "heartbeat", "j").err(`Heatbeat(): Arg "worker" missing`)
				jsonArgErrors(h, 1, "heartbeat", []any{"j", "w", "{}"}, 2)
				h.do(1, "heartbeat", "nope", "w").err("Heartbeat(): Job nope does not exist")
				h.do(1, "heartbeat", "j", "w2").err("Heartbeat(): Job j given out to another worker: w")
			})
		}},
		{"heartbeat/not_running_states", func(h *H) {
			h.put(0, "q", "waiting")
			h.putDelay(0, "q", "scheduled", 100)
			h.put(0, "q", "depends", "depends", []string{"waiting"})
			h.put(0, "q2", "complete")
			h.popOne(1, "q2", "w", "complete")
			h.complete(2, "complete", "w", "q2")
			h.put(0, "q3", "failed")
			h.popOne(1, "q3", "w", "failed")
			h.fail(2, "failed", "w", "g", "m")
			h.put(0, "q4", "stalled")
			h.popOne(1, "q4", "w", "stalled")
			h.do(2, "timeout", "stalled").isNil()
			for _, s := range []string{"waiting", "scheduled", "depends", "complete", "failed", "stalled"} {
				h.do(3, "heartbeat", s, "w").err(fmt.Sprintf("Heartbeat(): Job %s not currently running: %s", s, s))
			}
		}},
		{"heartbeat/extends_lock", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(10, "heartbeat", "j", "w").is(70)
			h.jobHas(10, "j", obj{"expires": 70, "state": "running", "worker": "w"})
			h.do(65, "jobs", "running", "q").is([]string{"j"})
			h.do(65, "jobs", "stalled", "q").is([]string{})
			h.do(65, "workers", "w").jsonIs(`{"jobs":["j"],"stalled":{}}`)
			h.wantEvents(func() {
				h.do(65, "pop", "q", "w2", 1).text("{}")
			})
			h.jobHas(65, "j", obj{"worker": "w", "remaining": 5})
		}},
		{"heartbeat/reply_truncated", func(h *H) {
			h.put(1700000000, "q", "j")
			h.popOne(1700000000, "q", "w", "j")
			h.do(1700000000.9, "heartbeat", "j", "w").is(1700000060)
			h.jobHas(1700000001, "j", obj{"expires": 1700000060.9})
		}},
		{"heartbeat/data_is_reencoded", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(1, "heartbeat", "j", "w", `{"a": [], "b": "x/y"}`).is(61)
			data, _ := h.field(1, "j", "data").(string)
			var got any
			if err := json.Unmarshal([]byte(data), &got); err != nil {
				h.t.Fatalf("data %q is not JSON: %v", data, err)
			}
			h.same(got, normJSON(h.t, `{"a":{},"b":"x/y"}`), "re-encoded data")
			h.do(2, "heartbeat", "j", "w").is(62)
			h.jobHas(2, "j", obj{"data": data})
		}},
		{"heartbeat/empty_owner_rejected", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "", "j")
			h.do(1, "heartbeat", "j", "").err("Heartbeat(): Job j given out to another worker: ")
		}},
		{"heartbeat/refreshes_worker_registry", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.popOne(2, "q", "w1", "a")
			h.popOne(5, "q", "w2", "b")
			h.do(6, "workers").jsonIs(`[{"name":"w2","jobs":1,"stalled":0},{"name":"w1","jobs":1,"stalled":0}]`)
			h.do(10, "heartbeat", "a", "w1").is(70)
			h.do(11, "workers").jsonIs(`[{"name":"w1","jobs":1,"stalled":0},{"name":"w2","jobs":1,"stalled":0}]`)
		}},
		{"heartbeat/per_queue_config", func(h *H) {
			h.do(0, "config.set", "q-heartbeat", 5).isNil()
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(3, "heartbeat", "j", "w").is(8)
		}},
		{"heartbeat/during_grace_period", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.do(65, "heartbeat", "j", "w").is(125)
			h.jobHas(65, "j", obj{"state": "running", "worker": "w", "expires": 125})
			h.do(71, "pop", "q", "w2", 1).text("{}")
			h.do(71, "workers", "w").jsonIs(`{"jobs":["j"],"stalled":{}}`)
		}},
	}
}

// Spec 4.4: lock expiry, courtesy pass, invalidation, exhaustion.
func lockCases() []testCase {
	return []testCase{
		{"locks/courtesy_then_handout", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w1", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.jobHas(61, "j", obj{
				"state": "running", "worker": "w1", "remaining": 5,
				"history": arr{hist(0, "put", "q", "q"), hist(0, "popped", "worker", "w1"), hist(61, "timed-out")},
			})
			// The courtesy pass takes the jid out of the worker's set.
			h.do(62, "workers", "w1").jsonIs(`{"jobs":{},"stalled":{}}`)
			// And pushes the lock to now + grace (71).
			h.do(62, "jobs", "running", "q").is([]string{"j"})
			h.do(70, "pop", "q", "w2", 1).text("{}")
			jobs := h.popJobs(71, "q", "w2", 1)
			h.same(jidsOf(jobs), []string{"j"}, "pop at the end of the grace period")
			h.jobHas(71, "j", obj{
				"state": "running", "worker": "w2", "remaining": 4, "expires": 131,
				"history": arr{hist(0, "put", "q", "q"), hist(0, "popped", "worker", "w1"), hist(61, "timed-out"), hist(71, "popped", "worker", "w2")},
			})
			h.do(72, "heartbeat", "j", "w1").err("Heartbeat(): Job j given out to another worker: w2")
			h.do(72, "fail", "j", "w1", "g", "m").err("Fail(): Job j running with another worker: w2")
			h.do(72, "retry", "j", "q", "w1").err("Retry(): Job j has been given to another worker: w2")
		}},
		{"locks/courtesy_counts_retries_stat", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w1", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.do(61, "stats", "q", 61).jsonIs(obj{"retries": 1, "failed": 0, "failures": 0}, ignoreWaitRun())
		}},
		{"locks/grace_period_config", func(h *H) {
			h.do(0, "config.set", "grace-period", 5).isNil()
			h.put(0, "q", "j")
			h.popOne(0, "q", "w1", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.do(65, "pop", "q", "w2", 1).text("{}")
			h.popOne(66, "q", "w2", "j")
		}},
		{"locks/zero_grace_hands_out_at_once", func(h *H) {
			h.do(0, "config.set", "grace-period", 0).isNil()
			h.put(0, "q", "j")
			h.popOne(0, "q", "w1", "j")
			h.wantEvents(func() {
				h.popOne(61, "q", "w2", "j")
			},
				ev("ql:w:w1", `{"jid":"j","event":"lock_lost","worker":"w1"}`),
				ev("ql:log", `{"jid":"j","event":"lock_lost","worker":"w1"}`),
			)
			h.jobHas(61, "j", obj{
				"worker": "w2", "remaining": 4,
				"history": arr{hist(0, "put", "q", "q"), hist(0, "popped", "worker", "w1"), hist(61, "timed-out"), hist(61, "popped", "worker", "w2")},
			})
			h.do(61, "stats", "q", 61).jsonIs(obj{"retries": 1, "failed": 0, "failures": 0}, ignoreWaitRun())
		}},
		{"locks/negative_grace_hands_out_at_once", func(h *H) {
			h.do(0, "config.set", "grace-period", -5).isNil()
			h.put(0, "q", "j")
			h.popOne(0, "q", "w1", "j")
			h.popOne(61, "q", "w2", "j")
			h.same(h.historyWhats(61, "j"), []string{"put", "popped", "timed-out", "popped"}, "history whats")
		}},
		{"locks/repeated_expiry_gets_new_courtesy", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w1", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.popOne(71, "q", "w2", "j")
			h.wantEvents(func() {
				h.do(132, "pop", "q", "w3", 1).text("{}")
			},
				ev("ql:w:w2", `{"jid":"j","event":"lock_lost","worker":"w2"}`),
				ev("ql:log", `{"jid":"j","event":"lock_lost","worker":"w2"}`),
			)
			h.popOne(142, "q", "w3", "j")
			h.jobHas(142, "j", obj{"worker": "w3", "remaining": 3})
			h.same(h.historyWhats(142, "j"), []string{"put", "popped", "timed-out", "popped", "timed-out", "popped"}, "history whats")
		}},
		{"locks/heartbeat_in_grace_skips_next_courtesy", func(h *H) {
			// Spec 4.4 heartbeat quirk: the grace flag survives heartbeat, so
			// the next expiry is invalidated without a courtesy pass.
			h.put(0, "q", "j")
			h.popOne(0, "q", "w1", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.do(65, "heartbeat", "j", "w1").is(125)
			h.wantEvents(func() {
				h.popOne(126, "q", "w2", "j")
			})
			h.jobHas(126, "j", obj{
				"worker": "w2", "remaining": 4,
				"history": arr{hist(0, "put", "q", "q"), hist(0, "popped", "worker", "w1"), hist(61, "timed-out"), hist(126, "popped", "worker", "w2")},
			})
			h.do(126, "stats", "q", 126).jsonIs(obj{"retries": 1, "failed": 0, "failures": 0}, ignoreWaitRun())
		}},
		{"locks/complete_and_put_keep_grace_flag", func(h *H) {
			// The flag also survives put and complete (spec 4.4): a job that
			// got a courtesy notice, was completed and re-put, then expires
			// again is invalidated at once.
			h.put(0, "q", "j")
			h.popOne(0, "q", "w1", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.complete(62, "j", "w1", "q")
			h.put(63, "q", "j")
			h.popOne(64, "q", "w1", "j")
			h.popOne(125, "q", "w2", "j")
			h.same(h.historyWhats(125, "j"), []string{"put", "popped", "timed-out", "done", "put", "popped", "popped"}, "history whats")
		}},
		{"locks/exhaustion_fails_job", func(h *H) {
			h.put(0, "q", "j", "retries", 0)
			h.popOne(0, "q", "w1", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.do(71.5, "pop", "q", "w2", 1).text("{}")
			want := newJob("j", "q", 0)
			want["state"] = "failed"
			want["retries"] = 0
			want["remaining"] = -1
			want["failure"] = obj{"group": "failed-retries-q", "message": exhausted("q"), "when": 71.5, "worker": ""}
			want["history"] = arr{
				hist(0, "put", "q", "q"),
				hist(0, "popped", "worker", "w1"),
				hist(61, "timed-out"),
				hist(71, "failed", "group", "failed-retries-q"),
			}
			h.jobIs(72, "j", want)
			h.do(72, "failed").jsonIs(`{"failed-retries-q":1}`)
			h.do(72, "length", "q").is(0)
			h.do(72, "jobs", "stalled", "q").is([]string{})
			h.do(72, "stats", "q", 72).jsonIs(obj{"retries": 1, "failed": 1, "failures": 1}, ignoreWaitRun())
			h.do(72, "complete", "j", "w1", "q", noData).err("Complete(): Job j is not currently running: failed")
		}},
		{"locks/exhaustion_makes_room_for_other_jobs", func(h *H) {
			h.put(0, "q", "j", "retries", 0)
			h.popOne(0, "q", "w1", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.put(62, "q", "other")
			h.same(h.pop(71, "q", "w2", 2), []string{"other"}, "pop after exhaustion")
		}},
		{"locks/invalidated_jobs_come_first", func(h *H) {
			h.do(0, "config.set", "grace-period", 0).isNil()
			h.put(0, "q", "a")
			h.popOne(0, "q", "w1", "a")
			h.put(1, "q", "b", "priority", 100)
			h.same(h.pop(61, "q", "w2", 2), []string{"a", "b"}, "pop with an expired lock")
		}},
		{"locks/invalidation_ascending_and_bounded_by_count", func(h *H) {
			h.do(0, "config.set", "grace-period", 0).isNil()
			h.put(0, "q", "a")
			h.put(1, "q", "b", "priority", 1)
			h.popOne(3, "q", "w1", "b")
			h.popOne(5, "q", "w1", "a")
			// b expires at 63, a at 65: b first, one per pop.
			h.same(h.pop(70, "q", "w2", 1), []string{"b"}, "first pop")
			h.wantState(70, "running", "a")
			h.jobHas(70, "a", obj{"worker": "w1", "remaining": 5})
			h.same(h.pop(70, "q", "w2", 1), []string{"a"}, "second pop")
		}},
		{"locks/same_worker_name_keeps_acting", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(61, "pop", "q", "w", 1).text("{}")
			h.popOne(71, "q", "w", "j")
			h.complete(72, "j", "w", "q")
		}},
	}
}

// Spec 6.23: timeout.
func timeoutCases() []testCase {
	return []testCase{
		{"timeout/errors", func(h *H) {
			h.put(0, "q", "j")
			h.noEffect(0, []string{"q", "j"}, func() {
				h.do(0, "timeout", "nope").err("Timeout(): Job nope does not exist")
				h.do(0, "timeout", "j").err("Timeout(): Job j not running")
			})
		}},
		{"timeout/effects", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(5, "timeout", "j").isNil()
			h.jobHas(5, "j", obj{
				"state": "stalled", "expires": 0, "worker": "w", "remaining": 5,
				"history": arr{hist(0, "put", "q", "q"), hist(0, "popped", "worker", "w"), hist(5, "timed-out")},
			})
			h.do(5, "queues", "q").jsonIs(obj{"name": "q", "waiting": 1, "running": 0, "stalled": 0, "scheduled": 0, "depends": 0, "recurring": 0, "paused": false})
			h.do(100, "jobs", "stalled", "q").is([]string{})
			h.do(100, "jobs", "running", "q").is([]string{})
			h.do(5, "complete", "j", "w", "q", noData).err("Complete(): Job j is not currently running: stalled")
			h.do(5, "fail", "j", "w", "g", "m").err("Fail(): Job jnot currently running: stalled")
			h.do(5, "retry", "j", "q", "w").err("Retry(): Job j is not currently running: stalled")
		}},
		{"timeout/jumps_the_queue", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(5, "timeout", "j").isNil()
			h.put(6, "q", "high", "priority", 1000)
			h.same(h.peek(7, "q", 5), []string{"j", "high"}, "peek after timeout")
			jobs := h.popJobs(7, "q", "w2", 1)
			h.same(jidsOf(jobs), []string{"j"}, "pop after timeout")
			h.jobHas(7, "j", obj{"state": "running", "worker": "w2", "remaining": 5, "expires": 67})
		}},
		{"timeout/keeps_worker_job_entry", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(5, "timeout", "j").isNil()
			h.do(6, "workers", "w").jsonIs(`{"jobs":["j"],"stalled":{}}`)
			h.do(61, "workers", "w").jsonIs(`{"jobs":{},"stalled":["j"]}`)
		}},
		{"timeout/several_jids_stop_at_error", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.put(2, "q", "c")
			h.same(h.pop(3, "q", "w", 2), []string{"a", "b"}, "pop")
			h.do(4, "timeout", "a", "c", "b").err("Timeout(): Job c not running")
			h.wantState(4, "stalled", "a")
			h.wantState(4, "running", "b")
			h.do(5, "timeout", "a", "b").err("Timeout(): Job a not running")
		}},
	}
}
