package conformance

import (
	"fmt"
	"strings"
)

// js encodes s as lua-cjson does (spec 1.3): `/` escaped, control characters
// as \u00XX except the short forms.
func js(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '/':
			b.WriteString(`\/`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// The ql:log payloads with their exact key order (spec 11.2).
func putMsg(jid, q string) string {
	return `{"jid":` + js(jid) + `,"event":"put","queue":` + js(q) + `}`
}

func lockLostMsg(jid, w string) string {
	return `{"jid":` + js(jid) + `,"event":"lock_lost","worker":` + js(w) + `}`
}

func canceledMsg(jid, q, w string) string {
	return `{"jid":` + js(jid) + `,"queue":` + js(q) + `,"event":"canceled","worker":` + js(w) + `}`
}

func completedMsg(jid, q string) string {
	return `{"jid":` + js(jid) + `,"event":"completed","queue":` + js(q) + `}`
}

func advancedMsg(jid, to, q string) string {
	return `{"jid":` + js(jid) + `,"to":` + js(to) + `,"event":"advanced","queue":` + js(q) + `}`
}

func failedMsg(msg, jid, group, w string) string {
	return `{"message":` + js(msg) + `,"jid":` + js(jid) + `,"group":` + js(group) + `,"event":"failed","worker":` + js(w) + `}`
}

// Spec 11: events, exact payloads and per-command order.
func eventCases() []testCase {
	track := func(h *H, now any, jid string) {
		h.t.Helper()
		h.do(now, "track", "track", jid).ok()
	}
	return []testCase{
		{"events/put", func(h *H) {
			h.wantEvents(func() { h.put(0, "q", "j") }, ev("ql:log", putMsg("j", "q")))
			track(h, 0, "j")
			h.wantEvents(func() { h.put(1, "q", "j") },
				ev("ql:log", putMsg("j", "q")),
				ev("ql:put", "j"),
			)
		}},
		{"events/requeue", func(h *H) {
			h.put(0, "q", "j")
			track(h, 0, "j")
			h.wantEvents(func() { h.do(1, "requeue", putter, "q", "j", klass, noData, 0).is("j") },
				ev("ql:log", putMsg("j", "q")),
				ev("ql:put", "j"),
			)
		}},
		{"events/track_untrack", func(h *H) {
			h.put(0, "q", "j")
			h.wantEvents(func() {
				h.do(1, "track", "track", "j").text("1")
				h.do(1, "track", "track", "j").text("0")
				h.do(2, "track", "untrack", "j").text("1")
				h.do(2, "track", "untrack", "j").text("0")
			},
				ev("ql:track", "j"),
				ev("ql:track", "j"),
				ev("ql:untrack", "j"),
				ev("ql:untrack", "j"),
			)
		}},
		{"events/pop", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.put(2, "q", "c")
			track(h, 2, "a")
			track(h, 2, "c")
			h.wantEvents(func() {
				h.same(h.pop(3, "q", "w", 3), []string{"a", "b", "c"}, "pop")
			},
				ev("ql:popped", "a"),
				ev("ql:popped", "c"),
			)
		}},
		{"events/complete", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			track(h, 1, "a")
			h.same(h.pop(2, "q", "w", 2), []string{"a", "b"}, "pop")
			h.wantEvents(func() {
				h.complete(3, "a", "w", "q")
				h.complete(3, "b", "w", "q")
			},
				ev("ql:completed", "a"),
				ev("ql:log", completedMsg("a", "q")),
				ev("ql:log", completedMsg("b", "q")),
			)
		}},
		{"events/advance", func(h *H) {
			qs := h.queuesOr("q", "q2")
			q, q2 := qs[0], qs[1]
			h.put(0, q, "a")
			h.put(1, q, "b")
			track(h, 1, "a")
			h.same(h.pop(2, q, "w", 2), []string{"a", "b"}, "pop")
			h.wantEvents(func() {
				h.do(3, "complete", "a", "w", q, noData, "next", q2).is("waiting")
				h.do(3, "complete", "b", "w", q, noData, "next", q2, "delay", 10).is("scheduled")
			},
				ev("ql:completed", "a"),
				ev("ql:log", advancedMsg("a", q2, q)),
				ev("ql:log", advancedMsg("b", q2, q)),
			)
		}},
		{"events/fail", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			track(h, 1, "a")
			h.same(h.pop(2, "q", "w", 2), []string{"a", "b"}, "pop")
			h.wantEvents(func() {
				h.fail(3, "a", "w", "g", "it/broke")
				h.fail(3, "b", "w", "g", `say "hi"`)
			},
				ev("ql:log", failedMsg("it/broke", "a", "g", "w")),
				ev("ql:failed", "a"),
				ev("ql:log", failedMsg(`say "hi"`, "b", "g", "w")),
			)
		}},
		{"events/retry", func(h *H) {
			h.put(0, "q", "a", "retries", 0)
			h.put(1, "q", "b", "retries", 0)
			h.put(2, "q", "c", "retries", 1)
			track(h, 2, "a")
			track(h, 2, "c")
			h.same(h.pop(3, "q", "w", 3), []string{"a", "b", "c"}, "pop")
			h.wantEvents(func() {
				h.do(4, "retry", "c", "q", "w").is(0)
				h.do(4, "retry", "a", "q", "w").is(-1)
				h.do(4, "retry", "b", "q", "w").is(-1)
			},
				ev("ql:failed", "a"),
			)
		}},
		{"events/courtesy_pass", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			track(h, 1, "a")
			h.same(h.pop(2, "q", "w1", 1), []string{"a"}, "pop a")
			h.same(h.pop(3, "q", "w2", 1), []string{"b"}, "pop b")
			h.wantEvents(func() {
				h.do(100, "pop", "q", "w3", 5).text("{}")
			},
				ev("ql:stalled", "a"),
				ev("ql:w:w1", lockLostMsg("a", "w1")),
				ev("ql:log", lockLostMsg("a", "w1")),
				ev("ql:w:w2", lockLostMsg("b", "w2")),
				ev("ql:log", lockLostMsg("b", "w2")),
			)
			h.wantEvents(func() {
				h.same(h.pop(110, "q", "w3", 5), []string{"a", "b"}, "pop after the grace period")
			},
				ev("ql:popped", "a"),
			)
		}},
		{"events/courtesy_with_zero_grace", func(h *H) {
			h.do(0, "config.set", "grace-period", 0).isNil()
			h.put(0, "q", "a")
			track(h, 0, "a")
			h.popOne(1, "q", "w1", "a")
			h.wantEvents(func() {
				h.popOne(100, "q", "w2", "a")
			},
				ev("ql:stalled", "a"),
				ev("ql:w:w1", lockLostMsg("a", "w1")),
				ev("ql:log", lockLostMsg("a", "w1")),
				ev("ql:popped", "a"),
			)
		}},
		{"events/lock_exhaustion", func(h *H) {
			h.put(0, "q", "a", "retries", 0)
			h.put(1, "q", "b", "retries", 0)
			track(h, 1, "a")
			h.same(h.pop(2, "q", "w1", 2), []string{"a", "b"}, "pop")
			h.do(100, "pop", "q", "w2", 5).text("{}")
			h.wantEvents(func() {
				h.do(110, "pop", "q", "w2", 5).text("{}")
			},
				ev("ql:failed", "a"),
				ev("ql:log", failedMsg(exhausted("q"), "a", "failed-retries-q", "w1")),
				ev("ql:log", failedMsg(exhausted("q"), "b", "failed-retries-q", "w1")),
			)
		}},
		{"events/timeout", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			track(h, 1, "a")
			h.same(h.pop(2, "q", "w", 2), []string{"a", "b"}, "pop")
			h.wantEvents(func() {
				h.do(3, "timeout", "a", "b").isNil()
			},
				ev("ql:w:w", lockLostMsg("a", "w")),
				ev("ql:log", lockLostMsg("a", "w")),
				ev("ql:w:w", lockLostMsg("b", "w")),
				ev("ql:log", lockLostMsg("b", "w")),
			)
		}},
		{"events/reput_running_by_other_worker", func(h *H) {
			h.put(0, "q", "a")
			track(h, 0, "a")
			h.popOne(1, "q", "w1", "a")
			h.wantEvents(func() {
				h.do(2, "put", "w2", "q", "a", klass, noData, 0).is("a")
			},
				ev("ql:log", putMsg("a", "q")),
				ev("ql:w:w1", lockLostMsg("a", "w1")),
				ev("ql:log", lockLostMsg("a", "w1")),
				ev("ql:put", "a"),
			)
		}},
		{"events/reput_running_by_same_worker", func(h *H) {
			h.put(0, "q", "a")
			h.popOne(1, "q", "w1", "a")
			h.wantEvents(func() {
				h.do(2, "put", "w1", "q", "a", klass, noData, 0).is("a")
			},
				ev("ql:log", putMsg("a", "q")),
			)
			h.do(3, "complete", "a", "w1", "q", noData).err("Complete(): Job a is not currently running: waiting")
		}},
		{"events/reput_after_retry_or_timeout_notifies_stale_worker", func(h *H) {
			h.put(0, "q", "a")
			h.put(1, "q", "b")
			h.same(h.pop(2, "q", "w1", 2), []string{"a", "b"}, "pop")
			h.do(3, "retry", "a", "q", "w1").is(4)
			h.do(3, "timeout", "b").isNil()
			h.wantEvents(func() {
				h.put(4, "q", "a")
				h.put(4, "q", "b")
			},
				ev("ql:log", putMsg("a", "q")),
				ev("ql:w:w1", lockLostMsg("a", "w1")),
				ev("ql:log", lockLostMsg("a", "w1")),
				ev("ql:log", putMsg("b", "q")),
				ev("ql:w:w1", lockLostMsg("b", "w1")),
				ev("ql:log", lockLostMsg("b", "w1")),
			)
		}},
		{"events/reput_of_waiting_job_has_no_lock_lost", func(h *H) {
			h.put(0, "q", "a")
			h.wantEvents(func() { h.do(1, "put", "other", "q", "a", klass, noData, 0).is("a") },
				ev("ql:log", putMsg("a", "q")))
		}},
		{"events/config", func(h *H) {
			h.wantEvents(func() {
				h.do(0, "config.set", "heartbeat", 30).isNil()
				h.do(0, "config.set", "a/b", "x/y").isNil()
				h.do(0, "config.unset", "heartbeat").isNil()
			},
				ev("ql:log", `{"option":"heartbeat","event":"config_set","value":"30"}`),
				ev("ql:log", `{"option":"a\/b","event":"config_set","value":"x\/y"}`),
				ev("ql:log", `{"event":"config_unset","option":"heartbeat"}`),
			)
		}},
		{"events/cancel", func(h *H) {
			h.put(0, "q", "waiting")
			h.put(1, "q", "running")
			h.popOne(1, "q", "w", "waiting")
			h.popOne(2, "q", "w", "running")
			h.put(3, "q", "waiting")
			h.put(3, "q", "tracked")
			track(h, 3, "tracked")
			h.wantEvents(func() {
				h.do(4, "cancel", "waiting", "running", "missing", "tracked").is([]string{"waiting", "running", "missing", "tracked"})
			},
				ev("ql:log", canceledMsg("waiting", "q", "")),
				ev("ql:log", canceledMsg("running", "q", "w")),
				ev("ql:w:w", canceledMsg("running", "q", "w")),
				ev("ql:log", `{"jid":"missing","queue":false,"event":"canceled","worker":false}`),
				ev("ql:log", canceledMsg("tracked", "q", "")),
				ev("ql:canceled", "tracked"),
			)
		}},
		{"events/cancel_running_tracked", func(h *H) {
			h.put(0, "q", "a")
			track(h, 0, "a")
			h.popOne(1, "q", "w", "a")
			h.wantEvents(func() { h.do(2, "cancel", "a").is([]string{"a"}) },
				ev("ql:log", canceledMsg("a", "q", "w")),
				ev("ql:w:w", canceledMsg("a", "q", "w")),
				ev("ql:canceled", "a"),
			)
		}},
		{"events/cancel_complete_is_silent", func(h *H) {
			h.put(0, "q", "a")
			track(h, 0, "a")
			h.popOne(1, "q", "w", "a")
			h.complete(2, "a", "w", "q")
			h.wantEvents(func() { h.do(3, "cancel", "a").is([]string{"a"}) })
		}},
		{"events/escaping", func(h *H) {
			h.wantEvents(func() { h.put(0, "a/b", "j/1") },
				ev("ql:log", `{"jid":"j\/1","event":"put","queue":"a\/b"}`))
		}},
		{"events/quiet_commands", func(h *H) {
			h.put(0, "q", "a")
			h.put(0, "q", "b", "depends", []string{"a"})
			h.put(0, "q", "c")
			h.put(0, "q", "f")
			h.putDelay(0, "q", "s", 5)
			for _, j := range []string{"a", "b", "c", "f", "s"} {
				track(h, 0, j)
			}
			h.popOne(1, "q", "w", "f")
			h.fail(1, "f", "w", "g", "m")
			h.wantEvents(func() {
				h.same(h.peek(2, "q", 10), []string{"c", "a"}, "peek")
				h.do(2, "depends", "b", "on", "c").is(1)
				h.do(2, "depends", "b", "off", "c").is(1)
				h.do(2, "priority", "c", 3).is(3)
				h.do(2, "tag", "add", "c", "t").ok()
				h.do(2, "tag", "remove", "c", "t").ok()
				h.do(2, "log", "c", "note").isNil()
				h.do(2, "unfail", "q", "g").is(1)
				h.do(2, "pause", "q").isNil()
				h.do(2, "unpause", "q").isNil()
				h.do(2, "recur", "q", "r", klass, noData, "interval", 60, 0).is("r")
				h.do(2, "recur.update", "r", "priority", 1).is(1)
				h.do(2, "recur.tag", "r", "t").ok()
				h.do(2, "recur.untag", "r", "t").ok()
				h.do(2, "recur.get", "r").ok()
				h.do(2, "queues").ok()
				h.do(6, "queues", "q").ok() // promotes s
				h.do(6, "stats", "q", 6).ok()
				h.do(6, "workers").ok()
				h.do(6, "jobs", "scheduled", "q").ok()
				h.do(6, "failed").ok()
				h.do(6, "get", "c").ok()
				h.do(6, "multiget", "c", "a").ok()
				h.do(6, "track").ok()
				h.do(6, "config.get").ok()
				h.do(6, "length", "q").ok()
				h.do(6, "queue.forget", "nothing").isNil()
				h.do(6, "worker.deregister", "nobody").isNil()
				h.do(6, "unrecur", "r").is(1)
			})
			h.popOne(7, "q", "w", "c")
			h.wantEvents(func() {
				h.do(8, "heartbeat", "c", "w").is(68)
				h.do(8, "retry", "c", "q", "w").is(4)
			})
			h.do(9, "priority", "c", -5).is(-5)
			h.popOne(9, "q", "w", "a")
			h.wantEvents(func() {
				// Unlocking b publishes nothing beyond a's own completion.
				h.complete(10, "a", "w", "q")
			},
				ev("ql:completed", "a"),
				ev("ql:log", completedMsg("a", "q")),
			)
		}},
	}
}
