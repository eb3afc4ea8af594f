package core

import (
	"fmt"
	"strings"
)

// Class says how a router serves a qless command (DESIGN section 3). The
// router never inspects a command in any other way than through Route.
type Class uint8

const (
	// ClassQueue goes to the owner shard of Route.Keys[0] (a queue name).
	// With several keys (pause, unpause, queue.forget) each key goes to its
	// own owner and the replies are combined.
	ClassQueue Class = iota + 1
	// ClassJob goes to the shard holding the jid Route.Keys[0]. With several
	// keys (multiget, cancel, timeout) the jids are grouped by shard.
	ClassJob
	// ClassFanOut asks every shard in parallel and merges the replies exactly
	// as one Redis would have answered.
	ClassFanOut
	// ClassBroadcast writes to every shard (replicated configuration).
	ClassBroadcast
	// ClassAny may be answered by any single shard (config.get: config is
	// replicated).
	ClassAny
)

var classNames = [...]string{"", "queue", "job", "fan-out", "broadcast", "any"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("Class(%d)", c)
}

// Route is where one concrete call must be sent.
type Route struct {
	Class Class
	// Keys are the queue names (ClassQueue) or jids (ClassJob) that route the
	// call, in argument order. Empty for the other classes.
	Keys []string
	// Queue, when set on a ClassJob route, is a queue the command also names
	// (complete's next queue, retry's queue, put's destination): the router
	// checks whether that queue lives on the job's shard (cross-shard case).
	Queue string
}

// Command describes one qless script command.
type Command struct {
	Name string
	// Write reports whether the command can change state. Reads that write
	// (peek spawns recurring jobs, queues promotes scheduled jobs, workers
	// prunes) count as writes (spec 16.17).
	Write bool
	// route computes the route from the arguments after `now`.
	route func(args []string) Route
}

// Route computes where a call with these arguments (those after the command
// name and now) must be sent. Calls with missing routing arguments route to
// ClassAny, so that any shard produces the exact error text of the script.
func (c *Command) Route(args []string) Route { return c.route(args) }

func arg(args []string, i int) (string, bool) {
	if i < len(args) {
		return args[i], true
	}
	return "", false
}

// byQueue routes on the queue at argument i.
func byQueue(i int) func([]string) Route {
	return func(args []string) Route {
		q, ok := arg(args, i)
		if !ok || q == "" {
			return Route{Class: ClassAny}
		}
		return Route{Class: ClassQueue, Keys: []string{q}}
	}
}

// byJob routes on the jid at argument i; queueArg >= 0 names an argument
// that is also a queue.
func byJob(i, queueArg int) func([]string) Route {
	return func(args []string) Route {
		j, ok := arg(args, i)
		if !ok {
			return Route{Class: ClassAny}
		}
		r := Route{Class: ClassJob, Keys: []string{j}}
		if queueArg >= 0 {
			r.Queue, _ = arg(args, queueArg)
		}
		return r
	}
}

func fanOut([]string) Route    { return Route{Class: ClassFanOut} }
func broadcast([]string) Route { return Route{Class: ClassBroadcast} }
func anyShard([]string) Route  { return Route{Class: ClassAny} }

// manyQueues routes variadic queue lists (pause, unpause, queue.forget).
func manyQueues(args []string) Route {
	if len(args) == 0 {
		return Route{Class: ClassAny}
	}
	return Route{Class: ClassQueue, Keys: args}
}

// manyJobs routes variadic jid lists (multiget, cancel, timeout).
func manyJobs(args []string) Route {
	if len(args) == 0 {
		return Route{Class: ClassAny}
	}
	return Route{Class: ClassJob, Keys: args}
}

var commands = map[string]*Command{
	"get":               {Name: "get", route: byJob(0, -1)},
	"multiget":          {Name: "multiget", route: manyJobs},
	"config.get":        {Name: "config.get", route: anyShard},
	"config.set":        {Name: "config.set", Write: true, route: broadcast},
	"config.unset":      {Name: "config.unset", Write: true, route: broadcast},
	"queues":            {Name: "queues", Write: true, route: queuesRoute},
	"complete":          {Name: "complete", Write: true, route: completeRoute},
	"failed":            {Name: "failed", route: fanOut},
	"fail":              {Name: "fail", Write: true, route: byJob(0, -1)},
	"jobs":              {Name: "jobs", Write: true, route: jobsRoute},
	"retry":             {Name: "retry", Write: true, route: byJob(0, 1)},
	"depends":           {Name: "depends", Write: true, route: byJob(0, -1)},
	"heartbeat":         {Name: "heartbeat", Write: true, route: byJob(0, -1)},
	"workers":           {Name: "workers", Write: true, route: fanOut},
	"track":             {Name: "track", Write: true, route: trackRoute},
	"tag":               {Name: "tag", Write: true, route: tagRoute},
	"stats":             {Name: "stats", route: byQueue(0)},
	"priority":          {Name: "priority", Write: true, route: byJob(0, -1)},
	"log":               {Name: "log", Write: true, route: byJob(0, -1)},
	"peek":              {Name: "peek", Write: true, route: byQueue(0)},
	"pop":               {Name: "pop", Write: true, route: byQueue(0)},
	"pause":             {Name: "pause", Write: true, route: manyQueues},
	"unpause":           {Name: "unpause", Write: true, route: manyQueues},
	"cancel":            {Name: "cancel", Write: true, route: manyJobs},
	"timeout":           {Name: "timeout", Write: true, route: manyJobs},
	"put":               {Name: "put", Write: true, route: byQueue(1)},
	"requeue":           {Name: "requeue", Write: true, route: byQueue(1)},
	"unfail":            {Name: "unfail", Write: true, route: fanOut},
	"recur":             {Name: "recur", Write: true, route: byQueue(0)},
	"unrecur":           {Name: "unrecur", Write: true, route: byJob(0, -1)},
	"recur.get":         {Name: "recur.get", route: byJob(0, -1)},
	"recur.update":      {Name: "recur.update", Write: true, route: byJob(0, -1)},
	"recur.tag":         {Name: "recur.tag", Write: true, route: byJob(0, -1)},
	"recur.untag":       {Name: "recur.untag", Write: true, route: byJob(0, -1)},
	"length":            {Name: "length", route: byQueue(0)},
	"worker.deregister": {Name: "worker.deregister", Write: true, route: fanOut},
	"queue.forget":      {Name: "queue.forget", Write: true, route: manyQueues},
}

// Lookup returns the command of that exact (case-sensitive) name.
func Lookup(name string) (*Command, bool) {
	c, ok := commands[name]
	return c, ok
}

// Commands returns the names of every qless command, for documentation and
// tests. The order is unspecified.
func Commands() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	return names
}

func queuesRoute(args []string) Route {
	if len(args) > 0 {
		return byQueue(0)(args)
	}
	return Route{Class: ClassFanOut}
}

// completeRoute: complete jid worker queue data [next Q2] [delay D] [depends J].
func completeRoute(args []string) Route {
	r := byJob(0, -1)(args)
	if r.Class != ClassJob {
		return r
	}
	for i := 4; i+1 < len(args); i += 2 {
		if strings.EqualFold(args[i], "next") {
			r.Queue = args[i+1]
		}
	}
	return r
}

// jobsRoute: jobs complete [offset [count]] | jobs <state> <queue> [...].
func jobsRoute(args []string) Route {
	if len(args) == 0 || args[0] == "complete" {
		if len(args) == 0 {
			return Route{Class: ClassAny}
		}
		return Route{Class: ClassFanOut}
	}
	return byQueue(1)(args)
}

// trackRoute: track | track track|untrack jid.
func trackRoute(args []string) Route {
	if len(args) == 0 {
		return Route{Class: ClassFanOut}
	}
	return byJob(1, -1)(args)
}

// tagRoute: tag add|remove jid tag... | tag get tag [...] | tag top [...].
func tagRoute(args []string) Route {
	if len(args) == 0 {
		return Route{Class: ClassAny}
	}
	switch args[0] {
	case "add", "remove":
		return byJob(1, -1)(args)
	case "get", "top":
		return Route{Class: ClassFanOut}
	}
	return Route{Class: ClassAny}
}
