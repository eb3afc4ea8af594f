package shard

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qless-router/qless-router/internal/redistest"
)

func listen(t *testing.T, s *Shard) (*Listener, *collector) {
	t.Helper()
	c := &collector{}
	lctx, cancel := context.WithCancel(context.Background())
	l, err := s.Listen(lctx, c.add)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-l.Done()
	})
	return l, c
}

func publish(t *testing.T, s *Shard, channel, message string) {
	t.Helper()
	if _, err := s.Do(ctx(t), "PUBLISH", channel, message); err != nil {
		t.Fatal(err)
	}
}

// A Listener gets exactly the channels of its set, each message once,
// whichever way the set changes; Set returns once the additions are in
// place, so a message published after it arrives.
func TestListenerSets(t *testing.T) {
	t.Parallel()
	s := startShard(t, redistest.Start(t).Addr)
	l, c := listen(t, s)
	steps := []struct {
		channels []string
		all      bool
		want     []string // of the messages published on ql:a, ql:b, other:c
	}{
		{[]string{"ql:a"}, false, []string{"ql:a"}},
		{[]string{"ql:a"}, true, []string{"ql:a", "ql:b"}},
		{[]string{"ql:a", "ql:b"}, true, []string{"ql:a", "ql:b"}},
		{[]string{"ql:b"}, false, []string{"ql:b"}},
		{nil, true, []string{"ql:a", "ql:b"}},
		{nil, false, nil},
		{[]string{"ql:a", "other:c"}, false, []string{"ql:a", "other:c"}},
	}
	for i, st := range steps {
		if err := l.Set(ctx(t), st.channels, st.all); err != nil {
			t.Fatalf("step %d: Set: %v", i, err)
		}
		for _, ch := range []string{"ql:a", "ql:b", "other:c"} {
			publish(t, s, ch, "m"+strconv.Itoa(i))
		}
		// A marker on a channel of the set (or a pattern one) closes the step.
		marker := "ql:marker"
		if err := l.Set(ctx(t), append(st.channels, marker), st.all); err != nil {
			t.Fatalf("step %d: Set with marker: %v", i, err)
		}
		publish(t, s, marker, strconv.Itoa(i))
		eventually(t, "marker", func() bool { return c.has(marker + " " + strconv.Itoa(i)) })
		var got []string
		for _, m := range c.get() {
			ch, msg, _ := strings.Cut(m, " ")
			if msg == "m"+strconv.Itoa(i) {
				got = append(got, ch)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Errorf("step %d (%v, all %v): got messages on %v, want %v", i, st.channels, st.all, got, st.want)
		}
	}
}

// While the set switches between the exact channel and the pattern under a
// stream of messages, none is lost or doubled.
func TestListenerSwitchesWithoutGapsOrDuplicates(t *testing.T) {
	t.Parallel()
	s := startShard(t, redistest.Start(t).Addr)
	l, c := listen(t, s)
	if err := l.Set(ctx(t), []string{"ql:a"}, false); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if _, err := s.Do(context.Background(), "PUBLISH", "ql:a", strconv.Itoa(i)); err != nil {
				t.Errorf("publish: %v", err)
				return
			}
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for k := 0; time.Now().Before(deadline); k++ {
		all := k%2 == 0
		channels := []string{"ql:a"}
		if all && k%4 == 0 {
			channels = nil // the pattern alone covers ql:a
		}
		if err := l.Set(ctx(t), channels, all); err != nil {
			t.Fatal(err)
		}
		if c.has("ql:a " + strconv.Itoa(n-1)) {
			break
		}
	}
	wg.Wait()
	if err := l.Set(ctx(t), []string{"ql:a"}, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the last message", func() bool { return c.has("ql:a " + strconv.Itoa(n-1)) })
	got := c.get()
	if len(got) != n {
		t.Fatalf("got %d messages, want %d", len(got), n)
	}
	for i, m := range got {
		if m != "ql:a "+strconv.Itoa(i) {
			t.Fatalf("message %d = %q, want %q (lost, doubled or reordered)", i, m, "ql:a "+strconv.Itoa(i))
		}
	}
}

// After a restart of the server the Listener subscribes its set again.
func TestListenerAfterRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := startShard(t, srv.Addr)
	l, c := listen(t, s)
	if err := l.Set(ctx(t), []string{"ql:a"}, false); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	restart(t, srv.Addr)
	i := 0
	eventually(t, "messages after the restart", func() bool {
		i++
		r, err := s.Do(ctx(t), "PUBLISH", "ql:a", "after-"+strconv.Itoa(i))
		return err == nil && r.Int == 1
	})
	eventually(t, "the message", func() bool { return c.has("ql:a after-" + strconv.Itoa(i)) })
	// A Set made after the restart takes effect on the new connection.
	if err := l.Set(ctx(t), []string{"ql:b"}, false); err != nil {
		t.Fatal(err)
	}
	publish(t, s, "ql:b", "b")
	eventually(t, "ql:b", func() bool { return c.has("ql:b b") })
}

func TestListenBeforeStart(t *testing.T) {
	t.Parallel()
	s := testShard(t, redistest.Start(t).Addr)
	if _, err := s.Listen(ctx(t), func(string, string) {}); err == nil {
		t.Fatal("Listen before Start: no error")
	}
}
