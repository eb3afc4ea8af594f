package shard

import (
	"context"
)

// eventPattern is the pattern of every qless channel (spec 11).
const eventPattern = "ql:*"

// Subscribe delivers every message published on the shard's `ql:*` channels
// (PSUBSCRIBE ql:*) to fn, as fn(channel, message), in the order the shard
// published them, until ctx ends or the Shard stops; it then returns nil.
//
// When the connection is lost, Subscribe subscribes again as soon as the
// shard answers (waiting ResubscribeDelay, doubling up to HealthInterval,
// between attempts). Messages published while it was not subscribed are
// lost, as with any Redis subscriber.
//
// fn runs on the connection's reader goroutine, one call at a time: it must
// not block (hand the message to a channel or a buffer) and must not call
// the Shard's methods that wait for a reply. Subscribe returns an error only
// if the Shard was never started.
func (s *Shard) Subscribe(ctx context.Context, fn func(channel, message string)) error {
	l, err := s.Listen(ctx, fn)
	if err != nil {
		return err
	}
	_ = l.Set(ctx, nil, true) // (it keeps trying in the background)
	<-l.Done()
	return nil
}
