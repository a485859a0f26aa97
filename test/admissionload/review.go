package admissionload

import (
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/webhook/reviewtest"
)

// Namespace is the namespace of the reviewed Deployment.
const Namespace = "ml"

// Deployment is the reviewed object: the vLLM GPU inference server of
// webhook/reviewtest (one GPU, init container, sidecar, probes, volumes),
// opted in to mlscale with a gateway Prometheus query, as the handlers'
// benchmarks review it: about 3.9 KB of JSON.
func Deployment() *appsv1.Deployment {
	return reviewtest.VLLMDeployment(map[string]string{
		intent.KeyAutoscale:                 "true",
		intent.KeyProfile:                   "vllm",
		intent.KeyMaxReplicas:               "8",
		intent.KeyPrometheusQuery:           `sum(gateway_pending_requests{model="llama-3-8b"})`,
		intent.KeyPrometheusTarget:          "4",
		intent.KeyCooldown:                  "20m",
		"deployment.kubernetes.io/revision": "3",
	})
}

// Review is the AdmissionReview the API server sends for a CREATE of obj
// (an apps/v1 Deployment) by a user, as JSON.
func Review(obj *appsv1.Deployment) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding the object: %w", err)
	}
	gvk := metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	gvr := metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "705ab4f5-6393-11e8-b7cc-42010a800002", Kind: gvk, Resource: gvr,
			RequestKind: &gvk, RequestResource: &gvr,
			Name: obj.Name, Namespace: obj.Namespace, Operation: admissionv1.Create,
			UserInfo: authenticationv1.UserInfo{Username: "jane@example.com", Groups: []string{"ml-platform", "system:authenticated"}},
			Object:   runtime.RawExtension{Raw: raw},
			DryRun:   ptr.To(false),
			Options:  runtime.RawExtension{Raw: []byte(`{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1","fieldManager":"kubectl-client-side-apply"}`)},
		},
	}
	return json.Marshal(review)
}
