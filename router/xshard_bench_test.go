package router

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/qless-router/qless-router/internal/redistest"
)

// BenchmarkCompleteNext compares `complete ... next` into a queue of the
// job's own shard with one into another shard's queue (a synchronous move:
// one transaction on the source, the import on the target, the directory
// update and the acknowledgement), through one router over three shards.
// Only the complete is timed. p99-visible-ms is the 99th percentile of the
// time from sending the complete to its reply, after which the job is in
// its new queue on its new shard (the move is synchronous).
//
//	go test -run XXX -bench CompleteNext ./router
func BenchmarkCompleteNext(b *testing.B) {
	for _, cross := range []bool{false, true} {
		name := "same-shard"
		if cross {
			name = "cross-shard"
		}
		b.Run(name, func(b *testing.B) {
			x := startXClusterB(b)
			qa := x.queueOnB(b, "a", "qa")
			next := x.queueOnB(b, "a", "qn")
			if cross {
				next = x.queueOnB(b, "b", "qn")
			}
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				jid := "j" + strconv.Itoa(i)
				if _, err := x.r1.Qless(ctx, []string{"put", "1", "w", qa, jid, "K", "{}", "0"}); err != nil {
					b.Fatal(err)
				}
				if _, err := x.r1.Qless(ctx, []string{"pop", "2", qa, "w", "1"}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				rep, err := x.r1.Qless(ctx, []string{"complete", "3", jid, "w", qa, "{}", "next", next})
				lat = append(lat, time.Since(start))
				if err != nil || rep.Str != "waiting" {
					b.Fatalf("complete = %v, %v", rep, err)
				}
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-visible-ms")
		})
	}
}

// startXClusterB is startXCluster for a benchmark.
func startXClusterB(b *testing.B) *xcluster {
	b.Helper()
	var redises []testRedis
	for _, n := range []string{"a", "b", "c"} {
		redises = append(redises, testRedis{name: n, srv: redistest.Start(b)})
	}
	var shards []Shard
	byName := make(map[string]Shard)
	for _, rd := range redises {
		s := startShardClient(b, rd.name, rd.srv.Addr)
		shards = append(shards, s)
		byName[rd.name] = s
	}
	cfg := DefaultLocalConfig()
	cfg.Name = "r1"
	r, err := NewWithShards(cfg, shards)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Stop(context.Background()) })
	return &xcluster{r1: r, r2: r, shards: byName}
}

func (x *xcluster) queueOnB(b *testing.B, shard, prefix string) string {
	for i := 0; i < 10000; i++ {
		q := prefix + "-" + strconv.Itoa(i)
		if o, _ := x.r1.Locate(q); o == shard {
			return q
		}
	}
	b.Fatalf("no queue on shard %s", shard)
	return ""
}
