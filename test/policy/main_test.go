// Package policy_test runs mlscale's policies end to end: a real etcd and
// kube-apiserver (bin/k8s) with KEDA's CRDs and mlscale's webhook
// configurations from config/webhook, mlscale's manager in this process
// with a policy configuration, user policies from ConfigMaps and a fast
// audit loop, driven by the real kubectl.
package policy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/test/kubetest"
	"github.com/mlscale/mlscale/test/localcluster"
	"github.com/mlscale/mlscale/webhook"
)

// policyNamespace holds the user policy ConfigMaps.
const policyNamespace = "mlscale-system"

// auditNamespace holds the violation made before mlscale started.
const auditNamespace = "audit"

var suite struct {
	root        string
	cluster     *localcluster.Cluster
	client      client.Client
	metricsAddr string
	setupErr    error
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
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
	ctx := context.Background()
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		suite.setupErr = err
		return m.Run()
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "policy e2e: stopping the control plane:", err)
		}
	}()
	suite.cluster = c
	if suite.client, err = localcluster.NewClient(c.Config); err != nil {
		suite.setupErr = err
		return m.Run()
	}
	if err := before(ctx); err != nil {
		suite.setupErr = err
		return m.Run()
	}
	ml, err := c.StartMlscale(ctx, localcluster.MlscaleOptions{Configure: configure})
	if err != nil {
		suite.setupErr = err
		return m.Run()
	}
	defer func() { _ = ml.Stop() }()
	return m.Run()
}

// configure is the manager configuration under test: trigger endpoints on
// an allowlist in warn mode, user policies, a one-second audit, metrics on
// loopback.
func configure(cfg *webhook.Config) {
	cfg.Policy = policy.Config{
		Actions:          map[string]policy.Action{"trigger_endpoints": policy.ActionWarn},
		AllowedEndpoints: []string{"*.monitoring.svc.cluster.local"},
	}
	cfg.PolicyNamespace = policyNamespace
	cfg.AuditInterval = time.Second
	cfg.MetricsAddr = suite.metricsAddr
}

// before makes what exists before mlscale starts: the policy namespace, and
// two HPAs on one Deployment (admitted: the HPA webhook fails open while
// mlscale is down), which the audit must find.
func before(ctx context.Context) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("finding a free port: %w", err)
	}
	suite.metricsAddr = l.Addr().String()
	_ = l.Close()
	for _, ns := range []string{policyNamespace, auditNamespace} {
		if err := suite.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	// hpa_duplicate_target's denied sample: HPAs "first" and "second" on
	// Deployment "shared".
	manifest, err := os.ReadFile(samplePath("hpa_duplicate_target", "denied", "second-hpa.yaml"))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The first calls can fail while the API server's webhook client
		// warms up; the HPA webhook is failurePolicy Ignore.
		_, _, err := suite.cluster.Kubectl(ctx, bytes.NewReader(manifest), "apply", "-n", auditNamespace, "-f", "-")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("creating the pre-existing HPAs: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// zapLevel is debug with E2E_LOGS set, else errors only.
func zapLevel() zapcore.Level {
	if os.Getenv("E2E_LOGS") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

// env fails the test when the suite could not start.
func env(t *testing.T) {
	t.Helper()
	if suite.setupErr != nil {
		t.Fatalf("policy e2e setup: %v", suite.setupErr)
	}
}

// kubectl runs the real kubectl; stdin may be "".
func kubectl(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var in io.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	return suite.cluster.Kubectl(ctx, in, args...)
}

// mustKubectl runs kubectl and fails the test when it fails.
func mustKubectl(t *testing.T, stdin string, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, err := kubectl(t, stdin, args...)
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s", err, out)
	}
	return out, errOut
}

// metrics returns the manager's metrics page.
func metrics() (string, error) {
	resp, err := http.Get("http://" + suite.metricsAddr + "/metrics") //nolint:noctx // a test's loopback call
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return string(b), nil
}

// hpa is an autoscaling/v2 HPA manifest.
func hpa(namespace, name, kind, target string) string {
	return fmt.Sprintf(`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: %s
  namespace: %s
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: %s
    name: %s
  minReplicas: 1
  maxReplicas: 3
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 50
`, name, namespace, kind, target)
}

// samplePath is a sample of a built-in policy:
// policies/POLICY/samples/VERDICT/FILE.
func samplePath(policy, verdict, file string) string {
	return filepath.Join(suite.root, "policies", policy, "samples", verdict, file)
}

// sample reads a sample of a built-in policy (see samplePath). Samples name
// no namespace; apply them with -n.
func sample(t *testing.T, policy, verdict, file string) string {
	t.Helper()
	b, err := os.ReadFile(samplePath(policy, verdict, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// namespace creates a namespace for one test, opted in to mlscale (the
// workload checks, like the mutating webhook, only see labelled
// namespaces), and deletes it afterwards.
func namespace(t *testing.T, name string) string {
	t.Helper()
	return kubetest.Namespace(t, suite.client, name, map[string]string{"mlscale.io/enabled": "true"})
}
