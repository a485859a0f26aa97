package validate

import (
	"context"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/policy"
)

// TestMetricsCountViolations: each violation of a real request is counted
// by policy, action, namespace and kind; a dry run is answered the same but
// not counted.
func TestMetricsCountViolations(t *testing.T) {
	inv := &staticInventory{inv: policy.Inventory{ScaledObjects: []kedav1alpha1.ScaledObject{*scaledObject("web", "web")}}}
	h := newHandler(t, policy.Config{}, inv)
	h.Metrics = NewMetrics()

	req := request(t, admissionv1.Create, policy.HPAGVK, hpa("web-hpa", "web"))
	if resp := h.Handle(context.Background(), req); resp.Allowed {
		t.Fatal("the conflicting HPA was admitted")
	}
	dry := request(t, admissionv1.Create, policy.HPAGVK, hpa("web-hpa", "web"))
	dry.DryRun = ptr.To(true)
	if resp := h.Handle(context.Background(), dry); resp.Allowed {
		t.Fatal("the conflicting HPA was admitted in a dry run")
	}
	allowed := request(t, admissionv1.Create, policy.HPAGVK, hpa("other-hpa", "other"))
	if resp := h.Handle(context.Background(), allowed); !resp.Allowed {
		t.Fatalf("an HPA on another target was denied: %s", resp.Result.Message)
	}

	want := `
# HELP mlscale_policy_admission_violations_total Policy violations found at admission (dry runs not counted), by policy, action (deny: the request was refused; warn; audit), namespace and kind of the object.
# TYPE mlscale_policy_admission_violations_total counter
mlscale_policy_admission_violations_total{action="deny",kind="HorizontalPodAutoscaler",namespace="ml",policy="hpa_scaledobject_conflict"} 1
`
	if err := testutil.CollectAndCompare(h.Metrics.violations, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(h.Metrics.violations); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}
