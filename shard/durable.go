package shard

import (
	"context"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/core"
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
// command a dedicated connection). The script's refusal is returned without
// waiting: it checks its arguments before it writes.
func (s *Shard) callDurable(ctx context.Context, c rueidis.Client, argv []string) (core.Reply, error) {
	var wait rueidis.RedisResult
	reply, err := s.callScript(ctx, c, argv, func(call rueidis.Completed) rueidis.RedisResult {
		res := c.DoMulti(ctx, call, s.waitCmd(c))
		wait = res[1]
		return res[0]
	})
	if err != nil {
		return reply, err
	}
	if err := s.checkWait(wait); err != nil {
		return core.Reply{}, err
	}
	return reply, nil
}
