package web

import (
	"bufio"
	"context"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file writes /metrics in the Prometheus text exposition format
// (version 0.0.4), by hand: HTTP request counters of this server, and
// gauges of the cluster read at scrape time (queues, shards, routers).

// promWriter writes metric families in the text exposition format. The
// first write error sticks and stops further writes.
type promWriter struct {
	w   *bufio.Writer
	err error
}

// family writes the HELP and TYPE lines of a metric family.
func (p *promWriter) family(name, typ, help string) {
	p.printf("# HELP ", name, " ", escapeHelp(help), "\n# TYPE ", name, " ", typ, "\n")
}

// sample writes one sample: name{k="v",...} value. labels alternate names
// and values.
func (p *promWriter) sample(name string, value float64, labels ...string) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatValue(value))
	b.WriteByte('\n')
	p.printf(b.String())
}

func (p *promWriter) printf(parts ...string) {
	for _, s := range parts {
		if p.err != nil {
			return
		}
		_, p.err = p.w.WriteString(s)
	}
}

// escapeLabel escapes a label value: backslash, double quote and newline.
func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return r.Replace(s)
}

// escapeHelp escapes HELP text: backslash and newline.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func formatValue(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// requestKey identifies one request counter.
type requestKey struct {
	route string
	code  int
}

// requestStat is the count and total duration of requests of one key.
type requestStat struct {
	count   uint64
	seconds float64
}

// requestMetrics counts HTTP requests by route pattern and status. Safe
// for concurrent use.
type requestMetrics struct {
	mu    sync.Mutex
	stats map[requestKey]*requestStat // guarded by mu
}

func newRequestMetrics() *requestMetrics {
	return &requestMetrics{stats: make(map[requestKey]*requestStat)}
}

func (m *requestMetrics) observe(route string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := requestKey{route, code}
	st := m.stats[k]
	if st == nil {
		st = &requestStat{}
		m.stats[k] = st
	}
	st.count++
	st.seconds += d.Seconds()
}

// snapshot returns the counters sorted by route and code.
func (m *requestMetrics) snapshot() ([]requestKey, []requestStat) {
	m.mu.Lock()
	keys := make([]requestKey, 0, len(m.stats))
	for k := range m.stats {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		return keys[i].code < keys[j].code
	})
	vals := make([]requestStat, len(keys))
	for i, k := range keys {
		vals[i] = *m.stats[k]
	}
	m.mu.Unlock()
	return keys, vals
}

// handleMetrics serves /metrics. The cluster gauges come from Cluster and
// qless `queues`; qless_scrape_success tells whether they could be read.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	p := &promWriter{w: bw}

	keys, vals := s.metrics.snapshot()
	p.family("qless_http_requests_total", "counter", "HTTP requests served, by route pattern and status code.")
	for i, k := range keys {
		p.sample("qless_http_requests_total", float64(vals[i].count), "route", k.route, "code", strconv.Itoa(k.code))
	}
	p.family("qless_http_request_duration_seconds_total", "counter", "Time spent serving HTTP requests, by route pattern and status code.")
	for i, k := range keys {
		p.sample("qless_http_request_duration_seconds_total", vals[i].seconds, "route", k.route, "code", strconv.Itoa(k.code))
	}

	clusterOK, queuesOK := 1.0, 1.0
	cl, err := s.backend.Cluster(ctx)
	if err != nil {
		clusterOK = 0
		s.log.Warn("metrics: cluster", "err", err)
	} else {
		p.family("qless_shard_up", "gauge", "Whether the shard answered its last health check (1) or not (0).")
		for _, sh := range cl.Shards {
			p.sample("qless_shard_up", boolValue(sh.Healthy), "shard", sh.Name)
		}
		p.family("qless_routers", "gauge", "Live routers of the cluster, as this router sees them.")
		p.sample("qless_routers", float64(len(cl.Routers)))
		p.family("qless_ring_epoch", "gauge", "Epoch of the ring in use.")
		p.sample("qless_ring_epoch", float64(cl.Ring.Epoch))
		if len(cl.CrossShard) > 0 {
			p.family("qless_cross_shard_total", "counter", "This router's cross-shard work since it started, by event (docs/cross-shard.md).")
			events := make([]string, 0, len(cl.CrossShard))
			for e := range cl.CrossShard {
				events = append(events, e)
			}
			sort.Strings(events)
			for _, e := range events {
				p.sample("qless_cross_shard_total", float64(cl.CrossShard[e]), "event", e)
			}
		}
	}

	rows, err := s.queues(ctx)
	if err != nil {
		queuesOK = 0
		s.log.Warn("metrics: queues", "err", err)
	} else {
		p.family("qless_queue_jobs", "gauge", "Jobs of a queue by state, from qless `queues`.")
		for _, q := range rows {
			for _, st := range []struct {
				state string
				n     int64
			}{
				{"waiting", q.Waiting}, {"running", q.Running}, {"stalled", q.Stalled},
				{"scheduled", q.Scheduled}, {"depends", q.Depends}, {"recurring", q.Recurring},
			} {
				p.sample("qless_queue_jobs", float64(st.n), "queue", q.Name, "state", st.state)
			}
		}
		p.family("qless_queue_paused", "gauge", "Whether the queue is paused (1) or not (0).")
		for _, q := range rows {
			p.sample("qless_queue_paused", boolValue(q.Paused), "queue", q.Name)
		}
	}
	p.family("qless_scrape_success", "gauge", "Whether this scrape could read a part of the cluster's state (1) or not (0).")
	p.sample("qless_scrape_success", clusterOK, "part", "cluster")
	p.sample("qless_scrape_success", queuesOK, "part", "queues")

	if p.err == nil {
		p.err = bw.Flush()
	}
	if p.err != nil {
		s.log.Debug("metrics: write", "err", p.err)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// handleHealthz answers 200 when at least one shard is healthy, else 503,
// with the shards' health as JSON.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	type health struct {
		Status string      `json:"status"`
		Router string      `json:"router,omitempty"`
		Shards []ShardInfo `json:"shards"`
		Error  string      `json:"error,omitempty"`
	}
	cl, err := s.backend.Cluster(ctx)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, health{Status: "unavailable", Shards: []ShardInfo{}, Error: err.Error()})
		return
	}
	h := health{Status: "ok", Router: cl.Router, Shards: nonNil(cl.Shards)}
	status := http.StatusOK
	if !cl.Healthy() {
		h.Status = "unavailable"
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
}
