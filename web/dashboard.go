package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/qless-router/qless-router/core"
)

//go:embed assets
var assets embed.FS

// staticHandler serves the embedded CSS and script.
func staticHandler() http.Handler {
	sub, err := fs.Sub(assets, "assets/static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fileServer := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fileServer.ServeHTTP(w, r)
	})
}

// pageNames are the dashboard's page templates (assets/templates/<name>.html),
// each rendered inside layout.html.
var pageNames = []string{
	"overview", "queue", "job", "failed", "failed_group", "workers", "worker",
	"tags", "tag", "tracked", "completed", "config", "error",
}

// parsePages parses every page template with the layout and the shared
// partials.
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(templateFuncs()).
		ParseFS(assets, "assets/templates/layout.html", "assets/templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(assets, "assets/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// view is what every page template receives.
type view struct {
	// Title is the page's title; Nav names the active navigation entry.
	Title string
	Nav   string
	// Refresh is the auto-refresh interval in seconds (0: none).
	Refresh int
	// Now is the time of the request (the server's clock).
	Now time.Time
	// Data is the page's own data.
	Data any
}

// pageFunc serves one dashboard page: it returns the template name, the
// title and the page's data, or an error that becomes an error page.
type pageFunc func(r *http.Request) (name, title string, data any, err error)

// page wraps a pageFunc: a deadline for the backend calls, the template
// rendered into a buffer (so that a failure gives a clean error page), and
// errors mapped to statuses as in the API.
func (s *Server) page(fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		name, title, data, err := fn(r.WithContext(ctx))
		status := http.StatusOK
		if err != nil {
			f := classify(err)
			if f.Status >= 500 {
				s.log.Warn("dashboard request failed", "path", r.URL.Path, "status", f.Status, "err", err)
			}
			status, name, title, data = f.Status, "error", http.StatusText(f.Status), f
		}
		v := view{Title: title, Nav: navOf(name), Now: s.clock.Now(), Data: data,
			Refresh: int(s.cfg.RefreshInterval / time.Second)}
		var buf bytes.Buffer
		if err := s.pages[name].ExecuteTemplate(&buf, "layout.html", v); err != nil {
			s.log.Error("render page", "page", name, "err", err)
			http.Error(w, "500 internal error: render "+name, http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
	}
}

func navOf(page string) string {
	switch page {
	case "queue":
		return "overview"
	case "failed_group":
		return "failed"
	case "worker":
		return "workers"
	case "tag":
		return "tags"
	}
	return page
}

// overviewData is the overview page: each part carries its own error, so
// that the cluster's health shows even when a fan-out fails.
type overviewData struct {
	Cluster    *Cluster
	ClusterErr *failure
	Queues     []queueRow
	QueuesErr  *failure
	Failed     *failedGroups
	FailedErr  *failure
}

func errPart(err error) *failure {
	if err == nil {
		return nil
	}
	f := classify(err)
	return &f
}

func (s *Server) pageOverview(r *http.Request) (string, string, any, error) {
	ctx := r.Context()
	var d overviewData
	cl, err := s.backend.Cluster(ctx)
	if err != nil {
		d.ClusterErr = errPart(err)
	} else {
		d.Cluster = &cl
	}
	d.Queues, err = s.queues(ctx)
	d.QueuesErr = errPart(err)
	d.Failed, err = s.failedGroups(ctx)
	d.FailedErr = errPart(err)
	return "overview", "Overview", d, nil
}

// queueData is the queue page: one state's listing.
type queueData struct {
	*queuePage
	State  string
	States []string
	List   stateJobs
}

func (s *Server) pageQueue(r *http.Request) (string, string, any, error) {
	pg, err := s.pageOf(r)
	if err != nil {
		return "", "", nil, err
	}
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "waiting"
	}
	name := r.PathValue("q")
	p, err := s.queuePage(r.Context(), name, []string{state}, pg)
	if err != nil {
		return "", "", nil, err
	}
	return "queue", "Queue " + name, queueData{queuePage: p, State: state, States: queueStates, List: p.Jobs[state]}, nil
}

func (s *Server) pageJob(r *http.Request) (string, string, any, error) {
	jid := r.PathValue("jid")
	p, err := s.job(r.Context(), jid)
	if err != nil {
		return "", "", nil, err
	}
	return "job", "Job " + jid, p, nil
}

// handleFindJob redirects the job search form (?jid=) to the job's page.
func (s *Server) handleFindJob(w http.ResponseWriter, r *http.Request) {
	jid := strings.TrimSpace(r.URL.Query().Get("jid"))
	if jid == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, pathJoin("/jobs", jid), http.StatusSeeOther)
}

func (s *Server) pageCompleted(r *http.Request) (string, string, any, error) {
	pg, err := s.pageOf(r)
	if err != nil {
		return "", "", nil, err
	}
	p, err := s.completed(r.Context(), pg)
	return "completed", "Completed jobs", p, err
}

func (s *Server) pageFailed(r *http.Request) (string, string, any, error) {
	p, err := s.failedGroups(r.Context())
	return "failed", "Failed jobs", p, err
}

func (s *Server) pageFailedGroup(r *http.Request) (string, string, any, error) {
	pg, err := s.pageOf(r)
	if err != nil {
		return "", "", nil, err
	}
	group := r.PathValue("group")
	p, err := s.failedPage(r.Context(), group, pg)
	return "failed_group", "Failed: " + group, p, err
}

func (s *Server) pageWorkers(r *http.Request) (string, string, any, error) {
	p, err := s.workers(r.Context())
	return "workers", "Workers", p, err
}

func (s *Server) pageWorker(r *http.Request) (string, string, any, error) {
	name := r.PathValue("name")
	p, err := s.workerPage(r.Context(), name)
	return "worker", "Worker " + name, p, err
}

func (s *Server) pageTags(r *http.Request) (string, string, any, error) {
	pg, err := s.pageOf(r)
	if err != nil {
		return "", "", nil, err
	}
	p, err := s.topTags(r.Context(), pg)
	return "tags", "Tags", p, err
}

func (s *Server) pageTag(r *http.Request) (string, string, any, error) {
	pg, err := s.pageOf(r)
	if err != nil {
		return "", "", nil, err
	}
	tag := r.PathValue("tag")
	p, err := s.tagPage(r.Context(), tag, pg)
	return "tag", "Tag " + tag, p, err
}

func (s *Server) pageTracked(r *http.Request) (string, string, any, error) {
	p, err := s.tracked(r.Context())
	return "tracked", "Tracked jobs", p, err
}

func (s *Server) pageConfig(r *http.Request) (string, string, any, error) {
	raw, err := s.config(r.Context())
	if err != nil {
		return "", "", nil, err
	}
	return "config", "Configuration", configEntries(raw), nil
}

// bar is one bucket of a histogram chart.
type bar struct {
	Label string
	Count int64
	// Height is the bar's height in percent of the largest bucket.
	Height float64
	// Tick is the axis label shown under the bar ("" for most bars).
	Tick string
}

// histogramBars turns a stats histogram (s0..s59, m1..m59, h1..h23,
// d1..d6) into bars, cut after the last non-empty bucket (at least one
// minute's worth shown).
func histogramBars(h []int64) []bar {
	last, top := 59, int64(0)
	for i, n := range h {
		if n > 0 {
			last = max(last, i)
		}
		top = max(top, n)
	}
	last = min(last, len(h)-1)
	bars := make([]bar, 0, last+1)
	for i := 0; i <= last; i++ {
		b := bar{Label: bucketLabel(i), Count: h[i]}
		if top > 0 {
			b.Height = math.Round(float64(h[i])*1000/float64(top)) / 10
		}
		switch i {
		case 0, 30, 60, 89, 119, 130, 142:
			b.Tick = b.Label
		}
		bars = append(bars, b)
	}
	return bars
}

// bucketLabel names histogram bucket i: 0s..59s, 1m..59m, 1h..23h, 1d...
func bucketLabel(i int) string {
	switch {
	case i < 60:
		return strconv.Itoa(i) + "s"
	case i < 119:
		return strconv.Itoa(i-59) + "m"
	case i < 142:
		return strconv.Itoa(i-118) + "h"
	default:
		return strconv.Itoa(i-141) + "d"
	}
}

// templateFuncs are the helpers the templates use.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"path":      pathJoin,
		"pageURL":   pageURL,
		"ts":        formatTime,
		"dur":       formatDuration,
		"num":       formatNumber,
		"pretty":    prettyJSON,
		"details":   historyDetails,
		"bars":      histogramBars,
		"add":       func(a, b int) int { return a + b },
		"sub":       func(a, b int) int { return max(a-b, 0) },
		"raw":       func(m json.RawMessage) string { return string(m) },
		"hasPrefix": strings.HasPrefix,
	}
}

// pathJoin builds a dashboard path from a fixed prefix and escaped
// segments: path "/queues" q gives /queues/<q escaped>.
func pathJoin(prefix string, segs ...string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// pageURL gives the query string of another page of a listing, keeping
// the state when there is one.
func pageURL(state string, offset, limit int) string {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("offset", strconv.Itoa(max(offset, 0)))
	q.Set("limit", strconv.Itoa(limit))
	return "?" + q.Encode()
}

// formatTime renders seconds since the epoch as a UTC time; 0 as "-".
func formatTime(v any) string {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int64:
		f = float64(x)
	case int:
		f = float64(x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05 UTC")
	default:
		return fmt.Sprint(v)
	}
	if f == 0 || !finite(f) {
		return "-"
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format("2006-01-02 15:04:05 UTC")
}

// formatDuration renders seconds as a short duration (1.5s, 2m3s).
func formatDuration(sec float64) string {
	if !finite(sec) {
		return "-"
	}
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// formatNumber renders a number without needless digits.
func formatNumber(f float64) string {
	if !finite(f) {
		return fmt.Sprint(f)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// prettyJSON indents JSON text, or returns it unchanged if it is not JSON.
func prettyJSON(s string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		return s
	}
	return b.String()
}

// historyDetails renders the details of a history entry as key=value
// pairs.
func historyDetails(h core.HistoryEntry) string {
	var parts []string
	if h.Queue != "" {
		parts = append(parts, "queue="+h.Queue)
	}
	if h.Worker != "" {
		parts = append(parts, "worker="+h.Worker)
	}
	if h.Group != "" {
		parts = append(parts, "group="+h.Group)
	}
	keys := make([]string, 0, len(h.Extra))
	for k := range h.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+string(h.Extra[k]))
	}
	return strings.Join(parts, " ")
}
