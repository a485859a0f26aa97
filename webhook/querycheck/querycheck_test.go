package querycheck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/manager"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/test/crdschema"
	"github.com/mlscale/mlscale/test/kubetest"
	"github.com/mlscale/mlscale/test/promtest"
)

// The tests run against a real API server with KEDA's CRDs (bin/k8s) and a
// real Prometheus on loopback (Debian's prometheus package); the servers
// the check must not call, or that answer too much, are httptest servers.
var (
	k8s       client.Client
	noCluster string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	assets, err := kubetest.AssetsDir()
	if err != nil {
		noCluster = err.Error()
		return m.Run()
	}
	crds, err := crdschema.KEDACRDDir("")
	if err != nil {
		noCluster = err.Error()
		return m.Run()
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDDirectoryPaths: []string{crds}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	scheme, err := manager.Scheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func needCluster(t *testing.T) {
	t.Helper()
	if noCluster != "" {
		t.Fatal("no control plane: " + noCluster)
	}
}

// t0 is the time the checks evaluate their queries at; the backfilled
// series end there.
var t0 = time.Now().Add(-time.Hour).Truncate(time.Minute)

// gpuDeployment creates an opted-in GPU Deployment and its rendered
// ScaledObject (with a wake-query on gateway_pending) against the server,
// and returns both.
func gpuDeployment(t *testing.T, ns, name, server string, extra ...string) (*appsv1.Deployment, *kedav1alpha1.ScaledObject) {
	t.Helper()
	ann := map[string]string{intent.KeyAutoscale: "true", intent.KeyProfile: "vllm", intent.KeyScaleToZero: "true",
		intent.KeyWakeQuery: fmt.Sprintf(`sum(gateway_pending{backend=%q})`, name)}
	for i := 0; i+1 < len(extra); i += 2 {
		ann[extra[i]] = extra[i+1]
	}
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "vllm", Image: "vllm",
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}}}}},
			},
		},
	}
	ctx := context.Background()
	if err := k8s.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	w, err := workload.FromObject(d)
	if err != nil {
		t.Fatal(err)
	}
	f := facts.Default()
	f.PrometheusServer = server
	res, err := render.Workload(w, f)
	if err != nil {
		t.Fatal(err)
	}
	so := res.ScaledObject()
	if err := k8s.Create(ctx, so); err != nil {
		t.Fatal(err)
	}
	return d, so
}

// status reads the workload's mlscale.io/trigger-status.
func status(t *testing.T, d *appsv1.Deployment) map[string]string {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(d), d); err != nil {
		t.Fatal(err)
	}
	var s statusAnnotation
	if raw := d.Annotations[intent.KeyTriggerStatus]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			t.Fatalf("%s is not JSON: %q", intent.KeyTriggerStatus, raw)
		}
	}
	return s.Triggers
}

// drain returns the Events recorded so far.
func drain(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// TestEmptySeries: the GPU trigger of a workload whose pods no collector
// records reads nothing: a TriggerQueryEmpty Event names it and what
// records its series, the workload's status annotation and the metric say
// so, and a second round repeats neither the Event nor the patch. The same
// trigger of a workload whose series exists is ok.
func TestEmptySeries(t *testing.T) {
	needCluster(t)
	ns := kubetest.Namespace(t, k8s, "empty", nil)
	prom := promtest.Start(t,
		promtest.Regular("gateway_pending", map[string]string{"backend": "missing"}, t0.Add(-10*time.Minute), time.Minute, make([]float64, 11)),
		promtest.Regular("gateway_pending", map[string]string{"backend": "recorded"}, t0.Add(-10*time.Minute), time.Minute, make([]float64, 11)),
		promtest.Regular(render.GPUUtilizationMetric, map[string]string{"namespace": ns, "pod": "recorded-5d8f9c7b6d-x7k2p"}, t0.Add(-10*time.Minute), time.Minute, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}),
	)
	missing, _ := gpuDeployment(t, ns, "missing", prom.URL)
	recorded, _ := gpuDeployment(t, ns, "recorded", prom.URL)

	rec := events.NewFakeRecorder(20)
	metrics := NewMetrics()
	o := DefaultOptions()
	o.DefaultServer, o.Now = prom.URL, func() time.Time { return t0 }
	c := New(k8s, k8s, rec, metrics, logr.Discard(), o)
	if err := c.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := status(t, missing); got["gpu"] != StatusEmpty || got["wake"] != StatusOK || got["vllm"] != StatusEmpty {
		t.Errorf("missing: status %v, want gpu and vllm empty, wake ok", got)
	}
	if got := status(t, recorded); got["gpu"] != StatusOK || got["wake"] != StatusOK {
		t.Errorf("recorded: status %v, want gpu and wake ok", got)
	}
	evs := drain(rec)
	var gpuEvent string
	for _, e := range evs {
		if strings.Contains(e, "trigger gpu:") {
			gpuEvent = e
		}
	}
	for _, want := range []string{"Warning " + ReasonQueryEmpty, "returns no series", render.GPUUtilizationMetric, "collector.enabled", "metrics.prometheusRule.enabled"} {
		if !strings.Contains(gpuEvent, want) {
			t.Errorf("the GPU trigger's Event %q lacks %q (events: %q)", gpuEvent, want, evs)
		}
	}
	if got := testutil.ToFloat64(metrics.series.WithLabelValues(ns, "Deployment", "missing", "gpu")); got != 0 {
		t.Errorf("mlscale_trigger_query_series of missing/gpu = %v, want 0", got)
	}
	if got := testutil.ToFloat64(metrics.series.WithLabelValues(ns, "Deployment", "recorded", "gpu")); got != 1 {
		t.Errorf("mlscale_trigger_query_series of recorded/gpu = %v, want 1", got)
	}
	before := missing.ResourceVersion
	if err := c.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if evs := drain(rec); len(evs) != 0 {
		t.Errorf("the second round repeated Events: %q", evs)
	}
	status(t, missing)
	if missing.ResourceVersion != before {
		t.Errorf("the second round patched an unchanged status")
	}
}

// countingServer is a stand-in Prometheus that counts the requests it gets
// and answers each with body.
func countingServer(t *testing.T, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

const emptyVector = `{"status":"success","data":{"resultType":"vector","result":[]}}`

// TestOnlyAllowedServers: the check is not a request-forgery path. A
// trigger on a server that is neither the default one nor on the allowed
// endpoints is not queried, nor one with a TriggerAuthentication (mlscale
// does not read Secrets); an allowed one is; an answer larger than
// MaxBytes is an error, not read whole.
func TestOnlyAllowedServers(t *testing.T) {
	needCluster(t)
	ns := kubetest.Namespace(t, k8s, "ssrf", nil)
	foreign, foreignHits := countingServer(t, emptyVector)
	huge, _ := countingServer(t, `{"status":"success","data":{"resultType":"vector","result":[`+strings.Repeat(`{"metric":{},"value":[0,"1"]},`, 40000)+`{"metric":{},"value":[0,"1"]}]}}`)
	d, so := gpuDeployment(t, ns, "api", foreign.URL)

	o := DefaultOptions()
	o.DefaultServer = "http://prometheus.monitoring.svc:9090"
	c := New(k8s, k8s, events.NewFakeRecorder(20), NewMetrics(), logr.Discard(), o)
	if err := c.check(context.Background(), so, true); err != nil {
		t.Fatal(err)
	}
	if n := foreignHits.Load(); n != 0 {
		t.Errorf("a server off the allowed endpoints was queried %d times", n)
	}
	if got := status(t, d)["gpu"]; !strings.HasPrefix(got, StatusSkipped+": 127.0.0.1 is neither the default Prometheus server nor on the allowed endpoints") {
		t.Errorf("status %q, want skipped", got)
	}

	o.Allowed = func(host string) bool { return host == "127.0.0.1" }
	c = New(k8s, k8s, events.NewFakeRecorder(20), NewMetrics(), logr.Discard(), o)
	if err := c.check(context.Background(), so, true); err != nil {
		t.Fatal(err)
	}
	if foreignHits.Load() == 0 {
		t.Error("an allowed server was not queried")
	}
	if got := status(t, d)["gpu"]; got != StatusEmpty {
		t.Errorf("status %q, want empty", got)
	}

	// A TriggerAuthentication: never queried.
	authed := so.DeepCopy()
	for i := range authed.Spec.Triggers {
		authed.Spec.Triggers[i].AuthenticationRef = &kedav1alpha1.AuthenticationRef{Name: "prom-auth"}
	}
	before := foreignHits.Load()
	if err := c.check(context.Background(), authed, true); err != nil {
		t.Fatal(err)
	}
	if foreignHits.Load() != before || !strings.Contains(status(t, d)["gpu"], "TriggerAuthentication") {
		t.Errorf("a trigger with a TriggerAuthentication was queried, or not reported as skipped: %v", status(t, d))
	}

	// An answer over MaxBytes.
	big := so.DeepCopy()
	for i := range big.Spec.Triggers {
		big.Spec.Triggers[i].Metadata["serverAddress"] = huge.URL
	}
	o.MaxBytes = 64 << 10
	c = New(k8s, k8s, events.NewFakeRecorder(20), NewMetrics(), logr.Discard(), o)
	if err := c.check(context.Background(), big, true); err != nil {
		t.Fatal(err)
	}
	if got := status(t, d)["gpu"]; !strings.HasPrefix(got, StatusError) || !strings.Contains(got, "larger than 65536 bytes") {
		t.Errorf("status %q, want an error for the oversized answer", got)
	}
}
