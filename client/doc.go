// Package client is the Go client of qless: it puts, pops and manages qless
// jobs through the routers of a qless-router cluster, or straight on one
// Redis running the qless script.
//
// # Connecting
//
//	cfg := client.DefaultConfig()
//	cfg.Addrs = []string{"router-1:6380"} // or one Redis; or cfg.URL = "redis://..."
//	c, err := client.New(cfg)
//	...
//	defer c.Close()
//
// New does no I/O. At the first call the client asks the server for the
// live routers (QLESS.ROUTERS, refreshed every Config.Discovery); a plain
// Redis has no such command and the client keeps to Config.Addrs. Each
// client uses one router at a time, chosen by a rendezvous hash of its
// worker name, so that clients spread over the routers and each keeps to
// its own (a router caches where the jobs it handed out live). When that
// router fails the client moves to the next one and comes back after
// Config.DownTime.
//
// Every call is one EVALSHA of the qless script (spec section 1) with the
// client's clock as `now`. When the server does not know the script (a
// fresh Redis, NOSCRIPT) the client loads it (SCRIPT LOAD of package lua's
// script, or Config.Script) and sends the call again.
//
// # Failures and retries
//
// A call that fails on its connection is sent again only when that is safe,
// first on a new connection to the same router (a few times, unless the
// router cannot be dialed: it closed its connections, e.g. when idle or
// restarting), then to another router:
//
//   - Always when the command certainly did not reach the server: the
//     connection could not be opened, or it had already failed (the router
//     closed it) before the call was written.
//   - Otherwise only for reads: Job (get), Jobs (multiget), GetConfig and
//     AllConfig (config.get), Queue.Length, Queue.Stats, Queue.Jobs (every
//     state), Queue.Counts and Queues (queues), Failed and FailedGroups
//     (failed), Tagged and TopTags (tag get, tag top), Recurring
//     (recur.get), Tracked (track without arguments), Workers and
//     WorkerJobs (workers), and Ping. Three of them write something that any
//     later call would write the same way, once: queues and `jobs
//     scheduled` move due scheduled jobs to waiting, workers forgets idle
//     workers; sending them twice changes nothing more.
//   - Never for the other commands (put, pop, peek, complete, fail, retry,
//     heartbeat, cancel, ...): they fail with a *NetError that matches
//     ErrOutcomeUnknown. The command may or may not have taken effect; the
//     caller finds out (Job) and decides. Peek counts as a write: it spawns
//     due recurring jobs.
//
// A call whose context ends while it is in flight fails the same way
// (ErrOutcomeUnknown for a write, and the context's error).
//
// # Errors
//
//   - *Error: the qless script refused the call (bad argument, job in the
//     wrong state). Message is the qless message. errors.Is(err,
//     ErrLockLost) tells a worker that heartbeat, complete, fail or retry
//     was refused because it no longer holds the job; errors.Is(err,
//     ErrNotFound) that the job does not exist.
//   - *ServerError: another error reply (a router that cannot reach the
//     job's shard, a Redis that is loading).
//   - *NetError: the connection failed (see above). ErrUnavailable wraps
//     the last one when no router could be reached.
//
// # Jobs
//
// Job embeds core.Job, every field of a qless job, and acts on it: a worker
// pops a job, decodes its data (Job.Decode), heartbeats it while it works
// (Job.Heartbeat, Job.TTL), and completes (Job.Complete, optionally into
// another queue), fails (Job.Fail) or retries (Job.Retry) it. NewTestJob
// makes a Job without a server, whose methods record the calls, for unit
// tests of job code.
//
// # Events
//
// Client.Listen subscribes, on a connection of its own, to the events of
// tracked jobs (canceled, completed, failed, popped, put, stalled, track,
// untrack), to the ql:log stream, and to the lock events of workers
// (lock_lost, canceled on ql:w:<worker>, see Client.WatchWorker). It moves
// to another router when its connection fails; pub/sub keeps nothing, so
// events published while it reconnects are lost (Handlers.OnDisconnect and
// OnConnect tell when).
package client
