// Package workload gives one view over the objects mlscale scales
// (Deployments, StatefulSets, Jobs): identity, annotations, pod template and
// the GPUs each pod requests.
package workload

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Kinds mlscale handles.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindJob         = "Job"
)

// GroupVersionKinds of the workloads mlscale handles.
var (
	DeploymentGVK  = appsv1.SchemeGroupVersion.WithKind(KindDeployment)
	StatefulSetGVK = appsv1.SchemeGroupVersion.WithKind(KindStatefulSet)
	JobGVK         = batchv1.SchemeGroupVersion.WithKind(KindJob)
)

// Workload is the part of a Deployment, StatefulSet or Job that rendering needs.
type Workload struct {
	// GVK is the workload's group, version and kind.
	GVK schema.GroupVersionKind
	// Name, Namespace and UID identify the workload; UID is empty at CREATE
	// admission.
	Name, Namespace string
	UID             types.UID
	// Labels and Annotations are the workload's metadata.
	Labels, Annotations map[string]string
	// Template is the pod template.
	Template corev1.PodTemplateSpec
	// Job is the Job spec; nil unless GVK is a Job.
	Job *batchv1.JobSpec
}

// FromObject builds a Workload from a typed Deployment, StatefulSet or Job.
func FromObject(obj any) (Workload, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return newWorkload(DeploymentGVK, o.ObjectMeta, o.Spec.Template, nil), nil
	case *appsv1.StatefulSet:
		return newWorkload(StatefulSetGVK, o.ObjectMeta, o.Spec.Template, nil), nil
	case *batchv1.Job:
		spec := o.Spec.DeepCopy()
		return newWorkload(JobGVK, o.ObjectMeta, o.Spec.Template, spec), nil
	}
	return Workload{}, fmt.Errorf("unsupported workload type %T: mlscale handles Deployments, StatefulSets and Jobs", obj)
}

// Decode builds a Workload from JSON of the given kind (as found in an
// AdmissionRequest); the GVK decides which type the bytes are decoded into.
func Decode(gvk schema.GroupVersionKind, raw []byte) (Workload, any, error) {
	var obj any
	switch gvk.GroupKind() {
	case DeploymentGVK.GroupKind():
		obj = &appsv1.Deployment{}
	case StatefulSetGVK.GroupKind():
		obj = &appsv1.StatefulSet{}
	case JobGVK.GroupKind():
		obj = &batchv1.Job{}
	default:
		return Workload{}, nil, fmt.Errorf("unsupported kind %s: mlscale handles apps/v1 Deployment, apps/v1 StatefulSet and batch/v1 Job", gvk)
	}
	if len(raw) == 0 {
		return Workload{}, nil, fmt.Errorf("decoding %s: empty object", gvk.Kind)
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		return Workload{}, nil, fmt.Errorf("decoding %s: %w", gvk.Kind, err)
	}
	w, err := FromObject(obj)
	return w, obj, err
}

func newWorkload(gvk schema.GroupVersionKind, meta metav1.ObjectMeta, tpl corev1.PodTemplateSpec, job *batchv1.JobSpec) Workload {
	return Workload{
		GVK: gvk, Name: meta.Name, Namespace: meta.Namespace, UID: meta.UID,
		Labels: meta.Labels, Annotations: meta.Annotations, Template: tpl, Job: job,
	}
}

// GPUResource reports whether a resource name is a GPU: nvidia.com/gpu,
// a MIG slice (nvidia.com/mig-*), or amd.com/gpu.
func GPUResource(name corev1.ResourceName) bool {
	n := string(name)
	return n == "nvidia.com/gpu" || strings.HasPrefix(n, "nvidia.com/mig-") || n == "amd.com/gpu"
}

// GPUs is what one pod of the workload asks for in GPUs.
type GPUs struct {
	// Count is the number of GPU devices (whole GPUs or MIG slices) per pod.
	Count int64
	// Resources lists the GPU resource names requested, sorted.
	Resources []string
}

// GPUsPerPod sums the GPU limits (or requests) over the regular containers;
// init containers run before and are counted as the maximum with the rest,
// as the scheduler does.
func (w Workload) GPUsPerPod() GPUs {
	res := map[string]bool{}
	sum := func(cs []corev1.Container) int64 {
		var n int64
		for _, c := range cs {
			for name, q := range mergedGPU(c.Resources) {
				res[string(name)] = true
				n += q.Value()
			}
		}
		return n
	}
	count := sum(w.Template.Spec.Containers)
	for _, c := range w.Template.Spec.InitContainers {
		var n int64
		for name, q := range mergedGPU(c.Resources) {
			res[string(name)] = true
			n += q.Value()
		}
		count = max(count, n)
	}
	g := GPUs{Count: count}
	for r := range res {
		g.Resources = append(g.Resources, r)
	}
	slices.Sort(g.Resources)
	return g
}

func mergedGPU(r corev1.ResourceRequirements) map[corev1.ResourceName]resource.Quantity {
	out := map[corev1.ResourceName]resource.Quantity{}
	for name, q := range r.Requests {
		if GPUResource(name) {
			out[name] = q
		}
	}
	for name, q := range r.Limits {
		if GPUResource(name) {
			out[name] = q
		}
	}
	return out
}

// ContainersMissingRequest lists the regular containers without a request
// (or limit, which defaults the request) for the resource.
func (w Workload) ContainersMissingRequest(name corev1.ResourceName) []string {
	var missing []string
	for _, c := range w.Template.Spec.Containers {
		_, req := c.Resources.Requests[name]
		_, lim := c.Resources.Limits[name]
		if !req && !lim {
			missing = append(missing, c.Name)
		}
	}
	return missing
}
