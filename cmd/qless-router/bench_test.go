package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
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

// bench leaves a core to the local Redis unless told otherwise.
func TestBenchProcs(t *testing.T) {
	for _, tt := range []struct {
		procs  int
		local  bool
		envSet bool
		cpus   int
		want   int
	}{
		{0, true, false, 2, 1},
		{0, true, false, 8, 7},
		{0, true, false, 1, 1},
		{0, true, true, 8, 0},   // GOMAXPROCS in the environment wins
		{0, false, false, 8, 0}, // remote targets: Go's default
		{3, false, false, 8, 3},
		{3, true, true, 8, 3}, // --procs wins over everything
	} {
		if got := benchProcs(tt.procs, tt.local, tt.envSet, tt.cpus); got != tt.want {
			t.Errorf("benchProcs(%d, local %v, env %v, %d cpus) = %d, want %d", tt.procs, tt.local, tt.envSet, tt.cpus, got, tt.want)
		}
	}
	err := run(context.Background(), []string{"bench", "--redis", "127.0.0.1:1", "--procs", "-1"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--procs") {
		t.Errorf("bench --procs -1 = %v, want an error naming --procs", err)
	}
	// The report names the GOMAXPROCS it ran with, and bench restores it.
	srv := redistest.Start(t)
	before := runtime.GOMAXPROCS(0)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"bench", "--redis", srv.Addr, "--procs", "1",
		"--clients", "1", "--phases", "put", "--jobs", "5"}, &out, &errOut); err != nil {
		t.Fatalf("bench: %v (%s)", err, errOut.String())
	}
	if !strings.Contains(out.String(), "GOMAXPROCS 1") {
		t.Errorf("report does not name GOMAXPROCS 1:\n%s", out.String())
	}
	if after := runtime.GOMAXPROCS(0); after != before {
		t.Errorf("GOMAXPROCS after bench = %d, want %d restored", after, before)
	}
}
