package conformance

import (
	"fmt"
	"math"
)

// statBlock is the wait or run object of stats (spec 9): hist maps histogram
// positions (0..147) to counts.
func statBlock(count int, mean, std float64, hist map[int]int) obj {
	h := make([]any, 148)
	for i := range h {
		h[i] = hist[i]
	}
	return obj{"count": count, "mean": mean, "std": std, "histogram": h}
}

// noStats is an empty wait or run block.
func noStats() obj { return statBlock(0, 0, 0, nil) }

// statsObj is the whole stats reply.
func statsObj(retries, failed, failures int, wait, run obj) obj {
	return obj{"retries": retries, "failed": failed, "failures": failures, "wait": wait, "run": run}
}

// sampleStats returns the mean and sample standard deviation of vs.
func sampleStats(vs []float64) (mean, std float64) {
	for _, v := range vs {
		mean += v
	}
	mean /= float64(len(vs))
	if len(vs) < 2 {
		return mean, 0
	}
	var ss float64
	for _, v := range vs {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(vs)-1))
}

// Spec 9, 6.16: statistics.
func statsCases() []testCase {
	return []testCase{
		{"stats/validation_errors", func(h *H) {
			h.do(0, "stats").err("Queue(): no queue name provided")
			h.do(0, "stats", "q").err(`Stats(): Arg "date" missing or not a number: nil`)
			h.do(0, "stats", "q", "x").err(`Stats(): Arg "date" missing or not a number: x`)
		}},
		{"stats/empty", func(h *H) {
			h.do(0, "stats", "q", 0).jsonIs(statsObj(0, 0, 0, noStats(), noStats()))
		}},
		{"stats/wait_twenty_jobs", func(h *H) {
			for i := range 20 {
				h.put(0, "q", fmt.Sprintf("j%02d", i))
			}
			hist := map[int]int{}
			for i := range 20 {
				if got := len(h.pop(i, "q", "w", 1)); got != 1 {
					h.t.Fatalf("pop at %d returned %d jobs, want 1", i, got)
				}
				hist[i] = 1
			}
			h.do(19, "stats", "q", 0).jsonIs(statsObj(0, 0, 0, statBlock(20, 9.5, 5.9160797831, hist), noStats()), approx())
		}},
		{"stats/run_twenty_jobs", func(h *H) {
			var jids []string
			for i := range 20 {
				j := fmt.Sprintf("j%02d", i)
				jids = append(jids, j)
				h.put(i, "q", j)
			}
			h.same(h.pop(20, "q", "w", 20), jids, "pop all")
			hist := map[int]int{}
			for i, j := range jids {
				h.complete(20+i, j, "w", "q")
				hist[i] = 1
			}
			// The jobs waited 20, 19, ..., 1 seconds.
			waits := map[int]int{}
			var ws []float64
			for i := 1; i <= 20; i++ {
				waits[i] = 1
				ws = append(ws, float64(i))
			}
			wm, wsd := sampleStats(ws)
			h.do(40, "stats", "q", 40).jsonIs(statsObj(0, 0, 0, statBlock(20, wm, wsd, waits), statBlock(20, 9.5, 5.9160797831, hist)), approx())
		}},
		{"stats/histogram_buckets", func(h *H) {
			const day = 86400
			now := 40 * day
			values := []float64{0, 0.5, 59, 59.9, 60, 3599, 3600, 86399, 86400, 6*day + 5, 7 * day, 30 * day}
			hist := map[int]int{0: 2, 59: 2, 60: 1, 118: 1, 119: 1, 141: 1, 142: 1, 147: 1}
			for i, v := range values {
				h.put(float64(now)-v, "q", fmt.Sprintf("j%02d", i))
			}
			if got := len(h.pop(now, "q", "w", len(values))); got != len(values) {
				h.t.Fatalf("pop returned %d jobs, want %d", got, len(values))
			}
			mean, std := sampleStats(values)
			h.do(now, "stats", "q", now).jsonIs(statsObj(0, 0, 0, statBlock(len(values), mean, std, hist), noStats()), approx())
		}},
		{"stats/date_is_any_time_in_the_day", func(h *H) {
			h.put(0, "q", "j")
			h.popOne(30, "q", "w", "j")
			want := statsObj(0, 0, 0, statBlock(1, 30, 0, map[int]int{30: 1}), noStats())
			h.do(100, "stats", "q", 0).jsonIs(want)
			h.do(100, "stats", "q", 86399.5).jsonIs(want)
			h.do(100, "stats", "q", 86400).jsonIs(statsObj(0, 0, 0, noStats(), noStats()))
		}},
		{"stats/wait_binned_by_pop_day", func(h *H) {
			h.put(86000, "q", "j")
			h.popOne(86500, "q", "w", "j")
			h.do(86500, "stats", "q", 0).jsonIs(statsObj(0, 0, 0, noStats(), noStats()))
			h.do(86500, "stats", "q", 86400).jsonIs(statsObj(0, 0, 0, statBlock(1, 500, 0, map[int]int{60 + 7: 1}), noStats()))
		}},
		{"stats/wait_includes_delay", func(h *H) {
			h.putDelay(0, "q", "j", 10)
			h.popOne(15, "q", "w", "j")
			h.do(15, "stats", "q", 15).jsonIs(statsObj(0, 0, 0, statBlock(1, 15, 0, map[int]int{15: 1}), noStats()))
		}},
		{"stats/wait_of_recurring_instance_from_due_time", func(h *H) {
			h.recur(0, "q", "r", 60, 60)
			h.same(h.pop(90, "q", "w", 1), []string{"r-1"}, "pop")
			h.do(90, "stats", "q", 90).jsonIs(statsObj(0, 0, 0, statBlock(1, 30, 0, map[int]int{30: 1}), noStats()))
		}},
		{"stats/run_recorded_on_complete_with_next", func(h *H) {
			qs := h.queuesOr("q", "q2")
			q, q2 := qs[0], qs[1]
			h.put(0, q, "j")
			h.popOne(0, q, "w", "j")
			h.do(7, "complete", "j", "w", q, noData, "next", q2).is("waiting")
			h.do(7, "stats", q, 7).jsonIs(statsObj(0, 0, 0, statBlock(1, 0, 0, map[int]int{0: 1}), statBlock(1, 7, 0, map[int]int{7: 1})))
			h.do(7, "stats", q2, 7).jsonIs(statsObj(0, 0, 0, noStats(), noStats()))
			// The wait in q2 counts from the completion.
			h.popOne(10, q2, "w", "j")
			h.do(10, "stats", q2, 10).jsonIs(statsObj(0, 0, 0, statBlock(1, 3, 0, map[int]int{3: 1}), noStats()))
		}},
		{"stats/failures_and_failed", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.same(h.pop(2, "q", "w", 2), []string{"a", "b"}, "pop")
			h.fail(3, "a", "w", "g", "m")
			h.fail(4, "b", "w", "g", "m")
			h.do(5, "stats", "q", 5).jsonIs(statsObj(0, 2, 2, nil, nil), ignoreWaitRun())
			h.put(6, "q", "a")
			h.do(6, "stats", "q", 6).jsonIs(statsObj(0, 1, 2, nil, nil), ignoreWaitRun())
		}},
		{"stats/unfail_does_not_decrement_failed", func(h *H) {
			h.put(0, "q", "a")
			h.popOne(1, "q", "w", "a")
			h.fail(2, "a", "w", "g", "m")
			h.do(3, "unfail", "q", "g").is(1)
			h.do(3, "stats", "q", 3).jsonIs(statsObj(0, 1, 1, nil, nil), ignoreWaitRun())
		}},
		{"stats/cancel_of_failed_decrements_failed", func(h *H) {
			h.put(0, "q", "a")
			h.popOne(1, "q", "w", "a")
			h.fail(2, "a", "w", "g", "m")
			h.do(3, "cancel", "a").is([]string{"a"})
			h.do(3, "stats", "q", 3).jsonIs(statsObj(0, 0, 1, nil, nil), ignoreWaitRun())
		}},
		{"stats/failed_decrement_uses_failure_day", func(h *H) {
			h.put(0, "q", "a")
			h.popOne(1, "q", "w", "a")
			h.fail(100, "a", "w", "g", "m")
			h.put(86500, "q", "a")
			h.do(86500, "stats", "q", 0).jsonIs(statsObj(0, 0, 1, nil, nil), ignoreWaitRun())
			h.do(86500, "stats", "q", 86500).jsonIs(statsObj(0, 0, 0, nil, nil), ignoreWaitRun())
			h.popOne(86501, "q", "w", "a")
			h.fail(86502, "a", "w", "g", "m")
			h.do(86600, "cancel", "a").is([]string{"a"})
			h.do(86600, "stats", "q", 0).jsonIs(statsObj(0, 0, 1, nil, nil), ignoreWaitRun())
			h.do(86600, "stats", "q", 86600).jsonIs(statsObj(0, 0, 1, nil, nil), ignoreWaitRun())
		}},
		{"stats/retries_counts_courtesy_passes", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.same(h.pop(2, "q", "w", 2), []string{"a", "b"}, "pop")
			h.do(100, "pop", "q", "w", 5).text("{}")
			h.do(100, "stats", "q", 100).jsonIs(statsObj(2, 0, 0, nil, nil), ignoreWaitRun())
		}},
		{"stats/failures_from_retry_exhaustion", func(h *H) {
			h.put(0, "q", "a", "retries", 0)
			h.popOne(1, "q", "w", "a")
			h.do(2, "retry", "a", "q", "w").is(-1)
			h.do(2, "stats", "q", 2).jsonIs(statsObj(0, 1, 1, nil, nil), ignoreWaitRun())
		}},
	}
}
