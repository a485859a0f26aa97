package floorwriter

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/predictor"
	"github.com/mlscale/mlscale/test/kubetest"
)

// The suite runs one real API server (kube-apiserver and etcd built from
// source into bin/k8s by `make control-plane`, or KUBEBUILDER_ASSETS);
// each test works in its own namespace.
var (
	k8s        client.Client
	restConfig *rest.Config
	noCluster  string
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

// fuzzing reports whether the test binary runs a fuzz target: as the
// fuzzer (-test.fuzz) or as one of its workers (-test.fuzzworker).
func fuzzing() bool {
	f, w := flag.Lookup("test.fuzz"), flag.Lookup("test.fuzzworker")
	return (f != nil && f.Value.String() != "") || (w != nil && w.Value.String() == "true")
}

func runSuite(m *testing.M) int {
	flag.Parse()
	if fuzzing() {
		// The fuzz targets need no cluster, and every fuzz worker runs
		// TestMain: a worker stopped by the fuzzer would leave its API
		// server and etcd running.
		noCluster = "fuzzing: no control plane is started"
		return m.Run()
	}
	assets, err := kubetest.AssetsDir()
	if err != nil {
		noCluster = err.Error()
		return m.Run()
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	restConfig, err = env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k8s, err = client.New(restConfig, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	return m.Run()
}

// needCluster fails (never skips) a test when no API server could start.
func needCluster(t testing.TB) {
	t.Helper()
	if noCluster != "" {
		t.Fatal("no control plane: " + noCluster)
	}
}

var nsCounter atomic.Int32

// newNamespace creates a namespace for one test.
func newNamespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("fw-%d-%s", nsCounter.Add(1), strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	if len(name) > 60 {
		name = name[:60]
	}
	name = strings.TrimRight(name, "-")
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return name
}

// deployment returns a Deployment with the annotations.
func deployment(ns, name string, ann map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
				}}},
			},
		},
	}
}

// predictive returns the annotations of a predictive Deployment scaled on
// CPU (a trigger that needs no other object).
func predictive(query string, capacity float64, minR, maxR int) map[string]string {
	return map[string]string{
		intent.KeyAutoscale:          "true",
		intent.KeyCPUTarget:          "70",
		intent.KeyMinReplicas:        fmt.Sprint(minR),
		intent.KeyMaxReplicas:        fmt.Sprint(maxR),
		intent.KeyPredictive:         "true",
		intent.KeyDemandQuery:        query,
		intent.KeyCapacityPerReplica: fmt.Sprint(capacity),
	}
}

func loadTrace(t testing.TB, name string) predictor.Series {
	t.Helper()
	s, err := predictor.LoadTrace(filepath.Join("..", "testdata", "traces", name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// annotations reads the workload's current annotations.
func annotations(t testing.TB, obj client.Object) map[string]string {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatalf("reading %s: %v", obj.GetName(), err)
	}
	return obj.GetAnnotations()
}

// clock is a settable clock for the writer.
type clock struct{ t atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}
func (c *clock) set(t time.Time)     { c.t.Store(t.UnixNano()) }
func (c *clock) now() time.Time      { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }
