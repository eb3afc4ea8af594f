package lua

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every line of Library() that comes from a module is the same text as the
// line of Script() that ScriptLine names.
func TestScriptLine(t *testing.T) {
	t.Parallel()
	script := strings.Split(Script(), "\n")
	lib := strings.Split(Library(), "\n")
	mapped := 0
	for i, text := range lib {
		n := ScriptLine(i + 1)
		if n == 0 {
			continue
		}
		mapped++
		if n > len(script) {
			t.Fatalf("ScriptLine(%d) = %d, beyond the script's %d lines", i+1, n, len(script))
		}
		want := script[n-1]
		if text != want && !(strings.Contains(text, "local LIB = true") && strings.Contains(want, "local LIB = false")) {
			t.Fatalf("library line %d %q maps to script line %d %q", i+1, text, n, want)
		}
	}
	if got := len(script) - 1; mapped != got { // (both end with a newline)
		t.Errorf("%d library lines map to the script's %d lines", mapped, got)
	}
	for _, n := range []int{0, 1, len(lib) + 5} {
		if ScriptLine(n) != 0 {
			t.Errorf("ScriptLine(%d) = %d, want 0", n, ScriptLine(n))
		}
	}
}

// An error of the library, rewritten by FromLibraryError, is exactly the
// script's text for the same call: errors raised in the entry, in a
// command, in a shared helper, at the end of the dispatch, and by a Redis
// command inside the script.
func TestFromLibraryErrorMatchesScript(t *testing.T) {
	t.Parallel()
	script, lib := newQless(t, false), newQless(t, true)
	now := strconv.FormatInt(time.Now().Unix(), 10)
	day := strconv.FormatInt(time.Now().Unix()/86400*86400, 10)
	setup := func(q *qless) {
		ctx := context.Background()
		// A running job whose run statistics hold a non-number: complete
		// fails inside stat() (04_shared.lua).
		q.str("put", now, "w", "q", "j", "K", "{}", "0")
		q.str("pop", now, "q", "w", "1")
		for _, cmd := range [][]string{
			{"HSET", "ql:s:run:" + day + ":q", "total", "abc", "mean", "x", "vk", "y"},
			{"SET", "ql:paused_queues", "not a set"},
		} {
			if err := q.c.Do(ctx, q.c.B().Arbitrary(cmd[0]).Args(cmd[1:]...).Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	setup(script)
	setup(lib)
	calls := [][]string{
		{"put", now, "w", "q"},                 // a command's own check
		{"get", "abc", "j"},                    // the entry
		{"bogus", now},                         // the dispatch's end
		{"complete", now, "j", "w", "q", "{}"}, // a helper (stat)
		{"pause", now, "q"},                    // a Redis error inside the script (WRONGTYPE)
		{"get"},                                // tonumber() without an argument
	}
	for _, args := range calls {
		want := script.eval(args...).Error()
		got := lib.eval(args...).Error()
		if want == nil || got == nil {
			t.Fatalf("%q: script error %v, library error %v; want both to fail", args, want, got)
		}
		if rewritten := FromLibraryError(got.Error()); rewritten != want.Error() {
			t.Errorf("%q:\nlibrary   %s\nrewritten %s\nscript    %s", args, got, rewritten, want)
		}
	}
	if s := "ERR Function not found"; FromLibraryError(s) != s {
		t.Errorf("FromLibraryError changed %q", s)
	}
}
