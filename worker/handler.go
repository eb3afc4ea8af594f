package worker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/qless-router/qless-router/client"
)

// Handler runs one job. It should return when ctx ends: the worker cancels
// ctx when the job's lock is lost, when the job is killed and when the
// worker stops (context.Cause says which). A nil return completes the job;
// an error fails it (see the package documentation).
type Handler func(ctx context.Context, job *client.Job) error

// Middleware wraps a Handler: it may act before and after calling next,
// change the error, or not call next at all.
type Middleware func(next Handler) Handler

// ErrSettled, returned (or wrapped) by a handler, says that the handler
// already settled the job itself (completed it, maybe into another queue,
// failed, retried or requeued it), so the worker neither completes nor
// fails it.
var ErrSettled = errors.New("worker: job settled by its handler")

// Grouper is implemented by errors that choose their own failure group:
// the job fails in group "<class>:<Group()>".
type Grouper interface {
	Group() string
}

// Group returns the failure group of a job of class klass that failed with
// err: "<klass>:<g>" where g is the Group() of the first error in err's
// chain that implements Grouper, else the Go type of err, looking through
// fmt.Errorf's wrapping (e.g. "Mailer:*net.OpError").
func Group(klass string, err error) string {
	var g Grouper
	if errors.As(err, &g) {
		return klass + ":" + g.Group()
	}
	return klass + ":" + errorType(err)
}

// errorType names the type of err, skipping the wrappers fmt.Errorf makes.
func errorType(err error) string {
	for err != nil {
		t := reflect.TypeOf(err)
		if t.PkgPath() == "fmt" || (t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "fmt") {
			switch u := err.(type) {
			case interface{ Unwrap() error }:
				if next := u.Unwrap(); next != nil {
					err = next
					continue
				}
			case interface{ Unwrap() []error }:
				if list := u.Unwrap(); len(list) > 0 && list[0] != nil {
					err = list[0]
					continue
				}
			}
		}
		return t.String()
	}
	return "<nil>"
}

// Registry maps job classes to handlers. The zero value is not usable; use
// NewRegistry. Safe for concurrent use: handlers may be added while a
// worker runs.
type Registry struct {
	mu       sync.RWMutex
	mw       []Middleware     // guarded by mu; worker-wide, outermost first
	classes  map[string]entry // guarded by mu
	fallback *entry           // guarded by mu
}

// entry is one registration: the handler and its own middleware, plus the
// two chains built from them.
type entry struct {
	h  Handler
	mw []Middleware
	// inner is the handler wrapped in the class's middleware only.
	inner Handler
	// full is inner wrapped in the worker-wide middleware too.
	full Handler
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{classes: make(map[string]entry)}
}

// Handle registers h for jobs of class klass, wrapped in mw (outermost
// first). A second Handle of the same class replaces the first.
func (r *Registry) Handle(klass string, h Handler, mw ...Middleware) {
	if h == nil {
		panic("worker: Handle with a nil handler")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.classes[klass] = r.build(h, mw)
}

// HandleAny registers h for the jobs of every class that has no handler of
// its own.
func (r *Registry) HandleAny(h Handler, mw ...Middleware) {
	if h == nil {
		panic("worker: HandleAny with a nil handler")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.build(h, mw)
	r.fallback = &e
}

// Use adds worker-wide middleware, around every class's handler and
// middleware; middleware added earlier runs outermost.
func (r *Registry) Use(mw ...Middleware) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mw = append(r.mw, mw...)
	for k, e := range r.classes {
		r.classes[k] = r.build(e.h, e.mw)
	}
	if r.fallback != nil {
		e := r.build(r.fallback.h, r.fallback.mw)
		r.fallback = &e
	}
}

// build makes the chains of one registration. Callers hold mu.
func (r *Registry) build(h Handler, mw []Middleware) entry {
	e := entry{h: h, mw: append([]Middleware(nil), mw...)}
	e.inner = chain(h, e.mw)
	e.full = chain(e.inner, r.mw)
	return e
}

func chain(h Handler, mw []Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// lookup returns the registration for klass.
func (r *Registry) lookup(klass string) (entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.classes[klass]; ok {
		return e, true
	}
	if r.fallback != nil {
		return *r.fallback, true
	}
	return entry{}, false
}

// wrapOuter wraps h in the worker-wide middleware only.
func (r *Registry) wrapOuter(h Handler) Handler {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return chain(h, r.mw)
}

// NoHandlerError is the error of a job whose class has no handler. Its
// group is "no-handler".
type NoHandlerError struct{ Klass string }

func (e *NoHandlerError) Error() string {
	return fmt.Sprintf("worker: no handler for job class %q", e.Klass)
}

// Group is "no-handler".
func (e *NoHandlerError) Group() string { return "no-handler" }
