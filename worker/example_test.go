package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/redisproc"
	"github.com/qless-router/qless-router/worker"
)

// exampleServer starts a throwaway redis-server for the examples; a real
// program gives the addresses of its qless-router cluster (or Redis).
func exampleServer() (addr string, stop func()) {
	s, err := redisproc.Start(context.Background(), redisproc.Config{})
	if err != nil {
		log.Fatal(err)
	}
	return s.Addr, s.Stop
}

// A worker that sends emails: it pops SendEmail jobs from the "email"
// queue, runs the handler, and completes each job when the handler returns
// nil. Here it drains after the first job; a real worker runs until
// stopped (see HandleSignals).
func Example() {
	addr, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	ccfg := client.DefaultConfig()
	ccfg.Addrs = []string{addr}
	ccfg.WorkerName = "mailer-1"
	c, err := client.New(ccfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	jid, err := c.Queue("email").Put(ctx, "SendEmail", map[string]string{"to": "ann@example.com"})
	if err != nil {
		log.Fatal(err)
	}

	cfg := worker.DefaultConfig()
	cfg.Queues = []string{"email"}
	cfg.Concurrency = 4
	w, err := worker.New(c, cfg)
	if err != nil {
		log.Fatal(err)
	}
	w.Handle("SendEmail", func(ctx context.Context, job *client.Job) error {
		var msg struct{ To string }
		if err := job.Decode(&msg); err != nil {
			return worker.Permanent(err)
		}
		fmt.Println("sending to", msg.To)
		w.Drain() // for the example: stop after this job
		return nil
	})
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
	j, err := c.Job(ctx, jid)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("job", j.State)
	// Output:
	// sending to ann@example.com
	// job complete
}

// Middleware wraps every job (Use) or the jobs of one class (the extra
// arguments of Handle). Retry gives failed jobs back to their queue with a
// backoff while they have retries left.
func ExampleWorker_Use() {
	addr, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	ccfg := client.DefaultConfig()
	ccfg.Addrs = []string{addr}
	c, err := client.New(ccfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Queue("reports").Put(ctx, "Report", nil); err != nil {
		log.Fatal(err)
	}

	cfg := worker.DefaultConfig()
	cfg.Queues = []string{"reports"}
	cfg.Interval = 10 * time.Millisecond
	w, err := worker.New(c, cfg)
	if err != nil {
		log.Fatal(err)
	}
	logging := func(next worker.Handler) worker.Handler {
		return func(ctx context.Context, job *client.Job) error {
			err := next(ctx, job)
			fmt.Printf("%s attempt %d: %v\n", job.Klass, job.Retries-job.Remaining+1, err)
			return err
		}
	}
	w.Use(worker.Retry(worker.ConstantBackoff(0)), logging)
	attempts := 0
	w.Handle("Report", func(ctx context.Context, job *client.Job) error {
		if attempts++; attempts < 3 {
			return errors.New("database busy")
		}
		w.Drain()
		return nil
	})
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", w.Stats())
	// Output:
	// Report attempt 1: database busy
	// Report attempt 2: database busy
	// Report attempt 3: <nil>
	// {Popped:3 Completed:1 Failed:0 Retried:2 Settled:2 LockLost:0 Killed:0 Errors:0 Heartbeats:0}
}

// Exec runs a program per job, in any language: the job's JSON on stdin,
// QLESS_* variables in its environment. Exit status 0 completes the job.
// (A test job stands in for a popped one here.)
func ExampleExec() {
	h, err := worker.Exec(worker.ExecConfig{
		Command: []string{"/bin/sh", "-c", `echo "$QLESS_KLASS job $QLESS_JID in $QLESS_QUEUE"; exit 3`},
	})
	if err != nil {
		log.Fatal(err)
	}
	job := client.NewTestJob(core.Job{JID: "j1", Klass: "Resize", Queue: "images"})
	err = h(context.Background(), job)
	fmt.Println(err, "/ group", worker.Group(job.Klass, err))
	// Output:
	// Resize job j1 in images
	// command ended with exit status 3 / group Resize:exit-3
}

// In ProcessPerJob mode every job runs in a child process: the program
// itself, started again. Worker.Run runs the child's one job; call
// MaybeRunChild before what main must not do in the child.
func ExampleMaybeRunChild() {
	ctx := context.Background()
	ccfg := client.DefaultConfig()
	ccfg.Addrs = []string{"127.0.0.1:6380"}
	c, err := client.New(ccfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	cfg := worker.DefaultConfig()
	cfg.Queues = []string{"images"}
	cfg.Mode = worker.ProcessPerJob
	cfg.Concurrency = 8
	cfg.HandleSignals = true
	w, err := worker.New(c, cfg)
	if err != nil {
		log.Fatal(err)
	}
	w.Handle("Thumbnail", func(ctx context.Context, job *client.Job) error {
		return nil // leaks and crashes here cannot harm the worker
	})
	if ran, err := worker.MaybeRunChild(ctx, c, w.Registry()); ran {
		if err != nil {
			log.Fatal(err)
		}
		return // the child ran its job
	}
	fmt.Fprintln(os.Stderr, "starting the worker") // the parent only
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
