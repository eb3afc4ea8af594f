package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"text/tabwriter"
	"time"

	"github.com/redis/rueidis"
)

func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cluster", stderr)
	addr := fs.String("addr", "127.0.0.1:6380", "RESP address of any router")
	password := fs.String("password", "", "the router's password (AUTH)")
	timeout := fs.Duration("timeout", 5*time.Second, "time bound of the request")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: qless-router cluster status [flags]\n       qless-router cluster locate QUEUE [flags]\n\nstatus lists the live routers; locate names the shard that owns a queue.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return errors.New("cluster: give status or locate")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:  []string{*addr},
		Password:     *password,
		DisableCache: true,
		DisableRetry: true,
		Dialer:       dialer(*timeout),
	})
	if err != nil {
		return fmt.Errorf("cluster: connect to %s: %w", *addr, err)
	}
	defer c.Close()
	switch rest[0] {
	case "status":
		return clusterStatus(ctx, c, stdout)
	case "locate":
		if len(rest) != 2 {
			return errors.New("cluster locate: give exactly one queue name")
		}
		shard, err := c.Do(ctx, c.B().Arbitrary("QLESS.LOCATE").Args(rest[1]).Build()).ToString()
		if err != nil {
			return fmt.Errorf("cluster locate: %w", err)
		}
		_, err = fmt.Fprintln(stdout, shard)
		return err
	default:
		fs.Usage()
		return fmt.Errorf("cluster: unknown action %q", rest[0])
	}
}

func clusterStatus(ctx context.Context, c rueidis.Client, stdout io.Writer) error {
	rows, err := c.Do(ctx, c.B().Arbitrary("QLESS.ROUTERS").Build()).ToArray()
	if err != nil {
		return fmt.Errorf("cluster status: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTER\tRESP\tHTTP")
	for _, row := range rows {
		fields, err := row.AsStrSlice()
		if err != nil || len(fields) != 3 {
			return fmt.Errorf("cluster status: unexpected reply row %v", row)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", fields[0], fields[1], fields[2])
	}
	return tw.Flush()
}

func dialer(timeout time.Duration) net.Dialer { return net.Dialer{Timeout: timeout} }
