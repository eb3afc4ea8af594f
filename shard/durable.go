package shard

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/lua"
)

// Durability (Config.WaitReplicas, DESIGN section 7). Redis replicates
// asynchronously: a write acknowledged by a primary that fails over before
// its replicas got it is lost. With WaitReplicas > 0 every qless command that
// can write is followed, on the same connection, by
// WAIT <WaitReplicas> <WaitTimeout>, and it is acknowledged to the caller
// only when that many replicas have it. When fewer do in time, the caller
// gets core.ErrNotReplicated: the command ran on the primary, but a
// failover now could lose it.

// durable reports whether calls of argv must wait for replicas.
func (s *Shard) durable(argv []string) bool {
	if s.cfg.WaitReplicas == 0 {
		return false
	}
	if len(argv) == 0 {
		return false // the script's "Must provide a command": nothing written
	}
	c, ok := core.Lookup(argv[0])
	return !ok || c.Write
}

// waitCmd is the WAIT that follows a durable write.
func (s *Shard) waitCmd(c rueidis.Client) rueidis.Completed {
	return c.B().Wait().Numreplicas(int64(s.cfg.WaitReplicas)).Timeout(s.cfg.WaitTimeout.Milliseconds()).Build()
}

// checkWait turns WAIT's reply into nil or the error the write gets.
func (s *Shard) checkWait(res rueidis.RedisResult) error {
	n, err := res.AsInt64()
	if err != nil {
		_, err := s.result(res)
		if err == nil {
			err = &core.ShardError{Shard: s.name, Err: fmt.Errorf("WAIT: %w", res.Error())}
		}
		return err
	}
	if n < int64(s.cfg.WaitReplicas) {
		return &core.ShardError{Shard: s.name, Err: fmt.Errorf("%w: %d of %d replicas acknowledged within %s; the write is on the primary and a failover now could lose it",
			core.ErrNotReplicated, n, s.cfg.WaitReplicas, s.cfg.WaitTimeout)}
	}
	return nil
}

// callDurable is CallArgs of a write with WaitReplicas: the script call and
// WAIT go down one connection (rueidis gives a pipeline holding a blocking
// command a dedicated connection). A server that lost the script or the
// library gets it again and the call once more (it did not run).
func (s *Shard) callDurable(ctx context.Context, c rueidis.Client, argv []string) (core.Reply, error) {
	for attempt := 0; ; attempt++ {
		fn := s.useFn.Load()
		var call rueidis.Completed
		if fn {
			call = c.B().Fcall().Function(s.fn).Numkeys(0).Arg(argv...).Build()
		} else {
			call = c.B().Evalsha().Sha1(s.sha).Numkeys(0).Arg(argv...).Build()
		}
		res := c.DoMulti(ctx, call, s.waitCmd(c))
		if re, ok := rueidis.IsRedisErr(res[0].Error()); ok && attempt == 0 {
			switch {
			case fn && lua.IsNoFunction(re.Error()):
				if err := s.loadLibrary(ctx); err != nil {
					return core.Reply{}, err
				}
				continue
			case !fn && re.IsNoScript():
				if err := s.loadScript(ctx); err != nil {
					return core.Reply{}, err
				}
				continue
			}
		}
		reply, err := s.result(res[0])
		var se *core.ScriptError
		if errors.As(err, &se) {
			if fn {
				err = parseScriptError(lua.FromLibraryError(se.Text))
			}
			// The script's refusal, returned without waiting: it checks
			// its arguments before it writes.
			return reply, err
		}
		if err != nil {
			return reply, err
		}
		if err := s.checkWait(res[1]); err != nil {
			return core.Reply{}, err
		}
		return reply, nil
	}
}
