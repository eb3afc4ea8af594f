package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/qless-router/qless-router/internal/redisproc"
	"github.com/qless-router/qless-router/internal/redistest"
	"github.com/qless-router/qless-router/lua"
	"github.com/qless-router/qless-router/router"
	"github.com/qless-router/qless-router/shard"
	"github.com/redis/rueidis"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServe runs `qless-router serve` in front of two shards, uses it as a
// qless client would, and shuts it down gracefully.
func TestServe(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	respAddr, gossipAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve",
			"--shard", "a=redis://" + a.Addr, "--shard", "b=redis://" + b.Addr, "--weight", "b=2",
			"--resp-addr", respAddr, "--http-addr", "127.0.0.1:0", "--gossip-addr", gossipAddr, "--node-name", "serve-test", "--log-level", "error",
			"--advertise-resp-addr", "qless-r1.example:6399",
		}, &bytes.Buffer{}, &stderr)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for redisproc.Ping(ctx, respAddr) != nil {
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v (%s)", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer PING on %s", respAddr)
		}
		time.Sleep(20 * time.Millisecond) // polling a listener
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{respAddr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	script := rueidis.NewLuaScript(lua.Script())
	now := fmt.Sprint(time.Now().Unix())
	for i := range 10 {
		q, jid := fmt.Sprintf("queue-%d", i), fmt.Sprintf("job-%d", i)
		got, err := script.Exec(ctx, c, nil, []string{"put", now, "w", q, jid, "K", "{}", "0"}).ToString()
		if err != nil || got != jid {
			t.Fatalf("put %s = %q, %v", jid, got, err)
		}
	}
	queues, err := script.Exec(ctx, c, nil, []string{"queues", now}).ToString()
	if err != nil || strings.Count(queues, `"name"`) != 10 {
		t.Fatalf("queues = %s, %v; want 10 queues over both shards", queues, err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"cluster", "status", "--addr", respAddr}, &out, &stderr); err != nil || !strings.Contains(out.String(), "serve-test") ||
		!strings.Contains(out.String(), "qless-r1.example:6399") {
		t.Fatalf("cluster status = %q, %v", out.String(), err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after cancel", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
}

func TestParseShards(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		specs, weights []string
		wantErr        string
	}{
		{specs: nil, wantErr: "at least one --shard"},
		{specs: []string{"a"}, wantErr: "want NAME=URL"},
		{specs: []string{"a=redis://x", "a=redis://y"}, wantErr: "given twice"},
		{specs: []string{"bad name=redis://x"}, wantErr: "bad name"},
		{specs: []string{"a=redis://x"}, weights: []string{"a=0"}, wantErr: "positive integer"},
		{specs: []string{"a=redis://x"}, weights: []string{"b=2"}, wantErr: "no --shard of that name"},
		{specs: []string{"a=redis://x", "b=redis://y"}, weights: []string{"b=3"}},
	} {
		got, err := parseShards(tc.specs, tc.weights)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseShards(%q, %q) error = %v, want %q", tc.specs, tc.weights, err, tc.wantErr)
			}
			continue
		}
		if err != nil || len(got) != 2 || got[1].Weight != 3 || got[0].Weight != 0 {
			t.Errorf("parseShards(%q, %q) = %+v, %v", tc.specs, tc.weights, got, err)
		}
	}
	if _, _, err := splitHostPort("0.0.0.0:7946"); err == nil {
		t.Error("splitHostPort(0.0.0.0:7946) accepted an unreachable advertise address")
	}
}

// The cross-shard switches reach the router's configuration: defaults
// from router.DefaultConfig, flags and QLESS_ROUTER_* variables override.
func TestServeCrossShardFlags(t *testing.T) {
	def := router.DefaultConfig().CrossShard
	base := []string{"--shard", "a=unix:///run/redis.sock", "--log-level", "error"}
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		async, prob bool
	}{
		{"defaults", nil, nil, def.AsyncImport, def.ProbeOnMiss},
		{"flags", []string{"--async-import=false", "--probe-on-miss"}, nil, false, true},
		{"environment", nil, map[string]string{"QLESS_ROUTER_ASYNC_IMPORT": "false", "QLESS_ROUTER_PROBE_ON_MISS": "true"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			nc, _, err := serveConfig(append(append([]string{}, base...), tt.args...), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			x := nc.Router.CrossShard
			if x.AsyncImport != tt.async || x.ProbeOnMiss != tt.prob {
				t.Errorf("AsyncImport, ProbeOnMiss = %v, %v; want %v, %v", x.AsyncImport, x.ProbeOnMiss, tt.async, tt.prob)
			}
			if got := nc.Router.Shards[0].URL; got != "unix:///run/redis.sock" {
				t.Errorf("shard URL = %q", got)
			}
		})
	}
	if _, _, err := serveConfig([]string{"--shard", "a=redis://h:1", "--async-import=maybe"}, &bytes.Buffer{}); err == nil {
		t.Error("--async-import=maybe accepted")
	}
}

// --advertise-resp-addr and --advertise-http-addr reach the node, and a
// malformed one is refused.
func TestServeAdvertiseFlags(t *testing.T) {
	nc, _, err := serveConfig([]string{"--shard", "a=redis://h:1", "--advertise-resp-addr", "127.0.0.1:6380",
		"--advertise-http-addr", "qless.example:8080"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if nc.AdvertiseRESP != "127.0.0.1:6380" || nc.AdvertiseHTTP != "qless.example:8080" {
		t.Errorf("advertised = %q, %q", nc.AdvertiseRESP, nc.AdvertiseHTTP)
	}
	if _, _, err := serveConfig([]string{"--shard", "a=redis://h:1", "--advertise-resp-addr", "no-port"}, &bytes.Buffer{}); err == nil {
		t.Error("--advertise-resp-addr without a port accepted")
	}
}

// --wait-replicas, --wait-timeout and --flush-delay reach every shard
// client; nonsense is refused.
func TestServeShardClientFlags(t *testing.T) {
	base := []string{"--shard", "a=redis://h:1", "--log-level", "error"}
	nc, _, err := serveConfig(base, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if sc := nc.Router.ShardClient; sc.WaitReplicas != 0 || sc.MaxFlushDelay != shard.DefaultMaxFlushDelay {
		t.Errorf("default WaitReplicas, MaxFlushDelay = %d, %s; want 0, %s", sc.WaitReplicas, sc.MaxFlushDelay, shard.DefaultMaxFlushDelay)
	}
	t.Setenv("QLESS_ROUTER_WAIT_TIMEOUT", "250ms")
	nc, _, err = serveConfig(append(base, "--wait-replicas", "1"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if sc := nc.Router.ShardClient; sc.WaitReplicas != 1 || sc.WaitTimeout != 250*time.Millisecond {
		t.Errorf("WaitReplicas, WaitTimeout = %d, %s; want 1, 250ms", sc.WaitReplicas, sc.WaitTimeout)
	}
	nc, _, err = serveConfig(append(base, "--flush-delay", "20us"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := nc.Router.ShardClient.MaxFlushDelay; got != 20*time.Microsecond {
		t.Errorf("MaxFlushDelay = %s, want 20us", got)
	}
	for _, bad := range [][]string{{"--wait-replicas", "-1"}, {"--wait-replicas", "1", "--wait-timeout", "0s"}, {"--flush-delay", "-1ms"}} {
		if _, _, err := serveConfig(append(base, bad...), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), bad[len(bad)-2]) {
			t.Errorf("serve %v = %v, want an error naming the flag", bad, err)
		}
	}
}
