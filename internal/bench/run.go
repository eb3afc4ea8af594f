package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/internal/proccpu"
)

const (
	// maxErrors stops a phase after this many failed jobs: a benchmark that
	// fails is not measuring anything.
	maxErrors = 10
	// cancelBatch is how many jids one clean-up cancel names.
	cancelBatch = 100
	// jobClass and jobData are what every benchmark job carries.
	jobClass = "QlessRouter::Bench"
	jobData  = `{"bench":true}`
)

// Latency keys of Result.Latency besides the qless command names.
const (
	// LatencyJob is the latency of one whole job in its phase: one put; one
	// pop and complete; or put, pop, heartbeat and complete.
	LatencyJob = "job"
)

// Run measures every phase of cfg at every concurrency level on every
// target, in that nesting (targets innermost, so that the targets of one
// phase and level are measured back to back), and returns the report.
//
// Each phase and level starts from fresh, empty queues of its own (names
// made of a random run id, the phase, the target and the level), and every
// job id is new (the run id and a counter), so targets may be shared with
// other users: Run never flushes anything.
//
// The error joins the failures of all phases; the report holds every phase
// that ran, failed or not (see Result.Errors), so callers should print it
// either way. A cancelled ctx stops Run within one call's time.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, log: cfg.Logger, runID: newRunID(), samplers: map[string]rueidis.Client{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("component", "bench", "run", r.runID)
	defer r.close()
	r.sha = scriptSHA(cfg.Script)

	for _, t := range cfg.Targets {
		for _, a := range append(append([]string{}, t.RedisAddrs...), t.RouterAddrs...) {
			if _, ok := r.samplers[a]; ok {
				continue
			}
			c, err := dial(a)
			if err != nil {
				return nil, fmt.Errorf("bench: target %s: sample connection: %w", t.Name, err)
			}
			r.samplers[a] = c
		}
	}

	rep := &Report{
		RunID:       r.runID,
		Started:     time.Now().UTC(),
		ScriptSHA:   r.sha,
		Queues:      cfg.Queues,
		Connections: cfg.Connections,
		Procs:       runtime.GOMAXPROCS(0),
	}
	var errs []error
	rounds := max(cfg.Rounds, 1)
	rep.Rounds = rounds
loop:
	for round := 1; round <= rounds; round++ {
		for _, phase := range cfg.Phases {
			for _, n := range cfg.Clients {
				for ti, t := range cfg.Targets {
					if err := ctx.Err(); err != nil {
						errs = append(errs, err)
						break loop
					}
					res, err := r.runPhase(ctx, ti, t, phase, n)
					if res != nil {
						res.Round = round
						rep.Results = append(rep.Results, *res)
						r.log.Info("phase done", "round", round, "target", t.Name, "phase", phase, "clients", n,
							"jobs", res.Jobs, "elapsed", res.Elapsed, "jobs_per_sec", res.JobsPerSec,
							"errors", res.Errors)
					}
					if err != nil {
						errs = append(errs, fmt.Errorf("bench: round %d, target %s, phase %s, %d clients: %w", round, t.Name, phase, n, err))
					}
				}
			}
		}
	}
	rep.Results = compare(rep.Results)
	return rep, errors.Join(errs...)
}

// runner holds the state of one Run.
type runner struct {
	cfg      Config
	log      *slog.Logger
	runID    string
	sha      string
	jidSeq   atomic.Uint64
	samplers map[string]rueidis.Client // by Redis address, for INFO
}

func (r *runner) close() {
	for _, c := range r.samplers {
		c.Close()
	}
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newJID returns a job id unique to this run: 32 lowercase hex characters
// like a stock client's, the run id and a counter.
func (r *runner) newJID() string {
	return fmt.Sprintf("%s%016x", r.runID, r.jidSeq.Add(1))
}

// worker is one simulated qless client: one goroutine, one worker name,
// one connection (possibly shared, see Config.Connections), and its own
// latency histograms, merged after the phase.
type worker struct {
	name string
	conn *scriptConn
	hist map[string]*histogram
	jids []string // every job this worker put, for clean-up
}

func (w *worker) histogram(key string) *histogram {
	h := w.hist[key]
	if h == nil {
		h = new(histogram)
		w.hist[key] = h
	}
	return h
}

// call runs one qless command and records its latency when it succeeds.
func (w *worker) call(ctx context.Context, cmd string, args ...string) rueidis.RedisResult {
	start := time.Now()
	res := w.conn.call(ctx, cmd, nowArg(start), args...)
	if res.Error() == nil {
		w.histogram(cmd).record(time.Since(start))
	}
	return res
}

func (w *worker) put(ctx context.Context, jid, queue string) error {
	got, err := w.call(ctx, "put", w.name, queue, jid, jobClass, jobData, "0",
		"priority", "0", "tags", "[]", "retries", "5", "depends", "[]").ToString()
	if err != nil {
		return fmt.Errorf("put %s into %s: %w", jid, queue, err)
	}
	w.jids = append(w.jids, jid)
	if got != jid {
		return fmt.Errorf("put %s into %s: reply %q, want the jid", jid, queue, got)
	}
	return nil
}

// pop pops one job and returns its jid.
func (w *worker) pop(ctx context.Context, queue string) (string, error) {
	text, err := w.call(ctx, "pop", queue, w.name, "1").ToString()
	if err != nil {
		return "", fmt.Errorf("pop %s: %w", queue, err)
	}
	if text == "{}" { // the script's empty list
		return "", fmt.Errorf("pop %s: no job", queue)
	}
	jid, ok := onlyJID(text)
	if !ok {
		return "", fmt.Errorf("pop %s: reply %.100q, want one job", queue, text)
	}
	return jid, nil
}

// jidKey starts the jid field of a job's JSON as the script encodes it.
const jidKey = `"jid":"`

// onlyJID returns the jid of the one job in a pop reply (a JSON array of
// job objects). It scans for the jid field instead of decoding the whole
// reply: the load generator shares the CPU with what it measures, and a
// full decode of every popped job was 6% of its process's CPU. The bench's
// jids and data hold no quote or backslash, so the one unescaped "jid":"
// of a one-job reply is that job's (a jid in the job's data would be
// escaped; dependency lists hold jids as values, never as this key).
func onlyJID(text string) (string, bool) {
	if !strings.HasPrefix(text, "[{") || !strings.HasSuffix(text, "}]") {
		return "", false
	}
	i := strings.Index(text, jidKey)
	if i < 0 || strings.Contains(text[i+len(jidKey):], jidKey) {
		return "", false
	}
	rest := text[i+len(jidKey):]
	end := strings.IndexByte(rest, '"')
	if end <= 0 {
		return "", false
	}
	return rest[:end], true
}

func (w *worker) heartbeat(ctx context.Context, jid string) error {
	if _, err := w.call(ctx, "heartbeat", jid, w.name, jobData).AsInt64(); err != nil {
		return fmt.Errorf("heartbeat %s: %w", jid, err)
	}
	return nil
}

func (w *worker) complete(ctx context.Context, jid, queue string) error {
	got, err := w.call(ctx, "complete", jid, w.name, queue, jobData).ToString()
	if err != nil {
		return fmt.Errorf("complete %s in %s: %w", jid, queue, err)
	}
	if got != "complete" {
		return fmt.Errorf("complete %s in %s: reply %q, want \"complete\"", jid, queue, got)
	}
	return nil
}

// step does the work of one job slot.
type step func(ctx context.Context, w *worker, slot int) error

// loopStats is the outcome of one bounded loop over job slots.
type loopStats struct {
	done     int // slots whose step succeeded
	attempts int // slots whose step was started
	errs     int
	firstErr error
	elapsed  time.Duration
}

// loop runs step for slots 0..n-1 over the workers, one goroutine each,
// until every slot is taken, MaxDuration has passed since the start, maxErrors
// steps have failed or ctx is done. Calls in flight at MaxDuration get a
// grace of min(5s, MaxDuration) before they are cancelled. A worker records
// the latency of every successful step under LatencyJob when timeJobs is set.
func (r *runner) loop(ctx context.Context, ws []*worker, n int, timeJobs bool, fn step) loopStats {
	start := time.Now()
	stopAt := start.Add(r.cfg.MaxDuration)
	callCtx, cancel := context.WithDeadline(ctx, stopAt.Add(min(5*time.Second, r.cfg.MaxDuration)))
	defer cancel()

	var next, done, nerr atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() {
			for {
				if callCtx.Err() != nil || nerr.Load() >= maxErrors || !time.Now().Before(stopAt) {
					return
				}
				slot := int(next.Add(1) - 1)
				if slot >= n {
					return
				}
				t0 := time.Now()
				if err := fn(callCtx, w, slot); err != nil {
					if callCtx.Err() != nil {
						return // cut by cancellation or the hard deadline: not the target's fault
					}
					if nerr.Add(1) == 1 {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					continue
				}
				if timeJobs {
					w.histogram(LatencyJob).record(time.Since(t0))
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return loopStats{
		done:     int(done.Load()),
		attempts: min(int(next.Load()), n),
		errs:     int(nerr.Load()),
		firstErr: firstErr,
		elapsed:  time.Since(start),
	}
}

var phaseTags = map[string]string{PhasePut: "put", PhasePopComplete: "popcomplete", PhaseLifecycle: "lifecycle"}

// runPhase measures one phase at one level on one target.
func (r *runner) runPhase(ctx context.Context, ti int, t Target, phase string, clients int) (*Result, error) {
	nconn := clients
	if r.cfg.Connections > 0 {
		nconn = min(r.cfg.Connections, clients)
	}
	conns := make([]*scriptConn, 0, nconn)
	defer func() {
		for _, c := range conns {
			c.client.Close()
		}
	}()
	for range nconn {
		c, err := dial(t.Addr)
		if err != nil {
			return nil, err
		}
		conns = append(conns, newScriptConn(c, t.script(r.cfg)))
	}
	// Load the script once, untimed, so that the first timed call does not
	// pay for it (the clients still handle NOSCRIPT themselves).
	if err := conns[0].load(ctx); err != nil {
		return nil, err
	}

	run8 := r.runID[:8]
	queues := make([]string, r.cfg.Queues)
	for k := range queues {
		queues[k] = fmt.Sprintf("bench-%s-%s-t%d-c%d-q%d", run8, phaseTags[phase], ti, clients, k)
	}
	queueOf := func(slot int) string { return queues[slot%len(queues)] }
	ws := make([]*worker, clients)
	for i := range ws {
		ws[i] = &worker{
			name: fmt.Sprintf("bench-%s-t%d-c%d-w%d", run8, ti, clients, i),
			conn: conns[i%len(conns)],
			hist: map[string]*histogram{},
		}
	}
	// leftovers says whether jobs may be left in the queues: always after
	// put, otherwise only when the phase did not finish.
	leftovers := true
	if !r.cfg.KeepData {
		defer func() { r.cleanup(ctx, conns[0], ws, queues, leftovers) }()
	}

	n := r.cfg.Jobs
	var fn step
	switch phase {
	case PhasePut:
		fn = func(ctx context.Context, w *worker, slot int) error {
			return w.put(ctx, r.newJID(), queueOf(slot))
		}
	case PhasePopComplete:
		pre := r.loop(ctx, ws, n, false, func(ctx context.Context, w *worker, slot int) error {
			return w.put(ctx, r.newJID(), queueOf(slot))
		})
		if pre.errs > 0 {
			return nil, fmt.Errorf("pre-put: %d of %d failed, first: %w", pre.errs, pre.attempts, pre.firstErr)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if pre.done < n {
			r.log.Warn("pre-put cut short by MaxDuration", "target", t.Name, "clients", clients, "jobs", pre.done, "want", n)
			n = pre.done
		}
		for _, w := range ws { // the pre-put is not part of the measure
			w.hist = map[string]*histogram{}
		}
		fn = func(ctx context.Context, w *worker, slot int) error {
			q := queueOf(slot) // slot i pops from the queue job i was put in
			jid, err := w.pop(ctx, q)
			if err != nil {
				return err
			}
			return w.complete(ctx, jid, q)
		}
	case PhaseLifecycle:
		fn = func(ctx context.Context, w *worker, slot int) error {
			q := queueOf(slot)
			if err := w.put(ctx, r.newJID(), q); err != nil {
				return err
			}
			// Not necessarily the job just put: another client may have
			// taken it. Each client puts before it pops, so the queue
			// never runs dry.
			jid, err := w.pop(ctx, q)
			if err != nil {
				return err
			}
			if err := w.heartbeat(ctx, jid); err != nil {
				return err
			}
			return w.complete(ctx, jid, q)
		}
	default:
		return nil, fmt.Errorf("unknown phase %q", phase)
	}

	before, sampled := r.sample(ctx, t.Name, t.RedisAddrs)
	rbefore, rsampled := r.sample(ctx, t.Name, t.RouterAddrs)
	bu0, bs0, bok := proccpu.Used()
	st := r.loop(ctx, ws, n, true, fn)
	bu1, bs1, _ := proccpu.Used()
	var delta, rdelta redisStats
	if sampled {
		after, ok := r.sample(ctx, t.Name, t.RedisAddrs)
		delta, sampled = after.sub(before), ok
	}
	if rsampled {
		after, ok := r.sample(ctx, t.Name, t.RouterAddrs)
		rdelta, rsampled = after.sub(rbefore), ok
	}

	res := &Result{
		Target:      t.Name,
		Phase:       phase,
		Clients:     clients,
		Connections: nconn,
		Jobs:        st.done,
		Errors:      st.errs,
		Elapsed:     st.elapsed,
		Latency:     map[string]Percentiles{},
	}
	if st.firstErr != nil {
		res.FirstError = st.firstErr.Error()
	}
	if st.elapsed > 0 {
		res.JobsPerSec = float64(st.done) / st.elapsed.Seconds()
	}
	merged := map[string]*histogram{}
	for _, w := range ws {
		for k, h := range w.hist {
			if merged[k] == nil {
				merged[k] = new(histogram)
			}
			merged[k].merge(h)
		}
	}
	for k, h := range merged {
		res.Latency[k] = h.percentiles()
	}
	if sampled {
		res.EvalshaCalls = delta.evalshaCalls
		if st.done > 0 {
			res.RedisCPUPerJob = delta.cpu / time.Duration(st.done)
		}
		if delta.evalshaCalls > 0 {
			res.EvalshaUsecPerCall = float64(delta.evalshaUsec) / float64(delta.evalshaCalls)
		}
	}

	if st.done > 0 {
		if rsampled {
			res.RouterCPUPerJob = rdelta.cpu / time.Duration(st.done)
		}
		if bok {
			res.BenchCPUPerJob = (bu1 + bs1 - bu0 - bs0) / time.Duration(st.done)
		}
	}

	leftovers = phase == PhasePut || st.done < r.cfg.Jobs
	var err error
	switch {
	case st.errs > 0:
		err = fmt.Errorf("%d of %d jobs failed, first: %w", st.errs, st.attempts, st.firstErr)
	case ctx.Err() != nil:
		err = ctx.Err()
	case st.done < n:
		r.log.Warn("phase cut short by MaxDuration", "target", t.Name, "phase", phase, "clients", clients,
			"jobs", st.done, "want", n, "max_duration", r.cfg.MaxDuration)
	}
	return res, err
}

// sample sums INFO samples over servers of a target (its Redis servers or
// its routers). It reports false (and logs why) when there are none or one
// could not be read.
func (r *runner) sample(ctx context.Context, target string, addrs []string) (redisStats, bool) {
	var sum redisStats
	if len(addrs) == 0 {
		return sum, false
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			continue
		}
		seen[a] = true
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := sampleRedis(sctx, r.samplers[a])
		cancel()
		if err != nil {
			r.log.Warn("cannot sample INFO; CPU figures left out", "target", target, "addr", a, "err", err)
			return sum, false
		}
		sum = sum.add(st)
	}
	return sum, true
}

// cleanup removes what a phase left on a shared target: jobs still waiting
// when there may be some (cancel skips completed ones), and the queue and
// worker names from the global listings. Best effort, bounded by
// MaxDuration; trouble is logged.
func (r *runner) cleanup(ctx context.Context, c *scriptConn, ws []*worker, queues []string, leftovers bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.MaxDuration)
	defer cancel()
	var jids, names []string
	for _, w := range ws {
		jids = append(jids, w.jids...)
		names = append(names, w.name)
	}
	warn := func(what string, err error) {
		r.log.Warn("clean-up failed", "what", what, "err", err)
	}
	if !leftovers {
		jids = nil
	}
	for chunk := range slices.Chunk(jids, cancelBatch) {
		if err := c.call(ctx, "cancel", nowArg(time.Now()), chunk...).Error(); err != nil {
			warn("cancel", err)
			break
		}
	}
	if err := c.call(ctx, "queue.forget", nowArg(time.Now()), queues...).Error(); err != nil && !rueidis.IsRedisNil(err) {
		warn("queue.forget", err)
	}
	if err := c.call(ctx, "worker.deregister", nowArg(time.Now()), names...).Error(); err != nil && !rueidis.IsRedisNil(err) {
		warn("worker.deregister", err)
	}
}
