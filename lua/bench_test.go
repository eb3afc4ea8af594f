package lua

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/internal/redistest"
)

// benchClients are the concurrency levels: goroutines driving lifecycles
// through one shared rueidis client (auto-pipelining), as the project's Go
// client does.
var benchClients = []int{8, 32}

// tunedRedis is a redis-server configuration suited to this workload: small
// sorted sets and hashes in their hash-table encodings (a listpack zset
// prints and parses every score as text on each update) and no per-command
// latency histograms.
var tunedRedis = []string{
	"--zset-max-listpack-entries", "0",
	"--hash-max-listpack-entries", "0",
	"--latency-tracking", "no",
}

// BenchmarkLifecycle measures the Redis CPU one job costs: put, pop,
// heartbeat, complete (4 script calls, arguments as the Ruby client sends
// them), at 8 and 32 concurrent goroutines sharing one rueidis client.
//
// Metrics: redis-cpu-us/job is the growth of INFO cpu (used_cpu_user +
// used_cpu_sys) per job, network handling included; user-us/job is the
// used_cpu_user part alone (the kernel's network work is in sys);
// script-us/call is the average script execution time INFO commandstats
// reports for EVALSHA (or FCALL).
//
//	go test -run XXX -bench Lifecycle -benchtime 20000x ./lua
//
// Sub-benchmarks: script (EVALSHA of Script()), library (FCALL of
// Library()), the same against tunedRedis, and baseline: 4 EVALSHA calls of
// `return 1` per job, the floor of any script. With QLESS_BENCH_REFERENCE
// naming a file (the reference qless-core qless.lua, which is not part of
// this repository), "reference" measures that script the same way, for a
// ratio from one run.
func BenchmarkLifecycle(b *testing.B) {
	type kind struct {
		name  string
		load  loader
		job   func(context.Context, caller, int64) error
		redis []string
	}
	kinds := []kind{
		{"script", loadScript(Script()), lifecycleJob, nil},
		{"library", loadLibrary, lifecycleJob, nil},
		{"script-tuned", loadScript(Script()), lifecycleJob, tunedRedis},
		{"library-tuned", loadLibrary, lifecycleJob, tunedRedis},
		{"baseline", loadScript("return 1"), baselineJob, nil},
	}
	if path := os.Getenv("QLESS_BENCH_REFERENCE"); path != "" {
		text, err := os.ReadFile(path)
		if err != nil {
			b.Fatalf("QLESS_BENCH_REFERENCE: %v", err)
		}
		kinds = append(kinds, kind{"reference", loadScript(string(text)), lifecycleJob, nil})
	}
	for _, k := range kinds {
		for _, n := range benchClients {
			b.Run(fmt.Sprintf("%s/clients=%d", k.name, n), func(b *testing.B) {
				runLifecycles(b, n, k.load, k.job, k.redis...)
			})
		}
	}
}

// caller runs one script command: args are the command, now and its
// arguments.
type caller func(ctx context.Context, args ...string) rueidis.RedisResult

// loader loads the script into a server and returns how to call it, and
// the INFO commandstats name of the calling command.
type loader func(ctx context.Context, c rueidis.Client) (caller, string, error)

func loadScript(script string) loader {
	return func(ctx context.Context, c rueidis.Client) (caller, string, error) {
		sha, err := c.Do(ctx, c.B().ScriptLoad().Script(script).Build()).ToString()
		if err != nil {
			return nil, "", err
		}
		return func(ctx context.Context, args ...string) rueidis.RedisResult {
			return c.Do(ctx, c.B().Evalsha().Sha1(sha).Numkeys(0).Arg(args...).Build())
		}, "evalsha", nil
	}
}

func loadLibrary(ctx context.Context, c rueidis.Client) (caller, string, error) {
	if err := c.Do(ctx, c.B().FunctionLoad().Replace().FunctionCode(Library()).Build()).Error(); err != nil {
		return nil, "", err
	}
	return func(ctx context.Context, args ...string) rueidis.RedisResult {
		return c.Do(ctx, c.B().Fcall().Function(FunctionName()).Numkeys(0).Arg(args...).Build())
	}, "fcall", nil
}

func benchNow() string {
	return strconv.FormatFloat(float64(time.Now().UnixNano())/1e9, 'f', 6, 64)
}

// lifecycleJob runs one job through put, pop, heartbeat and complete.
func lifecycleJob(ctx context.Context, call caller, i int64) error {
	jid := fmt.Sprintf("%032x", i)
	if err := call(ctx, "put", benchNow(), "w", "bench", jid, "Bench::Job", `{"n":1}`, "0",
		"priority", "0", "tags", "[]", "retries", "5", "depends", "[]").Error(); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	popped, err := call(ctx, "pop", benchNow(), "bench", "w", "1").ToString()
	if err != nil {
		return fmt.Errorf("pop: %w", err)
	}
	var jobs []struct{ Jid string }
	if err := json.Unmarshal([]byte(popped), &jobs); err != nil || len(jobs) != 1 {
		return fmt.Errorf("pop = %.80s: %v", popped, err)
	}
	got := jobs[0].Jid
	if err := call(ctx, "heartbeat", benchNow(), got, "w", `{"n":1}`).Error(); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if err := call(ctx, "complete", benchNow(), got, "w", "bench", `{"n":2}`).Error(); err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	return nil
}

// baselineJob makes 4 calls of a script that only returns 1.
func baselineJob(ctx context.Context, call caller, i int64) error {
	for k := 0; k < 4; k++ {
		if err := call(ctx, "x", "1").Error(); err != nil {
			return err
		}
	}
	return nil
}

func runLifecycles(b *testing.B, clients int, load loader, one func(context.Context, caller, int64) error, redisArgs ...string) {
	// QLESS_BENCH_ADDR points the benchmark at an existing server (e.g. one
	// being profiled) instead of a fresh one. It is FLUSHALLed.
	addr := os.Getenv("QLESS_BENCH_ADDR")
	if addr == "" {
		addr = redistest.Start(b, redisArgs...).Addr
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Do(ctx, c.B().Flushall().Build()).Error(); err != nil {
		b.Fatal(err)
	}
	call, stat, err := load(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Do(ctx, c.B().ConfigResetstat().Build()).Error(); err != nil {
		b.Fatal(err)
	}
	user0, sys0 := redisCPU(b, c)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Bool
	n := int64(b.N)
	b.ResetTimer()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := next.Add(1)
				if i > n {
					return
				}
				if err := one(ctx, call, i); err != nil {
					failed.Store(true)
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	user1, sys1 := redisCPU(b, c)
	b.ReportMetric((user1+sys1-user0-sys0)*1e6/float64(b.N), "redis-cpu-us/job")
	b.ReportMetric((user1-user0)*1e6/float64(b.N), "user-us/job")
	b.ReportMetric(usecPerCall(b, c, stat), "script-us/call")
}

// redisCPU returns used_cpu_user and used_cpu_sys of INFO cpu, in seconds.
func redisCPU(b *testing.B, c rueidis.Client) (user, sys float64) {
	info, err := c.Do(context.Background(), c.B().Info().Section("cpu").Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (k != "used_cpu_user" && k != "used_cpu_sys") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			b.Fatalf("INFO cpu %s: %v", line, err)
		}
		if k == "used_cpu_user" {
			user = f
		} else {
			sys = f
		}
	}
	return user, sys
}

// usecPerCall returns usec_per_call of cmdstat_<command>.
func usecPerCall(b *testing.B, c rueidis.Client, command string) float64 {
	info, err := c.Do(context.Background(), c.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+command+":")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "usec_per_call="); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
	}
	return 0
}

// BenchmarkCommands splits the lifecycle of the script: b.N puts, then b.N
// pops, b.N heartbeats and b.N completes, each phase reporting its own
// average script time (<command>-us/call). The sets grow to b.N entries
// here, unlike in BenchmarkLifecycle.
func BenchmarkCommands(b *testing.B) {
	srv := redistest.Start(b)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	call, stat, err := loadScript(Script())(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	jid := func(i int) string { return fmt.Sprintf("%032x", i) }
	phase := func(name string, args func(i int) []string) {
		if err := c.Do(ctx, c.B().ConfigResetstat().Build()).Error(); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
			if err := call(ctx, args(i)...).Error(); err != nil && !rueidis.IsRedisNil(err) {
				b.Fatalf("%s: %v", name, err)
			}
		}
		b.ReportMetric(usecPerCall(b, c, stat), name+"-us/call")
	}
	b.ResetTimer()
	phase("put", func(i int) []string {
		return []string{"put", benchNow(), "w", "bench", jid(i), "Bench::Job", `{"n":1}`, "0",
			"priority", "0", "tags", "[]", "retries", "5", "depends", "[]"}
	})
	phase("pop", func(i int) []string { return []string{"pop", benchNow(), "bench", "w", "1"} })
	phase("heartbeat", func(i int) []string { return []string{"heartbeat", benchNow(), jid(i), "w", `{"n":1}`} })
	phase("complete", func(i int) []string {
		return []string{"complete", benchNow(), jid(i), "w", "bench", `{"n":2}`}
	})
}
