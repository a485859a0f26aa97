package audit

import (
	"context"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/webhook/inventory"
)

func hpa(name, target string) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ml", UID: types.UID("uid-hpa-" + name)},
		Spec:       autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target}, MaxReplicas: 3},
	}
}

type world struct {
	c        client.WithWatch
	recorder *events.FakeRecorder
	auditor  *Auditor
}

func newWorld(t testing.TB, objs ...client.Object) world {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := kedav1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).
		WithIndex(&autoscalingv2.HorizontalPodAutoscaler{}, inventory.TargetIndex, inventory.HPATarget).
		WithIndex(&kedav1alpha1.ScaledObject{}, inventory.TargetIndex, inventory.ScaledObjectTarget).
		WithObjects(objs...).Build()
	e, err := policy.New(context.Background(), policy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := events.NewFakeRecorder(100)
	return world{c: c, recorder: rec, auditor: &Auditor{
		Reader: c, Engines: policy.NewHolder(e), Inventory: inventory.Source{Reader: c},
		Recorder: rec, Metrics: NewMetrics(),
	}}
}

func (w world) events() []string {
	var out []string
	for {
		select {
		case e := <-w.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestRound(t *testing.T) {
	ctx := context.Background()
	annotated := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "ml", Annotations: map[string]string{intent.KeyAutoscale: "true", intent.KeyCPUTarget: "60"}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: *resourceQty("100m")}},
		}}}}},
	}
	plain := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "ml"}}
	w := newWorld(t, hpa("a", "web"), hpa("b", "web"), hpa("c", "other"), hpa("api-hpa", "api"), annotated, plain)

	found, err := w.auditor.Round(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counts := Count(found)
	want := map[CountKey]int{
		{Policy: "hpa_duplicate_target", Namespace: "ml", Kind: policy.KindHPA}:   2,
		{Policy: "scaledobject_foreign_hpa", Namespace: "ml", Kind: "Deployment"}: 1,
	}
	if len(counts) != len(want) {
		t.Errorf("counts = %v, want %v", counts, want)
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("count %+v = %d, want %d (all: %v)", k, counts[k], n, counts)
		}
		if got := testutil.ToFloat64(w.auditor.Metrics.violations.WithLabelValues(k.Policy, k.Namespace, k.Kind)); got != float64(n) {
			t.Errorf("metric %+v = %v, want %d", k, got, n)
		}
	}
	evs := w.events()
	if len(evs) != 3 || !strings.Contains(strings.Join(evs, "\n"), "Warning PolicyViolation hpa_duplicate_target:") {
		t.Errorf("events = %q, want 3 PolicyViolation Warnings", evs)
	}

	// The same findings again: no new Events.
	if _, err := w.auditor.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if evs := w.events(); len(evs) != 0 {
		t.Errorf("a repeated finding got Events again: %q", evs)
	}

	// Fixed violations leave the metric.
	if err := w.c.Delete(ctx, hpa("b", "web")); err != nil {
		t.Fatal(err)
	}
	if err := w.c.Delete(ctx, hpa("api-hpa", "api")); err != nil {
		t.Fatal(err)
	}
	found, err = w.auditor.Round(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 0 {
		t.Errorf("findings after the fix: %+v", found)
	}
	if n := testutil.CollectAndCount(w.auditor.Metrics.violations); n != 0 {
		t.Errorf("%d violation series left after the fix", n)
	}
}

func TestNeedLeaderElection(t *testing.T) {
	if !(&Auditor{}).NeedLeaderElection() {
		t.Error("the audit must run on the leader only")
	}
}

func TestRoundWithoutEngine(t *testing.T) {
	a := &Auditor{Engines: &policy.Holder{}, Metrics: NewMetrics()}
	if _, err := a.Round(context.Background()); err == nil {
		t.Error("a round without an engine must fail")
	}
}

func resourceQty(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}
