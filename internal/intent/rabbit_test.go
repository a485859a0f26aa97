package intent

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRabbitHost(t *testing.T) {
	tests := []struct {
		name, in string
		want     RabbitHost
		short    bool
		url      string // URL("ml", "cluster.local")
	}{
		{"short service name", "rabbitmq", RabbitHost{Scheme: "amqp", Host: "rabbitmq"}, true,
			"amqp://rabbitmq.ml.svc.cluster.local:5672/"},
		{"short name with port", "rabbitmq:5673", RabbitHost{Scheme: "amqp", Host: "rabbitmq", Port: 5673}, true,
			"amqp://rabbitmq.ml.svc.cluster.local:5673/"},
		{"service in another namespace", "rabbitmq.infra", RabbitHost{Scheme: "amqp", Host: "rabbitmq.infra"}, false,
			"amqp://rabbitmq.infra:5672/"},
		{"full cluster DNS name", "rabbitmq.infra.svc.cluster.local:5672", RabbitHost{Scheme: "amqp", Host: "rabbitmq.infra.svc.cluster.local", Port: 5672}, false,
			"amqp://rabbitmq.infra.svc.cluster.local:5672/"},
		{"Service name of 63 characters", strings.Repeat("r", 63), RabbitHost{Scheme: "amqp", Host: strings.Repeat("r", 63)}, true,
			"amqp://" + strings.Repeat("r", 63) + ".ml.svc.cluster.local:5672/"},
		{"DNS label starting with a digit", "0mq.example.com", RabbitHost{Scheme: "amqp", Host: "0mq.example.com"}, false, "amqp://0mq.example.com:5672/"},
		{"IPv4", "10.0.0.7", RabbitHost{Scheme: "amqp", Host: "10.0.0.7"}, false, "amqp://10.0.0.7:5672/"},
		{"IPv4 with port", "10.0.0.7:5673", RabbitHost{Scheme: "amqp", Host: "10.0.0.7", Port: 5673}, false, "amqp://10.0.0.7:5673/"},
		{"IPv6 with port", "[fd00::7]:5672", RabbitHost{Scheme: "amqp", Host: "fd00::7", Port: 5672}, false, "amqp://[fd00::7]:5672/"},
		{"IPv6 without port", "[fd00::7]", RabbitHost{Scheme: "amqp", Host: "fd00::7"}, false, "amqp://[fd00::7]:5672/"},
		{"amqp URL short host", "amqp://rabbitmq", RabbitHost{Scheme: "amqp", Host: "rabbitmq"}, true,
			"amqp://rabbitmq.ml.svc.cluster.local:5672/"},
		{"amqp URL with vhost", "amqp://rabbitmq.infra.svc:5672/prod", RabbitHost{Scheme: "amqp", Host: "rabbitmq.infra.svc", Port: 5672, VHost: "prod"}, false,
			"amqp://rabbitmq.infra.svc:5672/prod"},
		{"amqps default port is 5671", "amqps://mq.example.com", RabbitHost{Scheme: "amqps", Host: "mq.example.com"}, false,
			"amqps://mq.example.com:5671/"},
		{"amqps short name with vhost", "amqps://rabbitmq/jobs", RabbitHost{Scheme: "amqps", Host: "rabbitmq", VHost: "jobs"}, true,
			"amqps://rabbitmq.ml.svc.cluster.local:5671/jobs"},
		{"amqps explicit port", "amqps://rabbitmq:8443", RabbitHost{Scheme: "amqps", Host: "rabbitmq", Port: 8443}, true,
			"amqps://rabbitmq.ml.svc.cluster.local:8443/"},
		{"encoded default vhost", "amqp://rabbitmq/%2F", RabbitHost{Scheme: "amqp", Host: "rabbitmq", VHost: "/"}, true,
			"amqp://rabbitmq.ml.svc.cluster.local:5672//"},
		{"vhost with a space is escaped", "amqp://rabbitmq/my%20vhost", RabbitHost{Scheme: "amqp", Host: "rabbitmq", VHost: "my vhost"}, true,
			"amqp://rabbitmq.ml.svc.cluster.local:5672/my%20vhost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRabbitHost(tc.in)
			if err != nil {
				t.Fatalf("ParseRabbitHost(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseRabbitHost(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if got.IsShort() != tc.short {
				t.Errorf("IsShort = %v, want %v", got.IsShort(), tc.short)
			}
			if u := got.URL("ml", "cluster.local"); u != tc.url {
				t.Errorf("URL = %q, want %q", u, tc.url)
			}
		})
	}
}

func TestRabbitHostURLClusterDomain(t *testing.T) {
	h, err := ParseRabbitHost("rabbitmq")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.URL("team-a", "corp.internal"), "amqp://rabbitmq.team-a.svc.corp.internal:5672/"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
}

func TestParseRabbitHostInvalid(t *testing.T) {
	tests := []struct {
		name, in string
		creds    bool
	}{
		{"empty", "", false},
		{"padded", " rabbitmq", false},
		{"upper case", "RabbitMQ", false},
		{"underscore", "rabbit_mq", false},
		{"trailing dot", "rabbitmq.", false},
		{"Service name over 63 characters", strings.Repeat("r", 64), false},
		{"Service name starting with a digit", "0rabbit", false},
		{"DNS label over 63 characters", strings.Repeat("r", 64) + ".infra", false},
		{"empty port", "rabbitmq:", false},
		{"port zero", "rabbitmq:0", false},
		{"port too big", "rabbitmq:65536", false},
		{"port with sign", "rabbitmq:+5672", false},
		{"port name", "rabbitmq:amqp", false},
		{"bare IPv6", "fd00::7", false},
		{"IPv4 in brackets", "[10.0.0.7]", false},
		{"path without scheme", "rabbitmq/vhost", false},
		{"query without scheme", "rabbitmq?x=1", false},
		{"http scheme", "http://rabbitmq:15672", false},
		{"no host", "amqp:///vhost", false},
		{"query", "amqp://rabbitmq/?heartbeat=10", false},
		{"fragment", "amqp://rabbitmq/#x", false},
		{"bad escape", "amqp://rabbitmq/%zz", false},
		{"credentials in URL", "amqp://guest:guest@rabbitmq", true},
		{"user in URL", "amqp://guest@rabbitmq", true},
		{"credentials without scheme", "guest:guest@rabbitmq", true},
		{"credentials that break parsing", "amqp://guest:gu%zzest@rabbitmq", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseRabbitHost(tc.in)
			if err == nil {
				t.Fatalf("ParseRabbitHost(%q) = %+v, want an error", tc.in, h)
			}
			if got := errors.Is(err, errInlineCredentials); got != tc.creds {
				t.Errorf("inline-credentials error = %v, want %v (err %v)", got, tc.creds, err)
			}
			if tc.in != "" && strings.Contains(err.Error(), tc.in) {
				t.Errorf("error %q repeats the value", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]string{
		"rabbitmq":                       "rabbitmq",
		"amqp://rabbitmq:5672/v":         "amqp://rabbitmq:5672/v",
		"amqp://u:p@h":                   "amqp://REDACTED@h",
		"u:p@h:5672":                     "REDACTED@h:5672",
		"amqp://u:p@x@h/v":               "amqp://REDACTED@h/v",
		"amqp://h/?password=p":           "amqp://h/?REDACTED",
		"http://u:p@h:9090/api?token=tk": "http://REDACTED@h:9090/api?REDACTED",
	}
	for in, want := range tests {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClosest(t *testing.T) {
	tests := map[string]string{
		"mlscale.io/max-replica":        KeyMaxReplicas,
		"mlscale.io/minreplicas":        KeyMinReplicas,
		"mlscale.io/scale-to-zer0":      KeyScaleToZero,
		"mlscale.io/rabbitmq-queues":    KeyRabbitMQQueue,
		"mlscale.io/Prometheus-Query":   KeyPrometheusQuery,
		"mlscale.io/businesshours":      KeyBusinessHours,
		"mlscale.io/something-else-yet": "",
		"mlscale.io/":                   "",
	}
	for in, want := range tests {
		if got := closest(in, UserKeys); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}
