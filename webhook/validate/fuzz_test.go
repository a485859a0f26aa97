package validate

import (
	"context"
	"encoding/json"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/webhook/reviewtest"
)

// FuzzServeHTTP fuzzes the whole HTTP body of the validating webhook, with
// the built-in policies and an inventory in which a ScaledObject scales
// Deployment "web": every body gets an AdmissionReview (or an HTTP 4xx),
// never a 5xx or a panic, and a refusal carries a 4xx code and a message.
func FuzzServeHTTP(f *testing.F) {
	review := func(gvk schema.GroupVersionKind, op string, obj any) []byte {
		raw, err := json.Marshal(obj)
		if err != nil {
			f.Fatal(err)
		}
		b, err := json.Marshal(map[string]any{
			"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
			"request": map[string]any{
				"uid": "u1", "operation": op, "namespace": "ml", "name": "x",
				"kind":   map[string]string{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind},
				"object": json.RawMessage(raw),
			},
		})
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(review(policy.HPAGVK, "CREATE", hpa("web-hpa", "web")))
	f.Add(review(policy.HPAGVK, "UPDATE", hpa("other", "api")))
	f.Add(review(policy.ScaledObjectGVK, "CREATE", scaledObject("web", "web")))
	f.Add(review(workload.DeploymentGVK, "CREATE", gpuDeployment(map[string]string{"mlscale.io/autoscale": "true", "mlscale.io/max-replicas": "3"})))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","kind":{"group":"autoscaling","version":"v2","kind":"HorizontalPodAutoscaler"},"object":{"spec":{"scaleTargetRef":7}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`))
	f.Add([]byte(`garbage`))

	e, err := policy.New(context.Background(), policy.Config{})
	if err != nil {
		f.Fatal(err)
	}
	inv := &staticInventory{inv: policy.Inventory{ScaledObjects: []kedav1alpha1.ScaledObject{*scaledObject("web", "web")}}}
	wh := Webhook(&Handler{Engine: e, Inventory: inv}).WithRecoverPanic(false)
	f.Fuzz(func(t *testing.T, body []byte) {
		inv.got = inv.got[:0]
		reviewtest.CheckAnswer(t, wh, Path, body)
	})
}
