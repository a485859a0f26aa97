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
	"github.com/mlscale/mlscale/webhook/reviewtest"
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

// kedaRun labels j as KEDA labels the Jobs a ScaledJob starts.
func kedaRun(j *batchv1.Job) *batchv1.Job {
	j.Labels = map[string]string{workload.LabelKEDAJob: "train", "app.kubernetes.io/managed-by": "mlscale"}
	return j
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
	d.Spec.Template.Spec = reviewtest.VLLMPodSpec()
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

// updateJob is an UPDATE of Job j (as sent, with the status it carries)
// whose stored object, the old one, is j with status stored.
func updateJob(t testing.TB, j *batchv1.Job, stored batchv1.JobStatus) admission.Request {
	t.Helper()
	r := request(t, admissionv1.Update, j)
	old := j.DeepCopy()
	old.Status = stored
	r.OldObject.Raw = mustJSON(t, old)
	return r
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
