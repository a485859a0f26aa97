// Command mlscale is the one binary of mlscale: the admission webhook, the
// predictor and the command-line tools are its subcommands (see internal/cli).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/mlscale/mlscale/internal/cli"
)

func main() {
	// In the chart's pods: GOMEMLIMIT is the container's memory limit, and
	// MLSCALE_GOMEMLIMIT_PERCENT the share of it the runtime aims under.
	if _, err := cli.ApplyMemoryLimitPercent(os.Getenv, debug.SetMemoryLimit); err != nil {
		fmt.Fprintln(os.Stderr, "mlscale:", err)
		os.Exit(cli.ExitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal asks the command to stop; the default action
		// of a second one ends the process, should it hang.
		<-ctx.Done()
		stop()
	}()
	code := cli.Run(ctx, os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
