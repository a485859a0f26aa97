package mutate

import (
	"encoding/json"
	"maps"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/workload"
)

const testNamespace = "ml"

// container is a small CPU container with requests, so that cpu triggers
// can be rendered.
func container(name string) corev1.Container {
	return corev1.Container{
		Name:  name,
		Image: "registry.example.com/ml/" + name + ":1.0",
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("500m"),
				corev1.ResourceMemory: resource.MustParse("1Gi"),
			},
		},
	}
}

func podTemplate(app string, c ...corev1.Container) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: c},
	}
}

// deployment is an apps/v1 Deployment with the given annotations.
func deployment(name string, ann map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace, Annotations: maps.Clone(ann)},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name, container("worker")),
		},
	}
}

// statefulSet is an apps/v1 StatefulSet with the given annotations.
func statefulSet(name string, ann map[string]string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace, Annotations: maps.Clone(ann)},
		Spec: appsv1.StatefulSetSpec{
			ServiceName: name,
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template:    podTemplate(name, container("worker")),
		},
	}
}

// job is a batch/v1 Job with the given annotations and spec.suspend.
func job(name string, ann map[string]string, suspend *bool) *batchv1.Job {
	tpl := podTemplate(name, container("trainer"))
	tpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace, Annotations: maps.Clone(ann)},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To(int32(2)),
			Suspend:      suspend,
			Template:     tpl,
		},
	}
}

// gpuDeployment is a realistic vLLM inference server Deployment, about 4 KB
// of JSON, requesting one GPU per pod.
func gpuDeployment(ann map[string]string) *appsv1.Deployment {
	d := deployment("llama-3-8b", ann)
	d.Labels = map[string]string{
		"app.kubernetes.io/name": "llama-3-8b", "app.kubernetes.io/part-of": "inference",
		"app.kubernetes.io/version": "0.6.3", "team": "ml-platform",
	}
	d.Spec.Replicas = ptr.To(int32(2))
	d.Spec.Strategy = appsv1.DeploymentStrategy{
		Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1)),
		},
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations["argocd.argoproj.io/tracking-id"] = "inference:apps/Deployment:ml/llama-3-8b"
	d.Spec.Template.Labels = maps.Clone(d.Labels)
	d.Spec.Template.Labels["app"] = "llama-3-8b"
	d.Spec.Template.Annotations = map[string]string{
		"prometheus.io/scrape": "true", "prometheus.io/port": "8000", "prometheus.io/path": "/metrics",
		"kubectl.kubernetes.io/default-container": "vllm",
	}
	d.Spec.Template.Spec = corev1.PodSpec{
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
		Containers: []corev1.Container{{
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
		}, {
			Name:  "metrics-proxy",
			Image: "registry.example.com/ml/metrics-proxy:2.4.1",
			Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9400, Protocol: corev1.ProtocolTCP}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
			},
		}},
	}
	return d
}

// gpuAnnotations opt a GPU inference server in with a gateway query that
// can wake it from zero.
var gpuAnnotations = map[string]string{
	intent.KeyAutoscale:                 "true",
	intent.KeyProfile:                   "vllm",
	intent.KeyMaxReplicas:               "8",
	intent.KeyPrometheusQuery:           `sum(gateway_pending_requests{model="llama-3-8b"})`,
	intent.KeyPrometheusTarget:          "4",
	intent.KeyCooldown:                  "20m",
	"deployment.kubernetes.io/revision": "3",
}

var authnUser = authenticationv1.UserInfo{
	Username: "system:serviceaccount:ml:deployer", UID: "4b7e0a8c-2f0e-4c51-9d6a-0b1f7f3d2c11",
	Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ml", "system:authenticated"},
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshalling %T: %v", v, err)
	}
	return b
}

// request builds the AdmissionRequest the API server would send for obj.
func request(t testing.TB, op admissionv1.Operation, obj runtime.Object) admission.Request {
	t.Helper()
	gvk := obj.GetObjectKind().GroupVersionKind()
	meta, err := metaOf(obj)
	if err != nil {
		t.Fatal(err)
	}
	return rawRequest(op, gvk, meta.GetName(), meta.GetNamespace(), mustJSON(t, obj))
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	type hasMeta interface{ GetObjectMeta() metav1.Object }
	if m, ok := obj.(hasMeta); ok {
		return m.GetObjectMeta(), nil
	}
	return &metav1.ObjectMeta{}, nil
}

func rawRequest(op admissionv1.Operation, gvk schema.GroupVersionKind, name, namespace string, raw []byte) admission.Request {
	resource := map[string]string{
		workload.KindDeployment: "deployments", workload.KindStatefulSet: "statefulsets", workload.KindJob: "jobs",
	}[gvk.Kind]
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "705ab4f5-6393-11e8-b7cc-42010a800002",
		Kind:      metav1.GroupVersionKind(gvk),
		Resource:  metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: resource},
		Name:      name,
		Namespace: namespace,
		Operation: op,
		UserInfo:  authnUser,
		DryRun:    ptr.To(false),
	}}
	if op != admissionv1.Delete {
		req.Object = runtime.RawExtension{Raw: raw}
	} else {
		req.OldObject = runtime.RawExtension{Raw: raw}
	}
	return req
}
