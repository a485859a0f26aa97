package mlscale.policies.trigger_endpoints_test

import data.mlscale.policies.trigger_endpoints as policy

scaled_object(trigger) := {
	"apiVersion": "keda.sh/v1alpha1",
	"kind": "ScaledObject",
	"metadata": {"name": "llm", "namespace": "ml"},
	"spec": {"scaleTargetRef": {"name": "llm"}, "triggers": [trigger]},
}

review(trigger) := {"kind": "ScaledObject", "namespace": "ml", "object": scaled_object(trigger)}

prometheus(address) := {"type": "prometheus", "name": "queue", "metadata": {"serverAddress": address, "query": "up"}}

config := {"allowedEndpoints": ["*.monitoring.svc.cluster.local", "rabbitmq.*.svc.cluster.local"]}

test_endpoint_not_allowed_denied if {
	msgs := policy.violation with input as review(prometheus("http://evil.example.com:9090")) with data.config as config
	count(msgs) == 1
	some msg in msgs
	contains(msg, "trigger_endpoints: ScaledObject ml/llm makes KEDA call evil.example.com (trigger \"queue\", type prometheus, metadata.serverAddress")
	contains(msg, "allowedEndpoints")
}

test_endpoint_allowed if {
	count(policy.violation) == 0 with input as review(prometheus("http://prometheus.monitoring.svc.cluster.local:9090")) with data.config as config
}

test_glob_star_matches_one_label_only if {
	count(policy.violation) == 1 with input as review(prometheus("http://a.b.monitoring.svc.cluster.local:9090")) with data.config as config
}

test_rabbit_host_with_user_allowed if {
	t := {"type": "rabbitmq", "metadata": {"host": "amqp://guest@rabbitmq.ml.svc.cluster.local:5672/vhost", "queueName": "q"}}
	count(policy.violation) == 0 with input as review(t) with data.config as config
}

test_host_is_case_insensitive if {
	count(policy.violation) == 0 with input as review(prometheus("HTTP://Prometheus.Monitoring.svc.cluster.local")) with data.config as config
}

test_no_allowlist_inactive if {
	count(policy.violation) == 0 with input as review(prometheus("http://evil.example.com:9090"))
}

test_ip_address_denied if {
	count(policy.violation) == 1 with input as review(prometheus("http://169.254.169.254/latest")) with data.config as config
}

test_non_endpoint_keys_ignored if {
	t := {"type": "cpu", "metadata": {"type": "Utilization", "value": "80"}}
	count(policy.violation) == 0 with input as review(t) with data.config as config
}
