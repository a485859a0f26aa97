package webhook

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/manager"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/test/crdschema"
)

// TestRun starts `mlscale webhook`'s manager against a real API server with
// the generated webhook configuration (config/webhook) installed, and checks
// the wiring: probes, admission through the API server, the reconciler behind
// leader election, metrics, and a clean stop that releases the lease.
func TestRun(t *testing.T) {
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	root := repoRoot(t)
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s")
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		t.Fatalf("no control plane in %s (run `make control-plane`): %v", assets, err)
	}
	crds, err := crdschema.KEDACRDDir("")
	if err != nil {
		t.Fatalf("locating KEDA's CRDs: %v", err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{crds},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths:            []string{filepath.Join(root, "config", "webhook")},
			LocalServingHost: "127.0.0.1",
		},
	}
	restConfig, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})

	wh := env.WebhookInstallOptions
	cfg := DefaultConfig()
	cfg.RESTConfig = restConfig
	cfg.Host, cfg.Port, cfg.CertDir = wh.LocalServingHost, wh.LocalServingPort, wh.LocalServingCertDir
	cfg.MetricsAddr = "127.0.0.1:" + freePort(t)
	cfg.ProbeAddr = "127.0.0.1:" + freePort(t)
	cfg.LeaderElectionNamespace = "default"
	cfg.GracefulShutdown = 5 * time.Second

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30s of cancel")
		}
	}
	t.Cleanup(stop)

	// Probes: healthy, and ready once the webhook server serves.
	waitHTTP(t, done, "http://"+cfg.ProbeAddr+"/healthz", "ok")
	waitHTTP(t, done, "http://"+cfg.ProbeAddr+"/readyz", "ok")

	k8s, err := client.New(restConfig, client.Options{Scheme: mustScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()

	// Admission through the API server and the generated configuration:
	// the webhook sets the rendered hash; bad annotations are denied.
	d := webDeployment()
	bad := d.DeepCopy()
	bad.Name = "bad"
	bad.Annotations[intent.KeyMaxReplicas] = "many"
	err = k8s.Create(bg, bad)
	if err == nil || !strings.Contains(err.Error(), intent.KeyMaxReplicas) {
		t.Errorf("creating a Deployment with a bad annotation: got %v, want a denial naming %s", err, intent.KeyMaxReplicas)
	}
	if err := k8s.Create(bg, d); err != nil {
		t.Fatalf("creating the Deployment: %v", err)
	}
	if d.Annotations[intent.KeyRenderedHash] == "" {
		t.Errorf("the webhook did not set %s: annotations %v", intent.KeyRenderedHash, d.Annotations)
	}

	// The reconciler runs once elected, and its ScaledObject carries the
	// same hash.
	so := &kedav1alpha1.ScaledObject{}
	poll(t, "ScaledObject web", func() (bool, string) {
		err := k8s.Get(bg, client.ObjectKeyFromObject(d), so)
		return err == nil, fmt.Sprint(err)
	})
	if got, want := so.Annotations[intent.KeyRenderedHash], d.Annotations[intent.KeyRenderedHash]; got != want {
		t.Errorf("ScaledObject hash %q, admission's %q", got, want)
	}
	lease := &coordinationv1.Lease{}
	if err := k8s.Get(bg, client.ObjectKey{Namespace: "default", Name: DefaultLeaderElectionID}, lease); err != nil {
		t.Fatalf("no leader election lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Errorf("lease has no holder: %+v", lease.Spec)
	}

	// Metrics on the metrics endpoint.
	body := waitHTTP(t, done, "http://"+cfg.MetricsAddr+"/metrics", `mlscale_reconcile_total{kind="deployment",result="created"} 1`)
	for _, want := range []string{"mlscale_reconcile_duration_seconds_bucket", `mlscale_keda_objects{kind="ScaledObject",namespace="default"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// A clean stop releases the lease for the next leader.
	stop()
	if err := k8s.Get(bg, client.ObjectKeyFromObject(lease), lease); err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("lease still held by %q after stop", *h)
	}
	if so.Labels[render.LabelManagedBy] != render.ManagedByValue {
		t.Errorf("ScaledObject labels %v", so.Labels)
	}
}

func mustScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s, err := manager.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = filepath.Dir(dir)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// poll calls cond until it holds, for at most 30s.
func poll(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not ready after 30s: %s", what, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitHTTP polls url until it answers 200 with a body containing want, and
// returns the body; it fails at once if the manager stops.
func waitHTTP(t *testing.T, done chan error, url, want string) string {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	var body string
	poll(t, url, func() (bool, string) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the manager stopped: %v", err)
		default:
		}
		resp, err := hc.Get(url)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return false, err.Error()
		}
		body = string(b)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			return false, fmt.Sprintf("status %d, body %.300q", resp.StatusCode, body)
		}
		return true, ""
	})
	return body
}

// webDeployment is Deployment default/web, opted in on a CPU target, with
// the cpu request that needs.
func webDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", Annotations: map[string]string{
			intent.KeyAutoscale: "true", intent.KeyCPUTarget: "60",
		}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "web:1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
				}}},
			},
		},
	}
}
