// Package e2esuite starts what the suites that run mlscale against the
// real KEDA (test/e2ekeda, test/e2eloop) share: the control plane of
// test/e2e (etcd and kube-apiserver built from source), mlscale's manager
// in the test process, and test/kedaenv's processes (KEDA, RabbitMQ,
// Prometheus, kube-controller-manager and, for a simulation,
// kube-scheduler and kwok), all on loopback. Stop stops exactly what Start
// started, by pid, whatever happened in between, and so does a watchdog
// when the test binary is interrupted.
package e2esuite

import (
	"context"
	"fmt"
	"os"
	"strings"
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

// Options configure Start.
type Options struct {
	// Name prefixes what Start prints ("e2ekeda").
	Name string
	// KEDA are kedaenv's options. Start sets Cluster, the binary folders
	// of the repository (bin/k8s, or KUBEBUILDER_ASSETS, and bin/keda;
	// bin/kwok with a Simulation) and KeepDir (E2E_KEEP set).
	KEDA kedaenv.Options
	// BeforeKEDA, when set, runs once the control plane and mlscale are
	// up and before kedaenv starts. It returns more scrape targets for
	// Prometheus and a function that stops what it started (nil for
	// none), which Stop calls after kedaenv's processes are stopped.
	BeforeKEDA func(ctx context.Context, s *Suite) (scrape []string, stop func() error, err error)
}

// Suite is what Start started.
type Suite struct {
	// Root is the repository's root.
	Root string
	// Cluster is the control plane.
	Cluster *localcluster.Cluster
	// Client is a client of the control plane.
	Client client.Client
	// KEDA are kedaenv's processes.
	KEDA *kedaenv.Env

	// mu guards ml, which a test may stop and start again.
	mu sync.Mutex
	ml *localcluster.Mlscale
}

// SetLogger sends controller-runtime's logs to stderr (test/e2e uses it
// too): errors only, or everything with E2E_LOGS set.
func SetLogger() {
	level := zapcore.ErrorLevel
	if os.Getenv("E2E_LOGS") != "" {
		level = zapcore.DebugLevel
	}
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
}

// Start starts the control plane, mlscale, o.BeforeKEDA's part and
// kedaenv's processes, in that order. It returns stop, which stops what
// was started (also when err is not nil: call it in every case), and the
// suite as far as it got.
func Start(ctx context.Context, o Options) (s *Suite, stop func(), err error) {
	s = &Suite{}
	var (
		mu         sync.Mutex
		env        *kedaenv.Env
		stopBefore func() error
	)
	stopOnce := sync.OnceFunc(func() {
		mu.Lock()
		defer mu.Unlock()
		if env != nil {
			if err := env.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: stopping kedaenv's processes: %v\n", o.Name, err)
			}
		}
		if stopBefore != nil {
			if err := stopBefore(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: stopping what the suite started before KEDA: %v\n", o.Name, err)
			}
		}
		_ = s.StopMlscale()
		if s.Cluster != nil {
			if err := s.Cluster.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "%s: stopping the control plane: %v\n", o.Name, err)
			}
		}
	})
	cancelWatchdog := kubetest.Watchdog(o.Name, stopOnce)
	stop = func() { cancelWatchdog(); stopOnce() }

	if s.Root, err = localcluster.RepoRoot("."); err != nil {
		return s, stop, err
	}
	opts, err := localcluster.RepoOptions(s.Root)
	if err != nil {
		return s, stop, err
	}
	kopts := repoKEDAOptions(o.KEDA, s.Root)
	// Fail fast, before the control plane starts, when a build is missing.
	if err := kedaenv.CheckBinaries(kopts); err != nil {
		return s, stop, err
	}
	start := time.Now()
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		return s, stop, err
	}
	mu.Lock()
	s.Cluster = c
	mu.Unlock()
	if s.Client, err = localcluster.NewClient(c.Config); err != nil {
		return s, stop, err
	}
	if err := s.StartMlscale(ctx); err != nil {
		return s, stop, err
	}
	if o.BeforeKEDA != nil {
		scrape, stopIt, err := o.BeforeKEDA(ctx, s)
		mu.Lock()
		stopBefore = stopIt
		mu.Unlock()
		if err != nil {
			return s, stop, err
		}
		kopts.PrometheusScrape = append(kopts.PrometheusScrape, scrape...)
	}
	kopts.Cluster = c
	e, err := kedaenv.Start(ctx, kopts)
	if err != nil {
		return s, stop, fmt.Errorf("starting kedaenv's processes: %w", err)
	}
	mu.Lock()
	env = e
	mu.Unlock()
	s.KEDA = e
	fmt.Fprintf(os.Stderr, "%s: up in %s at %s (logs in %s)\n", o.Name, time.Since(start).Round(time.Millisecond), c.Config.Host, e.Dir)
	for _, p := range e.Processes() {
		fmt.Fprintf(os.Stderr, "%s:   %s pid %d\n", o.Name, p.Name, p.PID)
	}
	return s, stop, nil
}

// repoKEDAOptions returns o with the binary folders of the repository at
// root (KUBEBUILDER_ASSETS for the control plane's, when set) and KeepDir
// set from E2E_KEEP.
func repoKEDAOptions(o kedaenv.Options, root string) kedaenv.Options {
	o.K8sBinDir, o.KEDABinDir = kedaenv.RepoBinDirs(root)
	if v := os.Getenv("KUBEBUILDER_ASSETS"); v != "" {
		o.K8sBinDir = v
	}
	if o.Simulation != nil {
		o.KwokBinDir = kedaenv.RepoKwokDir(root)
	}
	o.KeepDir = os.Getenv("E2E_KEEP") != ""
	return o
}

// StartMlscale starts mlscale's manager (webhooks and reconciler) in this
// process.
func (s *Suite) StartMlscale(ctx context.Context) error {
	ml, err := s.Cluster.StartMlscale(ctx, localcluster.MlscaleOptions{})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ml = ml
	s.mu.Unlock()
	return nil
}

// StopMlscale stops the manager StartMlscale started, if it runs.
func (s *Suite) StopMlscale() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ml == nil {
		return nil
	}
	err := s.ml.Stop()
	s.ml = nil
	return err
}

// Kubectl runs the real kubectl against the control plane, with stdin
// unless it is "", for at most a minute.
func (s *Suite) Kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if stdin != "" {
		out, _, err := s.Cluster.Kubectl(ctx, strings.NewReader(stdin), args...)
		return out, err
	}
	out, _, err := s.Cluster.Kubectl(ctx, nil, args...)
	return out, err
}

// MustKubectl runs Kubectl and fails the test when it fails.
func (s *Suite) MustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := s.Kubectl(t, stdin, args...)
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s", err, out)
	}
	return out
}

// Check skips t when skip is set, with why, and fails it when the suite
// could not start (setupErr). Once t is over, if it failed, it logs the
// last lines of the logs of the kedaenv processes named.
func Check(t *testing.T, s *Suite, skip bool, why string, setupErr error, logs ...string) {
	t.Helper()
	if skip {
		t.Skip(why)
	}
	if setupErr != nil {
		t.Fatalf("suite setup: %v", setupErr)
	}
	t.Cleanup(func() {
		if t.Failed() && s != nil && s.KEDA != nil {
			for _, name := range logs {
				t.Logf("%s log ends with:\n%s", name, s.KEDA.LogTail(name, 30))
			}
		}
	})
}
