package resp

import (
	"context"

	"github.com/qless-router/qless-router/core"
)

// Backend is what the RESP server serves its clients from. *router.Router
// implements it. Every method is safe for concurrent use: the server calls
// them from one goroutine per client connection.
//
// Errors: a *core.ScriptError is written to the client verbatim (its Text,
// the full Redis error text with the `user_script:<n>: <message>` form that
// qless clients parse). Any other error is written as `ERR <message>`; the
// router's errors name the shard (core.ShardError, core.FanOutError).
type Backend interface {
	// Qless runs one qless command. args is what follows `EVALSHA <sha> 0`:
	// the command name, now, and the command's arguments, exactly as the
	// client sent them. args may be empty (the script then answers "Must
	// provide a command"). The strings share one backing allocation: clone
	// (strings.Clone) any you keep past the call, or the whole command stays
	// in memory.
	Qless(ctx context.Context, args []string) (core.Reply, error)

	// Read runs one of the read-only key commands qless clients issue, routed
	// by its key: `ZCARD ql:q:<queue>-locks|-work|-scheduled|-depends` and
	// `ZSCORE ql:q:<queue>-recur <jid>`. args[0] is the upper-case command
	// name ("ZCARD" or "ZSCORE"); the arity has been checked.
	Read(ctx context.Context, args []string) (core.Reply, error)

	// Publish publishes message on channel to every subscriber of the cluster
	// and returns the number of receivers.
	Publish(ctx context.Context, channel, message string) (int64, error)

	// Events registers fn for every message published in the cluster: the
	// shards' ql:* events and clients' PUBLISHes. fn does not block (the
	// server hands messages to its own goroutine) and may be called from
	// several goroutines. The returned cancel func unregisters fn.
	Events(fn func(channel, message string)) (cancel func())

	// FlushAll empties every shard (FLUSHDB/FLUSHALL).
	FlushAll(ctx context.Context) error

	// Routers lists the live routers of the cluster (QLESS.ROUTERS).
	Routers(ctx context.Context) ([]RouterInfo, error)

	// Locate names the shard that owns queue (QLESS.LOCATE).
	Locate(queue string) (shard string, err error)
}

// Informer is optionally implemented by a Backend to add lines to the
// `# Cluster` section of INFO. Each line is "key:value" (no CR or LF).
type Informer interface {
	Info(ctx context.Context) []string
}

// RouterInfo describes one live router, as QLESS.ROUTERS reports it.
type RouterInfo struct {
	// Name is the router's unique cluster name.
	Name string
	// RESPAddr is the address (host:port) of its RESP front end.
	RESPAddr string
	// HTTPAddr is the address of its HTTP API and dashboard ("" when off).
	HTTPAddr string
}

// Barrier is optionally implemented by a Backend whose events reach Events
// asynchronously (a router hears its shards over pub/sub connections).
// Barrier returns once every message published anywhere in the cluster
// before the call has been handed to the Events callbacks. The server calls
// it when a connection first subscribes, so that, as on one Redis, a new
// subscriber sees exactly the messages published after its SUBSCRIBE.
type Barrier interface {
	Barrier(ctx context.Context) error
}

// Interest is optionally implemented by a Backend that hears only the
// channels its clients subscribe to (a router subscribes upstream to just
// those, which spares its shards the messages nobody here wants). The
// server then registers its event feed with Feed instead of Events, and
// calls Want for every channel and pattern a connection subscribes to
// before confirming the subscription, releasing it at the unsubscribe or
// when the connection ends.
type Interest interface {
	// Feed is Events for the wanted channels (and every client's PUBLISH).
	Feed(fn func(channel, message string)) (cancel func())
	// Want makes the backend hear channel (pattern: every channel the
	// pattern may match) until release, and returns once messages
	// published from then on reach the feed. On error the subscription is
	// still made, without that guarantee.
	Want(ctx context.Context, channel string, pattern bool) (release func(), err error)
}
