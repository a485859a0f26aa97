// Package e2eloop closes mlscale's loop on a simulated GPU cluster: the
// control plane of test/e2e, kube-controller-manager, KEDA (operator,
// admission webhooks, metrics adapter), RabbitMQ and Prometheus as in
// test/e2ekeda, plus kube-scheduler and kwok's controller with fake GPU and
// CPU nodes (test/kedaenv's Simulation). Pods are scheduled for real (GPU
// requests count), and kwok makes them Running and Ready after a cold
// start; no container runs. A demand replayer (kedaenv.Replayer) serves each
// workload's demand as a Prometheus gauge, with the demand its Ready pods
// serve, and Prometheus scrapes it every second.
//
// The tests run only with MLSCALE_E2E_LOOP=1, which `make e2e-loop` sets;
// without it they skip. With it, a missing binary fails every test.
package e2eloop

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

// EnvVar is the environment variable that, set to 1, makes the tests run.
const EnvVar = "MLSCALE_E2E_LOOP"

// The simulated cluster: 4 GPU nodes of 8 GPUs (32 GPUs), 2 CPU nodes, and
// a cold start of 20s from a pod's start on a node to Ready.
var simulation = kedaenv.Simulation{GPUNodes: 4, GPUsPerNode: 8, CPUNodes: 2, ColdStart: 20 * time.Second}

// scrapeInterval is how often Prometheus scrapes the replayer.
const scrapeInterval = time.Second

// suite is what TestMain started.
var suite struct {
	root    string
	cluster *localcluster.Cluster
	keda    *kedaenv.Env
	client  client.Client
	replay  *kedaenv.Replayer

	// mu guards ml, which the outage scenario stops and starts again.
	mu sync.Mutex
	ml *localcluster.Mlscale

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
	level := zapcore.ErrorLevel
	if os.Getenv("E2E_LOGS") != "" {
		level = zapcore.DebugLevel
	}
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
	stop, err := setup()
	defer stop()
	if err != nil {
		suite.setupErr = err
	}
	return m.Run()
}

// setup starts everything; stop stops what it started, whatever happened.
func setup() (stop func(), err error) {
	var (
		mu      sync.Mutex
		cluster *localcluster.Cluster
		env     *kedaenv.Env
		replay  *kedaenv.Replayer
	)
	stopOnce := sync.OnceFunc(func() {
		mu.Lock()
		defer mu.Unlock()
		if env != nil {
			if err := env.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "e2eloop: stopping KEDA and the simulated nodes:", err)
			}
		}
		if replay != nil {
			_ = replay.Stop()
		}
		suite.mu.Lock()
		if suite.ml != nil {
			_ = suite.ml.Stop()
		}
		suite.mu.Unlock()
		if cluster != nil {
			if err := cluster.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "e2eloop: stopping the control plane:", err)
			}
		}
	})
	cancelWatchdog := kubetest.Watchdog("e2eloop", stopOnce)
	stop = func() { cancelWatchdog(); stopOnce() }

	root, err := localcluster.RepoRoot(".")
	if err != nil {
		return stop, err
	}
	suite.root = root
	opts, err := localcluster.RepoOptions(root)
	if err != nil {
		return stop, err
	}
	k8sBin, kedaBin := kedaenv.RepoBinDirs(root)
	if v := os.Getenv("KUBEBUILDER_ASSETS"); v != "" {
		k8sBin = v
	}
	sim := simulation
	kopts := kedaenv.Options{
		K8sBinDir: k8sBin, KEDABinDir: kedaBin, KwokBinDir: kedaenv.RepoKwokDir(root),
		Prometheus: true, Adapter: true, Simulation: &sim,
		PrometheusScrapeInterval: scrapeInterval,
		KeepDir:                  os.Getenv("E2E_KEEP") != "",
	}
	// Fail fast, before the control plane starts, when a build is missing.
	if err := kedaenv.CheckBinaries(kopts); err != nil {
		return stop, err
	}
	ctx := context.Background()
	start := time.Now()
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		return stop, err
	}
	mu.Lock()
	cluster = c
	mu.Unlock()
	suite.cluster = c
	if suite.client, err = localcluster.NewClient(c.Config); err != nil {
		return stop, err
	}
	if err := startMlscale(ctx); err != nil {
		return stop, err
	}
	r, err := kedaenv.StartReplayer("127.0.0.1", suite.client)
	if err != nil {
		return stop, err
	}
	mu.Lock()
	replay = r
	mu.Unlock()
	suite.replay = r
	kopts.Cluster = c
	kopts.PrometheusScrape = []string{r.Addr}
	e, err := kedaenv.Start(ctx, kopts)
	if err != nil {
		return stop, fmt.Errorf("starting KEDA and the simulated cluster: %w", err)
	}
	mu.Lock()
	env = e
	mu.Unlock()
	suite.keda = e
	fmt.Fprintf(os.Stderr, "e2eloop: control plane, mlscale, RabbitMQ, Prometheus, kube-controller-manager, KEDA, kube-scheduler, kwok and %d fake nodes up in %s (logs in %s)\n",
		sim.GPUNodes+sim.CPUNodes, time.Since(start).Round(time.Millisecond), e.Dir)
	for _, p := range e.Processes() {
		fmt.Fprintf(os.Stderr, "e2eloop:   %s pid %d\n", p.Name, p.PID)
	}
	return stop, nil
}

// startMlscale starts mlscale's manager (webhooks and reconciler) in this
// process.
func startMlscale(ctx context.Context) error {
	ml, err := suite.cluster.StartMlscale(ctx, localcluster.MlscaleOptions{})
	if err != nil {
		return err
	}
	suite.mu.Lock()
	suite.ml = ml
	suite.mu.Unlock()
	return nil
}

// env skips the test without MLSCALE_E2E_LOOP and fails it when the suite
// could not start.
func env(t *testing.T) {
	t.Helper()
	if suite.skip {
		t.Skipf("set %s=1 or run `make e2e-loop` (needs make kube-controller-manager kube-scheduler kwok keda rabbitmq prometheus)", EnvVar)
	}
	if suite.setupErr != nil {
		t.Fatalf("e2e-loop setup: %v", suite.setupErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{kedaenv.OperatorBinary, kedaenv.ControllerManagerBinary, kedaenv.SchedulerBinary, kedaenv.KwokBinary} {
				t.Logf("%s log ends with:\n%s", name, suite.keda.LogTail(name, 20))
			}
		}
	})
}
