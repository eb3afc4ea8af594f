package web

import (
	"testing"
	"time"

	"github.com/qless-router/qless-router/core"
)

func TestBucketLabel(t *testing.T) {
	t.Parallel()
	for i, want := range map[int]string{0: "0s", 59: "59s", 60: "1m", 118: "59m", 119: "1h", 141: "23h", 142: "1d", 147: "6d"} {
		if got := bucketLabel(i); got != want {
			t.Errorf("bucketLabel(%d) = %q, want %q", i, got, want)
		}
	}
}

func TestHistogramBars(t *testing.T) {
	t.Parallel()
	h := make([]int64, core.HistogramSize)
	if bars := histogramBars(h); len(bars) != 60 || bars[0].Height != 0 {
		t.Errorf("empty histogram: %d bars, first height %v; want 60 bars of height 0", len(bars), bars[0].Height)
	}
	h[3], h[61], h[120] = 4, 2, 1
	bars := histogramBars(h)
	if len(bars) != 121 {
		t.Fatalf("len = %d, want 121 (cut after the last non-empty bucket)", len(bars))
	}
	for i, want := range map[int]float64{3: 100, 61: 50, 120: 25, 0: 0} {
		if bars[i].Height != want {
			t.Errorf("bars[%d].Height = %v, want %v", i, bars[i].Height, want)
		}
	}
	if bars[61].Label != "2m" || bars[60].Tick != "1m" || bars[61].Tick != "" {
		t.Errorf("bars[60..61] = %+v %+v", bars[60], bars[61])
	}
	h[147] = 8
	if bars := histogramBars(h); len(bars) != core.HistogramSize || bars[147].Label != "6d" || bars[147].Height != 100 {
		t.Errorf("full histogram: %d bars, last %+v", len(bars), bars[len(bars)-1])
	}
}

func TestFormatters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		got, want string
	}{
		{formatTime(1700000000.0), "2023-11-14 22:13:20 UTC"},
		{formatTime(int64(1700000000)), "2023-11-14 22:13:20 UTC"},
		{formatTime(0.0), "-"},
		{formatDuration(0.25), "250ms"},
		{formatDuration(1.5), "1.5s"},
		{formatDuration(90), "1m30s"},
		{formatDuration(3600), "1h0m0s"},
		{formatNumber(2), "2"},
		{formatNumber(-1.25), "-1.25"},
		{prettyJSON(`{"a":[1]}`), "{\n  \"a\": [\n    1\n  ]\n}"},
		{prettyJSON(`not json`), "not json"},
		{pathJoin("/queues", "a/b c"), "/queues/a%2Fb%20c"},
		{pathJoin("/jobs", "<x>"), "/jobs/%3Cx%3E"},
		{pageURL("running", -5, 10), "?limit=10&offset=0&state=running"},
		{pageURL("", 20, 10), "?limit=10&offset=20"},
		{escapeLabel("a\"b\\c\nd"), `a\"b\\c\nd`},
		{escapeHelp("a\\b\nc"), `a\\b\nc`},
		{formatValue(1e21), "1e+21"},
		{formatValue(3), "3"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	h := core.HistoryEntry{Queue: "q", Worker: "w", Group: "g"}
	if got := historyDetails(h); got != "queue=q worker=w group=g" {
		t.Errorf("historyDetails = %q", got)
	}
}

func TestNowArgument(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		at  time.Time
		now string
		day int64
	}{
		{time.Unix(1700000000, 500000000), "1700000000.500000", 1699920000},
		{time.Unix(86400, 0), "86400.000000", 86400},
		{time.Unix(86399, 999999000), "86399.999999", 0},
	} {
		s := &Server{clock: core.NewFakeClock(tc.at)}
		if got := s.now(); got != tc.now {
			t.Errorf("now() at %v = %q, want %q", tc.at, got, tc.now)
		}
		if got := s.nowDay(); got != tc.day {
			t.Errorf("nowDay() at %v = %d, want %d", tc.at, got, tc.day)
		}
	}
}
