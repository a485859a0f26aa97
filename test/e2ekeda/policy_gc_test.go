package e2ekeda

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/test/kubetest"
)

// policyPath is where mlscale serves its validating (policy) webhook.
const policyPath = "/validate-mlscale-policies"

// userHPA is an HPA a user writes for a workload that already has a
// ScaledObject.
func userHPA(namespace, target string) string {
	return fmt.Sprintf(`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: %[2]s-user
  namespace: %[1]s
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: %[2]s}
  minReplicas: 1
  maxReplicas: 5
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
`, namespace, target)
}

// policyWebhooks finds mlscale's validating webhook configuration(s): those
// with a webhook served on /validate-mlscale-policies.
func policyWebhooks(t *testing.T) []admissionregistrationv1.ValidatingWebhookConfiguration {
	t.Helper()
	var list admissionregistrationv1.ValidatingWebhookConfigurationList
	if err := suite.Client.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	var out []admissionregistrationv1.ValidatingWebhookConfiguration
	for _, c := range list.Items {
		for _, w := range c.Webhooks {
			if u := w.ClientConfig.URL; u != nil && strings.HasSuffix(*u, policyPath) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// TestUserHPAAfterScaledObject: a user HPA for a workload that mlscale has
// already given a ScaledObject. KEDA's webhook alone admits it (KEDA only
// checks HPAs when a ScaledObject is created, not the other way round), so
// KEDA and the HPA would fight over the Deployment; mlscale's policy webhook
// rejects it, naming the ScaledObject.
func TestUserHPAAfterScaledObject(t *testing.T) {
	env(t)
	ctx := context.Background()
	ns := namespace(t, "keda-hpa")
	if err := suite.KEDA.RabbitMQ.DeclareQueue(ctx, "hpa-tasks"); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, workload("Deployment", ns, "worker", 1, rabbitAnnotations("celery-worker", "hpa-tasks", map[string]string{
		"mlscale.io/min-replicas": "1",
	})), "apply", "-f", "-")
	waitCondition(t, 2*time.Minute, "ScaledObject", ns, "worker", "Ready", "True")

	mlscale := policyWebhooks(t)
	if len(mlscale) == 0 {
		t.Fatalf("mlscale's policy webhook (%s) is not registered: config/webhook has no ValidatingWebhookConfiguration for it", policyPath)
	}
	// KEDA's webhook alone: take mlscale's policy webhook out for a
	// server-side dry run, then put it back.
	for _, c := range mlscale {
		if err := suite.Client.Delete(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	restored := false
	restore := func() {
		if restored {
			return
		}
		restored = true
		for _, c := range mlscale {
			c.ObjectMeta = metav1.ObjectMeta{Name: c.Name, Labels: c.Labels, Annotations: c.Annotations}
			if err := suite.Client.Create(ctx, &c); err != nil {
				t.Errorf("restoring %s: %v", c.Name, err)
			}
		}
	}
	t.Cleanup(restore)
	kubetest.Eventually(t, 30*time.Second, "the user HPA admitted with only KEDA's webhook", func() error {
		_, err := kubectl(t, userHPA(ns, "worker"), "create", "--dry-run=server", "-f", "-")
		return err
	})
	restore()

	// With mlscale's policy webhook back: rejected, naming the ScaledObject.
	var msg string
	kubetest.Eventually(t, 30*time.Second, "the user HPA rejected by mlscale's policy", func() error {
		out, err := kubectl(t, userHPA(ns, "worker"), "create", "-f", "-")
		if err == nil {
			_, _ = kubectl(t, "", "delete", "hpa", "-n", ns, "worker-user")
			return fmt.Errorf("admitted: %s", out)
		}
		msg = err.Error()
		if !strings.Contains(msg, "hpa_scaledobject_conflict") {
			return fmt.Errorf("rejected, but not by the policy: %w", err)
		}
		return nil
	})
	if !strings.Contains(msg, "ScaledObject") && !strings.Contains(msg, "worker") {
		t.Errorf("the rejection does not name the ScaledObject: %s", msg)
	}
	t.Logf("mlscale's policy: %s", msg)
}

// TestDeleteDeploymentCollectsKEDAObjects: deleting the annotated
// Deployment makes the garbage collector delete the ScaledObject it owns,
// and KEDA remove its HPA.
func TestDeleteDeploymentCollectsKEDAObjects(t *testing.T) {
	env(t)
	ctx := context.Background()
	ns := namespace(t, "keda-gc")
	if err := suite.KEDA.RabbitMQ.DeclareQueue(ctx, "gc-tasks"); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, workload("Deployment", ns, "worker", 1, rabbitAnnotations("celery-worker", "gc-tasks", map[string]string{
		"mlscale.io/min-replicas": "1",
	})), "apply", "-f", "-")
	waitCondition(t, 2*time.Minute, "ScaledObject", ns, "worker", "Ready", "True")
	kubetest.Eventually(t, time.Minute, "KEDA's HPA", func() error { _, err := kedaHPA(ns, "worker"); return err })

	mustKubectl(t, "", "delete", "deployment", "-n", ns, "worker", "--wait=false")
	kubetest.Eventually(t, 2*time.Minute, "the ScaledObject garbage-collected", func() error {
		return gone(&kedav1alpha1.ScaledObject{}, ns, "worker")
	})
	kubetest.Eventually(t, time.Minute, "KEDA's HPA removed", func() error {
		return gone(&autoscalingv2.HorizontalPodAutoscaler{}, ns, "keda-hpa-worker")
	})
	if err := gone(&appsv1.Deployment{}, ns, "worker"); err != nil {
		t.Error(err)
	}
	var so kedav1alpha1.ScaledObjectList
	if err := suite.Client.List(ctx, &so, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(so.Items) != 0 {
		t.Errorf("%d ScaledObjects left in %s", len(so.Items), ns)
	}
}
