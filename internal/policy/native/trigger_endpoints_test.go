package native

import (
	"slices"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// endpointsInput is the review of a ScaledObject with triggers.
func endpointsInput(triggers ...kedav1alpha1.ScaleTriggers) *Input {
	so := &kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Name: "llm", Namespace: "ml"}}
	so.Spec.ScaleTargetRef = &kedav1alpha1.ScaleTarget{Name: "llm"}
	so.Spec.Triggers = triggers
	return &Input{Kind: kindScaledObject, Operation: "CREATE", Namespace: "ml", Object: so}
}

// endpointsConfig allows the hosts of policy_test.rego's data_config.
var endpointsConfig = Config{AllowedEndpoints: []string{"*.monitoring.svc.cluster.local", "rabbitmq.*.svc.cluster.local", "*.data.svc.cluster.local", "10.0.0.*"}}

// TestTriggerEndpointsMessages checks the messages of a few reviews (the
// rules of policy_test.rego).
func TestTriggerEndpointsMessages(t *testing.T) {
	f := compileTriggerEndpoints(endpointsConfig)
	cases := []struct {
		name string
		t    kedav1alpha1.ScaleTriggers
		want []string
	}{
		{"allowed", kedav1alpha1.ScaleTriggers{Type: "prometheus", Metadata: map[string]string{"serverAddress": "http://prometheus.monitoring.svc.cluster.local:9090"}}, nil},
		{"denied", kedav1alpha1.ScaleTriggers{Type: "prometheus", Name: "queue", Metadata: map[string]string{"serverAddress": "http://evil.example.com:9090"}}, []string{
			`trigger_endpoints: ScaledObject ml/llm makes KEDA call evil.example.com (trigger "queue", type prometheus, metadata.serverAddress of ScaledObject ml/llm), which is not on the allowed endpoints ["*.monitoring.svc.cluster.local", "rabbitmq.*.svc.cluster.local", "*.data.svc.cluster.local", "10.0.0.*"]; use an allowed endpoint, or ask the cluster admins to add it to mlscale's policy configuration (allowedEndpoints)`,
		}},
		{"kafka list", kedav1alpha1.ScaleTriggers{Type: "kafka", Metadata: map[string]string{"bootstrapServers": "kafka-0.data.svc.cluster.local:9092, evil.example.com:9092,evil.example.com:9093"}}, []string{
			`trigger_endpoints: ScaledObject ml/llm makes KEDA call evil.example.com (trigger spec.triggers[0], type kafka, metadata.bootstrapServers of ScaledObject ml/llm), which is not on the allowed endpoints ["*.monitoring.svc.cluster.local", "rabbitmq.*.svc.cluster.local", "*.data.svc.cluster.local", "10.0.0.*"]; use an allowed endpoint, or ask the cluster admins to add it to mlscale's policy configuration (allowedEndpoints)`,
		}},
		{"unknown type", kedav1alpha1.ScaleTriggers{Type: "acme-queue", Metadata: map[string]string{"brokerURL": "https://broker.data.svc.cluster.local:8443", "queue": "q", "brokerFromEnv": "B.URL"}}, []string{
			`trigger_endpoints: ScaledObject ml/llm has trigger spec.triggers[0] of type "acme-queue", which the policy does not know, and its metadata.brokerURL (of ScaledObject ml/llm) looks like an address: the policy cannot tell which host KEDA would build from it, so with allowed endpoints configured the trigger is denied; use a trigger type KEDA knows, or ask the cluster admins to update mlscale's trigger_endpoints policy`,
		}},
		{"mysql port", kedav1alpha1.ScaleTriggers{Type: "mysql", Metadata: map[string]string{"host": "mysql.data.svc.cluster.local", "port": "3306)@tcp(evil.example.com:3306"}}, []string{"evil.example.com (trigger spec.triggers[0], type mysql, metadata.port of"}},
		{"eventhub storage account", kedav1alpha1.ScaleTriggers{Type: "azure-eventhub", Metadata: map[string]string{"eventHubNamespace": "ns", "storageAccountName": "evil.example.com/"}}, []string{"evil.example.com (trigger spec.triggers[0], type azure-eventhub, metadata.storageAccountName of"}},
		{"public cloud", kedav1alpha1.ScaleTriggers{Type: "azure-servicebus", Metadata: map[string]string{"namespace": "ns", "queueName": "q"}}, nil},
	}
	for _, c := range cases {
		got := f(endpointsInput(c.t))
		ok := len(got) == len(c.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.Contains(got[i], c.want[i])
		}
		if !ok {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	unnamed := endpointsInput(kedav1alpha1.ScaleTriggers{Type: "prometheus", Metadata: map[string]string{"serverAddress": "http://evil.example.com"}})
	unnamed.Object.SetName("")
	if got := f(unnamed); got != nil {
		t.Errorf("an object without a name: got %q, want nothing (lib.subject is undefined)", got)
	}
	if got := compileTriggerEndpoints(Config{})(endpointsInput(cases[1].t)); got != nil {
		t.Errorf("without an allowlist: got %q", got)
	}
}

// TestHostParsers checks host_of, url_host, tcp_host and grpc_hosts.
func TestHostParsers(t *testing.T) {
	for _, c := range []struct{ in, hostOf, urlHost, tcpHost string }{
		{"http://prometheus.monitoring:9090/x", "prometheus.monitoring", "prometheus.monitoring", "http://prometheus.monitoring"},
		{"HTTP://User:pw@Host.Example.COM.:80", "host.example.com", "host.example.com", "http://user:pw@host.example.com"},
		{"http://evil.example.com#@p.monitoring", "evil.example.com", "evil.example.com", "http"},
		{"http://p:9090@evil.example.com", "evil.example.com", "evil.example.com", "http://p"},
		{"[::1]:8080", "[::1]", "[::1]", "::1"},
		{"http://[fd00::1]:80/", "[fd00::1]", "[fd00::1]", "http://[fd00::1]"},
		{"[fd00::1", "[fd00", "[fd00", "[fd00:"},
		{"kafka-0.data:9092", "kafka-0.data", "kafka-0.data", "kafka-0.data"},
		{"a@b@c/d@e", "c", "c", "a@b@c/d@e"},
		{"", "", "", ""},
	} {
		if got := hostOf(c.in); got != c.hostOf {
			t.Errorf("hostOf(%q) = %q, want %q", c.in, got, c.hostOf)
		}
		if got := urlHost(c.in); got != c.urlHost {
			t.Errorf("urlHost(%q) = %q, want %q", c.in, got, c.urlHost)
		}
		if got := tcpHost(c.in); got != c.tcpHost {
			t.Errorf("tcpHost(%q) = %q, want %q", c.in, got, c.tcpHost)
		}
	}
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"dns:///evil.example.com:6000", []string{"evil.example.com"}},
		{"dns://10.9.9.9:53/scaler:6000", []string{"10.9.9.9", "scaler"}},
		{"unix:///var/run/s.sock", nil},
		{"xds://auth/ep:1", []string{"auth", "ep"}},
		{"scaler.data:6000", []string{"scaler.data"}},
	} {
		var got []string
		grpcHosts(c.in, func(h string) {
			if !slices.Contains(got, h) {
				got = append(got, h)
			}
		})
		if !slices.Equal(got, c.want) {
			t.Errorf("grpcHosts(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestOPAStringFunctions checks that substring and indexof count runes, as
// OPA does.
func TestOPAStringFunctions(t *testing.T) {
	for _, c := range []struct {
		s             string
		start, length int
		want          string
	}{
		{"abcdef", 2, -1, "cdef"}, {"abcdef", 2, 2, "cd"}, {"abcdef", 9, 1, ""}, {"abcdef", 0, 99, "abcdef"},
		{"h\u00e9llo", 1, 2, "\u00e9l"}, {"h\u00e9llo", 0, 5, "h\u00e9llo"}, {"a\xffb", 1, -1, "\ufffdb"}, {"a\xffb", 0, 3, "a\xffb"},
	} {
		if got := opaSubstring(c.s, c.start, c.length); got != c.want {
			t.Errorf("opaSubstring(%q, %d, %d) = %q, want %q", c.s, c.start, c.length, got, c.want)
		}
	}
	if got := opaIndexByte("h\u00e9@x", '@'); got != 2 {
		t.Errorf("opaIndexByte = %d, want 2 (runes)", got)
	}
	if got, ok := mysqlHost("h\u00e9", "1)@tcp(x:2"); !ok || got != "x" {
		t.Errorf("mysqlHost = %q %v", got, ok)
	}
}

// BenchmarkTriggerEndpoints is the Go form on a ScaledObject with one
// allowed trigger.
func BenchmarkTriggerEndpoints(b *testing.B) {
	f := compileTriggerEndpoints(endpointsConfig)
	for _, c := range []struct {
		name string
		t    kedav1alpha1.ScaleTriggers
	}{
		{"prometheus", kedav1alpha1.ScaleTriggers{Type: "prometheus", Metadata: map[string]string{"serverAddress": "http://prometheus.monitoring.svc.cluster.local:9090", "query": "sum(rate(http_requests_total[2m]))", "threshold": "10"}}},
		{"rabbitmq", kedav1alpha1.ScaleTriggers{Type: "rabbitmq", Metadata: map[string]string{"host": "amqp://guest@rabbitmq.ml.svc.cluster.local:5672/vhost", "queueName": "q", "mode": "QueueLength", "value": "5"}}},
		{"kafka", kedav1alpha1.ScaleTriggers{Type: "kafka", Metadata: map[string]string{"bootstrapServers": "kafka-0.data.svc.cluster.local:9092,kafka-1.data.svc.cluster.local:9092", "topic": "t", "consumerGroup": "g"}}},
	} {
		in := endpointsInput(c.t)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if msgs := f(in); len(msgs) != 0 {
					b.Fatal(msgs)
				}
			}
		})
	}
}
