package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/qless-router/qless-router/client"
)

// watchLocks listens to the worker's channel ql:w:<worker> and cancels the
// running job a lock_lost or canceled event names. It tries to subscribe
// before it returns (so that Run pops only once it hears), and keeps trying
// in the background if that fails. The returned channel is closed once the
// listener is closed, after ctx ended.
func (w *Worker) watchLocks(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	onEvent := func(e client.LogEvent) {
		switch e.Event {
		case client.EventLockLost:
			w.log.Debug("lock_lost event", "jid", e.JID)
			w.lockLost(e.JID, fmt.Errorf("worker: %s event on %s: %w", e.Event, e.Channel, client.ErrLockLost))
		case client.EventCanceled:
			w.log.Debug("canceled event", "jid", e.JID)
			w.lockLost(e.JID, ErrJobCanceled)
		}
	}
	listen := func() (*client.Listener, error) {
		lctx, cancel := context.WithTimeout(ctx, w.cfg.StopTimeout)
		defer cancel()
		return w.c.WatchWorker(lctx, w.name, onEvent)
	}
	l, err := listen()
	if err != nil && ctx.Err() == nil {
		w.log.Warn("cannot listen to the worker's lock events yet; will try again", "error", err)
	}
	go func() {
		defer close(done)
		for l == nil {
			t := time.NewTimer(w.cfg.Interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if l, err = listen(); err != nil && ctx.Err() == nil {
				w.log.Warn("cannot listen to the worker's lock events", "error", err)
			}
		}
		<-ctx.Done()
		l.Close()
	}()
	return done
}
