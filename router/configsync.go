package router

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Replicated configuration (DESIGN section 2): qless config lives in every
// shard's ql:config, written by config.set/config.unset to all of them. A
// shard that misses a change (it was down, or the router died half-way)
// gets it re-applied later: every change also writes a stamp, the router's
// wall time in nanoseconds and the operation, to ql:x:config-stamp on each
// shard it reaches; syncConfig, run periodically, finds for every option
// the newest stamp on any shard and brings the other shards to it. Options
// that never went through a router (no stamp) are left alone.

// configStampKey holds option -> "<20-digit unix ns>|set" or "...|unset".
const configStampKey = "ql:x:config-stamp"

// configStamp is the stamp of a change made now.
func (r *Router) configStamp(op string) string {
	return fmt.Sprintf("%020d|%s", r.clock.Now().UnixNano(), op)
}

// configWrites returns the raw commands that apply one config change
// (config.set option value / config.unset option) and its stamp.
func configWrites(op, option, value, stamp string) [][]string {
	data := []string{"HDEL", "ql:config", option}
	if op == "set" {
		data = []string{"HSET", "ql:config", option, value}
	}
	return [][]string{data, {"HSET", configStampKey, option, stamp}}
}

// shardConfig is one shard's replicated configuration as syncConfig reads it.
type shardConfig struct {
	values map[string]string // ql:config
	stamps map[string]string // ql:x:config-stamp
}

// syncConfig brings every healthy shard to the newest stamped value of each
// option. It returns the number of (shard, option) pairs it repaired.
func (r *Router) syncConfig(ctx context.Context) (int, error) {
	var healthy []string
	for _, n := range r.names {
		if r.shards[n].Healthy() {
			healthy = append(healthy, n)
		}
	}
	if len(healthy) < 2 {
		return 0, nil
	}
	gen := r.flushes.Load()
	configs, err := fanOut(ctx, r, healthy, func(ctx context.Context, s Shard) (shardConfig, error) {
		// Stamps first: a value read after its stamp is that change's or a
		// later one's, never an older one.
		stamps, err := hgetall(ctx, s, configStampKey)
		if err != nil {
			return shardConfig{}, err
		}
		values, err := hgetall(ctx, s, "ql:config")
		return shardConfig{values: values, stamps: stamps}, err
	})
	// Shards that did not answer are skipped: the next round catches them.
	type winner struct {
		stamp, value, shard string
		torn                bool
	}
	newest := map[string]winner{}
	for _, n := range healthy {
		c, ok := configs[n]
		if !ok {
			continue
		}
		for option, stamp := range c.stamps {
			if w, seen := newest[option]; !seen || stamp > w.stamp {
				newest[option] = winner{stamp: stamp, value: c.values[option], shard: n}
				if _, has := c.values[option]; !has && strings.HasSuffix(stamp, "|set") {
					// Set, but gone by the time its value was read (an unset
					// or a FLUSHDB in between): not a value to copy. The
					// next round sees the change that removed it.
					newest[option] = winner{stamp: stamp, torn: true}
				}
			}
		}
	}
	if r.flushes.Load() != gen {
		return 0, err // FLUSHDB ran meanwhile: what was read is gone
	}
	repaired := 0
	for _, n := range healthy {
		c, ok := configs[n]
		if !ok {
			continue
		}
		for option, w := range newest {
			if c.stamps[option] == w.stamp || w.torn {
				continue
			}
			if r.flushes.Load() != gen {
				return repaired, err
			}
			op := w.stamp[strings.LastIndexByte(w.stamp, '|')+1:]
			for _, cmd := range configWrites(op, option, w.value, w.stamp) {
				if _, werr := r.shards[n].Do(ctx, cmd...); werr != nil {
					return repaired, fmt.Errorf("router: config sync: shard %s: %w", n, werr)
				}
			}
			repaired++
			r.log.Info("config re-applied to a shard that missed it", "shard", n, "option", option, "op", op, "from", w.shard)
		}
	}
	return repaired, err
}

// hgetall reads a hash with a raw HGETALL (a flat field/value array).
func hgetall(ctx context.Context, s Shard, key string) (map[string]string, error) {
	rep, err := s.Do(ctx, "HGETALL", key)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rep.Array)/2)
	for i := 0; i+1 < len(rep.Array); i += 2 {
		out[rep.Array[i]] = rep.Array[i+1]
	}
	return out, nil
}

// configSyncLoop runs syncConfig every interval until ctx ends. It runs on
// the clock of the router's background maintenance (Config.CrossShard.Clock),
// like the couriers and the reconciler.
func (r *Router) configSyncLoop(ctx context.Context, interval time.Duration) {
	tick := r.xclock.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
		if _, err := r.syncConfig(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("config sync", "err", err)
		}
	}
}
