package conformance

import (
	"encoding/json"
	"fmt"
	"strings"
)

// exhausted is the failure message of retry and lock exhaustion (spec 4.4, 4.6).
func exhausted(q string) string { return fmt.Sprintf("Job exhausted retries in queue %q", q) }

// Spec 6.7, 6.8, 6.26: fail, failed, unfail.
func failCases() []testCase {
	running := func(h *H) {
		h.put(0, "q", "j")
		h.popOne(1, "q", "w", "j")
	}
	return []testCase{
		{"fail/validation_errors", func(h *H) {
			running(h)
			h.noEffect(2, []string{"q", "j", "w", "g"}, func() {
				h.do(2, "fail", "j").err(`Fail(): Arg "worker" missing`)
				h.do(2, "fail", "j", "w").err(`Fail(): Arg "group" missing`)
				h.do(2, "fail", "j", "w", "g").err(`Fail(): Arg "message" missing`)
				jsonArgErrors(h, 2, "fail", []any{"j", "w", "g", "m", "{}"}, 4)
				h.do(2, "fail", "nope", "w", "g", "m").err("Fail(): Job nopedoes not exist")
				h.do(2, "fail", "j", "w2", "g", "m").err("Fail(): Job j running with another worker: w")
			})
		}},
		{"fail/full_json", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(1, "q", "w", "j")
			h.do(2.5, "fail", "j", "w", "g", "it broke").is("j")
			want := newJob("j", "q", 0)
			want["state"] = "failed"
			want["failure"] = obj{"group": "g", "message": "it broke", "when": 2, "worker": "w"}
			want["history"] = arr{
				hist(0, "put", "q", "q"),
				hist(1, "popped", "worker", "w"),
				hist(2, "failed", "worker", "w", "group", "g"),
			}
			h.jobIs(3, "j", want)
			h.do(3, "length", "q").is(0)
			h.do(3, "jobs", "running", "q").is([]string{})
			h.do(3, "workers", "w").jsonIs(`{"jobs":{},"stalled":{}}`)
		}},
		{"fail/data_is_reencoded", func(h *H) {
			running(h)
			h.do(2, "fail", "j", "w", "g", "m", `{"a": [], "b": "x/y", "n": 1.50}`).is("j")
			data, _ := h.field(2, "j", "data").(string)
			var got any
			if err := json.Unmarshal([]byte(data), &got); err != nil {
				h.t.Fatalf("data %q is not JSON: %v", data, err)
			}
			h.same(got, normJSON(h.t, `{"a":{},"b":"x/y","n":1.5}`), "re-encoded data")
			for _, sub := range []string{`x\/y`, `"a":{}`} {
				if !strings.Contains(data, sub) {
					h.t.Errorf("data %q, want the re-encoding to contain %s", data, sub)
				}
			}
		}},
		{"fail/not_running_states", func(h *H) {
			h.put(0, "q", "waiting")
			h.putDelay(0, "q", "scheduled", 100)
			h.put(0, "q", "depends", "depends", []string{"waiting"})
			h.put(0, "q2", "complete")
			h.popOne(1, "q2", "w", "complete")
			h.complete(2, "complete", "w", "q2")
			h.put(0, "q3", "failed")
			h.popOne(1, "q3", "w", "failed")
			h.fail(2, "failed", "w", "g", "m")
			for _, s := range []string{"waiting", "scheduled", "depends", "complete", "failed"} {
				h.do(3, "fail", s, "w", "g", "m").err(fmt.Sprintf("Fail(): Job %snot currently running: %s", s, s))
			}
		}},
		{"fail/during_grace_period", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.fail(65, "j", "w", "g", "m")
			h.wantState(65, "failed", "j")
		}},
		{"failed/groups_listing", func(h *H) {
			for _, j := range []string{"a", "b", "c"} {
				h.put(0, "q", j)
			}
			h.same(h.pop(1, "q", "w", 3), []string{"c", "b", "a"}, "pop")
			h.fail(2, "a", "w", "g1", "m")
			h.do(2, "failed").jsonIs(`{"g1":1}`)
			h.fail(3, "b", "w", "g2", "m")
			h.fail(4, "c", "w", "g1", "m")
			h.do(4, "failed").jsonIs(`{"g1":2,"g2":1}`)
			h.do(4, "failed", "g1").jsonIs(`{"total":2,"jobs":["c","a"]}`)
			h.do(4, "failed", "g2").jsonIs(`{"total":1,"jobs":["b"]}`)
			h.do(4, "failed", "none").jsonIs(`{"total":0,"jobs":{}}`)
		}},
		{"failed/paging", func(h *H) {
			var jids []string
			for i := range 30 {
				j := fmt.Sprintf("j%02d", i)
				jids = append(jids, j)
				h.put(i, "q", j)
			}
			h.same(h.pop(100, "q", "w", 30), jids, "pop all")
			for i, j := range jids {
				h.fail(100+i, j, "w", "g", "m")
			}
			rev := make([]string, len(jids))
			for i, j := range jids {
				rev[len(jids)-1-i] = j
			}
			h.do(200, "failed", "g").jsonIs(obj{"total": 30, "jobs": rev[:25]})
			h.do(200, "failed", "g", 0, 3).jsonIs(obj{"total": 30, "jobs": rev[:3]})
			h.do(200, "failed", "g", 3, 3).jsonIs(obj{"total": 30, "jobs": rev[3:6]})
			h.do(200, "failed", "g", 28, 25).jsonIs(obj{"total": 30, "jobs": rev[28:]})
			h.do(200, "failed", "g", 30, 25).jsonIs(obj{"total": 30, "jobs": obj{}})
		}},
		{"failed/validation_errors", func(h *H) {
			h.do(0, "failed", "g", "x").err(`Failed(): Arg "start" is not a number: x`)
			h.do(0, "failed", "g", 0, "x").err(`Failed(): Arg "limit" is not a number: x`)
		}},
		{"unfail/validation_errors", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(1, "q", "w", "j")
			h.fail(2, "j", "w", "g", "m")
			h.noEffect(3, []string{"q", "j", "g"}, func() {
				h.do(3, "unfail").err("Queue(): no queue name provided")
				h.do(3, "unfail", "q").err(`Unfail(): Arg "group" missing`)
				h.do(3, "unfail", "q", "g", "x").err(`Unfail(): Arg "count" not a number: x`)
				h.do(3, "unfail", "q", "g", 0).anyErr()
			})
		}},
		{"unfail/moves_oldest_first", func(h *H) {
			for i, j := range []string{"a", "b", "c"} {
				h.put(i, "q", j, "retries", 3)
			}
			h.same(h.pop(5, "q", "w", 3), []string{"a", "b", "c"}, "pop")
			h.do(6, "retry", "a", "q", "w").is(2)
			h.popOne(7, "q", "w", "a")
			h.fail(8, "a", "w", "g", "ma")
			h.fail(9, "b", "w", "g", "mb")
			h.fail(10, "c", "w", "g", "mc")
			h.wantEvents(func() {
				h.do(11, "unfail", "q", "g", 2).is(2)
			})
			h.jobHas(11, "a", obj{
				"state": "waiting", "queue": "q", "worker": "", "expires": 0, "remaining": 3,
				"failure": obj{"group": "g", "message": "ma", "when": 8, "worker": "w"},
			})
			hs := h.history(11, "a")
			h.same(hs[len(hs)-1], normJSON(h.t, hist(11, "put", "q", "q")), "last history entry of a")
			h.wantState(11, "waiting", "b")
			h.wantState(11, "failed", "c")
			h.do(11, "failed", "g").jsonIs(`{"total":1,"jobs":["c"]}`)
			h.same(h.peek(11, "q", 5), []string{"b", "a"}, "peek after unfail (equal scores)")
			h.do(12, "unfail", "q", "g").is(1)
			h.do(12, "failed").text("{}")
			h.do(12, "unfail", "q", "g").is(0)
		}},
		{"unfail/default_count_25", func(h *H) {
			var jids []string
			for i := range 30 {
				j := fmt.Sprintf("j%02d", i)
				jids = append(jids, j)
				h.put(i, "q", j)
			}
			h.same(h.pop(50, "q", "w", 30), jids, "pop all")
			for i, j := range jids {
				h.fail(50+i, j, "w", "g", "m")
			}
			h.do(100, "unfail", "q", "g").is(25)
			h.do(100, "failed", "g").jsonIs(obj{"total": 5, "jobs": []string{"j29", "j28", "j27", "j26", "j25"}})
			h.do(100, "length", "q").is(25)
		}},
	}
}

// Spec 4.6, 6.10: retry.
func retryCases() []testCase {
	running := func(h *H, retries int) {
		h.put(0, "q", "j", "retries", retries)
		h.popOne(1, "q", "w", "j")
	}
	return []testCase{
		{"retry/validation_errors", func(h *H) {
			running(h, 5)
			h.noEffect(2, []string{"q", "j", "w"}, func() {
				h.do(2, "retry").err("Job(): no jid provided")
				h.do(2, "retry", "j").err(`Retry(): Arg "queue" missing`)
				h.do(2, "retry", "j", "q").err(`Retry(): Arg "worker" missing`)
				h.do(2, "retry", "j", "q", "w", "x").err(`Retry(): Arg "delay" not a number: x`)
				h.do(2, "retry", "nope", "q", "w").err("Retry(): Job nope does not exist")
				h.do(2, "retry", "j", "q", "w2").err("Retry(): Job j has been given to another worker: w")
			})
		}},
		{"retry/not_running_states", func(h *H) {
			h.put(0, "q", "waiting")
			h.putDelay(0, "q", "scheduled", 100)
			h.put(0, "q", "depends", "depends", []string{"waiting"})
			for _, s := range []string{"waiting", "scheduled", "depends"} {
				h.do(3, "retry", s, "q", "w").err(fmt.Sprintf("Retry(): Job %s is not currently running: %s", s, s))
			}
		}},
		{"retry/requeues_and_keeps_stale_worker", func(h *H) {
			running(h, 5)
			h.do(2, "retry", "j", "q", "w").is(4)
			h.jobHas(2, "j", obj{
				"state": "waiting", "remaining": 4, "worker": "w", "expires": 61, "queue": "q",
				"history": arr{hist(0, "put", "q", "q"), hist(1, "popped", "worker", "w")},
				"failure": obj{},
			})
			h.do(2, "workers", "w").jsonIs(`{"jobs":{},"stalled":{}}`)
			h.do(2, "jobs", "running", "q").is([]string{})
			h.do(2, "length", "q").is(1)
			h.popOne(3, "q", "w2", "j")
			h.jobHas(3, "j", obj{"worker": "w2", "remaining": 4})
		}},
		{"retry/with_delay", func(h *H) {
			running(h, 5)
			h.do(2, "retry", "j", "q", "w", 10).is(4)
			h.wantState(2, "scheduled", "j")
			h.do(2, "jobs", "scheduled", "q").is([]string{"j"})
			h.same(h.pop(11, "q", "w", 1), []string{}, "pop before the delay")
			h.same(h.pop(12, "q", "w", 1), []string{"j"}, "pop at the delay")
		}},
		{"retry/group_and_message_stored_without_failing", func(h *H) {
			running(h, 5)
			h.do(2.7, "retry", "j", "q", "w", 0, "g", "m").is(4)
			h.jobHas(3, "j", obj{"state": "waiting", "failure": obj{"group": "g", "message": "m", "when": 2, "worker": "w"}})
			h.do(3, "failed").text("{}")
		}},
		{"retry/counts_down_to_failure", func(h *H) {
			running(h, 2)
			h.do(2, "retry", "j", "q", "w").is(1)
			h.popOne(3, "q", "w", "j")
			h.do(4, "retry", "j", "q", "w").is(0)
			h.popOne(5, "q", "w", "j")
			h.do(6, "retry", "j", "q", "w").is(-1)
			h.wantState(6, "failed", "j")
		}},
		{"retry/exhaustion_default_group", func(h *H) {
			running(h, 0)
			h.do(2.5, "retry", "j", "q", "w").is(-1)
			want := newJob("j", "q", 0)
			want["state"] = "failed"
			want["retries"] = 0
			want["remaining"] = -1
			want["failure"] = obj{"group": "failed-retries-q", "message": exhausted("q"), "when": 2.5, "worker": ""}
			want["history"] = arr{
				hist(0, "put", "q", "q"),
				hist(1, "popped", "worker", "w"),
				hist(2, "failed", "group", "failed-retries-q"),
			}
			h.jobIs(3, "j", want)
			h.do(3, "failed").jsonIs(`{"failed-retries-q":1}`)
			h.do(3, "failed", "failed-retries-q").jsonIs(`{"total":1,"jobs":["j"]}`)
			h.do(3, "length", "q").is(0)
			h.do(3, "workers", "w").jsonIs(`{"jobs":{},"stalled":{}}`)
		}},
		{"retry/exhaustion_with_group_and_message", func(h *H) {
			running(h, 0)
			h.do(2.5, "retry", "j", "q", "w", 0, "g", "m").is(-1)
			h.jobHas(3, "j", obj{"state": "failed", "worker": "", "expires": 0,
				"failure": obj{"group": "g", "message": "m", "when": 2, "worker": "w"}})
			h.do(3, "failed").jsonIs(`{"g":1}`)
		}},
		{"retry/exhaustion_with_group_only", func(h *H) {
			running(h, 0)
			h.do(2.5, "retry", "j", "q", "w", 0, "g").is(-1)
			h.jobHas(3, "j", obj{"state": "failed",
				"failure": obj{"group": "g", "message": exhausted("q"), "when": 2.5, "worker": ""}})
			h.do(3, "failed").jsonIs(`{"g":1}`)
		}},
		{"retry/clears_grace_flag", func(h *H) {
			// Unlike heartbeat (locks/heartbeat_in_grace_skips_next_courtesy),
			// retry clears the grace flag: the next expiry gets its courtesy pass.
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.do(65, "retry", "j", "q", "w").is(4)
			h.popOne(66, "q", "w", "j")
			h.do(127, "pop", "q", "w2", 1).text("{}")
			h.same(h.historyWhats(127, "j"), []string{"put", "popped", "timed-out", "popped", "timed-out"}, "history whats")
			h.popOne(137, "q", "w2", "j")
		}},
		{"retry/during_grace_period", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(61, "pop", "q", "w2", 1).text("{}")
			h.do(62, "retry", "j", "q", "w").is(4)
			h.popOne(63, "q", "w2", "j")
		}},
	}
}
