package mlscale.policies.cluster_trigger_authentication_test

import data.mlscale.policies.cluster_trigger_authentication as policy

review(ns, ref) := {
	"kind": "ScaledObject", "namespace": ns,
	"object": {
		"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
		"metadata": {"name": "worker", "namespace": ns},
		"spec": {"scaleTargetRef": {"name": "worker"}, "triggers": [{"type": "rabbitmq", "metadata": {"queueName": "q"}, "authenticationRef": ref}]},
	},
}

cta(name) := {"name": name, "kind": "ClusterTriggerAuthentication"}

test_denied_without_configuration if {
	msgs := policy.violation with input as review("ml", cta("rabbitmq-admin"))
	count(msgs) == 1
	some msg in msgs
	contains(msg, "cluster_trigger_authentication: ScaledObject ml/worker uses ClusterTriggerAuthentication rabbitmq-admin in trigger spec.triggers[0] (type rabbitmq)")
	contains(msg, `add "ml" to clusterTriggerAuthentications["rabbitmq-admin"]`)
}

test_allowed_namespace if {
	count(policy.violation) == 0 with input as review("ml", cta("rabbitmq-admin"))
		with data.config.clusterTriggerAuthentications as {"rabbitmq-admin": ["ml"]}
}

test_glob_namespace if {
	count(policy.violation) == 0 with input as review("team-a", cta("rabbitmq-admin"))
		with data.config.clusterTriggerAuthentications as {"rabbitmq-admin": ["team-*"]}
	count(policy.violation) == 1 with input as review("ml", cta("rabbitmq-admin"))
		with data.config.clusterTriggerAuthentications as {"rabbitmq-admin": ["team-*"]}
}

test_other_name_not_allowed if {
	count(policy.violation) == 1 with input as review("ml", cta("cloud-identity"))
		with data.config.clusterTriggerAuthentications as {"rabbitmq-admin": ["*"]}
}

test_wildcard_name if {
	count(policy.violation) == 0 with input as review("ml", cta("anything"))
		with data.config.clusterTriggerAuthentications as {"*": ["ml"]}
}

test_namespaced_trigger_authentication_not_checked if {
	count(policy.violation) == 0 with input as review("ml", {"name": "rabbitmq-auth"})
	count(policy.violation) == 0 with input as review("ml", {"name": "rabbitmq-auth", "kind": "TriggerAuthentication"})
}

test_scaled_job_checked if {
	sj := {
		"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledJob",
		"metadata": {"name": "train", "namespace": "ml"},
		"spec": {"jobTargetRef": {}, "triggers": [{"type": "rabbitmq", "name": "q", "authenticationRef": cta("rabbitmq-admin")}]},
	}
	msgs := policy.violation with input as {"kind": "ScaledJob", "namespace": "ml", "object": sj}
	some msg in msgs
	contains(msg, `ScaledJob ml/train uses ClusterTriggerAuthentication rabbitmq-admin in trigger "q"`)
}
