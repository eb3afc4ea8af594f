package core

import (
	"errors"
	"sort"
	"strings"
)

// Sentinel errors for conditions callers test with errors.Is.
var (
	// ErrJobNotFound: the jid is on no shard.
	ErrJobNotFound = errors.New("job not found")
	// ErrShardDown: a shard could not be reached, or answered that it cannot
	// serve right now (READONLY during a failover, LOADING, BUSY). It is
	// wrapped in a *ShardError that names the shard.
	ErrShardDown = errors.New("shard down")
	// ErrNoShards: the cluster has no shard to serve the call.
	ErrNoShards = errors.New("no shards")
	// ErrUnknownShard: a shard name that is not in the current shard set.
	ErrUnknownShard = errors.New("unknown shard")
	// ErrStopped: the component was stopped (or not started) and takes no
	// more calls.
	ErrStopped = errors.New("stopped")
	// ErrNotReplicated: a write ran on a shard's primary, but fewer
	// replicas than the durability setting asks for acknowledged it in
	// time (shard.Config.WaitReplicas).
	ErrNotReplicated = errors.New("write not acknowledged by enough replicas")
	// ErrStaleEpoch: a router was asked to route under a ring epoch older
	// than one it has seen (DESIGN section 6).
	ErrStaleEpoch = errors.New("stale ring epoch")
)

// ScriptError is an error reply of the qless script (or of Redis's script
// engine on its behalf): the deterministic answer one Redis would have given.
// A router passes Text to its client verbatim.
type ScriptError struct {
	// Text is the full Redis error text, as a client of one Redis reads it,
	// e.g. `ERR user_script:1: Put(): Arg "jid" missing script: <sha>, on
	// @user_script:1.`.
	Text string
	// Message is the qless message inside Text, e.g. `Put(): Arg "jid"
	// missing`. Equal to Text (less a leading "ERR ") when Text has no script
	// wrapping.
	Message string
}

// Error returns Text, so that the error passes through a router unchanged.
func (e *ScriptError) Error() string { return e.Text }

// ShardError is an error of one shard that is not an answer of the script:
// a connection failure, a timeout, a server that cannot serve.
type ShardError struct {
	Shard string
	Err   error
}

func (e *ShardError) Error() string { return "shard " + e.Shard + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ShardError) Unwrap() error { return e.Err }

// FanOutError collects the errors of the shards that did not answer a call
// sent to several shards. It unwraps to every shard's error (errors.Is and
// errors.As look at each of them).
type FanOutError struct {
	// Errs has one entry per failed shard, sorted by shard name.
	Errs []*ShardError
}

// NewFanOutError builds a *FanOutError from per-shard errors keyed by shard
// name, or returns nil when errs holds no non-nil error. A value that is
// already a *ShardError is kept; any other is wrapped in one.
func NewFanOutError(errs map[string]error) error {
	var out []*ShardError
	for name, err := range errs {
		if err == nil {
			continue
		}
		var se *ShardError
		if !errors.As(err, &se) || se.Shard != name {
			se = &ShardError{Shard: name, Err: err}
		}
		out = append(out, se)
	}
	if len(out) == 0 {
		return nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
	return &FanOutError{Errs: out}
}

// Shards returns the names of the shards that did not answer, sorted.
func (e *FanOutError) Shards() []string {
	names := make([]string, len(e.Errs))
	for i, se := range e.Errs {
		names[i] = se.Shard
	}
	return names
}

func (e *FanOutError) Error() string {
	var b strings.Builder
	if len(e.Errs) == 1 {
		b.WriteString("shard ")
	} else {
		b.WriteString("shards ")
	}
	b.WriteString(strings.Join(e.Shards(), ", "))
	b.WriteString(" did not answer: ")
	for i, se := range e.Errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(se.Error())
	}
	return b.String()
}

// Unwrap returns every shard's error (Go 1.20 multi-error unwrapping).
func (e *FanOutError) Unwrap() []error {
	errs := make([]error, len(e.Errs))
	for i, se := range e.Errs {
		errs[i] = se
	}
	return errs
}
