package client

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// Config configures a Client. Start from DefaultConfig and set Addrs or URL.
type Config struct {
	// Addrs are host:port addresses of routers of a qless-router cluster, or
	// of one Redis running the qless script. With routers, one reachable
	// address is enough: the client learns the others (QLESS.ROUTERS).
	// Exactly one of Addrs and URL must be set.
	Addrs []string
	// URL is an alternative to Addrs: redis://[user:password@]host:port[/db],
	// or rediss://... for TLS. Its password and database apply unless
	// Password or DB are set.
	URL string
	// Username and Password authenticate every connection (AUTH). Empty
	// means no AUTH.
	Username string
	Password string
	// DB selects a Redis database (SELECT) when talking to a plain Redis.
	// Routers only have database 0.
	DB int
	// TLS, when set, makes every connection use TLS.
	TLS *tls.Config

	// WorkerName is the worker name this client sends with pop, heartbeat,
	// complete, fail and retry. "" means "<hostname>-<pid>".
	WorkerName string

	// DialTimeout bounds the opening of one connection. 0 means 5s.
	DialTimeout time.Duration
	// Conns is the number of connections opened to the router in use. A
	// router serves the calls of one connection one at a time, so Conns
	// bounds the calls of this client in flight at once. 0 means 4.
	Conns int
	// Discovery is the interval at which the client refreshes the list of
	// live routers (QLESS.ROUTERS). The list is always learned once, at the
	// first call. 0 disables the periodic refresh; a negative value disables
	// discovery altogether (only Addrs are used).
	Discovery time.Duration
	// DownTime is how long a router that failed is avoided before the
	// client tries it again. 0 means 2s.
	DownTime time.Duration

	// Clock gives the `now` of every qless call (the server never reads its
	// own clock) and the time of Job.TTL. nil means time.Now.
	Clock func() time.Time
	// Logger receives the client's logs (router changes, failovers). nil
	// discards them.
	Logger *slog.Logger

	// Script is the qless script text the client loads (SCRIPT LOAD) when
	// the server does not know its SHA, e.g. a fresh plain Redis. "" means
	// the project's own script (package lua).
	Script string

	// ClassDefaults gives, per job class, the default options of Put for
	// that class, computed from the job's data. Options passed to Put
	// override them. The functions must be safe for concurrent use.
	ClassDefaults map[string]func(data json.RawMessage) []Option
}

// DefaultConfig returns a Config with the documented defaults. Addrs (or
// URL) is left for the caller to set.
func DefaultConfig() Config {
	return Config{
		DialTimeout: 5 * time.Second,
		Conns:       4,
		Discovery:   30 * time.Second,
		DownTime:    2 * time.Second,
	}
}

// DefaultLocalConfig is DefaultConfig with short timings for tests and local
// development on loopback.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.DialTimeout = time.Second
	c.Conns = 2
	c.Discovery = 500 * time.Millisecond
	c.DownTime = 500 * time.Millisecond
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case len(c.Addrs) == 0 && c.URL == "":
		return errors.New("client: Config.Addrs and Config.URL are both empty; set one")
	case len(c.Addrs) > 0 && c.URL != "":
		return errors.New("client: Config.Addrs and Config.URL are both set; set one")
	case c.DialTimeout < 0:
		return fmt.Errorf("client: Config.DialTimeout = %v, want >= 0", c.DialTimeout)
	case c.Conns < 0:
		return fmt.Errorf("client: Config.Conns = %d, want >= 0", c.Conns)
	case c.DownTime < 0:
		return fmt.Errorf("client: Config.DownTime = %v, want >= 0", c.DownTime)
	case c.DB < 0:
		return fmt.Errorf("client: Config.DB = %d, want >= 0", c.DB)
	}
	for i, a := range c.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("client: Config.Addrs[%d] = %q: %w", i, a, err)
		}
	}
	for k, f := range c.ClassDefaults {
		if f == nil {
			return fmt.Errorf("client: Config.ClassDefaults[%q] is nil", k)
		}
	}
	return nil
}

// withDefaults fills the zero values that stand for a default.
func (c Config) withDefaults() Config {
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.Conns == 0 {
		c.Conns = 4
	}
	if c.DownTime == 0 {
		c.DownTime = 2 * time.Second
	}
	if c.WorkerName == "" {
		c.WorkerName = DefaultWorkerName()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// DefaultWorkerName is "<hostname>-<pid>", the worker name of a Client whose
// Config.WorkerName is empty.
func DefaultWorkerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}
