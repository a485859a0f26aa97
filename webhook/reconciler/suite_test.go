package reconciler

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/manager"
	"github.com/mlscale/mlscale/test/crdschema"
	"github.com/mlscale/mlscale/test/kubetest"
)

// The suite runs one real API server (source-built kube-apiserver and etcd
// from bin/k8s, or KUBEBUILDER_ASSETS) with KEDA's CRDs, and one manager
// running the reconciler against it. Tests run one after another, each in
// its own namespace.
var (
	k8s      client.Client
	registry *prometheus.Registry
	skipWhy  string
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(zapcore.Level(zapLevel())), zap.StacktraceLevel(zapcore.PanicLevel)))
	assets, err := kubetest.AssetsDir()
	if err != nil {
		skipWhy = err.Error()
		return m.Run()
	}
	crds, err := crdschema.KEDACRDDir("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "locating KEDA's CRDs:", err)
		return 1
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{crds},
		ErrorIfCRDPathMissing: true,
	}
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	fmt.Fprintf(os.Stderr, "envtest: API server up in %s\n", time.Since(start).Round(time.Millisecond))

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := kedav1alpha1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultTransform: manager.CacheTransform},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	registry = prometheus.NewRegistry()
	metrics := NewMetrics()
	if err := metrics.Register(registry); err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
		return 1
	}
	opts := DefaultOptions()
	opts.Facts, opts.Metrics = facts.FromCluster(mgr.GetCache(), facts.Default()), metrics
	if err := SetupWithManager(mgr, opts); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		code = 1
	}
	return code
}

func zapLevel() int8 {
	if os.Getenv("MLSCALE_TEST_VERBOSE") != "" {
		return -1
	}
	return 2 // errors only; failed renders are logged as errors by design
}

// needCluster fails the test when no API server could be started.
func needCluster(t *testing.T) {
	t.Helper()
	if skipWhy != "" {
		t.Fatal("no control plane (run `make control-plane`): " + skipWhy)
	}
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	name = strings.ReplaceAll(name, "/", "-")
	if len(name) > 50 {
		name = name[:50]
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-", Labels: labels}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// eventually polls cond until it returns true or the deadline passes; the
// returned string explains the last failed attempt.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	const timeout = 30 * time.Second
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %s", what, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventsFor lists the Events on an object with the given reason.
func eventsFor(t *testing.T, ns string, uid types.UID, reason string) []corev1.Event {
	t.Helper()
	var list corev1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("listing events: %v", err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.UID == uid && e.Reason == reason {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp) })
	return out
}

// waitEvent waits for an Event with the reason on the object and returns it.
func waitEvent(t *testing.T, obj client.Object, reason string) corev1.Event {
	t.Helper()
	var found corev1.Event
	eventually(t, fmt.Sprintf("Event %s on %s", reason, obj.GetName()), func() (bool, string) {
		evs := eventsFor(t, obj.GetNamespace(), obj.GetUID(), reason)
		if len(evs) == 0 {
			return false, "no such event yet"
		}
		found = evs[len(evs)-1]
		return true, ""
	})
	return found
}

// reconciles reads mlscale_reconcile_total{kind,result}.
func reconciles(t *testing.T, kind, result string) float64 {
	t.Helper()
	mfs, err := registry.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "mlscale_reconcile_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "kind") == kind && label(m, "result") == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
