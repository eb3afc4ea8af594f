package resp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/qless-router/qless-router/core"
)

// RedisVersion is the redis_version INFO reports. qless clients check it
// (the Ruby gem needs at least 2.5.5); it is the version the qless script is
// written for.
const RedisVersion = "7.0.15"

// Config configures a Server. Start from DefaultConfig or DefaultLocalConfig.
type Config struct {
	// Addr is the TCP address to listen on, host:port. Port 0 picks a free
	// port; Server.Addr reports the bound address.
	Addr string

	// TLS, when non-nil, makes the server accept TLS connections only.
	TLS *tls.Config

	// Password is the password clients give with AUTH. Empty means no
	// authentication: every command is allowed without AUTH, as on a Redis
	// without requirepass.
	Password string

	// AdminPassword, when set, is needed for the admin commands
	// (FLUSHDB, FLUSHALL): the connection must have authenticated with it
	// (AUTH <admin password> or AUTH admin <admin password>). A connection
	// authenticated with it may also run every other command. Empty means
	// the admin commands are allowed to every authenticated connection.
	AdminPassword string

	// Script is the text of the qless script the shards run (lua.Script()).
	// Its SHA-1 is known from the start, so clients that ship this very
	// script never see NOSCRIPT. Empty is allowed: then every client loads
	// its script text once with SCRIPT LOAD (or EVAL).
	Script string

	// MaxScripts caps the number of distinct script SHAs remembered from
	// SCRIPT LOAD and EVAL (SCRIPT FLUSH forgets them). A SCRIPT LOAD beyond
	// it gets an error. Must be > 0.
	MaxScripts int

	// EventBuffer is how many published messages may wait for delivery to
	// this router's subscribers. Messages beyond it are dropped (and
	// logged), as Redis disconnects a subscriber that cannot keep up.
	// Must be > 0.
	EventBuffer int

	// SubscriberWriteTimeout bounds each write to a subscribed connection.
	// A subscriber that does not read for this long is disconnected, so
	// that it cannot hold up the delivery to the others. Zero means no
	// bound.
	SubscriberWriteTimeout time.Duration

	// SubscribeFenceTimeout bounds how long a connection's first
	// (P)SUBSCRIBE waits for Backend.Barrier and the event queue, so that
	// it sees exactly the messages published after it (see Barrier), and
	// how long a (P)UNSUBSCRIBE waits for the messages published before it;
	// also each Interest want. Past it, the command takes effect without
	// that guarantee. Must be > 0.
	SubscribeFenceTimeout time.Duration

	// IdleTimeout closes a connection that sent nothing for this long.
	// Zero means never (subscribed connections are never closed for it).
	IdleTimeout time.Duration

	// PipelineParallel, when > 1, lets a pipelined batch of EVALSHA/EVAL
	// calls on one connection run up to this many calls at once. Replies
	// keep their order, but the calls' effects may happen in any order, so
	// turn it on only for clients whose pipelined calls are independent:
	// auto-pipelining clients (rueidis, this project's Go client) are, an
	// explicit pipeline of put then pop is not. 0 or 1: one call at a time,
	// as on Redis.
	PipelineParallel int

	// Version is this program's version, reported by INFO as
	// qless_router_version.
	Version string

	// Logger receives the server's logs. Nil means discard.
	Logger *slog.Logger

	// Clock gives uptime_in_seconds in INFO. Nil means core.RealClock().
	Clock core.Clock
}

// DefaultConfig returns the production defaults: listen on :6380, no
// passwords, no script pre-known.
func DefaultConfig() Config {
	return Config{
		Addr:        ":6380",
		MaxScripts:  1024,
		EventBuffer: 8192,

		SubscriberWriteTimeout: 5 * time.Second,
		SubscribeFenceTimeout:  2 * time.Second,
	}
}

// DefaultLocalConfig returns defaults for tests and development: listen on
// 127.0.0.1 with a free port.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.Addr = "127.0.0.1:0"
	return c
}

// Validate reports every invalid field, each error naming it.
func (c *Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("resp: Config.Addr is empty"))
	}
	if c.MaxScripts <= 0 {
		errs = append(errs, fmt.Errorf("resp: Config.MaxScripts = %d, must be > 0", c.MaxScripts))
	}
	if c.EventBuffer <= 0 {
		errs = append(errs, fmt.Errorf("resp: Config.EventBuffer = %d, must be > 0", c.EventBuffer))
	}
	if c.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("resp: Config.IdleTimeout = %v, must be >= 0", c.IdleTimeout))
	}
	if c.SubscriberWriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("resp: Config.SubscriberWriteTimeout = %v, must be >= 0", c.SubscriberWriteTimeout))
	}
	if c.SubscribeFenceTimeout <= 0 {
		errs = append(errs, fmt.Errorf("resp: Config.SubscribeFenceTimeout = %v, must be > 0", c.SubscribeFenceTimeout))
	}
	if c.PipelineParallel < 0 {
		errs = append(errs, fmt.Errorf("resp: Config.PipelineParallel = %d, must be >= 0", c.PipelineParallel))
	}
	if c.Password != "" && c.Password == c.AdminPassword {
		errs = append(errs, errors.New("resp: Config.AdminPassword must differ from Config.Password"))
	}
	return errors.Join(errs...)
}
