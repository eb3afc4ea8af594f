package resp

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/qless-router/qless-router/core"
)

// session is the state of one client connection. It is used only on the
// connection's goroutine, except netConn (immutable) which Stop closes.
type session struct {
	ctx     context.Context // the connection's lifetime
	cancel  context.CancelFunc
	id      int64
	netConn net.Conn

	authed bool // may run commands (true from the start without Password)
	admin  bool // authenticated with AdminPassword
	name   string

	multi  bool       // inside MULTI
	dirty  bool       // a command failed to queue: EXEC aborts
	queued [][][]byte // commands queued by MULTI (copies)

	sub      *subConn    // set at the first (P)SUBSCRIBE
	detached atomic.Bool // handed to the PubSub

	wantMu sync.Mutex
	wants  map[string]func() // guarded by wantMu; Interest releases by "c:<channel>" or "p:<pattern>"
	// wantsReleased: the connection ended (guarded by wantMu); a want
	// that completes later is released at once.
	wantsReleased bool
}

// writer is the part of redcon.Conn (and *redcon.Writer) that replies use.
type writer interface {
	WriteError(msg string)
	WriteString(str string)
	WriteBulk(bulk []byte)
	WriteBulkString(bulk string)
	WriteInt64(num int64)
	WriteArray(count int)
	WriteNull()
}

// action is what the connection loop must do after dispatch.
type action uint8

const (
	actNone       action = iota
	actQuit              // flush and close the connection
	actSubscribe         // SUBSCRIBE to args[1:]
	actPsubscribe        // PSUBSCRIBE to args[1:]
)

// Command flags.
const (
	flagNoAuth  = 1 << iota // allowed before AUTH
	flagNoMulti             // refused inside MULTI
	flagTx                  // runs at once inside MULTI (MULTI, EXEC, DISCARD, QUIT)
	flagAdmin               // needs the admin password when one is set
	flagRead                // a key read served by Backend.Read (EXEC runs these in parallel)
)

type command struct {
	name  string // lower case
	arity int    // Redis convention: n = exactly n args, -n = at least n
	flags uint8
	run   func(s *Server, w writer, ss *session, args [][]byte) action
}

// maxCommandName is the longest command name in the table.
const maxCommandName = 16

// dispatch runs one command, writing its reply (or replies) to w, and says
// what the connection must do next. args alias the connection's read
// buffer: nothing keeps them past the call without copying.
func (s *Server) dispatch(w writer, ss *session, args [][]byte) action {
	if len(args) == 0 {
		return actNone
	}
	name := args[0]
	cmd := s.lookup(name)
	if cmd == nil {
		if ss.multi {
			ss.dirty = true
		}
		if strings.EqualFold(string(name), "hello") {
			// Exactly this text: RESP3 clients (rueidis) then fall back to
			// RESP2.
			w.WriteError("ERR unknown command 'HELLO'")
			return actNone
		}
		w.WriteError("ERR unknown command '" + clip(string(name)) + "'")
		return actNone
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || (cmd.arity < 0 && len(args) < -cmd.arity) {
		if ss.multi {
			ss.dirty = true
		}
		w.WriteError("ERR wrong number of arguments for '" + cmd.name + "' command")
		return actNone
	}
	if !ss.authed && cmd.flags&flagNoAuth == 0 {
		if ss.multi {
			ss.dirty = true
		}
		w.WriteError("NOAUTH Authentication required.")
		return actNone
	}
	if ss.multi && cmd.flags&flagTx == 0 {
		if cmd.flags&flagNoMulti != 0 {
			ss.dirty = true
			w.WriteError("ERR Command not allowed inside a transaction")
			return actNone
		}
		ss.queued = append(ss.queued, copyArgs(args))
		w.WriteString("QUEUED")
		return actNone
	}
	if cmd.flags&flagAdmin != 0 && s.cfg.AdminPassword != "" && !ss.admin {
		w.WriteError("NOPERM this connection has no permissions to run the '" + cmd.name +
			"' command: AUTH with the admin password first")
		return actNone
	}
	return cmd.run(s, w, ss, args)
}

// writeReply writes a qless reply as Redis converts the script's value.
func writeReply(w writer, r core.Reply) {
	switch r.Type {
	case core.ReplyString:
		w.WriteBulkString(r.Str)
	case core.ReplyInt:
		w.WriteInt64(r.Int)
	case core.ReplyArray:
		w.WriteArray(len(r.Array))
		for _, v := range r.Array {
			w.WriteBulkString(v)
		}
	default:
		w.WriteNull()
	}
}

// writeErr writes a Backend error: a script error verbatim, anything else
// as ERR <message>.
func writeErr(w writer, err error) {
	var se *core.ScriptError
	if errors.As(err, &se) {
		text := se.Text
		if text == "" {
			text = "ERR " + se.Message
		}
		w.WriteError(oneLine(text))
		return
	}
	w.WriteError(oneLine("ERR " + err.Error()))
}

// writeResult writes a Backend result.
func writeResult(w writer, r core.Reply, err error) {
	if err != nil {
		writeErr(w, err)
		return
	}
	writeReply(w, r)
}

// oneLine makes s fit a RESP simple string or error: no CR or LF.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// clip shortens a client-supplied word quoted in an error, as Redis does.
func clip(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	return oneLine(s)
}

// copyArgs copies args into one allocation.
func copyArgs(args [][]byte) [][]byte {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	return out
}

// strs converts args to strings with one allocation for the bytes (and one
// for the slice).
func strs(args [][]byte) []string {
	if len(args) == 0 {
		return []string{}
	}
	n := 0
	for _, a := range args {
		n += len(a)
	}
	var b strings.Builder
	b.Grow(n)
	for _, a := range args {
		b.Write(a)
	}
	all := b.String()
	out := make([]string, len(args))
	off := 0
	for i, a := range args {
		out[i] = all[off : off+len(a)]
		off += len(a)
	}
	return out
}
