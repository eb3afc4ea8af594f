// Package worker runs qless jobs: it pops jobs from queues through a
// client.Client, runs the handler registered for each job's class, keeps
// the job's lock alive while the handler runs, and completes or fails the
// job with the handler's outcome.
//
// # Handlers and middleware
//
// A Handler is a func(ctx, *client.Job) error. Register one per job class
// with Worker.Handle (or Registry.Handle); HandleAny registers the handler
// of every class that has none. Middleware wraps handlers: Worker.Use adds
// worker-wide middleware around every job, and the mw arguments of Handle
// wrap that class only. Worker-wide middleware runs outermost, in the order
// it was added, then the class's middleware, then the handler.
//
// What the worker does with the outcome:
//
//   - nil: the job is completed (qless `complete`), unless the handler
//     settled it itself and said so by returning an error matching
//     ErrSettled (e.g. after Complete with client.WithNext).
//   - an error: the job is failed (qless `fail`) in the group
//     "<class>:<error type>" (see Group) with the error text as message.
//     The Retry middleware gives the job back to its queue with a backoff
//     instead, while it has retries left.
//   - a panic: the job is failed in group "<class>:panic" with the panic
//     value and the goroutine's stack as message.
//   - a lost lock: when a heartbeat is refused, or the server tells the
//     worker on its channel `ql:w:<worker>` that the job's lock was lost or
//     the job canceled, the job's context is canceled (context.Cause
//     matches client.ErrLockLost; it is ErrJobCanceled for a cancel) and the
//     job is neither completed nor failed: it belongs to someone else now.
//
// # Heartbeats
//
// While a handler runs, the worker heartbeats its job (qless `heartbeat`)
// every Config.HeartbeatInterval, by default a third of the time the lock
// had left when the job was popped. The lock length itself is the server's
// `heartbeat` (or `<queue>-heartbeat`) configuration.
//
// # Modes
//
// Goroutines (the default) runs up to Config.Concurrency jobs at once, each
// in its own goroutine. Free slots are filled by up to Config.Fetchers pops
// in flight at once, each of several jobs. ProcessPerJob runs each job in a fresh child
// process, the Go counterpart of qless's forking worker: a leak or a crash
// of one job cannot harm the others. The child is the current executable
// started again with the same arguments and an environment variable that
// makes Worker.Run (or MaybeRunChild) run the one job given on its stdin
// and report the outcome to the parent. The parent heartbeats meanwhile; a
// child that dies without reporting fails the job in group
// "<class>:crashed" with the tail of its stderr. In this mode the class's
// middleware and the handler run in the child, the worker-wide middleware
// in the parent (so register Retry there). The child's job is fetched
// through the child's client: methods that need the job's lock (Heartbeat,
// Complete, Fail, Retry) work there only if that client has the parent's
// worker name, e.g. a fixed client.Config.WorkerName.
//
// Exec returns a handler that runs any program per job (`qless-router
// worker --exec CMD`): the job's JSON on its stdin, exit status 0 completes
// it, anything else fails it with the tail of its stderr.
//
// # Control
//
// Worker.Stop stops at once (running jobs are canceled; those whose
// handler then returns an error are given back to their queues with qless
// `retry`), Drain stops taking jobs and returns once the running ones
// are done, KillRunning kills the running jobs and carries on, Pause and
// Resume stop and restart taking jobs. With Config.HandleSignals (or
// Worker.HandleSignals) the process signals do the same as in qless: TERM
// and INT stop, QUIT drains, USR1 kills the running jobs, USR2 pauses and
// writes every goroutine's stack, CONT resumes.
//
// # Reservers
//
// A Reserver decides which queues to pop from: Ordered (always the first
// queue that has work), RoundRobin, ShuffledRoundRobin, or your own
// (ReserverFunc).
package worker
