// Package lua holds qless-router's own qless server script, written from
// spec/qless-protocol.md, and its embedding.
//
// The script is kept as readable modules under src/, one file per concern,
// and assembled at build time (go:embed) into one text in file-name order.
// The assembled text is what shards run and what `qless-router script`
// prints: any qless client can load it into a plain Redis and use it there.
//
// Calling convention (spec 1.1): EVALSHA <SHA()> 0 <command> <now> <args...>.
//
// This package is also the only place that knows Lua error strings: see
// ParseError.
package lua

import (
	"crypto/sha1"
	"embed"
	"encoding/hex"
	"io/fs"
	"sort"
	"strings"
	"sync"
)

//go:embed src/*.lua
var sources embed.FS

var assemble = sync.OnceValues(func() (string, string) {
	names, err := fs.Glob(sources, "src/*.lua")
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		text, err := sources.ReadFile(n)
		if err != nil {
			panic(err)
		}
		b.Write(text)
		if len(text) > 0 && text[len(text)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	s := b.String()
	sum := sha1.Sum([]byte(s))
	return s, hex.EncodeToString(sum[:])
})

// Script returns the assembled qless script.
func Script() string { s, _ := assemble(); return s }

// SHA returns the lowercase hex SHA-1 of Script(), the name EVALSHA uses.
func SHA() string { _, h := assemble(); return h }
