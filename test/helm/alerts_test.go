package helm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// alertTests are promtool unit tests of the PrometheusRule's alerts, with
// the labels the chart's ServiceMonitor gives the series: job is the
// Service's name, endpoint the port's ("metrics" for the webhook
// container, "pred-metrics" for the predictor). KEDA's admission webhooks
// export the same controller-runtime metrics in the same Prometheus.
const alertTests = `
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  # The webhook container is down while the predictor in the same pod is
  # still scraped: the webhook is down.
  - interval: 1m
    input_series:
      - series: 'up{job="mlscale-webhook", endpoint="metrics", pod="mlscale-webhook-1"}'
        values: '0x15'
      - series: 'up{job="mlscale-webhook", endpoint="pred-metrics", pod="mlscale-webhook-1"}'
        values: '1x15'
    alert_rule_test:
      - eval_time: 10m
        alertname: MlscaleWebhookDown
        exp_alerts:
          - exp_labels: {severity: warning}
  # No webhook pod at all (all Pending, or the Deployment scaled to 0):
  # the targets are gone, which is down too.
  - interval: 1m
    input_series:
      - series: 'up{job="keda-operator", endpoint="metrics"}'
        values: '1x15'
    alert_rule_test:
      - eval_time: 10m
        alertname: MlscaleWebhookDown
        exp_alerts:
          - exp_labels: {severity: warning, job: mlscale-webhook, endpoint: metrics}
  # Both containers up: no alert.
  - interval: 1m
    input_series:
      - series: 'up{job="mlscale-webhook", endpoint="metrics", pod="mlscale-webhook-1"}'
        values: '1x15'
    alert_rule_test:
      - eval_time: 10m
        alertname: MlscaleWebhookDown
        exp_alerts: []
  # KEDA's webhooks fail and are slow; mlscale's are fine: no mlscale alert.
  - interval: 1m
    input_series:
      - series: 'controller_runtime_webhook_requests_total{job="keda-admission-webhooks", endpoint="https", webhook="/validate-keda-sh-v1alpha1-scaledobject", code="500"}'
        values: '0+10x30'
      - series: 'controller_runtime_webhook_latency_seconds_bucket{job="keda-admission-webhooks", endpoint="https", webhook="/validate-keda-sh-v1alpha1-scaledobject", le="2.5"}'
        values: '0x30'
      - series: 'controller_runtime_webhook_latency_seconds_bucket{job="keda-admission-webhooks", endpoint="https", webhook="/validate-keda-sh-v1alpha1-scaledobject", le="+Inf"}'
        values: '0+10x30'
      - series: 'controller_runtime_webhook_requests_total{job="mlscale-webhook", endpoint="metrics", webhook="/mutate-mlscale-workloads", code="200"}'
        values: '0+10x30'
      - series: 'controller_runtime_webhook_latency_seconds_bucket{job="mlscale-webhook", endpoint="metrics", webhook="/mutate-mlscale-workloads", le="0.1"}'
        values: '0+10x30'
      - series: 'controller_runtime_webhook_latency_seconds_bucket{job="mlscale-webhook", endpoint="metrics", webhook="/mutate-mlscale-workloads", le="+Inf"}'
        values: '0+10x30'
    alert_rule_test:
      - eval_time: 25m
        alertname: MlscaleWebhookErrors
        exp_alerts: []
      - eval_time: 25m
        alertname: MlscaleWebhookSlow
        exp_alerts: []
  # mlscale's own webhook fails: the alert fires.
  - interval: 1m
    input_series:
      - series: 'controller_runtime_webhook_requests_total{job="mlscale-webhook", endpoint="metrics", webhook="/mutate-mlscale-workloads", code="500"}'
        values: '0+10x30'
    alert_rule_test:
      - eval_time: 25m
        alertname: MlscaleWebhookErrors
        exp_alerts:
          - exp_labels: {severity: warning}
`

// TestPrometheusRuleAlerts runs the rendered PrometheusRule's rules
// through `promtool test rules` (Debian's prometheus package, `make
// prometheus`): the webhook-down alert must look at the webhook
// container's own target and fire when the targets are gone, and the
// webhook alerts must not fire for other controller-runtime webhooks.
func TestPrometheusRuleAlerts(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found on PATH: run `make prometheus` (installs Debian's prometheus package): %v", err)
	}
	r := template(t, "--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.serviceMonitor.enabled=true")
	pr := r.get("PrometheusRule", "mlscale")
	if pr == nil {
		t.Fatalf("no PrometheusRule: %s", r.names())
	}
	groups, _, err := unstructured.NestedSlice(pr.Object, "spec", "groups")
	if err != nil || len(groups) == 0 {
		t.Fatalf("PrometheusRule has no groups: %v", err)
	}
	// promtool compares annotations too; these tests are about when the
	// alerts fire.
	for _, g := range groups {
		rs, _ := g.(map[string]any)["rules"].([]any)
		for _, rule := range rs {
			delete(rule.(map[string]any), "annotations")
		}
	}
	rules, err := yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts.test.yaml"), []byte(alertTests), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "test", "rules", "alerts.test.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s\nrules:\n%s", err, out, rules)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool test rules did not report success:\n%s", out)
	}
}
