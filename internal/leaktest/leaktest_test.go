package leaktest

import (
	"strings"
	"testing"
	"time"
)

func leakyLoop(started chan<- struct{}, stop <-chan struct{}) {
	close(started)
	<-stop
}

func TestCheckFindsAndClears(t *testing.T) {
	started, stop := make(chan struct{}), make(chan struct{})
	go leakyLoop(started, stop)
	<-started
	left := Check(50*time.Millisecond, "leaktest.leakyLoop")
	if !strings.Contains(left, "leaktest.leakyLoop") {
		t.Fatalf("Check did not report the running goroutine; got %q", left)
	}
	close(stop)
	if left := Check(5*time.Second, "leaktest.leakyLoop"); left != "" {
		t.Fatalf("Check reported a goroutine that ended:\n%s", left)
	}
	if got := Verify(3, "anything"); got != 3 {
		t.Fatalf("Verify(3) = %d, want the failing code kept", got)
	}
}
