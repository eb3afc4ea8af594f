package lua

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/internal/redistest"
)

// qless is a test connection to a fresh redis-server with the script, or
// the function library, loaded.
type qless struct {
	t    testing.TB
	addr string
	c    rueidis.Client
	lib  bool // calls go through FCALL of Library() instead of EVALSHA
}

// forms runs f against the script (EVALSHA) and against the function
// library (FCALL), each with its own server: both forms must behave alike.
func forms(t *testing.T, f func(t *testing.T, q *qless)) {
	t.Helper()
	for _, lib := range []bool{false, true} {
		name := "script"
		if lib {
			name = "library"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, newQless(t, lib))
		})
	}
}

func newQless(t testing.TB, lib bool) *qless {
	t.Helper()
	srv := redistest.Start(t)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%s): %v", srv.Addr, err)
	}
	t.Cleanup(c.Close)
	q := &qless{t: t, addr: srv.Addr, c: c, lib: lib}
	ctx := context.Background()
	if lib {
		name, err := c.Do(ctx, c.B().FunctionLoad().Replace().FunctionCode(Library()).Build()).ToString()
		if err != nil {
			t.Fatalf("FUNCTION LOAD: %v", err)
		}
		if name != FunctionName() {
			t.Fatalf("FUNCTION LOAD = %s, want %s", name, FunctionName())
		}
		return q
	}
	sha, err := c.Do(ctx, c.B().ScriptLoad().Script(Script()).Build()).ToString()
	if err != nil {
		t.Fatalf("SCRIPT LOAD: %v", err)
	}
	if sha != SHA() {
		t.Fatalf("SCRIPT LOAD = %s, want SHA() %s", sha, SHA())
	}
	return q
}

// eval runs EVALSHA SHA() 0 args... (or FCALL) and returns the raw result.
func (q *qless) eval(args ...string) rueidis.RedisResult {
	return q.evalKeys(nil, args...)
}

// evalKeys is eval with keys, which the script must refuse.
func (q *qless) evalKeys(keys []string, args ...string) rueidis.RedisResult {
	if q.lib {
		return q.c.Do(context.Background(), q.c.B().Fcall().Function(FunctionName()).
			Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
	}
	return q.c.Do(context.Background(), q.c.B().Evalsha().Sha1(SHA()).
		Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
}

// evalList runs a script command that must answer an array of strings.
func (q *qless) evalList(args ...string) []string {
	q.t.Helper()
	l, err := q.eval(args...).AsStrSlice()
	if err != nil {
		q.t.Fatalf("%v: %v", args, err)
	}
	return l
}

// str runs a script command that must answer a string (bulk) reply.
func (q *qless) str(args ...string) string {
	q.t.Helper()
	s, err := q.eval(args...).ToString()
	if err != nil {
		q.t.Fatalf("%v: %v", args, err)
	}
	return s
}

// int runs a script command that must answer an integer reply.
func (q *qless) int(args ...string) int64 {
	q.t.Helper()
	n, err := q.eval(args...).AsInt64()
	if err != nil {
		q.t.Fatalf("%v: %v", args, err)
	}
	return n
}

// isNil runs a script command and reports whether it answered nil.
func (q *qless) isNil(args ...string) bool {
	q.t.Helper()
	err := q.eval(args...).Error()
	if err != nil && !rueidis.IsRedisNil(err) {
		q.t.Fatalf("%v: %v", args, err)
	}
	return rueidis.IsRedisNil(err)
}

// fails runs a script command that must fail and returns the qless message.
func (q *qless) fails(args ...string) string {
	q.t.Helper()
	err := q.eval(args...).Error()
	if err == nil {
		q.t.Fatalf("%v succeeded, want an error", args)
	}
	re, ok := rueidis.IsRedisErr(err)
	if !ok {
		q.t.Fatalf("%v: %v is not a Redis error", args, err)
	}
	msg, ok := ParseError("ERR " + re.Error())
	if !ok {
		q.t.Fatalf("%v: ParseError(%q) found no script error", args, re.Error())
	}
	return msg
}

// redis runs a plain Redis command.
func (q *qless) redis(args ...string) rueidis.RedisResult {
	return q.c.Do(context.Background(), q.c.B().Arbitrary(args[0]).Args(args[1:]...).Build())
}

func (q *qless) list(args ...string) []string {
	q.t.Helper()
	l, err := q.redis(args...).AsStrSlice()
	if err != nil {
		q.t.Fatalf("%v: %v", args, err)
	}
	return l
}

// subscriber is a raw PSUBSCRIBE * connection: unlike a pooled client it
// confirms the subscription before the test goes on.
type subscriber struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

type message struct{ channel, payload string }

func (q *qless) subscribe() *subscriber {
	q.t.Helper()
	conn, err := net.Dial("tcp", q.addr)
	if err != nil {
		q.t.Fatalf("dial %s: %v", q.addr, err)
	}
	q.t.Cleanup(func() { conn.Close() })
	s := &subscriber{t: q.t, conn: conn, r: bufio.NewReader(conn)}
	if _, err := conn.Write([]byte("PSUBSCRIBE *\r\n")); err != nil {
		q.t.Fatalf("PSUBSCRIBE: %v", err)
	}
	if reply := s.read(); len(reply) != 3 || reply[0] != "psubscribe" {
		q.t.Fatalf("PSUBSCRIBE answered %q", reply)
	}
	return s
}

// next returns the next pmessage, failing the test after a deadline.
func (s *subscriber) next() message {
	s.t.Helper()
	m := s.read()
	if len(m) != 4 || m[0] != "pmessage" {
		s.t.Fatalf("pubsub: got %q, want a pmessage", m)
	}
	return message{channel: m[2], payload: m[3]}
}

// collect returns all messages published up to a final marker publish.
func (s *subscriber) collect(q *qless) []message {
	s.t.Helper()
	if err := q.redis("PUBLISH", "test:end", "end").Error(); err != nil {
		s.t.Fatalf("PUBLISH: %v", err)
	}
	var out []message
	for {
		m := s.next()
		if m.channel == "test:end" {
			return out
		}
		out = append(out, m)
	}
}

// read parses one RESP array of bulk strings or integers.
func (s *subscriber) read() []string {
	s.t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line := s.line()
	if !strings.HasPrefix(line, "*") {
		s.t.Fatalf("pubsub: unexpected %q", line)
	}
	n, _ := strconv.Atoi(line[1:])
	out := make([]string, n)
	for i := range out {
		l := s.line()
		switch l[0] {
		case ':':
			out[i] = l[1:]
		case '$':
			size, _ := strconv.Atoi(l[1:])
			buf := make([]byte, size+2)
			if _, err := io.ReadFull(s.r, buf); err != nil {
				s.t.Fatalf("pubsub: %v", err)
			}
			out[i] = string(buf[:size])
		default:
			s.t.Fatalf("pubsub: unexpected %q", l)
		}
	}
	return out
}

func (s *subscriber) line() string {
	l, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Fatalf("pubsub: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

func itoa(n int) string { return strconv.Itoa(n) }
