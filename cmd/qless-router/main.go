// Command qless-router runs qless across many Redis shards.
//
// Subcommands:
//
//	serve     run a router in front of a set of Redis shards
//	dev       start N local redis-server shards and M routers in one process
//	script    print the qless Lua script shards run (load it into any Redis)
//	cluster   ask a router about the cluster (status, locate)
//	bench     load-test a Redis or a router cluster
//	worker    run a command per qless job (a worker for any language)
//	version   print the version
//
// Every flag can also be set from an environment variable named
// QLESS_ROUTER_<FLAG> (upper case, dashes as underscores), e.g.
// QLESS_ROUTER_RESP_ADDR for --resp-addr. A flag on the command line wins.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type subcommand struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func subcommands() map[string]subcommand {
	return map[string]subcommand{
		"script":  {"print the qless Lua script shards run", runScript},
		"bench":   {"load-test a Redis or a router cluster", runBench},
		"cluster": {"ask a router about the cluster (status, locate)", runCluster},
		"serve":   {"run a router in front of a set of Redis shards", runServe},
		"dev":     {"start local redis shards and routers in one process", runDev},
		"version": {"print the version", runVersion},
		"worker":  {"run a command per qless job, for workers in any language", runWorker},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "qless-router:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := subcommands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return errors.New("no subcommand")
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		usage(stderr, cmds)
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]subcommand) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: qless-router <subcommand> [flags]\n\nsubcommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun `qless-router <subcommand> --help` for its flags. Every flag can also be set\nfrom the environment as QLESS_ROUTER_<FLAG>, e.g. QLESS_ROUTER_RESP_ADDR.")
}

// newFlagSet returns a flag set for a subcommand whose errors are returned,
// not printed and exited on.
func newFlagSet(name string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("qless-router "+name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	return fs
}

// parseFlags applies QLESS_ROUTER_* environment variables to flags that were
// not given on the command line, then parses the command line.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if sv, isSlice := f.Value.(pflag.SliceValue); isSlice {
			err = sv.Replace(splitList(v))
		} else {
			err = fs.Set(f.Name, v)
		}
		if err != nil {
			err = fmt.Errorf("environment %s: %w", envName(f.Name), err)
		}
	})
	return err
}

func envName(flag string) string {
	return "QLESS_ROUTER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
