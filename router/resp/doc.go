// Package resp is the RESP front end of a qless router: a server that speaks
// the Redis protocol (RESP2, built on github.com/tidwall/redcon) so that
// every stock qless client (the Ruby gem, qless-py, PHP, Java, this
// project's Go client) works through a router exactly as it works against
// one Redis. It serves the commands from a Backend (implemented by
// *router.Router) and knows nothing of shards or routing itself.
//
// # Scripts
//
// A qless client runs its own copy of qless.lua with EVALSHA <sha> 0
// <command> <now> <args...>. The router never executes the Lua text a client
// sends: whichever script the client loaded, the call is served by the
// router's own qless script on the shards (Backend.Qless gets <command>
// <now> <args...>). Scripts are tracked by SHA only, as Redis's script cache:
//
//	SCRIPT LOAD <text>      returns the SHA-1 of text and remembers it
//	SCRIPT EXISTS <sha>...  1 for each remembered SHA (and the server's own)
//	SCRIPT FLUSH [ASYNC|SYNC]
//	                        forgets every SHA except the server's own
//	                        (Config.Script, known from the start)
//	SCRIPT KILL             NOTBUSY (nothing runs on the router)
//	EVALSHA <sha> <numkeys> <args...>
//	                        an unknown SHA gets exactly
//	                        "NOSCRIPT No matching script. Please use EVAL.";
//	                        numkeys > 0 gets the script's own error
//	                        "ERR user_script:1: No Keys should be provided
//	                        script: <sha>, on @user_script:1."
//	EVAL <text> <numkeys> <args...>
//	                        as EVALSHA; the text's SHA becomes known
//
// The known SHAs are per router process (lost on restart, not shared between
// routers): a client that meets NOSCRIPT loads its script again, as it does
// after a Redis restart.
//
// Errors of the qless script (*core.ScriptError) reach the client verbatim,
// in the Redis 7 form `ERR user_script:<n>: <message> script: <sha>, on
// @user_script:<n>.` that the Ruby client's workers depend on. Other errors
// are `ERR <message>`, naming the shard that failed.
//
// # Raw Redis commands of qless clients
//
//	ZCARD ql:q:<queue>-locks|-work|-scheduled|-depends
//	ZSCORE ql:q:<queue>-recur <jid>
//	                        Backend.Read, routed by the key
//	MULTI, EXEC, DISCARD    any other command of this list may be queued
//	                        (+QUEUED); EXEC replies with the array of their
//	                        replies, a queueing error makes it EXECABORT.
//	                        A transaction of reads only (Ruby's Queue#length:
//	                        four ZCARDs) runs its reads in parallel. EXEC is
//	                        not atomic across shards.
//	PUBLISH <channel> <message>
//	                        to every subscriber of the cluster (any channel)
//	SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE
//	                        served by a local redcon.PubSub fed by
//	                        Backend.Events (every shard's ql:* events and
//	                        every router's PUBLISHes); patterns use * and ?
//	                        (PSUBSCRIBE * receives everything). A subscribed
//	                        connection accepts only these commands, PING and
//	                        QUIT, and stays in subscribed mode until it
//	                        closes. A subscriber that does not read for
//	                        Config.SubscriberWriteTimeout is disconnected.
//
// # Connection and server commands
//
//	AUTH <password> | AUTH <user> <password>
//	                        user "default" or "admin"; the password decides:
//	                        Config.Password for clients, Config.AdminPassword
//	                        for administrators. Until AUTH, when Password is
//	                        set, only AUTH, HELLO and QUIT are served (NOAUTH).
//	HELLO                   exactly "ERR unknown command 'HELLO'", so that
//	                        RESP3 clients (rueidis) fall back to RESP2
//	PING [msg], ECHO <msg>, QUIT
//	SELECT 0                only database 0 exists
//	CLIENT SETNAME|GETNAME|ID|INFO|SETINFO
//	INFO [section...]       Server (redis_version:7.0.15), Clients, CPU
//	                        (the router process's used_cpu_sys/user),
//	                        Replication and a Cluster section
//	                        (cluster_enabled:0, qless_router:1, the script
//	                        SHA, dropped events, and the Backend's lines when
//	                        it implements Informer)
//	COMMAND [...]           an empty array (COMMAND COUNT: 0)
//	FLUSHDB, FLUSHALL [ASYNC|SYNC]
//	                        empty every shard (Backend.FlushAll). When
//	                        Config.AdminPassword is set, only connections
//	                        authenticated with it may (NOPERM otherwise).
//
// # Cluster commands of qless-router
//
//	QLESS.ROUTERS           the live routers: an array of
//	                        [name, resp-addr, http-addr] arrays
//	QLESS.LOCATE <queue>    the name of the shard that owns queue
//
// Anything else gets "ERR unknown command '<name>'". Command names are
// case-insensitive, as on Redis; qless command names (inside EVALSHA) are
// case-sensitive and checked by the script.
//
// # Concurrency
//
// Each connection is served on its own goroutine, one command after the
// other, like Redis: a pipelining client keeps its order. Commands run with
// a context that ends when the connection closes or the server stops. The
// hot path (EVALSHA) takes no lock and allocates only the copy of its
// arguments.
//
// One command at a time per connection costs an auto-pipelining client
// (rueidis puts every goroutine's calls on one connection) one shard round
// trip per call. Config.PipelineParallel lets a pipelined batch made only
// of EVALSHA/EVAL calls run that many calls at once, replies in order; it
// is off by default because the calls' effects may then happen in any
// order.
package resp
