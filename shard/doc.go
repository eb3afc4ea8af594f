// Package shard is the router's connection to one shard: one Redis
// deployment (a standalone server, or a primary that Sentinel monitors)
// running the project's qless script.
//
// A Shard wraps one rueidis client. It loads the script (package lua) when
// it connects, and with Config.Functions (the default) the same script as a
// Redis 7 function library too. It runs qless commands with FCALL of the
// library (reloading it when the server lost it, and giving errors the
// script's exact texts), or with EVALSHA (loading the script again when the
// server has lost its script cache) where the server does not take
// functions; the cross-shard transactions use EVALSHA. It forwards the few raw read-only
// commands qless clients issue, publishes and subscribes to the shard's
// `ql:*` channels, and watches the shard's health with a periodic PING.
//
// Replies come back as core.Reply, converted exactly as Redis converts the
// script's Lua value under RESP2 (spec 1.2). Errors come back in two kinds:
//
//   - *core.ScriptError: an error reply of the script or of Redis, the
//     deterministic answer one Redis would have given; a router passes its
//     Text to the client verbatim.
//   - *core.ShardError naming the shard: the shard could not be asked (a
//     connection failure, which also matches core.ErrShardDown; a server that
//     cannot serve now: READONLY, LOADING, BUSY, MASTERDOWN, which match
//     core.ErrShardDown too; the caller's context ending, which matches
//     context.Canceled or context.DeadlineExceeded; a Stop, core.ErrStopped).
//     Whether the command ran is then unknown: qless commands are not
//     idempotent, and the Shard never retries them.
//
// # Shard URLs
//
//	redis://[[user]:password@]host[:port][/db][?options]
//	rediss://...                          the same, over TLS
//	redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db][?options]
//	unix://[[user]:password@]/path/to/redis.sock[?db=N]
//
// A redis:// URL names one server (default port 6379); its query options are
// those of rueidis.ParseURL (dial_timeout, write_timeout, protocol,
// client_name, ...). A redis-sentinel:// URL lists the Sentinels (default
// port 26379) and names the monitored master set in the path; the client
// follows failovers. Its user and password are the Redis server's; the
// Sentinels' own credentials, when they need any, go in the options
// sentinel_user and sentinel_password. A unix:// URL reaches a server on
// the router's own host through its Unix domain socket (Redis' unixsocket
// setting): each command then costs the router and Redis less kernel time
// than over loopback TCP.
//
// # Concurrency
//
// Every method of Shard is safe for concurrent use. Call, Do and Publish
// from many goroutines share pipelined connections (rueidis
// auto-pipelining). Start, Stop and Subscribe may be called from any
// goroutine; Stop is idempotent and safe before Start.
package shard
