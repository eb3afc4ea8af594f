package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/shard"
)

// Cross-shard operations (DESIGN section 4; docs/cross-shard.md).
//
// A command F that puts a job into a queue owned by another shard than the
// job's (put or requeue of an existing jid, complete with next, retry,
// unfail, recur.update queue) runs on the job's shard A exactly as on one
// Redis, in one MULTI/EXEC transaction with x.export, which moves the job
// (now in the new queue's sets on A) out of A: it leaves a tombstone and an
// intent in A's outbox. The router then imports the intent on the queue's
// owner B (x.import, idempotent), points the jid directory at B and
// acknowledges the intent on A (x.ack, which deletes the tombstone). A router
// that stops half way leaves the intent to A's courier (courier.go).

// CrossShardConfig configures moves between shards, the couriers and the
// reconciler. Zero values are invalid; start from DefaultCrossShardConfig.
type CrossShardConfig struct {
	// CourierInterval is how often a courier polls its shard's outbox.
	// Must be > 0.
	CourierInterval time.Duration
	// Grace is how long a courier leaves a move intent to the router that
	// made it (which delivers it at once) before delivering it itself.
	// Resolve intents (a dependency completed) have no grace. Must be >= 0.
	Grace time.Duration
	// AppliedTTL is how long a shard remembers an imported intent (so that
	// a repeat is a no-op). It must be much longer than an intent can wait
	// in an outbox. Whole seconds, >= 1s.
	AppliedTTL time.Duration
	// DirectoryTTL is the lifetime of a jid directory entry
	// (ql:x:loc:<jid> on the jid's home shard), renewed by every move of
	// the job. Whole seconds, >= 1s.
	DirectoryTTL time.Duration
	// ProbeOnMiss makes a put of a jid that the jid directory does not know
	// ask every shard whether the job exists elsewhere, as it always does
	// for jids of the spawned form <template>-<n>. Turn it on for a cluster
	// whose shards hold jobs put before the directory (a migration from
	// one Redis) or jobs that live longer than DirectoryTTL without moving:
	// without it, a put of such a jid into another shard's queue creates a
	// second job. It costs a parallel read of every shard per new jid.
	ProbeOnMiss bool
	// AsyncImport makes a command that moves a job reply once the move is
	// recorded on the job's shard, and import the job on its new shard in
	// the background: one round trip less per move. Until the import lands
	// (about one round trip), this router's commands that could see the job
	// wait for it, but another router's may not see it in its new queue
	// yet (xshard_inflight.go). Off, the reply waits for the import, and a
	// client of any router sees the job in its new queue once the command
	// has answered. On by default.
	AsyncImport bool
	// ReconcileInterval is how often the reconciler looks for half-done
	// work on the shards this router is the courier of. Must be > 0.
	ReconcileInterval time.Duration
	// ReconcileAge is the age past which the reconciler reports and
	// delivers an intent still in an outbox. Must be > Grace.
	ReconcileAge time.Duration
	// Batch is the most intents a courier takes per poll. Must be > 0.
	Batch int
	// Clock drives the couriers and the reconciler and stamps move intents;
	// nil means core.RealClock(). (Not Config.Clock: its timers are the
	// event hub's.)
	Clock core.Clock
}

// DefaultCrossShardConfig returns the production defaults.
func DefaultCrossShardConfig() CrossShardConfig {
	return CrossShardConfig{
		CourierInterval:   50 * time.Millisecond,
		Grace:             2 * time.Second,
		AppliedTTL:        7 * 24 * time.Hour,
		DirectoryTTL:      30 * 24 * time.Hour,
		ReconcileInterval: time.Minute,
		ReconcileAge:      time.Minute,
		Batch:             100,
		AsyncImport:       true,
	}
}

// Validate reports every invalid field, naming it.
func (c *CrossShardConfig) Validate() error {
	var errs []error
	if c.CourierInterval <= 0 {
		errs = append(errs, fmt.Errorf("CrossShard.CourierInterval = %v, must be > 0", c.CourierInterval))
	}
	if c.Grace < 0 {
		errs = append(errs, fmt.Errorf("CrossShard.Grace = %v, must be >= 0", c.Grace))
	}
	if c.AppliedTTL < time.Second {
		errs = append(errs, fmt.Errorf("CrossShard.AppliedTTL = %v, must be >= 1s", c.AppliedTTL))
	}
	if c.DirectoryTTL < time.Second {
		errs = append(errs, fmt.Errorf("CrossShard.DirectoryTTL = %v, must be >= 1s", c.DirectoryTTL))
	}
	if c.ReconcileInterval <= 0 {
		errs = append(errs, fmt.Errorf("CrossShard.ReconcileInterval = %v, must be > 0", c.ReconcileInterval))
	}
	if c.ReconcileAge <= c.Grace {
		errs = append(errs, fmt.Errorf("CrossShard.ReconcileAge = %v, must be > Grace (%v)", c.ReconcileAge, c.Grace))
	}
	if c.Batch <= 0 {
		errs = append(errs, fmt.Errorf("CrossShard.Batch = %d, must be > 0", c.Batch))
	}
	return errors.Join(errs...)
}

// Steps of a cross-shard operation, named to a test hook (Router.xhook)
// that can make the router abandon the operation there, as if it had died.
const (
	stepBeforeIntent = "before-intent" // before the transaction that records the intent
	stepAfterIntent  = "after-intent"  // the intent is recorded, nothing delivered
	stepAfterImport  = "after-import"  // imported on the target, not acknowledged
	stepBeforeAck    = "before-ack"    // directory updated, not acknowledged
)

// XStats counts the cross-shard work of one router. Read it with
// Router.CrossShardStats; safe for concurrent use.
type XStats struct {
	Moves     atomic.Int64 // intents recorded by this router's commands
	Delivered atomic.Int64 // intents this router delivered (sync or courier)
	Courier   atomic.Int64 // of which a courier delivered
	Resolved  atomic.Int64 // resolve intents delivered
	Repaired  atomic.Int64 // things the reconciler repaired (the two below)
	// RepairedIntents counts intents the reconciler delivered because no
	// courier had within ReconcileAge.
	RepairedIntents atomic.Int64
	// RepairedEdges counts remote dependency edges the reconciler repaired
	// (a side that was gone dropped or resolved, a lost side linked again).
	RepairedEdges atomic.Int64
	Failures      atomic.Int64 // deliveries that failed (retried later)
}

// CrossShardStats returns the router's cross-shard counters.
func (r *Router) CrossShardStats() *XStats { return &r.xstats }

// Snapshot returns the counters by name (moves, delivered, courier,
// resolved, repaired, repaired_intents, repaired_edges, failures), as
// /metrics and /api/cluster publish them.
func (s *XStats) Snapshot() map[string]int64 {
	return map[string]int64{
		"moves":            s.Moves.Load(),
		"delivered":        s.Delivered.Load(),
		"courier":          s.Courier.Load(),
		"resolved":         s.Resolved.Load(),
		"repaired":         s.Repaired.Load(),
		"repaired_intents": s.RepairedIntents.Load(),
		"repaired_edges":   s.RepairedEdges.Load(),
		"failures":         s.Failures.Load(),
	}
}

// intent is the part of an intent JSON (lua/src/80_xshard.lua) the router
// reads.
type intent struct {
	K      string `json:"k"`
	Jid    string `json:"jid"`
	Target string `json:"target"`
	Kind   string `json:"kind"`
	Queue  string `json:"queue"`
	Dep    string `json:"dep"`
	Now    string `json:"now"`
}

// txShard is implemented by shards that run MULTI/EXEC transactions
// (*shard.Shard). Safe for concurrent use.
type txShard interface {
	CallTx(ctx context.Context, argvs ...[]string) ([]core.Reply, []error, error)
}

var _ txShard = (*shard.Shard)(nil)

// callTx runs argvs on s in one transaction. A Shard without transactions
// (a test double) runs them one after the other.
func callTx(ctx context.Context, s Shard, argvs ...[]string) ([]core.Reply, []error, error) {
	if t, ok := s.(txShard); ok {
		return t.CallTx(ctx, argvs...)
	}
	reps := make([]core.Reply, len(argvs))
	errs := make([]error, len(argvs))
	for i, a := range argvs {
		reps[i], errs[i] = s.CallArgs(ctx, a...)
		var se *core.ScriptError
		if errs[i] != nil && !errors.As(errs[i], &se) {
			return nil, nil, errs[i]
		}
	}
	return reps, errs, nil
}

func (r *Router) xstep(step, id string, courier bool) error {
	if h := r.xhook; h != nil {
		return h(step, id, courier)
	}
	return nil
}

// clockNow is a `now` for internal script calls that have no client time.
func (r *Router) clockNow() string {
	return strconv.FormatFloat(float64(r.xclock.Now().UnixMilli())/1000, 'f', 3, 64)
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// moveTx runs argvs on src in one transaction, followed by x.export of the
// jobs (or the one job or template named by kind and jid) that sit in
// queue's sets on src, for dst, the queue's owner; then delivers each
// intent. It returns the replies and errors of argvs. A delivery that fails
// is logged and left to src's courier: the command itself has taken effect.
func (r *Router) moveTx(ctx context.Context, src, dst Shard, now, queue, kind, jid string, carry bool, argvs ...[]string) ([]core.Reply, []error, error) {
	if err := r.xstep(stepBeforeIntent, "", false); err != nil {
		return nil, nil, err
	}
	c := "0"
	if carry {
		c = "1"
	}
	export := []string{"x.export", now, src.Name(), dst.Name(), strconv.FormatInt(r.xclock.Now().UnixMilli(), 10), queue, c}
	if jid != "" {
		export = append(export, kind, jid)
	}
	all := append(append([][]string{}, argvs...), export)
	reps, errs, err := callTx(ctx, src, all...)
	if err != nil {
		return nil, nil, err
	}
	n := len(argvs)
	if errs[n] != nil {
		return nil, nil, fmt.Errorf("router: shard %s: x.export: %w", src.Name(), errs[n])
	}
	list := reps[n].Array
	for i := 0; i+1 < len(list); i += 2 {
		r.xstats.Moves.Add(1)
		if err := r.xstep(stepAfterIntent, list[i], false); err != nil {
			return nil, nil, err
		}
		if err := r.deliverSync(ctx, src, list[i], list[i+1]); err != nil {
			if errors.Is(err, errAbandoned) {
				return nil, nil, err
			}
			r.xstats.Failures.Add(1)
			r.log.Warn("move not delivered; left to the courier", "shard", src.Name(), "intent", list[i], "err", err)
		}
	}
	return reps[:n], errs[:n], nil
}

// deliverSync delivers a move the router just recorded: the import on the
// target before the reply (then the job is in its new queue), the
// directory update and the acknowledgement after it, in the background
// (until then a tombstone stays, which any router that meets it finishes).
// With CrossShard.AsyncImport the import too is done in the background
// (xshard_inflight.go).
func (r *Router) deliverSync(ctx context.Context, src Shard, id, text string) error {
	var it intent
	if err := json.Unmarshal([]byte(text), &it); err != nil {
		return fmt.Errorf("router: shard %s: intent %s: %w", src.Name(), id, err)
	}
	if r.cfg.CrossShard.AsyncImport {
		r.moves.add(it.Queue, it.Jid)
		r.xwg.Add(1)
		go func() {
			defer r.xwg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), r.cfg.FanOutTimeout)
			defer cancel()
			dst, status, err := r.importMove(ctx, src, id, text, it)
			r.moves.remove(it.Queue, it.Jid)
			if err == nil {
				err = r.settleMove(ctx, src, dst, id, it, status, false)
			}
			if err != nil && !errors.Is(err, errAbandoned) {
				r.xstats.Failures.Add(1)
				r.log.Warn("move not delivered; left to the courier", "shard", src.Name(), "intent", id, "err", err)
			}
		}()
		return nil
	}
	dst, status, err := r.importMove(ctx, src, id, text, it)
	if err != nil {
		return err
	}
	r.xwg.Add(1)
	go func() {
		defer r.xwg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.FanOutTimeout)
		defer cancel()
		if err := r.settleMove(ctx, src, dst, id, it, status, false); err != nil && !errors.Is(err, errAbandoned) {
			r.xstats.Failures.Add(1)
			r.log.Warn("move imported but not acknowledged; left to the courier", "shard", src.Name(), "intent", id, "err", err)
		}
	}()
	return nil
}

// errAbandoned wraps a test hook's error: the router gave up as if it died.
var errAbandoned = errors.New("abandoned")

// deliver applies one intent of src's outbox and acknowledges it.
func (r *Router) deliver(ctx context.Context, src Shard, id, text string, courier bool) error {
	var it intent
	if err := json.Unmarshal([]byte(text), &it); err != nil {
		return fmt.Errorf("router: shard %s: intent %s: %w", src.Name(), id, err)
	}
	switch it.K {
	case "move":
		return r.deliverMove(ctx, src, id, text, it, courier)
	case "resolve":
		return r.deliverResolve(ctx, src, id, it, courier)
	}
	return fmt.Errorf("router: shard %s: intent %s: unknown kind %q", src.Name(), id, it.K)
}

func (r *Router) abandon(step, id string, courier bool) error {
	if err := r.xstep(step, id, courier); err != nil {
		return fmt.Errorf("%w at %s: %w", errAbandoned, step, err)
	}
	return nil
}

func (r *Router) deliverMove(ctx context.Context, src Shard, id, text string, it intent, courier bool) error {
	dst, status, err := r.importMove(ctx, src, id, text, it)
	if err != nil {
		return err
	}
	return r.settleMove(ctx, src, dst, id, it, status, courier)
}

// importMove applies a move intent on its target (x.import) and returns
// the target and the import's answer (see x.import).
func (r *Router) importMove(ctx context.Context, src Shard, id, text string, it intent) (Shard, string, error) {
	dst, ok := r.shards[it.Target]
	if !ok {
		return nil, "", fmt.Errorf("router: shard %s: intent %s: %w %q", src.Name(), id, core.ErrUnknownShard, it.Target)
	}
	argv := []string{"x.import", intentNow(r, it), src.Name() + ":" + id, text, seconds(r.cfg.CrossShard.AppliedTTL), strconv.FormatInt(r.xclock.Now().UnixMilli(), 10)}
	if r.home(it.Jid) == dst {
		argv = append(argv, seconds(r.cfg.CrossShard.DirectoryTTL)) // the import points the directory here
	}
	rep, err := dst.CallArgs(ctx, argv...)
	if err != nil {
		return nil, "", err
	}
	if rep.Str == "exists" {
		r.log.Warn("move target already has the job; kept it", "jid", it.Jid, "from", src.Name(), "to", dst.Name(), "intent", id)
	}
	return dst, rep.Str, nil
}

func intentNow(r *Router, it intent) string {
	if it.Now != "" {
		return it.Now
	}
	return r.clockNow()
}

// settleMove finishes an imported move: the jid directory (jobs) and the
// jid cache point at the target, then the intent is acknowledged on the
// source (which drops the tombstone). status is the import's answer: after
// "gone" (a late delivery: the job has moved on or was deleted since), the
// directory is left as it is.
func (r *Router) settleMove(ctx context.Context, src, dst Shard, id string, it intent, status string, courier bool) error {
	now := intentNow(r, it)
	if err := r.abandon(stepAfterImport, id, courier); err != nil {
		return err
	}
	ack := []string{"x.ack", now, id, it.Jid}
	switch home := r.home(it.Jid); {
	case status == "gone":
		// nothing to point at the target
	case it.Kind == "recur":
		r.jids.put(recurKey(it.Jid), dst.Name())
	default:
		// The jid directory: the import did it when the target is the
		// jid's home, the acknowledgement does when the source is.
		if home == src {
			ack = append(ack, dst.Name(), seconds(r.cfg.CrossShard.DirectoryTTL))
		} else if home != dst {
			if _, err := home.Do(ctx, "SET", "ql:x:loc:"+it.Jid, dst.Name(), "EX", seconds(r.cfg.CrossShard.DirectoryTTL)); err != nil {
				return err
			}
		}
		r.jids.put(jobKey(it.Jid), dst.Name())
	}
	if err := r.abandon(stepBeforeAck, id, courier); err != nil {
		return err
	}
	if _, err := src.CallArgs(ctx, ack...); err != nil {
		return err
	}
	r.xstats.Delivered.Add(1)
	if courier {
		r.xstats.Courier.Add(1)
	}
	return nil
}

// deliverResolve tells the shard of dependent it.Jid that its dependency
// it.Dep (on src) completed.
func (r *Router) deliverResolve(ctx context.Context, src Shard, id string, it intent, courier bool) error {
	now := it.Now
	if now == "" {
		now = r.clockNow()
	}
	for attempt := 0; ; attempt++ {
		s, found, err := r.findJob(ctx, it.Jid)
		if err != nil {
			return err
		}
		if found {
			rep, err := s.CallArgs(ctx, "x.resolve", now, it.Jid, it.Dep, seconds(r.cfg.CrossShard.AppliedTTL))
			if err != nil {
				return err
			}
			if rep.Str == "moving" && attempt < 3 {
				if _, err := r.finishMove(ctx, s, it.Jid); err != nil {
					return err
				}
				continue
			}
		}
		break
	}
	if err := r.abandon(stepBeforeAck, id, courier); err != nil {
		return err
	}
	if _, err := src.CallArgs(ctx, "x.ack", now, id, it.Jid); err != nil {
		return err
	}
	r.xstats.Resolved.Add(1)
	r.xstats.Delivered.Add(1)
	if courier {
		r.xstats.Courier.Add(1)
	}
	return nil
}

// findJob looks for jid on every shard (locate); found is false when no
// shard has it.
func (r *Router) findJob(ctx context.Context, jid string) (Shard, bool, error) {
	s, err := r.locate(ctx, jid, false)
	if err != nil {
		return nil, false, err
	}
	rep, err := s.Do(ctx, "EXISTS", "ql:j:"+jid)
	if err != nil {
		return nil, false, err
	}
	return s, rep.Int > 0, nil
}

// finishMove delivers the move whose tombstone of jid is on s (if s has
// one) and returns the shard the job went to; without a tombstone, s.
func (r *Router) finishMove(ctx context.Context, s Shard, jid string) (Shard, error) {
	rep, err := s.Do(ctx, "HMGET", "ql:j:"+jid, "state", "x.intent", "x.target")
	if err != nil {
		return nil, err
	}
	if len(rep.Array) != 3 || rep.Array[0] != stateMoving {
		return s, nil
	}
	id, target := rep.Array[1], rep.Array[2]
	dst, ok := r.shards[target]
	if !ok {
		return nil, fmt.Errorf("router: shard %s: tombstone of %s: %w %q", s.Name(), jid, core.ErrUnknownShard, target)
	}
	if err := r.deliverPending(ctx, s, id); err != nil {
		return nil, err
	}
	return dst, nil
}

// deliverPending delivers intent id of s's outbox, unless it has been
// acknowledged meanwhile (x.intent answers nil).
func (r *Router) deliverPending(ctx context.Context, s Shard, id string) error {
	text, err := s.CallArgs(ctx, "x.intent", r.clockNow(), id)
	if err != nil || text.Type != core.ReplyString {
		return err
	}
	return r.deliver(ctx, s, id, text.Str, false)
}

// finishTemplateMoves delivers the moves of recurring template jid whose
// markers the probes res found, when no shard holds the template itself
// (it is in flight). It reports whether there was any to deliver.
func (r *Router) finishTemplateMoves(ctx context.Context, jid string, res map[string]probe) (bool, error) {
	var marked []string
	for _, n := range r.names {
		p := res[n]
		if p.found {
			return false, nil
		}
		if p.marker {
			marked = append(marked, n)
		}
	}
	for _, n := range marked {
		if err := r.finishTemplateMove(ctx, r.shards[n], jid); err != nil {
			return false, err
		}
	}
	return len(marked) > 0, nil
}

// finishTemplateMove delivers the move of recurring template jid that
// left s (its marker ql:x:rmove:<jid> is there, the template is not on any
// shard yet): a router died between the export and the import.
func (r *Router) finishTemplateMove(ctx context.Context, s Shard, jid string) error {
	rep, err := s.Do(ctx, "HGET", "ql:x:rmove:"+jid, "intent")
	if err != nil || rep.Type != core.ReplyString {
		return err // (acknowledged meanwhile: nothing left to do)
	}
	return r.deliverPending(ctx, s, rep.Str)
}

// internalCommand reports whether a command name is one of the internal
// cross-shard commands (x.*), which the router never forwards for a client.
func internalCommand(name string) bool { return len(name) > 2 && name[:2] == "x." }

func errInternalCommand(name string) error {
	return &core.ScriptError{Text: "ERR router: " + name + " is internal to qless-router", Message: "router: " + name + " is internal to qless-router"}
}
