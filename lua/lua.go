// Package lua holds qless-router's own qless server script, written from
// spec/qless-protocol.md, and its embedding.
//
// The script is kept as readable modules under src/, one file per concern,
// and assembled at build time (go:embed) into one text in file-name order.
// The assembled text is what shards run and what `qless-router script`
// prints: any qless client can load it into a plain Redis and use it there.
//
// Calling convention (spec 1.1): EVALSHA <SHA()> 0 <command> <now> <args...>.
// The same modules also assemble into a Redis 7 function library
// (Library(): FUNCTION LOAD, then FCALL <FunctionName()> 0 <command> <now>
// <args...>),
// whose setup runs once at load instead of on every call; qless clients
// use the script, routers the library (package shard), with errors turned
// into the script's texts by FromLibraryError.
//
// This package is also the only place that knows Lua error strings: see
// ParseError, IsNoScript, IsNoFunction and IsMissingJob.
//
// Script, SHA and Library are safe for concurrent use.
package lua

import (
	"crypto/sha1"
	"embed"
	"encoding/hex"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed src/*.lua
var sources embed.FS

// The parts of the sources, by the two-digit prefix of their file names.
type parts struct {
	prelude  string // 00: names and constants
	entry    string // 01: per-call checks and state
	helpers  string // 02-09: shared procedures
	commands string // 10-99: command blocks and the final fall-through
}

// libraryFlag is the line of the prelude that the library form flips.
const libraryFlag = "local LIB = false\n"

var load = sync.OnceValue(func() parts {
	names, err := fs.Glob(sources, "src/*.lua")
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	var b [4]strings.Builder
	for _, n := range names {
		text, err := sources.ReadFile(n)
		if err != nil {
			panic(err)
		}
		base := path.Base(n)
		i := 3
		switch {
		case strings.HasPrefix(base, "00"):
			i = 0
		case strings.HasPrefix(base, "01"):
			i = 1
		case base[0] == '0':
			i = 2
		}
		b[i].Write(text)
		if len(text) > 0 && text[len(text)-1] != '\n' {
			b[i].WriteByte('\n')
		}
	}
	p := parts{prelude: b[0].String(), entry: b[1].String(), helpers: b[2].String(), commands: b[3].String()}
	if strings.Count(p.prelude, libraryFlag) != 1 {
		panic("lua: the prelude must contain exactly one " + strings.TrimSpace(libraryFlag))
	}
	return p
})

var assemble = sync.OnceValues(func() (string, string) {
	p := load()
	s := p.prelude + p.entry + p.helpers + p.commands
	sum := sha1.Sum([]byte(s))
	return s, hex.EncodeToString(sum[:])
})

// Script returns the assembled qless script.
func Script() string { s, _ := assemble(); return s }

// SHA returns the lowercase hex SHA-1 of Script(), the name EVALSHA uses.
func SHA() string { _, h := assemble(); return h }

// FunctionName names the function-library form of the script, after
// FUNCTION LOAD <Library()>: FCALL <FunctionName()> 0 <command> <now>
// <args...> takes the same arguments and gives the same replies as EVALSHA
// <SHA()> 0 <command> <now> <args...>, and its error texts become the
// script's with FromLibraryError. The library and its one function share
// the name "qless_" + the first 12 hex digits of SHA(), so that routers of
// different versions on the same shards each run their own.
func FunctionName() string { return "qless_" + SHA()[:12] }

var library = sync.OnceValue(func() string {
	p := load()
	var b strings.Builder
	b.WriteString("#!lua name=" + FunctionName() + "\n")
	b.WriteString(strings.Replace(p.prelude, libraryFlag, "local LIB = true\n", 1))
	b.WriteString(p.helpers)
	b.WriteString("local function qless(KEYS, ARGV)\n")
	b.WriteString(p.entry)
	b.WriteString(p.commands)
	b.WriteString("end\nredis.register_function('" + FunctionName() + "', qless)\n")
	return b.String()
})

// Library returns the same modules as Script(), assembled as a Redis 7
// function library (see FunctionName). Its prelude and helpers run once, at
// FUNCTION LOAD, instead of on every call. Errors read
// "user_function:<n>:" where the script's read "user_script:<n>:"
// (ParseError understands both; FromLibraryError rewrites them).
func Library() string { return library() }

// lineMap holds the library's blocks (see library) as first and last
// library line, for ScriptLine.
type lineMap struct {
	prelude, helpers, entry, commands [2]int
	helpersShift, entryShift          int // script line = library line + shift
}

var libraryLines = sync.OnceValue(func() lineMap {
	p := load()
	lines := func(s string) int { return strings.Count(s, "\n") }
	P, E, H, C := lines(p.prelude), lines(p.entry), lines(p.helpers), lines(p.commands)
	// Library: header (1 line), prelude, helpers, the function's first line,
	// entry, commands, its end. Script: prelude, entry, helpers, commands.
	return lineMap{
		prelude:      [2]int{2, P + 1},
		helpers:      [2]int{P + 2, P + H + 1},
		entry:        [2]int{P + H + 3, P + H + E + 2},
		commands:     [2]int{P + H + E + 3, P + H + E + C + 2},
		helpersShift: E - 1,    // P+2 is script line P+E+1
		entryShift:   -(H + 2), // P+H+3 is script line P+1
	}
})

// ScriptLine returns the line of Script() that line n of Library() comes
// from, or 0 for the library's own lines (its header, the function's first
// line, its end and the registration).
func ScriptLine(n int) int {
	m := libraryLines()
	in := func(r [2]int) bool { return n >= r[0] && n <= r[1] }
	switch {
	case in(m.prelude):
		return n - 1
	case in(m.helpers):
		return n + m.helpersShift
	case in(m.entry):
		return n + m.entryShift
	case in(m.commands):
		return n - 2
	}
	return 0
}

var functionPosition = regexp.MustCompile(`user_function:[0-9]+`)

// FromLibraryError turns the text of an error reply to FCALL
// <FunctionName()> into the text EVALSHA <SHA()> gives for the same error:
// each "user_function:<n>" becomes "user_script:<m>" with m = ScriptLine(n),
// and Redis's " script: <function>, on @" names the SHA instead. A text
// without "user_function:" is returned unchanged.
func FromLibraryError(text string) string {
	if !strings.Contains(text, "user_function:") {
		return text
	}
	text = functionPosition.ReplaceAllStringFunc(text, func(pos string) string {
		n, err := strconv.Atoi(pos[len("user_function:"):])
		if m := ScriptLine(n); err == nil && m > 0 {
			return "user_script:" + strconv.Itoa(m)
		}
		return pos
	})
	return strings.Replace(text, " script: "+FunctionName()+", on @", " script: "+SHA()+", on @", 1)
}
