package lua

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/internal/redistest"
)

// TestDifferential runs the same random qless command sequences against
// Script() and an older script text on two fresh servers and compares, after
// every command, the replies, the published messages and the whole keyspace.
// It is how a change meant to be invisible (a speed-up) is checked:
//
//	git show <rev>:lua/src/... # assemble the old text, e.g. with
//	git stash; go run ./cmd/qless-router script > /tmp/old.lua; git stash pop
//	QLESS_DIFF_OLD=/tmp/old.lua go test -run TestDifferential ./lua
//
// QLESS_DIFF_STEPS sets the commands per sequence (default 1500). Without
// QLESS_DIFF_OLD the test is skipped. What Redis leaves to chance is
// normalised: SMEMBERS order (dependents, dependencies, failed groups, the
// dependent named by a cancel error), the field order of hashes in the
// hashtable encoding, and the order of messages within one command. Error
// texts are compared without line numbers and script SHA.
func TestDifferential(t *testing.T) {
	oldPath := os.Getenv("QLESS_DIFF_OLD")
	if oldPath == "" {
		t.Skip("QLESS_DIFF_OLD (an older script text) not set")
	}
	old, err := os.ReadFile(oldPath)
	if err != nil {
		t.Fatal(err)
	}
	steps := 1500
	if s := os.Getenv("QLESS_DIFF_STEPS"); s != "" {
		if steps, err = strconv.Atoi(s); err != nil {
			t.Fatalf("QLESS_DIFF_STEPS: %v", err)
		}
	}
	for _, c := range []struct {
		name   string
		seed   int64
		mode   string // how `now` is written, see diffGen.nowText
		noconf bool   // no ql:config hash at all
	}{
		{"real", 1, "real", false},
		{"real-noconf", 2, "real", true},
		{"int", 3, "int", false},
		{"mixed", 4, "mixed", false},
		{"small", 5, "small", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, b := newDiffSide(t, string(old)), newDiffSide(t, Script())
			g := &diffGen{rng: rand.New(rand.NewSource(c.seed)), mode: c.mode, noconf: c.noconf, now: 1764189025.123456}
			if c.mode == "small" {
				g.now = 100
			}
			for _, args := range g.setup() {
				a.call(args)
				b.call(args)
			}
			var recent []string
			for i := 0; i < steps; i++ {
				args := g.next()
				ra, rb := a.call(args), b.call(args)
				g.observe(args, ra)
				recent = append(recent, fmt.Sprintf("%q -> %.200s", args, ra))
				if len(recent) > 10 {
					recent = recent[1:]
				}
				fail := func(what, x, y string) {
					t.Fatalf("step %d %q: %s differs\nold: %s\nnew: %s\nrecent:\n%s",
						i, args, what, x, y, strings.Join(recent, "\n"))
				}
				if ra != rb && diffNorm(args[0], ra) != diffNorm(args[0], rb) {
					fail("reply", ra, rb)
				}
				if da, db := a.dump(), b.dump(); da != db {
					fail("keyspace", da, db)
				}
				if ma, mb := a.messages(), b.messages(); ma != mb {
					fail("messages", ma, mb)
				}
			}
		})
	}
}

// diffSide is one server with one script loaded and a subscriber to every
// channel.
type diffSide struct {
	t   *testing.T
	c   rueidis.Client
	sha string
	sub *subscriber
	q   *qless // for subscriber.collect
}

func newDiffSide(t *testing.T, script string) *diffSide {
	t.Helper()
	srv := redistest.Start(t)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%s): %v", srv.Addr, err)
	}
	t.Cleanup(c.Close)
	sha, err := c.Do(context.Background(), c.B().ScriptLoad().Script(script).Build()).ToString()
	if err != nil {
		t.Fatalf("SCRIPT LOAD: %v", err)
	}
	q := &qless{t: t, addr: srv.Addr, c: c}
	return &diffSide{t: t, c: c, sha: sha, sub: q.subscribe(), q: q}
}

var diffErrRE = regexp.MustCompile(`user_script:\d+: | script: [0-9a-f]+, on @user_script:\d+\.`)

// call runs one command and renders its reply as text.
func (s *diffSide) call(args []string) string {
	r := s.c.Do(context.Background(), s.c.B().Evalsha().Sha1(s.sha).Numkeys(0).Arg(args...).Build())
	if err := r.Error(); err != nil {
		if rueidis.IsRedisNil(err) {
			return "(nil)"
		}
		return "ERR " + diffErrRE.ReplaceAllString(err.Error(), "")
	}
	m, _ := r.ToMessage()
	return diffRender(m)
}

func diffRender(m rueidis.RedisMessage) string {
	if s, err := m.ToString(); err == nil {
		return strconv.Quote(s)
	}
	if i, err := m.AsInt64(); err == nil {
		return strconv.FormatInt(i, 10)
	}
	if a, err := m.ToArray(); err == nil {
		parts := make([]string, len(a))
		for i, x := range a {
			parts[i] = diffRender(x)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprintf("%v", m)
}

// diffDump lists every key with its type and contents. Hashes in the
// listpack encoding keep their field order; others are sorted.
const diffDump = `
local keys = redis.call('keys', '*')
table.sort(keys)
local out = {}
for _, k in ipairs(keys) do
  local t = redis.call('type', k).ok
  local v
  if t == 'hash' then
    v = redis.call('hgetall', k)
    if redis.call('object', 'encoding', k) ~= 'listpack' then
      local p = {}
      for i = 1, #v, 2 do p[#p + 1] = v[i] .. '=' .. v[i + 1] end
      table.sort(p)
      v = p
    end
  elseif t == 'zset' then v = redis.call('zrange', k, 0, -1, 'withscores')
  elseif t == 'list' then v = redis.call('lrange', k, 0, -1)
  elseif t == 'set' then v = redis.call('smembers', k) table.sort(v)
  else v = {redis.call('get', k)} end
  out[#out + 1] = k .. ' ' .. t .. ' ' .. cjson.encode(v)
end
return table.concat(out, '\n')
`

func (s *diffSide) dump() string {
	v, err := s.c.Do(context.Background(), s.c.B().Eval().Script(diffDump).Numkeys(0).Build()).ToString()
	if err != nil {
		s.t.Fatalf("keyspace dump: %v", err)
	}
	return v
}

// messages returns what was published since the last call, sorted.
func (s *diffSide) messages() string {
	var out []string
	for _, m := range s.sub.collect(s.q) {
		out = append(out, m.channel+" "+m.payload)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

var (
	diffDepsRE   = regexp.MustCompile(`(dependents|dependencies)\\":\[([^\]]*)\]`)
	diffCancelRE = regexp.MustCompile(`is a dependency of \S+ but`)
)

// diffNorm removes what comes from Redis set iteration order (random per
// process) from a reply.
func diffNorm(cmd, r string) string {
	r = diffCancelRE.ReplaceAllString(r, "is a dependency of X but")
	r = diffDepsRE.ReplaceAllStringFunc(r, func(m string) string {
		i := strings.Index(m, "[")
		parts := strings.Split(m[i+1:len(m)-1], ",")
		sort.Strings(parts)
		return m[:i+1] + strings.Join(parts, ",") + "]"
	})
	if cmd == "failed" && strings.HasPrefix(r, `"{`) {
		parts := strings.Split(r[2:len(r)-2], ",")
		sort.Strings(parts)
		r = `"{` + strings.Join(parts, ",") + `}"`
	}
	return r
}

// diffGen makes random but plausible command sequences: a few jids, queues,
// workers, tags and groups, popped jobs reused for heartbeat, complete,
// fail, retry and timeout, and now and then a malformed argument.
type diffGen struct {
	rng     *rand.Rand
	mode    string
	noconf  bool
	now     float64
	running []diffJob
}

type diffJob struct{ jid, worker, queue string }

func (g *diffGen) pick(xs ...string) string { return xs[g.rng.Intn(len(xs))] }

// nowText advances the clock (sometimes past lock expiry or into another
// day) and writes it as mode says: real (6 decimals), int, small (a clock
// starting at 100), or mixed (decimals, integers, exponent forms).
func (g *diffGen) nowText() string {
	switch r := g.rng.Float64(); {
	case r < 0.7:
		g.now += g.rng.Float64() * 3
	case r < 0.8:
		g.now += 50 + g.rng.Float64()*100
	case r < 0.82:
		g.now += 86400 * g.rng.Float64() * 2
	case r < 0.83:
		g.now += 3600 * g.rng.Float64() * 30
	}
	mode := g.mode
	if mode == "mixed" {
		mode = g.pick("real", "real", "int", "digits", "exp")
	}
	switch mode {
	case "int":
		return strconv.FormatInt(int64(g.now), 10)
	case "digits":
		return strconv.FormatFloat(g.now, 'f', g.rng.Intn(12), 64)
	case "exp":
		return strconv.FormatFloat(g.now, 'e', g.rng.Intn(16), 64)
	case "small":
		return strconv.FormatFloat(g.now, 'f', g.rng.Intn(4), 64)
	}
	return strconv.FormatFloat(g.now, 'f', 6, 64)
}

func (g *diffGen) jid() string    { return "j" + itoa(g.rng.Intn(12)) }
func (g *diffGen) queue() string  { return g.pick("q1", "q1", "q1", "q2", "q3") }
func (g *diffGen) worker() string { return g.pick("w1", "w1", "w2", "w3", "wh", `w"x`, "w/y") }
func (g *diffGen) data() string {
	return g.pick(`{"n":1}`, `{}`, `{"a":[1,2],"b":"x\"y"}`, `{"f":1.5}`)
}

// observe remembers the jobs a pop handed out.
func (g *diffGen) observe(args []string, reply string) {
	if args[0] != "pop" || !strings.HasPrefix(reply, `"[`) {
		return
	}
	text, err := strconv.Unquote(reply)
	if err != nil {
		return
	}
	var jobs []struct{ Jid, Worker, Queue string }
	if json.Unmarshal([]byte(text), &jobs) != nil {
		return
	}
	for _, j := range jobs {
		g.running = append(g.running, diffJob{j.Jid, j.Worker, j.Queue})
	}
	if len(g.running) > 30 {
		g.running = g.running[len(g.running)-30:]
	}
}

// live picks a popped job (dropping it when take), now and then with
// another worker or queue, or invents one.
func (g *diffGen) live(take bool) diffJob {
	if len(g.running) == 0 || g.rng.Intn(4) == 0 {
		return diffJob{g.jid(), g.worker(), g.queue()}
	}
	i := g.rng.Intn(len(g.running))
	j := g.running[i]
	if take {
		g.running = append(g.running[:i], g.running[i+1:]...)
	}
	if g.rng.Intn(20) == 0 {
		j.worker = g.worker()
	}
	if g.rng.Intn(20) == 0 {
		j.queue = g.queue()
	}
	return j
}

func (g *diffGen) setup() [][]string {
	if g.noconf {
		return nil
	}
	now := strconv.FormatFloat(g.now, 'f', 6, 64)
	var out [][]string
	for _, o := range []struct {
		p      int
		name   string
		values []string
	}{
		{2, "heartbeat", []string{"30", "60", "5"}},
		{3, "max-job-history", []string{"3", "5", "1", "2"}},
		{3, "jobs-history-count", []string{"3", "5", "0"}},
		{3, "jobs-history", []string{"100", "1000"}},
		{3, "grace-period", []string{"0", "5", "20"}},
		{3, "q1-max-concurrency", []string{"1", "2"}},
		{3, "q2-heartbeat", []string{"10", "100"}},
	} {
		if g.rng.Intn(o.p) == 0 {
			out = append(out, []string{"config.set", now, o.name, g.pick(o.values...)})
		}
	}
	return out
}

func (g *diffGen) next() []string {
	now := g.nowText()
	w := g.rng.Intn(100)
	if g.noconf && w >= 98 {
		w = 97
	}
	switch {
	case w < 18:
		args := []string{"put", now, g.worker(), g.queue(), g.jid(), "K", g.data(), g.pick("0", "0", "0", "5", "0.5", "100")}
		if g.rng.Intn(4) > 0 {
			args = append(args, "priority", g.pick("0", "0", "1", "-2", "1.5"))
		}
		if g.rng.Intn(3) > 0 {
			args = append(args, "tags", g.pick("[]", "[]", `["t1"]`, `["t1","t2"]`, `["t3"]`, "{}"))
		}
		if g.rng.Intn(3) > 0 {
			args = append(args, "retries", g.pick("5", "0", "1", "2"))
		}
		if g.rng.Intn(3) > 0 {
			args = append(args, "depends", g.pick("[]", "[]", "[]", "[]", "[]", "[]", "[]",
				`["`+g.jid()+`"]`, `["`+g.jid()+`","`+g.jid()+`"]`))
		}
		return args
	case w < 34:
		return []string{"pop", now, g.queue(), g.worker(), g.pick("1", "1", "1", "2", "5", "0")}
	case w < 44:
		j := g.live(false)
		args := []string{"heartbeat", now, j.jid, j.worker}
		if g.rng.Intn(2) == 0 {
			args = append(args, g.data())
		}
		return args
	case w < 58:
		j := g.live(true)
		args := []string{"complete", now, j.jid, j.worker, j.queue, g.data()}
		if g.rng.Intn(4) == 0 {
			args = append(args, "next", g.queue())
			if g.rng.Intn(3) == 0 {
				args = append(args, "delay", g.pick("0", "5", "50"))
			}
			if g.rng.Intn(3) == 0 {
				args = append(args, "depends", `["`+g.jid()+`"]`)
			}
		}
		return args
	case w < 62:
		j := g.live(true)
		return []string{"fail", now, j.jid, j.worker, g.pick("g1", "g2"), "boom"}
	case w < 66:
		j := g.live(true)
		args := []string{"retry", now, j.jid, j.queue, j.worker}
		if g.rng.Intn(2) == 0 {
			args = append(args, g.pick("0", "5"))
			if g.rng.Intn(2) == 0 {
				args = append(args, g.pick("g1", "g3"), "msg")
			}
		}
		return args
	case w < 68:
		return []string{"cancel", now, g.jid()}
	case w < 70:
		return []string{"timeout", now, g.live(true).jid}
	case w < 72:
		return []string{"priority", now, g.jid(), g.pick("0", "3", "-1")}
	case w < 74:
		return []string{"tag", now, g.pick("add", "remove"), g.jid(), g.pick("t1", "t2", "t4")}
	case w < 75:
		return []string{"track", now, g.pick("track", "untrack"), g.jid()}
	case w < 77:
		return []string{"log", now, g.jid(), "hello", `{"x":1}`}
	case w < 79:
		return []string{"depends", now, g.jid(), g.pick("on", "off", "off"), g.pick(g.jid(), "all")}
	case w < 81:
		return []string{"get", now, g.jid()}
	case w < 82:
		return []string{"multiget", now, g.jid(), g.jid()}
	case w < 84:
		return []string{"peek", now, g.queue(), g.pick("1", "3")}
	case w < 85:
		return []string{"queues", now}
	case w < 86:
		return []string{"stats", now, g.queue(), now}
	case w < 87:
		return []string{"workers", now}
	case w < 88:
		return []string{"failed", now}
	case w < 89:
		return []string{"unfail", now, g.queue(), g.pick("g1", "g2"), "2"}
	case w < 90:
		return []string{"jobs", now, g.pick("running", "stalled", "scheduled", "depends", "recurring"), g.queue()}
	case w < 92:
		return []string{"recur", now, g.queue(), "r" + itoa(g.rng.Intn(3)), "K", g.data(), "interval",
			g.pick("10", "60"), "0", "priority", "1", "tags", `["t1"]`, "retries", "2", "backlog", g.pick("0", "2")}
	case w < 93:
		return []string{"unrecur", now, "r" + itoa(g.rng.Intn(3))}
	case w < 94:
		return []string{"pause", now, g.queue()}
	case w < 96:
		return []string{"unpause", now, g.queue()}
	case w < 97:
		return []string{"track", now}
	case w < 98:
		return []string{"length", now, g.queue()}
	case w < 99 && g.rng.Intn(4) == 0:
		return g.malformed(now)
	}
	return []string{"config.set", now, g.pick("heartbeat", "max-job-history", "grace-period"), g.pick("1", "5", "60")}
}

// malformed makes a command with a bad argument or a bad stored option.
func (g *diffGen) malformed(now string) []string {
	options := []string{"heartbeat", "q1-heartbeat", "jobs-history", "jobs-history-count",
		"q1-max-concurrency", "max-job-history", "grace-period"}
	switch g.rng.Intn(8) {
	case 0:
		return []string{"config.set", now, g.pick(options...), "abc"}
	case 1:
		return []string{"config.unset", now, g.pick(options...)}
	case 2:
		return []string{"put", now, "w1", "q1", g.jid(), "K", "{}", "0",
			g.pick("tags", "depends", "priority", "retries"), g.pick("5", `"abc"`, "x", "[1]", "{}", "null")}
	case 3:
		j := g.live(false)
		return []string{"complete", now, j.jid, j.worker, j.queue, "{}",
			g.pick("depends", "delay", "next"), g.pick("5", `"abc"`, "x", "[1]")}
	case 4:
		j := g.live(false)
		return []string{"complete", now, j.jid, j.worker, j.queue, "{}", "delay", "5", "depends", "5"}
	case 5:
		return []string{"put", now, "w1", "q1", g.jid(), "K", g.pick("x", "null", "5", ""), g.pick("0", "x")}
	case 6:
		return []string{"pop", now, g.queue(), g.worker(), g.pick("x", "-1", "")}
	}
	return []string{"heartbeat", now, g.jid(), g.worker(), g.pick("x", "null", "[1,2]", `{"b":1, "a":2}`)}
}
