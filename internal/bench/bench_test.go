package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/qless-router/qless-router/internal/redistest"
	"github.com/qless-router/qless-router/lua"
)

// The benchmarks measure the project's qless script on a private
// redis-server, at 1, 8 and 32 clients with one connection each:
//
//	go test -run XXX -bench . ./internal/bench
//
// b.N is the number of jobs. Besides ns/op (wall time per job, without the
// set-up of connections and queues) each reports jobs/s, the Redis CPU per
// job, the p99 latency of a whole job and the mean EVALSHA time.

func BenchmarkPut(b *testing.B)         { benchmarkPhase(b, PhasePut) }
func BenchmarkPopComplete(b *testing.B) { benchmarkPhase(b, PhasePopComplete) }
func BenchmarkLifecycle(b *testing.B)   { benchmarkPhase(b, PhaseLifecycle) }

func benchmarkPhase(b *testing.B, phase string) {
	srv := redistest.Start(b)
	for _, clients := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Script = lua.Script()
			cfg.Targets = []Target{{Name: "direct", Addr: srv.Addr, RedisAddrs: []string{srv.Addr}}}
			cfg.Phases = []string{phase}
			cfg.Clients = []int{clients}
			cfg.Jobs = b.N
			cfg.MaxDuration = time.Minute
			cfg.KeepData = true // a private server: no need to tidy up
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				b.Fatalf("Run: %v", err)
			}
			res := rep.Results[0]
			if res.Jobs == 0 {
				b.Fatalf("no job done")
			}
			b.ReportMetric(float64(res.Elapsed.Nanoseconds())/float64(res.Jobs), "ns/op")
			b.ReportMetric(res.JobsPerSec, "jobs/s")
			b.ReportMetric(float64(res.RedisCPUPerJob.Nanoseconds())/1e3, "redis-cpu-us/job")
			b.ReportMetric(float64(res.Latency[LatencyJob].P99.Nanoseconds())/1e3, "p99-us/job")
			b.ReportMetric(res.EvalshaUsecPerCall, "evalsha-us/call")
		})
	}
}
