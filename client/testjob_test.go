package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
)

func TestNewTestJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := client.NewTestJob(core.Job{Klass: "Mailer", Data: `{"to":"x"}`})
	if len(j.JID) != 32 || j.Queue != "test-queue" || j.State != core.StateRunning || j.Worker != "test-worker" ||
		j.Retries != 5 || j.Remaining != 5 || len(j.History) != 2 {
		t.Fatalf("defaults: %+v", j.Job)
	}
	if ttl := j.TTL(); ttl <= 58*time.Second || ttl > 60*time.Second {
		t.Errorf("TTL() = %v, want about 60s", ttl)
	}
	if j.Client() != nil {
		t.Error("Client() of a test job is not nil")
	}

	must(j.Heartbeat(ctx, client.WithData(map[string]int{"p": 1})))(t)
	ok(t, j.Tag(ctx, "a", "b", "a"))
	ok(t, j.Untag(ctx, "b"))
	ok(t, j.Log(ctx, "hello", nil))
	ok(t, j.SetPriority(ctx, 3))
	if n := must(j.Retry(ctx))(t); n != 4 || j.State != core.StateWaiting {
		t.Errorf("Retry = %d (%s), want 4 waiting", n, j.State)
	}
	if s := must(j.Complete(ctx, client.WithNext("next"), client.WithDelay(time.Second)))(t); s != core.StateScheduled || j.Queue != "next" {
		t.Errorf("Complete(next, delay) = %q in %q", s, j.Queue)
	}
	if !slices.Equal(j.Tags, []string{"a"}) || j.Priority != 3 || j.Data != `{"p":1}` {
		t.Errorf("fields after calls: %+v", j.Job)
	}
	var calls []string
	for _, c := range j.TestCalls() {
		calls = append(calls, c.String())
	}
	want := []string{
		"heartbeat " + j.JID + ` test-worker {"p":1}`,
		"tag add " + j.JID + " a b a",
		"tag remove " + j.JID + " b",
		"log " + j.JID + " hello",
		"priority " + j.JID + " 3",
		"retry " + j.JID + " test-queue test-worker 0",
		"complete " + j.JID + ` test-worker test-queue {"p":1} next next delay 1`,
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("TestCalls (-want +got):\n%s", diff)
	}

	lost := &client.Error{Command: "heartbeat", Message: "Heartbeat(): Job x not currently running: waiting"}
	j.SetTestError("heartbeat", lost)
	if _, err := j.Heartbeat(ctx); !errors.Is(err, client.ErrLockLost) {
		t.Errorf("Heartbeat with a test error = %v, want ErrLockLost", err)
	}
	j.SetTestError("heartbeat", nil)
	must(j.Heartbeat(ctx))(t)

	f := client.NewTestJob(core.Job{JID: "f", Remaining: 0, Retries: 1})
	ok(t, f.Fail(ctx, "grp", "bad"))
	if f.State != core.StateFailed || f.Failure == nil || f.Failure.Group != "grp" || f.Failure.Worker != "test-worker" {
		t.Errorf("after Fail: %+v %+v", f.Job, f.Failure)
	}
	r := client.NewTestJob(core.Job{JID: "r", Retries: 1, Remaining: 0})
	if n := must(r.Retry(ctx))(t); n != -1 || r.State != core.StateFailed {
		t.Errorf("exhausted Retry = %d (%s)", n, r.State)
	}

	// A Job that is neither fetched nor a test job has no client.
	var zero client.Job
	if err := zero.Cancel(ctx); !errors.Is(err, client.ErrNoClient) {
		t.Errorf("Cancel on a zero Job = %v, want ErrNoClient", err)
	}
	if calls := zero.TestCalls(); calls != nil {
		t.Errorf("TestCalls of a zero Job = %v", calls)
	}
	var rz client.RecurringJob
	if err := rz.SetPriority(ctx, 1); !errors.Is(err, client.ErrNoClient) {
		t.Errorf("SetPriority on a zero RecurringJob = %v, want ErrNoClient", err)
	}
}
