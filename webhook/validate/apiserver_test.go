package validate

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/vap"
)

// TestAPIServerPolicies: with the API server enforcing its policies
// (Handler.APIServer), the webhook leaves their violations on the kinds the
// API server reviews to it, and still reports them for an opted-in
// workload (whose rendered ScaledObject the API server never sees).
func TestAPIServerPolicies(t *testing.T) {
	inv := &staticInventory{inv: policy.Inventory{HPAs: []autoscalingv2.HorizontalPodAutoscaler{*hpa("llm-hpa", "llm")}}}
	h := newHandler(t, policy.Config{}, inv)
	h.APIServer = vap.Enforces
	ctx := context.Background()

	// An HPA on an HPA's target: hpa_duplicate_target, the API server's.
	resp := h.Handle(ctx, request(t, admissionv1.Create, policy.HPAGVK, hpa("second", "llm")))
	if !resp.Allowed {
		t.Errorf("an HPA the API server's policy refuses is refused by the webhook too: %s", resp.Result.Message)
	}

	// The opt-in on the HPA's workload: scaledobject_foreign_hpa on the
	// rendered ScaledObject, the webhook's alone.
	d := gpuDeployment(map[string]string{"mlscale.io/autoscale": "true", "mlscale.io/max-replicas": "3"})
	resp = h.Handle(ctx, request(t, admissionv1.Create, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, d))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "scaledobject_foreign_hpa:") {
		t.Errorf("the opt-in on an HPA's workload: want scaledobject_foreign_hpa's refusal, got allowed=%v %v", resp.Allowed, resp.Result)
	}

	// Without APIServer the HPA is refused: the test above is about it.
	h.APIServer = nil
	resp = h.Handle(ctx, request(t, admissionv1.Create, policy.HPAGVK, hpa("second", "llm")))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "hpa_duplicate_target:") {
		t.Errorf("without APIServer: want hpa_duplicate_target's refusal, got allowed=%v %v", resp.Allowed, resp.Result)
	}
}
