package web_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/web"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []web.Config{web.DefaultConfig(), web.DefaultLocalConfig()} {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", c, err)
		}
	}
	bad := web.Config{PageSize: 10, MaxPageSize: 5, RefreshInterval: -1}
	err := bad.Validate()
	if err == nil {
		t.Fatal("Validate of a zero config = nil, want errors")
	}
	for _, field := range []string{"Addr", "RequestTimeout", "ReadHeaderTimeout", "IdleTimeout", "PageSize", "RefreshInterval"} {
		if !strings.Contains(err.Error(), "Config."+field) {
			t.Errorf("Validate error %q does not name %s", err, field)
		}
	}
	if _, err := web.New(bad, newFake()); err == nil {
		t.Error("New with a bad config = nil error")
	}
	if _, err := web.New(web.DefaultLocalConfig(), nil); err == nil {
		t.Error("New with a nil backend = nil error")
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	const token = "s3cret"
	s := newTestServer(t, standardFake(), func(c *web.Config) { c.Token = token })
	h := s.Handler()
	tests := []struct {
		name   string
		path   string
		hdr    []string
		status int
	}{
		{"api without token", "/api/queues", nil, 401},
		{"api wrong bearer", "/api/queues", []string{"Authorization", "Bearer nope"}, 401},
		{"api wrong scheme", "/api/queues", []string{"Authorization", "Basic " + token}, 401},
		{"api bearer", "/api/queues", []string{"Authorization", "Bearer " + token}, 200},
		{"api bearer lower-case", "/api/queues", []string{"Authorization", "bearer " + token}, 200},
		{"api query token", "/api/queues?token=" + token, nil, 200},
		{"api wrong query token", "/api/queues?token=x", nil, 401},
		{"api cookie", "/api/queues", []string{"Cookie", "qless_token=" + token}, 200},
		{"api wrong cookie", "/api/queues", []string{"Cookie", "qless_token=x"}, 401},
		{"post without token", "/api/queues/q1/pause", nil, 401},
		{"dashboard without token", "/", nil, 401},
		{"dashboard query token", "/?token=" + token, nil, 200},
		{"dashboard cookie", "/workers", []string{"Cookie", "qless_token=" + token}, 200},
		{"metrics without token", "/metrics", nil, 401},
		{"metrics bearer", "/metrics", []string{"Authorization", "Bearer " + token}, 200},
		{"healthz open", "/healthz", nil, 200},
		{"static open", "/static/style.css", nil, 200},
		{"unknown api without token", "/api/nope", nil, 401},
	}
	for _, tc := range tests {
		method := "GET"
		if strings.HasSuffix(tc.path, "/pause") {
			method = "POST"
		}
		resp := do(t, h, method, tc.path, "", tc.hdr...)
		body := readBody(t, resp)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s %s = %d, want %d; body %s", tc.name, method, tc.path, resp.StatusCode, tc.status, body)
		}
		if tc.status == 401 {
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
			}
			if strings.Contains(body, "q1") {
				t.Errorf("%s: 401 body leaks data: %s", tc.name, body)
			}
		}
	}
	// Refused requests count under the route they would have matched.
	m := parseMetrics(t, readBody(t, do(t, h, "GET", "/metrics", "", "Authorization", "Bearer "+token)))
	if got := m[`qless_http_requests_total{route="GET /api/queues",code="401"}`]; got != 5 {
		t.Errorf("401s of GET /api/queues counted %v, want 5", got)
	}

	// ?token= on a dashboard page sets the cookie the dashboard's links use.
	resp := do(t, h, "GET", "/?token="+token, "")
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "qless_token" {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != token || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie after ?token= = %+v, want qless_token=%s HttpOnly SameSite=Strict", cookie, token)
	}
}

// sampleLine is one sample of the text exposition format:
// name{label="value",...} value.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*\})? (\S+)$`)

// parseMetrics checks every line of a /metrics body and returns the
// samples by their line text without the value.
func parseMetrics(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := make(map[string]float64)
	typed := make(map[string]bool)
	sc := bufio.NewScanner(strings.NewReader(body))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			continue
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 || (f[3] != "counter" && f[3] != "gauge") {
				t.Errorf("line %d: bad TYPE line %q", n, line)
			}
			typed[f[2]] = true
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line %d: not name{labels} value: %q", n, line)
			continue
		}
		if !typed[m[1]] {
			t.Errorf("line %d: sample of %s before its TYPE line", n, m[1])
		}
		v, err := strconv.ParseFloat(m[len(m)-1], 64)
		if err != nil {
			t.Errorf("line %d: value %q: %v", n, m[len(m)-1], err)
		}
		key := strings.TrimSuffix(line, " "+m[len(m)-1])
		if _, dup := out[key]; dup {
			t.Errorf("line %d: sample %s repeated", n, key)
		}
		out[key] = v
	}
	return out
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	f := standardFake()
	f.on("queues", str(`[{"name":"q1","waiting":3,"stalled":1,"running":2,"scheduled":4,"depends":5,"recurring":1,"paused":false},`+
		`{"name":"we\"ird\\q\nx","waiting":7,"stalled":0,"running":0,"scheduled":0,"depends":0,"recurring":0,"paused":true}]`))
	s := newTestServer(t, f, nil)
	h := s.Handler()
	do(t, h, "GET", "/api/queues", "")
	do(t, h, "GET", "/api/queues", "")
	do(t, h, "GET", "/api/jobs/missing", "")
	do(t, h, "GET", "/jobs/j1", "")
	do(t, h, "GET", "/nope", "")
	do(t, h, "DELETE", "/api/queues", "")
	resp := do(t, h, "GET", "/metrics", "")
	body := readBody(t, resp)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	got := parseMetrics(t, body)
	want := map[string]float64{
		`qless_http_requests_total{route="GET /api/queues",code="200"}`:     2,
		`qless_http_requests_total{route="GET /api/jobs/{jid}",code="404"}`: 1,
		`qless_http_requests_total{route="GET /jobs/{jid}",code="200"}`:     1,
		`qless_http_requests_total{route="unmatched",code="404"}`:           1,
		`qless_http_requests_total{route="unmatched",code="405"}`:           1,
		`qless_queue_jobs{queue="q1",state="waiting"}`:                      3,
		`qless_queue_jobs{queue="q1",state="running"}`:                      2,
		`qless_queue_jobs{queue="q1",state="stalled"}`:                      1,
		`qless_queue_jobs{queue="q1",state="scheduled"}`:                    4,
		`qless_queue_jobs{queue="q1",state="depends"}`:                      5,
		`qless_queue_jobs{queue="q1",state="recurring"}`:                    1,
		`qless_queue_jobs{queue="we\"ird\\q\nx",state="waiting"}`:           7,
		`qless_queue_paused{queue="q1"}`:                                    0,
		`qless_queue_paused{queue="we\"ird\\q\nx"}`:                         1,
		`qless_shard_up{shard="s1"}`:                                        1,
		`qless_shard_up{shard="s2"}`:                                        0,
		`qless_routers`:                                                     2,
		`qless_ring_epoch`:                                                  3,
		`qless_cross_shard_total{event="moves"}`:                            4,
		`qless_cross_shard_total{event="delivered"}`:                        3,
		`qless_cross_shard_total{event="failures"}`:                         1,
		`qless_scrape_success{part="cluster"}`:                              1,
		`qless_scrape_success{part="queues"}`:                               1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}

	// A failing fan-out shows as a failed scrape, not a failed /metrics.
	f.on("queues", fail(core.NewFanOutError(map[string]error{"s2": errors.New("down")})))
	resp = do(t, h, "GET", "/metrics", "")
	got = parseMetrics(t, readBody(t, resp))
	if resp.StatusCode != 200 || got[`qless_scrape_success{part="queues"}`] != 0 {
		t.Errorf("metrics with queues failing: status %d, scrape_success = %v", resp.StatusCode, got[`qless_scrape_success{part="queues"}`])
	}
	if got[`qless_http_requests_total{route="GET /metrics",code="200"}`] != 1 {
		t.Errorf("the first /metrics request is not counted")
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		shards []web.ShardInfo
		err    error
		status int
		want   string
	}{
		{"one healthy", []web.ShardInfo{{Name: "s1", Healthy: false}, {Name: "s2", Healthy: true}}, nil, 200,
			`{"status":"ok","router":"r1","shards":[{"name":"s1","healthy":false},{"name":"s2","healthy":true}]}`},
		{"none healthy", []web.ShardInfo{{Name: "s1"}, {Name: "s2"}}, nil, 503,
			`{"status":"unavailable","router":"r1","shards":[{"name":"s1","healthy":false},{"name":"s2","healthy":false}]}`},
		{"no shards", nil, nil, 503, `{"status":"unavailable","router":"r1","shards":[]}`},
		{"cluster error", nil, core.ErrNoShards, 503, `{"status":"unavailable","shards":[],"error":"no shards"}`},
	}
	for _, tc := range tests {
		f := newFake()
		f.cluster.Shards, f.clusterErr = tc.shards, tc.err
		s := newTestServer(t, f, func(c *web.Config) { c.Token = "tok" })
		resp := do(t, s.Handler(), "GET", "/healthz", "")
		body := readBody(t, resp)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if diff := cmpJSON(t, tc.want, body); diff != "" {
			t.Errorf("%s: body (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestServer(t, standardFake(), nil)
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop before Start = %v", err)
	}
	if err := s.Start(ctx); !errors.Is(err, core.ErrStopped) {
		t.Fatalf("Start after Stop = %v, want ErrStopped", err)
	}

	s = newTestServer(t, standardFake(), nil)
	if s.Addr() != nil {
		t.Errorf("Addr before Start = %v, want nil", s.Addr())
	}
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	if err := s.Start(ctx); err == nil {
		t.Error("second Start = nil, want an error")
	}
	base := "http://" + s.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}
	for _, p := range []string{"/healthz", "/api/queues", "/", "/metrics"} {
		resp, err := client.Get(base + p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d, want 200", p, resp.StatusCode)
		}
	}
	client.CloseIdleConnections()
	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Stop(stopCtx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(stopCtx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Error("GET after Stop succeeded")
	}

	// An address in use fails Start.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s2 := newTestServer(t, standardFake(), func(c *web.Config) { c.Addr = ln.Addr().String() })
	if err := s2.Start(ctx); err == nil {
		_ = s2.Stop(ctx)
		t.Errorf("Start on %s, which is in use, = nil", ln.Addr())
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	t.Parallel()
	f := standardFake()
	s := newTestServer(t, f, nil)
	resp := do(t, s.Handler(), "POST", "/api/queues/q1/pause", "", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST = %d, want 403", resp.StatusCode)
	}
	if calls := f.takeCalls(); len(calls) != 0 {
		t.Errorf("cross-site POST made qless calls %q", calls)
	}
	resp = do(t, s.Handler(), "POST", "/api/queues/q1/pause", "", "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("same-origin POST = %d, want 200", resp.StatusCode)
	}
	resp = do(t, s.Handler(), "GET", "/api/queues", "", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("cross-site GET = %d, want 200", resp.StatusCode)
	}
}
