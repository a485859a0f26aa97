package mlscale.policies.gpu_budget_test

import data.mlscale.policies.gpu_budget as policy

deployment := {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "llm", "namespace": "ml"}}

rendered(max) := {
	"apiVersion": "keda.sh/v1alpha1",
	"kind": "ScaledObject",
	"metadata": {"name": "llm", "namespace": "ml"},
	"spec": {"scaleTargetRef": {"name": "llm"}, "maxReplicaCount": max},
}

workload_review(max, gpus) := {"kind": "Deployment", "namespace": "ml", "object": deployment, "rendered": rendered(max), "gpusPerPod": gpus}

quota(hard) := {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "gpus", "namespace": "ml"}, "spec": {"hard": {"requests.nvidia.com/gpu": hard}}}

test_over_quota_denied if {
	msgs := policy.violation with input as workload_review(5, 2) with data.inventory as {"resourceQuotas": [quota("8")]}
	count(msgs) == 1
	some msg in msgs
	contains(msg, "gpu_budget: Deployment ml/llm (mlscale.io/autoscale opt-in) may scale to 5 replicas x 2 GPUs per pod = 10 GPUs, over the 8 GPUs of ResourceQuota ml/gpus")
	contains(msg, "to 4 or less")
}

test_within_quota_allowed if {
	count(policy.violation) == 0 with input as workload_review(4, 2) with data.inventory as {"resourceQuotas": [quota("8")]}
}

test_quota_on_other_resource_ignored if {
	q := {"kind": "ResourceQuota", "metadata": {"name": "cpu", "namespace": "ml"}, "spec": {"hard": {"requests.cpu": "1"}}}
	count(policy.violation) == 0 with input as workload_review(5, 2) with data.inventory as {"resourceQuotas": [q]}
}

test_no_gpus_ignored if {
	count(policy.violation) == 0 with input as workload_review(50, 0) with data.inventory as {"resourceQuotas": [quota("8")]}
}

test_default_max_replicas_is_100 if {
	so := json.remove(rendered(0), ["spec/maxReplicaCount"])
	review_in := {"kind": "ScaledObject", "namespace": "ml", "object": so, "gpusPerPod": 1}
	msgs := policy.violation with input as review_in with data.inventory as {"resourceQuotas": [quota("64")]}
	some msg in msgs
	contains(msg, "100 replicas x 1 GPUs per pod = 100 GPUs")
}

test_namespace_budget_from_config_denied if {
	msgs := policy.violation with input as workload_review(3, 1) with data.config as {"gpuBudgets": {"ml": 2}, "defaultGPUBudget": 100}
	count(msgs) == 1
	some msg in msgs
	contains(msg, "the configured GPU budget of namespace ml")
}

test_default_budget_applies_without_namespace_budget if {
	count(policy.violation) == 1 with input as workload_review(3, 1) with data.config as {"gpuBudgets": {"other": 100}, "defaultGPUBudget": 2}
}

test_namespace_budget_overrides_default if {
	count(policy.violation) == 0 with input as workload_review(3, 1) with data.config as {"gpuBudgets": {"ml": 3}, "defaultGPUBudget": 1}
}

test_scaled_job_checked if {
	sj := {"kind": "ScaledJob", "metadata": {"name": "train", "namespace": "ml"}, "spec": {"maxReplicaCount": 4, "jobTargetRef": {}}}
	count(policy.violation) == 1 with input as {"kind": "ScaledJob", "namespace": "ml", "object": sj, "gpusPerPod": 8}
		with data.inventory as {"resourceQuotas": [quota("16")]}
}
