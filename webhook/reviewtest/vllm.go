package reviewtest

import (
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// VLLMPodSpec is the pod of a realistic vLLM inference server, shared by
// the admission webhooks' benchmarks and fixtures: one GPU, a model-fetching
// init container, a metrics proxy, probes, volumes, affinity and
// tolerations (about 4 KB of JSON in a Deployment).
func VLLMPodSpec() corev1.PodSpec {
	return corev1.PodSpec{
		ServiceAccountName:            "inference",
		TerminationGracePeriodSeconds: ptr.To(int64(120)),
		NodeSelector:                  map[string]string{"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
		Tolerations: []corev1.Toleration{{
			Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
		}},
		Volumes: []corev1.Volume{
			{Name: "model-cache", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "model-cache"}}},
			{Name: "shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("16Gi"))}}},
		},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1a", "us-east-1b"},
				}},
			}}},
		}},
		InitContainers: []corev1.Container{{
			Name:    "fetch-model",
			Image:   "registry.example.com/ml/model-fetcher:1.8.0",
			Command: []string{"/bin/fetch", "--model", "meta-llama/Meta-Llama-3-8B-Instruct", "--dest", "/models", "--skip-if-present"},
			Env: []corev1.EnvVar{{Name: "HF_HUB_ENABLE_HF_TRANSFER", Value: "1"}, {Name: "HUGGING_FACE_HUB_TOKEN", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "hf-token"}, Key: "token"},
			}}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "model-cache", MountPath: "/models"}},
		}},
		Containers: []corev1.Container{vllmContainer(), {
			Name:  "metrics-proxy",
			Image: "registry.example.com/ml/metrics-proxy:2.4.1",
			Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9400, Protocol: corev1.ProtocolTCP}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
			},
		}},
	}
}

// vllmContainer is VLLMPodSpec's server container: one GPU, probes, a
// locked-down security context.
func vllmContainer() corev1.Container {
	return corev1.Container{
		Name:  "vllm",
		Image: "vllm/vllm-openai:v0.6.3",
		Args: []string{
			"--model", "meta-llama/Meta-Llama-3-8B-Instruct", "--tensor-parallel-size", "1",
			"--max-model-len", "8192", "--gpu-memory-utilization", "0.90", "--port", "8000",
		},
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000, Protocol: corev1.ProtocolTCP}},
		Env: []corev1.EnvVar{
			{Name: "HF_HOME", Value: "/models/.cache"},
			{Name: "VLLM_LOGGING_LEVEL", Value: "INFO"},
			{Name: "VLLM_WORKER_MULTIPROC_METHOD", Value: "spawn"},
			{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Value: "http://otel-collector.observability.svc:4317"},
			{Name: "OTEL_SERVICE_NAME", Value: "llama-3-8b"},
			{Name: "HUGGING_FACE_HUB_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "hf-token"}, Key: "token",
			}}},
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("48Gi"),
				"nvidia.com/gpu": resource.MustParse("1"),
			},
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Gi"), "nvidia.com/gpu": resource.MustParse("1")},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "model-cache", MountPath: "/models"}, {Name: "shm", MountPath: "/dev/shm"}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString("http")}},
			InitialDelaySeconds: 30, PeriodSeconds: 10, FailureThreshold: 3,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString("http")}},
			InitialDelaySeconds: 120, PeriodSeconds: 30, FailureThreshold: 5,
		},
		StartupProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString("http")}},
			PeriodSeconds:    10,
			FailureThreshold: 60,
		},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false), RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To(int64(1000)),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
}

// VLLMDeployment is a realistic vLLM inference server Deployment in
// namespace "ml", about 4 KB of JSON, with the pod of VLLMPodSpec: the
// object the admission benchmarks and the load command review. ann are its
// annotations (copied), to which an Argo CD tracking id is added.
func VLLMDeployment(ann map[string]string) *appsv1.Deployment {
	labels := map[string]string{
		"app.kubernetes.io/name": "llama-3-8b", "app.kubernetes.io/part-of": "inference",
		"app.kubernetes.io/version": "0.6.3", "team": "ml-platform",
	}
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "llama-3-8b", Namespace: "ml", Labels: labels, Annotations: maps.Clone(ann)},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "llama-3-8b"}},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1)),
				},
			},
		},
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations["argocd.argoproj.io/tracking-id"] = "inference:apps/Deployment:ml/llama-3-8b"
	d.Spec.Template.Labels = maps.Clone(labels)
	d.Spec.Template.Labels["app"] = "llama-3-8b"
	d.Spec.Template.Annotations = map[string]string{
		"prometheus.io/scrape": "true", "prometheus.io/port": "8000", "prometheus.io/path": "/metrics",
		"kubectl.kubernetes.io/default-container": "vllm",
	}
	d.Spec.Template.Spec = VLLMPodSpec()
	return d
}
