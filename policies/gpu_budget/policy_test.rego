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

sj_review(spec, gpus, pods) := {
	"kind": "ScaledJob", "namespace": "ml", "gpusPerPod": gpus, "podsPerReplica": pods,
	"object": {"kind": "ScaledJob", "metadata": {"name": "train", "namespace": "ml"}, "spec": spec},
}

test_parallelism_multiplies if {
	msgs := policy.violation with input as sj_review({"maxReplicaCount": 1}, 1, 16) with data.inventory as {"resourceQuotas": [quota("8")]}
	count(msgs) == 1
	some msg in msgs
	contains(msg, "may scale to 1 replicas x 1 GPUs per pod x parallelism 16 = 16 GPUs, over the 8 GPUs")
	contains(msg, "not even one replica (16 GPUs) fits: request fewer GPUs per pod or a lower parallelism")
}

test_annotated_job_parallelism_multiplies if {
	r := object.union(workload_review(4, 1), {"podsPerReplica": 8})
	msgs := policy.violation with input as r with data.inventory as {"resourceQuotas": [quota("16")]}
	some msg in msgs
	contains(msg, "4 replicas x 1 GPUs per pod x parallelism 8 = 32 GPUs")
	contains(msg, "to 2 or less")
}

test_min_above_default_max_counts if {
	msgs := policy.violation with input as sj_review({"minReplicaCount": 500}, 1, 1) with data.inventory as {"resourceQuotas": [quota("200")]}
	some msg in msgs
	contains(msg, "may scale to 500 replicas x 1 GPUs per pod = 500 GPUs")
	contains(msg, "set minReplicaCount and maxReplicaCount to 200 or less")
}

test_huge_counts_do_not_wrap if {
	msgs := policy.violation with input as workload_review(2, 9223372036854775807) with data.inventory as {"resourceQuotas": [quota("8")]}
	count(msgs) == 1
}

test_other_gpu_resources_limit if {
	q := {"kind": "ResourceQuota", "metadata": {"name": "amd", "namespace": "ml"}, "spec": {"hard": {"requests.amd.com/gpu": "4"}}}
	count(policy.violation) == 1 with input as workload_review(5, 1) with data.inventory as {"resourceQuotas": [q]}
		with data.gpu_resources as {"names": ["nvidia.com/gpu", "amd.com/gpu"], "prefixes": ["nvidia.com/mig-"]}
}

test_mig_quota_limits if {
	q := {"kind": "ResourceQuota", "metadata": {"name": "mig", "namespace": "ml"}, "spec": {"hard": {"requests.nvidia.com/mig-1g.10gb": "2"}}}
	count(policy.violation) == 1 with input as workload_review(3, 1) with data.inventory as {"resourceQuotas": [q]}
		with data.gpu_resources as {"names": ["nvidia.com/gpu"], "prefixes": ["nvidia.com/mig-"]}
}

test_fractional_quota_rounds_down if {
	count(policy.violation) == 1 with input as workload_review(3, 1) with data.inventory as {"resourceQuotas": [quota("2500m")]}
}

test_hand_written_scaled_object_with_known_target if {
	so := rendered(10)
	msgs := policy.violation with input as {"kind": "ScaledObject", "namespace": "ml", "object": so, "gpusPerPod": 2, "podsPerReplica": 1}
		with data.inventory as {"resourceQuotas": [quota("8")]}
	some msg in msgs
	contains(msg, "ScaledObject ml/llm may scale to 10 replicas x 2 GPUs per pod = 20 GPUs")
}
