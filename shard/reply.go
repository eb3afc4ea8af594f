package shard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/lua"
)

// toReply converts one RESP2 reply into a core.Reply: bulk and status
// strings become ReplyString, integers ReplyInt, nil ReplyNil, and arrays of
// strings ReplyArray (an empty array stays an empty, non-nil array).
func toReply(m rueidis.RedisMessage) (core.Reply, error) {
	switch {
	case m.IsNil():
		return core.NilReply(), nil
	case m.IsString():
		s, err := m.ToString()
		return core.StringReply(s), err
	case m.IsInt64():
		n, err := m.AsInt64()
		return core.IntReply(n), err
	case m.IsBool(): // RESP3 only; kept for safety: Lua true is 1, false nil.
		if b, _ := m.AsBool(); b {
			return core.IntReply(1), nil
		}
		return core.NilReply(), nil
	case m.IsFloat64(): // RESP3 only: render as RESP2 would.
		f, err := m.AsFloat64()
		return core.StringReply(strconv.FormatFloat(f, 'g', 17, 64)), err
	case m.IsArray():
		vs, err := m.ToArray()
		if err != nil {
			return core.Reply{}, err
		}
		out := make([]string, 0, len(vs))
		for i := range vs {
			v := &vs[i]
			switch {
			case v.IsString():
				s, _ := v.ToString()
				out = append(out, s)
			case v.IsInt64():
				n, _ := v.AsInt64()
				out = append(out, strconv.FormatInt(n, 10))
			case v.IsNil():
				out = append(out, "")
			default:
				return core.Reply{}, fmt.Errorf("unsupported element %d in an array reply: %s", i, v.String())
			}
		}
		return core.ArrayReply(out), nil
	}
	return core.Reply{}, fmt.Errorf("unsupported reply: %s", m.String())
}

// unavailable lists the error codes by which a server says it cannot serve
// now (not an answer of the script): the router treats the shard as down.
var unavailable = map[string]bool{
	"READONLY":    true, // a demoted primary during a failover
	"LOADING":     true,
	"BUSY":        true, // another script runs too long
	"MASTERDOWN":  true,
	"TRYAGAIN":    true,
	"CLUSTERDOWN": true,
	"NOAUTH":      true, // our credentials for the shard are wrong
	"WRONGPASS":   true,
}

// errorCode returns the leading all-capitals word of a Redis error text,
// or "" when it has none.
func errorCode(text string) string {
	word, _, _ := strings.Cut(text, " ")
	if len(word) < 2 {
		return ""
	}
	for i := 0; i < len(word); i++ {
		if c := word[i]; c < 'A' || c > 'Z' {
			return ""
		}
	}
	return word
}

// fullErrorText restores the text of a Redis error reply: rueidis strips a
// leading "ERR " from error messages, and every other Redis error starts with
// its own all-capitals code.
func fullErrorText(msg string) string {
	if errorCode(msg) == "" {
		return "ERR " + msg
	}
	return msg
}

// parseScriptError splits a full Redis error text into a *core.ScriptError,
// with lua.ParseError (the one place that knows Lua error strings).
func parseScriptError(text string) *core.ScriptError {
	msg, ok := lua.ParseError(text)
	if !ok {
		msg = strings.TrimPrefix(msg, "ERR ")
	}
	return &core.ScriptError{Text: text, Message: msg}
}

// classify turns the outcome of one command into a reply or one of the two
// error kinds (see the package documentation). down reports whether the
// error says the shard is unreachable (for the health state).
func (s *Shard) classify(res rueidis.RedisResult) (reply core.Reply, err error, down bool) {
	rerr := res.Error()
	if rerr == nil {
		m, err := res.ToMessage()
		if err == nil {
			reply, err = toReply(m)
		}
		if err != nil {
			return core.Reply{}, &core.ShardError{Shard: s.name, Err: err}, false
		}
		return reply, nil, false
	}
	if rueidis.IsRedisNil(rerr) {
		return core.NilReply(), nil, false
	}
	if re, ok := rueidis.IsRedisErr(rerr); ok {
		text := fullErrorText(re.Error())
		if unavailable[errorCode(text)] {
			return core.Reply{}, &core.ShardError{Shard: s.name, Err: fmt.Errorf("%w: %s", core.ErrShardDown, text)}, false
		}
		return core.Reply{}, parseScriptError(text), false
	}
	if errors.Is(rerr, context.Canceled) || errors.Is(rerr, context.DeadlineExceeded) {
		return core.Reply{}, &core.ShardError{Shard: s.name, Err: rerr}, false
	}
	if errors.Is(rerr, rueidis.ErrClosing) && s.isStopped() {
		return core.Reply{}, &core.ShardError{Shard: s.name, Err: core.ErrStopped}, false
	}
	return core.Reply{}, &core.ShardError{Shard: s.name, Err: downError(rerr)}, true
}

// downError wraps a connection error so that it matches core.ErrShardDown
// and still unwraps to the cause.
func downError(err error) error { return fmt.Errorf("%w: %w", core.ErrShardDown, err) }
