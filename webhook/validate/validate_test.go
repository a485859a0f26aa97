package validate

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/workload"
)

// staticInventory is an InventorySource with fixed contents.
type staticInventory struct {
	inv policy.Inventory
	err error
	got []string // namespaces asked for
}

func (s *staticInventory) Inventory(_ context.Context, r policy.Review) (policy.Inventory, error) {
	s.got = append(s.got, r.Namespace)
	return s.inv, s.err
}

func hpa(name, target string) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ml"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target},
			MaxReplicas:    5,
		},
	}
}

func scaledObject(name, target string) *kedav1alpha1.ScaledObject {
	return &kedav1alpha1.ScaledObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: "keda.sh/v1alpha1", Kind: "ScaledObject"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ml"},
		Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef: &kedav1alpha1.ScaleTarget{Name: target},
			Triggers:       []kedav1alpha1.ScaleTriggers{{Type: "cpu", Metadata: map[string]string{"value": "80"}}},
		},
	}
}

func gpuDeployment(annotations map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "llm", Namespace: "ml", Annotations: annotations},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "vllm", Image: "vllm",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("2")}},
		}}}}},
	}
}

func request(t *testing.T, op admissionv1.Operation, gvk schema.GroupVersionKind, obj runtime.Object) admission.Request {
	t.Helper()
	var raw []byte
	if obj != nil {
		var err error
		if raw, err = json.Marshal(obj); err != nil {
			t.Fatal(err)
		}
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "uid-1", Operation: op, Namespace: "ml", Name: "x",
		Kind:   metav1.GroupVersionKind(gvk),
		Object: runtime.RawExtension{Raw: raw},
		DryRun: ptr.To(false),
	}}
}

func newHandler(t *testing.T, cfg policy.Config, inv *staticInventory) *Handler {
	t.Helper()
	e, err := policy.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Handler{Engine: e, Inventory: inv}
}

func TestHandle(t *testing.T) {
	kedaHPA := hpa("keda-hpa-web", "web")
	kedaHPA.OwnerReferences = []metav1.OwnerReference{{APIVersion: "keda.sh/v1alpha1", Kind: "ScaledObject", Name: "web"}}
	withSO := policy.Inventory{ScaledObjects: []kedav1alpha1.ScaledObject{*scaledObject("web", "web")}}
	withHPA := policy.Inventory{HPAs: []autoscalingv2.HorizontalPodAutoscaler{*hpa("llm-hpa", "llm")}}
	enabled := map[string]string{"mlscale.io/autoscale": "true", "mlscale.io/max-replicas": "3"}
	quota := policy.Inventory{ResourceQuotas: []corev1.ResourceQuota{{
		ObjectMeta: metav1.ObjectMeta{Name: "gpus", Namespace: "ml"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse("4")}},
	}}}
	deleting := hpa("web-hpa", "web")
	deleting.DeletionTimestamp = ptr.To(metav1.Now())

	tests := []struct {
		name     string
		cfg      policy.Config
		inv      policy.Inventory
		req      func(t *testing.T) admission.Request
		allowed  bool
		message  string // in the denial
		warnings []string
		asked    bool // the inventory was read
	}{
		{
			name: "conflicting HPA is denied with the policy's message",
			inv:  withSO,
			req: func(t *testing.T) admission.Request {
				return request(t, admissionv1.Create, policy.HPAGVK, hpa("web-hpa", "web"))
			},
			message: "hpa_scaledobject_conflict: HorizontalPodAutoscaler ml/web-hpa targets Deployment ml/web, which ScaledObject ml/web already scales",
			asked:   true,
		},
		{
			name:    "KEDA's own HPA is allowed",
			inv:     withSO,
			req:     func(t *testing.T) admission.Request { return request(t, admissionv1.Create, policy.HPAGVK, kedaHPA) },
			allowed: true, asked: true,
		},
		{
			name: "warn action admits with a warning",
			cfg:  policy.Config{Actions: map[string]policy.Action{"hpa_scaledobject_conflict": policy.ActionWarn}},
			inv:  withSO,
			req: func(t *testing.T) admission.Request {
				return request(t, admissionv1.Update, policy.HPAGVK, hpa("web-hpa", "web"))
			},
			allowed:  true,
			warnings: []string{"hpa_scaledobject_conflict: HorizontalPodAutoscaler ml/web-hpa"},
			asked:    true,
		},
		{
			name: "audit action admits silently",
			cfg:  policy.Config{DefaultAction: policy.ActionAudit},
			inv:  withSO,
			req: func(t *testing.T) admission.Request {
				return request(t, admissionv1.Create, policy.HPAGVK, hpa("web-hpa", "web"))
			},
			allowed: true, asked: true,
		},
		{
			name: "ScaledObject on a foreign HPA's target is denied",
			inv:  withHPA,
			req: func(t *testing.T) admission.Request {
				return request(t, admissionv1.Create, policy.ScaledObjectGVK, scaledObject("llm", "llm"))
			},
			message: "scaledobject_foreign_hpa: ScaledObject ml/llm would scale Deployment ml/llm",
			asked:   true,
		},
		{
			name: "opt-in on a foreign HPA's target is denied",
			inv:  withHPA,
			req: func(t *testing.T) admission.Request {
				return request(t, admissionv1.Create, workload.DeploymentGVK, gpuDeployment(enabled))
			},
			message: "scaledobject_foreign_hpa: Deployment ml/llm (mlscale.io/autoscale opt-in) would scale Deployment ml/llm",
			asked:   true,
		},
		{
			name: "opt-in over the GPU quota is denied",
			inv:  quota,
			req: func(t *testing.T) admission.Request {
				return request(t, admissionv1.Create, workload.DeploymentGVK, gpuDeployment(enabled))
			},
			message: "gpu_budget: Deployment ml/llm (mlscale.io/autoscale opt-in) may scale to 3 replicas x 2 GPUs per pod = 6 GPUs, over the 4 GPUs of ResourceQuota ml/gpus",
			asked:   true,
		},
		{
			name: "ScaledJob is evaluated",
			req: func(t *testing.T) admission.Request {
				sj := &kedav1alpha1.ScaledJob{
					ObjectMeta: metav1.ObjectMeta{Name: "train", Namespace: "prod"},
					Spec:       kedav1alpha1.ScaledJobSpec{Triggers: []kedav1alpha1.ScaleTriggers{{Type: "rabbitmq", Metadata: map[string]string{"host": "amqp://u:p@rabbit"}}}},
				}
				return request(t, admissionv1.Create, policy.ScaledJobGVK, sj)
			},
			message: "trigger_credentials: ScaledJob prod/train has a password in the URL",
			asked:   true,
		},
		{
			name: "workload without opt-in is not evaluated",
			inv:  withHPA,
			req: func(t *testing.T) admission.Request {
				return request(t, admissionv1.Create, workload.DeploymentGVK, gpuDeployment(nil))
			},
			allowed: true,
		},
		{
			name: "annotations that do not render are left to the mutating webhook",
			inv:  withHPA,
			req: func(t *testing.T) admission.Request {
				return request(t, admissionv1.Create, workload.DeploymentGVK, gpuDeployment(map[string]string{"mlscale.io/autoscale": "true", "mlscale.io/max-replicas": "x"}))
			},
			allowed: true,
		},
		{
			name:    "object being deleted is allowed",
			inv:     withSO,
			req:     func(t *testing.T) admission.Request { return request(t, admissionv1.Update, policy.HPAGVK, deleting) },
			allowed: true,
		},
		{
			name:    "DELETE is allowed",
			inv:     withSO,
			req:     func(t *testing.T) admission.Request { return request(t, admissionv1.Delete, policy.HPAGVK, nil) },
			allowed: true,
		},
		{
			name: "other kinds are allowed",
			req: func(t *testing.T) admission.Request {
				return request(t, admissionv1.Create, corev1.SchemeGroupVersion.WithKind("ConfigMap"), &corev1.ConfigMap{})
			},
			allowed: true,
		},
		{
			name: "status subresource is allowed",
			inv:  withSO,
			req: func(t *testing.T) admission.Request {
				r := request(t, admissionv1.Update, policy.HPAGVK, hpa("web-hpa", "web"))
				r.SubResource = "status"
				return r
			},
			allowed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &staticInventory{inv: tt.inv}
			resp := newHandler(t, tt.cfg, inv).Handle(context.Background(), tt.req(t))
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed = %v, want %v: %+v", resp.Allowed, tt.allowed, resp.Result)
			}
			if !tt.allowed {
				if resp.Result == nil || resp.Result.Code != http.StatusForbidden || !strings.Contains(resp.Result.Message, tt.message) {
					t.Errorf("result = %+v, want 403 with %q", resp.Result, tt.message)
				}
			}
			if len(resp.Warnings) != len(tt.warnings) {
				t.Fatalf("warnings = %q, want %q", resp.Warnings, tt.warnings)
			}
			for i, w := range tt.warnings {
				if !strings.HasPrefix(resp.Warnings[i], w) {
					t.Errorf("warning %d = %q, want prefix %q", i, resp.Warnings[i], w)
				}
			}
			if asked := len(inv.got) > 0; asked != tt.asked {
				t.Errorf("inventory read = %v (%v), want %v", asked, inv.got, tt.asked)
			}
			for _, ns := range inv.got {
				if ns != "ml" && ns != "prod" {
					t.Errorf("inventory read for namespace %q", ns)
				}
			}
		})
	}
}

func TestHandleMalformed(t *testing.T) {
	good := func(t *testing.T) admission.Request {
		return request(t, admissionv1.Create, policy.HPAGVK, hpa("a", "web"))
	}
	tests := []struct {
		name    string
		handler func(t *testing.T) *Handler
		req     func(t *testing.T) admission.Request
		code    int32
		message string
	}{
		{"no operation", nil, func(t *testing.T) admission.Request { r := good(t); r.Operation = ""; return r }, http.StatusBadRequest, "no operation"},
		{"unknown operation", nil, func(t *testing.T) admission.Request { r := good(t); r.Operation = "PATCH"; return r }, http.StatusBadRequest, `unknown admission operation "PATCH"`},
		{"no uid", nil, func(t *testing.T) admission.Request { r := good(t); r.UID = ""; return r }, http.StatusBadRequest, "no uid"},
		{"no object", nil, func(t *testing.T) admission.Request { r := good(t); r.Object.Raw = nil; return r }, http.StatusBadRequest, "has no object"},
		{"not JSON", nil, func(t *testing.T) admission.Request { r := good(t); r.Object.Raw = []byte("{"); return r }, http.StatusBadRequest, "decoding the object"},
		{"wrong shape", nil, func(t *testing.T) admission.Request {
			r := good(t)
			r.Object.Raw = []byte(`{"spec":{"scaleTargetRef":"web"}}`)
			return r
		}, http.StatusBadRequest, "HorizontalPodAutoscaler ml/x"},
		{"bad workload", nil, func(t *testing.T) admission.Request {
			r := request(t, admissionv1.Create, workload.DeploymentGVK, nil)
			r.Object.Raw = []byte(`{"metadata":[]}`)
			return r
		}, http.StatusBadRequest, "Deployment"},
		{"no engine", func(*testing.T) *Handler { return &Handler{} }, good, http.StatusInternalServerError, "policy engine is not configured"},
		{"inventory fails", func(t *testing.T) *Handler {
			return newHandler(t, policy.Config{}, &staticInventory{err: errors.New("cache not synced")})
		}, good, http.StatusInternalServerError, `reading the inventory of namespace "ml": cache not synced`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, policy.Config{}, &staticInventory{})
			if tt.handler != nil {
				h = tt.handler(t)
			}
			resp := h.Handle(context.Background(), tt.req(t))
			if resp.Allowed || resp.Result == nil || resp.Result.Code != tt.code || !strings.Contains(resp.Result.Message, tt.message) {
				t.Fatalf("response = %v %+v, want code %d with %q", resp.Allowed, resp.Result, tt.code, tt.message)
			}
		})
	}
}

func TestFactsUsedForRendering(t *testing.T) {
	h := newHandler(t, policy.Config{DefaultGPUBudget: ptr.To[int64](100)}, &staticInventory{})
	budget := int64(2)
	h.Facts = func(context.Context, string) (facts.Facts, error) {
		f := facts.Default()
		f.GPUBudget = &budget
		return f, nil
	}
	// With a budget of 2 GPUs, rendering caps max replicas at 1: nothing to deny.
	resp := h.Handle(context.Background(), request(t, admissionv1.Create, workload.DeploymentGVK, gpuDeployment(map[string]string{"mlscale.io/autoscale": "true"})))
	if !resp.Allowed {
		t.Fatalf("denied: %+v", resp.Result)
	}
	h.Facts = func(context.Context, string) (facts.Facts, error) { return facts.Facts{}, errors.New("down") }
	resp = h.Handle(context.Background(), request(t, admissionv1.Create, workload.DeploymentGVK, gpuDeployment(map[string]string{"mlscale.io/autoscale": "true"})))
	if !resp.Allowed || !strings.Contains(resp.Result.Message, "cluster facts are unavailable") {
		t.Fatalf("response = %+v", resp.Result)
	}
}
