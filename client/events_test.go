package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/client"
)

// eventLog collects what a Listener's handlers receive.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(s string) {
	l.mu.Lock()
	l.events = append(l.events, s)
	l.mu.Unlock()
}

func (l *eventLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

// handlers returns Handlers that record every event as "channel:payload".
func (l *eventLog) handlers(workers ...string) client.Handlers {
	jid := func(name string) func(string) {
		return func(j string) { l.add(name + ":" + j) }
	}
	return client.Handlers{
		OnCanceled: jid("canceled"), OnCompleted: jid("completed"), OnFailed: jid("failed"),
		OnPopped: jid("popped"), OnPut: jid("put"), OnStalled: jid("stalled"),
		OnTrack: jid("track"), OnUntrack: jid("untrack"),
		OnLog: func(e client.LogEvent) {
			l.add(fmt.Sprintf("log:%s %s q=%s to=%s w=%s g=%s", e.Event, e.JID, e.Queue, e.To, e.Worker, e.Group))
		},
		Workers: workers,
		OnWorker: func(e client.LogEvent) {
			l.add(fmt.Sprintf("%s:%s %s", e.Channel, e.Event, e.JID))
		},
	}
}

// waitEvents waits until the log holds want (in order), then compares.
func waitEvents(t *testing.T, l *eventLog, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(l.get()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling the handlers' log with a deadline
	}
	if diff := cmp.Diff(want, l.get()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var log eventLog
	connected := make(chan string, 4)
	h := log.handlers("worker-1")
	h.OnConnect = func(addr string) { connected <- addr }
	l, err := e.c.Listen(e.ctx, h)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer l.Close()
	if got := <-connected; got != e.addr || l.Addr() != e.addr {
		t.Fatalf("OnConnect(%q), Addr() = %q; want %q", got, l.Addr(), e.addr)
	}

	q := e.c.Queue("q")
	must(q.Put(e.ctx, "K", nil, client.WithJID("a")))(t)
	a := must(e.c.Job(e.ctx, "a"))(t)
	ok(t, a.Track(e.ctx))
	must(q.Put(e.ctx, "K", nil, client.WithJID("a")))(t)
	p := must(q.Pop(e.ctx))(t)
	must(p.Complete(e.ctx, client.WithNext("q2")))(t)
	p = must(e.c.Queue("q2").Pop(e.ctx))(t)
	ok(t, p.Fail(e.ctx, "grp", "msg"))
	ok(t, e.c.Cancel(e.ctx, "a"))
	ok(t, e.c.SetConfig(e.ctx, "foo", "bar"))
	ok(t, e.c.UnsetConfig(e.ctx, "foo"))
	waitEvents(t, &log, []string{
		"log:put a q=q to= w= g=",
		"track:a",
		"log:put a q=q to= w= g=",
		"put:a",
		"popped:a",
		"completed:a",
		"log:advanced a q=q to=q2 w= g=",
		"popped:a",
		"log:failed a q= to= w=worker-1 g=grp",
		"failed:a",
		"log:canceled a q=q2 to= w= g=",
		"canceled:a",
		"log:config_set  q= to= w= g=",
		"log:config_unset  q= to= w= g=",
	})
}

func TestWatchWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	got := make(chan client.LogEvent, 10)
	l, err := e.c.WatchWorker(e.ctx, "worker-1", func(ev client.LogEvent) { got <- ev })
	if err != nil {
		t.Fatalf("WatchWorker: %v", err)
	}
	defer l.Close()
	q := e.c.Queue("q")
	must(q.Put(e.ctx, "K", nil, client.WithJID("a")))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("b")))(t)
	must(q.Put(e.ctx, "K", nil, client.WithJID("c")))(t)
	must(q.PopMany(e.ctx, 3))(t)
	ok(t, e.c.Timeout(e.ctx, "a"))
	ok(t, e.c.Cancel(e.ctx, "b"))
	must(e.client("worker-2").Queue("other").Put(e.ctx, "K", nil, client.WithJID("c")))(t)
	var evs []string
	for range 3 {
		select {
		case ev := <-got:
			if ev.Worker != "worker-1" || ev.Channel != "ql:w:worker-1" {
				t.Errorf("event %+v: want worker-1 on ql:w:worker-1", ev)
			}
			evs = append(evs, ev.Event+" "+ev.JID)
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out; got %v", evs)
		}
	}
	want := []string{"lock_lost a", "canceled b", "lock_lost c"}
	if diff := cmp.Diff(want, evs); diff != "" {
		t.Fatalf("worker events (-want +got):\n%s", diff)
	}
}

func TestListenErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.c.Listen(e.ctx, client.Handlers{}); err == nil {
		t.Error("Listen with no handler: no error")
	}
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := e.c.Listen(ctx, client.Handlers{OnPut: func(string) {}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Listen with a canceled context = %v", err)
	}
	c := e.client("x")
	l, err := c.Listen(e.ctx, client.Handlers{OnPut: func(string) {}})
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	c.Close() // closes l too (the leak check of TestMain would see it)
	ok(t, l.Close())
	if _, err := c.Listen(e.ctx, client.Handlers{OnPut: func(string) {}}); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Listen on a closed client = %v", err)
	}
}

func TestParseLogEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		msg  string
		want client.LogEvent
	}{
		{`{"jid":"J","queue":false,"event":"canceled","worker":false}`,
			client.LogEvent{Event: "canceled", JID: "J"}},
		{`{"message":"M","jid":"J","group":"G","event":"failed","worker":"W"}`,
			client.LogEvent{Event: "failed", JID: "J", Group: "G", Message: "M", Worker: "W"}},
		{`{"option":"O","event":"config_set","value":"V"}`,
			client.LogEvent{Event: "config_set", Option: "O", Value: "V"}},
		{`not json`, client.LogEvent{}},
	} {
		got := client.ParseLogEvent("ql:log", tc.msg)
		tc.want.Channel, tc.want.Raw = "ql:log", tc.msg
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseLogEvent(%s) (-want +got):\n%s", tc.msg, diff)
		}
	}
}
