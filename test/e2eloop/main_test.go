// Package e2eloop closes mlscale's loop on a simulated GPU cluster: the
// control plane of test/e2e, kube-controller-manager, KEDA (operator,
// admission webhooks, metrics adapter), RabbitMQ and Prometheus as in
// test/e2ekeda, plus kube-scheduler and kwok's controller with fake GPU and
// CPU nodes (test/kedaenv's Simulation), started by test/e2esuite. Pods are
// scheduled for real (GPU requests count), and kwok makes them Running and
// Ready after a cold start; no container runs. A demand replayer
// (kedaenv.Replayer) serves each workload's demand as a Prometheus gauge,
// with the demand its Ready pods serve, and Prometheus scrapes it every
// second.
//
// The tests run only with MLSCALE_E2E_LOOP=1, which `make e2e-loop` sets;
// without it they skip. With it, a missing binary fails every test.
package e2eloop

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/mlscale/mlscale/test/e2esuite"
	"github.com/mlscale/mlscale/test/kedaenv"
)

// EnvVar is the environment variable that, set to 1, makes the tests run.
const EnvVar = "MLSCALE_E2E_LOOP"

// The simulated cluster: 4 GPU nodes of 8 GPUs (32 GPUs), 2 CPU nodes, and
// a cold start of 20s from a pod's start on a node to Ready.
var simulation = kedaenv.Simulation{GPUNodes: 4, GPUsPerNode: 8, CPUNodes: 2, ColdStart: 20 * time.Second}

// scrapeInterval is how often Prometheus scrapes the replayer.
const scrapeInterval = time.Second

// suite is what TestMain started.
var suite struct {
	*e2esuite.Suite
	replay *kedaenv.Replayer

	skip     bool
	setupErr error
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv(EnvVar) == "" {
		suite.skip = true
		return m.Run()
	}
	e2esuite.SetLogger()
	sim := simulation
	s, stop, err := e2esuite.Start(context.Background(), e2esuite.Options{
		Name: "e2eloop",
		KEDA: kedaenv.Options{Prometheus: true, Adapter: true, Simulation: &sim, PrometheusScrapeInterval: scrapeInterval},
		// The replayer serves the demand that Prometheus scrapes.
		BeforeKEDA: func(_ context.Context, s *e2esuite.Suite) ([]string, func() error, error) {
			r, err := kedaenv.StartReplayer("127.0.0.1", s.Client)
			if err != nil {
				return nil, nil, err
			}
			suite.replay = r
			return []string{r.Addr}, r.Stop, nil
		},
	})
	defer stop()
	suite.Suite, suite.setupErr = s, err
	return m.Run()
}

// env skips the test without MLSCALE_E2E_LOOP and fails it when the suite
// could not start.
func env(t *testing.T) {
	t.Helper()
	e2esuite.Check(t, suite.Suite, suite.skip,
		"set "+EnvVar+"=1 or run `make e2e-loop` (needs make kube-controller-manager kube-scheduler kwok keda rabbitmq prometheus)", suite.setupErr,
		kedaenv.OperatorBinary, kedaenv.ControllerManagerBinary, kedaenv.SchedulerBinary, kedaenv.KwokBinary)
}
