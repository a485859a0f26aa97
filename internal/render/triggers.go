package render

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/workload"
)

// Trigger names, in rendering order. KEDA shows them in the ScaledObject's
// status and scaling modifiers refer to them.
const (
	TriggerRabbitMQ   = "rabbitmq"
	TriggerPrometheus = "prometheus"
	// TriggerVLLM is the vllm profile's default trigger on the server's own
	// queue depth (VLLMQueueMetric).
	TriggerVLLM = "vllm"
	// TriggerWake is mlscale.io/wake-query's trigger.
	TriggerWake = "wake"
	// TriggerBusinessHours is the cron trigger of mlscale.io/business-hours.
	TriggerBusinessHours = "business-hours"
	TriggerCPU           = "cpu"
	TriggerMemory        = "memory"
	TriggerGPU           = "gpu"
)

// podRegex matches the names of the workload's pods.
func (r *renderer) podRegex() string {
	name := regexp.QuoteMeta(r.w.Name)
	switch r.w.GVK.Kind {
	case workload.KindStatefulSet:
		return name + "-[0-9]+"
	case workload.KindJob:
		return name + "-.+"
	}
	return deploymentPodRegex(r.w.Name)
}

// A Deployment's pod is named by its ReplicaSet's name (NAME-HASH, the
// pod-template hash up to 10 characters) and "-" as a prefix, plus 5
// random characters; the API server cuts such a prefix to 58 characters
// (maxGeneratedPrefix), so for a long NAME the prefix ends inside the hash,
// or at NAME itself.
const (
	maxGeneratedPrefix = 58
	maxTemplateHash    = 10
)

// deploymentPodRegex matches the names of a Deployment's pods.
func deploymentPodRegex(name string) string {
	switch {
	case len(name)+len("-")+maxTemplateHash+len("-") <= maxGeneratedPrefix:
		return regexp.QuoteMeta(name) + "-[a-z0-9]+-[a-z0-9]+"
	case len(name) >= maxGeneratedPrefix:
		return regexp.QuoteMeta(name[:maxGeneratedPrefix]) + "[a-z0-9]{5}"
	}
	return regexp.QuoteMeta(name) + "-[a-z0-9]*-?[a-z0-9]{5}"
}

// triggers renders the workload's triggers, one file per trigger type:
// RabbitMQ (rabbitmq.go), a Prometheus query or the vLLM queue depth
// (prometheus.go), cpu and memory (resource.go) and GPU utilisation
// (gpu.go). A workload with none is an error.
func (r *renderer) triggers() []kedav1alpha1.ScaleTriggers {
	var ts []kedav1alpha1.ScaleTriggers
	add := func(t kedav1alpha1.ScaleTriggers, ok bool) {
		if ok {
			ts = append(ts, t)
		}
	}
	add(r.rabbitTrigger())
	add(r.queryTrigger())
	add(r.wakeTrigger())
	add(r.cronTrigger())
	if r.isJob() {
		r.refusePodTriggers()
	} else {
		// Business hours hold a floor; they do not follow load, so the
		// profile's CPU default still applies beside them, where the pods
		// request CPU.
		load := slices.ContainsFunc(ts, func(t kedav1alpha1.ScaleTriggers) bool { return t.Name != TriggerBusinessHours })
		add(r.cpuTrigger(load || (len(ts) > 0 && !r.w.HasUtilisationRequest(corev1.ResourceCPU))))
		add(r.memoryTrigger())
		add(r.gpuTrigger())
		if len(ts) == 1 && ts[0].Name == TriggerBusinessHours {
			r.warn("%s is the only trigger: the workload runs %s replicas in those hours and none outside them, whatever its load (%s is never reached); to follow load as well, add %s (with a cpu request on every container), %s or %s",
				intent.KeyBusinessHours, ts[0].Metadata["desiredReplicas"], intent.KeyMaxReplicas, intent.KeyCPUTarget, intent.KeyPrometheusQuery, intent.KeyRabbitMQQueue)
		}
	}
	if len(ts) == 0 && len(r.errs) == 0 {
		allowed := fmt.Sprintf("one of %s, %s, %s, %s or %s", intent.KeyRabbitMQQueue, intent.KeyPrometheusQuery, intent.KeyCPUTarget, intent.KeyMemoryTarget, intent.KeyGPUTarget)
		switch {
		case r.isJob():
			allowed = fmt.Sprintf("%s or %s (a ScaledJob scales on queue length)", intent.KeyRabbitMQQueue, intent.KeyPrometheusQuery)
		case r.gpu.Count > 0 && !r.gpu.Measured():
			// Its GPUs have no utilisation series (see gpuTrigger).
			allowed = fmt.Sprintf("one of %s, %s, %s or %s", intent.KeyRabbitMQQueue, intent.KeyPrometheusQuery, intent.KeyCPUTarget, intent.KeyMemoryTarget)
		}
		problem := "is missing: the workload has no trigger"
		if r.gpu.Count > 0 && !r.gpu.Measured() && !r.isJob() {
			problem += fmt.Sprintf(" (none on GPU utilisation either: %s has no utilisation series)", strings.Join(r.gpu.Resources, ", "))
		}
		r.errs.Add(intent.KeyRabbitMQQueue, "", problem, allowed)
	}
	return ts
}

// refusePodTriggers refuses the triggers measured inside a Deployment's
// pods on a Job: a ScaledJob scales on queue length.
func (r *renderer) refusePodTriggers() {
	for _, k := range []string{intent.KeyCPUTarget, intent.KeyMemoryTarget, intent.KeyGPUTarget} {
		if v, ok := r.w.Annotations[k]; ok {
			r.errs.Add(k, v, "is not supported on a Job (KEDA ScaledJobs scale on queue length)", "remove it; use "+intent.KeyRabbitMQQueue+" or "+intent.KeyPrometheusQuery)
		}
	}
}
