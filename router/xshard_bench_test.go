package router

import (
	"context"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qless-router/qless-router/internal/redistest"
)

// BenchmarkCompleteNext compares `complete ... next` into a queue of the
// job's own shard (same) with one into another shard's queue: a move that
// replies after the import (cross: one transaction on the source, the
// import on the target; the directory update and the acknowledgement in the
// background), and one that replies once the move is recorded and imports
// in the background (async: CrossShard.AsyncImport). Each mode has its own
// router over its own three shards; the modes take turns, one complete
// each per iteration, so that the load of the machine weighs on them alike.
// Only the completes are timed; each is put and popped first. Reported:
// the median latency of each mode (same-us, cross-us, async-us), the ratios
// of the medians to same (cross-x, async-x), and the 99th percentile of the
// time from sending the complete until the job is in its new queue on its
// new shard (p99-visible-ms: the reply; for async, the background import).
//
//	go test -run XXX -bench CompleteNext -benchtime 2000x ./router
func BenchmarkCompleteNext(b *testing.B) {
	type mode struct {
		name   string
		x      *xcluster
		qa, qn string
		landed atomic.Int64 // when the last import landed, unix ns
		lat    []time.Duration
		vis    []time.Duration
	}
	var modes []*mode
	for _, name := range []string{"same", "cross", "async"} {
		m := &mode{name: name, x: startXClusterB(b, name == "async")}
		m.qa, m.qn = m.x.queueOnB(b, "a", "qa"), m.x.queueOnB(b, "a", "qn")
		if name != "same" {
			m.qn = m.x.queueOnB(b, "b", "qn")
		}
		m.x.r1.xhook = func(step, id string, courier bool) error {
			if step == stepAfterImport {
				m.landed.Store(time.Now().UnixNano())
			}
			return nil
		}
		modes = append(modes, m)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, m := range modes {
			b.StopTimer()
			jid := "j" + strconv.Itoa(i)
			r := m.x.r1
			if _, err := r.Qless(ctx, []string{"put", "1", "w", m.qa, jid, "K", "{}", "0"}); err != nil {
				b.Fatal(err)
			}
			if _, err := r.Qless(ctx, []string{"pop", "2", m.qa, "w", "1"}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			rep, err := r.Qless(ctx, []string{"complete", "3", jid, "w", m.qa, "{}", "next", m.qn})
			took := time.Since(start)
			b.StopTimer()
			if err != nil || rep.Str != "waiting" {
				b.Fatalf("%s: complete = %v, %v", m.name, rep, err)
			}
			r.xwg.Wait() // the background part, untimed
			visible := took
			if m.name == "async" {
				visible = time.Duration(m.landed.Load() - start.UnixNano())
			}
			m.lat = append(m.lat, took)
			m.vis = append(m.vis, visible)
			b.StartTimer()
		}
	}
	b.StopTimer()
	quantile := func(d []time.Duration, q float64) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[int(float64(len(d)-1)*q)]
	}
	same := quantile(modes[0].lat, 0.5)
	for _, m := range modes {
		med := quantile(m.lat, 0.5)
		b.ReportMetric(float64(med.Nanoseconds())/1000, m.name+"-us")
		b.ReportMetric(float64(quantile(m.vis, 0.99).Microseconds())/1000, m.name+"-p99-visible-ms")
		if m.name != "same" {
			b.ReportMetric(float64(med)/float64(same), m.name+"-x")
		}
	}
}

// startXClusterB is startXCluster for a benchmark: one router, with
// CrossShard.AsyncImport as given.
func startXClusterB(b *testing.B, async bool) *xcluster {
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
	cfg.CrossShard.AsyncImport = async
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
