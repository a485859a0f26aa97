package native

import (
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// benchInput is a ScaledObject under review with one trigger of type
// typ and metadata md.
func benchInput(typ string, md map[string]string, ref *kedav1alpha1.AuthenticationRef) *Input {
	so := &kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Name: "worker", Namespace: "ml"}}
	so.Spec.ScaleTargetRef = &kedav1alpha1.ScaleTarget{Name: "worker"}
	so.Spec.Triggers = []kedav1alpha1.ScaleTriggers{{Type: typ, Metadata: md, AuthenticationRef: ref}}
	return &Input{Kind: kindScaledObject, Operation: "CREATE", Namespace: "ml", Object: so}
}

// BenchmarkTriggerCredentials measures trigger_credentials' Go form on a
// RabbitMQ and a Prometheus trigger without credentials, and on one with.
func BenchmarkTriggerCredentials(b *testing.B) {
	f := compileTriggerCredentials(Config{})
	for _, c := range []struct {
		name string
		in   *Input
	}{
		{"rabbitmq", benchInput("rabbitmq", map[string]string{"protocol": "amqp", "queueName": "tasks", "mode": "QueueLength", "value": "5", "host": "amqp://rabbitmq.ml.svc.cluster.local:5672"}, nil)},
		{"prometheus", benchInput("prometheus", map[string]string{"serverAddress": "http://prometheus.monitoring.svc.cluster.local:9090", "query": `sum(rate(http_requests_total{secret=~"x"}[2m]))`, "threshold": "100", "customHeaders": "X-Scope-OrgID=ml"}, nil)},
		{"password", benchInput("rabbitmq", map[string]string{"queueName": "tasks", "host": "amqp://u:p@rabbitmq:5672"}, nil)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f(c.in)
			}
		})
	}
}

// BenchmarkClusterTriggerAuthentication measures
// cluster_trigger_authentication's Go form on an allowed reference.
func BenchmarkClusterTriggerAuthentication(b *testing.B) {
	f := compileClusterTriggerAuthentication(Config{ClusterTriggerAuthentications: map[string][]string{"shared": {"team-*", "ml"}}})
	in := benchInput("rabbitmq", nil, &kedav1alpha1.AuthenticationRef{Name: "shared", Kind: "ClusterTriggerAuthentication"})
	b.ReportAllocs()
	for b.Loop() {
		f(in)
	}
}
