package core

import (
	"context"
	"testing"
	"time"
)

var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func recv(t *testing.T, c <-chan time.Time) (time.Time, bool) {
	t.Helper()
	select {
	case v := <-c:
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestFakeClockTimer(t *testing.T) {
	t.Parallel()
	f := NewFakeClock(epoch)
	tm := f.NewTimer(10 * time.Second)
	if f.Timers() != 1 {
		t.Fatalf("Timers() = %d, want 1", f.Timers())
	}
	f.Advance(9 * time.Second)
	if _, ok := recv(t, tm.C()); ok {
		t.Fatal("timer fired before its deadline")
	}
	f.Advance(time.Second)
	got, ok := recv(t, tm.C())
	if !ok || !got.Equal(epoch.Add(10*time.Second)) {
		t.Fatalf("timer fired %v, %v; want %v", got, ok, epoch.Add(10*time.Second))
	}
	if f.Timers() != 0 {
		t.Fatalf("Timers() after firing = %d, want 0", f.Timers())
	}
	if tm.Stop() {
		t.Error("Stop() of a fired timer = true, want false")
	}
	if tm.Reset(time.Second) {
		t.Error("Reset() of a fired timer = true, want false")
	}
	if !tm.Stop() {
		t.Error("Stop() of a reset timer = false, want true")
	}
	f.Advance(time.Hour)
	if _, ok := recv(t, tm.C()); ok {
		t.Fatal("stopped timer fired")
	}
}

func TestFakeClockTimerZero(t *testing.T) {
	t.Parallel()
	f := NewFakeClock(epoch)
	if _, ok := recv(t, f.After(0)); !ok {
		t.Fatal("After(0) did not fire at once")
	}
	if _, ok := recv(t, f.After(-time.Second)); !ok {
		t.Fatal("After(-1s) did not fire at once")
	}
}

func TestFakeClockOrderAndNow(t *testing.T) {
	t.Parallel()
	f := NewFakeClock(epoch)
	a := f.NewTimer(3 * time.Second)
	b := f.NewTimer(1 * time.Second)
	f.Set(epoch.Add(5 * time.Second))
	ta, _ := recv(t, a.C())
	tb, _ := recv(t, b.C())
	if !tb.Equal(epoch.Add(time.Second)) || !ta.Equal(epoch.Add(3*time.Second)) {
		t.Fatalf("fired at a=%v b=%v, want their deadlines", ta, tb)
	}
	if got := f.Now(); !got.Equal(epoch.Add(5 * time.Second)) {
		t.Fatalf("Now() = %v, want %v", got, epoch.Add(5*time.Second))
	}
	// Moving back fires nothing and is allowed.
	c := f.NewTimer(time.Second)
	f.Set(epoch)
	if _, ok := recv(t, c.C()); ok {
		t.Fatal("timer fired on a backward Set")
	}
}

func TestFakeClockTicker(t *testing.T) {
	t.Parallel()
	f := NewFakeClock(epoch)
	tk := f.NewTicker(time.Second)
	for i := 1; i <= 3; i++ {
		f.Advance(time.Second)
		got, ok := recv(t, tk.C())
		if !ok || !got.Equal(epoch.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("tick %d = %v, %v", i, got, ok)
		}
	}
	// A long advance delivers one tick (the rest are dropped) and keeps the
	// phase.
	f.Advance(10 * time.Second)
	if _, ok := recv(t, tk.C()); !ok {
		t.Fatal("no tick after a long advance")
	}
	if _, ok := recv(t, tk.C()); ok {
		t.Fatal("two ticks buffered")
	}
	if d := f.Deadlines(); len(d) != 1 || !d[0].Equal(epoch.Add(14*time.Second)) {
		t.Fatalf("Deadlines() = %v, want [%v]", d, epoch.Add(14*time.Second))
	}
	tk.Reset(5 * time.Second)
	f.Advance(4 * time.Second)
	if _, ok := recv(t, tk.C()); ok {
		t.Fatal("reset ticker fired early")
	}
	f.Advance(time.Second)
	if _, ok := recv(t, tk.C()); !ok {
		t.Fatal("reset ticker did not fire")
	}
	tk.Stop()
	f.Advance(time.Minute)
	if _, ok := recv(t, tk.C()); ok {
		t.Fatal("stopped ticker fired")
	}
	if f.Timers() != 0 {
		t.Fatalf("Timers() = %d after Stop, want 0", f.Timers())
	}
}

func TestFakeClockWaitForTimers(t *testing.T) {
	t.Parallel()
	f := NewFakeClock(epoch)
	done := make(chan time.Time)
	go func() { done <- <-f.After(time.Minute) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.WaitForTimers(ctx, 1); err != nil {
		t.Fatalf("WaitForTimers: %v", err)
	}
	f.Advance(time.Minute)
	select {
	case got := <-done:
		if !got.Equal(epoch.Add(time.Minute)) {
			t.Fatalf("got %v, want %v", got, epoch.Add(time.Minute))
		}
	case <-ctx.Done():
		t.Fatal("goroutine did not wake")
	}
	short, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := f.WaitForTimers(short, 5); err == nil {
		t.Fatal("WaitForTimers on a done context = nil, want error")
	}
}

func TestRealClock(t *testing.T) {
	t.Parallel()
	c := RealClock()
	start := c.Now()
	tm := c.NewTimer(time.Millisecond)
	<-tm.C()
	tk := c.NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
	<-c.After(time.Millisecond)
	if !c.Now().After(start) {
		t.Fatal("real clock did not move")
	}
}
