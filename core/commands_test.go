package core

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// spec6 lists the 37 commands of spec section 6.1.
var spec6 = []string{
	"cancel", "complete", "config.get", "config.set", "config.unset", "depends", "fail", "failed",
	"get", "heartbeat", "jobs", "length", "log", "multiget", "pause", "peek", "pop", "priority",
	"put", "queue.forget", "queues", "recur", "recur.get", "recur.tag", "recur.untag", "recur.update",
	"requeue", "retry", "stats", "tag", "timeout", "track", "unfail", "unpause", "unrecur",
	"worker.deregister", "workers",
}

func TestCommandTableIsSpec6(t *testing.T) {
	t.Parallel()
	got := Commands()
	sort.Strings(got)
	if diff := cmp.Diff(spec6, got); diff != "" {
		t.Fatalf("Commands() mismatch (-want +got):\n%s", diff)
	}
	if _, ok := Lookup("PUT"); ok {
		t.Error(`Lookup("PUT") found a command; names are case-sensitive`)
	}
}

func TestRoute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cmd  string
		args []string
		want Route
	}{
		{"put", []string{"w", "q", "j", "K", "{}", "0"}, Route{Class: ClassQueue, Keys: []string{"q"}}},
		{"put", []string{"w"}, Route{Class: ClassAny}},
		{"put", []string{"w", ""}, Route{Class: ClassAny}},
		{"pop", []string{"q", "w", "1"}, Route{Class: ClassQueue, Keys: []string{"q"}}},
		{"get", []string{"j"}, Route{Class: ClassJob, Keys: []string{"j"}}},
		{"get", nil, Route{Class: ClassAny}},
		{"retry", []string{"j", "q2", "w"}, Route{Class: ClassJob, Keys: []string{"j"}, Queue: "q2"}},
		{"complete", []string{"j", "w", "q", "{}", "next", "q2", "delay", "0"}, Route{Class: ClassJob, Keys: []string{"j"}, Queue: "q2"}},
		{"complete", []string{"j", "w", "q", "{}"}, Route{Class: ClassJob, Keys: []string{"j"}}},
		{"jobs", []string{"complete"}, Route{Class: ClassFanOut}},
		{"jobs", []string{"running", "q"}, Route{Class: ClassQueue, Keys: []string{"q"}}},
		{"jobs", nil, Route{Class: ClassAny}},
		{"queues", nil, Route{Class: ClassFanOut}},
		{"queues", []string{"q"}, Route{Class: ClassQueue, Keys: []string{"q"}}},
		{"tag", []string{"add", "j", "t"}, Route{Class: ClassJob, Keys: []string{"j"}}},
		{"tag", []string{"get", "t"}, Route{Class: ClassFanOut}},
		{"tag", []string{"top"}, Route{Class: ClassFanOut}},
		{"tag", []string{"nope"}, Route{Class: ClassAny}},
		{"track", nil, Route{Class: ClassFanOut}},
		{"track", []string{"track", "j"}, Route{Class: ClassJob, Keys: []string{"j"}}},
		{"cancel", []string{"a", "b"}, Route{Class: ClassJob, Keys: []string{"a", "b"}}},
		{"cancel", nil, Route{Class: ClassAny}},
		{"pause", []string{"a", "b"}, Route{Class: ClassQueue, Keys: []string{"a", "b"}}},
		{"config.set", []string{"heartbeat", "5"}, Route{Class: ClassBroadcast}},
		{"config.get", nil, Route{Class: ClassAny}},
		{"unfail", []string{"q", "g"}, Route{Class: ClassFanOut}},
	} {
		c, ok := Lookup(tc.cmd)
		if !ok {
			t.Fatalf("Lookup(%q) failed", tc.cmd)
		}
		if diff := cmp.Diff(tc.want, c.Route(tc.args)); diff != "" {
			t.Errorf("Route(%s %q) mismatch (-want +got):\n%s", tc.cmd, tc.args, diff)
		}
	}
}

// FuzzRoute: for any command name and arguments, routing never panics, and
// the routing keys of a queue or job route are arguments of the call (so
// the router never invents a key).
func FuzzRoute(f *testing.F) {
	f.Add("put", "w\x00q\x00j\x00K\x00{}\x000")
	f.Add("complete", "j\x00w\x00q\x00{}\x00next\x00q2")
	f.Add("tag", "add\x00j\x00t")
	f.Add("jobs", "complete")
	f.Add("cancel", "")
	f.Fuzz(func(t *testing.T, name, joined string) {
		var args []string
		if joined != "" {
			args = strings.Split(joined, "\x00")
		}
		c, ok := Lookup(name)
		if !ok {
			return
		}
		r := c.Route(args)
		switch r.Class {
		case ClassQueue, ClassJob:
			if len(r.Keys) == 0 {
				t.Fatalf("Route(%s %q) = %+v: a %s route without keys", name, args, r, r.Class)
			}
			for _, k := range r.Keys {
				if !slices.Contains(args, k) {
					t.Fatalf("Route(%s %q) key %q is not an argument", name, args, k)
				}
			}
			if r.Queue != "" && !slices.Contains(args, r.Queue) {
				t.Fatalf("Route(%s %q) queue %q is not an argument", name, args, r.Queue)
			}
		case ClassFanOut, ClassBroadcast, ClassAny:
			if len(r.Keys) != 0 {
				t.Fatalf("Route(%s %q) = %+v: keys on a %s route", name, args, r, r.Class)
			}
		default:
			t.Fatalf("Route(%s %q) = %+v: unknown class", name, args, r)
		}
	})
}
