// Package conformance is the qless semantics conformance suite, written from
// spec/qless-protocol.md. It is a test-only helper package: production code
// never imports it.
//
// The suite talks RESP to one address exactly as a stock qless client does
// (spec 15): EVALSHA <sha> 0 <command> <now> <args...>, SCRIPT LOAD and a
// retry on NOSCRIPT, PSUBSCRIBE for events, FLUSHDB between cases. It never
// reads qless keys directly, except the raw commands qless clients issue
// themselves (MULTI/ZCARD.../EXEC for a queue's length, ZSCORE of a
// recurring job's next time). Everything else is observed through qless
// commands and pub/sub events, so the same suite runs unchanged against a
// single Redis with the script loaded and against a qless-router cluster.
//
// Cases run sequentially (they share one server) and drive every command
// with explicit `now` values.
package conformance

import (
	"crypto/sha1"
	"encoding/hex"
	"testing"
	"time"
)

// Target is the server under test.
type Target struct {
	// Addr is the host:port of a Redis or router speaking RESP.
	Addr string
	// Script is the script text to SCRIPT LOAD on NOSCRIPT (lua.Script()).
	Script string
	// Queues, if non-nil, is asked for queue names in multi-queue tests so a
	// router suite can place them on chosen shards; nil means fixed names
	// like "q1", "q2".
	Queues func(n int) []string
}

// testCase is one conformance case; run gets a harness on a flushed server.
type testCase struct {
	name string
	run  func(h *H)
}

// allCases lists every case, grouped by the spec section it checks.
func allCases() []testCase {
	var cs []testCase
	for _, group := range [][]testCase{
		generalCases(),
		jsonCases(),
		configCases(),
		getCases(),
		putCases(),
		popPeekCases(),
		concurrencyCases(),
		completeCases(),
		retentionCases(),
		failCases(),
		retryCases(),
		heartbeatCases(),
		lockCases(),
		timeoutCases(),
		cancelCases(),
		jobsCases(),
		queuesCases(),
		dependsCases(),
		recurCases(),
		statsCases(),
		workersCases(),
		trackCases(),
		tagCases(),
		priorityCases(),
		logCases(),
		historyCases(),
		eventCases(),
		multiQueueCases(),
		edgeCases(),
	} {
		cs = append(cs, group...)
	}
	return cs
}

// Run runs every conformance case against target as subtests, one after the
// other, with FLUSHDB before each.
func Run(t *testing.T, target Target) {
	t.Helper()
	if target.Addr == "" {
		t.Fatal("conformance: Target.Addr is empty")
	}
	if target.Script == "" {
		t.Fatal("conformance: Target.Script is empty")
	}
	sum := sha1.Sum([]byte(target.Script))
	s := &session{
		target:  target,
		sha:     hex.EncodeToString(sum[:]),
		timeout: 10 * time.Second,
	}
	t.Cleanup(s.close)
	seen := make(map[string]bool)
	for _, c := range allCases() {
		if seen[c.name] {
			t.Fatalf("conformance: duplicate case name %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			h := &H{t: t, s: s}
			h.flush()
			c.run(h)
		})
	}
}
