package render

import (
	"fmt"
	"strconv"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
)

// The cpu and memory triggers: KEDA's resource scalers on the utilisation
// of the containers' requests.

// resourceTrigger renders a cpu or memory trigger at target percent of the
// containers' requests; every container must request the resource.
func (r *renderer) resourceTrigger(name string, res corev1.ResourceName, key string, target int32) kedav1alpha1.ScaleTriggers {
	if missing := r.w.ContainersMissingRequest(res); len(missing) > 0 {
		val := strconv.Itoa(int(target))
		if _, ok := r.w.Annotations[key]; !ok {
			val = ""
		}
		problem := fmt.Sprintf("needs a %s request on every container, and container(s) %s have none", res, strings.Join(missing, ", "))
		if val == "" {
			problem = fmt.Sprintf("defaults to %d%% for profile %q, which needs a %s request on every container, and container(s) %s have none", target, r.profile, res, strings.Join(missing, ", "))
		}
		r.errs.Add(key, val, problem, fmt.Sprintf("set resources.requests.%s on every container (sidecars too: init containers with restartPolicy Always) or on the pod (spec.resources), or use another trigger", res))
	} else if r.w.RequestIsZero(res) {
		val, problem := r.w.Annotations[key], "is"
		if _, ok := r.w.Annotations[key]; !ok {
			problem = fmt.Sprintf("defaults to %d%% for profile %q,", target, r.profile)
		}
		r.errs.Add(key, val, fmt.Sprintf("%s a utilisation of the pods' %s requests, which are 0 in total: the HPA cannot compute it", problem, res),
			fmt.Sprintf("a %s request above 0 on a container, or use another trigger", res))
	}
	return kedav1alpha1.ScaleTriggers{
		Type: name, Name: name, MetricType: autoscalingv2.UtilizationMetricType,
		Metadata: map[string]string{"value": strconv.Itoa(int(target))},
	}
}

// cpuTrigger renders the cpu trigger: mlscale.io/cpu-target, or the
// profile's default CPU target for a workload that has no other trigger and
// no GPU.
func (r *renderer) cpuTrigger(hasOther bool) (kedav1alpha1.ScaleTriggers, bool) {
	in := r.in
	cpu := in.CPUTarget
	if cpu == nil && in.MemoryTarget == nil && in.GPUTarget == nil && !hasOther && r.gpu.Count == 0 && r.def.CPUTarget > 0 {
		cpu = ptr.To(r.def.CPUTarget)
	}
	if cpu == nil {
		return kedav1alpha1.ScaleTriggers{}, false
	}
	return r.resourceTrigger(TriggerCPU, corev1.ResourceCPU, intent.KeyCPUTarget, *cpu), true
}

// memoryTrigger renders the memory trigger of mlscale.io/memory-target.
func (r *renderer) memoryTrigger() (kedav1alpha1.ScaleTriggers, bool) {
	if r.in.MemoryTarget == nil {
		return kedav1alpha1.ScaleTriggers{}, false
	}
	return r.resourceTrigger(TriggerMemory, corev1.ResourceMemory, intent.KeyMemoryTarget, *r.in.MemoryTarget), true
}
