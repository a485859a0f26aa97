package vap_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/vap"
	"github.com/mlscale/mlscale/test/kubetest"
)

// annotationCases are values for the keys the annotations policy checks:
// valid and invalid ones of each kind and the boundaries.
var annotationCases = map[string][]string{
	intent.KeyAutoscale:          {"true", "True", "yes", "", " "},
	intent.KeyProfile:            {"vllm", "generic", "training-job", "VLLM", "gpu", "", " vllm"},
	intent.KeyMinReplicas:        {"0", "10000", "10001", "-1", "+3", " 2 ", "2.0", "x", "", "99999999999999999999"},
	intent.KeyMaxReplicas:        {"1", "0", "10000", "10001", "007", "1e3"},
	intent.KeyScaleToZero:        {"true", "false", "TRUE", "1", ""},
	intent.KeyActivationTarget:   {"0", "-0", "0.5", "-1", "1e3", ".5", "5.", "x", "Inf", "0x10", "--1"},
	intent.KeyCooldown:           {"0s", "0", "5m", "24h", "24h1s", "1.5s", "1500ms", "5", "-1s", "1d", ""},
	intent.KeyPollingInterval:    {"1s", "999ms", "30s", "24h", "25h", "1m30s"},
	intent.KeyScaleDownWindow:    {"0s", "1h", "3600s", "3601s", "61m", "1µs"},
	intent.KeyQueueTarget:        {"1", "0", "2147483647", "2147483648", "5k"},
	intent.KeyPrometheusTarget:   {"1", "0", "0.0", "-0", "0.001", "-2", "x"},
	intent.KeyCPUTarget:          {"1", "100", "0", "101", "50%"},
	intent.KeyMemoryTarget:       {"80", "0"},
	intent.KeyGPUTarget:          {"100", "101"},
	intent.KeySkipWakeCheck:      {"true", "false", "yes"},
	intent.KeyRolloutStrategy:    {"gradual", "immediate", "Gradual", "rolling", ""},
	intent.KeyPredictive:         {"false", "on"},
	intent.KeyCapacityPerReplica: {"10", "0", "-5", "ten"},
	intent.KeyLookahead:          {"1m", "59s", "24h", "24h0m1s", "90.5s"},
	intent.KeyTargetUnder:        {"2%", "0.5%", "50%", "50.1%", "0%", "-1%", "2", "2 %", "%", "x%", "2%%", ""},
	intent.KeyFloorDownDelay:     {"0s", "0", "10m", "24h", "24h1s", "-1s", "1.5s", "10"},
	intent.KeyFloorDownInterval:  {"0s", "5m", "300s", "25h", "1d", ""},
	intent.KeyPredictedFloor:     {"0", "10000", "10001", "-1"},
}

// annotationSets are the annotation sets compared: one checked key with
// each of its values, the rule min <= max, and several problems at once.
func annotationSets() []map[string]string {
	var out []map[string]string
	for _, key := range vap.AnnotationKeys() {
		for _, v := range annotationCases[key] {
			ann := map[string]string{intent.KeyAutoscale: "true", key: v}
			if key == intent.KeyAutoscale {
				ann = map[string]string{key: v}
			}
			out = append(out, ann)
		}
	}
	return append(out,
		map[string]string{intent.KeyAutoscale: "true", intent.KeyMinReplicas: "5", intent.KeyMaxReplicas: "4"},
		map[string]string{intent.KeyAutoscale: "true", intent.KeyMinReplicas: "4", intent.KeyMaxReplicas: "4"},
		map[string]string{intent.KeyAutoscale: "true", intent.KeyMinReplicas: "x", intent.KeyMaxReplicas: "0", intent.KeyCooldown: "1d"},
		map[string]string{intent.KeyAutoscale: "maybe", intent.KeyProfile: "gpu", intent.KeyTargetUnder: "2"},
		map[string]string{intent.KeyAutoscale: "false", intent.KeyMinReplicas: "x"},
		map[string]string{intent.KeyMinReplicas: "x"},
		// Left to the webhook: PromQL, hosts, business hours.
		map[string]string{intent.KeyAutoscale: "true", intent.KeyPrometheusQuery: "sum(", intent.KeyRabbitMQHost: "amqp://u:p@h", intent.KeyBusinessHours: "whenever"},
	)
}

// formatErrors are the parser's messages for the keys the policy checks,
// without the rules across keys (other than min <= max), which are the
// webhook's.
func formatErrors(t *testing.T, ann map[string]string) []string {
	t.Helper()
	_, _, err := intent.Parse(ann)
	var es intent.Errors
	if err != nil && !errors.As(err, &es) {
		t.Fatalf("%q: %v", ann, err)
	}
	keys := vap.AnnotationKeys()
	var out []string
	for _, e := range es {
		cross := strings.HasPrefix(e.Problem, "is required") || strings.HasPrefix(e.Problem, "contradicts") || strings.HasPrefix(e.Problem, "holds no replicas")
		if slices.Contains(keys, e.Key) && !cross {
			out = append(out, e.Error())
		}
	}
	return out
}

// deployment is a Deployment with the annotations.
func deployment(name string, ann map[string]string) *unstructured.Unstructured {
	a := map[string]any{}
	for k, v := range ann {
		a[k] = v
	}
	labels := map[string]any{"app": name}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "annotations": a},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "registry.example/app:1"}}},
			},
		},
	}}
}

// TestAnnotationsEquivalence applies Deployments with each annotation set
// (mlscale's webhook absent) in a namespace that opts in: what the
// annotations policy refuses, the parser refuses, with the same message;
// what the parser refuses for a checked key, the policy refuses. In a
// namespace that does not opt in, nothing is refused.
func TestAnnotationsEquivalence(t *testing.T) {
	env(t)
	ctx := t.Context()
	ns := kubetest.Namespace(t, suite.client, "annotations", map[string]string{vap.OptInLabel: "true"})
	plain := namespace(t, "annotations-plain")
	bad := map[string]string{intent.KeyAutoscale: "true", intent.KeyMaxReplicas: "x"}
	kubetest.Eventually(t, 30*time.Second, "the annotations policy is in force", func() error {
		if _, err := create(ctx, deployment("probe", bad), ns, true); !vapDenied(err) {
			return fmt.Errorf("not refused by a ValidatingAdmissionPolicy: %w", err)
		}
		return nil
	})
	if _, err := create(ctx, deployment("probe", bad), plain, true); err != nil {
		t.Errorf("refused in a namespace that does not opt in: %v", err)
	}
	refused := 0
	for i, ann := range annotationSets() {
		name := fmt.Sprintf("web-%d", i)
		want := formatErrors(t, ann)
		_, err := create(ctx, deployment(name, ann), ns, true)
		msg, denied := denialMessage(err)
		switch {
		case err != nil && !denied:
			t.Errorf("%q: refused, but not by a ValidatingAdmissionPolicy: %v", ann, err)
		case denied && len(want) == 0:
			t.Errorf("%q: the policy refuses (%s), the parser does not", ann, msg)
		case !denied && len(want) > 0:
			t.Errorf("%q: the parser refuses (%q), the policy does not", ann, want)
		case denied:
			refused++
			text := strings.Join(want, "; ")
			if len(want) > 1 {
				text = fmt.Sprintf("%d problems: %s", len(want), text)
			}
			if w := "mlscale: Deployment " + ns + "/" + name + ": " + text; msg != w {
				t.Errorf("%q:\npolicy: %s\nparser: %s", ann, msg, w)
			}
		}
	}
	if refused < 50 {
		t.Errorf("only %d annotation sets refused", refused)
	}
}
