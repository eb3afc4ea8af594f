package shard

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/lua"
)

// CallTx runs several qless commands (each an argument vector as for
// CallArgs) in one MULTI/EXEC transaction: they run one after the other with
// nothing of any other client between them, which is how the router makes a
// command and its cross-shard export one atomic step (docs/cross-shard.md).
// As in Redis, a command that fails does not stop the later ones.
//
// It returns one reply and one error per command (a *core.ScriptError, as
// CallArgs would), or a *core.ShardError when the transaction itself could
// not run (the outcome is then unknown). A server that lost the script is
// sent SCRIPT LOAD and the transaction once more (no command ran).
func (s *Shard) CallTx(ctx context.Context, argvs ...[]string) ([]core.Reply, []error, error) {
	for attempt := 0; ; attempt++ {
		replies, errs, err := s.callTx(ctx, argvs)
		if err != nil || attempt > 0 || len(errs) == 0 {
			return replies, errs, err
		}
		var se *core.ScriptError
		if errs[0] == nil || !errors.As(errs[0], &se) || !lua.IsNoScript(se.Text) {
			return replies, errs, nil
		}
		if err := s.loadScript(ctx); err != nil {
			return nil, nil, err
		}
	}
}

// txError is the error of one reply of the transaction's frame (MULTI, a
// QUEUED or EXEC), fed to the health state like any call's; a Redis error
// there is the transaction's failure, not a script's answer.
func (s *Shard) txError(step string, r rueidis.RedisResult) error {
	if r.Error() == nil {
		return nil
	}
	_, err := s.result(r)
	var se *core.ScriptError
	if errors.As(err, &se) {
		return &core.ShardError{Shard: s.name, Err: fmt.Errorf("%s: %s", step, se.Text)}
	}
	return err
}

func (s *Shard) callTx(ctx context.Context, argvs [][]string) ([]core.Reply, []error, error) {
	c, err := s.getClient()
	if err != nil {
		return nil, nil, err
	}
	cmds := make(rueidis.Commands, 0, len(argvs)+2)
	cmds = append(cmds, c.B().Multi().Build())
	for _, argv := range argvs {
		cmds = append(cmds, c.B().Evalsha().Sha1(s.sha).Numkeys(0).Arg(argv...).Build())
	}
	cmds = append(cmds, c.B().Exec().Build())
	durable := s.cfg.WaitReplicas > 0
	if durable {
		cmds = append(cmds, s.waitCmd(c))
	}
	res := c.DoMulti(ctx, cmds...)
	// Queued commands answer QUEUED: an error there refused the transaction
	// (EXECABORT follows).
	for _, r := range res[:len(argvs)+1] {
		if err := s.txError("MULTI", r); err != nil {
			return nil, nil, err
		}
	}
	exec := res[len(argvs)+1]
	if err := s.txError("EXEC", exec); err != nil {
		return nil, nil, err
	}
	msgs, err := exec.ToArray()
	if err != nil || len(msgs) != len(argvs) {
		return nil, nil, &core.ShardError{Shard: s.name, Err: fmt.Errorf("EXEC: %d replies for %d commands (%v)", len(msgs), len(argvs), err)}
	}
	if durable {
		if err := s.checkWait(res[len(res)-1]); err != nil {
			return nil, nil, err
		}
	}
	replies := make([]core.Reply, len(msgs))
	errs := make([]error, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		if e := m.Error(); e != nil {
			if re, ok := rueidis.IsRedisErr(e); ok {
				errs[i] = parseScriptError(fullErrorText(re.Error()))
				continue
			}
			errs[i] = &core.ShardError{Shard: s.name, Err: e}
			continue
		}
		rep, err := toReply(*m)
		if err != nil {
			errs[i] = &core.ShardError{Shard: s.name, Err: err}
			continue
		}
		replies[i] = rep
	}
	return replies, errs, nil
}

// NotHere reports whether err is the script's answer that the job a
// command names is not (or may not be) on the shard that answered, so that
// a router should look for it elsewhere (lua.IsNotHere).
func NotHere(err error) bool {
	var se *core.ScriptError
	return errors.As(err, &se) && lua.IsNotHere(scriptMessage(se))
}

// Moving reports whether err is the script's answer that the job is the
// tombstone of a move to another shard (lua.IsMoving).
func Moving(err error) bool {
	var se *core.ScriptError
	return errors.As(err, &se) && lua.IsMoving(scriptMessage(se))
}

func scriptMessage(se *core.ScriptError) string {
	if se.Message != "" {
		return se.Message
	}
	return se.Text
}

// CallThenDo runs one qless command and, in the same round trip (a
// pipeline, not a transaction), one raw command after it; it returns both
// outcomes. The router uses it to learn, at no extra round trip, whether a
// complete left cross-shard work in the outbox. A server that lost the
// script gets the command again through CallArgs (which loads it) and the
// raw command after it.
func (s *Shard) CallThenDo(ctx context.Context, argv []string, raw ...string) (core.Reply, error, core.Reply, error) {
	c, err := s.getClient()
	if err != nil {
		return core.Reply{}, err, core.Reply{}, err
	}
	cmds := rueidis.Commands{
		c.B().Evalsha().Sha1(s.sha).Numkeys(0).Arg(argv...).Build(),
		c.B().Arbitrary(raw[0]).Args(raw[1:]...).Build(),
	}
	durable := s.durable(argv)
	if durable {
		cmds = append(cmds, s.waitCmd(c))
	}
	res := c.DoMulti(ctx, cmds...)
	rep, err := s.result(res[0])
	var se *core.ScriptError
	if err != nil && errors.As(err, &se) && lua.IsNoScript(se.Text) {
		rep, err = s.CallArgs(ctx, argv...)
		rrep, rerr := s.Do(ctx, raw...)
		return rep, err, rrep, rerr
	}
	rrep, rerr := s.result(res[1])
	if durable && err == nil {
		if werr := s.checkWait(res[2]); werr != nil {
			return core.Reply{}, werr, rrep, rerr
		}
	}
	return rep, err, rrep, rerr
}
