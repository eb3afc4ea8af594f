package core

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock is the source of time for background work (couriers, migration,
// reconciler, health checks). Production code uses RealClock; tests use a
// FakeClock and advance it, so that nothing waits by sleeping. Every Clock is
// safe for concurrent use.
//
// Clock never provides the `now` of a qless call: that comes from the client
// (DESIGN section 8).
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once, after d.
	NewTimer(d time.Duration) Timer
	// NewTicker returns a ticker that fires every d (d > 0). Like
	// time.Ticker, it drops ticks for a slow receiver.
	NewTicker(d time.Duration) Ticker
	// After is NewTimer(d).C().
	After(d time.Duration) <-chan time.Time
}

// Timer is a one-shot timer of a Clock, with the semantics of time.Timer
// (Go 1.23+: Stop and Reset discard a pending value).
type Timer interface {
	// C delivers the time once the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was active.
	Stop() bool
	// Reset changes the timer to fire after d; it reports whether it was
	// active.
	Reset(d time.Duration) bool
}

// Ticker is a periodic ticker of a Clock.
type Ticker interface {
	// C delivers a time at each tick (at most one is buffered).
	C() <-chan time.Time
	// Stop turns the ticker off.
	Stop()
	// Reset stops the ticker and restarts it with period d.
	Reset(d time.Duration)
}

// RealClock returns the Clock of the time package.
func RealClock() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) NewTimer(d time.Duration) Timer         { return realTimer{time.NewTimer(d)} }
func (realClock) NewTicker(d time.Duration) Ticker       { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time   { return r.t.C }
func (r realTicker) Stop()                 { r.t.Stop() }
func (r realTicker) Reset(d time.Duration) { r.t.Reset(d) }

// FakeClock is a Clock whose time moves only when a test calls Advance or
// Set. Timers and tickers whose deadline is reached fire during that call,
// in deadline order, with the clock reading their deadline as they fire.
// Sends never block: each channel buffers one value, and a tick that finds
// it full is dropped (as with time.Ticker). Safe for concurrent use.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time     // guarded by mu
	waiters []*fakeTimer  // guarded by mu; active timers and tickers
	changed chan struct{} // guarded by mu; closed and replaced when waiters change
}

// NewFakeClock returns a FakeClock reading start.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start, changed: make(chan struct{})}
}

var _ Clock = (*FakeClock)(nil)

type fakeTimer struct {
	clock    *FakeClock
	c        chan time.Time
	deadline time.Time     // guarded by clock.mu
	period   time.Duration // guarded by clock.mu; 0 for a timer
	active   bool          // guarded by clock.mu
}

// Now returns the fake time.
func (f *FakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer firing when the clock reaches Now()+d. A timer
// with d <= 0 fires at once.
func (f *FakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{clock: f, c: make(chan time.Time, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.arm(t, d, 0)
	return t
}

// After is NewTimer(d).C().
func (f *FakeClock) After(d time.Duration) <-chan time.Time { return f.NewTimer(d).C() }

// NewTicker returns a ticker firing every d of fake time. It panics if
// d <= 0, as time.NewTicker does.
func (f *FakeClock) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("core: non-positive interval for FakeClock.NewTicker")
	}
	t := &fakeTimer{clock: f, c: make(chan time.Time, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.arm(t, d, d)
	return fakeTicker{t}
}

// arm schedules t; the caller holds f.mu.
func (f *FakeClock) arm(t *fakeTimer, d, period time.Duration) {
	t.deadline = f.now.Add(d)
	t.period = period
	if period == 0 && d <= 0 {
		t.active = false
		select {
		case t.c <- f.now:
		default:
		}
		return
	}
	if !t.active {
		t.active = true
		f.waiters = append(f.waiters, t)
	}
	f.notify()
}

// disarm removes t; the caller holds f.mu.
func (f *FakeClock) disarm(t *fakeTimer) bool {
	if !t.active {
		return false
	}
	t.active = false
	for i, w := range f.waiters {
		if w == t {
			f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
			break
		}
	}
	f.notify()
	return true
}

// notify wakes WaitForTimers; the caller holds f.mu.
func (f *FakeClock) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Advance moves the clock forward by d, firing what comes due on the way.
func (f *FakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	target := f.now.Add(d)
	f.mu.Unlock()
	f.Set(target)
}

// Set moves the clock to t, firing every timer and tick due at or before t.
// Moving backward fires nothing.
func (f *FakeClock) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		var next *fakeTimer
		for _, w := range f.waiters {
			if !w.deadline.After(t) && (next == nil || w.deadline.Before(next.deadline)) {
				next = w
			}
		}
		if next == nil {
			break
		}
		if next.deadline.After(f.now) {
			f.now = next.deadline
		}
		select {
		case next.c <- f.now:
		default:
		}
		if next.period > 0 {
			next.deadline = next.deadline.Add(next.period)
		} else {
			f.disarm(next)
		}
	}
	f.now = t
}

// Timers returns the number of active timers and tickers.
func (f *FakeClock) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// Deadlines returns the sorted deadlines of the active timers and tickers.
func (f *FakeClock) Deadlines() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ds := make([]time.Time, len(f.waiters))
	for i, w := range f.waiters {
		ds[i] = w.deadline
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Before(ds[j]) })
	return ds
}

// WaitForTimers blocks until at least n timers or tickers are active, so a
// test can advance the clock only once the goroutine under test is waiting
// on it. It returns ctx.Err() if ctx ends first.
func (f *FakeClock) WaitForTimers(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		ok, ch := len(f.waiters) >= n, f.changed
		f.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) drain() {
	select {
	case <-t.c:
	default:
	}
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	t.drain()
	return t.clock.disarm(t)
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	t.drain()
	was := t.active
	if t.period > 0 {
		// A ticker: Reset(d) restarts it with period d.
		if d <= 0 {
			panic("core: non-positive interval for Ticker.Reset")
		}
		t.clock.arm(t, d, d)
		return was
	}
	if d <= 0 {
		t.clock.disarm(t)
	}
	t.clock.arm(t, d, 0)
	return was
}

// fakeTimer serves as both Timer and Ticker; Ticker's Stop and Reset have no
// results.
type fakeTicker struct{ *fakeTimer }

func (t fakeTicker) Stop()                 { t.fakeTimer.Stop() }
func (t fakeTicker) Reset(d time.Duration) { t.fakeTimer.Reset(d) }
