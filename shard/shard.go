package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/lua"
)

// Shard is the connection to one shard. Create it with New, then Start it.
// All methods are safe for concurrent use.
type Shard struct {
	name  string
	cfg   Config
	opt   rueidis.ClientOption
	log   *slog.Logger
	clock core.Clock

	// script and sha are lua.Script() and lua.SHA(); tests of this package
	// may replace them before Start.
	script string
	sha    string
	// library and fn are lua.Library() and lua.FunctionName() (tests may
	// replace them too); useFn tells whether calls go through FCALL of fn
	// (Config.Functions, and the server took the library).
	library string
	fn      string
	useFn   atomic.Bool
	// fnRefused: the server refused the library once (logged once).
	fnRefused atomic.Bool

	client atomic.Pointer[clientBox] // nil until connected

	healthy atomic.Bool
	lastErr atomic.Pointer[errBox]

	mu       sync.Mutex
	started  bool               // guarded by mu
	starting bool               // guarded by mu; Start is connecting
	stopped  bool               // guarded by mu
	cancel   context.CancelFunc // guarded by mu; ends the background loops
	wg       sync.WaitGroup     // the background loops

	// done is closed by Stop; Subscribe watches it.
	done chan struct{}
}

type clientBox struct{ c rueidis.Client }
type errBox struct{ err error }

// New checks the Config and returns an unstarted Shard. It does no I/O.
func New(cfg Config) (*Shard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opt, err := clientOption(cfg)
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", cfg.Name, err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	clock := cfg.Clock
	if clock == nil {
		clock = core.RealClock()
	}
	s := &Shard{
		name:    cfg.Name,
		cfg:     cfg,
		opt:     opt,
		log:     logger.With("component", "shard", "shard", cfg.Name),
		clock:   clock,
		script:  lua.Script(),
		sha:     lua.SHA(),
		library: lua.Library(),
		fn:      lua.FunctionName(),
		done:    make(chan struct{}),
	}
	return s, nil
}

// Name returns the shard's name.
func (s *Shard) Name() string { return s.name }

func (s *Shard) isStopped() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Start connects to the shard, loads the qless script and starts the health
// loop. When the shard cannot be reached, Start returns a *core.ShardError
// matching core.ErrShardDown, and the Shard stays unstarted (Start may be
// called again), unless Config.StartDown is set: then Start succeeds and the
// health loop keeps trying. ctx bounds the first connection attempt only.
func (s *Shard) Start(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.stopped:
		s.mu.Unlock()
		return &core.ShardError{Shard: s.name, Err: core.ErrStopped}
	case s.started || s.starting:
		s.mu.Unlock()
		return fmt.Errorf("shard %s: already started", s.name)
	}
	s.starting = true
	s.mu.Unlock()

	err := s.connect(ctx)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.starting = false
	if s.stopped {
		s.closeClient()
		return &core.ShardError{Shard: s.name, Err: core.ErrStopped}
	}
	if err != nil {
		if !s.cfg.StartDown {
			s.closeClient()
			return err
		}
		s.log.Warn("shard unreachable at start; will keep trying", "url", redactURL(s.cfg.URL), "err", err)
	} else {
		s.log.Info("shard connected", "url", redactURL(s.cfg.URL))
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.started = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.healthLoop(loopCtx)
	}()
	return nil
}

// closeClient closes and forgets the client, if any.
func (s *Shard) closeClient() {
	if b := s.client.Swap(nil); b != nil {
		b.c.Close()
	}
}

// connect creates the client if there is none yet, and loads the script.
// It records the outcome in the health state.
func (s *Shard) connect(ctx context.Context) error {
	if s.client.Load() == nil {
		c, err := rueidis.NewClient(s.opt)
		if err != nil {
			err = &core.ShardError{Shard: s.name, Err: downError(err)}
			s.setHealth(err)
			return err
		}
		if !s.client.CompareAndSwap(nil, &clientBox{c}) {
			c.Close()
		}
	}
	if err := s.loadScript(ctx); err != nil {
		s.setHealth(err)
		return err
	}
	if s.cfg.Functions {
		if err := s.loadLibrary(ctx); err != nil {
			s.setHealth(err)
			return err
		}
	}
	s.setHealth(nil)
	return nil
}

// loadLibrary loads the function library (FUNCTION LOAD; one already there
// under its versioned name is the same code) and turns FCALL on, or off
// when the server cannot take it: Redis before 7, or an ACL that forbids
// FUNCTION. Only a connection failure is an error.
func (s *Shard) loadLibrary(ctx context.Context) error {
	c, err := s.getClient()
	if err != nil {
		return err
	}
	_, err, down := s.classify(c.Do(ctx, c.B().FunctionLoad().FunctionCode(s.library).Build()))
	var se *core.ScriptError
	switch {
	case err == nil || errors.As(err, &se) && strings.Contains(se.Text, "already exists"):
		if !s.useFn.Swap(true) {
			s.log.Debug("calling the qless function library", "function", s.fn)
		}
		return nil
	case down || !errors.As(err, &se):
		return err
	}
	if s.useFn.Swap(false) || !s.fnRefused.Swap(true) {
		s.log.Info("shard does not take the qless function library; calling the script", "err", se.Text)
	}
	return nil
}

// loadScript runs SCRIPT LOAD and checks the SHA the server computed.
func (s *Shard) loadScript(ctx context.Context) error {
	c, err := s.getClient()
	if err != nil {
		return err
	}
	reply, err, _ := s.classify(c.Do(ctx, c.B().ScriptLoad().Script(s.script).Build()))
	if err != nil {
		return err
	}
	if reply.Type != core.ReplyString || reply.Str != s.sha {
		return &core.ShardError{Shard: s.name, Err: fmt.Errorf("SCRIPT LOAD returned %s, want %s", reply, s.sha)}
	}
	return nil
}

// getClient returns the client, or the error a call gets without one.
func (s *Shard) getClient() (rueidis.Client, error) {
	if s.isStopped() {
		return nil, &core.ShardError{Shard: s.name, Err: core.ErrStopped}
	}
	b := s.client.Load()
	if b == nil {
		err := s.LastError()
		if err == nil {
			return nil, &core.ShardError{Shard: s.name, Err: fmt.Errorf("%w: not connected", core.ErrShardDown)}
		}
		var se *core.ShardError
		if errors.As(err, &se) && errors.Is(err, core.ErrShardDown) {
			return nil, se
		}
		return nil, &core.ShardError{Shard: s.name, Err: downError(err)}
	}
	return b.c, nil
}

// Stop ends the health loop, makes Subscribe return and closes the
// connections, waiting for calls in flight (bounded by ctx). Later calls fail
// with core.ErrStopped. Idempotent, and safe before Start.
func (s *Shard) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	close(s.done)
	cancel := s.cancel
	s.mu.Unlock()

	if cancel != nil {
		cancel()
	}
	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		s.mu.Lock()
		starting := s.starting
		s.mu.Unlock()
		if !starting { // else Start closes it when its connect returns
			s.closeClient()
		}
		close(finished)
	}()
	select {
	case <-finished:
		s.log.Info("shard stopped")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shard %s: stop: %w", s.name, ctx.Err())
	}
}

// Call runs one qless command on the shard (CallArgs of cmd, now and args).
// See the package documentation for the reply and the errors.
func (s *Shard) Call(ctx context.Context, cmd, now string, args ...string) (core.Reply, error) {
	argv := make([]string, 0, 2+len(args))
	argv = append(argv, cmd, now)
	argv = append(argv, args...)
	return s.CallArgs(ctx, argv...)
}

// CallArgs runs the qless script with exactly this argument vector
// (normally command, now, arguments). A RESP front end uses it to forward an
// EVALSHA of the qless script as the client sent it, even without a command
// or a time, so that the script produces its own error.
func (s *Shard) CallArgs(ctx context.Context, argv ...string) (core.Reply, error) {
	c, err := s.getClient()
	if err != nil {
		return core.Reply{}, err
	}
	if s.durable(argv) {
		return s.callDurable(ctx, c, argv)
	}
	return s.callScript(ctx, c, argv, func(call rueidis.Completed) rueidis.RedisResult { return c.Do(ctx, call) })
}

// callScript runs the qless script on c through send: FCALL of the
// function library where the server took it, else EVALSHA. A server that
// lost the library or the script (restarted empty, FUNCTION or SCRIPT
// FLUSH) gets it again and the call is sent once more (it did not run);
// errors read as the script's under EVALSHA.
func (s *Shard) callScript(ctx context.Context, c rueidis.Client, argv []string, send func(rueidis.Completed) rueidis.RedisResult) (core.Reply, error) {
	for attempt := 0; ; attempt++ {
		fn := s.useFn.Load()
		var call rueidis.Completed
		if fn {
			call = c.B().Fcall().Function(s.fn).Numkeys(0).Arg(argv...).Build()
		} else {
			call = c.B().Evalsha().Sha1(s.sha).Numkeys(0).Arg(argv...).Build()
		}
		res := send(call)
		if re, ok := rueidis.IsRedisErr(res.Error()); ok && attempt < 2 {
			// (Two reloads at most: a library refused on the reload sends
			// the call by EVALSHA, which may find the script gone too.)
			var err error
			switch {
			case fn && lua.IsNoFunction(re.Error()):
				err = s.loadLibrary(ctx)
			case !fn && re.IsNoScript():
				err = s.loadScript(ctx)
			default:
				return s.scriptResult(res, fn)
			}
			if err != nil {
				return core.Reply{}, err
			}
			continue
		}
		return s.scriptResult(res, fn)
	}
}

// scriptResult classifies a script call's result; an FCALL's error texts
// are rewritten to EVALSHA's.
func (s *Shard) scriptResult(res rueidis.RedisResult, fn bool) (core.Reply, error) {
	reply, err := s.result(res)
	var se *core.ScriptError
	if fn && errors.As(err, &se) {
		err = parseScriptError(lua.FromLibraryError(se.Text))
	}
	return reply, err
}

// result classifies a result and feeds connection failures to the health
// state, so that Healthy turns false without waiting for the next PING.
func (s *Shard) result(res rueidis.RedisResult) (core.Reply, error) {
	reply, err, down := s.classify(res)
	if down {
		s.setHealth(err)
	}
	return reply, err
}

// Do runs one raw Redis command (name first) and returns its reply. The
// router uses it for the few read-only key commands qless clients issue
// (ZCARD, ZSCORE, ...); choosing which commands are allowed is the caller's
// job. Subscribe commands are refused. The reply must be a string, an
// integer, nil or a flat array of strings and integers (integers in an
// array become their decimal text); other shapes give a *core.ShardError.
func (s *Shard) Do(ctx context.Context, args ...string) (core.Reply, error) {
	if len(args) == 0 || args[0] == "" {
		return core.Reply{}, fmt.Errorf("shard %s: Do: no command", s.name)
	}
	if strings.HasSuffix(strings.ToUpper(args[0]), "SUBSCRIBE") {
		return core.Reply{}, fmt.Errorf("shard %s: Do: %s is not allowed; use Subscribe", s.name, args[0])
	}
	c, err := s.getClient()
	if err != nil {
		return core.Reply{}, err
	}
	return s.result(c.Do(ctx, c.B().Arbitrary(args[0]).Args(args[1:]...).Build()))
}

// Publish publishes message on channel of this shard.
func (s *Shard) Publish(ctx context.Context, channel, message string) error {
	c, err := s.getClient()
	if err != nil {
		return err
	}
	_, err = s.result(c.Do(ctx, c.B().Publish().Channel(channel).Message(message).Build()))
	return err
}

// FlushDB deletes every key of the shard's database (the script stays
// loaded).
func (s *Shard) FlushDB(ctx context.Context) error {
	c, err := s.getClient()
	if err != nil {
		return err
	}
	_, err = s.result(c.Do(ctx, c.B().Flushdb().Build()))
	return err
}
