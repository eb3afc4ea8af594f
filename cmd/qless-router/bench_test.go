package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qless-router/qless-router/internal/redistest"
	"github.com/qless-router/qless-router/lua"
)

// --reference-script measures another script on a Redis of its own, beside
// the given targets, in one report.
func TestBenchReferenceScript(t *testing.T) {
	dir := t.TempDir()
	ref := filepath.Join(dir, "qless.lua")
	// Our own script stands in for the reference (same calling convention).
	if err := os.WriteFile(ref, []byte(lua.Script()), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "--redis", srv.Addr, "--reference-script", ref,
		"--clients", "2", "--phases", "lifecycle", "--jobs", "20"}, &out, &errOut)
	if err != nil {
		t.Fatalf("bench: %v (%s)", err, errOut.String())
	}
	var direct, reference bool
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == "lifecycle" && f[3] == "20" {
			direct = direct || f[0] == "direct"
			reference = reference || f[0] == "reference"
		}
	}
	if !direct || !reference {
		t.Errorf("report lacks a full direct or reference row:\n%s", out.String())
	}
}

// A missing or empty reference script, or one without a target to compare
// with, is refused before anything starts.
func TestBenchReferenceScriptErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.lua")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--redis", "127.0.0.1:1", "--reference-script", filepath.Join(dir, "missing.lua")}, "--reference-script"},
		{[]string{"--redis", "127.0.0.1:1", "--reference-script", empty}, "is empty"},
		{[]string{"--reference-script", empty}, "compares with a target"},
	} {
		err := run(context.Background(), append([]string{"bench"}, tt.args...), &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("bench %q = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
