package shard

import (
	"context"
	"errors"
)

// Healthy reports whether the last health check (or call) reached the
// shard. It is false before a successful Start.
func (s *Shard) Healthy() bool { return s.healthy.Load() }

// LastError returns the error that made the shard unhealthy, or nil while
// it is healthy.
func (s *Shard) LastError() error {
	if b := s.lastErr.Load(); b != nil {
		return b.err
	}
	return nil
}

// setHealth records the outcome of a check: nil means healthy.
func (s *Shard) setHealth(err error) {
	if err == nil {
		s.lastErr.Store(nil)
		if !s.healthy.Swap(true) {
			s.log.Info("shard healthy")
		}
		return
	}
	s.lastErr.Store(&errBox{err})
	if s.healthy.Swap(false) {
		s.log.Warn("shard unhealthy", "err", err)
	}
}

// healthLoop checks the shard every HealthInterval until ctx ends.
func (s *Shard) healthLoop(ctx context.Context) {
	t := s.clock.NewTicker(s.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		s.check(ctx)
	}
}

// check connects if the shard was never reached, else PINGs it; after an
// outage it loads the script again (a restarted server has lost it; a call
// would reload it anyway, but this spares the first call a round trip).
func (s *Shard) check(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.HealthTimeout)
	defer cancel()
	b := s.client.Load()
	if b == nil {
		_ = s.connect(cctx)
		return
	}
	wasHealthy := s.healthy.Load()
	_, err, _ := s.classify(b.c.Do(cctx, b.c.B().Ping().Build()))
	if err == nil && !wasHealthy {
		err = s.loadScript(cctx)
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return // stopping
	}
	s.setHealth(err)
}
