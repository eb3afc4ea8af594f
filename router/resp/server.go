package resp

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qless-router/qless-router/core"
	"github.com/tidwall/redcon"
)

// Server is the RESP front end of a router: it speaks the Redis protocol
// (RESP2) so that every stock qless client works through it, and serves the
// qless commands from a Backend. See the package documentation for the
// command set. A Server is safe for concurrent use; it is started once.
type Server struct {
	cfg      Config
	backend  Backend
	log      *slog.Logger
	clock    core.Clock
	commands map[string]*command
	ownSHA   string

	// scripts is the set of known script SHAs (lower-case hex), replaced
	// whole on every change (copy on write) so that EVALSHA reads it
	// without a lock. scriptsMu serialises writers.
	scripts   atomic.Pointer[map[string]struct{}]
	scriptsMu sync.Mutex

	ps      redcon.PubSub
	events  chan event   // messages from Backend.Events waiting for delivery
	dropped atomic.Int64 // messages dropped because events was full

	started time.Time
	nextID  atomic.Int64

	mu       sync.Mutex
	state    int                   // guarded by mu: stateNew, stateRunning, stateStopped
	ln       net.Listener          // guarded by mu
	srv      *redcon.Server        // guarded by mu
	sessions map[*session]struct{} // guarded by mu: every open connection
	idle     chan struct{}         // guarded by mu: closed when sessions empties during Stop
	base     context.Context       // parent of every connection's context
	cancel   context.CancelFunc
	served   chan struct{} // closed when the accept loop has returned
	evMu     sync.Mutex    // guards stopEv
	stopEv   func()        // guarded by evMu; unregisters from Backend.Events (nil until a client subscribes)
	evStop   chan struct{} // closed to stop the event goroutine
	evDone   chan struct{} // closed when the event goroutine has returned
}

const (
	stateNew = iota
	stateRunning
	stateStopped
)

// event is one message waiting for delivery, or (pause != nil) a point in
// the stream where the delivery goroutine stops until a subscription is in
// place (see subscribe).
type event struct {
	channel, message string
	pause            *pausePoint
}

// New returns a Server for cfg that serves from backend. It does not listen
// until Start.
func New(cfg Config, backend Backend) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if backend == nil {
		return nil, errors.New("resp: backend is nil")
	}
	s := &Server{
		cfg:      cfg,
		backend:  backend,
		log:      cfg.Logger,
		clock:    cfg.Clock,
		sessions: make(map[*session]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.log = s.log.With("component", "resp")
	if s.clock == nil {
		s.clock = core.RealClock()
	}
	s.commands = newCommandTable()
	known := map[string]struct{}{}
	if cfg.Script != "" {
		s.ownSHA = sha1Hex(cfg.Script)
		known[s.ownSHA] = struct{}{}
	}
	s.scripts.Store(&known)
	return s, nil
}

// Start listens on Config.Addr and serves connections in the background
// until Stop. It returns once the listener is bound.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateNew {
		return errors.New("resp: server already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("resp: listen %s: %w", s.cfg.Addr, err)
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.ln = ln
	s.state = stateRunning
	s.started = s.clock.Now()
	s.base, s.cancel = context.WithCancel(context.WithoutCancel(ctx))

	s.events = make(chan event, s.cfg.EventBuffer)
	s.evStop = make(chan struct{})
	s.evDone = make(chan struct{})
	go s.deliver()
	// The feed of Backend.Events is registered when a client first
	// subscribes (feed): a router then subscribes to the shards' events
	// only if some client listens through it.

	s.srv = redcon.NewServerNetwork("tcp", ln.Addr().String(), s.serveRESP, s.accept, s.closed)
	if s.cfg.IdleTimeout > 0 {
		s.srv.SetIdleClose(s.cfg.IdleTimeout)
	}
	s.srv.AcceptError = func(err error) { s.log.Warn("accept", "err", err) }
	s.served = make(chan struct{})
	srv := s.srv
	go func() {
		defer close(s.served)
		if err := srv.Serve(ln); err != nil {
			s.log.Error("serve", "err", err)
		}
	}()
	s.log.Info("listening", "addr", ln.Addr().String())
	return nil
}

// Addr returns the address the server listens on ("" before Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop closes the listener and every connection (subscribers included),
// cancels the commands in flight and waits for the connections' goroutines
// to end, or for ctx. It is idempotent and safe before Start.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateRunning {
		s.state = stateStopped
		s.mu.Unlock()
		return nil
	}
	s.state = stateStopped
	ln, served := s.ln, s.served
	s.mu.Unlock()

	// Front door first: no new connections; the accept loop then closes the
	// connections it serves.
	ln.Close()
	s.cancel()
	var errs []error
	select {
	case <-served:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("resp: stop: waiting for the accept loop: %w", ctx.Err()))
	}

	// Subscribed connections were detached from redcon: close them here
	// (closing the others again is harmless).
	s.mu.Lock()
	for ss := range s.sessions {
		ss.netConn.Close()
	}
	var idle chan struct{}
	if len(s.sessions) > 0 {
		s.idle = make(chan struct{})
		idle = s.idle
	}
	s.mu.Unlock()

	s.evMu.Lock()
	if s.stopEv != nil {
		s.stopEv()
	}
	s.stopEv = func() {} // (a subscribe racing the stop registers nothing more)
	s.evMu.Unlock()
	close(s.evStop)
	if idle != nil {
		select {
		case <-idle:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("resp: stop: waiting for connections: %w", ctx.Err()))
		}
	}
	select {
	case <-s.evDone:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("resp: stop: waiting for event delivery: %w", ctx.Err()))
	}
	err := errors.Join(errs...)
	s.log.Info("stopped")
	return err
}

// accept registers a new connection (redcon's accept callback, called from
// the accept loop).
func (s *Server) accept(conn redcon.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateRunning {
		return false
	}
	ctx, cancel := context.WithCancel(s.base)
	ss := &session{
		ctx:     ctx,
		cancel:  cancel,
		id:      s.nextID.Add(1),
		netConn: conn.NetConn(),
		authed:  s.cfg.Password == "",
	}
	conn.SetContext(ss)
	s.sessions[ss] = struct{}{}
	return true
}

// closed is redcon's callback when a connection's goroutine ends, also when
// the connection was detached for pub/sub (then the detached connection
// unregisters itself when it closes).
func (s *Server) closed(conn redcon.Conn, err error) {
	ss, ok := conn.Context().(*session)
	if !ok || ss.detached.Load() {
		return
	}
	s.unregister(ss)
}

func (s *Server) unregister(ss *session) {
	ss.cancel()
	s.releaseWants(ss)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, ss)
	if len(s.sessions) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// subscribers counts the connections in subscribed mode.
func (s *Server) subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for ss := range s.sessions {
		if ss.detached.Load() {
			n++
		}
	}
	return n
}

// connectedClients counts the open connections.
func (s *Server) connectedClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// serveRESP is redcon's handler: one command of one connection, called on
// that connection's goroutine.
func (s *Server) serveRESP(conn redcon.Conn, cmd redcon.Command) {
	ss, ok := conn.Context().(*session)
	if !ok {
		conn.WriteError("ERR internal: connection without session")
		conn.Close()
		return
	}
	if s.servePipeline(conn, ss, cmd) {
		return
	}
	switch s.dispatch(conn, ss, cmd.Args) {
	case actQuit:
		conn.Close()
	case actSubscribe:
		s.subscribe(conn, ss, false, cmd.Args[1:])
	case actPsubscribe:
		s.subscribe(conn, ss, true, cmd.Args[1:])
	}
}

func sha1Hex(text string) string {
	sum := sha1.Sum([]byte(text))
	return hex.EncodeToString(sum[:])
}
