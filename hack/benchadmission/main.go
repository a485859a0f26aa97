// Command benchadmission measures mlscale's admission webhooks under load
// against an allow-all floor on the local control plane and prints the
// ratios against issue 17's goals (`make bench-admission`; see
// docs/performance.md). The work is test/admissionload's.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mlscale/mlscale/test/admissionload"
	"github.com/mlscale/mlscale/test/localcluster"
)

func main() {
	o := admissionload.Options{Log: os.Stderr}
	flag.IntVar(&o.Clients, "clients", 16, "concurrent keep-alive HTTPS clients")
	flag.DurationVar(&o.Duration, "duration", 8*time.Second, "time each server is driven per round")
	flag.IntVar(&o.Rounds, "rounds", 2, "rounds; each drives every server once, in alternating order")
	flag.DurationVar(&o.Warmup, "warmup", time.Second, "unmeasured time each server is driven before the rounds")
	strict := flag.Bool("strict", false, "exit with status 3 when a goal is not met")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())

	root, err := localcluster.RepoRoot(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-admission:", err)
		os.Exit(2)
	}
	o.RepoRoot = root
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	met, err := admissionload.Run(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-admission:", err)
		os.Exit(1)
	}
	if *strict && !met {
		os.Exit(3)
	}
}
