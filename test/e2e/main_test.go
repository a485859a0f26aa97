// Package e2e runs mlscale against a real control plane: etcd and
// kube-apiserver built from source (bin/k8s, `make control-plane`), KEDA's
// CRDs, mlscale's webhook configurations from config/webhook, and mlscale's
// manager (admission webhook and reconciler) started in this process. The
// tests drive the API server with the real kubectl, as a user would, and
// with a Go client.
package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/test/e2esuite"
	"github.com/mlscale/mlscale/test/kubetest"
	"github.com/mlscale/mlscale/test/localcluster"
)

// suite is what TestMain started, shared by the tests, which run one after
// another.
var suite struct {
	root    string
	cluster *localcluster.Cluster
	client  client.Client
	// setupErr fails every test: a missing control plane, a failed start.
	setupErr error

	mu      sync.Mutex
	mlscale *localcluster.Mlscale
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	e2esuite.SetLogger()
	if ok, code := runManagerProcess(); ok {
		return code
	}
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
	if testing.Verbose() && os.Getenv("E2E_CONTROL_PLANE_LOGS") != "" {
		opts.Log = os.Stderr
	}
	ctx := context.Background()
	start := time.Now()
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		suite.setupErr = err
		return m.Run()
	}
	stopOnce := sync.OnceFunc(func() {
		suite.mu.Lock()
		if suite.mlscale != nil {
			_ = suite.mlscale.Stop()
		}
		suite.mu.Unlock()
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping the control plane:", err)
		}
	})
	defer stopOnce()
	// The test binary is killed without running defers at its -timeout, or
	// by a signal: stop the control plane first.
	stopEarly := kubetest.Watchdog("e2e", stopOnce)
	defer stopEarly()
	suite.cluster = c
	fmt.Fprintf(os.Stderr, "e2e: control plane up in %s at %s (kubeconfig %s)\n", time.Since(start).Round(time.Millisecond), c.Config.Host, c.KubeconfigPath)

	suite.client, err = localcluster.NewClient(c.Config)
	if err != nil {
		suite.setupErr = err
		return m.Run()
	}
	if err := startMlscale(); err != nil {
		suite.setupErr = err
	}
	defer removeBinary()
	return m.Run()
}

// startMlscale starts mlscale's manager in this process on the webhook
// address envtest gave.
func startMlscale() error {
	suite.mu.Lock()
	defer suite.mu.Unlock()
	if suite.mlscale != nil {
		return errors.New("mlscale is already running")
	}
	ml, err := suite.cluster.StartMlscale(context.Background(), localcluster.MlscaleOptions{})
	if err != nil {
		return err
	}
	suite.mlscale = ml
	return nil
}

// stopMlscale stops the in-process manager (webhook server and reconciler).
func stopMlscale() error {
	suite.mu.Lock()
	defer suite.mu.Unlock()
	if suite.mlscale == nil {
		return nil
	}
	err := suite.mlscale.Stop()
	suite.mlscale = nil
	return err
}

// env fails the test when the suite could not start.
func env(t *testing.T) {
	t.Helper()
	if suite.setupErr != nil {
		t.Fatalf("e2e setup: %v", suite.setupErr)
	}
}

// path returns a path in the repository.
func path(elem ...string) string {
	return filepath.Join(append([]string{suite.root}, elem...)...)
}
