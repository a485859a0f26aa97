package mlscale.policies.trigger_credentials_test

import data.mlscale.policies.trigger_credentials as policy

scaled_object(trigger) := {
	"apiVersion": "keda.sh/v1alpha1",
	"kind": "ScaledObject",
	"metadata": {"name": "worker", "namespace": "ml"},
	"spec": {"scaleTargetRef": {"name": "worker"}, "triggers": [trigger]},
}

review(trigger) := {"kind": "ScaledObject", "namespace": "ml", "object": scaled_object(trigger)}

rabbit(host) := {"type": "rabbitmq", "name": "queue", "metadata": {"host": host, "queueName": "tasks"}}

prometheus(query) := {"type": "prometheus", "metadata": {"serverAddress": "http://prometheus.monitoring:9090", "query": query}}

test_password_in_host_denied if {
	msgs := policy.violation with input as review(rabbit("amqp://guest:s3cret@rabbitmq.ml:5672/"))
	count(msgs) == 1
	some msg in msgs
	contains(msg, "trigger_credentials: ScaledObject ml/worker has a password in the URL inline in trigger \"queue\" (type rabbitmq), metadata.host")
	contains(msg, "TriggerAuthentication")
}

test_host_without_password_allowed if {
	count(policy.violation) == 0 with input as review(rabbit("amqp://rabbitmq.ml.svc.cluster.local:5672/"))
}

test_user_without_password_allowed if {
	count(policy.violation) == 0 with input as review(rabbit("amqp://guest@rabbitmq.ml:5672/"))
}

test_token_in_query_denied if {
	count(policy.violation) == 1 with input as review(prometheus(`sum(up{job="x"}) and on() vector(1) # ?token=abc`))
}

test_token_in_server_address_denied if {
	t := {"type": "prometheus", "metadata": {"serverAddress": "http://prom:9090/?access_token=abc", "query": "up"}}
	count(policy.violation) == 1 with input as review(t)
}

test_plain_query_allowed if {
	count(policy.violation) == 0 with input as review(prometheus(`sum(vllm:num_requests_waiting{namespace="ml"})`))
}

test_secret_key_inline_denied if {
	t := {"type": "postgresql", "metadata": {"password": "hunter2", "query": "select 1"}}
	count(policy.violation) == 1 with input as review(t)
}

test_secret_from_env_allowed if {
	t := {"type": "postgresql", "metadata": {"passwordFromEnv": "PG_PASSWORD", "query": "select 1"}}
	count(policy.violation) == 0 with input as review(t)
}

test_rendered_object_of_workload_checked if {
	d := {"kind": "Deployment", "metadata": {"name": "worker", "namespace": "ml"}}
	review_in := {"kind": "Deployment", "namespace": "ml", "object": d, "rendered": scaled_object(rabbit("amqp://u:p@rabbitmq:5672"))}
	msgs := policy.violation with input as review_in
	some msg in msgs
	contains(msg, "Deployment ml/worker (mlscale.io/autoscale opt-in) has a password in the URL")
}
