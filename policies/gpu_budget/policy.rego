# GPU budget: a KEDA object may scale its workload to at most as many GPUs as
# the namespace may use. It needs replicas x GPUs per pod x pods per replica
# GPUs, where replicas is the larger of maxReplicaCount (KEDA's default 100)
# and minReplicaCount, and pods per replica is a Job's parallelism (its
# completions when fewer, as input.podsPerReplica gives it). That
# must fit the smallest of the namespace's ResourceQuota limits on a GPU
# resource (requests.nvidia.com/gpu, requests.amd.com/gpu, ...; see
# data.gpu_resources) and the configured budget (data.config.gpuBudgets
# [namespace], else data.config.defaultGPUBudget).
#
# input.gpusPerPod and input.podsPerReplica are filled in by mlscale: for an
# annotated workload and a ScaledJob from their pod template, for a
# hand-written ScaledObject from its target workload when that is a
# Deployment, StatefulSet or Job that exists. A ScaledObject on another kind
# (a custom resource) or on a workload that does not exist yet is not
# checked. Rego numbers do not overflow: a product beyond 2^63 is still
# compared exactly.
package mlscale.policies.gpu_budget

import data.mlscale.lib

# budgets are the limits that apply, each with where it comes from. A
# fractional limit counts whole devices (rounded down).
budgets contains {"limit": floor(units.parse(limit)), "source": lib.object_key(q)} if {
	some q in lib.quota_list
	some key, limit in q.spec.hard
	lib.gpu_quota_key(key)
}

budgets contains {"limit": data.config.gpuBudgets[lib.namespace], "source": sprintf("the configured GPU budget of namespace %s", [lib.namespace])}

budgets contains {"limit": data.config.defaultGPUBudget, "source": "the configured default GPU budget"} if {
	not data.config.gpuBudgets[lib.namespace]
}

max_replicas(obj) := object.get(obj, ["spec", "maxReplicaCount"], 100)

min_replicas(obj) := object.get(obj, ["spec", "minReplicaCount"], 0)

# per_replica says what one replica holds, for messages.
per_replica(gpus, 1) := sprintf("%d GPUs per pod", [gpus])

per_replica(gpus, pods) := sprintf("%d GPUs per pod x parallelism %d", [gpus, pods]) if pods > 1

# bound names the fields to lower.
bound(obj) := "maxReplicaCount (mlscale.io/max-replicas)" if {
	min_replicas(obj) <= max_replicas(obj)
} else := "minReplicaCount and maxReplicaCount"

violation contains msg if {
	gpus := object.get(input, "gpusPerPod", 0)
	gpus > 0
	pods := max([object.get(input, "podsPerReplica", 1), 1])
	some obj in lib.review_keda_objects
	replicas := max([max_replicas(obj), min_replicas(obj)])
	need := (replicas * gpus) * pods
	some b in budgets
	need > b.limit
	msg := sprintf(
		"gpu_budget: %s may scale to %d replicas x %s = %d GPUs, over the %v GPUs of %s; %s",
		[lib.subject, replicas, per_replica(gpus, pods), need, b.limit, b.source, fix(obj, gpus * pods, b.limit)],
	)
}

# fix names the way out: fewer replicas, or, when not even one replica
# fits, fewer GPUs per replica.
fix(obj, per_replica_gpus, limit) := sprintf("set %s to %d or less, or raise the budget", [bound(obj), floor(limit / per_replica_gpus)]) if {
	per_replica_gpus <= limit
} else := sprintf("not even one replica (%d GPUs) fits: request fewer GPUs per pod or a lower parallelism, or raise the budget", [per_replica_gpus])
