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

// benchWorkers is the number of concurrent goroutines driving lifecycles.
const benchWorkers = 8

// BenchmarkLifecycle measures the Redis CPU one job costs: put, pop,
// heartbeat, complete (4 EVALSHA calls, arguments as the Ruby client sends
// them), with 8 goroutines sharing one rueidis client.
//
// Metrics: redis-cpu-us/job is the growth of INFO cpu (used_cpu_user +
// used_cpu_sys) per job, network handling included; evalsha-us/call is the
// average script execution time INFO commandstats reports.
//
//	go test -run XXX -bench . ./lua
func BenchmarkLifecycle(b *testing.B) {
	runLifecycles(b, Script(), func(ctx context.Context, c rueidis.Client, sha string, i int64) error {
		now := func() string {
			return strconv.FormatFloat(float64(time.Now().UnixNano())/1e9, 'f', 6, 64)
		}
		jid := fmt.Sprintf("%032x", i)
		eval := func(args ...string) rueidis.RedisResult {
			return c.Do(ctx, c.B().Evalsha().Sha1(sha).Numkeys(0).Arg(args...).Build())
		}
		if err := eval("put", now(), "w", "bench", jid, "Bench::Job", `{"n":1}`, "0",
			"priority", "0", "tags", "[]", "retries", "5", "depends", "[]").Error(); err != nil {
			return fmt.Errorf("put: %w", err)
		}
		popped, err := eval("pop", now(), "bench", "w", "1").ToString()
		if err != nil {
			return fmt.Errorf("pop: %w", err)
		}
		var jobs []struct{ Jid string }
		if err := json.Unmarshal([]byte(popped), &jobs); err != nil || len(jobs) != 1 {
			return fmt.Errorf("pop = %.80s: %v", popped, err)
		}
		got := jobs[0].Jid
		if err := eval("heartbeat", now(), got, "w", `{"n":1}`).Error(); err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		if err := eval("complete", now(), got, "w", "bench", `{"n":2}`).Error(); err != nil {
			return fmt.Errorf("complete: %w", err)
		}
		return nil
	})
}

// BenchmarkBaseline is the floor: the same 4 EVALSHA calls per job of a
// script that only returns 1.
func BenchmarkBaseline(b *testing.B) {
	runLifecycles(b, "return 1", func(ctx context.Context, c rueidis.Client, sha string, i int64) error {
		for k := 0; k < 4; k++ {
			if err := c.Do(ctx, c.B().Evalsha().Sha1(sha).Numkeys(0).Arg("x", "1").Build()).Error(); err != nil {
				return err
			}
		}
		return nil
	})
}

type lifecycle func(ctx context.Context, c rueidis.Client, sha string, i int64) error

func runLifecycles(b *testing.B, script string, one lifecycle) {
	// QLESS_BENCH_ADDR points the benchmark at an existing server (e.g. one
	// being profiled with perf) instead of a fresh one. It is FLUSHALLed.
	addr := os.Getenv("QLESS_BENCH_ADDR")
	if addr == "" {
		addr = redistest.Start(b).Addr
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	sha, err := c.Do(ctx, c.B().ScriptLoad().Script(script).Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Do(ctx, c.B().Flushall().Build()).Error(); err != nil {
		b.Fatal(err)
	}
	if err := c.Do(ctx, c.B().ConfigResetstat().Build()).Error(); err != nil {
		b.Fatal(err)
	}
	cpu0 := redisCPU(b, c)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Bool
	n := int64(b.N)
	b.ResetTimer()
	for g := 0; g < benchWorkers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := next.Add(1)
				if i > n {
					return
				}
				if err := one(ctx, c, sha, i); err != nil {
					failed.Store(true)
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu := redisCPU(b, c) - cpu0
	b.ReportMetric(cpu*1e6/float64(b.N), "redis-cpu-us/job")
	b.ReportMetric(evalshaUsecPerCall(b, c), "evalsha-us/call")
	if testing.Verbose() {
		info, _ := c.Do(ctx, c.B().Info().Section("commandstats").Build()).ToString()
		b.Logf("commandstats after %d jobs:\n%s", b.N, info)
	}
}

// redisCPU returns used_cpu_user + used_cpu_sys of INFO cpu, in seconds.
func redisCPU(b *testing.B, c rueidis.Client) float64 {
	info, err := c.Do(context.Background(), c.B().Info().Section("cpu").Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	total := 0.0
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("INFO cpu %s: %v", line, err)
			}
			total += f
		}
	}
	return total
}

// evalshaUsecPerCall returns usec_per_call of cmdstat_evalsha.
func evalshaUsecPerCall(b *testing.B, c rueidis.Client) float64 {
	info, err := c.Do(context.Background(), c.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:")
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

// BenchmarkCommands splits the lifecycle: b.N puts, then b.N pops, b.N
// heartbeats and b.N completes, each phase reporting its own average script
// time (<command>-us/call, INFO commandstats).
func BenchmarkCommands(b *testing.B) {
	srv := redistest.Start(b)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Do(ctx, c.B().ScriptLoad().Script(Script()).Build()).Error(); err != nil {
		b.Fatal(err)
	}
	eval := func(args ...string) rueidis.RedisResult {
		return c.Do(ctx, c.B().Evalsha().Sha1(SHA()).Numkeys(0).Arg(args...).Build())
	}
	jid := func(i int) string { return fmt.Sprintf("%032x", i) }
	phase := func(name string, args func(i int) []string) {
		if err := c.Do(ctx, c.B().ConfigResetstat().Build()).Error(); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < b.N; i++ {
			if err := eval(args(i)...).Error(); err != nil && !rueidis.IsRedisNil(err) {
				b.Fatalf("%s: %v", name, err)
			}
		}
		b.ReportMetric(evalshaUsecPerCall(b, c), name+"-us/call")
	}
	b.ResetTimer()
	phase("put", func(i int) []string {
		return []string{"put", "1000", "w", "bench", jid(i), "Bench::Job", `{"n":1}`, "0",
			"priority", "0", "tags", "[]", "retries", "5", "depends", "[]"}
	})
	phase("pop", func(i int) []string { return []string{"pop", "1001", "bench", "w", "1"} })
	phase("heartbeat", func(i int) []string { return []string{"heartbeat", "1002", jid(i), "w", `{"n":1}`} })
	phase("complete", func(i int) []string { return []string{"complete", "1003", jid(i), "w", "bench", `{"n":2}`} })
}
