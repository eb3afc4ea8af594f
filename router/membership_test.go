package router

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// membershipWait bounds every wait for the cluster to converge; with
// DefaultLocalMembershipConfig convergence takes well under a second.
const membershipWait = 10 * time.Second

// testMembershipConfig returns a loopback config for router name.
func testMembershipConfig(name, shardSet string, join ...string) MembershipConfig {
	cfg := DefaultLocalMembershipConfig()
	cfg.NodeName = name
	cfg.BindAddr = "127.0.0.1"
	cfg.RESPAddr = "127.0.0.1:1" + name
	cfg.HTTPAddr = "127.0.0.1:2" + name
	cfg.ShardSet = shardSet
	cfg.Join = join
	return cfg
}

// startTestMembership starts a membership from cfg, stopped at cleanup.
func startTestMembership(t *testing.T, cfg MembershipConfig) *Membership {
	t.Helper()
	m, err := NewMembership(cfg)
	if err != nil {
		t.Fatalf("NewMembership(%s): %v", cfg.NodeName, err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatalf("Start(%s): %v", cfg.NodeName, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("Stop(%s): %v", cfg.NodeName, err)
		}
	})
	return m
}

// startTestMembershipCluster starts routers named by names, all joining the first.
func startTestMembershipCluster(t *testing.T, shardSet string, names ...string) []*Membership {
	t.Helper()
	var ms []*Membership
	for i, name := range names {
		var join []string
		if i > 0 {
			join = []string{ms[0].LocalAddr()}
		}
		ms = append(ms, startTestMembership(t, testMembershipConfig(name, shardSet, join...)))
	}
	return ms
}

func membershipNames(members []Member) []string {
	names := make([]string, 0, len(members))
	for _, mem := range members {
		names = append(names, mem.Name)
	}
	return names
}

// waitFor polls cond until it returns "" or the deadline passes, then fails
// with cond's last complaint. It returns the time taken.
func waitForMembership(t *testing.T, what string, cond func() string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(membershipWait)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		msg := cond()
		if msg == "" {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %s", what, membershipWait, msg)
		}
		<-tick.C
	}
}

// waitMemberNames waits until every m in ms sees exactly want.
func waitMemberNames(t *testing.T, want []string, ms ...*Membership) time.Duration {
	t.Helper()
	return waitForMembership(t, "members "+strings.Join(want, ","), func() string {
		for _, m := range ms {
			if diff := cmp.Diff(want, membershipNames(m.Members())); diff != "" {
				return m.cfg.NodeName + " Members() names (-want +got):\n" + diff
			}
		}
		return ""
	})
}

func TestMembershipConverges(t *testing.T) {
	t.Parallel()
	ms := startTestMembershipCluster(t, "e1:abc", "a", "b", "c")
	took := waitMemberNames(t, []string{"a", "b", "c"}, ms...)
	t.Logf("3 routers converged in %v", took)

	var want []Member
	for _, m := range ms {
		want = append(want, Member{
			Name:       m.cfg.NodeName,
			GossipAddr: m.LocalAddr(),
			RESPAddr:   m.cfg.RESPAddr,
			HTTPAddr:   m.cfg.HTTPAddr,
			ShardSet:   "e1:abc",
		})
	}
	for _, m := range ms {
		if diff := cmp.Diff(want, m.Members()); diff != "" {
			t.Errorf("%s: Members() (-want +got):\n%s", m.cfg.NodeName, diff)
		}
		if err := m.Agreement(); err != nil {
			t.Errorf("%s: Agreement() = %v, want nil", m.cfg.NodeName, err)
		}
	}
}

func TestMembershipGracefulLeave(t *testing.T) {
	t.Parallel()
	ms := startTestMembershipCluster(t, "e1", "a", "b", "c")
	waitMemberNames(t, []string{"a", "b", "c"}, ms...)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := ms[2].Stop(ctx); err != nil {
		t.Fatalf("Stop(c): %v", err)
	}
	took := waitMemberNames(t, []string{"a", "b"}, ms[0], ms[1])
	t.Logf("leave seen by both others in %v", took)
	if got := ms[2].Members(); len(got) != 0 {
		t.Errorf("stopped router: Members() = %v, want none", got)
	}
	if err := ms[2].Agreement(); !errors.Is(err, ErrMembershipStopped) {
		t.Errorf("stopped router: Agreement() = %v, want ErrMembershipStopped", err)
	}
}

func TestMembershipCrashDetected(t *testing.T) {
	t.Parallel()
	ms := startTestMembershipCluster(t, "e1", "a", "b", "c")
	waitMemberNames(t, []string{"a", "b", "c"}, ms...)

	ms[2].kill() // no leave message: the failure detector must notice
	took := waitMemberNames(t, []string{"a", "b"}, ms[0], ms[1])
	t.Logf("crash detected by both others in %v", took)
	if took > 5*time.Second {
		t.Errorf("crash detection took %v, want under 5s", took)
	}
}

func TestMembershipShardSetAgreement(t *testing.T) {
	t.Parallel()
	a := startTestMembership(t, testMembershipConfig("a", "e1:aaa"))
	b := startTestMembership(t, testMembershipConfig("b", "e1:aaa", a.LocalAddr()))
	c := startTestMembership(t, testMembershipConfig("c", "e2:ccc", a.LocalAddr()))
	waitMemberNames(t, []string{"a", "b", "c"}, a, b, c)

	err := a.Agreement()
	if !errors.Is(err, ErrShardSetMismatch) {
		t.Fatalf("a.Agreement() = %v, want ErrShardSetMismatch", err)
	}
	var mismatch *ShardSetMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("a.Agreement() = %T, want *ShardSetMismatchError", err)
	}
	if diff := cmp.Diff([]string{"c"}, membershipNames(mismatch.Differing)); diff != "" {
		t.Errorf("a.Agreement() differing routers (-want +got):\n%s", diff)
	}
	for _, s := range []string{`router a`, `"e1:aaa"`, `c has "e2:ccc"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("a.Agreement() = %q, want it to contain %q", err, s)
		}
	}
	err = c.Agreement()
	if !errors.As(err, &mismatch) {
		t.Fatalf("c.Agreement() = %v, want *ShardSetMismatchError", err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, membershipNames(mismatch.Differing)); diff != "" {
		t.Errorf("c.Agreement() differing routers (-want +got):\n%s", diff)
	}

	// c adopts the others' shard set; everyone agrees once it propagates.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.UpdateShardSet(ctx, "e1:aaa"); err != nil {
		t.Fatalf("c.UpdateShardSet: %v", err)
	}
	if got := c.ShardSet(); got != "e1:aaa" {
		t.Errorf("c.ShardSet() = %q, want %q", got, "e1:aaa")
	}
	took := waitForMembership(t, "agreement after update", func() string {
		for _, m := range []*Membership{a, b, c} {
			if err := m.Agreement(); err != nil {
				return err.Error()
			}
		}
		return ""
	})
	t.Logf("shard set update propagated in %v", took)

	// And a further change on a is seen by the others as a's metadata.
	if err := a.UpdateShardSet(ctx, "e2:bbb"); err != nil {
		t.Fatalf("a.UpdateShardSet: %v", err)
	}
	waitForMembership(t, "a's new shard set seen by b", func() string {
		for _, mem := range b.Members() {
			if mem.Name == "a" && mem.ShardSet != "e2:bbb" {
				return "b sees a with " + strconv.Quote(mem.ShardSet)
			}
		}
		return ""
	})
	if err := b.Agreement(); err == nil || !strings.Contains(err.Error(), `a has "e2:bbb"`) {
		t.Errorf("b.Agreement() = %v, want a mismatch naming a", err)
	}
}

// reserveGossipPort finds a loopback port free for both TCP and UDP.
func reserveGossipPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserve port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no loopback port free for both TCP and UDP")
	return 0
}

func TestMembershipSeedStartsLater(t *testing.T) {
	t.Parallel()
	port := reserveGossipPort(t)
	seedAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	b := startTestMembership(t, testMembershipConfig("b", "e1", seedAddr))
	if diff := cmp.Diff([]string{"b"}, membershipNames(b.Members())); diff != "" {
		t.Errorf("before the seed: Members() (-want +got):\n%s", diff)
	}

	cfg := testMembershipConfig("a", "e1")
	cfg.BindPort = port
	a := startTestMembership(t, cfg)
	if got := a.LocalAddr(); got != seedAddr {
		t.Errorf("a.LocalAddr() = %q, want %q", got, seedAddr)
	}
	took := waitMemberNames(t, []string{"a", "b"}, a, b)
	t.Logf("late seed joined in %v", took)
}

func TestMembershipSubscribe(t *testing.T) {
	t.Parallel()
	a := startTestMembership(t, testMembershipConfig("a", "e1"))
	ch, cancel := a.Subscribe()
	defer cancel()
	// Drain a notification about a's own join, if any.
	waitMemberNames(t, []string{"a"}, a)
	select {
	case <-ch:
	default:
	}

	startTestMembership(t, testMembershipConfig("b", "e1", a.LocalAddr()))
	deadline := time.NewTimer(membershipWait)
	defer deadline.Stop()
	for {
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("no notification showing b after %v; Members() = %v", membershipWait, a.Members())
		}
		if len(a.Members()) == 2 {
			break
		}
	}
	cancel()
	cancel() // idempotent
	a.subsMu.Lock()
	n := len(a.subs)
	a.subsMu.Unlock()
	if n != 0 {
		t.Errorf("after cancel: %d subscribers, want 0", n)
	}
}

func TestMembershipLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	m, err := NewMembership(testMembershipConfig("a", "e1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Agreement(); !errors.Is(err, ErrMembershipNotStarted) {
		t.Errorf("Agreement() before Start = %v, want ErrMembershipNotStarted", err)
	}
	if got := m.LocalAddr(); got != "" {
		t.Errorf("LocalAddr() before Start = %q, want empty", got)
	}
	if err := m.UpdateShardSet(ctx, "e2"); err != nil {
		t.Errorf("UpdateShardSet before Start: %v", err)
	}
	if err := m.UpdateShardSet(ctx, strings.Repeat("x", 600)); err == nil {
		t.Error("UpdateShardSet with 600-byte shard set: nil error, want metadata too long")
	}
	if err := m.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := m.Start(ctx); err == nil {
		t.Error("second Start: nil error")
	}
	waitForMembership(t, "self with updated shard set", func() string {
		got := m.Members()
		if len(got) != 1 || got[0].ShardSet != "e2" {
			return "Members() = " + strings.Join(membershipNames(got), ",")
		}
		return ""
	})
	if err := m.Agreement(); err != nil {
		t.Errorf("Agreement() alone = %v, want nil", err)
	}
	for i := range 2 {
		if err := m.Stop(ctx); err != nil {
			t.Errorf("Stop #%d: %v", i+1, err)
		}
	}
	if err := m.Start(ctx); !errors.Is(err, ErrMembershipStopped) {
		t.Errorf("Start after Stop = %v, want ErrMembershipStopped", err)
	}
	if err := m.UpdateShardSet(ctx, "e3"); !errors.Is(err, ErrMembershipStopped) {
		t.Errorf("UpdateShardSet after Stop = %v, want ErrMembershipStopped", err)
	}

	never, err := NewMembership(testMembershipConfig("n", "e1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := never.Stop(ctx); err != nil {
		t.Errorf("Stop before Start: %v", err)
	}
	if err := never.Stop(ctx); err != nil {
		t.Errorf("second Stop before Start: %v", err)
	}
}

func TestMembershipConfigValidate(t *testing.T) {
	t.Parallel()
	valid := testMembershipConfig("a", "e1", "127.0.0.1:7946")
	tests := []struct {
		name    string
		modify  func(*MembershipConfig)
		wantErr string // substring; "" means valid
	}{
		{"valid", func(*MembershipConfig) {}, ""},
		{"default needs name and addr", func(c *MembershipConfig) { *c = DefaultMembershipConfig() }, "NodeName is required"},
		{"empty NodeName", func(c *MembershipConfig) { c.NodeName = "" }, "NodeName is required"},
		{"empty BindAddr", func(c *MembershipConfig) { c.BindAddr = "" }, "BindAddr is required"},
		{"BindAddr not IP", func(c *MembershipConfig) { c.BindAddr = "localhost" }, "BindAddr \"localhost\" is not an IP"},
		{"BindAddr unspecified", func(c *MembershipConfig) { c.BindAddr = "0.0.0.0" }, "AdvertiseAddr"},
		{"BindAddr unspecified with advertise", func(c *MembershipConfig) {
			c.BindAddr, c.AdvertiseAddr = "0.0.0.0", "10.0.0.5"
		}, ""},
		{"bad AdvertiseAddr", func(c *MembershipConfig) { c.AdvertiseAddr = "router-a" }, "AdvertiseAddr"},
		{"BindPort range", func(c *MembershipConfig) { c.BindPort = 70000 }, "BindPort"},
		{"seed without port", func(c *MembershipConfig) { c.Join = []string{"127.0.0.1"} }, "Join[0]"},
		{"zero ProbeInterval", func(c *MembershipConfig) { c.ProbeInterval = 0 }, "ProbeInterval must be positive"},
		{"ProbeTimeout too long", func(c *MembershipConfig) { c.ProbeTimeout = c.ProbeInterval }, "ProbeTimeout"},
		{"zero GossipInterval", func(c *MembershipConfig) { c.GossipInterval = 0 }, "GossipInterval"},
		{"zero SuspicionMult", func(c *MembershipConfig) { c.SuspicionMult = 0 }, "SuspicionMult"},
		{"negative PushPullInterval", func(c *MembershipConfig) { c.PushPullInterval = -1 }, "PushPullInterval"},
		{"meta too long", func(c *MembershipConfig) { c.ShardSet = strings.Repeat("x", 500) }, "node metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.modify(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
			if tt.wantErr != "" {
				if _, err := NewMembership(cfg); err == nil {
					t.Errorf("NewMembership accepted a config Validate rejects")
				}
			}
		})
	}
	// The largest shard set that fits is accepted and starts without panic.
	cfg := testMembershipConfig("big", "")
	for n := 400; ; n++ {
		cfg.ShardSet = strings.Repeat("y", n+1)
		if cfg.Validate() != nil {
			cfg.ShardSet = strings.Repeat("y", n)
			break
		}
	}
	startTestMembership(t, cfg)
}

func TestMembershipLogWriter(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	logger := membershipTestLogger(&buf)
	w := &membershipLogWriter{logger: logger}
	if _, err := w.Write([]byte("[ERR] memberlist: Failed to send ping\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("[DEBUG] memberlist: Stream connection\n")); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{
		`level=WARN msg="memberlist: Failed to send ping" memberlist_level=ERR`,
		`level=DEBUG msg="memberlist: Stream connection" memberlist_level=DEBUG`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log output %q lacks %q", got, want)
		}
	}
}

// membershipTestLogger logs everything as text, without times, to w.
func membershipTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// TestMembershipSharedSeedList starts routers that all share one seed list,
// themselves included, in the reverse order of the list.
func TestMembershipSharedSeedList(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c"}
	var seeds []string
	ports := map[string]int{}
	for _, n := range names {
		ports[n] = reserveGossipPort(t)
		seeds = append(seeds, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[n])))
	}
	var ms []*Membership
	for _, n := range []string{"c", "b", "a"} {
		cfg := testMembershipConfig(n, "e1", seeds...)
		cfg.BindPort = ports[n]
		ms = append(ms, startTestMembership(t, cfg))
	}
	took := waitMemberNames(t, names, ms...)
	t.Logf("shared seed list converged in %v", took)
}
