package client_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/redisproc"
)

// The examples run against a redis-server started for them (emptied for
// each example, stopped by TestMain); in an application, serverAddr() is
// the address of a router of the cluster, or of the Redis that runs qless.
var exampleServer struct {
	once sync.Once
	srv  *redisproc.Server
}

func serverAddr() string {
	exampleServer.once.Do(func() {
		srv, err := redisproc.Start(context.Background(), redisproc.Config{})
		if err != nil {
			log.Fatalf("examples: redis-server: %v", err)
		}
		exampleServer.srv = srv
	})
	addr := exampleServer.srv.Addr
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		log.Fatalf("examples: %v", err)
	}
	defer rc.Close()
	if err := rc.Do(context.Background(), rc.B().Flushall().Build()).Error(); err != nil {
		log.Fatalf("examples: FLUSHALL: %v", err)
	}
	return addr
}

func stopExampleServer() {
	if exampleServer.srv != nil {
		exampleServer.srv.Stop()
	}
}

// Put jobs, pop them as a worker, complete them.
func Example() {
	ctx := context.Background()
	cfg := client.DefaultConfig()
	cfg.Addrs = []string{serverAddr()}
	cfg.WorkerName = "example-worker"
	c, err := client.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	type Email struct {
		To string `json:"to"`
	}
	q := c.Queue("emails")
	if _, err := q.Put(ctx, "SendEmail", Email{To: "ada@example.com"}, client.WithPriority(10)); err != nil {
		log.Fatal(err)
	}

	job, err := q.Pop(ctx)
	if err != nil || job == nil {
		log.Fatal("nothing to do: ", err)
	}
	var e Email
	if err := job.Decode(&e); err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.Klass, "to", e.To, "by", job.Worker)
	state, err := job.Complete(ctx)
	if err != nil {
		log.Fatal(err) // errors.Is(err, client.ErrLockLost): the job was taken away
	}
	fmt.Println(state)
	// Output:
	// SendEmail to ada@example.com by example-worker
	// complete
}

// A job moves through a pipeline of queues with Complete(WithNext).
func ExampleJob_Complete() {
	ctx := context.Background()
	cfg := client.DefaultConfig()
	cfg.Addrs = []string{serverAddr()}
	c, err := client.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	jid, err := c.Queue("resize").Put(ctx, "Resize", `{"image":"cat.png"}`)
	if err != nil {
		log.Fatal(err)
	}
	job, err := c.Queue("resize").Pop(ctx)
	if err != nil {
		log.Fatal(err)
	}
	state, err := job.Complete(ctx, client.WithNext("upload"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.JID == jid, state, job.Queue)
	// Output: true waiting upload
}

// Jobs wait for the jobs they depend on.
func ExampleWithDepends() {
	ctx := context.Background()
	cfg := client.DefaultConfig()
	cfg.Addrs = []string{serverAddr()}
	c, err := client.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	q := c.Queue("build")
	compile, _ := q.Put(ctx, "Compile", nil, client.WithJID("compile-1"))
	link, _ := q.Put(ctx, "Link", nil, client.WithJID("link-1"), client.WithDepends(compile))

	j, _ := c.Job(ctx, link)
	fmt.Println(j.JID, j.State, j.Dependencies)

	first, _ := q.Pop(ctx)
	if _, err := first.Complete(ctx); err != nil {
		log.Fatal(err)
	}
	j, _ = c.Job(ctx, link)
	fmt.Println(j.JID, j.State)
	// Output:
	// link-1 depends [compile-1]
	// link-1 waiting
}

// A recurring job puts an instance every interval. The client's clock (the
// `now` of every call) is set here to show time passing.
func ExampleQueue_Recur() {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	cfg := client.DefaultConfig()
	cfg.Addrs = []string{serverAddr()}
	cfg.Clock = func() time.Time { return now }
	c, err := client.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	q := c.Queue("reports")
	if _, err := q.Recur(ctx, "DailyReport", nil, time.Hour, client.WithJID("report")); err != nil {
		log.Fatal(err)
	}
	now = now.Add(150 * time.Minute) // instances were due at 12:00, 13:00 and 14:00
	jobs, err := q.PopMany(ctx, 10)
	if err != nil {
		log.Fatal(err)
	}
	for _, j := range jobs {
		fmt.Println(j.JID, j.SpawnedFrom)
	}
	r, _ := c.Recurring(ctx, "report")
	fmt.Println(r.Every(), r.Count)
	// Output:
	// report-1 report
	// report-2 report
	// report-3 report
	// 1h0m0s 3
}

// Listen to the events of tracked jobs.
func ExampleClient_Listen() {
	ctx := context.Background()
	cfg := client.DefaultConfig()
	cfg.Addrs = []string{serverAddr()}
	c, err := client.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	done := make(chan string, 1)
	l, err := c.Listen(ctx, client.Handlers{
		OnCompleted: func(jid string) { done <- jid },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	q := c.Queue("tracked")
	jid, _ := q.Put(ctx, "Job", nil, client.WithJID("watched"))
	j, _ := c.Job(ctx, jid)
	_ = j.Track(ctx)
	j, _ = q.Pop(ctx)
	_, _ = j.Complete(ctx)
	fmt.Println("completed:", <-done)
	// Output: completed: watched
}

// Unit-test job code without a server: a test job records what the code
// did with it.
func ExampleNewTestJob() {
	ctx := context.Background()
	// The job code under test.
	perform := func(ctx context.Context, j *client.Job) error {
		var p struct{ N int }
		if err := j.Decode(&p); err != nil {
			return j.Fail(ctx, "bad-data", err.Error())
		}
		if p.N < 0 {
			return j.Fail(ctx, "negative", fmt.Sprint(p.N))
		}
		_, err := j.Complete(ctx, client.WithData(map[string]int{"N": p.N * 2}))
		return err
	}

	j := client.NewTestJob(core.Job{JID: "j1", Klass: "Double", Data: `{"N":21}`})
	if err := perform(ctx, j); err != nil {
		fmt.Println(err)
	}
	fmt.Println(j.State, j.Data, j.TestCalls())

	bad := client.NewTestJob(core.Job{JID: "j2", Klass: "Double", Data: `{"N":-1}`})
	_ = perform(ctx, bad)
	fmt.Println(bad.State, bad.Failure.Group)
	// Output:
	// complete {"N":42} [complete j1 test-worker test-queue {"N":42}]
	// failed negative
}
