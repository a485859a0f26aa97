package vap_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/test/kubetest"
)

// TestOutage: with mlscale down, the API server alone refuses an HPA on a
// workload a ScaledObject scales and a ScaledObject with a credential
// inline, and admits an unrelated HPA: first with mlscale's webhook
// configurations removed, then with them installed and nothing serving
// them (a crashed or rolling webhook: the HPA entry fails open, the entry
// for new KEDA objects fails closed, after the API server's policies).
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
