package render

import (
	"fmt"
	"strconv"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
)

// gpuTrigger renders the GPU utilisation trigger: a Prometheus trigger on
// the per-pod series of mlscale's recording rules (GPUUtilizationMetric),
// averaged over the workload's pods; mlscale.io/gpu-target, or GPUTarget
// for a workload whose pods request a GPU.
func (r *renderer) gpuTrigger() (kedav1alpha1.ScaleTriggers, bool) {
	target := r.in.GPUTarget
	if target == nil && r.gpu.Count > 0 {
		target = ptr.To(GPUTarget)
	}
	if target == nil {
		return kedav1alpha1.ScaleTriggers{}, false
	}
	if r.gpu.Count == 0 {
		r.warn("%s is set but no container requests a GPU (nvidia.com/gpu, nvidia.com/mig-*, amd.com/gpu): the GPU trigger will read no data", intent.KeyGPUTarget)
	}
	query := fmt.Sprintf(`avg(%s{namespace=%q,pod=~%q})`, GPUUtilizationMetric, r.w.Namespace, r.podRegex())
	return r.prometheusTrigger(TriggerGPU, autoscalingv2.ValueMetricType, query,
		strconv.Itoa(int(*target)), strconv.Itoa(int(min(GPUActivationThreshold, *target-1))))
}
