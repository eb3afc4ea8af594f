package bench

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseInfo(t *testing.T) {
	t.Parallel()
	text := "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:0.500001\r\nused_cpu_sys_children:9.000000\r\n" +
		"used_cpu_user_children:9.000000\r\nused_cpu_sys_main_thread:7.0\r\n\r\n# Commandstats\r\n" +
		"cmdstat_evalsha:calls=1200,usec=36000,usec_per_call=30.00,rejected_calls=0,failed_calls=3\r\n" +
		"cmdstat_info:calls=4,usec=100,usec_per_call=25.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_fcall:calls=800,usec=20000,usec_per_call=25.00,rejected_calls=0,failed_calls=0\r\n"
	got, err := parseInfo(text)
	if err != nil {
		t.Fatal(err)
	}
	// EVALSHA and FCALL (a router calling the function library) both count.
	want := redisStats{cpu: 1750001 * time.Microsecond, evalshaCalls: 2000, evalshaUsec: 56000}
	if got != want {
		t.Errorf("parseInfo = %+v, want %+v", got, want)
	}
	if _, err := parseInfo("# Commandstats\r\n"); err == nil {
		t.Errorf("parseInfo without cpu lines: no error")
	}
	if _, err := parseInfo("used_cpu_sys:x\r\nused_cpu_user:1\r\n"); err == nil {
		t.Errorf("parseInfo with a bad number: no error")
	}
}

func TestNowArg(t *testing.T) {
	t.Parallel()
	ts := time.Unix(1700000000, 123456789)
	got := nowArg(ts)
	f, err := strconv.ParseFloat(got, 64)
	if err != nil || !strings.HasPrefix(got, "1700000000.1234") || f < 1700000000.123456 || f > 1700000000.123458 {
		t.Errorf("nowArg = %q, want about 1700000000.123457", got)
	}
	if f, err := strconv.ParseFloat(nowArg(time.Now()), 64); err != nil || f < 1.7e9 {
		t.Errorf("nowArg(now) = %v, %v: not seconds since the epoch", f, err)
	}
}

func TestNewJID(t *testing.T) {
	t.Parallel()
	r := &runner{runID: newRunID()}
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		j := r.newJID()
		if len(j) != 32 || strings.Trim(j, "0123456789abcdef") != "" {
			t.Fatalf("newJID() = %q, want 32 lowercase hex characters", j)
		}
		if seen[j] {
			t.Fatalf("newJID() = %q twice", j)
		}
		seen[j] = true
	}
	if other := (&runner{runID: newRunID()}).newJID(); seen[other] {
		t.Errorf("two runs gave the same jid %q", other)
	}
}
