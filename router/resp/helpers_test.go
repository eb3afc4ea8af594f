package resp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/leaktest"
)

func TestMain(m *testing.M) {
	os.Exit(leaktest.Verify(m.Run(), "qless-router/router/resp.(*Server)"))
}

// fakeBackend records calls and answers canned replies. Qless replies by
// its first argument:
//
//	"script-error" -> *core.ScriptError
//	"shard-down"   -> *core.ShardError
//	"int"          -> integer 42
//	"array"        -> the remaining args as an array
//	"nil"          -> nil
//	"block"        -> waits for ctx to be done and returns its error
//	"barrier"      -> barrier <n> <id>: waits for n barrier calls, returns id
//	anything else  -> the args joined by spaces
type fakeBackend struct {
	mu        sync.Mutex
	qless     [][]string
	reads     [][]string
	publishes [][2]string
	flushes   int
	subs      map[int]func(channel, message string)
	nextSub   int
	arrived   int           // "barrier" calls so far
	barrier   chan struct{} // closed when arrived reaches the barrier size
}

var _ Backend = (*fakeBackend)(nil)
var _ Informer = (*fakeBackend)(nil)

const scriptErrText = `ERR user_script:1: Put(): Arg "jid" missing script: 0123456789abcdef0123456789abcdef01234567, on @user_script:1.`

func (b *fakeBackend) Qless(ctx context.Context, args []string) (core.Reply, error) {
	b.mu.Lock()
	b.qless = append(b.qless, append([]string(nil), args...))
	b.mu.Unlock()
	if len(args) == 0 {
		return core.Reply{}, &core.ScriptError{Text: "ERR user_script:1: Must provide a command script: x, on @user_script:1.", Message: "Must provide a command"}
	}
	switch args[0] {
	case "script-error":
		return core.Reply{}, &core.ScriptError{Text: scriptErrText, Message: `Put(): Arg "jid" missing`}
	case "shard-down":
		return core.Reply{}, fmt.Errorf("put: %w", &core.ShardError{Shard: "s1", Err: core.ErrShardDown})
	case "int":
		return core.IntReply(42), nil
	case "array":
		return core.ArrayReply(args[1:]), nil
	case "nil":
		return core.NilReply(), nil
	case "block":
		<-ctx.Done()
		return core.Reply{}, ctx.Err()
	case "barrier": // barrier <n> <id>: waits until n barrier calls are in flight
		n, _ := strconv.Atoi(args[1])
		b.mu.Lock()
		if b.barrier == nil {
			b.barrier = make(chan struct{})
		}
		ch := b.barrier
		b.arrived++
		if b.arrived == n {
			close(ch)
		}
		b.mu.Unlock()
		select {
		case <-ch:
			return core.StringReply(args[2]), nil
		case <-time.After(5 * time.Second):
			return core.Reply{}, errors.New("barrier: calls did not run in parallel")
		}
	}
	return core.StringReply(strings.Join(args, " ")), nil
}

func (b *fakeBackend) Read(ctx context.Context, args []string) (core.Reply, error) {
	b.mu.Lock()
	b.reads = append(b.reads, append([]string(nil), args...))
	b.mu.Unlock()
	if args[0] == "ZSCORE" {
		if args[2] == "missing" {
			return core.NilReply(), nil
		}
		return core.StringReply("1700000000.5"), nil
	}
	if strings.HasSuffix(args[1], "-bad") {
		return core.Reply{}, &core.ShardError{Shard: "s2", Err: errors.New("connection refused")}
	}
	return core.IntReply(int64(len(args[1]))), nil
}

func (b *fakeBackend) Publish(ctx context.Context, channel, message string) (int64, error) {
	b.mu.Lock()
	b.publishes = append(b.publishes, [2]string{channel, message})
	b.mu.Unlock()
	return int64(b.emit(channel, message)), nil
}

// emit delivers a message to every Events subscriber, as the cluster does.
func (b *fakeBackend) emit(channel, message string) int {
	b.mu.Lock()
	fns := make([]func(string, string), 0, len(b.subs))
	for _, fn := range b.subs {
		fns = append(fns, fn)
	}
	b.mu.Unlock()
	for _, fn := range fns {
		fn(channel, message)
	}
	return len(fns)
}

func (b *fakeBackend) Events(fn func(channel, message string)) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = map[int]func(string, string){}
	}
	id := b.nextSub
	b.nextSub++
	b.subs[id] = fn
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.subs, id)
	}
}

func (b *fakeBackend) FlushAll(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushes++
	return nil
}

func (b *fakeBackend) Routers(ctx context.Context) ([]RouterInfo, error) {
	return []RouterInfo{
		{Name: "r1", RESPAddr: "127.0.0.1:6380", HTTPAddr: "127.0.0.1:8080"},
		{Name: "r2", RESPAddr: "127.0.0.1:6381", HTTPAddr: ""},
	}, nil
}

func (b *fakeBackend) Locate(queue string) (string, error) {
	if queue == "" {
		return "", core.ErrNoShards
	}
	return "shard-" + queue, nil
}

func (b *fakeBackend) Info(ctx context.Context) []string {
	return []string{"qless_shards:3", "qless_ring_epoch:7"}
}

func (b *fakeBackend) lastQless() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.qless) == 0 {
		return nil
	}
	return b.qless[len(b.qless)-1]
}

func (b *fakeBackend) flushCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushes
}

// startServer starts a Server on 127.0.0.1:0 with cfg adjusted by mod, and
// stops it at cleanup.
func startServer(t *testing.T, mod func(*Config)) (*Server, *fakeBackend) {
	t.Helper()
	b := &fakeBackend{}
	return startServerWith(t, mod, b), b
}

// startServerWith is startServer over backend b.
func startServerWith(t *testing.T, mod func(*Config), b Backend) *Server {
	t.Helper()
	cfg := DefaultLocalConfig()
	cfg.Script = ownScript
	cfg.Version = "test"
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, b)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

const ownScript = "-- the router's own qless script (test stand-in)\nreturn 1\n"

// ---- a raw RESP client ----

// respError is an error reply read by the raw client.
type respError string

// readValue reads one RESP2 value: string (simple), respError, int64, nil
// (nil bulk or array), []byte (bulk) or []any.
func readValue(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("bad line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return respError(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := readFull(r, buf); err != nil {
			return nil, err
		}
		if string(buf[n:]) != "\r\n" {
			return nil, fmt.Errorf("bulk not terminated by CRLF")
		}
		return buf[:n], nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readValue(r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("bad type byte in %q", line)
}

func readFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// plain turns bulk strings into Go strings, recursively, for comparisons.
func plain(v any) any {
	switch v := v.(type) {
	case []byte:
		return string(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

func encodeCommand(args ...string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"+a+"\r\n"...)
	}
	return b
}

type rawConn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, rd: bufio.NewReader(c)}
}

func (r *rawConn) send(args ...string) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.c.Write(encodeCommand(args...)); err != nil {
		r.t.Fatalf("write %q: %v", args, err)
	}
}

func (r *rawConn) read() any {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	v, err := readValue(r.rd)
	if err != nil {
		r.t.Fatalf("read reply: %v", err)
	}
	return plain(v)
}

// do sends one command and reads one reply, with bulk strings as strings.
func (r *rawConn) do(args ...string) any {
	r.t.Helper()
	r.send(args...)
	return r.read()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
