package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseScriptError(t *testing.T) {
	t.Parallel()
	sha := strings.Repeat("ab", 20)
	for _, tc := range []struct {
		text string
		want string
		ok   bool
	}{
		{"user_script:1: Complete(): Job j1 does not exist script: " + sha + ", on @user_script:1.",
			"Complete(): Job j1 does not exist", true},
		{"ERR user_script:142: Put(): Arg \"jid\" missing script: " + sha + ", on @user_script:142.",
			`Put(): Arg "jid" missing`, true},
		{"ERR Error running script (call to f_" + sha + "): @user_script:12: user_script:12: Heatbeat(): Arg \"worker\" missing ",
			`Heatbeat(): Arg "worker" missing`, true},
		{"Wrong number of args calling Redis command from script script: " + sha + ", on @user_script:3.",
			"Wrong number of args calling Redis command from script", true},
		{"ERR user_script:1: Tag(): Job j does not exist", "Tag(): Job j does not exist", true},
		{"shard shard-2: connection refused", "", false},
		{"LOADING Redis is loading the dataset in memory", "", false},
	} {
		got, ok := parseScriptError(tc.text)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseScriptError(%q) = %q, %v; want %q, %v", tc.text, got, ok, tc.want, tc.ok)
		}
	}
}

func TestErrorIs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cmd, msg           string
		lockLost, notFound bool
	}{
		{"heartbeat", "Heartbeat(): Job j not currently running: waiting", true, false},
		{"heartbeat", "Heartbeat(): Job j given out to another worker: w2", true, false},
		{"heartbeat", "Heartbeat(): Job j does not exist", true, true},
		{"complete", "Complete(): Job j is not currently running: complete", true, false},
		{"complete", "Complete(): Job j has been handed out to another worker: w2", true, false},
		{"complete", "Complete(): Job j running in another queue: q2", false, false},
		{"fail", "Fail(): Job jdoes not exist", true, true},
		{"fail", "Fail(): Job j running with another worker: w2", true, false},
		{"retry", "Retry(): Job j has been given to another worker: w2", true, false},
		{"retry", "Retry(): Job j is not currently running: failed", true, false},
		{"requeue", "Requeue(): Job j does not exist", false, true},
		{"recur.update", "Recur(): No recurring job r", false, true},
		{"put", `Put(): Arg "delay" not a number: x`, false, false},
	} {
		err := error(&Error{Command: tc.cmd, Message: tc.msg})
		wrapped := fmt.Errorf("context: %w", err)
		if got := errors.Is(wrapped, ErrLockLost); got != tc.lockLost {
			t.Errorf("Is(%s %q, ErrLockLost) = %v, want %v", tc.cmd, tc.msg, got, tc.lockLost)
		}
		if got := errors.Is(wrapped, ErrNotFound); got != tc.notFound {
			t.Errorf("Is(%s %q, ErrNotFound) = %v, want %v", tc.cmd, tc.msg, got, tc.notFound)
		}
	}
	ne := &NetError{Addr: "a:1", Command: "put", MaybeApplied: true, Err: io.EOF}
	if !errors.Is(ne, ErrOutcomeUnknown) || !errors.Is(ne, io.EOF) {
		t.Errorf("NetError(MaybeApplied) does not match ErrOutcomeUnknown and io.EOF")
	}
	if want := "qless put via a:1: EOF (it may or may not have taken effect)"; ne.Error() != want {
		t.Errorf("Error() = %q, want %q", ne.Error(), want)
	}
	ne.MaybeApplied = false
	if errors.Is(ne, ErrOutcomeUnknown) {
		t.Errorf("NetError(not applied) matches ErrOutcomeUnknown")
	}
	se := &ServerError{Addr: "a:1", Command: "get", Text: "shard down"}
	if want := "qless get via a:1: shard down"; se.Error() != want {
		t.Errorf("Error() = %q, want %q", se.Error(), want)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := DefaultConfig()
	good.Addrs = []string{"127.0.0.1:6379"}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	for _, tc := range []struct {
		field string
		mod   func(*Config)
	}{
		{"Addrs", func(c *Config) { c.Addrs = nil }},
		{"URL", func(c *Config) { c.URL = "redis://x" }},
		{"Addrs[0]", func(c *Config) { c.Addrs = []string{"nohostport"} }},
		{"DialTimeout", func(c *Config) { c.DialTimeout = -1 }},
		{"Conns", func(c *Config) { c.Conns = -1 }},
		{"DownTime", func(c *Config) { c.DownTime = -1 }},
		{"DB", func(c *Config) { c.DB = -1 }},
		{"ClassDefaults", func(c *Config) { c.ClassDefaults = map[string]func(json.RawMessage) []Option{"K": nil} }},
	} {
		c := good
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("Validate with a bad %s = %v, want an error naming it", tc.field, err)
		}
	}
	c := good
	c.Addrs, c.URL = nil, "redis://:pw@127.0.0.1:7000/2"
	cl, err := New(c)
	if err != nil {
		t.Fatalf("New(URL) = %v", err)
	}
	defer cl.Close()
	if cl.opt.Password != "pw" || cl.opt.SelectDB != 2 || !cmp.Equal(cl.Routers(), []string{"127.0.0.1:7000"}) {
		t.Errorf("URL config: password %q db %d routers %v", cl.opt.Password, cl.opt.SelectDB, cl.Routers())
	}
	if cl.WorkerName() == "" || !strings.Contains(cl.WorkerName(), "-") {
		t.Errorf("default WorkerName = %q", cl.WorkerName())
	}
}

func TestNowFormat(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Addrs: []string{"127.0.0.1:1"}, Discovery: -1,
		Clock: func() time.Time { return time.Unix(1700000000, 123456000) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := c.now(), "1700000000.123456"; got != want {
		t.Errorf("now() = %q, want %q", got, want)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	o, err := collect("Put", []Option{WithPriority(1), WithTags("a"), WithPriority(2), nil}, "WithPriority", "WithTags")
	if err != nil || o.priority != 2 || !cmp.Equal(o.tags, []string{"a"}) {
		t.Fatalf("collect = %+v, %v", o, err)
	}
	if _, err := collect("Fail", []Option{WithNext("q")}, "WithData"); err == nil || !strings.Contains(err.Error(), "WithNext") {
		t.Errorf("collect(Fail, WithNext) = %v, want an error naming WithNext", err)
	}
	got := putOptions(&options{priority: 1.5, tags: nil, retries: 0, depends: []string{"x"},
		set: map[string]bool{"WithPriority": true, "WithTags": true, "WithRetries": true, "WithDepends": true}})
	want := []string{"priority", "1.5", "tags", "[]", "retries", "0", "depends", `["x"]`}
	if !cmp.Equal(got, want) {
		t.Errorf("putOptions = %v, want %v", got, want)
	}
	if got := putOptions(&options{}); got != nil {
		t.Errorf("putOptions(none) = %v, want nil", got)
	}
	if got := seconds(1500 * time.Millisecond); got != "1.5" {
		t.Errorf("seconds(1.5s) = %q", got)
	}
}

func TestRankSpreads(t *testing.T) {
	t.Parallel()
	addrs := []string{"10.0.0.1:6380", "10.0.0.2:6380", "10.0.0.3:6380"}
	count := map[string]int{}
	for i := range 3000 {
		w := fmt.Sprintf("host-%d", i)
		best := addrs[0]
		for _, a := range addrs[1:] {
			if rank(w, a) > rank(w, best) {
				best = a
			}
		}
		count[best]++
	}
	for _, a := range addrs {
		if count[a] < 800 || count[a] > 1200 {
			t.Errorf("router %s chosen by %d of 3000 workers, want about 1000", a, count[a])
		}
	}
}

func TestIsDialError(t *testing.T) {
	t.Parallel()
	_, err := net.Dial("tcp", "127.0.0.1:1")
	if err == nil {
		t.Skip("something listens on port 1")
	}
	if !isDialError(err) || !isDialError(&dialError{err: io.EOF}) || isDialError(io.EOF) {
		t.Errorf("isDialError misclassifies")
	}
}

func TestAdoptRetiresUnlistedEndpoints(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Addrs: []string{"127.0.0.1:1"}, DownTime: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.adopt([]string{"127.0.0.1:2", "127.0.0.1:3"}, false)
	c.candidates() // creates the endpoints
	busy := c.endpoints["127.0.0.1:3"]
	if !busy.acquire() {
		t.Fatal("acquire failed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.adopt([]string{"127.0.0.1:4"}, false)
		c.mu.Lock()
		_, gone2 := c.endpoints["127.0.0.1:2"]
		_, seed := c.endpoints["127.0.0.1:1"]
		_, kept3 := c.endpoints["127.0.0.1:3"]
		c.mu.Unlock()
		if !gone2 {
			if !seed || !kept3 {
				t.Fatalf("retired the seed (%v) or an endpoint in use (%v)", !seed, !kept3)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("unlisted endpoint never retired")
		}
		time.Sleep(time.Millisecond) // polling with a deadline: the grace is 2ms
	}
	busy.release()
	if got := c.Routers(); !cmp.Equal(got, []string{"127.0.0.1:4"}) {
		t.Errorf("Routers() = %v", got)
	}
}
