package client

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// learn learns the live routers once, before the first call. Failures are
// not errors here: the call then goes to Config.Addrs.
func (c *Client) learn(ctx context.Context) {
	if c.cfg.Discovery < 0 {
		return
	}
	c.mu.Lock()
	done := c.learned || c.plain || (!c.lastTry.IsZero() && time.Since(c.lastTry) < c.cfg.DownTime)
	c.mu.Unlock()
	if done {
		return
	}
	c.discoverMu.Lock()
	defer c.discoverMu.Unlock()
	c.mu.Lock()
	done = c.learned || c.plain
	c.mu.Unlock()
	if done {
		return
	}
	if err := c.discover(ctx); err != nil {
		c.mu.Lock()
		c.lastTry = time.Now()
		c.mu.Unlock()
		c.log.Debug("cannot learn the routers yet", "error", err)
	}
}

// requestDiscovery asks the discovery loop for an early refresh.
func (c *Client) requestDiscovery() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// discoverLoop refreshes the router list every Config.Discovery, and soon
// after a router failed.
func (c *Client) discoverLoop() {
	defer close(c.done)
	t := time.NewTicker(c.cfg.Discovery)
	defer t.Stop()
	for {
		select {
		case <-c.bg.Done():
			return
		case <-t.C:
		case <-c.kick:
		}
		c.mu.Lock()
		plain := c.plain
		c.mu.Unlock()
		if plain {
			continue
		}
		ctx, cancel := context.WithTimeout(c.bg, 2*c.cfg.DialTimeout)
		c.discoverMu.Lock()
		err := c.discover(ctx)
		c.discoverMu.Unlock()
		cancel()
		if err != nil && !c.closed.Load() {
			c.log.Debug("router discovery failed", "error", err)
		}
	}
}

// discover asks the best reachable endpoint for QLESS.ROUTERS and adopts
// the answer. A server without the command is a plain Redis: the client
// then keeps to Config.Addrs. The caller holds discoverMu.
func (c *Client) discover(ctx context.Context) error {
	var lastErr error = ErrUnavailable
	for _, ep := range c.candidates() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !ep.acquire() {
			continue
		}
		addrs, plain, err := c.askRouters(ctx, ep)
		ep.release()
		if err != nil {
			lastErr = err
			var ne *NetError
			if errors.As(err, &ne) {
				ep.markDown(time.Now(), c.cfg.DownTime)
				continue
			}
			return err
		}
		c.adopt(addrs, plain)
		return nil
	}
	return lastErr
}

func (c *Client) askRouters(ctx context.Context, ep *endpoint) (addrs []string, plain bool, err error) {
	l, err := ep.link(c.opt, c.cfg.Conns)
	if err != nil {
		return nil, false, &NetError{Addr: ep.addr, Command: "QLESS.ROUTERS", Err: err}
	}
	msg, _, err := l.do(ctx, l.rc.B().Arbitrary("QLESS.ROUTERS").Build())
	if err != nil {
		if re, ok := rueidis.IsRedisErr(err); ok {
			if strings.Contains(strings.ToLower(re.Error()), "unknown command") {
				return nil, true, nil
			}
			return nil, false, &ServerError{Addr: ep.addr, Command: "QLESS.ROUTERS", Text: re.Error()}
		}
		return nil, false, &NetError{Addr: ep.addr, Command: "QLESS.ROUTERS", Err: err}
	}
	rows, err := msg.ToArray()
	if err != nil {
		return nil, false, &ServerError{Addr: ep.addr, Command: "QLESS.ROUTERS", Text: "unexpected reply: " + err.Error()}
	}
	for _, row := range rows {
		f, err := row.AsStrSlice()
		if err != nil || len(f) < 2 {
			return nil, false, &ServerError{Addr: ep.addr, Command: "QLESS.ROUTERS", Text: "unexpected reply row"}
		}
		if f[1] != "" {
			addrs = append(addrs, f[1])
		}
	}
	return addrs, false, nil
}

// adopt installs a new router list and retires endpoints no longer listed
// (closing them once idle and unlisted for a while).
func (c *Client) adopt(addrs []string, plain bool) {
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	now := time.Now()
	var retire []*endpoint
	c.mu.Lock()
	c.learned = true
	if plain {
		if !c.plain {
			c.plain = true
			c.mu.Unlock()
			c.log.Info("server is a plain Redis; router discovery off")
			return
		}
		c.mu.Unlock()
		return
	}
	changed := !slices.Equal(addrs, c.routers)
	if len(addrs) > 0 {
		c.routers = addrs
	}
	keep := make(map[string]bool, len(c.routers)+len(c.seeds))
	for _, a := range c.routers {
		keep[a] = true
	}
	for _, a := range c.seeds {
		keep[a] = true
	}
	grace := 2 * max(c.cfg.Discovery, c.cfg.DownTime)
	for a, ep := range c.endpoints {
		ep.mu.Lock()
		switch {
		case keep[a]:
			ep.unlisted = time.Time{}
		case ep.unlisted.IsZero():
			ep.unlisted = now
		case now.Sub(ep.unlisted) > grace:
			retire = append(retire, ep)
		}
		ep.mu.Unlock()
	}
	var toClose []*link
	for _, ep := range retire {
		if links, ok := ep.retireIfIdle(); ok {
			delete(c.endpoints, ep.addr)
			toClose = append(toClose, links...)
		}
	}
	c.mu.Unlock()
	for _, l := range toClose {
		l.close()
	}
	if changed && len(addrs) > 0 {
		c.log.Info("routers", "addrs", addrs)
	}
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
