package inventory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/mlscale/mlscale/internal/policy"
)

func hpa(ns, name, kind, target string) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: kind, Name: target}, MaxReplicas: 3},
	}
}

func so(ns, name, kind, target string) *kedav1alpha1.ScaledObject {
	return &kedav1alpha1.ScaledObject{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       kedav1alpha1.ScaledObjectSpec{ScaleTargetRef: &kedav1alpha1.ScaleTarget{Kind: kind, Name: target}},
	}
}

func TestTargetIndexFuncs(t *testing.T) {
	tests := []struct {
		name string
		f    func(client.Object) []string
		obj  client.Object
		want []string
	}{
		{"hpa", HPATarget, hpa("a", "h", "StatefulSet", "db"), []string{"StatefulSet/db"}},
		{"hpa without target", HPATarget, hpa("a", "h", "Deployment", ""), nil},
		{"hpa func on a ScaledObject", HPATarget, so("a", "s", "", "web"), nil},
		{"scaledobject default kind", ScaledObjectTarget, so("a", "s", "", "web"), []string{"Deployment/web"}},
		{"scaledobject kind", ScaledObjectTarget, so("a", "s", "StatefulSet", "db"), []string{"StatefulSet/db"}},
		{"scaledobject without ref", ScaledObjectTarget, &kedav1alpha1.ScaledObject{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f(tt.obj); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSource(t *testing.T) {
	s := testScheme(t)
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "gpu", Namespace: "ml"}}
	c := fake.NewClientBuilder().WithScheme(s).
		WithIndex(&autoscalingv2.HorizontalPodAutoscaler{}, TargetIndex, HPATarget).
		WithIndex(&kedav1alpha1.ScaledObject{}, TargetIndex, ScaledObjectTarget).
		WithObjects(
			hpa("ml", "web-hpa", "Deployment", "web"),
			hpa("ml", "db-hpa", "StatefulSet", "web"), // same name, other kind
			hpa("other", "web-hpa", "Deployment", "web"),
			so("ml", "web-so", "", "web"),
			so("ml", "api-so", "", "api"),
			quota,
			gpuDeployment("ml", "llm", 2),
		).Build()
	src := Source{Reader: c}
	ctx := context.Background()

	names := func(inv policy.Inventory) []string {
		var out []string
		for _, h := range inv.HPAs {
			out = append(out, "hpa:"+h.Namespace+"/"+h.Name)
		}
		for _, o := range inv.ScaledObjects {
			out = append(out, "so:"+o.Namespace+"/"+o.Name)
		}
		for _, q := range inv.ResourceQuotas {
			out = append(out, "quota:"+q.Namespace+"/"+q.Name)
		}
		if inv.Target != nil {
			out = append(out, fmt.Sprintf("target:%s/%s gpus=%d", inv.Target.Namespace, inv.Target.Name, inv.Target.GPUsPerPod().Count))
		}
		slices.Sort(out)
		return out
	}
	review := func(kind string, obj client.Object) policy.Review {
		var (
			r   policy.Review
			err error
		)
		switch o := obj.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			r, err = policy.NewReview(context.Background(), policy.OperationCreate, o, nil)
		case *kedav1alpha1.ScaledObject:
			r, err = policy.NewReview(context.Background(), policy.OperationCreate, o, nil)
		default:
			r = policy.Review{Kind: kind, Namespace: obj.GetNamespace(), Object: map[string]any{"metadata": map[string]any{"name": obj.GetName()}}}
		}
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name string
		r    policy.Review
		want []string
	}{
		{"hpa on web", review("", hpa("ml", "new", "Deployment", "web")), []string{"hpa:ml/web-hpa", "quota:ml/gpu", "so:ml/web-so"}},
		{"scaledobject on api", review("", so("ml", "x", "", "api")), []string{"quota:ml/gpu", "so:ml/api-so"}},
		{"workload web", review("Deployment", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ml"}}), []string{"hpa:ml/web-hpa", "quota:ml/gpu", "so:ml/web-so"}},
		{"other namespace", review("", hpa("other", "new", "Deployment", "web")), []string{"hpa:other/web-hpa"}},
		{"scaledobject on a GPU Deployment: the target", review("", so("ml", "x", "", "llm")), []string{"quota:ml/gpu", "target:ml/llm gpus=2"}},
		{"scaledobject on a missing Deployment", review("", so("ml", "x", "", "nope")), []string{"quota:ml/gpu"}},
		{"scaledobject on a custom resource", review("", so("ml", "x", "Rollout", "llm")), []string{"quota:ml/gpu"}},
		{"scaledjob: quotas only", policy.Review{Kind: policy.KindScaledJob, Namespace: "ml"}, []string{"quota:ml/gpu"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := src.Inventory(ctx, tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(inv); !slices.Equal(got, tt.want) {
				t.Errorf("inventory = %v, want %v", got, tt.want)
			}
		})
	}
}

func gpuDeployment(ns, name string, gpus int64) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "llm", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": *resource.NewQuantity(gpus, resource.DecimalSI)}},
		}}}}},
	}
}

// failingReader fails every read: a Live reader that must not be used.
type failingReader struct{ client.Reader }

func (failingReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return fmt.Errorf("the live reader was used")
}

// TestSourceLiveScaledObjects: an HPA whose target no ScaledObject in the
// cache scales is checked against the API server's ScaledObjects (Live),
// as when a file holds both and the informer has not seen the
// ScaledObject yet. Both readers are controller-runtime's fake client
// here (the real race is the informer's lag behind a real API server,
// which no test can time); the live one is only read for HPAs the cache
// finds no ScaledObject for.
func TestSourceLiveScaledObjects(t *testing.T) {
	s := testScheme(t)
	cache := fake.NewClientBuilder().WithScheme(s).
		WithIndex(&autoscalingv2.HorizontalPodAutoscaler{}, TargetIndex, HPATarget).
		WithIndex(&kedav1alpha1.ScaledObject{}, TargetIndex, ScaledObjectTarget).
		WithObjects(so("ml", "api-so", "", "api")).Build()
	live := fake.NewClientBuilder().WithScheme(s).
		WithObjects(so("ml", "web-so", "", "web"), so("ml", "db-so", "StatefulSet", "web"), so("other", "web-so", "", "web"), so("ml", "api-so", "", "api")).Build()
	ctx := context.Background()
	review := func(obj client.Object) policy.Review {
		r, err := policy.NewReview(ctx, policy.OperationCreate, obj, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	names := func(inv policy.Inventory) []string {
		var out []string
		for _, o := range inv.ScaledObjects {
			out = append(out, o.Namespace+"/"+o.Name)
		}
		slices.Sort(out)
		return out
	}

	inv, err := Source{Reader: cache, Live: live}.Inventory(ctx, review(hpa("ml", "new", "Deployment", "web")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(inv), []string{"ml/web-so"}; !slices.Equal(got, want) {
		t.Errorf("HPA on web, the ScaledObject not cached yet: ScaledObjects %v, want %v from the API server", got, want)
	}
	if inv, err = (Source{Reader: cache}).Inventory(ctx, review(hpa("ml", "new", "Deployment", "web"))); err != nil || len(inv.ScaledObjects) != 0 {
		t.Errorf("without Live: ScaledObjects %v (%v), want none (the cache's)", names(inv), err)
	}
	// The cache has one: no live read.
	if inv, err = (Source{Reader: cache, Live: failingReader{}}).Inventory(ctx, review(hpa("ml", "new", "Deployment", "api"))); err != nil || !slices.Equal(names(inv), []string{"ml/api-so"}) {
		t.Errorf("HPA on api, cached: ScaledObjects %v (%v), want [ml/api-so] from the cache", names(inv), err)
	}
	// Not an HPA: no live read.
	if _, err = (Source{Reader: cache, Live: failingReader{}}).Inventory(ctx, review(so("ml", "x", "", "web"))); err != nil {
		t.Errorf("ScaledObject review: %v, want no live read", err)
	}
	// A failing live read is an error that says what was read.
	if _, err = (Source{Reader: cache, Live: failingReader{}}).Inventory(ctx, review(hpa("ml", "new", "Deployment", "web"))); err == nil || !strings.Contains(err.Error(), "from the API server") {
		t.Errorf("failing live read: error %v, want one naming the API server", err)
	}
}

// testScheme is client-go's scheme with KEDA's types.
func testScheme(tb testing.TB) *runtime.Scheme {
	tb.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		tb.Fatal(err)
	}
	if err := kedav1alpha1.AddToScheme(s); err != nil {
		tb.Fatal(err)
	}
	return s
}
