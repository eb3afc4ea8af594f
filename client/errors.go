package client

import (
	"errors"
	"regexp"
	"strings"
)

// Sentinel errors, tested with errors.Is.
var (
	// ErrLockLost: the worker no longer holds the job's lock, so its
	// heartbeat, complete, fail or retry was refused: the job is not running
	// any more (re-put, timed out, failed, completed), it was handed out to
	// another worker, or it was canceled. A worker drops such a job. The
	// error is an *Error holding the server's message.
	ErrLockLost = errors.New("qless: job lock lost")
	// ErrNotFound: the job or recurring job does not exist. Job and
	// Recurring return it for a missing jid, and an *Error whose message
	// says that the job does not exist matches it.
	ErrNotFound = errors.New("qless: job not found")
	// ErrOutcomeUnknown: the connection failed (or the context ended) after
	// a command that changes state may have reached the server, so it may or
	// may not have taken effect. The client never resends such a command;
	// the caller decides (e.g. Job to see where a job stands). It is a
	// *NetError.
	ErrOutcomeUnknown = errors.New("qless: the command may or may not have taken effect")
	// ErrUnavailable: no router (or Redis) could be reached.
	ErrUnavailable = errors.New("qless: no server reachable")
	// ErrClosed: the Client (or Listener) was closed.
	ErrClosed = errors.New("qless: client closed")
	// ErrNoClient: a method that talks to the server was called on a Job
	// or RecurringJob that has no Client (a zero value, or one decoded by the
	// caller). Test jobs (NewTestJob) record calls instead.
	ErrNoClient = errors.New("qless: job has no client")
)

// Error is an error answered by the qless script: the deterministic reply a
// single Redis would give (a validation error, a job in the wrong state, a
// lost lock). Resending the same call gets the same error.
type Error struct {
	// Command is the qless command, e.g. "complete".
	Command string
	// Message is the qless message, e.g. "Complete(): Job j1 does not
	// exist", without Redis's `user_script:<n>:` wrapping.
	Message string
}

func (e *Error) Error() string { return "qless " + e.Command + ": " + e.Message }

// Is reports whether e is an instance of ErrLockLost or ErrNotFound.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrLockLost:
		return e.lockLost()
	case ErrNotFound:
		return strings.HasSuffix(e.Message, "does not exist") ||
			strings.HasPrefix(e.Message, "Recur(): No recurring job")
	}
	return false
}

// lockLost reports whether a refusal of heartbeat, complete, fail or retry
// says that the caller does not hold the job (spec 4.3, 6.6, 6.8, 6.10,
// 6.12).
func (e *Error) lockLost() bool {
	switch e.Command {
	case "heartbeat", "complete", "fail", "retry":
	default:
		return false
	}
	m := e.Message
	return strings.Contains(m, "not currently running") ||
		strings.Contains(m, "another worker") ||
		strings.HasSuffix(m, "does not exist")
}

// ServerError is an error reply that is not an answer of the qless script:
// a router that cannot reach a shard, a Redis that is loading, an
// authentication failure. The call did not take effect, except where Text
// says otherwise.
type ServerError struct {
	// Addr is the router (or Redis) that answered.
	Addr string
	// Command is the qless command (or the Redis command) that failed.
	Command string
	// Text is the error reply, e.g. "shard shard-2: connection refused".
	Text string
}

func (e *ServerError) Error() string {
	return "qless " + e.Command + " via " + e.Addr + ": " + e.Text
}

// NetError is a failure of the connection to a router (or Redis) during a
// call.
type NetError struct {
	// Addr is the router (or Redis) the call was sent to.
	Addr string
	// Command is the qless command.
	Command string
	// MaybeApplied reports that the command may have reached the server
	// before the failure. A read is then sent again to another router; a
	// write is not, and the error matches ErrOutcomeUnknown.
	MaybeApplied bool
	// Err is the underlying error (a dial error, io.EOF, a context error).
	Err error
}

func (e *NetError) Error() string {
	s := "qless " + e.Command + " via " + e.Addr + ": " + e.Err.Error()
	if e.MaybeApplied {
		s += " (it may or may not have taken effect)"
	}
	return s
}

// Unwrap returns the underlying error.
func (e *NetError) Unwrap() error { return e.Err }

// Is matches ErrOutcomeUnknown when MaybeApplied is set.
func (e *NetError) Is(target error) bool {
	return target == ErrOutcomeUnknown && e.MaybeApplied
}

// scriptErrorRE is the Ruby client's test for a qless error (spec 1.4).
var scriptErrorRE = regexp.MustCompile(`user_script:\d+:\s*(\w+.+)$`)

// positionRE is a leading `user_script:<n>:` and the spaces after it.
var positionRE = regexp.MustCompile(`^user_script:\d+:\s*`)

// redis7SuffixRE is Redis 7's ` script: <sha>, on @user_script:<n>.` tail.
var redis7SuffixRE = regexp.MustCompile(` script: [0-9a-f]{40}, on @user_script:\d+\.$`)

// parseScriptError extracts the qless message of an error reply text (with
// or without its "ERR " prefix). ok is false when the text is not an error
// raised while running the script.
func parseScriptError(text string) (message string, ok bool) {
	text = strings.TrimSpace(text)
	if m := scriptErrorRE.FindStringSubmatch(text); m != nil {
		msg := redis7SuffixRE.ReplaceAllString(m[1], "")
		// Redis 3 to 6 repeat the position: `@user_script:<n>: user_script:<n>: <msg>`.
		for {
			loc := positionRE.FindStringIndex(msg)
			if loc == nil {
				break
			}
			msg = msg[loc[1]:]
		}
		return strings.TrimSpace(msg), true
	}
	// Errors Redis raises itself inside a script (e.g. a wrong arity of a
	// redis.call) carry the Redis 7 tail but no user_script prefix.
	if loc := redis7SuffixRE.FindStringIndex(text); loc != nil {
		msg := strings.TrimPrefix(text[:loc[0]], "ERR ")
		return strings.TrimSpace(msg), true
	}
	return "", false
}
