package proccpu

import (
	"testing"
	"time"
)

// Burning CPU shows in Used, which never goes backwards.
func TestUsedGrows(t *testing.T) {
	u0, s0, ok := Used()
	if !ok {
		t.Fatal("Used() not available on this platform")
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) { // bounded spin: 50 ms of CPU
		x++
	}
	u1, s1, _ := Used()
	if u1+s1 <= u0+s0 || u1 < u0 || s1 < s0 {
		t.Errorf("Used() went from %v+%v to %v+%v over %d iterations of work", u0, s0, u1, s1, x)
	}
}
