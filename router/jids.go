package router

import (
	"container/list"
	"context"
	"strings"
	"sync"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/shard"
)

// jidCache is a bounded, least-recently-used map from a jid to the name of
// the shard that held it when last seen (DESIGN section 5). It is a hint:
// the shard's own answer is the truth, and a stale entry is detected by that
// answer (see answersMissing) and replaced. Keys are "j:<jid>" for jobs and
// "r:<jid>" for recurring templates, which are different objects. Safe for
// concurrent use.
type jidCache struct {
	mu    sync.Mutex
	max   int
	items map[string]*list.Element // guarded by mu
	order *list.List               // guarded by mu; front = most recent
}

type jidEntry struct {
	key, shard string
}

func newJidCache(max int) *jidCache {
	return &jidCache{max: max, items: make(map[string]*list.Element), order: list.New()}
}

func jobKey(jid string) string   { return "j:" + jid }
func recurKey(jid string) string { return "r:" + jid }

// get returns the cached shard of key.
func (c *jidCache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return "", false
	}
	c.order.MoveToFront(e)
	return e.Value.(*jidEntry).shard, true
}

// put records that key is on shard, evicting the least recently used entry
// beyond the bound.
func (c *jidCache) put(key, shard string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		e.Value.(*jidEntry).shard = shard
		c.order.MoveToFront(e)
		return
	}
	c.items[key] = c.order.PushFront(&jidEntry{key: key, shard: shard})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*jidEntry).key)
	}
}

// drop forgets key if it still points to shard ("" drops it whatever it
// points to).
func (c *jidCache) drop(key, shard string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok && (shard == "" || e.Value.(*jidEntry).shard == shard) {
		c.order.Remove(e)
		delete(c.items, key)
	}
}

func (c *jidCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = make(map[string]*list.Element)
	c.order.Init()
}

func (c *jidCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// isRecurCommand reports whether cmd addresses a recurring template (ql:r:)
// rather than a job (ql:j:).
func isRecurCommand(cmd string) bool {
	switch cmd {
	case "recur.get", "recur.update", "recur.tag", "recur.untag", "unrecur":
		return true
	}
	return false
}

// stateMoving is the state of a job's tombstone on the shard it is leaving
// (DESIGN section 4): the job is found elsewhere.
const stateMoving = "moving"

// answersMissing reports whether a shard's answer to a by-job command means
// that the job (or recurring template) may not be on that shard, so that a
// cached location must be dropped and the jid looked for again: nil from get
// and recur.get, a job JSON that is a tombstone (state "moving": the job is
// leaving for another shard, docs/cross-shard.md), or a script error that
// shard.NotHere classifies so (the job does not exist, is not running, is
// moving).
func answersMissing(cmd string, reply core.Reply, err error) bool {
	if err == nil {
		if cmd == "get" && reply.Type == core.ReplyString {
			return strings.Contains(reply.Str, `"state":"moving"`)
		}
		return (cmd == "get" || cmd == "recur.get") && reply.Type == core.ReplyNil
	}
	return shard.NotHere(err)
}

// probe is one shard's answer to "do you have this jid?".
type probe struct {
	found bool
	state string // job state; "" for a recurring template
	// marker: the shard has the marker of a template leaving it
	// (ql:x:rmove:<jid>), templates only.
	marker bool
}

// probeTemplate asks one shard whether it holds the recurring template jid,
// or the marker of its move to another shard, in one EXISTS that names the
// marker twice (the count is a bit mask).
func probeTemplate(ctx context.Context, s Shard, jid string) (probe, error) {
	mk := "ql:x:rmove:" + jid
	rep, err := s.Do(ctx, "EXISTS", "ql:r:"+jid, mk, mk)
	if err != nil {
		return probe{}, err
	}
	return probe{found: rep.Int%2 == 1, marker: rep.Int >= 2}, nil
}

// probeTemplates runs probeTemplate on every shard in parallel.
func (r *Router) probeTemplates(ctx context.Context, jid string) (map[string]probe, error) {
	return fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (probe, error) {
		return probeTemplate(ctx, s, jid)
	})
}

// locate finds the shard holding jid (a job, or a recurring template when
// recur is set) by asking every shard in parallel with one cheap raw read
// (HGET ql:j:<jid> state, or EXISTS ql:r:<jid>). When several shards have it
// (a job in the middle of a move) it prefers one whose job is not a
// tombstone, then the jid's home shard, then the first by name. When no
// shard has it, the answer is the jid's home shard, so that the script's own
// "does not exist" answer comes from exactly one shard; but if a shard did
// not answer, the jid may be there, and locate fails naming that shard.
// A template found nowhere but with move markers (in flight after a router
// died mid-move) is delivered first, then looked for again. A found
// location is cached.
func (r *Router) locate(ctx context.Context, jid string, recur bool) (Shard, error) {
	return r.locateOnce(ctx, jid, recur, true)
}

func (r *Router) locateOnce(ctx context.Context, jid string, recur, finish bool) (Shard, error) {
	var res map[string]probe
	var err error
	if recur {
		res, err = r.probeTemplates(ctx, jid)
	} else {
		res, err = fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (probe, error) {
			rep, err := s.Do(ctx, "HGET", "ql:j:"+jid, "state")
			return probe{found: err == nil && rep.Type == core.ReplyString, state: rep.Str}, err
		})
	}
	if recur && finish {
		if delivered, ferr := r.finishTemplateMoves(ctx, jid, res); ferr != nil {
			return nil, ferr
		} else if delivered {
			return r.locateOnce(ctx, jid, recur, false)
		}
	}
	var found []string
	for _, n := range r.names {
		if p, ok := res[n]; ok && p.found {
			found = append(found, n)
		}
	}
	if len(found) == 0 {
		if err != nil {
			return nil, err
		}
		return r.home(jid), nil
	}
	best := r.pickHolder(jid, found, func(n string) string { return res[n].state })
	if res[best].state == stateMoving {
		// Only a tombstone: deliver its move, then the job is at its target.
		s, err := r.finishMove(ctx, r.shards[best], jid)
		if err != nil {
			return nil, err
		}
		best = s.Name()
	}
	key := jobKey(jid)
	if recur {
		key = recurKey(jid)
	}
	r.jids.put(key, best)
	return r.shards[best], nil
}

// pickHolder chooses among shards that all hold jid: not a tombstone first,
// then the home shard, then the first name.
func (r *Router) pickHolder(jid string, names []string, state func(string) string) string {
	if len(names) == 1 {
		return names[0]
	}
	live := names[:0:0]
	for _, n := range names {
		if state(n) != stateMoving {
			live = append(live, n)
		}
	}
	if len(live) == 0 {
		live = names
	}
	home := r.ring.Load().Locate(jid)
	for _, n := range live {
		if n == home {
			return n
		}
	}
	return live[0]
}
