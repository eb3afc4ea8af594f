package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qless-router/qless-router/internal/redistest"
	"github.com/qless-router/qless-router/lua"
	"github.com/redis/rueidis"
)

// stubScript is testdata/stub.lua, a minimal stand-in for the qless script.
func stubScript(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/stub.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testConfig is a small run against the two given targets.
func testConfig(script string, targets ...Target) Config {
	cfg := DefaultLocalConfig()
	cfg.Script = script
	cfg.Targets = targets
	cfg.Jobs = 150
	cfg.Clients = []int{1, 4}
	cfg.Queues = 2
	return cfg
}

// commandsOf lists the qless commands each phase times.
var commandsOf = map[string][]string{
	PhasePut:         {"put"},
	PhasePopComplete: {"pop", "complete"},
	PhaseLifecycle:   {"put", "pop", "heartbeat", "complete"},
}

// checkReport asserts that rep is complete and consistent for cfg.
func checkReport(t *testing.T, cfg Config, rep *Report) {
	t.Helper()
	want := len(cfg.Phases) * len(cfg.Clients) * len(cfg.Targets)
	if len(rep.Results) != want {
		t.Fatalf("len(Results) = %d, want %d", len(rep.Results), want)
	}
	i := 0
	for _, phase := range cfg.Phases {
		for _, n := range cfg.Clients {
			for ti, tg := range cfg.Targets {
				res := rep.Results[i]
				i++
				if res.Target != tg.Name || res.Phase != phase || res.Clients != n {
					t.Fatalf("Results[%d] = %s/%s/%d, want %s/%s/%d", i-1, res.Target, res.Phase, res.Clients, tg.Name, phase, n)
				}
				id := fmt.Sprintf("%s %s %d clients", res.Target, res.Phase, n)
				if res.Jobs != cfg.Jobs || res.Errors != 0 {
					t.Errorf("%s: Jobs = %d, Errors = %d (%s), want %d and 0", id, res.Jobs, res.Errors, res.FirstError, cfg.Jobs)
				}
				if res.Connections != n {
					t.Errorf("%s: Connections = %d, want %d (one per client)", id, res.Connections, n)
				}
				if res.JobsPerSec <= 0 || res.Elapsed <= 0 {
					t.Errorf("%s: JobsPerSec = %v, Elapsed = %s, want > 0", id, res.JobsPerSec, res.Elapsed)
				}
				if res.RedisCPUPerJob <= 0 {
					t.Errorf("%s: RedisCPUPerJob = %s, want > 0", id, res.RedisCPUPerJob)
				}
				if res.EvalshaUsecPerCall <= 0 {
					t.Errorf("%s: EvalshaUsecPerCall = %v, want > 0", id, res.EvalshaUsecPerCall)
				}
				cmds := commandsOf[phase]
				if wantCalls := int64(cfg.Jobs * len(cmds)); res.EvalshaCalls != wantCalls {
					t.Errorf("%s: EvalshaCalls = %d, want %d", id, res.EvalshaCalls, wantCalls)
				}
				keys := append(slices.Clone(cmds), LatencyJob)
				for _, k := range keys {
					p, ok := res.Latency[k]
					if !ok {
						t.Errorf("%s: Latency[%q] missing", id, k)
						continue
					}
					if p.Count != int64(cfg.Jobs) || p.P50 <= 0 || p.P50 > p.P99 || p.P99 > p.Max {
						t.Errorf("%s: Latency[%q] = %+v, want count %d and 0 < p50 <= p99 <= max", id, k, p, cfg.Jobs)
					}
				}
				if len(res.Latency) != len(keys) {
					t.Errorf("%s: Latency has %d keys, want %v", id, len(res.Latency), keys)
				}
				if ti == 0 {
					if res.Baseline != "" {
						t.Errorf("%s: Baseline = %q, want none", id, res.Baseline)
					}
				} else if res.Baseline != cfg.Targets[0].Name || res.ThroughputRatio <= 0 {
					t.Errorf("%s: Baseline = %q, ThroughputRatio = %v, want %q and > 0", id, res.Baseline, res.ThroughputRatio, cfg.Targets[0].Name)
				}
			}
		}
	}

	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", text.String())
	lines := strings.Split(strings.TrimSpace(text.String()), "\n")
	if len(lines) != 2+want {
		t.Errorf("WriteText: %d lines, want %d (title, header, one per result)", len(lines), 2+want)
	}
	if !strings.Contains(lines[1], "vs "+cfg.Targets[0].Name) {
		t.Errorf("WriteText header %q has no ratio column", lines[1])
	}
	for _, l := range lines[2:] {
		if strings.HasPrefix(l, cfg.Targets[0].Name+" ") != strings.Contains(l, "(baseline)") {
			t.Errorf("WriteText row %q: baseline marker wrong", l)
		}
		if !strings.HasPrefix(l, cfg.Targets[0].Name+" ") && !strings.Contains(l, "x ") {
			t.Errorf("WriteText row %q: no ratio", l)
		}
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("WriteJSON output does not decode: %v", err)
	}
	if len(back.Results) != want || back.Results[1].Baseline != cfg.Targets[0].Name {
		t.Errorf("WriteJSON round trip: %d results, second baseline %q", len(back.Results), back.Results[1].Baseline)
	}
}

// TestRunStub runs every phase against a stand-in script, the same Redis
// twice, so the engine is tested on its own.
func TestRunStub(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	cfg := testConfig(stubScript(t),
		Target{Name: "direct", Addr: srv.Addr, RedisAddrs: []string{srv.Addr}},
		Target{Name: "again", Addr: srv.Addr, RedisAddrs: []string{srv.Addr}},
	)
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkReport(t, cfg, rep)

	// Clean-up cancelled what the put phase left: no stub queue holds a job.
	c, err := dial(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys, err := c.Do(context.Background(), c.B().Keys().Pattern("bstub:q:*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("queues left after clean-up: %v", keys)
	}
}

// TestRunQless runs every phase against the project's qless script.
func TestRunQless(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	cfg := testConfig(lua.Script(),
		Target{Name: "direct", Addr: srv.Addr, RedisAddrs: []string{srv.Addr}},
		// A server sampled as a "router" (Redis answers INFO cpu as the
		// router does) gives the router CPU column.
		Target{Name: "again", Addr: srv.Addr, RedisAddrs: []string{srv.Addr}, RouterAddrs: []string{srv.Addr}},
	)
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		if rep != nil {
			var b bytes.Buffer
			_ = rep.WriteText(&b)
			t.Logf("partial report:\n%s", b.String())
		}
		t.Fatalf("Run: %v", err)
	}
	checkReport(t, cfg, rep)
	for _, res := range rep.Results {
		if res.BenchCPUPerJob <= 0 {
			t.Errorf("%s %s: BenchCPUPerJob = %v, want > 0", res.Target, res.Phase, res.BenchCPUPerJob)
		}
		if (res.RouterCPUPerJob > 0) != (res.Target == "again") {
			t.Errorf("%s %s: RouterCPUPerJob = %v, want > 0 exactly for the target with RouterAddrs", res.Target, res.Phase, res.RouterCPUPerJob)
		}
	}

	// Clean-up forgot the benchmark's queues and cancelled its waiting jobs.
	c := newScriptConn(mustDial(t, srv.Addr), cfg.Script)
	queues, err := c.call(context.Background(), "queues", nowArg(time.Now())).ToString()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(queues, "bench-") {
		t.Errorf("queues after clean-up = %.300s, want no bench queue", queues)
	}
}

func mustDial(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	c, err := dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestRunSharedConnection(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	cfg := testConfig(stubScript(t), Target{Name: "direct", Addr: srv.Addr})
	cfg.Phases = []string{PhaseLifecycle}
	cfg.Clients = []int{4}
	cfg.Connections = 1
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	res := rep.Results[0]
	if res.Connections != 1 || res.Jobs != cfg.Jobs {
		t.Errorf("Connections = %d, Jobs = %d, want 1 and %d", res.Connections, res.Jobs, cfg.Jobs)
	}
	// No RedisAddrs: nothing sampled.
	if res.RedisCPUPerJob != 0 || res.EvalshaCalls != 0 {
		t.Errorf("RedisCPUPerJob = %s, EvalshaCalls = %d, want 0 without RedisAddrs", res.RedisCPUPerJob, res.EvalshaCalls)
	}
}

func TestRunBoundedByMaxDuration(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	cfg := testConfig(stubScript(t), Target{Name: "direct", Addr: srv.Addr, RedisAddrs: []string{srv.Addr}})
	cfg.Phases = []string{PhasePut}
	cfg.Clients = []int{2}
	cfg.Jobs = 1 << 30
	cfg.MaxDuration = 200 * time.Millisecond
	start := time.Now()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The bound is MaxDuration plus the clean-up, which is bounded too.
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Run took %s with MaxDuration %s", el, cfg.MaxDuration)
	}
	res := rep.Results[0]
	if res.Jobs <= 0 || res.Jobs >= cfg.Jobs || res.Elapsed > time.Second {
		t.Errorf("Jobs = %d, Elapsed = %s, want a partial phase of about %s", res.Jobs, res.Elapsed, cfg.MaxDuration)
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	cfg := testConfig(stubScript(t), Target{Name: "direct", Addr: srv.Addr})
	cfg.Jobs = 1 << 30
	cfg.MaxDuration = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	rep, err := Run(ctx, cfg)
	if err == nil {
		t.Fatal("Run after cancel: no error")
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("Run took %s after a cancel at 100ms", el)
	}
	if rep == nil || len(rep.Results) == 0 || rep.Results[0].Jobs == 0 {
		t.Errorf("Run after cancel: report %+v, want the partial first phase", rep)
	}
}

func TestRunStopsOnErrors(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	// A script whose every command fails.
	cfg := testConfig("error('Unknown command ' .. ARGV[1])", Target{Name: "direct", Addr: srv.Addr})
	cfg.Phases = []string{PhasePut}
	cfg.Clients = []int{4}
	cfg.Jobs = 100000
	rep, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "Unknown command put") {
		t.Fatalf("Run: error %v, want the script's error", err)
	}
	res := rep.Results[0]
	if res.Jobs != 0 || res.Errors < maxErrors || res.Errors > maxErrors+cfg.Clients[0]-1 {
		t.Errorf("Jobs = %d, Errors = %d, want 0 and about %d", res.Jobs, res.Errors, maxErrors)
	}
}

func TestNoScriptLoadsAndRetries(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	client := mustDial(t, srv.Addr)
	c := newScriptConn(client, "return ARGV[1] .. '@' .. ARGV[2] .. ':' .. #KEYS")
	for i := 0; i < 2; i++ { // the first call meets NOSCRIPT, the second does not
		got, err := c.call(ctx, "echo", "1700000000.5").ToString()
		if err != nil || got != "echo@1700000000.5:0" {
			t.Fatalf("call #%d = %q, %v, want %q", i, got, err, "echo@1700000000.5:0")
		}
		if err := client.Do(ctx, client.B().ScriptFlush().Build()).Error(); err != nil && i == 0 {
			t.Fatal(err)
		}
	}
	info, err := client.Do(ctx, client.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info, "cmdstat_script|load:calls=2,") {
		t.Errorf("want two SCRIPT LOADs (one per NOSCRIPT), commandstats:\n%s", info)
	}
}

func TestOnlyJID(t *testing.T) {
	job := func(jid, data string) string {
		return `{"jid":"` + jid + `","klass":"K","data":` + strconv.Quote(data) + `,"dependents":{},"dependencies":["dep1"]}`
	}
	for _, c := range []struct {
		name, reply, want string
		ok                bool
	}{
		{"one job", "[" + job("abc", "{}") + "]", "abc", true},
		{"jid-like text in the data", "[" + job("abc", `{"jid":"x"}`) + "]", "abc", true},
		{"two jobs", "[" + job("a", "{}") + "," + job("b", "{}") + "]", "", false},
		{"no job", "{}", "", false},
		{"empty jid", "[" + job("", "{}") + "]", "", false},
		{"not an array", job("abc", "{}"), "", false},
		{"truncated", "[" + job("abc", "{}"), "", false},
		{"no jid field", `[{"klass":"K"}]`, "", false},
	} {
		got, ok := onlyJID(c.reply)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: onlyJID(%s) = %q, %v; want %q, %v", c.name, c.reply, got, ok, c.want, c.ok)
		}
	}
}
