// Package e2ekeda runs mlscale against the real KEDA: the control plane of
// test/e2e (etcd and kube-apiserver built from source) plus
// kube-controller-manager, KEDA's operator and admission webhooks (built
// from source by `make kube-controller-manager keda`), RabbitMQ and
// Prometheus (Debian's packages), all on loopback, started by TestMain and
// stopped by pid (test/kedaenv).
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
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mlscale/mlscale/test/kedaenv"
	"github.com/mlscale/mlscale/test/kubetest"
	"github.com/mlscale/mlscale/test/localcluster"
)

// suite is what TestMain started.
var suite struct {
	root    string
	cluster *localcluster.Cluster
	keda    *kedaenv.Env
	client  client.Client
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
	level := zapcore.ErrorLevel
	if os.Getenv("E2E_LOGS") != "" {
		level = zapcore.DebugLevel
	}
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
	root, err := localcluster.RepoRoot(".")
	if err != nil {
		suite.setupErr = err
		return m.Run()
	}
	suite.root = root
	opts, err := localcluster.RepoOptions(root)
	if err != nil {
		suite.setupErr = err
		return m.Run()
	}
	k8sBin, kedaBin := kedaenv.RepoBinDirs(root)
	kopts := kedaenv.Options{K8sBinDir: k8sBin, KEDABinDir: kedaBin, Prometheus: true, Adapter: true, KeepDir: os.Getenv("E2E_KEEP") != ""}
	if v := os.Getenv("KUBEBUILDER_ASSETS"); v != "" {
		kopts.K8sBinDir = v
	}
	// Fail fast, before the control plane starts, when a build is missing.
	if err := kedaenv.CheckBinaries(kopts); err != nil {
		suite.setupErr = err
		return m.Run()
	}
	ctx := context.Background()
	start := time.Now()
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		suite.setupErr = err
		return m.Run()
	}
	var ml *localcluster.Mlscale
	var env *kedaenv.Env
	var mu sync.Mutex
	stopOnce := sync.OnceFunc(func() {
		mu.Lock()
		defer mu.Unlock()
		if env != nil {
			if err := env.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "e2ekeda: stopping KEDA:", err)
			}
		}
		if ml != nil {
			_ = ml.Stop()
		}
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2ekeda: stopping the control plane:", err)
		}
	})
	defer stopOnce()
	defer kubetest.Watchdog("e2ekeda", stopOnce)()
	suite.cluster = c
	fmt.Fprintf(os.Stderr, "e2ekeda: control plane up in %s at %s (kubeconfig %s)\n", time.Since(start).Round(time.Millisecond), c.Config.Host, c.KubeconfigPath)
	if suite.client, err = localcluster.NewClient(c.Config); err != nil {
		suite.setupErr = err
		return m.Run()
	}
	t0 := time.Now()
	m0, err := c.StartMlscale(ctx, localcluster.MlscaleOptions{})
	if err != nil {
		suite.setupErr = err
		return m.Run()
	}
	mu.Lock()
	ml = m0
	mu.Unlock()
	kopts.Cluster = c
	e, err := kedaenv.Start(ctx, kopts)
	if err != nil {
		suite.setupErr = fmt.Errorf("starting KEDA: %w", err)
		return m.Run()
	}
	mu.Lock()
	env = e
	mu.Unlock()
	suite.keda = e
	fmt.Fprintf(os.Stderr, "e2ekeda: mlscale, RabbitMQ, Prometheus, kube-controller-manager and KEDA up in %s (RabbitMQ and Prometheus on %s; logs in %s)\n",
		time.Since(t0).Round(time.Millisecond), e.HostIP, e.Dir)
	for _, p := range e.Processes() {
		fmt.Fprintf(os.Stderr, "e2ekeda:   %s pid %d\n", p.Name, p.PID)
	}
	return m.Run()
}

// env skips the test without MLSCALE_E2E_KEDA and fails it when the suite
// could not start.
func env(t *testing.T) {
	t.Helper()
	if suite.skip {
		t.Skipf("set %s=1 or run `make e2e-keda` (needs make kube-controller-manager keda rabbitmq)", kedaenv.EnvVar)
	}
	if suite.setupErr != nil {
		t.Fatalf("e2e-keda setup: %v", suite.setupErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{kedaenv.OperatorBinary, kedaenv.WebhooksBinary, kedaenv.ControllerManagerBinary} {
				t.Logf("%s log ends with:\n%s", name, suite.keda.LogTail(name, 30))
			}
		}
	})
}
