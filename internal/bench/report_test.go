package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCompareAndWriteText(t *testing.T) {
	t.Parallel()
	lat := func(p99 time.Duration) map[string]Percentiles {
		p := Percentiles{Count: 10, P50: p99 / 2, P99: p99, Max: p99}
		return map[string]Percentiles{LatencyJob: p, "put": p}
	}
	rep := &Report{RunID: "abc", ScriptSHA: "0123456789abcdef", Queues: 1, Results: []Result{
		{Target: "direct", Phase: PhasePut, Clients: 1, Jobs: 10, JobsPerSec: 1000, Elapsed: 10 * time.Millisecond, Latency: lat(100 * time.Microsecond)},
		{Target: "router", Phase: PhasePut, Clients: 1, Jobs: 10, JobsPerSec: 500, Elapsed: 20 * time.Millisecond, Latency: lat(250 * time.Microsecond)},
		{Target: "direct", Phase: PhasePut, Clients: 8, Jobs: 10, JobsPerSec: 4000, Elapsed: 2500 * time.Microsecond, Latency: lat(400 * time.Microsecond)},
		{Target: "router", Phase: PhasePut, Clients: 8, Jobs: 10, JobsPerSec: 5000, Elapsed: 2 * time.Millisecond, Latency: lat(300 * time.Microsecond)},
	}}
	got := compare(rep.Results)
	if rep.Results[1].Baseline != "" {
		t.Errorf("compare modified its input")
	}
	wants := []struct {
		base  string
		ratio float64
		added time.Duration
	}{
		{"", 0, 0},
		{"direct", 0.5, 150 * time.Microsecond},
		{"", 0, 0},
		{"direct", 1.25, -100 * time.Microsecond},
	}
	for i, w := range wants {
		g := got[i]
		if g.Baseline != w.base || g.ThroughputRatio != w.ratio || g.AddedP99 != w.added {
			t.Errorf("compare()[%d] = %q %v %s, want %q %v %s", i, g.Baseline, g.ThroughputRatio, g.AddedP99, w.base, w.ratio, w.added)
		}
	}

	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("\n%s", out)
	for _, want := range []string{
		"vs direct (jobs/s, +p99 job, +p99 command)", "(baseline)", "0.50x +150us", "1.25x -100us", "put p50/p99", "50us/100us",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("WriteText output lacks %q", want)
		}
	}
	for _, absent := range []string{"errors", "redis cpu/job", "heartbeat"} {
		if strings.Contains(out, absent) {
			t.Errorf("WriteText output has column %q though no result needs it", absent)
		}
	}

	// A single target: no ratio column.
	one := &Report{Results: rep.Results[:1]}
	b.Reset()
	if err := one.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "vs ") {
		t.Errorf("WriteText with one target has a ratio column:\n%s", b.String())
	}
}

func TestFmtDur(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{1500, "1.50us"}, {123456, "123us"}, {1234567, "1.23ms"}, {123456789, "123.5ms"}, {2 * time.Second, "2.00s"},
	}
	for _, tt := range tests {
		if got := fmtDur(tt.d); got != tt.want {
			t.Errorf("fmtDur(%d) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// With several rounds, results are compared within their round, and the
// summary takes the median of the per-round ratios.
func TestRoundsSummary(t *testing.T) {
	t.Parallel()
	lat := func(p99 time.Duration) map[string]Percentiles {
		return map[string]Percentiles{LatencyJob: {Count: 10, P50: p99 / 2, P99: p99, Max: p99}}
	}
	res := func(round int, target string, jps float64, p99 time.Duration) Result {
		return Result{Round: round, Target: target, Phase: PhaseLifecycle, Clients: 8, Jobs: 100,
			JobsPerSec: jps, Elapsed: time.Second, Latency: lat(p99), RedisCPUPerJob: time.Duration(jps)}
	}
	rep := &Report{RunID: "r", ScriptSHA: "0123456789abcdef", Queues: 1, Rounds: 3, Results: []Result{
		res(1, "direct", 1000, 100*time.Microsecond), res(1, "router", 900, 300*time.Microsecond), // 0.9
		res(2, "direct", 2000, 100*time.Microsecond), res(2, "router", 1000, 200*time.Microsecond), // 0.5: a noisy round
		res(3, "direct", 1000, 100*time.Microsecond), res(3, "router", 800, 150*time.Microsecond), // 0.8
	}}
	got := compare(rep.Results)
	if got[3].Baseline != "direct" || got[3].ThroughputRatio != 0.5 {
		t.Errorf("round 2 router compared as %q %v, want direct 0.5 (its own round's direct)", got[3].Baseline, got[3].ThroughputRatio)
	}
	sums := summarize(got)
	if len(sums) != 2 {
		t.Fatalf("summarize = %+v, want 2 summaries", sums)
	}
	d, r := sums[0], sums[1]
	if d.Target != "direct" || d.Rounds != 3 || d.JobsPerSec != 1000 || d.Baseline != "" {
		t.Errorf("direct summary = %+v", d)
	}
	if r.Target != "router" || r.ThroughputRatio != 0.8 || r.AddedP99 != 100*time.Microsecond || r.JobsPerSec != 900 || r.Baseline != "direct" {
		t.Errorf("router summary = %+v, want ratio 0.8 (median of 0.9, 0.5, 0.8), +100us, 900 jobs/s", r)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"round", "median over 3 rounds", "0.80x +100us - vs direct"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, buf.String())
		}
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median(4 1 3 2) = %v, want 2.5", m)
	}
	if m := median(nil); m != 0 {
		t.Errorf("median() = %v, want 0", m)
	}
}

func TestAddedCommandP99IsTheWorstCommand(t *testing.T) {
	ms := time.Millisecond
	base := map[string]Percentiles{
		LatencyJob: {Count: 10, P99: 4 * ms},
		"put":      {Count: 10, P99: 1 * ms},
		"pop":      {Count: 10, P99: 1 * ms},
	}
	lat := map[string]Percentiles{
		LatencyJob: {Count: 10, P99: 6 * ms},
		"put":      {Count: 10, P99: 1200 * time.Microsecond},
		"pop":      {Count: 10, P99: 1700 * time.Microsecond},
		"complete": {Count: 10, P99: 9 * ms}, // not timed in the baseline: not compared
	}
	if got := addedCommandP99(lat, base); got != 700*time.Microsecond {
		t.Errorf("addedCommandP99 = %s, want 700us (pop)", got)
	}
	res := compare([]Result{
		{Target: "direct", Phase: PhaseLifecycle, Clients: 8, Jobs: 10, JobsPerSec: 100, Latency: base},
		{Target: "router", Phase: PhaseLifecycle, Clients: 8, Jobs: 10, JobsPerSec: 90, Latency: lat},
	})
	if r := res[1]; r.AddedP99 != 2*ms || r.AddedCommandP99 != 700*time.Microsecond {
		t.Errorf("router added p99 = job %s, command %s; want 2ms, 700us", r.AddedP99, r.AddedCommandP99)
	}
	var b strings.Builder
	if err := (&Report{Results: res}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "0.90x +2.00ms +700us") {
		t.Errorf("text lacks the comparison:\n%s", b.String())
	}
}
