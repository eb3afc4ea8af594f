package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/qless-router/qless-router/core"
)

// Server serves the JSON API, the dashboard, /healthz and /metrics of one
// router. Create it with New; Start listens, Stop shuts down. Handler gives
// the handler alone (tests). All methods are safe for concurrent use.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger
	clock   core.Clock
	pages   map[string]*template.Template
	metrics *requestMetrics
	handler http.Handler

	mu      sync.Mutex
	srv     *http.Server  // guarded by mu; nil before Start
	addr    net.Addr      // guarded by mu
	started bool          // guarded by mu
	stopped bool          // guarded by mu
	done    chan struct{} // guarded by mu; closed when Serve returns
}

// New checks cfg and builds a Server over backend. It does no I/O.
func New(cfg Config, backend Backend) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if backend == nil {
		return nil, errors.New("web: New: backend is nil")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	clock := cfg.Clock
	if clock == nil {
		clock = core.RealClock()
	}
	s := &Server{
		cfg:     cfg,
		backend: backend,
		log:     logger.With("component", "web"),
		clock:   clock,
		metrics: newRequestMetrics(),
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	s.handler = s.routes()
	return s, nil
}

// Handler returns the server's HTTP handler (every route, authentication
// and request metrics), for tests and for mounting in another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on Config.Addr and serves in the background until Stop.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return core.ErrStopped
	}
	if s.started {
		return errors.New("web: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("web: listen on %s: %w", s.cfg.Addr, err)
	}
	s.started = true
	s.addr = ln.Addr()
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.done = make(chan struct{})
	srv, done := s.srv, s.done
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http serve", "err", err)
		}
	}()
	s.log.Info("web listening", "addr", s.addr.String())
	return nil
}

// Addr returns the address the server listens on, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop shuts the server down gracefully: it stops listening and waits for
// the requests in flight until ctx ends, then closes what is left.
// Idempotent and safe before Start.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("web: stop: %w", err)
	}
	<-done
	return err
}

// routes builds the handler: the mux of every route inside the
// authentication and request-counting middleware.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()

	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler()))

	mux.HandleFunc("GET /api/cluster", s.api(s.apiCluster))
	mux.HandleFunc("GET /api/locate", s.api(s.apiLocate))
	mux.HandleFunc("GET /api/queues", s.api(s.apiQueues))
	mux.HandleFunc("GET /api/queues/{q}", s.api(s.apiQueue))
	mux.HandleFunc("POST /api/queues/{q}/pause", s.api(s.apiPause))
	mux.HandleFunc("POST /api/queues/{q}/unpause", s.api(s.apiUnpause))
	mux.HandleFunc("GET /api/jobs/{jid}", s.api(s.apiJob))
	mux.HandleFunc("POST /api/jobs/{jid}/cancel", s.api(s.apiCancel))
	mux.HandleFunc("POST /api/jobs/{jid}/track", s.api(s.apiTrack))
	mux.HandleFunc("POST /api/jobs/{jid}/untrack", s.api(s.apiUntrack))
	mux.HandleFunc("POST /api/jobs/{jid}/priority", s.api(s.apiPriority))
	mux.HandleFunc("GET /api/completed", s.api(s.apiCompleted))
	mux.HandleFunc("GET /api/failed", s.api(s.apiFailed))
	mux.HandleFunc("GET /api/failed/{group}", s.api(s.apiFailedGroup))
	mux.HandleFunc("POST /api/failed/{group}/unfail", s.api(s.apiUnfail))
	mux.HandleFunc("GET /api/workers", s.api(s.apiWorkers))
	mux.HandleFunc("GET /api/workers/{name}", s.api(s.apiWorker))
	mux.HandleFunc("GET /api/tags/top", s.api(s.apiTopTags))
	mux.HandleFunc("GET /api/tags/{tag}", s.api(s.apiTag))
	mux.HandleFunc("GET /api/tracked", s.api(s.apiTracked))
	mux.HandleFunc("GET /api/config", s.api(s.apiConfig))

	mux.HandleFunc("GET /{$}", s.page(s.pageOverview))
	mux.HandleFunc("GET /queues/{q}", s.page(s.pageQueue))
	mux.HandleFunc("GET /jobs", s.handleFindJob)
	mux.HandleFunc("GET /jobs/{jid}", s.page(s.pageJob))
	mux.HandleFunc("GET /completed", s.page(s.pageCompleted))
	mux.HandleFunc("GET /failed", s.page(s.pageFailed))
	mux.HandleFunc("GET /failed/{group}", s.page(s.pageFailedGroup))
	mux.HandleFunc("GET /workers", s.page(s.pageWorkers))
	mux.HandleFunc("GET /workers/{name}", s.page(s.pageWorker))
	mux.HandleFunc("GET /tags", s.page(s.pageTags))
	mux.HandleFunc("GET /tags/{tag}", s.page(s.pageTag))
	mux.HandleFunc("GET /tracked", s.page(s.pageTracked))
	mux.HandleFunc("GET /config", s.page(s.pageConfig))

	// Browsers' cross-site POSTs are refused (Sec-Fetch-Site and Origin
	// checks), so that a page elsewhere cannot drive the actions of a
	// dashboard user; clients that send neither header (curl, scripts) pass.
	cop := http.NewCrossOriginProtection()
	return s.instrument(mux, cop.Handler(s.authenticate(apiFallback(mux))))
}

// apiFallback answers an /api request that matches no route (404) or no
// method of its route (405) with a JSON error, as every other API reply.
func apiFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			mux.ServeHTTP(w, r)
			return
		}
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// Let the mux's own handler decide the status (and Allow header),
		// then replace its text body with JSON.
		cw := &captureWriter{header: make(http.Header)}
		h.ServeHTTP(cw, r)
		if allow := cw.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		if loc := cw.header.Get("Location"); loc != "" {
			w.Header().Set("Location", loc)
		}
		status := cw.status
		if status == 0 {
			status = http.StatusNotFound
		}
		msg := "no such API route"
		if status == http.StatusMethodNotAllowed {
			msg = "method " + r.Method + " not allowed"
		}
		writeJSON(w, status, failure{Error: msg})
	})
}

// captureWriter records the status and headers a handler writes, and
// drops its body.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(b), nil
}
func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

// tokenCookie is the cookie that carries the token for the dashboard.
const tokenCookie = "qless_token"

// openPath reports whether a path needs no token.
func openPath(p string) bool {
	return p == "/healthz" || strings.HasPrefix(p, "/static/")
}

// authenticate checks Config.Token: a Bearer header, ?token= or the cookie.
// A request authenticated with ?token= gets the cookie, so that the
// dashboard's links keep working.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return next
	}
	want := []byte(s.cfg.Token)
	ok := func(got string) bool {
		return got != "" && subtle.ConstantTimeCompare([]byte(got), want) == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if openPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, tok, _ := strings.Cut(h, " ")
			if strings.EqualFold(scheme, "Bearer") && ok(strings.TrimSpace(tok)) {
				next.ServeHTTP(w, r)
				return
			}
		}
		if ok(r.URL.Query().Get("token")) {
			if !strings.HasPrefix(r.URL.Path, "/api/") {
				http.SetCookie(w, &http.Cookie{
					Name: tokenCookie, Value: s.cfg.Token, Path: "/",
					HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
				})
			}
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(tokenCookie); err == nil && ok(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="qless-router"`)
		if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/metrics" {
			writeJSON(w, http.StatusUnauthorized, failure{Error: "missing or wrong token"})
			return
		}
		http.Error(w, "401 unauthorized: missing or wrong token (use ?token=)", http.StatusUnauthorized)
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// instrument counts requests by route pattern and status, and logs them.
// A request refused before the mux ran (authentication) is counted under
// the pattern it would have matched.
func (s *Server) instrument(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			_, route = mux.Handler(r)
		}
		if route == "" {
			route = "unmatched"
		}
		s.metrics.observe(route, rec.status, time.Since(start))
		s.log.Debug("http request", "method", r.Method, "path", r.URL.Path, "route", route,
			"status", rec.status, "duration", time.Since(start))
	})
}
