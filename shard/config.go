package shard

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/core"
)

// Config configures one Shard. Zero durations are invalid; start from
// DefaultConfig or DefaultLocalConfig.
type Config struct {
	// Name identifies the shard in errors (core.ShardError.Shard), logs and
	// the ring. Required.
	Name string
	// URL locates the shard: redis://, rediss://, redis-sentinel:// or
	// unix:// (see the package documentation). Required.
	URL string
	// Logger receives the shard's logs; nil discards them.
	Logger *slog.Logger
	// Clock drives the health loop and resubscription delays; nil means
	// core.RealClock().
	Clock core.Clock
	// TLS, when set, is used for the connections to Redis (and to the
	// Sentinels), overriding the default of a rediss:// URL.
	TLS *tls.Config

	// DialTimeout bounds each connection attempt.
	DialTimeout time.Duration
	// WriteTimeout bounds each network read or write of a connection; a
	// server silent for longer breaks the connection (rueidis
	// ConnWriteTimeout).
	WriteTimeout time.Duration
	// HealthInterval is the period of the health check (a PING, or a
	// connection attempt while the shard has never been reached).
	HealthInterval time.Duration
	// HealthTimeout bounds one health check.
	HealthTimeout time.Duration
	// ResubscribeDelay is the first wait before Subscribe subscribes again
	// after losing its connection; it doubles up to HealthInterval.
	ResubscribeDelay time.Duration
	// SentinelRefresh is how often a Sentinel client re-reads the master's
	// address besides following +switch-master events (rueidis
	// Sentinel.TopologyRefreshInterval). Ignored for redis:// URLs.
	SentinelRefresh time.Duration
	// MaxFlushDelay lets the shard client wait up to this long after each
	// write to collect more concurrent commands into the next one (rueidis
	// MaxFlushDelay): fewer system calls on the router and on Redis under
	// load. rueidis waits only while several calls are in flight, so a lone
	// caller gets no added latency. 0 flushes at once. Default
	// DefaultMaxFlushDelay.
	MaxFlushDelay time.Duration
	// WaitReplicas, when positive, makes every qless command that can write
	// wait until this many replicas acknowledged it (WAIT on the same
	// connection), at most WaitTimeout; when fewer do, the call fails with
	// core.ErrNotReplicated (the write is on the primary). A failover of a
	// Sentinel-watched shard then loses no acknowledged write (the replica
	// promoted must be one that acknowledged: with one replica, it is).
	// Each such call takes a connection of its own from a pool instead of
	// the pipelined one. 0 (the default) acknowledges at once, as Redis does.
	WaitReplicas int
	// WaitTimeout bounds the wait for replicas (WAIT's timeout); required
	// when WaitReplicas is set.
	WaitTimeout time.Duration
	// Functions calls the qless script as a Redis 7 function (FUNCTION
	// LOAD of lua.Library(), FCALL lua.FunctionName()) where the server
	// allows it, falling back to EVALSHA where it does not (Redis < 7, an
	// ACL without FUNCTION): the script's setup then runs once per load
	// instead of on every call (about 7% less Redis CPU per job). Error
	// replies are rewritten to the script's texts (lua.FromLibraryError), so
	// that callers see exactly what EVALSHA would answer.
	Functions bool
	// StartDown lets Start succeed when the shard cannot be reached: the
	// health loop keeps trying to connect, and calls fail with
	// core.ErrShardDown until it does. When false, Start returns that error.
	StartDown bool
}

// DefaultConfig returns the production defaults; set Name and URL.
func DefaultConfig() Config {
	return Config{
		DialTimeout:      5 * time.Second,
		WriteTimeout:     10 * time.Second,
		HealthInterval:   time.Second,
		HealthTimeout:    time.Second,
		ResubscribeDelay: 100 * time.Millisecond,
		SentinelRefresh:  5 * time.Second,
		Functions:        true,
		MaxFlushDelay:    DefaultMaxFlushDelay,
	}
}

// DefaultMaxFlushDelay is the default Config.MaxFlushDelay. Measured with
// one router in front of one shard on two cores (bench --local, lifecycle,
// 8 and 32 clients): 20 us gave the router 17-20% more throughput than 0
// and Redis 9% less CPU per job; 100 us halved the throughput at 8 clients.
const DefaultMaxFlushDelay = 20 * time.Microsecond

// DefaultLocalConfig returns short timings for tests and local development
// on loopback; set Name and URL.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	// Loopback refuses a closed port at once: the timeouts only need to
	// survive a loaded test machine.
	c.DialTimeout = 5 * time.Second
	c.WriteTimeout = 5 * time.Second
	c.HealthInterval = 50 * time.Millisecond
	c.HealthTimeout = 2 * time.Second
	c.ResubscribeDelay = 10 * time.Millisecond
	c.SentinelRefresh = time.Second
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.Name == "" {
		return errors.New("shard: Config.Name is empty")
	}
	if c.URL == "" {
		return fmt.Errorf("shard %s: Config.URL is empty", c.Name)
	}
	if _, err := clientOption(c); err != nil {
		return fmt.Errorf("shard %s: Config.URL: %w", c.Name, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"DialTimeout", c.DialTimeout},
		{"WriteTimeout", c.WriteTimeout},
		{"HealthInterval", c.HealthInterval},
		{"HealthTimeout", c.HealthTimeout},
		{"ResubscribeDelay", c.ResubscribeDelay},
		{"SentinelRefresh", c.SentinelRefresh},
	} {
		if d.v <= 0 {
			return fmt.Errorf("shard %s: Config.%s must be positive, got %s", c.Name, d.name, d.v)
		}
	}
	if c.MaxFlushDelay < 0 {
		return fmt.Errorf("shard %s: Config.MaxFlushDelay must not be negative, got %s", c.Name, c.MaxFlushDelay)
	}
	if c.WaitReplicas < 0 {
		return fmt.Errorf("shard %s: Config.WaitReplicas must not be negative, got %d", c.Name, c.WaitReplicas)
	}
	if c.WaitReplicas > 0 && c.WaitTimeout < time.Millisecond {
		return fmt.Errorf("shard %s: Config.WaitTimeout must be at least 1ms with WaitReplicas, got %s", c.Name, c.WaitTimeout)
	}
	return nil
}

// sentinelScheme is the URL scheme of a Sentinel-monitored master set.
const sentinelScheme = "redis-sentinel"

// clientOption turns the Config into rueidis options.
func clientOption(c Config) (rueidis.ClientOption, error) {
	var opt rueidis.ClientOption
	var err error
	if strings.HasPrefix(c.URL, sentinelScheme+"://") {
		opt, err = parseSentinelURL(c.URL)
	} else {
		opt, err = rueidis.ParseURL(c.URL)
		if err == nil && opt.Sentinel.MasterSet != "" {
			err = fmt.Errorf("use a %s:// URL for a Sentinel master set", sentinelScheme)
		}
	}
	if err != nil {
		return opt, err
	}
	// No client-side caching: mandatory for RESP2, and the router wants none.
	opt.DisableCache = true
	// RESP2 always: replies then convert exactly as a qless client of one
	// Redis sees them (Lua true is 1 and false is nil, scores are strings).
	opt.AlwaysRESP2 = true
	// Never retry: qless commands are not idempotent; the router decides.
	opt.DisableRetry = true
	if opt.Dialer.Timeout == 0 {
		opt.Dialer.Timeout = c.DialTimeout
	}
	if opt.ConnWriteTimeout == 0 {
		opt.ConnWriteTimeout = c.WriteTimeout
	}
	opt.MaxFlushDelay = c.MaxFlushDelay
	if opt.ClientName == "" {
		opt.ClientName = "qless-router"
	}
	if c.TLS != nil {
		opt.TLSConfig = c.TLS
	}
	if opt.Sentinel.MasterSet != "" {
		opt.Sentinel.Dialer.Timeout = opt.Dialer.Timeout
		opt.Sentinel.TopologyRefreshInterval = c.SentinelRefresh
		if c.TLS != nil {
			opt.Sentinel.TLSConfig = c.TLS
		}
	}
	return opt, nil
}

// parseSentinelURL parses
// redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db][?options].
func parseSentinelURL(raw string) (rueidis.ClientOption, error) {
	var opt rueidis.ClientOption
	rest := strings.TrimPrefix(raw, sentinelScheme+"://")
	var query string
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i+1:]
	}
	hostPart, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(hostPart, '@'); i >= 0 {
		userinfo := hostPart[:i]
		hostPart = hostPart[i+1:]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if opt.Username, err = url.PathUnescape(user); err != nil {
			return opt, fmt.Errorf("invalid user: %w", err)
		}
		if hasPass {
			if opt.Password, err = url.PathUnescape(pass); err != nil {
				return opt, fmt.Errorf("invalid password: %w", err)
			}
		}
	}
	if hostPart == "" {
		return opt, errors.New("no sentinel address")
	}
	for _, h := range strings.Split(hostPart, ",") {
		if h == "" {
			return opt, errors.New("empty sentinel address")
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = h, "26379"
			if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
				host = h[1 : len(h)-1]
			}
		}
		if host == "" {
			return opt, fmt.Errorf("sentinel address %q has no host", h)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return opt, fmt.Errorf("sentinel address %q: invalid port", h)
		}
		opt.InitAddress = append(opt.InitAddress, net.JoinHostPort(host, port))
	}
	master, db, hasDB := strings.Cut(path, "/")
	master, err := url.PathUnescape(master)
	if err != nil || master == "" {
		return opt, errors.New("no master set name in the path (redis-sentinel://host:port/mastername)")
	}
	opt.Sentinel.MasterSet = master
	if hasDB && db != "" {
		if opt.SelectDB, err = strconv.Atoi(db); err != nil || opt.SelectDB < 0 {
			return opt, fmt.Errorf("invalid database number %q", db)
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return opt, fmt.Errorf("invalid options: %w", err)
	}
	for k := range q {
		switch k {
		case "sentinel_user":
			opt.Sentinel.Username = q.Get(k)
		case "sentinel_password":
			opt.Sentinel.Password = q.Get(k)
		case "dial_timeout":
			if opt.Dialer.Timeout, err = time.ParseDuration(q.Get(k)); err != nil {
				return opt, fmt.Errorf("invalid dial_timeout: %w", err)
			}
		case "write_timeout":
			if opt.ConnWriteTimeout, err = time.ParseDuration(q.Get(k)); err != nil {
				return opt, fmt.Errorf("invalid write_timeout: %w", err)
			}
		case "client_name":
			opt.ClientName = q.Get(k)
		default:
			return opt, fmt.Errorf("unknown option %q", k)
		}
	}
	return opt, nil
}

// redactURL returns the URL without its passwords, for logs.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	end := len(rest)
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		end = i
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		if user, _, hasPass := strings.Cut(rest[:at], ":"); hasPass {
			rest = user + ":xxxxx@" + rest[at+1:]
		}
	}
	out := scheme + "://" + rest
	if hasQuery {
		parts := strings.Split(query, "&")
		for i, p := range parts {
			if k, _, ok := strings.Cut(p, "="); ok && strings.Contains(k, "password") {
				parts[i] = k + "=xxxxx"
			}
		}
		out += "?" + strings.Join(parts, "&")
	}
	return out
}
