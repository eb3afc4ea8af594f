package worker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
)

type quotaError struct{}

func (quotaError) Error() string { return "over quota" }
func (quotaError) Group() string { return "quota" }

func TestGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("x"), "K:*errors.errorString"},
		{fmt.Errorf("open: %w", fs.ErrNotExist), "K:*errors.errorString"},
		{&fs.PathError{Op: "open", Err: fs.ErrNotExist}, "K:*fs.PathError"},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", &fs.PathError{})), "K:*fs.PathError"},
		{fmt.Errorf("no wrap %v", 1), "K:*errors.errorString"},
		{fmt.Errorf("two: %w %w", &fs.PathError{}, errors.New("y")), "K:*fs.PathError"},
		{quotaError{}, "K:quota"},
		{fmt.Errorf("ctx: %w", quotaError{}), "K:quota"},
		{&PanicError{Value: 1}, "K:panic"},
		{&NoHandlerError{Klass: "K"}, "K:no-handler"},
		{&CrashError{}, "K:crashed"},
		{&ExitError{Status: 3}, "K:exit-3"},
		{&ExitError{Status: -1}, "K:signal"},
		{&ChildError{GroupName: "*net.OpError"}, "K:*net.OpError"},
	}
	for _, tt := range tests {
		if got := Group("K", tt.err); got != tt.want {
			t.Errorf("Group(K, %#v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestMiddlewareOrder(t *testing.T) {
	t.Parallel()
	var trace []string
	mw := func(name string) Middleware {
		return func(next Handler) Handler {
			return func(ctx context.Context, job *client.Job) error {
				trace = append(trace, name+">")
				err := next(ctx, job)
				trace = append(trace, "<"+name)
				return err
			}
		}
	}
	r := NewRegistry()
	r.Use(mw("w1"))
	r.Handle("K", func(context.Context, *client.Job) error {
		trace = append(trace, "handler")
		return nil
	}, mw("c1"), mw("c2"))
	r.Use(mw("w2")) // added after Handle: still applies
	e, ok := r.lookup("K")
	if !ok {
		t.Fatal("lookup(K) found nothing")
	}
	if err := e.full(context.Background(), client.NewTestJob(core.Job{Klass: "K"})); err != nil {
		t.Fatal(err)
	}
	want := []string{"w1>", "w2>", "c1>", "c2>", "handler", "<c2", "<c1", "<w2", "<w1"}
	if diff := cmp.Diff(want, trace); diff != "" {
		t.Errorf("full chain (-want +got):\n%s", diff)
	}
	trace = nil
	_ = e.inner(context.Background(), client.NewTestJob(core.Job{Klass: "K"}))
	want = []string{"c1>", "c2>", "handler", "<c2", "<c1"}
	if diff := cmp.Diff(want, trace); diff != "" {
		t.Errorf("class chain (-want +got):\n%s", diff)
	}
	if _, ok := r.lookup("Other"); ok {
		t.Errorf("lookup(Other) found a handler without HandleAny")
	}
	r.HandleAny(func(context.Context, *client.Job) error { return nil })
	if _, ok := r.lookup("Other"); !ok {
		t.Errorf("lookup(Other) found nothing after HandleAny")
	}
}

func TestRetryMiddleware(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	failing := func(context.Context, *client.Job) error { return boom }
	h := Retry(ExponentialBackoff(time.Second, 10*time.Second))(failing)

	job := client.NewTestJob(core.Job{Klass: "K", Retries: 5, Remaining: 3})
	err := h(context.Background(), job)
	var re *RetriedError
	if !errors.As(err, &re) || !errors.Is(err, ErrSettled) || !errors.Is(err, boom) {
		t.Fatalf("Retry middleware returned %v, want a RetriedError matching ErrSettled and the handler's error", err)
	}
	// Attempt 3 (Retries 5, Remaining 3): 4 s.
	if re.Delay != 4*time.Second || re.Remaining != 2 {
		t.Errorf("RetriedError = %+v, want Delay 4s and Remaining 2", re)
	}
	calls := job.TestCalls()
	if len(calls) != 1 || calls[0].Command != "retry" {
		t.Fatalf("calls = %v, want one retry", calls)
	}
	want := []string{job.JID, job.Queue, job.Worker, "4", "K:*errors.errorString", "boom"}
	if diff := cmp.Diff(want, calls[0].Args); diff != "" {
		t.Errorf("retry args (-want +got):\n%s", diff)
	}

	// Passed through: no retries left, permanent errors, panics, canceled
	// contexts, success.
	for name, tc := range map[string]struct {
		remaining int
		err       error
		ctxDone   bool
	}{
		"no retries left": {0, boom, false},
		"permanent":       {3, Permanent(boom), false},
		"panic":           {3, &PanicError{Value: "x"}, false},
		"context ended":   {3, boom, true},
		"success":         {3, nil, false},
	} {
		job := client.NewTestJob(core.Job{Klass: "K", Retries: 5, Remaining: tc.remaining})
		if tc.remaining == 0 {
			job.Remaining = 0
		}
		ctx, cancel := context.WithCancel(context.Background())
		if tc.ctxDone {
			cancel()
		}
		got := Retry(ConstantBackoff(0))(func(context.Context, *client.Job) error { return tc.err })(ctx, job)
		cancel()
		if got != tc.err {
			t.Errorf("%s: Retry returned %v, want the handler's %v unchanged", name, got, tc.err)
		}
		if calls := job.TestCalls(); len(calls) != 0 {
			t.Errorf("%s: calls = %v, want none", name, calls)
		}
	}
}

func TestExponentialBackoff(t *testing.T) {
	t.Parallel()
	b := ExponentialBackoff(100*time.Millisecond, time.Second)
	var got []time.Duration
	for i := 0; i <= 6; i++ {
		got = append(got, b(i))
	}
	want := []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
		400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backoff (-want +got):\n%s", diff)
	}
	if d := ExponentialBackoff(time.Second, 0)(200); d <= 0 {
		t.Errorf("unbounded backoff(200) = %v, want a positive duration", d)
	}
}

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	tb := newTail(8)
	fmt.Fprint(tb, "abc")
	if got := tb.String(); got != "abc" {
		t.Errorf("tail = %q, want abc", got)
	}
	fmt.Fprint(tb, "defghij")
	if got := tb.String(); got != "...cdefghij" {
		t.Errorf("tail = %q, want ...cdefghij", got)
	}
	fmt.Fprint(tb, strings.Repeat("x", 20)+"12345678")
	if got := tb.String(); got != "...12345678" {
		t.Errorf("tail = %q, want ...12345678", got)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := DefaultConfig()
	ok.Queues = []string{"q"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"Queues", func(c *Config) { c.Queues = nil }},
		{"Queues[1]", func(c *Config) { c.Queues = []string{"a", ""} }},
		{"Concurrency", func(c *Config) { c.Concurrency = -1 }},
		{"Fetchers", func(c *Config) { c.Fetchers = -1 }},
		{"Mode", func(c *Config) { c.Mode = 7 }},
		{"HeartbeatInterval", func(c *Config) { c.HeartbeatInterval = -1 }},
		{"Interval", func(c *Config) { c.Interval = -1 }},
		{"StopTimeout", func(c *Config) { c.StopTimeout = -1 }},
		{"StderrTail", func(c *Config) { c.StderrTail = -1 }},
	}
	for _, tt := range tests {
		c := ok
		tt.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "Config."+tt.field) {
			t.Errorf("Validate with a bad %s = %v, want an error naming it", tt.field, err)
		}
	}
}
