package worker_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/internal/bench"
	"github.com/qless-router/qless-router/lua"
	"github.com/qless-router/qless-router/worker"
)

// benchJobs is the number of jobs of each measure
// (QLESS_WORKER_BENCH_JOBS, default 20000).
func benchJobs(b *testing.B) int {
	n := 20000
	if v := os.Getenv("QLESS_WORKER_BENCH_JOBS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("QLESS_WORKER_BENCH_JOBS=%q", v)
		}
	}
	return n
}

const benchConcurrency = 32

// BenchmarkWorkerVsRawLifecycle compares, on one 3-shard, 3-router cluster
// and through one router, the lifecycle throughput of the raw benchmark
// (internal/bench: 32 clients, each put -> pop -> heartbeat -> complete)
// with a worker of 32 goroutines and no-op handlers fed by 32 producers
// (put -> pop -> complete; no heartbeat, the jobs end at once), the same
// with handlers that heartbeat their job once (the raw lifecycle's four
// commands per job), and the raw pop+complete phase with the worker on a
// queue filled beforehand. Metrics: jobs/s of each and their ratios.
//
//	go test -run XXX -bench WorkerVsRaw -benchtime 1x ./worker
func BenchmarkWorkerVsRawLifecycle(b *testing.B) {
	cl, _ := startCluster(b)
	router := cl.RESPAddrs()[0]
	n := benchJobs(b)
	var raw, rawPC, wl, wlhb, wpc float64
	for i := range b.N {
		cfg := bench.DefaultConfig()
		cfg.Targets = []bench.Target{{Name: "router", Addr: router, RedisAddrs: cl.ShardAddrs()}}
		cfg.Clients = []int{benchConcurrency}
		cfg.Jobs = n
		cfg.MaxDuration = time.Minute
		cfg.Phases = []string{bench.PhaseLifecycle, bench.PhasePopComplete}
		cfg.Script = lua.Script()
		rep, err := bench.Run(context.Background(), cfg)
		if err != nil {
			b.Fatalf("bench.Run: %v", err)
		}
		for _, r := range rep.Results {
			switch r.Phase {
			case bench.PhaseLifecycle:
				raw += r.JobsPerSec
			case bench.PhasePopComplete:
				rawPC += r.JobsPerSec
			}
		}
		wl += workerThroughput(b, router, fmt.Sprintf("wbench-life-%d", i), n, true, false)
		wlhb += workerThroughput(b, router, fmt.Sprintf("wbench-lifehb-%d", i), n, true, true)
		wpc += workerThroughput(b, router, fmt.Sprintf("wbench-pc-%d", i), n, false, false)
	}
	k := float64(b.N)
	raw, rawPC, wl, wlhb, wpc = raw/k, rawPC/k, wl/k, wlhb/k, wpc/k
	b.ReportMetric(raw, "raw-lifecycle-jobs/s")
	b.ReportMetric(wl, "worker-lifecycle-jobs/s")
	b.ReportMetric(wl/raw, "lifecycle-ratio")
	b.ReportMetric(wlhb, "worker-lifecycle+hb-jobs/s")
	b.ReportMetric(wlhb/raw, "lifecycle+hb-ratio")
	b.ReportMetric(rawPC, "raw-pop+complete-jobs/s")
	b.ReportMetric(wpc, "worker-pop+complete-jobs/s")
	b.ReportMetric(wpc/rawPC, "pop+complete-ratio")
	b.Logf("raw lifecycle %.0f jobs/s; worker lifecycle %.0f jobs/s (%.2f), with a heartbeat per job %.0f jobs/s (%.2f); raw pop+complete %.0f jobs/s, worker %.0f jobs/s (%.2f)",
		raw, wl, wl/raw, wlhb, wlhb/raw, rawPC, wpc, wpc/rawPC)
}

// benchClient is a client of one router only, with conns connections.
func benchClient(b *testing.B, router, name string, conns int) *client.Client {
	cfg := client.DefaultConfig()
	cfg.Addrs = []string{router}
	cfg.WorkerName = name
	cfg.Conns = conns
	cfg.Discovery = -1
	c, err := client.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// workerThroughput runs n no-op jobs through a worker of benchConcurrency
// goroutines and returns the jobs completed per second. With produce, 32
// producers put the jobs while the worker runs and the clock starts with
// the first put; otherwise the jobs are put first and only the worker is
// timed. With beat, each handler heartbeats its job once.
func workerThroughput(b *testing.B, router, queue string, n int, produce, beat bool) float64 {
	b.Helper()
	wc := benchClient(b, router, queue+"-worker", benchConcurrency)
	pc := benchClient(b, router, queue+"-producer", benchConcurrency)
	putAll := func(ctx context.Context) error {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, benchConcurrency)
		for range benchConcurrency {
			wg.Go(func() {
				q := pc.Queue(queue)
				for next.Add(1) <= int64(n) {
					if _, err := q.Put(ctx, "Noop", nil); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if !produce {
		if err := putAll(ctx); err != nil {
			b.Fatalf("pre-put: %v", err)
		}
	}
	cfg := worker.DefaultConfig()
	cfg.Queues = []string{queue}
	cfg.Concurrency = benchConcurrency
	w, err := worker.New(wc, cfg)
	if err != nil {
		b.Fatal(err)
	}
	var done atomic.Int64
	finished := make(chan struct{})
	w.Handle("Noop", func(ctx context.Context, job *client.Job) error {
		if beat {
			_, err := job.Heartbeat(ctx)
			return err
		}
		return nil
	})
	start := time.Now()
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(ctx) }()
	if produce {
		if err := putAll(ctx); err != nil {
			b.Fatalf("put: %v", err)
		}
	}
	go func() {
		for w.Stats().Completed < int64(n) && ctx.Err() == nil {
			time.Sleep(time.Millisecond) // polling a counter
		}
		done.Store(w.Stats().Completed)
		close(finished)
	}()
	<-finished
	elapsed := time.Since(start)
	w.Stop()
	if err := <-runDone; err != nil {
		b.Fatalf("Run: %v", err)
	}
	if s := w.Stats(); s.Errors != 0 || s.Failed != 0 || done.Load() < int64(n) {
		b.Fatalf("worker stats %+v, want %d completed and no error", s, n)
	}
	return float64(n) / elapsed.Seconds()
}
