package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is the measure of one phase at one concurrency level on one target.
// The JSON form gives durations in nanoseconds.
type Result struct {
	Target string `json:"target"`
	Phase  string `json:"phase"`
	// Clients is the number of simulated qless clients (goroutines).
	Clients int `json:"clients"`
	// Connections is the number of connections they used.
	Connections int `json:"connections"`
	// Jobs is the number of jobs done in the timed part. Fewer than
	// Config.Jobs means MaxDuration, an error or a cancellation cut it short.
	Jobs int `json:"jobs"`
	// Errors is the number of jobs that failed; FirstError says why.
	Errors     int    `json:"errors,omitempty"`
	FirstError string `json:"first_error,omitempty"`
	// Elapsed is the wall time of the timed part.
	Elapsed    time.Duration `json:"elapsed_ns"`
	JobsPerSec float64       `json:"jobs_per_sec"`
	// Latency holds the client-side latency of each qless command the phase
	// times ("put", "pop", "heartbeat", "complete") and of whole jobs
	// (LatencyJob), successful calls only.
	Latency map[string]Percentiles `json:"latency"`
	// RedisCPUPerJob is the CPU time (used_cpu_user + used_cpu_sys, summed
	// over Target.RedisAddrs) spent during the timed part, divided by Jobs.
	// It includes whatever else those servers did meanwhile. Zero when not
	// sampled.
	RedisCPUPerJob time.Duration `json:"redis_cpu_per_job_ns"`
	// EvalshaCalls is the number of script calls (EVALSHA, or FCALL of the
	// function library a router may use) the RedisAddrs served during the
	// timed part: behind a router, more than the clients sent shows the
	// router's extra calls.
	EvalshaCalls int64 `json:"evalsha_calls"`
	// EvalshaUsecPerCall is the mean time Redis spent in one script call
	// (INFO commandstats), over the same calls.
	EvalshaUsecPerCall float64 `json:"evalsha_usec_per_call"`
	// RouterCPUPerJob is the CPU time of the Target.RouterAddrs processes
	// (INFO cpu) during the timed part, divided by Jobs; zero when not
	// sampled.
	RouterCPUPerJob time.Duration `json:"router_cpu_per_job_ns,omitempty"`
	// BenchCPUPerJob is this process's CPU time during the timed part,
	// divided by Jobs: the load generator, plus any router running in this
	// process (bench --local). On a machine shared by everything, the
	// client, router and Redis CPU per job add up to what a job costs.
	BenchCPUPerJob time.Duration `json:"bench_cpu_per_job_ns,omitempty"`

	// Baseline names the target this result is compared with: the first
	// target that ran the same phase at the same level. Empty for the
	// baseline itself and when only one target ran.
	Baseline string `json:"baseline,omitempty"`
	// ThroughputRatio is JobsPerSec divided by the baseline's.
	ThroughputRatio float64 `json:"throughput_ratio,omitempty"`
	// AddedP99 is the p99 job latency minus the baseline's.
	AddedP99 time.Duration `json:"added_p99_ns,omitempty"`
	// AddedCommandP99 is the most any one command of the phase adds to its
	// p99 latency over the baseline's: the latency a router adds to a
	// request (a job is several requests in a row).
	AddedCommandP99 time.Duration `json:"added_command_p99_ns,omitempty"`
	// Round is the repetition this result belongs to (1..Report.Rounds);
	// results are compared only within their round.
	Round int `json:"round"`
}

// Summary is the median over the rounds of one target, phase and level.
type Summary struct {
	Target  string `json:"target"`
	Phase   string `json:"phase"`
	Clients int    `json:"clients"`
	// Rounds is the number of rounds with a result (jobs done).
	Rounds     int     `json:"rounds"`
	JobsPerSec float64 `json:"jobs_per_sec"`
	// RedisCPUPerJob is the median Redis CPU per job (zero when not sampled).
	RedisCPUPerJob time.Duration `json:"redis_cpu_per_job_ns"`
	// Baseline and ThroughputRatio: the median of the per-round ratios
	// with the baseline target of that round (not the ratio of medians).
	Baseline        string  `json:"baseline,omitempty"`
	ThroughputRatio float64 `json:"throughput_ratio,omitempty"`
	// AddedP99 is the median of the per-round added p99 job latencies.
	AddedP99 time.Duration `json:"added_p99_ns,omitempty"`
	// AddedCommandP99 is the median of the per-round AddedCommandP99.
	AddedCommandP99 time.Duration `json:"added_command_p99_ns,omitempty"`
}

// Report is the outcome of Run. WriteText and WriteJSON render it; neither
// modifies it.
type Report struct {
	RunID     string    `json:"run_id"`
	Started   time.Time `json:"started"`
	ScriptSHA string    `json:"script_sha"`
	Queues    int       `json:"queues"`
	// Connections is Config.Connections: 0 means one per client.
	Connections int `json:"connections_setting"`
	// Rounds is the number of repetitions (Config.Rounds, at least 1).
	Rounds int `json:"rounds"`
	// Procs is the GOMAXPROCS of the process that ran the load (and any
	// router in it): 0 when unknown.
	Procs   int      `json:"procs,omitempty"`
	Results []Result `json:"results"`
	// Summaries are filled in by WriteJSON when there were several rounds.
	Summaries []Summary `json:"summaries,omitempty"`
}

// compare returns a copy of results with the comparison fields filled in:
// each result is compared with the first result of the same phase and level
// that belongs to another, earlier target.
func compare(results []Result) []Result {
	out := make([]Result, len(results))
	copy(out, results)
	type key struct {
		phase   string
		clients int
		round   int
	}
	first := map[key]int{}
	for i := range out {
		r := &out[i]
		r.Baseline, r.ThroughputRatio, r.AddedP99, r.AddedCommandP99 = "", 0, 0, 0
		k := key{r.Phase, r.Clients, r.Round}
		b, ok := first[k]
		if !ok {
			first[k] = i
			continue
		}
		base := out[b]
		if base.Target == r.Target {
			continue
		}
		r.Baseline = base.Target
		if base.JobsPerSec > 0 {
			r.ThroughputRatio = r.JobsPerSec / base.JobsPerSec
		}
		r.AddedP99 = r.Latency[LatencyJob].P99 - base.Latency[LatencyJob].P99
		r.AddedCommandP99 = addedCommandP99(r.Latency, base.Latency)
	}
	return out
}

// addedCommandP99 is the largest p99 difference of a command timed in both
// lat and base (0 when there is none).
func addedCommandP99(lat, base map[string]Percentiles) time.Duration {
	var most time.Duration
	found := false
	for _, c := range commandOrder {
		p, ok := lat[c]
		b, okb := base[c]
		if !ok || !okb || p.Count == 0 || b.Count == 0 {
			continue
		}
		if d := p.P99 - b.P99; !found || d > most {
			most, found = d, true
		}
	}
	return most
}

// summarize returns the medians over the rounds of compared results, one
// Summary per target, phase and level, in the order they first appear.
func summarize(compared []Result) []Summary {
	type key struct {
		target, phase string
		clients       int
	}
	var order []key
	groups := map[key][]Result{}
	for _, r := range compared {
		if r.Jobs == 0 {
			continue
		}
		k := key{r.Target, r.Phase, r.Clients}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	out := make([]Summary, 0, len(order))
	for _, k := range order {
		rs := groups[k]
		s := Summary{Target: k.target, Phase: k.phase, Clients: k.clients, Rounds: len(rs)}
		var jps, cpu, ratio, added, addedCmd []float64
		for _, r := range rs {
			jps = append(jps, r.JobsPerSec)
			cpu = append(cpu, float64(r.RedisCPUPerJob))
			if r.Baseline != "" {
				s.Baseline = r.Baseline
				ratio = append(ratio, r.ThroughputRatio)
				added = append(added, float64(r.AddedP99))
				addedCmd = append(addedCmd, float64(r.AddedCommandP99))
			}
		}
		s.JobsPerSec = median(jps)
		s.RedisCPUPerJob = time.Duration(median(cpu))
		if len(ratio) > 0 {
			s.ThroughputRatio = median(ratio)
			s.AddedP99 = time.Duration(median(added))
			s.AddedCommandP99 = time.Duration(median(addedCmd))
		}
		out = append(out, s)
	}
	return out
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// commandOrder is the column order of per-command latencies.
var commandOrder = []string{"put", "pop", "heartbeat", "complete"}

// WriteText writes the report as an aligned table, one row per result. When
// several targets ran the same phase and level, a last column compares each
// with the first: its throughput ratio and the p99 job latency it adds.
func (r *Report) WriteText(w io.Writer) error {
	results := compare(r.Results)
	var cmds []string
	var anyErr, anyCPU, anyBase, anyRouterCPU, anyBenchCPU bool
	baselines := map[string]bool{}
	for _, c := range commandOrder {
		for _, res := range results {
			if _, ok := res.Latency[c]; ok {
				cmds = append(cmds, c)
				break
			}
		}
	}
	for _, res := range results {
		anyErr = anyErr || res.Errors > 0
		anyCPU = anyCPU || res.EvalshaCalls > 0 || res.RedisCPUPerJob > 0
		anyRouterCPU = anyRouterCPU || res.RouterCPUPerJob > 0
		anyBenchCPU = anyBenchCPU || res.BenchCPUPerJob > 0
		if res.Baseline != "" {
			anyBase = true
			baselines[res.Baseline] = true
		}
	}

	conn := "one per client"
	if r.Connections > 0 {
		conn = fmt.Sprintf("%d shared per target", r.Connections)
	}
	procs := ""
	if r.Procs > 0 {
		procs = fmt.Sprintf(", GOMAXPROCS %d", r.Procs)
	}
	if _, err := fmt.Fprintf(w, "qless bench run %s: script %.12s, %d queue(s), connections: %s%s\n",
		r.RunID, r.ScriptSHA, r.Queues, conn, procs); err != nil {
		return err
	}

	rounds := r.Rounds > 1
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"target", "phase", "clients", "jobs"}
	if rounds {
		head = append([]string{"round"}, head...)
	}
	if anyErr {
		head = append(head, "errors")
	}
	head = append(head, "elapsed", "jobs/s", "job p50/p99")
	for _, c := range cmds {
		head = append(head, c+" p50/p99")
	}
	if anyCPU {
		head = append(head, "redis cpu/job", "script calls/job", "us/call")
	}
	if anyRouterCPU {
		head = append(head, "router cpu/job")
	}
	if anyBenchCPU {
		head = append(head, "bench cpu/job")
	}
	if anyBase {
		name := "baseline"
		if len(baselines) == 1 {
			for b := range baselines {
				name = b
			}
		}
		head = append(head, "vs "+name+" (jobs/s, +p99 job, +p99 command)")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))

	for _, res := range results {
		row := []string{res.Target, res.Phase, fmt.Sprint(res.Clients), fmt.Sprint(res.Jobs)}
		if rounds {
			row = append([]string{fmt.Sprint(res.Round)}, row...)
		}
		if anyErr {
			row = append(row, fmt.Sprint(res.Errors))
		}
		row = append(row, fmtDur(res.Elapsed), fmt.Sprintf("%.0f", res.JobsPerSec), fmtP(res.Latency, LatencyJob))
		for _, c := range cmds {
			row = append(row, fmtP(res.Latency, c))
		}
		if anyCPU {
			if res.Jobs > 0 && (res.EvalshaCalls > 0 || res.RedisCPUPerJob > 0) {
				row = append(row, fmtDur(res.RedisCPUPerJob),
					fmt.Sprintf("%.2f", float64(res.EvalshaCalls)/float64(res.Jobs)),
					fmt.Sprintf("%.1f", res.EvalshaUsecPerCall))
			} else {
				row = append(row, "-", "-", "-")
			}
		}
		if anyRouterCPU {
			row = append(row, fmtCPU(res.RouterCPUPerJob))
		}
		if anyBenchCPU {
			row = append(row, fmtCPU(res.BenchCPUPerJob))
		}
		if anyBase {
			switch {
			case res.Baseline == "":
				row = append(row, "(baseline)")
			default:
				row = append(row, fmtVs(res.ThroughputRatio, res.AddedP99, res.AddedCommandP99, hasCommands(res.Latency)))
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rounds {
		if err := writeSummaries(w, r.Rounds, summarize(results), anyCPU, len(cmds) > 0); err != nil {
			return err
		}
	}
	for _, res := range results {
		if res.FirstError != "" {
			if _, err := fmt.Fprintf(w, "%s %s %d clients: %d errors, first: %s\n",
				res.Target, res.Phase, res.Clients, res.Errors, res.FirstError); err != nil {
				return err
			}
		}
	}
	return nil
}

// fmtCPU prints a CPU time per job, "-" when not measured.
func fmtCPU(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmtDur(d)
}

// fmtVs prints a comparison with the baseline: "0.93x +480us +120us" (the
// throughput ratio, the p99 added to a job and to a command; "-" for the
// last without per-command latencies).
func fmtVs(ratio float64, addedJob, addedCmd time.Duration, cmds bool) string {
	cmd := "-"
	if cmds {
		cmd = fmtSigned(addedCmd)
	}
	return fmt.Sprintf("%.2fx %s %s", ratio, fmtSigned(addedJob), cmd)
}

// hasCommands reports whether lat holds a command's latencies.
func hasCommands(lat map[string]Percentiles) bool {
	for _, c := range commandOrder {
		if p, ok := lat[c]; ok && p.Count > 0 {
			return true
		}
	}
	return false
}

// fmtSigned prints a duration with its sign: "+120us", "-1.30ms".
func fmtSigned(d time.Duration) string {
	if d < 0 {
		return "-" + fmtDur(-d)
	}
	return "+" + fmtDur(d)
}

// writeSummaries writes the medians over the rounds as a second table.
func writeSummaries(w io.Writer, rounds int, sums []Summary, cpu, cmds bool) error {
	if _, err := fmt.Fprintf(w, "\nmedian over %d rounds (ratios: the median of each round's ratio)\n", rounds); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"target", "phase", "clients", "rounds", "jobs/s"}
	if cpu {
		head = append(head, "redis cpu/job")
	}
	fmt.Fprintln(tw, strings.Join(append(head, "vs baseline (jobs/s, +p99 job, +p99 command)"), "\t"))
	for _, s := range sums {
		row := []string{s.Target, s.Phase, fmt.Sprint(s.Clients), fmt.Sprint(s.Rounds), fmt.Sprintf("%.0f", s.JobsPerSec)}
		if cpu {
			row = append(row, fmtDur(s.RedisCPUPerJob))
		}
		if s.Baseline == "" {
			row = append(row, "(baseline)")
		} else {
			row = append(row, fmtVs(s.ThroughputRatio, s.AddedP99, s.AddedCommandP99, cmds)+" vs "+s.Baseline)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// WriteJSON writes the report as indented JSON, with the comparison fields
// filled in, and the medians over the rounds when there were several.
func (r *Report) WriteJSON(w io.Writer) error {
	c := *r
	c.Results = compare(r.Results)
	if c.Rounds > 1 {
		c.Summaries = summarize(c.Results)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&c)
}

func fmtP(lat map[string]Percentiles, key string) string {
	p, ok := lat[key]
	if !ok || p.Count == 0 {
		return "-"
	}
	return fmtDur(p.P50) + "/" + fmtDur(p.P99)
}

// fmtDur prints a duration with three significant digits or so, in the
// unit that suits it.
func fmtDur(d time.Duration) string {
	switch {
	case d < 10*time.Microsecond:
		return fmt.Sprintf("%.2fus", float64(d)/1e3)
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fus", float64(d)/1e3)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
