package policy

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/facts"
)

func gpuPodSpec(gpus string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "main", Image: "img",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse(gpus)}},
	}}}}
}

func gpuScaledJob(maxReplicas int32, gpus int) *kedav1alpha1.ScaledJob {
	return &kedav1alpha1.ScaledJob{
		ObjectMeta: metav1.ObjectMeta{Name: "train", Namespace: "ml"},
		Spec: kedav1alpha1.ScaledJobSpec{
			MaxReplicaCount: ptr.To(maxReplicas),
			JobTargetRef:    &batchv1.JobSpec{Template: gpuPodSpec(resource.NewQuantity(int64(gpus), resource.DecimalSI).String())},
		},
	}
}

func gpuDeployment(annotations map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "llm", Namespace: "ml", Annotations: annotations},
		Spec:       appsv1.DeploymentSpec{Template: gpuPodSpec("2")},
	}
}

func TestReviews(t *testing.T) {
	h := hpa("web-hpa", "web")
	so := scaledObject("web", "web")
	enabled := gpuDeployment(map[string]string{"mlscale.io/autoscale": "true", "mlscale.io/max-replicas": "3"})
	plain := gpuDeployment(nil)
	workloadReview := func(d *appsv1.Deployment) func() (Review, error) {
		return func() (Review, error) { return NewReview(context.Background(), OperationUpdate, d, nil) }
	}
	tests := []struct {
		name         string
		build        func() (Review, error)
		kind         string
		apiVersion   string
		gpus         int64
		renderedKind string
	}{
		{"HPA", func() (Review, error) { return NewReview(context.Background(), OperationCreate, &h, nil) }, KindHPA, "autoscaling/v2", 0, ""},
		{"ScaledObject", func() (Review, error) { return NewReview(context.Background(), OperationCreate, &so, nil) }, KindScaledObject, "keda.sh/v1alpha1", 0, ""},
		{"ScaledJob counts template GPUs", func() (Review, error) {
			return NewReview(context.Background(), OperationCreate, gpuScaledJob(2, 4), nil)
		}, KindScaledJob, "keda.sh/v1alpha1", 4, ""},
		{"ScaledJob without template", func() (Review, error) {
			return NewReview(context.Background(), OperationCreate, &kedav1alpha1.ScaledJob{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ml"}}, nil)
		}, KindScaledJob, "keda.sh/v1alpha1", 0, ""},
		{"annotated Deployment gets its rendered ScaledObject", workloadReview(enabled), "Deployment", "apps/v1", 2, KindScaledObject},
		{"plain Deployment has nothing rendered", workloadReview(plain), "Deployment", "apps/v1", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.build()
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind != tt.kind || r.Namespace != "ml" || r.GPUsPerPod != tt.gpus {
				t.Errorf("kind %q namespace %q gpus %d, want %q ml %d", r.Kind, r.Namespace, r.GPUsPerPod, tt.kind, tt.gpus)
			}
			if r.Object["kind"] != tt.kind || r.Object["apiVersion"] != tt.apiVersion {
				t.Errorf("object type %v %v, want %s %s", r.Object["apiVersion"], r.Object["kind"], tt.apiVersion, tt.kind)
			}
			switch {
			case tt.renderedKind == "" && r.Rendered != nil:
				t.Errorf("rendered = %v, want none", r.Rendered)
			case tt.renderedKind != "" && (r.Rendered == nil || r.Rendered["kind"] != tt.renderedKind || r.Rendered["apiVersion"] != "keda.sh/v1alpha1"):
				t.Errorf("rendered = %v, want a %s", r.Rendered, tt.renderedKind)
			}
		})
	}
}

func TestNewReviewErrors(t *testing.T) {
	ctx := context.Background()
	d := gpuDeployment(map[string]string{"mlscale.io/autoscale": "true", "mlscale.io/max-replicas": "many"})
	_, err := NewReview(ctx, OperationCreate, d, nil)
	var renderErr *RenderError
	if !errors.As(err, &renderErr) || !strings.Contains(err.Error(), "mlscale: Deployment ml/llm: mlscale.io/max-replicas") {
		t.Errorf("unparseable max-replicas: got %v, want a *RenderError with admission's message", err)
	}
	down := facts.Func(func(context.Context, string) (facts.Facts, error) { return facts.Facts{}, errors.New("cache down") })
	if _, err := NewReview(ctx, OperationCreate, gpuDeployment(map[string]string{"mlscale.io/autoscale": "true"}), down); !errors.Is(err, ErrFacts) {
		t.Errorf("facts unavailable: got %v, want ErrFacts", err)
	}
	// A workload that has not opted in needs no facts.
	if r, err := NewReview(ctx, OperationCreate, gpuDeployment(nil), down); err != nil || r.Rendered != nil {
		t.Errorf("plain Deployment: %v, rendered %v", err, r.Rendered)
	}
	if _, err := NewReview(ctx, OperationCreate, &corev1.ConfigMap{}, nil); !errors.Is(err, ErrNotReviewed) {
		t.Errorf("ConfigMap: got %v, want ErrNotReviewed", err)
	}
}

func TestDecode(t *testing.T) {
	v1 := []byte(`{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"web"},"maxReplicas":3,"targetCPUUtilizationPercentage":60}}`)
	obj, err := Decode(hpaV1GVK, v1)
	h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if err != nil || !ok || len(h.Spec.Metrics) != 1 || *h.Spec.Metrics[0].Resource.Target.AverageUtilization != 60 {
		t.Errorf("autoscaling/v1 HPA: %T %+v, %v; want a converted v2 HPA", obj, obj, err)
	}
	if _, err := Decode(schema.GroupVersionKind{Group: "autoscaling", Version: "v2beta2", Kind: KindHPA}, v1); err == nil || !strings.Contains(err.Error(), "write it as autoscaling/v2") {
		t.Errorf("v2beta2 HPA: %v", err)
	}
	if _, err := Decode(QuotaGVK, []byte(`{}`)); !errors.Is(err, ErrNotReviewed) {
		t.Errorf("ResourceQuota: %v, want ErrNotReviewed", err)
	}
	if _, err := Decode(HPAGVK, nil); err == nil {
		t.Error("no error for an empty object")
	}
	for _, k := range ReviewedKinds {
		if !Reviewed(k.GVK) {
			t.Errorf("Reviewed(%s) = false", k.GVK)
		}
		if gvk, err := reviewedGVK(k.New()); err != nil || gvk != k.GVK {
			t.Errorf("reviewedGVK(%T) = %s, %v", k.New(), gvk, err)
		}
	}
}

func TestInput(t *testing.T) {
	h := hpa("a", "web")
	r, err := NewReview(context.Background(), OperationCreate, &h, nil)
	if err != nil {
		t.Fatal(err)
	}
	inv := Inventory{
		HPAs:           []autoscalingv2.HorizontalPodAutoscaler{hpa("b", "web")},
		ScaledObjects:  []kedav1alpha1.ScaledObject{scaledObject("so", "web")},
		ResourceQuotas: []corev1.ResourceQuota{gpuQuota("8")},
	}
	if inv.Len() != 3 {
		t.Errorf("Len = %d", inv.Len())
	}
	in, err := Input(r, inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kind", "operation", "namespace", "object", "gpusPerPod", "inventory"} {
		if _, ok := in[k]; !ok {
			t.Errorf("input has no %q", k)
		}
	}
	if _, ok := in["rendered"]; ok {
		t.Error("input of an HPA has rendered")
	}
	data := in["inventory"].(map[string]any)
	types := map[string][]string{}
	for k, v := range data {
		for _, o := range v.([]any) {
			m := o.(map[string]any)
			types[k] = append(types[k], m["apiVersion"].(string)+" "+m["kind"].(string))
		}
	}
	want := map[string][]string{
		"horizontalPodAutoscalers": {"autoscaling/v2 HorizontalPodAutoscaler"},
		"scaledObjects":            {"keda.sh/v1alpha1 ScaledObject"},
		"resourceQuotas":           {"v1 ResourceQuota"},
	}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("inventory types = %v, want %v", types, want)
	}
	if sj, ok := data["scaledJobs"].([]any); !ok || len(sj) != 0 {
		t.Errorf("scaledJobs = %#v, want an empty list", data["scaledJobs"])
	}
	quota := data["resourceQuotas"].([]any)[0].(map[string]any)
	if got := quota["spec"].(map[string]any)["hard"].(map[string]any)["requests.nvidia.com/gpu"]; got != "8" {
		t.Errorf("quota hard = %#v, want \"8\"", got)
	}
}

func TestConfigData(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want map[string]any
	}{
		{"empty", Config{}, map[string]any{}},
		{"all", Config{
			AllowedEndpoints: []string{"*.svc"},
			GPUBudgets:       map[string]int64{"ml": 4},
			DefaultGPUBudget: ptr.To[int64](2),
			Actions:          map[string]Action{"gpu_budget": ActionWarn},
		}, map[string]any{
			"allowedEndpoints": []any{"*.svc"},
			"gpuBudgets":       map[string]any{"ml": int64(4)},
			"defaultGPUBudget": int64(2),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.Data(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Data = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestActionFor(t *testing.T) {
	c := Config{Actions: map[string]Action{"a": ActionAudit}}
	if c.ActionFor("a") != ActionAudit || c.ActionFor("b") != ActionDeny {
		t.Errorf("ActionFor: %s %s", c.ActionFor("a"), c.ActionFor("b"))
	}
	c.DefaultAction = ActionWarn
	if c.ActionFor("b") != ActionWarn {
		t.Errorf("ActionFor with default warn: %s", c.ActionFor("b"))
	}
}
