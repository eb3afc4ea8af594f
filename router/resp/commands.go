package resp

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/qless-router/qless-router/core"
	"github.com/qless-router/qless-router/internal/proccpu"
)

func newCommandTable() map[string]*command {
	cmds := []*command{
		// qless
		{name: "evalsha", arity: -3, run: (*Server).cmdEvalsha},
		{name: "eval", arity: -3, run: (*Server).cmdEval},
		{name: "script", arity: -2, run: (*Server).cmdScript},
		// the raw reads of qless clients
		{name: "zcard", arity: 2, flags: flagRead, run: (*Server).cmdRead},
		{name: "zscore", arity: 3, flags: flagRead, run: (*Server).cmdRead},
		// transactions
		{name: "multi", arity: 1, flags: flagTx, run: (*Server).cmdMulti},
		{name: "exec", arity: 1, flags: flagTx, run: (*Server).cmdExec},
		{name: "discard", arity: 1, flags: flagTx, run: (*Server).cmdDiscard},
		// pub/sub
		{name: "publish", arity: 3, run: (*Server).cmdPublish},
		{name: "subscribe", arity: -2, flags: flagNoMulti, run: (*Server).cmdSubscribe},
		{name: "psubscribe", arity: -2, flags: flagNoMulti, run: (*Server).cmdSubscribe},
		{name: "unsubscribe", arity: -1, flags: flagNoMulti, run: (*Server).cmdUnsubscribe},
		{name: "punsubscribe", arity: -1, flags: flagNoMulti, run: (*Server).cmdUnsubscribe},
		// connection and server
		{name: "auth", arity: -2, flags: flagNoAuth | flagNoMulti, run: (*Server).cmdAuth},
		{name: "quit", arity: -1, flags: flagNoAuth | flagTx, run: (*Server).cmdQuit},
		{name: "ping", arity: -1, run: (*Server).cmdPing},
		{name: "echo", arity: 2, run: (*Server).cmdEcho},
		{name: "select", arity: 2, run: (*Server).cmdSelect},
		{name: "client", arity: -2, run: (*Server).cmdClient},
		{name: "info", arity: -1, run: (*Server).cmdInfo},
		{name: "command", arity: -1, run: (*Server).cmdCommand},
		{name: "flushdb", arity: -1, flags: flagAdmin | flagNoMulti, run: (*Server).cmdFlush},
		{name: "flushall", arity: -1, flags: flagAdmin | flagNoMulti, run: (*Server).cmdFlush},
		// cluster information
		{name: "qless.routers", arity: 1, run: (*Server).cmdRouters},
		{name: "qless.locate", arity: 2, run: (*Server).cmdLocate},
	}
	m := make(map[string]*command, len(cmds))
	for _, c := range cmds {
		if len(c.name) > maxCommandName {
			panic("resp: command name longer than maxCommandName: " + c.name)
		}
		m[c.name] = c
	}
	return m
}

// lookup finds a command by its case-insensitive name.
func (s *Server) lookup(name []byte) *command {
	if len(name) > maxCommandName {
		return nil
	}
	var buf [maxCommandName]byte
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return s.commands[string(buf[:len(name)])]
}

// ---- scripts ----

const noScript = "NOSCRIPT No matching script. Please use EVAL."

// knownSHA reports whether sha (any case) was loaded. No lock, no allocation.
func (s *Server) knownSHA(sha []byte) bool {
	if len(sha) != 40 {
		return false
	}
	var buf [40]byte
	lowerInto(buf[:], sha)
	if string(buf[:]) == s.ownSHA {
		return true
	}
	_, ok := (*s.scripts.Load())[string(buf[:])]
	return ok
}

// remember adds sha to the known scripts; false if MaxScripts is reached.
func (s *Server) remember(sha string) bool {
	if _, ok := (*s.scripts.Load())[sha]; ok {
		return true
	}
	s.scriptsMu.Lock()
	defer s.scriptsMu.Unlock()
	old := *s.scripts.Load()
	if _, ok := old[sha]; ok {
		return true
	}
	if len(old) >= s.cfg.MaxScripts {
		return false
	}
	m := make(map[string]struct{}, len(old)+1)
	for k := range old {
		m[k] = struct{}{}
	}
	m[sha] = struct{}{}
	s.scripts.Store(&m)
	return true
}

// forgetScripts forgets every loaded SHA but the server's own script.
func (s *Server) forgetScripts() {
	s.scriptsMu.Lock()
	defer s.scriptsMu.Unlock()
	m := map[string]struct{}{}
	if s.ownSHA != "" {
		m[s.ownSHA] = struct{}{}
	}
	s.scripts.Store(&m)
}

func lowerInto(dst, src []byte) {
	for i, c := range src {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
}

func sha1HexBytes(text []byte) string {
	sum := sha1.Sum(text)
	return hex.EncodeToString(sum[:])
}

// numKeys checks EVAL/EVALSHA's numkeys as Redis does; ok false means the
// error is written.
func numKeys(w writer, args [][]byte) (int, bool) {
	n, ok := parseInt(args[2])
	switch {
	case !ok:
		w.WriteError("ERR value is not an integer or out of range")
		return 0, false
	case n < 0:
		w.WriteError("ERR Number of keys can't be negative")
		return 0, false
	case n > int64(len(args)-3):
		w.WriteError("ERR Number of keys can't be greater than number of args")
		return 0, false
	}
	return int(n), true
}

func (s *Server) cmdEvalsha(w writer, ss *session, args [][]byte) action {
	if len(args[1]) != 40 {
		w.WriteError(noScript)
		return actNone
	}
	n, ok := numKeys(w, args)
	if !ok {
		return actNone
	}
	if !s.knownSHA(args[1]) {
		w.WriteError(noScript)
		return actNone
	}
	s.runQless(w, ss, args[1], n, args[3:])
	return actNone
}

func (s *Server) cmdEval(w writer, ss *session, args [][]byte) action {
	n, ok := numKeys(w, args)
	if !ok {
		return actNone
	}
	sha := sha1HexBytes(args[1])
	if !s.remember(sha) {
		s.log.Warn("EVAL script not remembered: MaxScripts reached", "max_scripts", s.cfg.MaxScripts)
	}
	s.runQless(w, ss, []byte(sha), n, args[3:])
	return actNone
}

// runQless runs the qless script: whichever script the client loaded, the
// router runs its own qless script on the shards.
func (s *Server) runQless(w writer, ss *session, sha []byte, numkeys int, args [][]byte) {
	if numkeys > 0 {
		// What the qless script answers when KEYS is not empty (spec 1.1).
		var buf [40]byte
		lowerInto(buf[:], sha)
		w.WriteError("ERR user_script:1: No Keys should be provided script: " +
			string(buf[:len(sha)]) + ", on @user_script:1.")
		return
	}
	r, err := s.backend.Qless(ss.ctx, strs(args))
	writeResult(w, r, err)
}

func (s *Server) cmdScript(w writer, _ *session, args [][]byte) action {
	sub := strings.ToLower(string(args[1]))
	wrongArgs := func() action {
		w.WriteError("ERR wrong number of arguments for 'script|" + clip(sub) + "' command")
		return actNone
	}
	switch sub {
	case "load":
		if len(args) != 3 {
			return wrongArgs()
		}
		sha := sha1HexBytes(args[2])
		if !s.remember(sha) {
			w.WriteError("ERR qless-router: too many scripts loaded (MaxScripts " +
				strconv.Itoa(s.cfg.MaxScripts) + "); use SCRIPT FLUSH")
			return actNone
		}
		w.WriteBulkString(sha)
	case "exists":
		if len(args) < 3 {
			return wrongArgs()
		}
		w.WriteArray(len(args) - 2)
		for _, sha := range args[2:] {
			if s.knownSHA(sha) {
				w.WriteInt64(1)
			} else {
				w.WriteInt64(0)
			}
		}
	case "flush":
		if len(args) > 3 {
			return wrongArgs()
		}
		if len(args) == 3 && !eqFold(args[2], "async") && !eqFold(args[2], "sync") {
			w.WriteError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
			return actNone
		}
		s.forgetScripts()
		w.WriteString("OK")
	case "kill":
		w.WriteError("NOTBUSY No scripts in execution right now.")
	default:
		w.WriteError("ERR unknown subcommand '" + clip(string(args[1])) + "'. Try SCRIPT HELP.")
	}
	return actNone
}

// ---- reads and transactions ----

// readName is the canonical name Backend.Read gets.
func readName(name []byte) string {
	if eqFold(name, "zcard") {
		return "ZCARD"
	}
	return "ZSCORE"
}

func readArgs(args [][]byte) []string {
	out := strs(args)
	out[0] = readName(args[0])
	return out
}

func (s *Server) cmdRead(w writer, ss *session, args [][]byte) action {
	r, err := s.backend.Read(ss.ctx, readArgs(args))
	writeResult(w, r, err)
	return actNone
}

func (s *Server) cmdMulti(w writer, ss *session, _ [][]byte) action {
	if ss.multi {
		w.WriteError("ERR MULTI calls can not be nested")
		return actNone
	}
	ss.multi, ss.dirty, ss.queued = true, false, nil
	w.WriteString("OK")
	return actNone
}

func (s *Server) cmdDiscard(w writer, ss *session, _ [][]byte) action {
	if !ss.multi {
		w.WriteError("ERR DISCARD without MULTI")
		return actNone
	}
	ss.multi, ss.dirty, ss.queued = false, false, nil
	w.WriteString("OK")
	return actNone
}

// cmdExec runs the queued commands in order and replies with an array of
// their replies. A transaction of reads only (the Ruby gem's four ZCARDs)
// runs its reads in parallel. The commands are not atomic across shards.
func (s *Server) cmdExec(w writer, ss *session, _ [][]byte) action {
	if !ss.multi {
		w.WriteError("ERR EXEC without MULTI")
		return actNone
	}
	queued, dirty := ss.queued, ss.dirty
	ss.multi, ss.dirty, ss.queued = false, false, nil
	if dirty {
		w.WriteError("EXECABORT Transaction discarded because of previous errors.")
		return actNone
	}
	if len(queued) > 1 && s.allReads(queued) {
		type result struct {
			r   core.Reply
			err error
		}
		res := make([]result, len(queued))
		var wg sync.WaitGroup
		for i, args := range queued {
			wg.Go(func() {
				res[i].r, res[i].err = s.backend.Read(ss.ctx, readArgs(args))
			})
		}
		wg.Wait()
		w.WriteArray(len(res))
		for _, r := range res {
			writeResult(w, r.r, r.err)
		}
		return actNone
	}
	w.WriteArray(len(queued))
	for _, args := range queued {
		s.dispatch(w, ss, args)
	}
	return actNone
}

func (s *Server) allReads(queued [][][]byte) bool {
	for _, args := range queued {
		if c := s.lookup(args[0]); c == nil || c.flags&flagRead == 0 {
			return false
		}
	}
	return true
}

// ---- pub/sub ----

func (s *Server) cmdPublish(w writer, ss *session, args [][]byte) action {
	n, err := s.backend.Publish(ss.ctx, string(args[1]), string(args[2]))
	if err != nil {
		writeErr(w, err)
		return actNone
	}
	w.WriteInt64(n)
	return actNone
}

func (s *Server) cmdSubscribe(_ writer, _ *session, args [][]byte) action {
	if eqFold(args[0], "psubscribe") {
		return actPsubscribe
	}
	return actSubscribe
}

// cmdUnsubscribe answers (P)UNSUBSCRIBE on a connection that is not
// subscribed (a subscribed one is served by the PubSub).
func (s *Server) cmdUnsubscribe(w writer, _ *session, args [][]byte) action {
	kind := "unsubscribe"
	if eqFold(args[0], "punsubscribe") {
		kind = "punsubscribe"
	}
	if len(args) == 1 {
		w.WriteArray(3)
		w.WriteBulkString(kind)
		w.WriteNull()
		w.WriteInt64(0)
		return actNone
	}
	for _, ch := range args[1:] {
		w.WriteArray(3)
		w.WriteBulkString(kind)
		w.WriteBulk(ch)
		w.WriteInt64(0)
	}
	return actNone
}

// ---- connection ----

func (s *Server) cmdAuth(w writer, ss *session, args [][]byte) action {
	var user, pw []byte
	switch len(args) {
	case 2:
		pw = args[1]
	case 3:
		user, pw = args[1], args[2]
	default:
		w.WriteError("ERR syntax error")
		return actNone
	}
	if s.cfg.Password == "" && s.cfg.AdminPassword == "" {
		w.WriteError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		return actNone
	}
	if user != nil && string(user) != "default" && string(user) != "admin" {
		w.WriteError("WRONGPASS invalid username-password pair or user is disabled.")
		return actNone
	}
	switch {
	case s.cfg.AdminPassword != "" && subtle.ConstantTimeCompare(pw, []byte(s.cfg.AdminPassword)) == 1:
		ss.authed, ss.admin = true, true
	case s.cfg.Password != "" && subtle.ConstantTimeCompare(pw, []byte(s.cfg.Password)) == 1:
		ss.authed, ss.admin = true, false
	default:
		w.WriteError("WRONGPASS invalid username-password pair or user is disabled.")
		return actNone
	}
	w.WriteString("OK")
	return actNone
}

func (s *Server) cmdQuit(w writer, _ *session, _ [][]byte) action {
	w.WriteString("OK")
	return actQuit
}

func (s *Server) cmdPing(w writer, _ *session, args [][]byte) action {
	switch len(args) {
	case 1:
		w.WriteString("PONG")
	case 2:
		w.WriteBulk(args[1])
	default:
		w.WriteError("ERR wrong number of arguments for 'ping' command")
	}
	return actNone
}

func (s *Server) cmdEcho(w writer, _ *session, args [][]byte) action {
	w.WriteBulk(args[1])
	return actNone
}

func (s *Server) cmdSelect(w writer, _ *session, args [][]byte) action {
	n, ok := parseInt(args[1])
	switch {
	case !ok:
		w.WriteError("ERR value is not an integer or out of range")
	case n != 0:
		w.WriteError("ERR DB index is out of range")
	default:
		w.WriteString("OK")
	}
	return actNone
}

func (s *Server) cmdClient(w writer, ss *session, args [][]byte) action {
	sub := strings.ToLower(string(args[1]))
	want := 0
	switch sub {
	case "getname", "id", "info":
		want = 2
	case "setname":
		want = 3
	case "setinfo":
		want = 4
	default:
		w.WriteError("ERR unknown subcommand '" + clip(string(args[1])) + "'. Try CLIENT HELP.")
		return actNone
	}
	if len(args) != want {
		w.WriteError("ERR wrong number of arguments for 'client|" + sub + "' command")
		return actNone
	}
	switch sub {
	case "setname":
		for _, c := range args[2] {
			if c < '!' || c > '~' {
				w.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
				return actNone
			}
		}
		ss.name = string(args[2])
		w.WriteString("OK")
	case "getname":
		if ss.name == "" {
			w.WriteNull()
		} else {
			w.WriteBulkString(ss.name)
		}
	case "id":
		w.WriteInt64(ss.id)
	case "setinfo":
		if !eqFold(args[2], "lib-name") && !eqFold(args[2], "lib-ver") {
			w.WriteError("ERR Unrecognized option '" + clip(string(args[2])) + "'")
			return actNone
		}
		w.WriteString("OK")
	case "info":
		addr := ""
		if ss.netConn != nil {
			addr = ss.netConn.RemoteAddr().String()
		}
		w.WriteBulkString("id=" + strconv.FormatInt(ss.id, 10) + " addr=" + addr +
			" name=" + ss.name + " db=0 resp=2\n")
	}
	return actNone
}

func (s *Server) cmdCommand(w writer, _ *session, args [][]byte) action {
	if len(args) >= 2 && eqFold(args[1], "count") {
		w.WriteInt64(0)
		return actNone
	}
	w.WriteArray(0)
	return actNone
}

func (s *Server) cmdFlush(w writer, ss *session, args [][]byte) action {
	if len(args) > 2 || (len(args) == 2 && !eqFold(args[1], "async") && !eqFold(args[1], "sync")) {
		w.WriteError("ERR syntax error")
		return actNone
	}
	if err := s.backend.FlushAll(ss.ctx); err != nil {
		writeErr(w, err)
		return actNone
	}
	w.WriteString("OK")
	return actNone
}

// ---- INFO ----

func (s *Server) cmdInfo(w writer, ss *session, args [][]byte) action {
	want := func(string) bool { return true }
	if len(args) > 1 {
		sections := map[string]bool{}
		for _, a := range args[1:] {
			sections[strings.ToLower(string(a))] = true
		}
		if !sections["all"] && !sections["everything"] && !sections["default"] {
			want = func(name string) bool { return sections[name] }
		}
	}
	var b strings.Builder
	section := func(name string, lines ...string) {
		if !want(strings.ToLower(name)) {
			return
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + name + "\r\n")
		for _, l := range lines {
			b.WriteString(oneLine(l))
			b.WriteString("\r\n")
		}
	}
	uptime := int64(s.clock.Now().Sub(s.started).Seconds())
	_, port, _ := net.SplitHostPort(s.Addr())
	section("Server",
		"redis_version:"+RedisVersion,
		"redis_mode:standalone",
		"qless_router_version:"+s.cfg.Version,
		"os:"+runtime.GOOS,
		"arch_bits:"+strconv.Itoa(strconv.IntSize),
		"process_id:"+strconv.Itoa(os.Getpid()),
		"tcp_port:"+port,
		"uptime_in_seconds:"+strconv.FormatInt(uptime, 10),
		"uptime_in_days:"+strconv.FormatInt(uptime/86400, 10),
	)
	section("Clients", "connected_clients:"+strconv.Itoa(s.connectedClients()))
	if user, sys, ok := proccpu.Used(); ok {
		// The router process's own CPU, as Redis reports its own (a router
		// embedded in another program counts that program's CPU too).
		section("CPU",
			"used_cpu_sys:"+strconv.FormatFloat(sys.Seconds(), 'f', 6, 64),
			"used_cpu_user:"+strconv.FormatFloat(user.Seconds(), 'f', 6, 64))
	}
	section("Replication", "role:master", "connected_slaves:0")
	cluster := []string{
		"cluster_enabled:0",
		"qless_router:1",
		"qless_script_sha:" + s.ownSHA,
		"qless_events_dropped:" + strconv.FormatInt(s.dropped.Load(), 10),
	}
	if inf, ok := s.backend.(Informer); ok && want("cluster") {
		cluster = append(cluster, inf.Info(ss.ctx)...)
	}
	section("Cluster", cluster...)
	w.WriteBulkString(b.String())
	return actNone
}

// ---- cluster information ----

// cmdRouters: QLESS.ROUTERS -> one [name, resp-addr, http-addr] per router.
func (s *Server) cmdRouters(w writer, ss *session, _ [][]byte) action {
	routers, err := s.backend.Routers(ss.ctx)
	if err != nil {
		writeErr(w, err)
		return actNone
	}
	w.WriteArray(len(routers))
	for _, r := range routers {
		w.WriteArray(3)
		w.WriteBulkString(r.Name)
		w.WriteBulkString(r.RESPAddr)
		w.WriteBulkString(r.HTTPAddr)
	}
	return actNone
}

// cmdLocate: QLESS.LOCATE <queue> -> the name of the queue's owner shard.
func (s *Server) cmdLocate(w writer, _ *session, args [][]byte) action {
	shard, err := s.backend.Locate(string(args[1]))
	if err != nil {
		writeErr(w, err)
		return actNone
	}
	w.WriteBulkString(shard)
	return actNone
}

// ---- helpers ----

// eqFold compares b with the lower-case ASCII word, ignoring case.
func eqFold(b []byte, word string) bool {
	if len(b) != len(word) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[i] {
			return false
		}
	}
	return true
}

// parseInt parses a decimal integer as Redis's string2ll does: optional
// minus sign, digits, no spaces, no plus sign, no leading zeros.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := false
	if b[0] == '-' {
		neg, b = true, b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}
