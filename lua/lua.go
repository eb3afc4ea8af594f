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
// (Library(): FUNCTION LOAD, then FCALL qless 0 <command> <now> <args...>),
// whose setup runs once at load instead of on every call; qless clients
// use the script, a router may use either.
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
	"sort"
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

// LibraryName and FunctionName name the function-library form of the
// script: FUNCTION LOAD REPLACE <Library()>, then
// FCALL <FunctionName> 0 <command> <now> <args...> with the same arguments
// and replies as EVALSHA <SHA()> 0 <command> <now> <args...>.
const (
	LibraryName  = "qless"
	FunctionName = "qless"
)

var library = sync.OnceValue(func() string {
	p := load()
	var b strings.Builder
	b.WriteString("#!lua name=" + LibraryName + "\n")
	b.WriteString(strings.Replace(p.prelude, libraryFlag, "local LIB = true\n", 1))
	b.WriteString(p.helpers)
	b.WriteString("local function qless(KEYS, ARGV)\n")
	b.WriteString(p.entry)
	b.WriteString(p.commands)
	b.WriteString("end\nredis.register_function('" + FunctionName + "', qless)\n")
	return b.String()
})

// Library returns the same modules as Script(), assembled as a Redis 7
// function library (see LibraryName). Its prelude and helpers run once, at
// FUNCTION LOAD, instead of on every call. Errors read
// "user_function:<n>:" where the script's read "user_script:<n>:"
// (ParseError understands both).
func Library() string { return library() }
