package main

import (
	"context"
	"fmt"
	"io"

	"github.com/qless-router/qless-router/lua"
)

func runScript(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("script", stderr)
	sha := fs.Bool("sha", false, "print the script's SHA-1 instead of its text")
	library := fs.Bool("library", false, "print the same script as the Redis 7 function library routers load (FUNCTION LOAD; FCALL "+lua.FunctionName()+" 0 <command> <now> <args...>)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: qless-router script [--sha | --library]\n\nPrints the exact qless Lua script that shards run. Load it into any Redis\n(redis-cli SCRIPT LOAD \"$(qless-router script)\") and any qless client can use it.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *sha {
		_, err := fmt.Fprintln(stdout, lua.SHA())
		return err
	}
	if *library {
		_, err := io.WriteString(stdout, lua.Library())
		return err
	}
	_, err := io.WriteString(stdout, lua.Script())
	return err
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	_, err := fmt.Fprintf(stdout, "qless-router %s (script %s)\n", version, lua.SHA())
	return err
}
