//go:build chaos

package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/worker"
)

// jobData is the data of every chaos job: the queues it goes through. The
// handler completes it into the next one (a cross-shard move when the next
// queue lives on another shard) and completes it for good in the last.
type jobData struct {
	Route []string `json:"route"`
}

// next is the queue after queue on the route, "" for the last one.
func (d jobData) next(queue string) (string, bool) {
	i := slices.Index(d.Route, queue)
	if i < 0 {
		return "", false
	}
	if i == len(d.Route)-1 {
		return "", true
	}
	return d.Route[i+1], true
}

// record is what the test process knows about one job.
type record struct {
	Route     []string
	Confirmed bool           // the put answered, or the job was found after an unknown outcome
	Runs      map[string]int // handler executions per queue
}

// ledger is the test's own account of the jobs it put and ran. Safe for
// concurrent use.
type ledger struct {
	mu   sync.Mutex
	jobs map[string]*record // guarded by mu
	// anomalies are handler-side surprises (a job in a queue off its route).
	anomalies []string // guarded by mu
}

func newLedger() *ledger { return &ledger{jobs: map[string]*record{}} }

func (l *ledger) add(jid string, route []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.jobs[jid] = &record{Route: route, Runs: map[string]int{}}
}

func (l *ledger) confirm(jid string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.jobs[jid].Confirmed = true
}

func (l *ledger) ran(jid, queue string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.jobs[jid]
	if r == nil {
		l.anomalies = append(l.anomalies, fmt.Sprintf("job %s ran in %s but was never put by this test", jid, queue))
		return
	}
	r.Runs[queue]++
}

func (l *ledger) anomaly(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.anomalies = append(l.anomalies, fmt.Sprintf(format, args...))
}

// anomalyList returns the handler-side surprises.
func (l *ledger) anomalyList() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.anomalies)
}

// snapshot copies the records.
func (l *ledger) snapshot() map[string]record {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]record, len(l.jobs))
	for jid, r := range l.jobs {
		out[jid] = record{Route: r.Route, Confirmed: r.Confirmed, Runs: maps.Clone(r.Runs)}
	}
	return out
}

// loadConfig shapes the load.
type loadConfig struct {
	RunID  string
	Queues []string // one per shard, each on a different shard
	// AlsoServe are more queues the workers pop from (the burst's targets).
	AlsoServe   []string
	Jobs        int
	PutInterval time.Duration // between two puts of one producer
	Producers   int
	Workers     int // worker processes (each with its own client)
	Concurrency int // jobs at once per worker
	HopShare    float64
	Work        time.Duration // each execution's pretend work
	// PutPatience bounds the retries of one put across failures.
	PutPatience time.Duration
}

// load puts jobs and runs workers against the routers.
type load struct {
	cfg     loadConfig
	newC    func(name string) (*client.Client, error)
	led     *ledger
	putErrs atomic.Int64 // put attempts that failed (and were retried)
	unknown atomic.Int64 // puts whose outcome was unknown
	setErrs atomic.Int64 // complete-with-next calls that failed
	workers []*worker.Worker
}

// produce puts cfg.Jobs jobs (split among the producers) and returns when
// all are put or given up.
func (l *load) produce(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, l.cfg.Producers)
	for p := range l.cfg.Producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[p] = l.producer(ctx, p)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (l *load) producer(ctx context.Context, p int) error {
	c, err := l.newC(fmt.Sprintf("%s-producer-%d", l.cfg.RunID, p))
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(uint64(p), 7))
	tick := time.NewTicker(l.cfg.PutInterval)
	defer tick.Stop()
	var failed []string
	for i := p; i < l.cfg.Jobs; i += l.cfg.Producers {
		jid := fmt.Sprintf("%s-%05d", l.cfg.RunID, i)
		first := rng.IntN(len(l.cfg.Queues))
		route := []string{l.cfg.Queues[first]}
		if rng.Float64() < l.cfg.HopShare {
			route = append(route, l.cfg.Queues[(first+1+rng.IntN(len(l.cfg.Queues)-1))%len(l.cfg.Queues)])
		}
		l.led.add(jid, route)
		if err := l.put(ctx, c, jid, route); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", jid, err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("producer %d could not put %d jobs, first: %s", p, len(failed), failed[0])
	}
	return nil
}

// put puts the job, retrying across router and shard failures within
// PutPatience. After an unknown outcome it looks the job up first and puts
// it again only when it is not there, so a retry never resets a job that
// already ran.
func (l *load) put(ctx context.Context, c *client.Client, jid string, route []string) error {
	deadline := time.Now().Add(l.cfg.PutPatience)
	uncertain := false
	var last error
	for time.Now().Before(deadline) {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if uncertain {
			j, err := c.Job(cctx, jid)
			if err == nil {
				// Found, but a read shows what a shard's primary holds, not
				// what survives a failover: a write to the job (its own
				// priority again) is acknowledged only once the replicas
				// have everything the shard wrote before it (the routers'
				// --wait-replicas), the put included. Without replicas it
				// is a no-op.
				err = j.SetPriority(cctx, j.Priority)
			}
			switch {
			case err == nil:
				cancel()
				l.led.confirm(jid)
				return nil
			case errors.Is(err, client.ErrNotFound):
				uncertain = false
			default:
				last = err
			}
		}
		if !uncertain {
			_, err := c.Queue(route[0]).Put(cctx, "Hop", jobData{Route: route}, client.WithJID(jid), client.WithRetries(1000))
			if err == nil {
				cancel()
				l.led.confirm(jid)
				return nil
			}
			last = err
			l.putErrs.Add(1)
			if errors.Is(err, client.ErrOutcomeUnknown) {
				l.unknown.Add(1)
				uncertain = true
			}
		}
		cancel()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("put %s not confirmed within %v: %w", jid, l.cfg.PutPatience, last)
}

// startWorkers starts the workers; stop (idempotent) stops them and waits,
// bounded.
func (l *load) startWorkers(ctx context.Context) (stop func() error, err error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var runErrs []error
	var clients []*client.Client
	for i := range l.cfg.Workers {
		c, err := l.newC(fmt.Sprintf("%s-worker-%d", l.cfg.RunID, i))
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
		wc := worker.DefaultLocalConfig()
		wc.Queues = slices.Concat(l.cfg.Queues, l.cfg.AlsoServe)
		wc.Reserver = worker.RoundRobin()
		wc.Concurrency = l.cfg.Concurrency
		wc.Interval = 100 * time.Millisecond
		wc.StopTimeout = 5 * time.Second
		w, err := worker.New(c, wc)
		if err != nil {
			return nil, err
		}
		w.Handle("Hop", l.handle)
		l.workers = append(l.workers, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				mu.Lock()
				runErrs = append(runErrs, err)
				mu.Unlock()
			}
		}()
	}
	stopAll := func() error {
		for _, w := range l.workers {
			w.Stop()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			return errors.New("workers did not stop within 30s")
		}
		for _, c := range clients {
			c.Close()
		}
		mu.Lock()
		defer mu.Unlock()
		return errors.Join(runErrs...)
	}
	var once sync.Once
	var stopErr error
	return func() error {
		once.Do(func() { stopErr = stopAll() })
		return stopErr
	}, nil
}

// handle runs one execution of a chaos job: it counts it, pretends to work,
// and completes the job into the next queue of its route (returning
// ErrSettled), or completes it for good (returning nil).
func (l *load) handle(ctx context.Context, job *client.Job) error {
	l.led.ran(job.JID, job.Queue)
	var d jobData
	if err := job.Decode(&d); err != nil {
		l.led.anomaly("job %s: data %q: %v", job.JID, job.Data, err)
		return worker.Permanent(err)
	}
	next, ok := d.next(job.Queue)
	if !ok {
		l.led.anomaly("job %s popped from %s, which is not on its route %v", job.JID, job.Queue, d.Route)
		return worker.Permanent(fmt.Errorf("queue %s off route", job.Queue))
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(l.cfg.Work):
	}
	if next == "" {
		return nil
	}
	if _, err := job.Complete(ctx, client.WithNext(next)); err != nil {
		// The lock expires and another execution completes the move.
		l.setErrs.Add(1)
	}
	return worker.ErrSettled
}

// workerStats sums the workers' counters.
func (l *load) workerStats() worker.Stats {
	var s worker.Stats
	for _, w := range l.workers {
		ws := w.Stats()
		s.Popped += ws.Popped
		s.Completed += ws.Completed
		s.Failed += ws.Failed
		s.LockLost += ws.LockLost
		s.Errors += ws.Errors
		s.Settled += ws.Settled
		s.Retried += ws.Retried
	}
	return s
}

// burst puts n jobs of route [src, dst]. No worker serves src: the mover
// does.
func (l *load) burst(ctx context.Context, c *client.Client, src, dst string, n int) error {
	for i := range n {
		jid := fmt.Sprintf("%s-burst-%s-%04d", l.cfg.RunID, src, i)
		route := []string{src, dst}
		l.led.add(jid, route)
		if err := l.put(ctx, c, jid, route); err != nil {
			return err
		}
	}
	return nil
}

// mover pops the jobs of src and completes each into the next queue of its
// route (another shard's), with conc calls in flight, as fast as it can,
// until src holds no job (none waiting, running or scheduled) or ctx ends.
// moved counts the moves that answered.
func (l *load) mover(ctx context.Context, c *client.Client, src string, conc int, moved *atomic.Int64) {
	q := c.Queue(src)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				j, err := q.Pop(ctx)
				if err != nil || j == nil {
					if err == nil {
						if n, err := q.Counts(ctx); err == nil && n.Waiting+n.Running+n.Scheduled == 0 {
							return
						}
					}
					_ = sleepCtx(ctx, 100*time.Millisecond)
					continue
				}
				l.led.ran(j.JID, src)
				var d jobData
				next, ok := "", false
				if err := j.Decode(&d); err == nil {
					next, ok = d.next(src)
				}
				if !ok || next == "" {
					l.led.anomaly("burst job %s in %s: data %q", j.JID, src, j.Data)
					continue
				}
				if _, err := j.Complete(ctx, client.WithNext(next)); err != nil {
					l.setErrs.Add(1) // the lock expires and the job is popped again
					continue
				}
				moved.Add(1)
			}
		}()
	}
	wg.Wait()
}
