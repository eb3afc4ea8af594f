package router

import (
	"context"
	"strings"

	"github.com/qless-router/qless-router/core"
)

// The jid directory (DESIGN section 5; docs/cross-shard.md): the home shard
// of a jid, ring.Locate(jid), keeps ql:x:loc:<jid> = the shard that holds
// the job, so that a put of an existing jid into another shard's queue is
// found without asking every shard. Puts claim the entry (claim), moves
// re-point it (settleMove). Entries expire after CrossShard.DirectoryTTL.
//
// Some jobs have no entry: the instances spawned by recurring templates
// (inside the script of the template's shard, which cannot write another
// shard), jobs put before the directory existed, and jobs whose entry
// expired. For the first, a jid of the spawned form <template>-<n> with no
// entry is looked for on every shard before it is created
// (spawnedForm); CrossShard.ProbeOnMiss does so for every jid without an
// entry.

// claim asks jid's home shard which shard holds jid, registering owner when
// the directory has no entry (SET NX GET). It returns the shard to run a
// put on. When the jid may exist without an entry (the spawned form, or
// CrossShard.ProbeOnMiss), every shard is asked too, in parallel with the
// claim: the shard that has the job wins, and the entry is set to it.
func (r *Router) claim(ctx context.Context, jid string, owner Shard) (Shard, error) {
	set := func(ctx context.Context) (core.Reply, error) {
		return r.home(jid).Do(ctx, "SET", "ql:x:loc:"+jid, owner.Name(), "NX", "GET", "EX", seconds(r.cfg.CrossShard.DirectoryTTL))
	}
	if !r.cfg.CrossShard.ProbeOnMiss && !spawnedForm(jid) {
		rep, err := set(ctx)
		if err != nil {
			return nil, err
		}
		return r.entryShard(rep, owner), nil
	}
	var rep core.Reply
	var probed Shard
	var found bool
	err := both(func() error {
		var err error
		rep, err = set(ctx)
		return err
	}, func() error {
		var err error
		probed, found, err = r.findJob(ctx, jid)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return r.entryShard(rep, owner), nil
	}
	if rep.Type != core.ReplyString || rep.Str != probed.Name() {
		// The job is where the probe found it: the entry (just set to the
		// owner, or stale) must say so before anything else happens, or a
		// later put would trust it.
		if _, err := r.home(jid).Do(ctx, "SET", "ql:x:loc:"+jid, probed.Name(), "EX", seconds(r.cfg.CrossShard.DirectoryTTL)); err != nil {
			return nil, err
		}
	}
	return probed, nil
}

// entryShard is the shard a directory entry names (owner when it names
// none this router knows, or there is no entry).
func (r *Router) entryShard(rep core.Reply, owner Shard) Shard {
	if rep.Type == core.ReplyString {
		if s, ok := r.shards[rep.Str]; ok {
			return s
		}
	}
	return owner
}

// spawnedForm reports whether jid has the form of an instance spawned by a
// recurring template: <template jid>-<count>, count a positive decimal.
func spawnedForm(jid string) bool {
	i := strings.LastIndexByte(jid, '-')
	if i <= 0 || i == len(jid)-1 {
		return false
	}
	for _, c := range jid[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
