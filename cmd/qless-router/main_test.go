package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/qless-router/qless-router/lua"
)

func TestScriptPrintsAssembledScript(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"script"}, &out, &errOut); err != nil {
		t.Fatalf("script: %v (%s)", err, errOut.String())
	}
	if out.String() != lua.Script() {
		t.Fatalf("script printed %d bytes, want the %d bytes of lua.Script()", out.Len(), len(lua.Script()))
	}
	out.Reset()
	if err := run(context.Background(), []string{"script", "--sha"}, &out, &errOut); err != nil {
		t.Fatalf("script --sha: %v", err)
	}
	if got := strings.TrimSpace(out.String()); got != lua.SHA() {
		t.Fatalf("script --sha = %q, want %q", got, lua.SHA())
	}
	out.Reset()
	if err := run(context.Background(), []string{"script", "--library"}, &out, &errOut); err != nil || out.String() != lua.Library() {
		t.Fatalf("script --library printed %d bytes (%v), want the %d of lua.Library()", out.Len(), err, len(lua.Library()))
	}
}

func TestUnknownSubcommand(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"nope"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), `unknown subcommand "nope"`) {
		t.Fatalf("run(nope) = %v, want unknown subcommand error", err)
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	t.Setenv("QLESS_ROUTER_RESP_ADDR", "127.0.0.1:7000")
	t.Setenv("QLESS_ROUTER_SHARD", "a=redis://127.0.0.1:1, b=redis://127.0.0.1:2")
	t.Setenv("QLESS_ROUTER_NODE_NAME", "from-env")
	fs := newFlagSet("test", &bytes.Buffer{})
	addr := fs.String("resp-addr", "", "")
	shards := fs.StringArray("shard", nil, "")
	name := fs.String("node-name", "", "")
	if err := parseFlags(fs, []string{"--node-name", "from-flag"}); err != nil {
		t.Fatal(err)
	}
	if *addr != "127.0.0.1:7000" {
		t.Errorf("resp-addr = %q, want the environment's value", *addr)
	}
	if want := []string{"a=redis://127.0.0.1:1", "b=redis://127.0.0.1:2"}; strings.Join(*shards, " ") != strings.Join(want, " ") {
		t.Errorf("shard = %q, want %q", *shards, want)
	}
	if *name != "from-flag" {
		t.Errorf("node-name = %q, want the command line to win over the environment", *name)
	}
}
