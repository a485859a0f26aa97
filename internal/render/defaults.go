package render

import (
	"time"

	"github.com/mlscale/mlscale/internal/intent"
)

// Defaults are the values a profile gives to annotations left unset.
// docs/annotations.md has the same table for users; keep them in step.
type Defaults struct {
	MinReplicas     int32
	MaxReplicas     int32
	Cooldown        time.Duration
	PollingInterval time.Duration
	QueueTarget     int64
	// PrometheusTarget is the per-replica target of the Prometheus trigger.
	PrometheusTarget float64
	// CPUTarget is used when the profile needs a trigger and none is given.
	CPUTarget int32
}

// GPU defaults, applied on top of a profile when the pod template requests
// a GPU (nvidia.com/gpu, nvidia.com/mig-*, amd.com/gpu).
const (
	// GPUTarget is the default GPU utilisation target in percent.
	GPUTarget int32 = 80
	// GPUCooldown is the minimum cooldown for GPU workloads: GPU pods are
	// slow and costly to start, so they are kept a while after load ends.
	GPUCooldown = 15 * time.Minute
	// GPUActivationThreshold is the GPU utilisation in percent above which
	// the GPU trigger counts as active. An idle server whose GPU shows a
	// little background utilisation may still scale to zero, while one that
	// is busy with requests (high utilisation) is not taken down because its
	// queue happens to be empty. It is capped below the GPU target.
	GPUActivationThreshold int32 = 5
	// GPUScaleDownWindow is the default scale-down stabilisation window.
	GPUScaleDownWindow = 10 * time.Minute
	// GPUScaleDownPeriod is the period of the "one pod at a time" policy.
	GPUScaleDownPeriod = 2 * time.Minute
)

// ProfileDefaults holds the defaults of each profile.
var ProfileDefaults = map[intent.Profile]Defaults{
	intent.ProfileGeneric: {
		MinReplicas: 1, MaxReplicas: 10, Cooldown: 5 * time.Minute, PollingInterval: 30 * time.Second,
		QueueTarget: 5, PrometheusTarget: 10, CPUTarget: 80,
	},
	intent.ProfileCeleryWorker: {
		MinReplicas: 0, MaxReplicas: 20, Cooldown: 5 * time.Minute, PollingInterval: 15 * time.Second,
		QueueTarget: 5, PrometheusTarget: 10,
	},
	intent.ProfileVLLM: {
		MinReplicas: 0, MaxReplicas: 4, Cooldown: GPUCooldown, PollingInterval: 15 * time.Second,
		QueueTarget: 5, PrometheusTarget: 5,
	},
	intent.ProfileTrainingJob: {
		MinReplicas: 0, MaxReplicas: 10, PollingInterval: 30 * time.Second,
		QueueTarget: 1, PrometheusTarget: 1,
	},
}

// VLLMQueueMetric is the vLLM metric the vllm profile scales on: requests
// waiting for a slot in the engine's batch.
const VLLMQueueMetric = "vllm:num_requests_waiting"

// GPUUtilizationMetric is the per-pod GPU utilisation series (percent):
// the recording rule in deploy/prometheus/rules/mlscale.rules.yaml that
// averages `mlscale collector`'s mlscale_gpu_utilization_percent over each
// pod's GPUs. The GPU trigger averages it over the workload's pods, selected
// by the workload's exact pod-name regex.
const GPUUtilizationMetric = "namespace_workload_pod:mlscale_gpu_utilization_percent:avg"
