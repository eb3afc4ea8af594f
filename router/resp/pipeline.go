package resp

import (
	"sync"

	"github.com/tidwall/redcon"
)

// Parallel pipelines (Config.PipelineParallel). A connection is served one
// command after the other, like Redis, so a client that pipelines many
// qless calls on one connection (rueidis auto-pipelining puts every
// goroutine's calls on one connection) gets one shard round trip at a time.
// With PipelineParallel > 1, a pipelined batch made only of EVALSHA/EVAL
// calls runs up to that many calls at once; the replies keep their order.

// isQless reports whether args is an EVALSHA or EVAL call.
func isQless(args [][]byte) bool {
	return len(args) > 0 && (eqFold(args[0], "evalsha") || eqFold(args[0], "eval"))
}

// servePipeline runs cmd and the rest of its pipelined batch in parallel
// when the batch qualifies, and reports whether it did.
func (s *Server) servePipeline(conn redcon.Conn, ss *session, cmd redcon.Command) bool {
	if s.cfg.PipelineParallel < 2 || ss.multi || !ss.authed || !isQless(cmd.Args) {
		return false
	}
	rest := conn.PeekPipeline()
	if len(rest) == 0 {
		return false
	}
	for _, c := range rest {
		if !isQless(c.Args) {
			return false
		}
	}
	conn.ReadPipeline()
	batch := make([][][]byte, 0, len(rest)+1)
	batch = append(batch, cmd.Args)
	for _, c := range rest {
		batch = append(batch, c.Args)
	}
	// The arguments alias the connection's read buffer, which redcon does
	// not touch until this handler returns: every call ends before that.
	out := make([]bufWriter, len(batch))
	workers := min(s.cfg.PipelineParallel, len(batch))
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= len(batch) {
					return
				}
				s.dispatch(&out[k], ss, batch[k])
			}
		})
	}
	wg.Wait()
	for k := range out {
		conn.WriteRaw(out[k].b)
	}
	return true
}

// bufWriter collects replies in memory.
type bufWriter struct{ b []byte }

func (w *bufWriter) WriteError(msg string)       { w.b = redcon.AppendError(w.b, msg) }
func (w *bufWriter) WriteString(str string)      { w.b = redcon.AppendString(w.b, str) }
func (w *bufWriter) WriteBulk(bulk []byte)       { w.b = redcon.AppendBulk(w.b, bulk) }
func (w *bufWriter) WriteBulkString(bulk string) { w.b = redcon.AppendBulkString(w.b, bulk) }
func (w *bufWriter) WriteInt64(num int64)        { w.b = redcon.AppendInt(w.b, num) }
func (w *bufWriter) WriteArray(count int)        { w.b = redcon.AppendArray(w.b, count) }
func (w *bufWriter) WriteNull()                  { w.b = redcon.AppendNull(w.b) }
