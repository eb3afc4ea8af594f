package shard

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/redis/rueidis"
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
	s.mu.Lock()
	started := s.started || s.starting || s.stopped
	s.mu.Unlock()
	if !started {
		return errors.New("shard " + s.name + ": Subscribe before Start")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	delay := s.cfg.ResubscribeDelay
	for ctx.Err() == nil {
		var err error
		if b := s.client.Load(); b != nil {
			var subscribed atomic.Bool
			hctx := rueidis.WithOnSubscriptionHook(ctx, func(sub rueidis.PubSubSubscription) {
				if sub.Kind == "psubscribe" {
					subscribed.Store(true)
				}
			})
			err = b.c.Receive(hctx, b.c.B().Psubscribe().Pattern(eventPattern).Build(), func(m rueidis.PubSubMessage) {
				fn(m.Channel, m.Message)
			})
			if subscribed.Load() {
				delay = s.cfg.ResubscribeDelay
			}
		}
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			s.log.Debug("subscription lost; resubscribing", "err", err, "delay", delay)
		}
		t := s.clock.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C():
		}
		delay = min(2*delay, s.cfg.HealthInterval)
	}
	return nil
}
