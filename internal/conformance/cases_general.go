package conformance

import "strings"

// Spec 1.1, 1.2, 1.5: invocation, reply conversion, argument conventions.
func generalCases() []testCase {
	return []testCase{
		{"general/unknown_command", func(h *H) {
			h.do(0, "foo").err("Unknown command foo")
			h.do(0, "GET", "j").err("Unknown command GET")
		}},
		{"general/missing_command", func(h *H) {
			_, err := h.eval()
			(&res{h: h, desc: "EVALSHA with no argv", rerr: err}).err("Must provide a command")
		}},
		{"general/keys_rejected", func(h *H) {
			h.do(0, "config.get", "heartbeat").ok() // make sure the script is loaded
			_, err := h.raw("EVALSHA", h.s.sha, "1", "ql:config", "config.get", "0")
			(&res{h: h, desc: "EVALSHA with one key", rerr: err}).err("No Keys should be provided")
		}},
		{"general/missing_now", func(h *H) {
			_, err := h.eval("get")
			(&res{h: h, desc: "get without now", rerr: err}).err("bad argument #1 to 'tonumber' (value expected)")
		}},
		{"general/bad_now", func(h *H) {
			h.do("abc", "get", "j").err(`Arg "now" missing or not a number: nil`)
			h.do("", "get", "j").err(`Arg "now" missing or not a number: nil`)
			h.noEffect(0, []string{"q", "j"}, func() {
				h.do("x", "put", putter, "q", "j", klass, noData, 0).err(`Arg "now" missing or not a number: nil`)
			})
		}},
		{"general/now_parsed_like_tonumber", func(h *H) {
			// Whitespace, hex and exponents are accepted (spec 1.1), and
			// so is text after a NUL byte (Lua's tonumber reads up to it).
			h.put(" 7 ", "q", "a")
			h.put("0x10", "q", "b")
			h.put("1e3", "q", "c")
			h.put("1000.75", "q", "d")
			h.put("9\x00junk", "q", "e")
			for jid, when := range map[string]int{"a": 7, "b": 16, "c": 1000, "d": 1000, "e": 9} {
				h.same(h.history(2000, jid), normJSON(h.t, arr{hist(when, "put", "q", "q")}), "history of %s", jid)
			}
		}},
		{"general/noscript_error", func(h *H) {
			_, err := h.raw("EVALSHA", strings.Repeat("0", 40), "0", "get", "0", "j")
			if err == nil || err.Error() != "NOSCRIPT No matching script. Please use EVAL." {
				h.t.Errorf("EVALSHA of an unknown sha: error %v, want exactly %q", err, "NOSCRIPT No matching script. Please use EVAL.")
			}
		}},
		{"general/script_load_returns_sha", func(h *H) {
			v, err := h.raw("SCRIPT", "LOAD", h.s.target.Script)
			if err != nil || v != h.s.sha {
				h.t.Errorf("SCRIPT LOAD = %v, %v; want %s", v, err, h.s.sha)
			}
			h.do(0, "config.get", "heartbeat").is(60)
		}},
		{"general/empty_string_is_present", func(h *H) {
			// An empty worker name passes the "missing" checks (spec 1.5).
			h.put(0, "q", "j")
			jobs := h.popJobs(1, "q", "", 1)
			h.same(jidsOf(jobs), []string{"j"}, "pop with worker \"\"")
			h.jobHas(1, "j", obj{"state": "running", "worker": ""})
			h.do(2, "complete", "j", "", "q", noData).is("complete")
		}},
		{"general/raw_queue_length_transaction", func(h *H) {
			// Ruby's Queue#length: MULTI, four ZCARDs, EXEC (spec 15.1).
			h.put(0, "q", "r")
			h.put(1, "q", "w1")
			h.put(1, "q", "w2")
			h.putDelay(1, "q", "s", 10)
			h.put(1, "q", "d", "depends", []string{"w1"})
			h.popOne(2, "q", "worker", "r")
			if v, err := h.raw("MULTI"); err != nil || v != "OK" {
				h.t.Fatalf("MULTI = %v, %v", v, err)
			}
			for _, k := range []string{"locks", "work", "scheduled", "depends"} {
				if v, err := h.raw("ZCARD", "ql:q:q-"+k); err != nil || v != "QUEUED" {
					h.t.Fatalf("ZCARD = %v, %v; want QUEUED", v, err)
				}
			}
			v, err := h.raw("EXEC")
			if err != nil {
				h.t.Fatalf("EXEC: %v", err)
			}
			h.same(v, []any{int64(1), int64(2), int64(1), int64(1)}, "EXEC of locks, work, scheduled, depends ZCARDs")
		}},
		{"general/reply_shapes", func(h *H) {
			// Spec 1.2: which commands reply with what.
			h.do(0, "put", putter, "q", "j", klass, noData, 0).is("j")
			h.do(0, "requeue", putter, "q", "j", klass, noData, 0).is("j")
			h.do(0, "recur", "q", "r", klass, noData, "interval", 60, 0).is("r")
			h.do(0, "config.set", "foo", "bar").isNil()
			h.do(0, "config.unset", "foo").isNil()
			h.do(0, "pause", "q").isNil()
			h.do(0, "unpause", "q").isNil()
			h.do(0, "log", "j", "hello").isNil()
			h.do(0, "length", "q").is(1)
			h.do(0, "track", "track", "j").text("1")
			h.do(0, "jobs", "depends", "q").is([]string{})
			h.do(0, "cancel").is([]string{})
			h.do(0, "unrecur", "r").is(1)
			h.do(0, "get", "missing").isNil()
			h.do(0, "recur.get", "missing").isNil()
			h.popOne(1, "q", "w", "j")
			h.do(2, "heartbeat", "j", "w").is(62)
			h.do(2, "timeout", "j").isNil()
			h.do(3, "worker.deregister", "w").isNil()
			h.do(3, "queue.forget", "q").isNil()
		}},
	}
}

// Spec 1.3 and 16.1-16.2: the JSON encoding rules.
func jsonCases() []testCase {
	return []testCase{
		{"json/empty_lists_are_objects", func(h *H) {
			h.do(0, "workers").text("{}")
			h.do(0, "pop", "q", "w", 10).text("{}")
			h.do(0, "peek", "q", 10).text("{}")
			h.do(0, "multiget", "a", "b").text("{}")
			h.do(0, "multiget").text("{}")
			h.do(0, "queues").text("{}")
			h.do(0, "failed").text("{}")
			h.do(0, "tag", "top").text("{}")
			h.do(1, "workers", "nobody").jsonIs(`{"jobs":{},"stalled":{}}`)
			h.do(1, "track").jsonIs(`{"jobs":{},"expired":{}}`)
			h.do(1, "failed", "g").jsonIs(`{"total":0,"jobs":{}}`)
			h.do(1, "tag", "get", "t").jsonIs(`{"total":0,"jobs":{}}`)
			h.put(1, "q", "j")
			got := h.do(1, "get", "j").str()
			for _, want := range []string{`"tags":{}`, `"dependents":{}`, `"dependencies":{}`, `"failure":{}`, `"spawned_from_jid":false`, `"tracked":false`, `"data":"{}"`} {
				if !strings.Contains(got, want) {
					h.t.Errorf("get j = %s, want it to contain %s", got, want)
				}
			}
			h.do(1, "tag", "add", "j", "t").text(`["t"]`)
			h.do(1, "tag", "remove", "j", "t").text("{}")
		}},
		{"json/fourteen_significant_digits", func(h *H) {
			h.put(1700000000, "q", "j")
			h.do(1700000001.9876542, "pop", "q", "w", 1).contains(`"expires":1700000061.9877`)
			h.do(1700000002, "get", "j").contains(`"expires":1700000061.9877`)
		}},
		{"json/number_forms", func(h *H) {
			h.put(0, "q", "big", "priority", "1e15")
			h.do(0, "get", "big").contains(`"priority":1e+15`)
			h.put(0, "q", "third", "priority", "0.333333333333333333")
			h.do(0, "get", "third").contains(`"priority":0.33333333333333`)
			h.put(0, "q", "negzero", "priority", "-0")
			h.do(0, "get", "negzero").contains(`"priority":-0`)
			h.put(0, "q", "integral", "retries", "3.0", "priority", "-1")
			for _, want := range []string{`"retries":3[,}]`, `"remaining":3[,}]`, `"priority":-1[,}]`, `"expires":0[,}]`} {
				h.do(0, "get", "integral").matches(want)
			}
		}},
		{"json/string_escaping", func(h *H) {
			k := "a/b\x01\x7f\t\"\\\xc3\xa9\n"
			h.do(0, "put", putter, "q", "j", k, noData, 0).is("j")
			h.do(0, "get", "j").contains(`"klass":"a\/b\u0001\u007f\t\"\\` + "\xc3\xa9" + `\n"`)
			h.jobHas(0, "j", obj{"klass": k})
		}},
		{"json/data_is_a_double_encoded_string", func(h *H) {
			h.do(0, "put", putter, "q", "j", klass, `{"a":"x/y"}`, 0).is("j")
			h.do(0, "get", "j").contains(`"data":"{\"a\":\"x\/y\"}"`)
		}},
		{"json/data_stored_verbatim_by_put", func(h *H) {
			data := `{"b": 1,  "a": [] , "c": 1.50}`
			h.do(0, "put", putter, "q", "j", klass, data, 0).is("j")
			h.jobHas(0, "j", obj{"data": data})
			h.do(0, "put", putter, "q", "arr", klass, `[1, 2]`, 0).is("arr")
			h.jobHas(0, "arr", obj{"data": `[1, 2]`})
		}},
	}
}

// Spec 3 and 6.4: configuration.
func configCases() []testCase {
	defaults := obj{
		"application":        "qless",
		"heartbeat":          60,
		"grace-period":       10,
		"jobs-history":       604800,
		"jobs-history-count": 50000,
		"stats-history":      30,
		"histogram-history":  7,
	}
	return []testCase{
		{"config/defaults", func(h *H) {
			h.do(0, "config.get").jsonIs(defaults)
		}},
		{"config/get_default_key_types", func(h *H) {
			h.do(0, "config.get", "heartbeat").is(60)
			h.do(0, "config.get", "grace-period").is(10)
			h.do(0, "config.get", "jobs-history").is(604800)
			h.do(0, "config.get", "jobs-history-count").is(50000)
			h.do(0, "config.get", "stats-history").is(30)
			h.do(0, "config.get", "histogram-history").is(7)
			h.do(0, "config.get", "application").is("qless")
			h.do(0, "config.get", "max-worker-age").isNil()
			h.do(0, "config.get", "max-job-history").isNil()
			h.do(0, "config.get", "q-max-concurrency").isNil()
			h.do(0, "config.get", "nonsense").isNil()
		}},
		{"config/set_and_get", func(h *H) {
			h.do(0, "config.set", "heartbeat", 100).isNil()
			h.do(0, "config.get", "heartbeat").is("100")
			h.do(0, "config.set", "foo", "bar").isNil()
			h.do(0, "config.get", "foo").is("bar")
			h.do(0, "config.set", "empty", "").isNil()
			h.do(0, "config.get", "empty").is("")
			want := obj{}
			for k, v := range defaults {
				want[k] = v
			}
			want["heartbeat"] = "100"
			want["foo"] = "bar"
			want["empty"] = ""
			h.do(0, "config.get").jsonIs(want)
		}},
		{"config/overrides_are_strings_in_dump", func(h *H) {
			h.do(0, "config.set", "max-worker-age", 5).isNil()
			h.do(0, "config.set", "application", "mine").isNil()
			want := obj{}
			for k, v := range defaults {
				want[k] = v
			}
			want["max-worker-age"] = "5"
			want["application"] = "mine"
			h.do(0, "config.get").jsonIs(want)
			h.do(0, "config.get", "max-worker-age").is("5")
		}},
		{"config/unset_restores_default", func(h *H) {
			h.do(0, "config.set", "heartbeat", 100).isNil()
			h.do(0, "config.unset", "heartbeat").isNil()
			h.do(0, "config.get", "heartbeat").is(60)
			h.do(0, "config.get").jsonIs(defaults)
		}},
		{"config/unset_unknown", func(h *H) {
			h.do(0, "config.unset", "foo").isNil()
			h.do(0, "config.get", "foo").isNil()
		}},
		{"config/errors", func(h *H) {
			h.noEffect(0, nil, func() {
				h.do(0, "config.set").err(`config.set(): Arg "option" missing`)
				h.do(0, "config.set", "heartbeat").err(`config.set(): Arg "value" missing`)
				h.do(0, "config.unset").err(`config.unset(): Arg "option" missing`)
			})
		}},
		{"config/heartbeat_sets_lock_length", func(h *H) {
			h.do(0, "config.set", "heartbeat", 30).isNil()
			h.put(0, "q", "a")
			h.popJobs(10, "q", "w", 1)
			h.jobHas(10, "a", obj{"expires": 40})
			h.do(20, "heartbeat", "a", "w").is(50)
		}},
		{"config/per_queue_heartbeat", func(h *H) {
			h.do(0, "config.set", "heartbeat", 30).isNil()
			h.do(0, "config.set", "q-heartbeat", 7).isNil()
			h.do(0, "config.set", "heartbeat-q", 1000).isNil() // the README's form is read by nothing
			h.put(0, "q", "a")
			h.put(0, "other", "b")
			h.popOne(10, "q", "w", "a")
			h.popOne(10, "other", "w", "b")
			h.jobHas(10, "a", obj{"expires": 17})
			h.jobHas(10, "b", obj{"expires": 40})
			h.do(12, "heartbeat", "a", "w").is(19)
			h.do(12, "heartbeat", "b", "w").is(42)
		}},
	}
}
