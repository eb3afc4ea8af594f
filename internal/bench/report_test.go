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
		"vs direct (jobs/s, +p99)", "(baseline)", "0.50x +150us", "1.25x -100us", "put p50/p99", "50us/100us",
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
