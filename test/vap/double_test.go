package vap_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/test/kubetest"
)

// TestOneReportPerViolation runs mlscale's webhook beside the API server's
// policies. With --api-server-policies (what the chart sets when it
// installs them) each violation is reported once: a warn policy's warning
// comes from the API server only, a refusal names the policy once; the
// webhook still enforces the policies the API server does not hold.
// Without the flag the same warning comes twice, which is what the flag is
// for.
func TestOneReportPerViolation(t *testing.T) {
	env(t)
	withWebhooks(t)
	// scaledobject_namespace warns (testConfig): a target named ns/name.
	foreign := scaledObject("foreign", "other-team/web")
	run := func(t *testing.T, ns string, wantWarnings int) {
		ctx := t.Context()
		suite.warnings.take()
		if _, err := create(ctx, foreign, ns, true); err != nil {
			t.Fatalf("the ScaledObject is refused: %v", err)
		}
		ws := suite.warnings.take()
		var policyWarnings []string
		for _, w := range ws {
			if strings.Contains(w, "scaledobject_namespace: ScaledObject "+ns+"/foreign targets \"other-team/web\"") {
				policyWarnings = append(policyWarnings, w)
			}
		}
		if len(policyWarnings) != wantWarnings {
			t.Errorf("%d warnings about the violation, want %d: %q", len(policyWarnings), wantWarnings, ws)
		}
	}
	t.Run("with --api-server-policies", func(t *testing.T) {
		startMlscale(t, true)
		ns := namespace(t, "once")
		waitWebhook(t, ns)
		run(t, ns, 1)

		// A refusal: the API server's policy refuses first, the webhook
		// is not asked.
		ctx := t.Context()
		if _, err := create(ctx, scaledObject("web-so", "web"), ns, false); err != nil {
			t.Fatal(err)
		}
		kubetest.Eventually(t, 10*time.Second, "the conflicting HPA is refused once", func() error {
			_, err := create(ctx, hpa("web-hpa", "web"), ns, true)
			if err == nil {
				return fmt.Errorf("admitted")
			}
			if n := strings.Count(err.Error(), "hpa_scaledobject_conflict:"); n != 1 || !vapDenied(err) {
				return fmt.Errorf("want one message of the API server's policy, got %w", err)
			}
			return nil
		})

		// A policy the API server does not hold is still the webhook's.
		cta := scaledObject("platform", "worker")
		cta = withTrigger(cta, "rabbitmq", map[string]any{"queueName": "q", "mode": "QueueLength", "value": "5"})
		triggers := cta.Object["spec"].(map[string]any)["triggers"].([]any)
		triggers[1].(map[string]any)["authenticationRef"] = map[string]any{"name": "platform", "kind": "ClusterTriggerAuthentication"}
		_, err := create(ctx, cta, ns, true)
		if err == nil || !strings.Contains(err.Error(), "cluster_trigger_authentication:") || !strings.Contains(err.Error(), "admission webhook") {
			t.Errorf("a ClusterTriggerAuthentication reference: want the webhook's refusal, got %v", err)
		}
	})
	t.Run("without --api-server-policies", func(t *testing.T) {
		startMlscale(t, false)
		ns := namespace(t, "twice")
		waitWebhook(t, ns)
		run(t, ns, 2)
	})
}

// waitWebhook waits until mlscale's webhook answers for namespace ns: a
// ScaledObject referencing a ClusterTriggerAuthentication (a policy only
// the webhook holds) is refused by it.
func waitWebhook(t *testing.T, ns string) {
	t.Helper()
	probe := withTrigger(scaledObject("probe", "probe"), "rabbitmq", map[string]any{"queueName": "q", "mode": "QueueLength", "value": "5"})
	triggers := probe.Object["spec"].(map[string]any)["triggers"].([]any)
	triggers[1].(map[string]any)["authenticationRef"] = map[string]any{"name": "platform", "kind": "ClusterTriggerAuthentication"}
	kubetest.Eventually(t, 20*time.Second, "mlscale's webhook answers", func() error {
		_, err := create(t.Context(), probe, ns, true)
		if err == nil || !strings.Contains(err.Error(), "cluster_trigger_authentication:") {
			return fmt.Errorf("want the webhook's refusal, got %w", err)
		}
		return nil
	})
	suite.warnings.take()
}
