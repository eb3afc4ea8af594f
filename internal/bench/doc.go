// Package bench is the qless load benchmark behind `qless-router bench` and
// the package's `go test -bench` benchmarks.
//
// It talks to any address the way a stock qless client does: RESP2,
// `EVALSHA <sha> 0 <command> <now> <args...>` with `now` taken from the wall
// clock as a float (Ruby's Time.now.to_f), and SCRIPT LOAD plus one retry on
// NOSCRIPT. So the same run can measure a Redis running the script directly
// and a qless-router in front of shards, and compare the two.
//
// Each simulated client is one goroutine that issues one command at a time,
// under its own worker name. By default each has its own connection, as a
// stock qless client process has (Config.Connections). Three phases exist:
//
//   - put: put new jobs into fresh, empty queues;
//   - pop+complete: the jobs are put first (not timed), then popped one at a
//     time and completed;
//   - lifecycle: each job is put, popped, heartbeaten and completed.
//
// Every loop is bounded by Config.Jobs, Config.MaxDuration and the context.
// Latency is kept per command and per job in log-linear histograms (under
// 1% error). Around each timed part, INFO cpu and INFO commandstats of the
// target's Redis servers are sampled over separate connections, for the
// Redis CPU per job and the mean EVALSHA time.
//
// Typical use (the cmd wiring):
//
//	cfg := bench.DefaultConfig()
//	cfg.Targets = []bench.Target{
//		{Name: "direct", Addr: "127.0.0.1:6379", RedisAddrs: []string{"127.0.0.1:6379"}},
//		{Name: "router", Addr: "127.0.0.1:6380", RedisAddrs: shardAddrs},
//	}
//	cfg.Logger = logger
//	rep, err := bench.Run(ctx, cfg) // rep holds whatever ran, even with err
//	if rep != nil {
//		rep.WriteText(os.Stdout) // or rep.WriteJSON
//	}
package bench
