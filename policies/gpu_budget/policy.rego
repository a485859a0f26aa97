# GPU budget: a KEDA object may scale its workload to at most as many GPUs as
# the namespace may use: maxReplicaCount x GPUs per pod must fit the smallest
# of the namespace's ResourceQuotas on requests.nvidia.com/gpu and the
# configured budget (data.config.gpuBudgets[namespace], else
# data.config.defaultGPUBudget). input.gpusPerPod is filled in by mlscale for
# annotated workloads and ScaledJobs (from the pod template); a hand-written
# ScaledObject's pods are not known at admission and are not checked.
package mlscale.policies.gpu_budget

import data.mlscale.lib

quota_resource := "requests.nvidia.com/gpu"

# budgets are the limits that apply, each with where it comes from.
budgets contains {"limit": units.parse(q.spec.hard[quota_resource]), "source": lib.object_key(q)} if {
	some q in lib.quota_list
	q.spec.hard[quota_resource]
}

budgets contains {"limit": data.config.gpuBudgets[lib.namespace], "source": sprintf("the configured GPU budget of namespace %s", [lib.namespace])}

budgets contains {"limit": data.config.defaultGPUBudget, "source": "the configured default GPU budget"} if {
	not data.config.gpuBudgets[lib.namespace]
}

max_replicas(obj) := object.get(obj, ["spec", "maxReplicaCount"], 100)

violation contains msg if {
	gpus := object.get(input, "gpusPerPod", 0)
	gpus > 0
	some obj in lib.review_keda_objects
	max := max_replicas(obj)
	need := max * gpus
	some b in budgets
	need > b.limit
	fit := floor(b.limit / gpus)
	msg := sprintf(
		"gpu_budget: %s may scale to %d replicas x %d GPUs per pod = %d GPUs, over the %v GPUs of %s; set maxReplicaCount (mlscale.io/max-replicas) to %d or less, or raise the budget",
		[lib.subject, max, gpus, need, b.limit, b.source, fit],
	)
}
