package manager

import (
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/workload"
)

func TestCacheTransform(t *testing.T) {
	managed := []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	plain := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "w", Generation: 1}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)}}
	plain.ManagedFields = managed
	annotated := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "w", Generation: 1, Annotations: map[string]string{intent.KeyAutoscale: "true"}}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)}}
	annotated.ManagedFields = managed
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "w", Generation: 1}, Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](2)}}

	for _, o := range []any{plain, annotated, job} {
		if _, err := CacheTransform(o); err != nil {
			t.Fatal(err)
		}
	}
	if plain.Spec.Replicas != nil || plain.ManagedFields != nil || plain.Name != "w" {
		t.Errorf("unannotated Deployment not reduced to metadata: %+v", plain)
	}
	if annotated.Spec.Replicas == nil || annotated.ManagedFields != nil {
		t.Errorf("annotated Deployment: spec must stay, managedFields go: %+v", annotated)
	}
	if job.Spec.Parallelism != nil {
		t.Errorf("unannotated Job keeps its spec")
	}
	// Tombstones and other values pass through.
	if v, err := CacheTransform("tombstone"); err != nil || v != "tombstone" {
		t.Errorf("CacheTransform(non-object) = %v, %v", v, err)
	}
}

func TestCacheTransformKeepsGPUs(t *testing.T) {
	gpu := corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("2")}
	pod := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "proxy", Image: "proxy:1", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways), Resources: corev1.ResourceRequirements{Limits: gpu}}},
		Containers: []corev1.Container{{
			Name: "llm", Image: "vllm:1", Env: []corev1.EnvVar{{Name: "A", Value: "b"}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1"), "cpu": resource.MustParse("4")}},
		}},
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Template: corev1.PodTemplateSpec{Spec: pod}}}
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j"}, Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](4), Template: corev1.PodTemplateSpec{Spec: *pod.DeepCopy()}}}
	for _, o := range []any{d, j} {
		if _, err := CacheTransform(o); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []client.Object{d, j} {
		w, err := workload.FromObject(o)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.GPUsPerPod().Count; got != 3 {
			t.Errorf("%s: GPUsPerPod after the transform = %d, want 3 (sidecar 2 + main 1)", o.GetName(), got)
		}
		c := w.Template.Spec.Containers[0]
		if c.Image != "" || c.Env != nil || c.Resources.Limits.Cpu().Value() != 0 {
			t.Errorf("%s: the transform keeps more than the GPU fields: %+v", o.GetName(), c)
		}
	}
	if d.Spec.Replicas != nil {
		t.Error("the transform keeps the Deployment's replicas")
	}
	if ptr.Deref(j.Spec.Parallelism, 0) != 4 {
		t.Errorf("the transform drops a GPU Job's parallelism: %v", j.Spec.Parallelism)
	}
}

func TestCacheTransformDropsWhatIsNotRead(t *testing.T) {
	lastApplied := func(extra map[string]string) map[string]string {
		m := map[string]string{LastAppliedAnnotation: `{"a":"whole copy"}`, "team": "ml"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "d", Annotations: lastApplied(map[string]string{intent.KeyAutoscale: "true"})},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)},
		Status:     appsv1.DeploymentStatus{Replicas: 3, Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable}}},
	}
	so := &kedav1alpha1.ScaledObject{
		ObjectMeta: metav1.ObjectMeta{Name: "so", Annotations: lastApplied(nil)},
		Spec:       kedav1alpha1.ScaledObjectSpec{ScaleTargetRef: &kedav1alpha1.ScaleTarget{Name: "d"}},
		Status:     kedav1alpha1.ScaledObjectStatus{HpaName: "keda-hpa-so", ExternalMetricNames: []string{"s0-prometheus"}},
	}
	sj := &kedav1alpha1.ScaledJob{Spec: kedav1alpha1.ScaledJobSpec{MaxReplicaCount: ptr.To[int32](4)}, Status: kedav1alpha1.ScaledJobStatus{LastActiveTime: &metav1.Time{}}}
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "h", Annotations: lastApplied(nil)},
		Spec:       autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 5},
		Status:     autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2},
	}
	q := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "q", Annotations: lastApplied(nil)},
		Status:     corev1.ResourceQuotaStatus{Used: corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse("1")}},
	}
	for _, o := range []any{d, so, sj, h, q} {
		if _, err := CacheTransform(o); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []client.Object{d, so, h, q} {
		if _, ok := o.GetAnnotations()[LastAppliedAnnotation]; ok || o.GetAnnotations()["team"] != "ml" {
			t.Errorf("%s: annotations %v, want the last-applied copy gone and the rest kept", o.GetName(), o.GetAnnotations())
		}
	}
	if d.Spec.Replicas == nil || d.Status.Replicas != 0 || d.Status.Conditions != nil || d.Annotations[intent.KeyAutoscale] != "true" {
		t.Errorf("annotated Deployment: %+v", d)
	}
	if so.Spec.ScaleTargetRef == nil || so.Status.HpaName != "" || so.Status.ExternalMetricNames != nil {
		t.Errorf("ScaledObject: spec must stay, status go: %+v", so)
	}
	if sj.Spec.MaxReplicaCount == nil || sj.Status.LastActiveTime != nil {
		t.Errorf("ScaledJob: spec must stay, status go: %+v", sj)
	}
	if h.Spec.MaxReplicas != 5 || h.Status.CurrentReplicas != 0 {
		t.Errorf("HPA: spec must stay, status go: %+v", h)
	}
	if q.Status.Used == nil {
		t.Error("the ResourceQuota's status is read (facts) and must stay")
	}
}
