package render_test

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
)

// benchDeployment is a realistic GPU inference Deployment of about 4 KB as
// JSON: a vLLM server, a metrics sidecar and an init container that fetches
// the model, with env, probes, volumes and resources, and a full set of
// mlscale annotations.
func benchDeployment() *appsv1.Deployment {
	labels := map[string]string{"app.kubernetes.io/name": "llm-server", "app.kubernetes.io/part-of": "ml-demo", "app.kubernetes.io/version": "v0.11.0"}
	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}},
			PeriodSeconds:    period,
			FailureThreshold: failures,
		}
	}
	rl := func(kv ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i+1 < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	return &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "llm-server", Namespace: "ml-demo", Labels: labels,
			Annotations: map[string]string{
				intent.KeyAutoscale:        "true",
				intent.KeyProfile:          "vllm",
				intent.KeyScaleToZero:      "true",
				intent.KeyMaxReplicas:      "8",
				intent.KeyPrometheusQuery:  `sum(gateway_pending_requests{namespace="ml-demo",backend="llm-server"})`,
				intent.KeyPrometheusTarget: "8",
				intent.KeyRabbitMQQueue:    "batch-prompts",
				intent.KeyRabbitMQHost:     "rabbitmq",
				intent.KeyRabbitMQAuth:     "rabbitmq-auth",
				intent.KeyCooldown:         "20m",
				intent.KeyPredictedFloor:   "1",
			},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "llm-server"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "8000"}},
				Spec: corev1.PodSpec{
					ServiceAccountName:            "llm-server",
					TerminationGracePeriodSeconds: ptr.To(int64(60)),
					PriorityClassName:             "inference-high",
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
							Weight: 100,
							PodAffinityTerm: corev1.PodAffinityTerm{
								TopologyKey:   "kubernetes.io/hostname",
								LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "llm-server"}},
							},
						}},
					}},
					InitContainers: []corev1.Container{{
						Name: "fetch-model", Image: "docker.io/library/python:3.12-slim",
						Command:      []string{"huggingface-cli", "download", "Qwen/Qwen2.5-7B-Instruct", "--local-dir", "/models/qwen"},
						Env:          []corev1.EnvVar{{Name: "HF_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "hf-token"}, Key: "token"}}}},
						Resources:    corev1.ResourceRequirements{Requests: rl("cpu", "1", "memory", "2Gi")},
						VolumeMounts: []corev1.VolumeMount{{Name: "models", MountPath: "/models"}},
					}},
					Containers: []corev1.Container{
						{
							Name: "vllm", Image: "docker.io/vllm/vllm-openai:v0.11.0",
							Args:  []string{"--model", "/models/qwen", "--served-model-name", "qwen2.5-7b", "--port", "8000", "--gpu-memory-utilization", "0.90", "--max-model-len", "16384", "--tensor-parallel-size", "2"},
							Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}},
							Env: []corev1.EnvVar{
								{Name: "VLLM_LOGGING_LEVEL", Value: "INFO"},
								{Name: "NCCL_DEBUG", Value: "WARN"},
								{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
								{Name: "HF_HOME", Value: "/models/.cache"},
								{Name: "VLLM_ATTENTION_BACKEND", Value: "FLASHINFER"},
								{Name: "VLLM_USAGE_STATS_SERVER", Value: ""},
								{Name: "VLLM_NO_USAGE_STATS", Value: "1"},
								{Name: "OMP_NUM_THREADS", Value: "8"},
								{Name: "CUDA_DEVICE_ORDER", Value: "PCI_BUS_ID"},
								{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Value: "http://otel-collector.monitoring.svc:4317"},
								{Name: "OTEL_SERVICE_NAME", Value: "llm-server"},
							},
							Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "sleep 15"}}}},
							SecurityContext: &corev1.SecurityContext{
								AllowPrivilegeEscalation: ptr.To(false),
								RunAsNonRoot:             ptr.To(true),
								Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							},
							Resources: corev1.ResourceRequirements{
								Requests: rl("cpu", "8", "memory", "48Gi", "nvidia.com/gpu", "2"),
								Limits:   rl("memory", "48Gi", "nvidia.com/gpu", "2"),
							},
							ReadinessProbe: probe("/health", 10, 3),
							LivenessProbe:  probe("/health", 30, 5),
							StartupProbe:   probe("/health", 10, 90),
							VolumeMounts: []corev1.VolumeMount{
								{Name: "models", MountPath: "/models"},
								{Name: "shm", MountPath: "/dev/shm"},
								{Name: "config", MountPath: "/etc/vllm", ReadOnly: true},
							},
						},
						{
							Name: "metrics-proxy", Image: "docker.io/prom/statsd-exporter:v0.28.0",
							Ports:          []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9102}},
							Resources:      corev1.ResourceRequirements{Requests: rl("cpu", "50m", "memory", "64Mi"), Limits: rl("memory", "128Mi")},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9102)}}},
						},
					},
					Tolerations:  []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					NodeSelector: map[string]string{"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
					Volumes: []corev1.Volume{
						{Name: "models", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(resource.MustParse("100Gi"))}}},
						{Name: "shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("16Gi"))}}},
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "vllm-config"}}}},
					},
				},
			},
		},
	}
}

func benchJSON(b *testing.B) []byte {
	raw, err := json.Marshal(benchDeployment())
	if err != nil {
		b.Fatal(err)
	}
	if len(raw) < 3500 || len(raw) > 5000 {
		b.Fatalf("benchmark Deployment is %d bytes of JSON, want about 4 KB", len(raw))
	}
	return raw
}

// BenchmarkParseRender measures the pure core of admission: parsing the
// annotations and rendering the ScaledObject of a decoded GPU Deployment.
func BenchmarkParseRender(b *testing.B) {
	raw := benchJSON(b)
	w, _, err := workload.Decode(workload.DeploymentGVK, raw)
	if err != nil {
		b.Fatal(err)
	}
	facts := facts.Default()
	if _, err := render.Workload(w, facts); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := render.Workload(w, facts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeParseRender adds decoding the Deployment from JSON, as
// admission receives it.
func BenchmarkDecodeParseRender(b *testing.B) {
	raw := benchJSON(b)
	facts := facts.Default()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		w, _, err := workload.Decode(workload.DeploymentGVK, raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := render.Workload(w, facts); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBenchDeploymentRenders keeps the benchmark input honest: it renders
// without error and to a valid ScaledObject.
func TestBenchDeploymentRenders(t *testing.T) {
	raw, err := json.Marshal(benchDeployment())
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := workload.Decode(workload.DeploymentGVK, raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := render.Workload(w, facts.Default())
	if err != nil {
		t.Fatal(err)
	}
	validateKEDA(t, res.Object)
	t.Logf("benchmark Deployment: %d bytes of JSON, warnings %q", len(raw), res.Warnings)
}
