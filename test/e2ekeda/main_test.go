// Package e2ekeda runs mlscale against the real KEDA: the control plane of
// test/e2e (etcd and kube-apiserver built from source) plus
// kube-controller-manager, KEDA's operator and admission webhooks (built
// from source by `make kube-controller-manager keda`), RabbitMQ and
// Prometheus (Debian's packages), all on loopback, started by TestMain and
// stopped by pid (test/e2esuite, test/kedaenv).
//
// The tests run only with MLSCALE_E2E_KEDA=1, which `make e2e-keda` sets;
// without it they skip, so that `go test ./...` needs no KEDA build. With
// it, a missing binary fails every test.
//
// There is no kubelet, so no pod ever runs: scaling is observed on the
// workloads' spec.replicas, the HPAs' status and KEDA's conditions.
package e2ekeda

import (
	"context"
	"flag"
	"os"
	"testing"

	"github.com/mlscale/mlscale/test/e2esuite"
	"github.com/mlscale/mlscale/test/kedaenv"
)

// suite is what TestMain started.
var suite struct {
	*e2esuite.Suite
	// skip is set when MLSCALE_E2E_KEDA is not set.
	skip bool
	// setupErr fails every test.
	setupErr error
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv(kedaenv.EnvVar) == "" {
		suite.skip = true
		return m.Run()
	}
	e2esuite.SetLogger()
	s, stop, err := e2esuite.Start(context.Background(), e2esuite.Options{
		Name: "e2ekeda",
		KEDA: kedaenv.Options{Prometheus: true, Adapter: true},
	})
	defer stop()
	suite.Suite, suite.setupErr = s, err
	return m.Run()
}

// env skips the test without MLSCALE_E2E_KEDA and fails it when the suite
// could not start.
func env(t *testing.T) {
	t.Helper()
	e2esuite.Check(t, suite.Suite, suite.skip,
		"set "+kedaenv.EnvVar+"=1 or run `make e2e-keda` (needs make kube-controller-manager keda rabbitmq)", suite.setupErr,
		kedaenv.OperatorBinary, kedaenv.WebhooksBinary, kedaenv.ControllerManagerBinary)
}
