package validate

import (
	"context"
	"encoding/json"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/webhook/reviewtest"
)

// benchAnnotations opt a GPU inference server in with a gateway query
// (as webhook/mutate's benchmark does).
var benchAnnotations = map[string]string{
	intent.KeyAutoscale:                 "true",
	intent.KeyProfile:                   "vllm",
	intent.KeyMaxReplicas:               "8",
	intent.KeyPrometheusQuery:           `sum(gateway_pending_requests{model="llama-3-8b"})`,
	intent.KeyPrometheusTarget:          "4",
	intent.KeyCooldown:                  "20m",
	"deployment.kubernetes.io/revision": "3",
}

// inferenceDeployment is webhook/mutate's benchmark fixture,
// reviewtest.VLLMDeployment.
func inferenceDeployment(ann map[string]string) *appsv1.Deployment {
	return reviewtest.VLLMDeployment(ann)
}

// benchCase is one admission request of the benchmarks.
type benchCase struct {
	name string
	gvk  schema.GroupVersionKind
	obj  runtime.Object
}

func benchCases() []benchCase {
	return []benchCase{
		{"Deployment", workload.DeploymentGVK, inferenceDeployment(benchAnnotations)},
		{"HPA", policy.HPAGVK, hpa("web-hpa", "web")},
		{"ScaledObject", policy.ScaledObjectGVK, scaledObject("api", "api")},
	}
}

// benchHandler is the validating handler as the cluster runs it: the
// built-in policies with allowed endpoints, a GPU budget, and an inventory
// holding the namespace's GPU quota.
func benchHandler(b *testing.B) *Handler {
	b.Helper()
	e, err := policy.New(context.Background(), policy.Config{AllowedEndpoints: []string{"*.*.svc", "*.*.svc.cluster.local"}})
	if err != nil {
		b.Fatal(err)
	}
	inv := &staticInventory{inv: policy.Inventory{ResourceQuotas: []corev1.ResourceQuota{{
		ObjectMeta: metav1.ObjectMeta{Name: "gpus", Namespace: "ml"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse("64")}},
	}}}}
	budget := int64(16)
	ff := func(context.Context, string) (facts.Facts, error) {
		f := facts.Default()
		f.GPUBudget = &budget
		return f, nil
	}
	return &Handler{Engine: e, Inventory: inv, Facts: ff}
}

// benchRequest is the AdmissionRequest the API server sends for obj.
func benchRequest(b *testing.B, c benchCase) admission.Request {
	b.Helper()
	raw, err := json.Marshal(c.obj)
	if err != nil {
		b.Fatal(err)
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "705ab4f5-6393-11e8-b7cc-42010a800002", Operation: admissionv1.Create, Namespace: "ml", Name: "x",
		Kind:   metav1.GroupVersionKind(c.gvk),
		Object: runtime.RawExtension{Raw: raw},
		DryRun: ptr.To(false),
	}}
}

// BenchmarkValidate measures the handler (decode, review, inventory,
// policies) on an opted-in 4 KB GPU Deployment, an HPA and a ScaledObject,
// none of which violates a policy.
func BenchmarkValidate(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			h := benchHandler(b)
			req := benchRequest(b, c)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if resp := h.Handle(ctx, req); !resp.Allowed || len(resp.Warnings) != 0 {
					b.Fatalf("allowed=%v %+v %v", resp.Allowed, resp.Result, resp.Warnings)
				}
			}
			b.ReportMetric(float64(len(req.Object.Raw)), "object-bytes")
		})
	}
}

// BenchmarkValidateHTTP adds what admission.Webhook does around the
// handler: decoding the AdmissionReview and encoding the answer.
func BenchmarkValidateHTTP(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			req := benchRequest(b, c).AdmissionRequest
			body, err := json.Marshal(admissionv1.AdmissionReview{
				TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
				Request:  &req,
			})
			if err != nil {
				b.Fatal(err)
			}
			wh := Webhook(benchHandler(b))
			b.ReportAllocs()
			for b.Loop() {
				reviewtest.Allowed(b, wh, Path, body)
			}
			b.ReportMetric(float64(len(body)), "review-bytes")
		})
	}
}
