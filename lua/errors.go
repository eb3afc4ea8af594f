package lua

import "strings"

// ParseError extracts the qless message from the text of a Redis error reply
// to a script call, e.g. `Complete(): Job j1 does not exist` from
//
//	ERR user_script:142: Complete(): Job j1 does not exist script: 5c6f…, on @user_script:142.
//
// It understands the forms of spec section 1.4:
//   - Redis 7: `ERR user_script:<n>: <msg> script: <sha>, on @user_script:<n>.`,
//     and the same without the `user_script:<n>:` part for errors Redis
//     raises itself inside a script (e.g. the arity error of `pause` with no
//     queue names);
//   - Redis 7 functions (FCALL of Library()): the same with
//     `user_function:<n>:` and the function's name in place of the sha;
//   - Redis 3 to 6: `ERR Error running script (call to f_<sha>):
//     @user_script:<n>: user_script:<n>: <msg> `, and the same without the
//     second `user_script:<n>:` for failed assertions and library errors.
//
// The text may come with or without its leading error code ("ERR "); the
// message keeps any other code (e.g. "WRONGTYPE …" raised by a call inside
// the script). ok is false when text is not a script error; message is then
// text with surrounding space trimmed. ParseError is safe for concurrent use.
func ParseError(text string) (message string, ok bool) {
	s := strings.TrimSpace(text)
	if rest, found := trimRedis7Suffix(s); found {
		s, ok = rest, true
	}
	body := strings.TrimPrefix(s, "ERR ")
	if strings.HasPrefix(body, "Error running script (call to f_") {
		if i := strings.Index(body, "): "); i >= 0 {
			body, ok = body[i+3:], true
			body = trimPosition(body, "@user_script:")
		}
	}
	if !ok {
		return strings.TrimSpace(text), false
	}
	body = trimPosition(body, "user_script:")
	body = trimPosition(body, "user_function:")
	return strings.TrimSpace(body), true
}

// IsNoScript reports whether an error reply text says that the server does
// not know the script's SHA (`NOSCRIPT No matching script. Please use
// EVAL.`), so that the caller should SCRIPT LOAD (or EVAL) and retry.
func IsNoScript(text string) bool {
	return strings.HasPrefix(strings.TrimSpace(text), "NOSCRIPT")
}

// IsNoFunction reports whether an error reply text to FCALL says that the
// function is not loaded (`ERR Function not found`), so that the caller
// should FUNCTION LOAD Library() and retry.
func IsNoFunction(text string) bool {
	t := strings.TrimPrefix(strings.TrimSpace(text), "ERR ")
	return t == "Function not found"
}

// IsMissingJob reports whether a qless message (from ParseError) says that
// the job or recurring job named by the command does not exist, e.g.
// `Complete(): Job j1 does not exist`, `Fail(): Job j1does not exist`,
// `Track(): Job does not exist` or `Recur(): No recurring job r1`.
func IsMissingJob(message string) bool {
	return strings.HasSuffix(message, "does not exist") ||
		strings.HasPrefix(message, "Recur(): No recurring job ")
}

// trimRedis7Suffix removes Redis 7's ` script: <sha or function name>, on
// @user_script:<n>.` (or `@user_function:<n>.`) from the end of s.
func trimRedis7Suffix(s string) (string, bool) {
	i := strings.LastIndex(s, " script: ")
	if i < 0 {
		return s, false
	}
	tail := s[i+len(" script: "):]
	j := strings.Index(tail, ", on @user_")
	if j <= 0 || strings.ContainsAny(tail[:j], " \t") {
		return s, false
	}
	tail = tail[j+len(", on @"):]
	if rest, ok := strings.CutPrefix(tail, "user_script:"); ok {
		tail = rest
	} else if rest, ok := strings.CutPrefix(tail, "user_function:"); ok {
		tail = rest
	} else {
		return s, false
	}
	n := digits(tail)
	if n == 0 || tail[n:] != "." {
		return s, false
	}
	return s[:i], true
}

// trimPosition removes one leading `<prefix><digits>:` and the space after it.
func trimPosition(s, prefix string) string {
	if !strings.HasPrefix(s, prefix) {
		return s
	}
	rest := s[len(prefix):]
	n := digits(rest)
	if n == 0 || n >= len(rest) || rest[n] != ':' {
		return s
	}
	return strings.TrimLeft(rest[n+1:], " ")
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// IsMoving reports whether a qless message (from ParseError) says that the
// job is a tombstone of a move to another shard (lua/src/80_xshard.lua):
// `Put(): Job j1 is moving`, `Log(): Job j1 is moving`, or a state check
// that found the state "moving", e.g. `Complete(): Job j1 is not currently
// running: moving` or `Depends(): Job j1 not in the depends state: moving`.
func IsMoving(message string) bool {
	return strings.HasSuffix(message, " is moving") || strings.HasSuffix(message, ": moving")
}

// IsNotHere reports whether a qless message (from ParseError) to a command
// about one job may mean that the job is not (or no longer) on the shard
// that answered, so that a router should look for it elsewhere and, if it
// lives elsewhere, send the command again: IsMissingJob, IsMoving, a state
// check that found no job (`Depends(): Job j1 not in the depends state:
// nil`) or a job that is not running there (`... is not currently running:
// waiting`, `Timeout(): Job j1 not running`: a stale copy). Every such answer
// comes before the command writes anything, so sending it again is safe.
func IsNotHere(message string) bool {
	return IsMissingJob(message) || IsMoving(message) ||
		strings.HasSuffix(message, "not in the depends state: nil") ||
		strings.Contains(message, "not currently running") ||
		strings.Contains(message, "not running")
}
