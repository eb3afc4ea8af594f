package web

import (
	"context"

	"github.com/qless-router/qless-router/core"
)

// Backend is what the web server needs of a router. *router.Router
// satisfies it through a small adapter in cmd/qless-router (Router's own
// types live in package router, which web does not import). Every method
// must be safe for concurrent use.
type Backend interface {
	// Qless runs one qless command: args are the command name, now and the
	// command's arguments, as after `EVALSHA <sha> 0`. The reply is the one
	// a single qless Redis would give for the whole cluster. A
	// *core.ScriptError is the script's answer; a *core.ShardError or
	// *core.FanOutError names the shards that did not answer.
	Qless(ctx context.Context, args []string) (core.Reply, error)
	// Cluster describes this router, the live routers, the shards and the
	// ring.
	Cluster(ctx context.Context) (Cluster, error)
	// Locate names the shard that owns queue.
	Locate(queue string) (string, error)
}

// Cluster is a snapshot of the cluster as one router sees it.
type Cluster struct {
	// Router is the name of the router serving this request.
	Router string `json:"router"`
	// Routers are the live routers, this one included.
	Routers []RouterInfo `json:"routers"`
	// Shards are the shards of the current ring, sorted by name.
	Shards []ShardInfo `json:"shards"`
	// Ring is the current ring.
	Ring RingInfo `json:"ring"`
	// CrossShard are this router's cross-shard counters since it started
	// (router.XStats.Snapshot: moves, delivered, courier, resolved,
	// repaired, repaired_intents, repaired_edges, failures).
	CrossShard map[string]int64 `json:"cross_shard,omitempty"`
}

// RouterInfo describes one live router.
type RouterInfo struct {
	Name string `json:"name"`
	// RESPAddr is where it speaks RESP ("" when unknown).
	RESPAddr string `json:"resp"`
	// HTTPAddr is where it serves this API and dashboard ("" when unknown).
	HTTPAddr string `json:"http"`
}

// ShardInfo describes one shard.
type ShardInfo struct {
	Name string `json:"name"`
	// Healthy reports whether the shard answered its last health check.
	Healthy bool `json:"healthy"`
}

// RingInfo describes the ring of shards in use.
type RingInfo struct {
	Epoch uint64 `json:"epoch"`
	// Text is the ring's text form (epoch and weighted shards).
	Text string `json:"text"`
}

// Healthy reports whether at least one shard is healthy.
func (c Cluster) Healthy() bool {
	for _, s := range c.Shards {
		if s.Healthy {
			return true
		}
	}
	return false
}
