// Package router is the stateless core of qless-router: it serves every
// qless command by sending it to the right shard (or to all of them and
// merging their answers exactly as one Redis would have answered), finds
// jobs, fans the shards' events out to its own subscribers, and keeps track
// of the other routers (memberlist).
//
// See docs/routing.md for how each command is routed and merged, the jid
// cache, and what happens when a shard is down.
package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/ring"
	"github.com/qless-router/qless-router/shard"
)

// Shard is one shard as the router uses it. *shard.Shard implements it;
// tests wrap it to count or fail calls. Every method must be safe for
// concurrent use.
type Shard interface {
	// Name identifies the shard in the ring and in errors.
	Name() string
	// Start connects; Stop disconnects (idempotent).
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	// CallArgs runs the qless script with exactly argv (command, now,
	// arguments). Script errors are *core.ScriptError; failures to reach the
	// shard are *core.ShardError.
	CallArgs(ctx context.Context, argv ...string) (core.Reply, error)
	// Do runs one raw Redis command.
	Do(ctx context.Context, args ...string) (core.Reply, error)
	// Publish publishes on one channel of the shard.
	Publish(ctx context.Context, channel, message string) error
	// Subscribe delivers the shard's ql:* messages to fn, in order, until
	// ctx ends; fn must not block.
	Subscribe(ctx context.Context, fn func(channel, message string)) error
	// Healthy reports whether the shard answered its last health check.
	Healthy() bool
	// FlushDB deletes every key of the shard.
	FlushDB(ctx context.Context) error
}

var _ Shard = (*shard.Shard)(nil)

// ShardConfig names one shard of the cluster.
type ShardConfig struct {
	// Name is the shard's name in the ring (see ring.ValidateName).
	Name string
	// URL locates it (see package shard). Unused by NewWithShards.
	URL string
	// Weight is its ring weight; 0 means 1.
	Weight int
}

// Config configures a Router. Start from DefaultConfig or
// DefaultLocalConfig and set Name and Shards.
type Config struct {
	// Name identifies this router (logs, the routers list when there is no
	// membership). Empty means the host name and process id.
	Name string
	// Shards is the shard set. At least one.
	Shards []ShardConfig
	// Epoch is the ring epoch of this shard set (DESIGN section 6).
	Epoch uint64
	// ShardClient holds the connection settings of every shard client
	// (timeouts, health interval, TLS); its Name and URL are ignored and
	// taken from Shards.
	ShardClient shard.Config

	// FanOutTimeout bounds a command that asks several shards (a fan-out, a
	// broadcast, the search for a jid). Must be > 0.
	FanOutTimeout time.Duration
	// JidCacheSize bounds the jid -> shard cache (entries). Must be > 0.
	JidCacheSize int
	// PublishTimeout bounds how long a client PUBLISH waits for its message
	// to come back from every shard before it is delivered anyway (a shard
	// that went away). Must be > 0.
	PublishTimeout time.Duration
	// SubscribeTimeout bounds how long the first events subscriber waits
	// for the event subscription of each shard to be in place. A shard
	// that is not subscribed by then is logged, not fatal. Must be > 0.
	SubscribeTimeout time.Duration
	// EventQueueLimit is the most messages that may wait for one events
	// subscriber (see Events). A subscriber that falls further behind is
	// disconnected, as Redis disconnects a pubsub client past its output
	// buffer limit. Must be > 0.
	EventQueueLimit int

	// CrossShard configures moves between shards, couriers and the
	// reconciler (docs/cross-shard.md).
	CrossShard CrossShardConfig

	// ConfigSyncInterval is how often the router brings every shard's
	// replicated qless config to the newest change (configsync.go), so that
	// a shard that missed a config.set while it was away gets it. Must be
	// > 0.
	ConfigSyncInterval time.Duration

	// Membership, when set, makes the router join the cluster of routers.
	// Its ShardSet defaults to the ring's text form.
	Membership *MembershipConfig

	// Logger receives the router's logs; nil discards them.
	Logger *slog.Logger
	// Clock drives background timers (publish deadlines); nil means
	// core.RealClock(). It never provides the `now` of a qless call.
	Clock core.Clock
}

// DefaultConfig returns the production defaults; set Name and Shards.
func DefaultConfig() Config {
	return Config{
		ShardClient:      shard.DefaultConfig(),
		FanOutTimeout:    5 * time.Second,
		JidCacheSize:     100_000,
		PublishTimeout:   2 * time.Second,
		SubscribeTimeout: 5 * time.Second,
		EventQueueLimit:  100_000,
		CrossShard:       DefaultCrossShardConfig(),

		ConfigSyncInterval: 5 * time.Second,
	}
}

// DefaultLocalConfig returns short timings for tests and development on
// loopback; set Name and Shards.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.ShardClient = shard.DefaultLocalConfig()
	c.FanOutTimeout = 2 * time.Second
	c.PublishTimeout = time.Second
	c.SubscribeTimeout = 2 * time.Second
	c.CrossShard.Grace = 500 * time.Millisecond
	c.CrossShard.ReconcileInterval = time.Second
	c.CrossShard.ReconcileAge = 2 * time.Second
	c.ConfigSyncInterval = time.Second
	return c
}

// Validate reports every invalid field, naming it.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Shards) == 0 {
		errs = append(errs, errors.New("router: Config.Shards is empty"))
	}
	seen := make(map[string]bool)
	for i, s := range c.Shards {
		if err := ring.ValidateName(s.Name); err != nil {
			errs = append(errs, fmt.Errorf("router: Config.Shards[%d].Name: %w", i, err))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("router: Config.Shards[%d].Name %q is repeated", i, s.Name))
		}
		seen[s.Name] = true
		if s.Weight < 0 || s.Weight > ring.MaxWeight {
			errs = append(errs, fmt.Errorf("router: Config.Shards[%d].Weight = %d, must be in [0, %d]", i, s.Weight, ring.MaxWeight))
		}
	}
	if c.FanOutTimeout <= 0 {
		errs = append(errs, fmt.Errorf("router: Config.FanOutTimeout = %v, must be > 0", c.FanOutTimeout))
	}
	if c.JidCacheSize <= 0 {
		errs = append(errs, fmt.Errorf("router: Config.JidCacheSize = %d, must be > 0", c.JidCacheSize))
	}
	if c.PublishTimeout <= 0 {
		errs = append(errs, fmt.Errorf("router: Config.PublishTimeout = %v, must be > 0", c.PublishTimeout))
	}
	if c.SubscribeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("router: Config.SubscribeTimeout = %v, must be > 0", c.SubscribeTimeout))
	}
	if c.EventQueueLimit <= 0 {
		errs = append(errs, fmt.Errorf("router: Config.EventQueueLimit = %d, must be > 0", c.EventQueueLimit))
	}
	if err := c.CrossShard.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("router: Config.%w", err))
	}
	if c.ConfigSyncInterval <= 0 {
		errs = append(errs, fmt.Errorf("router: Config.ConfigSyncInterval = %v, must be > 0", c.ConfigSyncInterval))
	}
	if c.Membership != nil {
		if err := c.Membership.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("router: Config.Membership: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ring builds the ring of the configured shard set.
func (c *Config) ring() (*ring.Ring, error) {
	rs := make([]ring.Shard, len(c.Shards))
	for i, s := range c.Shards {
		w := s.Weight
		if w == 0 {
			w = 1
		}
		rs[i] = ring.Shard{Name: s.Name, Weight: w}
	}
	return ring.New(c.Epoch, rs)
}

// RouterInfo describes one live router of the cluster.
type RouterInfo struct {
	Name     string
	RESPAddr string
	HTTPAddr string
}

// Router serves qless commands over a set of shards. Create it with New (or
// NewWithShards), then Start it. All methods are safe for concurrent use.
type Router struct {
	cfg   Config
	name  string
	log   *slog.Logger
	clock core.Clock

	ring   ring.Table
	shards map[string]Shard // by name; fixed after construction
	names  []string         // sorted shard names
	owned  bool             // the router starts and stops its shards

	jids   *jidCache
	events *hub
	member *Membership           // nil without Config.Membership
	refuse atomic.Pointer[error] // non-nil: why routing is refused (agreement.go)

	// xhook, when set (tests, before Start), is called at each step of a
	// cross-shard operation; an error makes the router abandon it there, as
	// if it had died (xshard.go).
	xhook  func(step, intent string, courier bool) error
	xstats XStats
	xclock core.Clock     // Config.CrossShard.Clock or the real clock
	xwg    sync.WaitGroup // background ends of synchronous moves
	moves  *inflight      // moves imported in the background (AsyncImport)

	mu       sync.Mutex
	started  bool               // guarded by mu
	stopped  bool               // guarded by mu
	stopSubs context.CancelFunc // guarded by mu; ends the subscriptions
	subCtx   context.Context    // guarded by mu; set by Start: the subscriptions' context
	subReady chan struct{}      // guarded by mu; made when the subscriptions start, closed once they deliver
	wg       sync.WaitGroup     // subscription goroutines
	interest interest           // what the subscriptions listen to (interest.go)
	flushes  atomic.Uint64      // bumped before and after every FlushAll (configsync.go)
}

// New checks cfg and builds a Router with one shard client per configured
// shard. It does no I/O; Start connects.
func New(cfg Config) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	shards := make([]Shard, 0, len(cfg.Shards))
	for _, sc := range cfg.Shards {
		c := cfg.ShardClient
		c.Name, c.URL = sc.Name, sc.URL
		if c.Logger == nil {
			c.Logger = cfg.Logger
		}
		if c.Clock == nil {
			c.Clock = cfg.Clock
		}
		s, err := shard.New(c)
		if err != nil {
			return nil, fmt.Errorf("router: %w", err)
		}
		shards = append(shards, s)
	}
	r, err := newRouter(cfg, shards)
	if err != nil {
		return nil, err
	}
	r.owned = true
	return r, nil
}

// NewWithShards builds a Router over shards that the caller creates, starts
// and stops (tests; several routers may share shards). cfg.Shards gives the
// weights; when it is empty every shard has weight 1. The shards' names must
// be those of cfg.Shards.
func NewWithShards(cfg Config, shards []Shard) (*Router, error) {
	if len(cfg.Shards) == 0 {
		for _, s := range shards {
			cfg.Shards = append(cfg.Shards, ShardConfig{Name: s.Name()})
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newRouter(cfg, shards)
}

func newRouter(cfg Config, shards []Shard) (*Router, error) {
	rg, err := cfg.ring()
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	clock := cfg.Clock
	if clock == nil {
		clock = core.RealClock()
	}
	name := cfg.Name
	if name == "" {
		host, _ := os.Hostname()
		name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	r := &Router{
		cfg:    cfg,
		name:   name,
		log:    logger.With("component", "router", "router", name),
		clock:  clock,
		shards: make(map[string]Shard, len(shards)),
		jids:   newJidCache(cfg.JidCacheSize),
		moves:  newInflight(),
	}
	r.interest.channels = make(map[string]int)
	r.interest.listeners = make(map[string]*shard.Listener)
	for _, s := range shards {
		if !rg.Contains(s.Name()) {
			return nil, fmt.Errorf("router: shard %q is not in Config.Shards", s.Name())
		}
		if _, dup := r.shards[s.Name()]; dup {
			return nil, fmt.Errorf("router: shard %q is given twice", s.Name())
		}
		r.shards[s.Name()] = s
		r.names = append(r.names, s.Name())
	}
	if len(r.shards) != rg.Len() {
		return nil, fmt.Errorf("router: %d shard clients for %d shards in Config.Shards", len(r.shards), rg.Len())
	}
	slices.Sort(r.names)
	r.ring.Store(rg)
	r.xclock = cfg.CrossShard.Clock
	if r.xclock == nil {
		r.xclock = core.RealClock()
	}
	r.events = newHub(r)
	if cfg.Membership != nil {
		mc := *cfg.Membership
		if mc.ShardSet == "" {
			mc.ShardSet = rg.String()
		}
		if mc.Logger == nil {
			mc.Logger = cfg.Logger
		}
		m, err := NewMembership(mc)
		if err != nil {
			return nil, fmt.Errorf("router: %w", err)
		}
		r.member = m
	}
	return r, nil
}

// Name returns the router's name.
func (r *Router) Name() string { return r.name }

// Start connects the shards (when the router owns them) and joins the
// membership when configured; the shards' events are subscribed to once the
// first events subscriber registers (Events). A shard that
// cannot be reached does not fail Start when Config.ShardClient.StartDown is
// set; its commands fail until it comes back.
func (r *Router) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return core.ErrStopped
	}
	if r.started {
		r.mu.Unlock()
		return errors.New("router: already started")
	}
	r.started = true
	subCtx, cancel := context.WithCancel(context.Background())
	r.stopSubs = cancel
	r.subCtx = subCtx
	r.mu.Unlock()

	if r.owned {
		for _, n := range r.names {
			if err := r.shards[n].Start(ctx); err != nil {
				_ = r.Stop(context.Background())
				return fmt.Errorf("router: start: %w", err)
			}
		}
	}
	r.events.start(subCtx)
	// The shards' events are subscribed to when the first subscriber
	// registers (Events): a shard pays for every message it sends to each
	// subscribed router (about 8 us of Redis CPU per lifecycle job each), so
	// a router that no client listens through costs the shards nothing.
	if r.events.subscribers() > 0 {
		r.subscribeShards() // registered before Start
	}
	if len(r.names) > 1 {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.runCouriers(subCtx)
		}()
	}
	if r.member != nil {
		if err := r.member.Start(ctx); err != nil {
			_ = r.Stop(context.Background())
			return fmt.Errorf("router: start: %w", err)
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.watchAgreement(subCtx)
		}()
	}
	if len(r.names) > 1 {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.configSyncLoop(subCtx, r.cfg.ConfigSyncInterval)
		}()
	}
	r.log.Info("router started", "ring", r.ring.Load().String())
	return nil
}

// Stop leaves the cluster and disconnects, in this order: event
// subscriptions and subscribers, membership (a graceful leave), then the
// shard clients the router owns. Idempotent and safe before Start.
func (r *Router) Stop(ctx context.Context) error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	cancel := r.stopSubs
	r.mu.Unlock()

	var errs []error
	if cancel != nil {
		cancel()
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("router: stop: subscriptions: %w", ctx.Err()))
	}
	r.events.stop()
	r.xwg.Wait() // bounded: each ends within FanOutTimeout
	if r.member != nil {
		if err := r.member.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("router: stop: membership: %w", err))
		}
	}
	if r.owned {
		for _, n := range r.names {
			if err := r.shards[n].Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("router: stop: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// Ring returns the current ring.
func (r *Router) Ring() *ring.Ring { return r.ring.Load() }

// Shards returns the shard names, sorted.
func (r *Router) Shards() []string { return slices.Clone(r.names) }

// Locate names the shard that owns queue.
func (r *Router) Locate(queue string) (string, error) {
	rg := r.ring.Load()
	if rg == nil {
		return "", core.ErrNoShards
	}
	return rg.Locate(queue), nil
}

// Routers lists the live routers: the members of the cluster when the
// router has a membership, else this router alone.
func (r *Router) Routers(ctx context.Context) ([]RouterInfo, error) {
	if r.member == nil {
		return []RouterInfo{{Name: r.name}}, nil
	}
	ms := r.member.Members()
	out := make([]RouterInfo, len(ms))
	for i, m := range ms {
		out[i] = RouterInfo{Name: m.Name, RESPAddr: m.RESPAddr, HTTPAddr: m.HTTPAddr}
	}
	return out, nil
}

// Membership returns the router's membership, or nil without one.
func (r *Router) Membership() *Membership { return r.member }

// FlushAll runs FLUSHDB on every shard, in parallel, and forgets every
// cached jid location. It fails naming the shards that did not answer.
func (r *Router) FlushAll(ctx context.Context) error {
	r.flushes.Add(1) // a config sync in flight must not write back what it read
	defer r.flushes.Add(1)
	_, err := fanOut(ctx, r, r.names, func(ctx context.Context, s Shard) (struct{}, error) {
		return struct{}{}, s.FlushDB(ctx)
	})
	r.jids.clear()
	return err
}

// owner returns the shard that owns queue.
func (r *Router) owner(queue string) Shard {
	return r.shards[r.ring.Load().Locate(queue)]
}

// home returns the home shard of a jid (where it is looked for when no
// shard has it).
func (r *Router) home(jid string) Shard {
	return r.shards[r.ring.Load().Locate(jid)]
}

// anyShard returns a shard to serve a command any shard can answer: the
// first healthy one in name order, else the first one (whose error then
// names it).
func (r *Router) anyShard() Shard {
	for _, n := range r.names {
		if s := r.shards[n]; s.Healthy() {
			return s
		}
	}
	return r.shards[r.names[0]]
}

// single returns the only shard when the cluster has exactly one: every
// command then goes to it unchanged, which is exact by construction.
func (r *Router) single() Shard {
	if len(r.names) == 1 {
		return r.shards[r.names[0]]
	}
	return nil
}

// shardErr makes sure an error of shard s names it.
func shardErr(s Shard, err error) error {
	if err == nil {
		return nil
	}
	var se *core.ShardError
	var sc *core.ScriptError
	if errors.As(err, &se) || errors.As(err, &sc) {
		return err
	}
	return &core.ShardError{Shard: s.Name(), Err: err}
}

// upper returns an ASCII upper-case copy of s.
func upper(s string) string { return strings.ToUpper(s) }

// ShardHealthy reports whether the named shard answered its last health
// check; false for a name that is not a shard of this router.
func (r *Router) ShardHealthy(name string) bool {
	s, ok := r.shards[name]
	return ok && s.Healthy()
}

// Crash stops the router as a crash would, for failure tests: it drops out
// of the membership without the graceful leave (the other routers find out
// through their failure detector), then stops like Stop.
func (r *Router) Crash(ctx context.Context) error {
	if r.member != nil {
		r.member.kill()
	}
	return r.Stop(ctx)
}
