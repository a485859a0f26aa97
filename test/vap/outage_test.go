package vap_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/vap"
	"github.com/mlscale/mlscale/test/kubetest"
)

// TestOutage: with mlscale down, the API server alone refuses an HPA on a
// workload a ScaledObject scales, a ScaledObject with a credential inline
// or a Prometheus off the allowed endpoints, and a ScaledJob over the
// configured GPU budget, and admits an unrelated HPA (its policies also a
// ScaledJob within the budget): first with mlscale's webhook
// configurations removed, then with them installed and nothing serving
// them (a crashed or rolling webhook: the HPA entry fails open, the entry
// for new KEDA objects fails closed, after the API server's policies).
// In a namespace that opts in, a Deployment with an mlscale annotation
// that does not parse is refused too (the annotations policy), a good one
// admitted.
func TestOutage(t *testing.T) {
	env(t)
	// Made before the outage.
	before := func(t *testing.T, ns string) {
		if _, err := create(t.Context(), scaledObject("web-so", "web"), ns, false); err != nil {
			t.Fatalf("creating the ScaledObject: %v", err)
		}
	}
	check := func(t *testing.T, ns string) {
		ctx := t.Context()
		// The param informer sees the new ScaledObject shortly after.
		kubetest.Eventually(t, 10*time.Second, "the conflicting HPA is refused by the API server", func() error {
			_, err := create(ctx, hpa("web-hpa", "web"), ns, false)
			msg, ok := denialMessage(err)
			if !ok {
				return fmt.Errorf("not refused by a ValidatingAdmissionPolicy: %w", err)
			}
			if missing, ok := contains(msg, "hpa_scaledobject_conflict: HorizontalPodAutoscaler "+ns+"/web-hpa targets Deployment "+ns+"/web, which ScaledObject "+ns+"/web-so already scales", "keda-hpa-web-so"); !ok {
				t.Fatalf("the refusal does not say %q: %s", missing, msg)
			}
			return nil
		})
		cred := withTrigger(scaledObject("queue", "worker"), "rabbitmq", map[string]any{"queueName": "q", "mode": "QueueLength", "value": "5", "host": "amqp://guest:hunter2@rabbitmq.ml.svc:5672/"})
		_, err := create(ctx, cred, ns, false)
		msg, ok := denialMessage(err)
		if !ok {
			t.Fatalf("the ScaledObject with a password inline: not refused by a ValidatingAdmissionPolicy: %v", err)
		}
		if missing, ok := contains(msg, "trigger_credentials: ScaledObject "+ns+"/queue has a password in the URL inline in trigger spec.triggers[1] (type rabbitmq), metadata.host"); !ok {
			t.Errorf("the refusal does not say %q: %s", missing, msg)
		}
		if _, err := create(ctx, hpa("api", "api"), ns, false); err != nil {
			t.Errorf("an unrelated HPA is refused: %v", err)
		}
		// The parts of gpu_budget and trigger_endpoints the API server
		// holds: the configured budget (4 GPUs) and the allowlist.
		offList := withTrigger(scaledObject("off-list", "metrics"), "prometheus", map[string]any{"serverAddress": "http://evil.example.com:9090", "query": "up", "threshold": "1"})
		_, err = create(ctx, offList, ns, false)
		if msg, ok := denialMessage(err); !ok {
			t.Errorf("the ScaledObject calling an endpoint off the list: not refused by a ValidatingAdmissionPolicy: %v", err)
		} else if missing, ok := contains(msg, "trigger_endpoints: ScaledObject "+ns+"/off-list makes KEDA call evil.example.com (trigger spec.triggers[1], type prometheus, metadata.serverAddress"); !ok {
			t.Errorf("the refusal does not say %q: %s", missing, msg)
		}
		_, err = create(ctx, gpuScaledJob("train", 8), ns, false)
		if msg, ok := denialMessage(err); !ok {
			t.Errorf("the ScaledJob over the GPU budget: not refused by a ValidatingAdmissionPolicy: %v", err)
		} else if missing, ok := contains(msg, "gpu_budget: ScaledJob "+ns+"/train may scale to 8 replicas x 1 GPUs per pod = 8 GPUs, over the 4 GPUs of the configured default GPU budget; set maxReplicaCount (mlscale.io/max-replicas) to 4 or less"); !ok {
			t.Errorf("the refusal does not say %q: %s", missing, msg)
		}
		// Within the budget: not refused by the API server's policies (the
		// webhook's entry for new KEDA objects fails closed when installed).
		if _, err := create(ctx, gpuScaledJob("small", 4), ns, true); vapDenied(err) {
			t.Errorf("a ScaledJob within the GPU budget is refused by a ValidatingAdmissionPolicy: %v", err)
		}
		// The annotations policy: in a namespace that opts in, a workload
		// whose mlscale annotations do not parse is refused (the workload
		// webhook fails open); a good one is admitted.
		optIn := kubetest.Namespace(t, suite.client, ns+"-opt-in", map[string]string{vap.OptInLabel: "true"})
		kubetest.Eventually(t, 10*time.Second, "the Deployment with a bad annotation is refused by the API server", func() error {
			_, err := create(ctx, deployment("web", map[string]string{intent.KeyAutoscale: "true", intent.KeyMaxReplicas: "many"}), optIn, true)
			msg, ok := denialMessage(err)
			if !ok {
				return fmt.Errorf("not refused by a ValidatingAdmissionPolicy: %w", err)
			}
			if want := "mlscale: Deployment " + optIn + `/web: mlscale.io/max-replicas: "many" is not a whole number; allowed: a whole number from 1 to 10000`; msg != want {
				t.Fatalf("the refusal says %q, want %q", msg, want)
			}
			return nil
		})
		if _, err := create(ctx, deployment("api", map[string]string{intent.KeyAutoscale: "true", intent.KeyMaxReplicas: "5"}), optIn, true); err != nil {
			t.Errorf("a Deployment with good annotations is refused: %v", err)
		}
	}
	t.Run("webhook configurations removed", func(t *testing.T) {
		ns := namespace(t, "outage-removed")
		before(t, ns)
		check(t, ns)
	})
	t.Run("webhook not serving", func(t *testing.T) {
		ns := namespace(t, "outage-down")
		before(t, ns)
		withWebhooks(t)
		// The configurations are in force once a ScaledObject is refused
		// because the webhook cannot be called.
		kubetest.Eventually(t, 15*time.Second, "the webhook configurations are in force", func() error {
			_, err := create(t.Context(), scaledObject("probe", "probe"), ns, true)
			if err == nil || !strings.Contains(err.Error(), "failed calling webhook") {
				return fmt.Errorf("want a failed webhook call, got %w", err)
			}
			return nil
		})
		check(t, ns)
	})
}

// gpuScaledJob is a ScaledJob of at most maxReplicas Jobs of one pod with
// one GPU.
func gpuScaledJob(name string, maxReplicas int64) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledJob",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"maxReplicaCount": maxReplicas,
			"jobTargetRef": map[string]any{"template": map[string]any{"spec": map[string]any{
				"restartPolicy": "Never",
				"containers": []any{map[string]any{
					"name": "trainer", "image": "registry.example/trainer:1",
					"resources": map[string]any{"limits": map[string]any{"nvidia.com/gpu": int64(1)}},
				}},
			}}},
			"triggers": []any{map[string]any{"type": "cpu", "metricType": "Utilization", "metadata": map[string]any{"value": "60"}}},
		},
	}}
}
