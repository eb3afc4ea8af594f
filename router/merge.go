package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/qless-router/qless-router/core"
)

// This file holds the pure parts of fan-out merges: the JSON encoder that
// writes what the qless script would have written (spec 1.3), parsers for
// the replies of the shards, Redis range and LIMIT arithmetic, and the
// ordered merges of per-shard lists. Nothing here does I/O.

// jsonWriter builds JSON text the way the script's lua-cjson encoder does
// (spec 1.3): empty lists as `{}`, numbers with %.14g, `/` escaped as `\/`,
// control characters and DEL as \u00XX except \b \t \n \f \r, other bytes
// (including non-ASCII UTF-8) verbatim. Object keys are written in the order
// the caller gives them (replies are compared parsed; only pubsub payloads
// depend on key order, and the router writes none).
type jsonWriter struct {
	b []byte
}

func (w *jsonWriter) raw(s string)      { w.b = append(w.b, s...) }
func (w *jsonWriter) rawBytes(s []byte) { w.b = append(w.b, s...) }
func (w *jsonWriter) byte(c byte)       { w.b = append(w.b, c) }
func (w *jsonWriter) String() string    { return string(w.b) }

// str writes a JSON string.
func (w *jsonWriter) str(s string) { w.b = appendJSONString(w.b, s) }

// num writes a number as %.14g.
func (w *jsonWriter) num(f float64) { w.b = appendJSONNumber(w.b, f) }

// int writes an integer. Integers beyond 2^53 would have been rounded by the
// script's doubles; %.14g rounds them further, as the script would.
func (w *jsonWriter) int(n int64) { w.b = appendJSONNumber(w.b, float64(n)) }

// key writes `"k":`, preceded by a comma unless first.
func (w *jsonWriter) key(k string, first bool) {
	if !first {
		w.byte(',')
	}
	w.str(k)
	w.byte(':')
}

// intField writes `"k":n`, preceded by a comma unless first.
func (w *jsonWriter) intField(k string, first bool, n int64) {
	w.key(k, first)
	w.int(n)
}

// strList writes a list of strings, `{}` when empty.
func (w *jsonWriter) strList(list []string) {
	if len(list) == 0 {
		w.raw("{}")
		return
	}
	w.byte('[')
	for i, s := range list {
		if i > 0 {
			w.byte(',')
		}
		w.str(s)
	}
	w.byte(']')
}

// rawList writes a list of JSON values given as text, `{}` when empty.
func (w *jsonWriter) rawList(list []json.RawMessage) {
	if len(list) == 0 {
		w.raw("{}")
		return
	}
	w.byte('[')
	for i, v := range list {
		if i > 0 {
			w.byte(',')
		}
		w.rawBytes(v)
	}
	w.byte(']')
}

// appendJSONNumber appends f as C's %.14g, which is what lua-cjson writes by
// default. Go's 'g' format with precision 14 produces the same digits,
// exponent form and signed zero. Infinities and NaN cannot come from the
// script's JSON; they are written as the script's cjson would refuse to, so
// they are clamped to a finite form to keep the output valid JSON.
func appendJSONNumber(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, '0')
	case math.IsInf(f, 1):
		return append(b, "1e+309"...)
	case math.IsInf(f, -1):
		return append(b, "-1e+309"...)
	}
	return strconv.AppendFloat(b, f, 'g', 14, 64)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string with lua-cjson's escaping.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var esc string
		switch {
		case c == '"':
			esc = `\"`
		case c == '\\':
			esc = `\\`
		case c == '/':
			esc = `\/`
		case c == '\b':
			esc = `\b`
		case c == '\t':
			esc = `\t`
		case c == '\n':
			esc = `\n`
		case c == '\f':
			esc = `\f`
		case c == '\r':
			esc = `\r`
		case c < 0x20 || c == 0x7f:
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			start = i + 1
			continue
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// decodeList decodes a qless JSON list (an array, or `{}` for an empty one)
// into raw elements.
func decodeList(s string) ([]json.RawMessage, error) {
	t := strings.TrimSpace(s)
	if t == "{}" || t == "" || t == "null" {
		return nil, nil
	}
	var out []json.RawMessage
	if err := json.Unmarshal([]byte(t), &out); err != nil {
		return nil, fmt.Errorf("want a JSON list, got %.60q: %w", s, err)
	}
	return out, nil
}

// decodeStrings decodes a qless JSON list of strings.
func decodeStrings(raw []byte) ([]string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "{}" || string(t) == "null" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal(t, &out); err != nil {
		return nil, fmt.Errorf("want a JSON list of strings, got %.60q: %w", raw, err)
	}
	return out, nil
}

// jobHead is what merges need of a job JSON object.
type jobHead struct {
	JID     string `json:"jid"`
	State   string `json:"state"`
	Failure struct {
		When float64 `json:"when"`
	} `json:"failure"`
}

// decodeJobHead reads the jid, state and failure time of one job object.
func decodeJobHead(raw []byte) (jobHead, error) {
	var h jobHead
	// failure is `{}` or an object; both decode into the struct.
	if err := json.Unmarshal(raw, &h); err != nil {
		return h, fmt.Errorf("want a job object, got %.60q: %w", raw, err)
	}
	return h, nil
}

// scored is one member of a sorted set with its score.
type scored struct {
	member string
	score  float64
}

// parseWithScores reads the flat array of a `Z...RANGE ... WITHSCORES` reply
// (member, score, member, score, ...).
func parseWithScores(a []string) ([]scored, error) {
	if len(a)%2 != 0 {
		return nil, fmt.Errorf("WITHSCORES reply has an odd length %d", len(a))
	}
	out := make([]scored, 0, len(a)/2)
	for i := 0; i < len(a); i += 2 {
		f, err := strconv.ParseFloat(a[i+1], 64)
		if err != nil {
			return nil, fmt.Errorf("WITHSCORES reply: score %q of %q: %w", a[i+1], a[i], err)
		}
		out = append(out, scored{member: a[i], score: f})
	}
	return out, nil
}

// sortScored sorts members as Redis orders a sorted set: ascending by score
// and then byte-wise by member, or (desc) the exact reverse, as ZREVRANGE
// and ZREVRANGEBYSCORE read.
func sortScored(items []scored, desc bool) {
	slices.SortStableFunc(items, func(a, b scored) int {
		c := cmpFloat(a.score, b.score)
		if c == 0 {
			c = strings.Compare(a.member, b.member)
		}
		if desc {
			return -c
		}
		return c
	})
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func members(items []scored) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.member
	}
	return out
}

// rankRange applies Redis's rank-range rules (LRANGE, ZRANGE, ZREVRANGE:
// negative indexes count from the end, out-of-range ends are clamped) to a
// list of n elements, and returns the half-open slice bounds [lo, hi).
func rankRange(n int, start, stop int64) (lo, hi int) {
	ln := int64(n)
	if start < 0 {
		start += ln
	}
	if stop < 0 {
		stop += ln
	}
	if start < 0 {
		start = 0
	}
	if start > stop || start >= ln {
		return 0, 0
	}
	if stop >= ln {
		stop = ln - 1
	}
	return int(start), int(stop + 1)
}

// limitRange applies the LIMIT offset count rules of ZRANGEBYSCORE and
// ZREVRANGEBYSCORE (a negative offset selects nothing, a negative count
// means all the rest) to n elements, as half-open bounds [lo, hi).
func limitRange(n int, offset, count int64) (lo, hi int) {
	if offset < 0 || offset >= int64(n) || count == 0 {
		return 0, 0
	}
	lo = int(offset)
	if count < 0 || offset+count >= int64(n) {
		return lo, n
	}
	return lo, int(offset + count)
}

// errNotInteger means an argument is not a number the router can use as an
// exact integer index; the command is then forwarded unchanged to one shard
// so that the script produces its own error.
var errNotInteger = errors.New("not an exact integer")

// luaNumber converts s as the script's tonumber does (C strtod semantics:
// surrounding whitespace, hexadecimal, exponents, inf and nan).
func luaNumber(s string) (float64, bool) {
	t := strings.Trim(s, " \t\n\v\f\r")
	if t == "" {
		return 0, false
	}
	u := t
	neg := false
	if u[0] == '-' || u[0] == '+' {
		neg = u[0] == '-'
		u = u[1:]
	}
	if len(u) > 2 && u[0] == '0' && (u[1] == 'x' || u[1] == 'X') && !strings.ContainsAny(u, "pP.") {
		n, err := strconv.ParseUint(u[2:], 16, 64)
		if err != nil {
			return 0, false
		}
		f := float64(n)
		if neg {
			f = -f
		}
		return f, true
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return f, true // strtod returns ±HUGE_VAL or 0
		}
		return 0, false
	}
	return f, true
}

// intArg reads an optional numeric argument the way the script does
// (default when absent) and requires an exact integer that Lua would hand to
// Redis in integer form (|n| < 1e14).
func intArg(args []string, i int, def int64) (int64, error) {
	if i >= len(args) {
		return def, nil
	}
	f, ok := luaNumber(args[i])
	if !ok || f != math.Trunc(f) || math.Abs(f) >= 1e14 {
		return 0, errNotInteger
	}
	return int64(f), nil
}

// kway merges lists that are each already in order into one, repeatedly
// taking the head that comes first by less; ties go to the earlier list. It
// keeps every list's own order even where that order disagrees with less.
func kway[T any](lists [][]T, less func(a, b T) bool) []T {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	out := make([]T, 0, total)
	pos := make([]int, len(lists))
	for len(out) < total {
		best := -1
		for i, l := range lists {
			if pos[i] >= len(l) {
				continue
			}
			if best < 0 || less(l[pos[i]], lists[best][pos[best]]) {
				best = i
			}
		}
		out = append(out, lists[best][pos[best]])
		pos[best]++
	}
	return out
}

func writeQueueCounts(w *jsonWriter, q *core.QueueCounts) {
	w.byte('{')
	w.key("name", true)
	w.str(q.Name)
	w.intField("waiting", false, q.Waiting)
	w.intField("stalled", false, q.Stalled)
	w.intField("running", false, q.Running)
	w.intField("scheduled", false, q.Scheduled)
	w.intField("depends", false, q.Depends)
	w.intField("recurring", false, q.Recurring)
	w.key("paused", false)
	if q.Paused {
		w.raw("true")
	} else {
		w.raw("false")
	}
	w.byte('}')
}

// failedEntry is one jid of a failure group with its failure time.
type failedEntry struct {
	jid  string
	when float64
}

// luaMod is Lua's a % b for numbers: a - floor(a/b)*b.
func luaMod(a, b float64) float64 { return a - math.Floor(a/b)*b }

func statsEmpty(s core.Stats) bool {
	return s.Retries == 0 && s.Failed == 0 && s.Failures == 0 && s.Wait.Count == 0 && s.Run.Count == 0
}

// encodeStats writes a stats reply (spec 9).
func encodeStats(s core.Stats) string {
	var w jsonWriter
	summary := func(k string, first bool, x core.StatsSummary) {
		w.key(k, first)
		w.byte('{')
		w.intField("count", true, x.Count)
		w.key("mean", false)
		w.num(x.Mean)
		w.key("std", false)
		w.num(x.Std)
		w.key("histogram", false)
		w.byte('[')
		for i := 0; i < core.HistogramSize; i++ {
			if i > 0 {
				w.byte(',')
			}
			var v int64
			if i < len(x.Histogram) {
				v = x.Histogram[i]
			}
			w.int(v)
		}
		w.byte(']')
		w.byte('}')
	}
	w.byte('{')
	w.intField("retries", true, s.Retries)
	w.intField("failed", false, s.Failed)
	w.intField("failures", false, s.Failures)
	summary("wait", false, s.Wait)
	summary("run", false, s.Run)
	w.byte('}')
	return w.String()
}
