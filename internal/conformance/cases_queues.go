package conformance

import "fmt"

// queueObj is the `queues` object of one queue.
func queueObj(name string, waiting, running, stalled, scheduled, depends, recurring int, paused bool) obj {
	return obj{
		"name": name, "waiting": waiting, "running": running, "stalled": stalled,
		"scheduled": scheduled, "depends": depends, "recurring": recurring, "paused": paused,
	}
}

// Spec 6.9: jobs listings.
func jobsCases() []testCase {
	return []testCase{
		{"jobs/validation_errors", func(h *H) {
			h.do(0, "jobs").err(`Jobs(): Arg "state" missing`)
			h.do(0, "jobs", "running").err(`Jobs(): Arg "queue" missing`)
			h.do(0, "jobs", "foo").err(`Jobs(): Arg "queue" missing`)
			h.do(0, "jobs", "foo", "q").err(`Jobs(): Unknown type "foo"`)
			h.do(0, "jobs", "waiting", "q").err(`Jobs(): Unknown type "waiting"`)
			h.do(0, "jobs", "running", "q", "x").err(`Jobs(): Arg "offset" not a number: x`)
			h.do(0, "jobs", "running", "q", 0, "x").err(`Jobs(): Arg "count" not a number: x`)
			h.do(0, "jobs", "complete", "x").err(`Jobs(): Arg "offset" not a number: x`)
			h.do(0, "jobs", "complete", 0, "x").err(`Jobs(): Arg "count" not a number: x`)
		}},
		{"jobs/empty_lists", func(h *H) {
			for _, s := range []string{"running", "stalled", "scheduled", "depends", "recurring"} {
				h.do(0, "jobs", s, "q").is([]string{})
			}
			h.do(0, "jobs", "complete").is([]string{})
		}},
		{"jobs/running_and_stalled_by_expiry", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.put(2, "q", "c")
			h.popOne(3, "q", "w", "a")
			h.popOne(4, "q", "w", "b")
			h.popOne(5, "q", "w", "c")
			h.do(10, "heartbeat", "a", "w").is(70)
			h.do(10, "jobs", "running", "q").is([]string{"b", "c", "a"})
			h.do(10, "jobs", "stalled", "q").is([]string{})
			h.do(64.5, "jobs", "running", "q").is([]string{"c", "a"})
			h.do(64.5, "jobs", "stalled", "q").is([]string{"b"})
			// An expiry equal to now is in both listings.
			h.do(65, "jobs", "running", "q").is([]string{"c", "a"})
			h.do(65, "jobs", "stalled", "q").is([]string{"b", "c"})
		}},
		{"jobs/running_paging", func(h *H) {
			var jids []string
			for i := range 10 {
				j := fmt.Sprintf("j%d", i)
				jids = append(jids, j)
				h.put(i, "q", j)
			}
			for i, j := range jids {
				h.popOne(10+i, "q", "w", j)
			}
			h.do(20, "jobs", "running", "q").is(jids)
			h.do(20, "jobs", "running", "q", 2, 3).is(jids[2:5])
			h.do(20, "jobs", "running", "q", 8, 25).is(jids[8:])
			h.do(20, "jobs", "running", "q", 0, -1).is(jids)
			h.do(20, "jobs", "running", "q", 3, -1).is(jids[3:])
			h.do(200, "jobs", "stalled", "q", 1, 2).is(jids[1:3])
		}},
		{"jobs/scheduled_promotes_and_orders", func(h *H) {
			h.putDelay(0, "q", "a", 30)
			h.putDelay(0, "q", "b", 10)
			h.putDelay(0, "q", "c", 20)
			h.do(0, "jobs", "scheduled", "q").is([]string{"b", "c", "a"})
			h.do(0, "jobs", "scheduled", "q", 1, 1).is([]string{"c"})
			// Rank form: count -1 means all but the last.
			h.do(0, "jobs", "scheduled", "q", 0, -1).is([]string{"b", "c"})
			h.do(15, "jobs", "scheduled", "q").is([]string{"c", "a"})
			h.wantState(15, "waiting", "b")
			h.wantState(15, "scheduled", "c")
		}},
		{"jobs/depends_by_time_added", func(h *H) {
			h.put(0, "q", "x")
			h.put(2, "q", "d2", "depends", []string{"x"})
			h.put(1, "q", "d1", "depends", []string{"x"})
			h.put(3, "q", "d3", "depends", []string{"x"})
			h.do(4, "jobs", "depends", "q").is([]string{"d1", "d2", "d3"})
			h.do(4, "jobs", "depends", "q", 1, 1).is([]string{"d2"})
		}},
		{"jobs/recurring_by_next_time", func(h *H) {
			h.do(0, "recur", "q", "r1", klass, noData, "interval", 60, 30).is("r1")
			h.do(0, "recur", "q", "r2", klass, noData, "interval", 60, 10).is("r2")
			h.do(0, "recur", "q", "r3", klass, noData, "interval", 60, 20).is("r3")
			h.do(0, "jobs", "recurring", "q").is([]string{"r2", "r3", "r1"})
			h.do(0, "jobs", "recurring", "q", 1, 1).is([]string{"r3"})
		}},
		{"jobs/complete_most_recent_first", func(h *H) {
			var jids []string
			for i := range 30 {
				j := fmt.Sprintf("j%02d", i)
				jids = append([]string{j}, jids...)
				h.put(i, "q", j)
				h.popOne(i, "q", "w", j)
				h.complete(i, j, "w", "q")
			}
			h.do(30, "jobs", "complete").is(jids[:25])
			h.do(30, "jobs", "complete", 25).is(jids[25:])
			h.do(30, "jobs", "complete", 2, 3).is(jids[2:5])
		}},
	}
}

// Spec 6.5, 6.32, 6.34: queues, length, queue.forget.
func queuesCases() []testCase {
	return []testCase{
		{"queues/unknown_queue_is_all_zeros", func(h *H) {
			h.do(0, "queues", "nothing").jsonIs(queueObj("nothing", 0, 0, 0, 0, 0, 0, false))
			h.do(0, "queues").text("{}")
		}},
		{"queues/counts_by_state", func(h *H) {
			h.put(0, "q", "s")
			h.popOne(0, "q", "w", "s")
			h.put(50, "q", "r")
			h.popOne(50, "q", "w", "r")
			h.put(101, "q", "w1")
			h.putDelay(101, "q", "sc", 100)
			h.put(101, "q", "d", "depends", []string{"w1"})
			h.do(101, "recur", "q", "rec", klass, noData, "interval", 1000, 500).is("rec")
			want := queueObj("q", 1, 1, 1, 1, 1, 1, false)
			h.do(102, "queues", "q").jsonIs(want)
			h.do(102, "queues").jsonIs(arr{want})
			h.do(102, "length", "q").is(4)
		}},
		{"queues/stalled_boundary", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(59, "queues", "q").jsonIs(queueObj("q", 0, 1, 0, 0, 0, 0, false))
			h.do(60, "queues", "q").jsonIs(queueObj("q", 0, 0, 1, 0, 0, 0, false))
		}},
		{"queues/promotes_scheduled", func(h *H) {
			h.putDelay(0, "q", "j", 10)
			h.do(9, "queues", "q").jsonIs(queueObj("q", 0, 0, 0, 1, 0, 0, false))
			h.wantState(9, "scheduled", "j")
			h.do(10, "queues").jsonIs(arr{queueObj("q", 1, 0, 0, 0, 0, 0, false)})
			h.wantState(10, "waiting", "j")
		}},
		{"queues/timed_out_jobs_count_as_waiting", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(0, "q", "w", "j")
			h.do(1, "timeout", "j").isNil()
			h.do(100, "queues", "q").jsonIs(queueObj("q", 1, 0, 0, 0, 0, 0, false))
			h.do(100, "length", "q").is(1)
		}},
		{"length/counts_work_locks_scheduled_only", func(h *H) {
			h.do(0, "length").err("Queue(): no queue name provided")
			h.do(0, "length", "q").is(0)
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.putDelay(1, "q", "c", 10)
			h.put(1, "q", "d", "depends", []string{"a"})
			h.do(1, "recur", "q", "r", klass, noData, "interval", 60, 100).is("r")
			h.do(1, "length", "q").is(3)
			h.popOne(2, "q", "w", "a")
			h.do(2, "length", "q").is(3)
			h.do(200, "length", "q").is(3) // an expired lock still counts
		}},
		{"queue_forget/unlists_only", func(h *H) {
			qs := h.queuesOr("q", "other")
			q, other := qs[0], qs[1]
			h.put(0, q, "j")
			h.do(1, "queue.forget", q).isNil()
			h.do(1, "queues").text("{}")
			h.do(1, "queues", q).jsonIs(queueObj(q, 1, 0, 0, 0, 0, 0, false))
			h.wantState(1, "waiting", "j")
			h.put(2, q, "k")
			h.do(2, "queues").jsonIs(arr{queueObj(q, 2, 0, 0, 0, 0, 0, false)})
			h.do(2, "queue.forget", q, other).isNil()
			h.do(2, "queue.forget").errContains("Wrong number of args calling Redis command from script")
		}},
	}
}
