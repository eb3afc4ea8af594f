package web

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/qless-router/qless-router/core"
)

// Config configures a Server. Start from DefaultConfig or
// DefaultLocalConfig.
type Config struct {
	// Addr is the address to listen on, e.g. ":8080" or "127.0.0.1:0" (a
	// free port; Server.Addr tells which).
	Addr string
	// Token, when set, is required by every /api, dashboard and /metrics
	// request (see the package documentation); /healthz stays open. Empty
	// means no authentication.
	Token string
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Clock gives the `now` of every qless call (seconds since the epoch as
	// a decimal string) and the day of the statistics shown. Nil means
	// core.RealClock().
	Clock core.Clock

	// RequestTimeout bounds the backend calls of one request. Must be > 0.
	RequestTimeout time.Duration
	// ReadHeaderTimeout bounds reading a request's headers. Must be > 0.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections. Must be > 0.
	IdleTimeout time.Duration

	// PageSize is the default number of jobs of a listing. Must be > 0 and
	// at most MaxPageSize.
	PageSize int
	// MaxPageSize is the largest limit a request may ask for. Must be > 0.
	MaxPageSize int
	// RefreshInterval is how often the dashboard reloads a page when its
	// auto-refresh box is ticked. 0 hides the box.
	RefreshInterval time.Duration
}

// DefaultConfig returns the production defaults; set Addr.
func DefaultConfig() Config {
	return Config{
		Addr:              ":8080",
		RequestTimeout:    10 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		PageSize:          25,
		MaxPageSize:       500,
		RefreshInterval:   5 * time.Second,
	}
}

// DefaultLocalConfig returns settings for tests and development: a free
// loopback port and short timeouts.
func DefaultLocalConfig() Config {
	c := DefaultConfig()
	c.Addr = "127.0.0.1:0"
	c.RequestTimeout = 2 * time.Second
	c.ReadHeaderTimeout = 2 * time.Second
	c.IdleTimeout = 10 * time.Second
	return c
}

// Validate reports every invalid field, naming it.
func (c *Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("web: Config.Addr is empty"))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("web: Config.RequestTimeout = %v, must be > 0", c.RequestTimeout))
	}
	if c.ReadHeaderTimeout <= 0 {
		errs = append(errs, fmt.Errorf("web: Config.ReadHeaderTimeout = %v, must be > 0", c.ReadHeaderTimeout))
	}
	if c.IdleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("web: Config.IdleTimeout = %v, must be > 0", c.IdleTimeout))
	}
	if c.MaxPageSize <= 0 {
		errs = append(errs, fmt.Errorf("web: Config.MaxPageSize = %d, must be > 0", c.MaxPageSize))
	}
	if c.PageSize <= 0 || c.PageSize > c.MaxPageSize {
		errs = append(errs, fmt.Errorf("web: Config.PageSize = %d, must be in [1, MaxPageSize=%d]", c.PageSize, c.MaxPageSize))
	}
	if c.RefreshInterval < 0 {
		errs = append(errs, fmt.Errorf("web: Config.RefreshInterval = %v, must be >= 0", c.RefreshInterval))
	}
	return errors.Join(errs...)
}
