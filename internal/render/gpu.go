package render

import (
	"fmt"
	"strconv"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/workload"
)

// gpuTrigger renders the GPU utilisation trigger: a Prometheus trigger on
// the per-pod series of mlscale's recording rules (GPUUtilizationMetric),
// averaged over the workload's pods; mlscale.io/gpu-target, or GPUTarget
// for a workload whose pods request a GPU whose utilisation the collector
// records (workload.UtilisationResourceNames). On pods without such a GPU
// the series never exists: mlscale.io/gpu-target is refused there, and the
// default trigger is left out with a warning.
func (r *renderer) gpuTrigger() (kedav1alpha1.ScaleTriggers, bool) {
	target := r.in.GPUTarget
	measured := r.gpu.Measured()
	switch {
	case target != nil && r.gpu.Count == 0:
		r.errs.Add(intent.KeyGPUTarget, r.w.Annotations[intent.KeyGPUTarget],
			"is set but no container requests a GPU (nvidia.com/gpu, nvidia.com/gpu.shared, nvidia.com/mig-*, amd.com/gpu): the GPU trigger would read no data",
			"remove it, or request the GPU in resources.limits (nvidia.com/gpu) so that the collector attributes it to the pods")
		return kedav1alpha1.ScaleTriggers{}, false
	case target != nil && !measured:
		r.errs.Add(intent.KeyGPUTarget, r.w.Annotations[intent.KeyGPUTarget], "is set, but "+unmeasuredGPUs(r.gpu.Resources)+", so the GPU trigger would read no data",
			"remove it and scale on "+intent.KeyRabbitMQQueue+" or "+intent.KeyPrometheusQuery+" (a metric the server exports)")
		return kedav1alpha1.ScaleTriggers{}, false
	case target == nil && r.gpu.Count > 0 && !measured:
		r.warn("no GPU utilisation trigger: %s; the workload scales on its other triggers", unmeasuredGPUs(r.gpu.Resources))
		return kedav1alpha1.ScaleTriggers{}, false
	case target == nil && r.gpu.Count > 0:
		target = ptr.To(GPUTarget)
	case target == nil:
		return kedav1alpha1.ScaleTriggers{}, false
	}
	query := fmt.Sprintf(`avg(%s{namespace=%q,pod=~%q})`, GPUUtilizationMetric, r.w.Namespace, r.podRegex())
	return r.prometheusTrigger(TriggerGPU, autoscalingv2.ValueMetricType, query,
		strconv.Itoa(int(*target)), strconv.Itoa(int(min(GPUActivationThreshold, *target-1))))
}

// unmeasuredGPUs says why pods holding only the GPU resources res have no
// utilisation series.
func unmeasuredGPUs(res []string) string {
	return fmt.Sprintf("the pods' GPUs (%s) have no utilisation series: mlscale's collector records utilisation for %s only (NVML reports none for MIG devices, and AMD GPUs are not read)",
		strings.Join(res, ", "), strings.Join(workload.UtilisationResourceNames, " and "))
}
