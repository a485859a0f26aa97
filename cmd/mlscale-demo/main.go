// Command mlscale-demo is `make demo`: mlscale against a throw-away local
// control plane, with the samples of config/samples applied (see test/demo).
// It is a binary of its own so that cmd/mlscale, the in-cluster binary,
// never links the test bed.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mlscale/mlscale/internal/cli"
	"github.com/mlscale/mlscale/test/demo"
)

func main() {
	// SIGHUP too: a closed terminal or a dropped SSH session must stop
	// the control plane the demo started, not orphan it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := cli.Execute(ctx, demo.NewCommand(), os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
