package resp

import (
	"bytes"
	"context"
	"testing"
)

// FuzzCommand feeds arbitrary command sequences to the dispatcher of a
// server with passwords set, on one session. The input holds commands
// separated by 0x00, arguments separated by 0x01. Every command must write
// well-formed RESP, and exactly one reply except SUBSCRIBE/PSUBSCRIBE
// (served by the PubSub) and (P)UNSUBSCRIBE outside MULTI (one per channel).
func FuzzCommand(f *testing.F) {
	seeds := []string{
		"PING",
		"AUTH\x01pw\x00EVALSHA\x01" + sha1Of(ownScript) + "\x010\x01put\x011\x01w\x01q\x01j\x01K\x01{}\x010",
		"AUTH\x01pw\x00SCRIPT\x01LOAD\x01x\x00EVALSHA\x01" + sha1Of("x") + "\x010\x01get",
		"AUTH\x01pw\x00MULTI\x00ZCARD\x01ql:q:a-locks\x00ZCARD\x01ql:q:a-work\x00EXEC",
		"AUTH\x01pw\x00MULTI\x00EVAL\x01s\x010\x01int\x00ZSCORE\x01k\x01m\x00EXEC",
		"AUTH\x01admin\x00FLUSHDB\x00FLUSHALL\x01ASYNC",
		"AUTH\x01pw\x00MULTI\x00MULTI\x00DISCARD\x00EXEC",
		"AUTH\x01pw\x00EVALSHA\x01" + sha1Of(ownScript) + "\x01-1",
		"AUTH\x01pw\x00EVAL\x01x\x019223372036854775808\x01a",
		"AUTH\x01pw\x00UNSUBSCRIBE\x01a\x01b\x00PUNSUBSCRIBE",
		"AUTH\x01pw\x00CLIENT\x01SETNAME\x01n\x00CLIENT\x01GETNAME\x00CLIENT\x01ID\x00CLIENT\x01INFO",
		"AUTH\x01pw\x00INFO\x01server\x01cluster\x00COMMAND\x01COUNT\x00SELECT\x011",
		"AUTH\x01pw\x00QLESS.ROUTERS\x00QLESS.LOCATE\x01q\x00PUBLISH\x01c\x01m",
		"AUTH\x01pw\x00SUBSCRIBE\x01a\x00QUIT",
		"HELLO\x013\x00auth\x01default\x01pw\x00EVALSHA\x01" + sha1Of(ownScript) + "\x010",
		"AUTH\x01pw\x00EVALSHA\x01" + sha1Of(ownScript) + "\x010\x01script-error\x00EVALSHA\x01" + sha1Of(ownScript) + "\x010\x01shard-down",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, _ := newDispatcher(t, func(c *Config) {
			c.Password = "pw"
			c.AdminPassword = "admin"
			c.MaxScripts = 4
		})
		// A cancelled context: backend calls that wait return at once.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ss := newSession(s, ctx)
		for _, cmd := range bytes.Split(in, []byte{0}) {
			if len(cmd) == 0 {
				continue
			}
			args := bytes.Split(cmd, []byte{1})
			multi := ss.multi
			replies, act := call(t, s, ss, args)
			switch {
			case act == actSubscribe || act == actPsubscribe:
				if len(replies) != 0 {
					t.Fatalf("%q: %d replies with a subscribe action", args, len(replies))
				}
			case !multi && (eqFold(args[0], "unsubscribe") || eqFold(args[0], "punsubscribe")) && ss.authed && len(args) > 1:
				if len(replies) != len(args)-1 {
					t.Fatalf("%q: %d replies, want %d", args, len(replies), len(args)-1)
				}
			default:
				if len(replies) != 1 {
					t.Fatalf("%q: %d replies, want 1: %#v", args, len(replies), replies)
				}
			}
			if act == actQuit {
				return
			}
		}
	})
}
