package router

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// MembershipConfig configures a router's membership in the router cluster.
//
// Zero values are not defaults: start from DefaultMembershipConfig or
// DefaultLocalMembershipConfig and set NodeName and BindAddr.
type MembershipConfig struct {
	// NodeName names this router in the cluster. Required and unique: two
	// routers with the same name silently collapse into one member.
	NodeName string

	// BindAddr is the IP address the gossip listeners bind to. Required; there
	// is deliberately no 0.0.0.0 default (it advertises an address others
	// cannot reach). An unspecified address (0.0.0.0, ::) is accepted only
	// together with AdvertiseAddr.
	BindAddr string
	// BindPort is the gossip port, TCP and UDP. 0 picks a free port.
	BindPort int

	// AdvertiseAddr and AdvertisePort are what other routers use to reach
	// this one, when different from the bind address (NAT, containers).
	// Empty and 0 mean "same as bound".
	AdvertiseAddr string
	AdvertisePort int

	// Join lists seed routers as host:port. Empty means this router starts a
	// cluster of its own and waits for others to join it. Joining is retried
	// in the background, so a router may start before its seeds.
	Join []string

	// RESPAddr and HTTPAddr are the client-facing addresses advertised in
	// node metadata, so that any router can tell clients where the others are.
	RESPAddr string
	HTTPAddr string

	// ShardSet is this router's view of the shard set, as a short
	// fingerprint (for example the ring epoch and a hash of its shards).
	// Routers compare fingerprints; see Membership.Agreement. The encoded
	// metadata must fit memberlist.MetaMaxSize (512 bytes); Validate checks.
	ShardSet string

	// ProbeInterval is the failure-detector probe period; ProbeTimeout is
	// how long a probe waits for an ack. SuspicionMult scales how long a
	// suspected router has to refute before it is declared dead.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	SuspicionMult int
	// GossipInterval is the period of UDP gossip rounds.
	GossipInterval time.Duration
	// PushPullInterval is the period of full TCP state exchange
	// (anti-entropy). 0 disables it.
	PushPullInterval time.Duration
	// TCPTimeout bounds a TCP connection to another router (join, push/pull,
	// fallback probes).
	TCPTimeout time.Duration
	// JoinRetryInterval is the wait between attempts to join the seeds,
	// until one succeeds.
	JoinRetryInterval time.Duration
	// ChangeCoalesce is how long change notifications are gathered before
	// subscribers are told, so that churn produces one notification.
	// 0 notifies on every change.
	ChangeCoalesce time.Duration
	// BroadcastTimeout bounds the wait for a leave or metadata broadcast when
	// the context given to Stop or UpdateShardSet has no deadline.
	BroadcastTimeout time.Duration

	// Logger receives membership logs, including memberlist's own (at debug
	// level, except memberlist errors at warn). nil discards them.
	Logger *slog.Logger
}

// DefaultMembershipConfig returns settings for routers on a LAN. NodeName and
// BindAddr must still be set.
func DefaultMembershipConfig() MembershipConfig {
	return MembershipConfig{
		BindPort:          7946,
		ProbeInterval:     time.Second,
		ProbeTimeout:      500 * time.Millisecond,
		SuspicionMult:     4,
		GossipInterval:    200 * time.Millisecond,
		PushPullInterval:  30 * time.Second,
		TCPTimeout:        10 * time.Second,
		JoinRetryInterval: 2 * time.Second,
		ChangeCoalesce:    200 * time.Millisecond,
		BroadcastTimeout:  5 * time.Second,
	}
}

// DefaultLocalMembershipConfig returns fast settings for routers on one host
// (tests, development): a free port and a failure detector that declares a
// crashed router dead in about a second. NodeName and BindAddr must still be
// set.
func DefaultLocalMembershipConfig() MembershipConfig {
	return MembershipConfig{
		BindPort:          0,
		ProbeInterval:     200 * time.Millisecond,
		ProbeTimeout:      100 * time.Millisecond,
		SuspicionMult:     2,
		GossipInterval:    50 * time.Millisecond,
		PushPullInterval:  2 * time.Second,
		TCPTimeout:        time.Second,
		JoinRetryInterval: 100 * time.Millisecond,
		ChangeCoalesce:    20 * time.Millisecond,
		BroadcastTimeout:  2 * time.Second,
	}
}

// Validate reports every invalid field, each error naming its field.
func (c MembershipConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("membership config: "+format, args...))
	}
	if c.NodeName == "" {
		bad("NodeName is required")
	}
	switch ip := net.ParseIP(c.BindAddr); {
	case c.BindAddr == "":
		bad("BindAddr is required (for example 127.0.0.1)")
	case ip == nil:
		bad("BindAddr %q is not an IP address", c.BindAddr)
	case ip.IsUnspecified() && c.AdvertiseAddr == "":
		bad("BindAddr %q is unspecified: set a reachable address or AdvertiseAddr", c.BindAddr)
	}
	if c.BindPort < 0 || c.BindPort > 65535 {
		bad("BindPort %d out of range 0-65535", c.BindPort)
	}
	if c.AdvertiseAddr != "" {
		if ip := net.ParseIP(c.AdvertiseAddr); ip == nil || ip.IsUnspecified() {
			bad("AdvertiseAddr %q is not a usable IP address", c.AdvertiseAddr)
		}
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		bad("AdvertisePort %d out of range 0-65535", c.AdvertisePort)
	}
	for i, seed := range c.Join {
		host, port, err := net.SplitHostPort(seed)
		if err != nil || host == "" {
			bad("Join[%d] %q is not host:port", i, seed)
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			bad("Join[%d] %q has an invalid port", i, seed)
		}
	}
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"ProbeInterval", c.ProbeInterval},
		{"ProbeTimeout", c.ProbeTimeout},
		{"GossipInterval", c.GossipInterval},
		{"TCPTimeout", c.TCPTimeout},
		{"JoinRetryInterval", c.JoinRetryInterval},
		{"BroadcastTimeout", c.BroadcastTimeout},
	}
	for _, p := range positive {
		if p.d <= 0 {
			bad("%s must be positive, got %v", p.name, p.d)
		}
	}
	if c.ProbeTimeout > 0 && c.ProbeInterval > 0 && c.ProbeTimeout >= c.ProbeInterval {
		bad("ProbeTimeout %v must be shorter than ProbeInterval %v", c.ProbeTimeout, c.ProbeInterval)
	}
	if c.PushPullInterval < 0 {
		bad("PushPullInterval must not be negative, got %v", c.PushPullInterval)
	}
	if c.ChangeCoalesce < 0 {
		bad("ChangeCoalesce must not be negative, got %v", c.ChangeCoalesce)
	}
	if c.SuspicionMult < 1 {
		bad("SuspicionMult must be at least 1, got %d", c.SuspicionMult)
	}
	if n := len(encodeMemberMeta(c.RESPAddr, c.HTTPAddr, c.ShardSet)); n > memberlist.MetaMaxSize {
		bad("RESPAddr, HTTPAddr and ShardSet encode to %d bytes of node metadata, limit %d", n, memberlist.MetaMaxSize)
	}
	return errors.Join(errs...)
}

// Member is one live router as seen through membership.
type Member struct {
	Name       string // node name, unique in the cluster
	GossipAddr string // advertised gossip host:port
	RESPAddr   string // client RESP address, from node metadata
	HTTPAddr   string // HTTP address, from node metadata
	ShardSet   string // the router's view of the shard set, from node metadata
}

// ErrShardSetMismatch is matched (errors.Is) by the error Agreement returns
// when live routers disagree on the shard set.
var ErrShardSetMismatch = errors.New("routers disagree on the shard set")

// ShardSetMismatchError says which routers hold a shard set different from
// this router's.
type ShardSetMismatchError struct {
	Local     string   // this router's name
	ShardSet  string   // this router's view
	Differing []Member // live routers whose view differs, sorted by name
}

func (e *ShardSetMismatchError) Error() string {
	msg := fmt.Sprintf("router %s: %v: we have %q", e.Local, ErrShardSetMismatch, e.ShardSet)
	for i, m := range e.Differing {
		sep := ", "
		if i == 0 {
			sep = "; "
		}
		msg += fmt.Sprintf("%s%s has %q", sep, m.Name, m.ShardSet)
	}
	return msg
}

// Is makes errors.Is(err, ErrShardSetMismatch) true.
func (e *ShardSetMismatchError) Is(target error) bool { return target == ErrShardSetMismatch }

// Errors returned when membership is used outside its lifetime.
var (
	ErrMembershipNotStarted = errors.New("membership not started")
	ErrMembershipStopped    = errors.New("membership stopped")
)

type membershipState int

const (
	membershipNew membershipState = iota
	membershipRunning
	membershipStopping
	membershipStopped
)

// Membership is this router's view of the router cluster, kept by
// hashicorp/memberlist. All methods are safe for concurrent use. Members and
// Agreement read an immutable snapshot and take no lock.
type Membership struct {
	cfg    MembershipConfig
	logger *slog.Logger

	meta     atomic.Pointer[memberMeta] // this router's current metadata
	snapshot atomic.Pointer[[]Member]   // live members, sorted by name
	boundTo  atomic.Pointer[string]     // gossip host:port once started

	mu      sync.Mutex
	state   atomic.Int32           // a membershipState; written under mu, read anywhere
	list    *memberlist.Memberlist // guarded by mu; set once by Start
	cancel  context.CancelFunc     // guarded by mu; ends the background goroutines
	stopped chan struct{}          // closed when Stop has finished
	wg      sync.WaitGroup         // background goroutines

	nodesMu sync.Mutex
	nodes   map[string]Member // guarded by nodesMu; live members by name

	changed  chan struct{} // capacity 1: a membership change is pending
	updating chan struct{} // capacity 1: held while memberlist is being updated

	subsMu sync.Mutex
	subs   map[*membershipSub]struct{} // guarded by subsMu
}

// NewMembership validates cfg and returns a Membership that is not yet
// started.
func NewMembership(cfg MembershipConfig) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Join = append([]string(nil), cfg.Join...)
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Membership{
		cfg:      cfg,
		logger:   logger.With("component", "membership", "node", cfg.NodeName),
		stopped:  make(chan struct{}),
		nodes:    make(map[string]Member),
		changed:  make(chan struct{}, 1),
		updating: make(chan struct{}, 1),
		subs:     make(map[*membershipSub]struct{}),
	}
	m.meta.Store(&memberMeta{RESP: cfg.RESPAddr, HTTP: cfg.HTTPAddr, ShardSet: cfg.ShardSet})
	empty := []Member{}
	m.snapshot.Store(&empty)
	return m, nil
}

// Start binds the gossip listeners, joins the cluster and returns. Joining
// the seeds goes on in the background for the membership's whole life: it
// is retried until one seed answers (a router may start before its seeds),
// and again whenever the router finds itself alone (after a partition).
// ctx bounds only Start itself. Start may be called once.
func (m *Membership) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.loadState() {
	case membershipRunning:
		return errors.New("membership: already started")
	case membershipStopping, membershipStopped:
		return fmt.Errorf("membership: start: %w", ErrMembershipStopped)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("membership: start: %w", err)
	}

	conf := m.memberlistConfig()
	list, err := memberlist.Create(conf)
	if err != nil {
		return fmt.Errorf("membership %s: create memberlist on %s:%d: %w", m.cfg.NodeName, m.cfg.BindAddr, m.cfg.BindPort, err)
	}
	bound := net.JoinHostPort(m.cfg.BindAddr, strconv.Itoa(conf.BindPort))
	m.boundTo.Store(&bound)
	m.list = list
	m.state.Store(int32(membershipRunning))

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.notifyLoop(bg)
	}()
	if seeds := m.seeds(list); len(seeds) > 0 {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.joinLoop(bg, list, seeds)
		}()
	}
	m.logger.Info("membership started", "gossip_addr", bound, "seeds", m.cfg.Join)
	return nil
}

func (m *Membership) loadState() membershipState { return membershipState(m.state.Load()) }

// memberlistConfig translates our config into memberlist's.
func (m *Membership) memberlistConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	c.Name = m.cfg.NodeName
	c.BindAddr = m.cfg.BindAddr
	c.BindPort = m.cfg.BindPort
	c.AdvertiseAddr = m.cfg.AdvertiseAddr
	c.AdvertisePort = m.cfg.AdvertisePort
	if m.cfg.AdvertisePort == 0 {
		c.AdvertisePort = m.cfg.BindPort
	}
	c.ProbeInterval = m.cfg.ProbeInterval
	c.ProbeTimeout = m.cfg.ProbeTimeout
	c.SuspicionMult = m.cfg.SuspicionMult
	c.GossipInterval = m.cfg.GossipInterval
	c.PushPullInterval = m.cfg.PushPullInterval
	c.TCPTimeout = m.cfg.TCPTimeout
	c.Delegate = (*membershipDelegate)(m)
	c.Events = (*membershipEvents)(m)
	c.Conflict = (*membershipConflicts)(m)
	c.Logger = log.New(&membershipLogWriter{logger: m.logger}, "", 0)
	return c
}

// seeds returns the configured seeds other than this router itself, so that
// a seed list shared by all routers works.
func (m *Membership) seeds(list *memberlist.Memberlist) []string {
	self := map[string]bool{m.LocalAddr(): true, list.LocalNode().Address(): true}
	var seeds []string
	for _, s := range m.cfg.Join {
		if !self[s] {
			seeds = append(seeds, s)
		}
	}
	return seeds
}

// joinLoop joins the seeds, retrying every JoinRetryInterval until one
// answers, and joins them again whenever this router is alone, until ctx
// ends (Stop).
func (m *Membership) joinLoop(ctx context.Context, list *memberlist.Memberlist, seeds []string) {
	t := time.NewTimer(0)
	defer t.Stop()
	joined := false
	for attempt := 1; ; attempt++ {
		select {
		case <-ctx.Done():
			if !joined {
				m.logger.Warn("membership: stopped before joining any seed", "seeds", seeds, "attempts", attempt-1)
			}
			return
		case <-t.C:
		}
		t.Reset(m.cfg.JoinRetryInterval)
		if joined && list.NumMembers() > 1 {
			continue
		}
		n, err := list.Join(seeds)
		if n > 0 {
			if joined {
				m.logger.Info("membership: rejoined after being alone", "seeds_reached", n)
			} else {
				m.logger.Info("membership: joined", "seeds_reached", n, "attempts", attempt)
			}
			joined = true
			continue
		}
		m.logger.Debug("membership: join failed, will retry", "seeds", seeds, "attempt", attempt, "err", err)
	}
}

// Stop leaves the cluster, so the others drop this router at once, and shuts
// memberlist down. The leave broadcast waits until ctx's deadline or
// BroadcastTimeout. Stop is idempotent and safe before Start; a concurrent
// second call waits for the first.
func (m *Membership) Stop(ctx context.Context) error {
	m.mu.Lock()
	switch m.loadState() {
	case membershipNew:
		m.state.Store(int32(membershipStopped))
		close(m.stopped)
		m.mu.Unlock()
		return nil
	case membershipStopping, membershipStopped:
		m.mu.Unlock()
		select {
		case <-m.stopped:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("membership: stop: %w", ctx.Err())
		}
	}
	m.state.Store(int32(membershipStopping))
	list := m.list
	m.mu.Unlock()

	// Let an UpdateShardSet in flight finish its broadcast first; memberlist
	// must not be updated after it shuts down.
	held := false
	select {
	case m.updating <- struct{}{}:
		held = true
	case <-ctx.Done():
	}
	var errs []error
	if err := list.Leave(m.broadcastTimeout(ctx)); err != nil {
		errs = append(errs, fmt.Errorf("membership %s: leave: %w", m.cfg.NodeName, err))
	}
	if err := list.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("membership %s: shutdown: %w", m.cfg.NodeName, err))
	}
	m.finishStop()
	if held {
		<-m.updating
	}
	m.logger.Info("membership stopped")
	return errors.Join(errs...)
}

// kill shuts memberlist down without leaving, as a crash would: the others
// find out through the failure detector. For tests.
func (m *Membership) kill() {
	m.mu.Lock()
	if m.loadState() != membershipRunning {
		m.mu.Unlock()
		return
	}
	m.state.Store(int32(membershipStopping))
	list := m.list
	m.mu.Unlock()
	_ = list.Shutdown()
	m.finishStop()
}

// finishStop ends the background goroutines and marks the stop complete.
func (m *Membership) finishStop() {
	m.mu.Lock()
	cancel := m.cancel
	m.mu.Unlock()
	cancel()
	m.wg.Wait()
	m.closeNodes()
	m.mu.Lock()
	m.state.Store(int32(membershipStopped))
	m.mu.Unlock()
	close(m.stopped)
}

// broadcastTimeout is how long a broadcast may wait under ctx.
func (m *Membership) broadcastTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d < m.cfg.BroadcastTimeout {
			return max(d, time.Millisecond)
		}
	}
	return m.cfg.BroadcastTimeout
}

// Members returns the live routers, this one included, sorted by name. It
// reads an immutable snapshot; the caller may keep and modify the slice.
// Before Start and after Stop it is empty.
func (m *Membership) Members() []Member {
	s := *m.snapshot.Load()
	return append([]Member(nil), s...)
}

// Agreement returns nil when every live router has the same shard set
// fingerprint as this one. Otherwise it returns a *ShardSetMismatchError
// (matching ErrShardSetMismatch) naming the routers that differ and both
// views. A router must not route while Agreement fails.
func (m *Membership) Agreement() error {
	switch m.loadState() {
	case membershipNew:
		return fmt.Errorf("membership %s: agreement: %w", m.cfg.NodeName, ErrMembershipNotStarted)
	case membershipStopping, membershipStopped:
		return fmt.Errorf("membership %s: agreement: %w", m.cfg.NodeName, ErrMembershipStopped)
	}
	ours := m.meta.Load().ShardSet
	var differ []Member
	for _, mem := range *m.snapshot.Load() {
		if mem.Name != m.cfg.NodeName && mem.ShardSet != ours {
			differ = append(differ, mem)
		}
	}
	if len(differ) == 0 {
		return nil
	}
	return &ShardSetMismatchError{Local: m.cfg.NodeName, ShardSet: ours, Differing: differ}
}

// ShardSet returns this router's current view of the shard set.
func (m *Membership) ShardSet() string { return m.meta.Load().ShardSet }

// LocalAddr returns the gossip host:port actually bound (with BindPort 0, the
// port picked), or "" before Start. Give it to other routers as a seed.
func (m *Membership) LocalAddr() string {
	if p := m.boundTo.Load(); p != nil {
		return *p
	}
	return ""
}

// UpdateShardSet replaces this router's shard set fingerprint in its node
// metadata and gossips it, waiting for the broadcast to go out until ctx's
// deadline or BroadcastTimeout. Updates are applied one at a time. Before
// Start it only records the value.
func (m *Membership) UpdateShardSet(ctx context.Context, shardSet string) error {
	fail := func(err error) error {
		return fmt.Errorf("membership %s: update shard set: %w", m.cfg.NodeName, err)
	}
	next := &memberMeta{RESP: m.cfg.RESPAddr, HTTP: m.cfg.HTTPAddr, ShardSet: shardSet}
	if n := len(next.encode()); n > memberlist.MetaMaxSize {
		return fail(fmt.Errorf("metadata would be %d bytes, limit %d", n, memberlist.MetaMaxSize))
	}
	select {
	case m.updating <- struct{}{}:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	m.mu.Lock()
	state, list := m.loadState(), m.list
	if state == membershipNew || state == membershipRunning {
		m.meta.Store(next)
	}
	m.mu.Unlock()
	switch state {
	case membershipNew:
		<-m.updating
		return nil
	case membershipStopping, membershipStopped:
		<-m.updating
		return fail(ErrMembershipStopped)
	}
	// UpdateNode blocks until the broadcast goes out or its timeout; run it
	// aside so that the caller's wait honours ctx. It keeps the update slot
	// until it returns, so Stop waits for it before leaving.
	done := make(chan error, 1)
	timeout := m.broadcastTimeout(ctx)
	go func() {
		defer func() { <-m.updating }()
		done <- list.UpdateNode(timeout)
	}()
	select {
	case err := <-done:
		if err != nil {
			return fail(err)
		}
		return nil
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}
