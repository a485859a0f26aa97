// Package workload gives one view over the objects mlscale scales
// (Deployments, StatefulSets, Jobs): identity, annotations, pod template and
// the GPUs each pod requests.
package workload

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kinds mlscale handles.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindJob         = "Job"
)

// LabelKEDAJob is the label KEDA puts on the Jobs a ScaledJob starts (its
// value is the ScaledJob's name). KEDA copies the ScaledJob's labels and
// annotations onto those Jobs too, mlscale's among them: such a Job is
// KEDA's run of a workload, not a workload.
const LabelKEDAJob = "scaledjob.keda.sh/name"

// GroupVersionKinds of the workloads mlscale handles, and of the KEDA
// objects it renders for them.
var (
	DeploymentGVK   = appsv1.SchemeGroupVersion.WithKind(KindDeployment)
	StatefulSetGVK  = appsv1.SchemeGroupVersion.WithKind(KindStatefulSet)
	JobGVK          = batchv1.SchemeGroupVersion.WithKind(KindJob)
	ScaledObjectGVK = kedav1alpha1.SchemeGroupVersion.WithKind("ScaledObject")
	ScaledJobGVK    = kedav1alpha1.SchemeGroupVersion.WithKind("ScaledJob")
)

// Kind is one kind of workload mlscale scales: how to make its objects and
// lists, and which KEDA kind scales it.
type Kind struct {
	// GVK is the workload's group, version and kind.
	GVK schema.GroupVersionKind
	// New returns an empty object of the kind; NewList an empty list.
	New     func() client.Object
	NewList func() client.ObjectList
	// KEDA is the kind of the KEDA object rendered for the workload
	// (ScaledObjectGVK or ScaledJobGVK); NewKEDA returns an empty one,
	// NewKEDAList an empty list of them.
	KEDA        schema.GroupVersionKind
	NewKEDA     func() client.Object
	NewKEDAList func() client.ObjectList
}

// Kinds are the workload kinds mlscale scales, in the order they are
// listed everywhere (admission, reconciler, audit, policies, render). Every
// package that handles "the workloads" ranges over this table.
var Kinds = []Kind{
	{
		GVK:     DeploymentGVK,
		New:     func() client.Object { return &appsv1.Deployment{} },
		NewList: func() client.ObjectList { return &appsv1.DeploymentList{} },
		KEDA:    ScaledObjectGVK, NewKEDA: func() client.Object { return &kedav1alpha1.ScaledObject{} },
		NewKEDAList: func() client.ObjectList { return &kedav1alpha1.ScaledObjectList{} },
	},
	{
		GVK:     StatefulSetGVK,
		New:     func() client.Object { return &appsv1.StatefulSet{} },
		NewList: func() client.ObjectList { return &appsv1.StatefulSetList{} },
		KEDA:    ScaledObjectGVK, NewKEDA: func() client.Object { return &kedav1alpha1.ScaledObject{} },
		NewKEDAList: func() client.ObjectList { return &kedav1alpha1.ScaledObjectList{} },
	},
	{
		GVK:     JobGVK,
		New:     func() client.Object { return &batchv1.Job{} },
		NewList: func() client.ObjectList { return &batchv1.JobList{} },
		KEDA:    ScaledJobGVK, NewKEDA: func() client.Object { return &kedav1alpha1.ScaledJob{} },
		NewKEDAList: func() client.ObjectList { return &kedav1alpha1.ScaledJobList{} },
	},
}

// KindOf returns the workload kind of a group and kind (any version).
func KindOf(gk schema.GroupKind) (Kind, bool) {
	for _, k := range Kinds {
		if k.GVK.GroupKind() == gk {
			return k, true
		}
	}
	return Kind{}, false
}

// Handles reports whether kind ("Deployment", ...) is one of Kinds.
func Handles(kind string) bool {
	return slices.ContainsFunc(Kinds, func(k Kind) bool { return k.GVK.Kind == kind })
}

// KindNames are the names of the workload kinds ("Deployment", ...), in the
// order of Kinds.
func KindNames() []string {
	out := make([]string, len(Kinds))
	for i, k := range Kinds {
		out[i] = k.GVK.Kind
	}
	return out
}

// kindList names the kinds for messages: "apps/v1 Deployment, apps/v1
// StatefulSet and batch/v1 Job".
func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = k.GVK.GroupVersion().String() + " " + k.GVK.Kind
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

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
	return Workload{}, fmt.Errorf("unsupported workload type %T: mlscale handles %s", obj, kindList())
}

// Decode builds a Workload from JSON of the given kind (as found in an
// AdmissionRequest); the GVK decides which type the bytes are decoded into.
func Decode(gvk schema.GroupVersionKind, raw []byte) (Workload, client.Object, error) {
	k, ok := KindOf(gvk.GroupKind())
	if !ok {
		return Workload{}, nil, fmt.Errorf("unsupported kind %s: mlscale handles %s", gvk, kindList())
	}
	obj := k.New()
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

// GPUResourceNames are the extended resources counted as GPU devices: whole
// NVIDIA GPUs, time-sliced NVIDIA GPUs (the device plugin's renamed
// resource) and AMD GPUs.
var GPUResourceNames = []string{"nvidia.com/gpu", "nvidia.com/gpu.shared", "amd.com/gpu"}

// GPUResourcePrefixes are the prefixes of the extended resources counted as
// GPU devices: NVIDIA MIG slices (nvidia.com/mig-1g.10gb, ...).
var GPUResourcePrefixes = []string{"nvidia.com/mig-"}

// UtilisationResourceNames are the GPU resources whose utilisation
// mlscale's collector records, per pod: whole and time-sliced NVIDIA GPUs.
// NVML reports no utilisation for MIG devices, and the collector reads no
// AMD GPU, so a pod that holds only those has no utilisation series.
var UtilisationResourceNames = []string{"nvidia.com/gpu", "nvidia.com/gpu.shared"}

// Measured reports whether mlscale's collector records the utilisation of
// any of g's GPUs (see UtilisationResourceNames).
func (g GPUs) Measured() bool {
	for _, r := range g.Resources {
		if slices.Contains(UtilisationResourceNames, r) {
			return true
		}
	}
	return false
}

// GPUResource reports whether a resource name is a GPU: one of
// GPUResourceNames or a name starting with one of GPUResourcePrefixes.
func GPUResource(name corev1.ResourceName) bool {
	n := string(name)
	if slices.Contains(GPUResourceNames, n) {
		return true
	}
	for _, p := range GPUResourcePrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// GPUs is what one pod of the workload asks for in GPUs.
type GPUs struct {
	// Count is the number of GPU devices (whole GPUs or MIG slices) per pod;
	// math.MaxInt64 when the requests add up to more.
	Count int64
	// Resources lists the GPU resource names requested, sorted.
	Resources []string
}

// GPUsPerPod counts the GPUs one pod holds, as the scheduler counts them:
// the regular containers and the sidecars (init containers with
// restartPolicy Always, which run beside them) add up; an init container
// that runs to completion runs beside the sidecars started before it, and
// the pod needs the largest of these moments. Sums saturate at
// math.MaxInt64 rather than wrap around.
func (w Workload) GPUsPerPod() GPUs {
	res := map[string]bool{}
	count := func(c corev1.Container) int64 {
		var n int64
		for name, q := range mergedGPU(c.Resources) {
			res[string(name)] = true
			n = SaturatingAdd(n, devices(q))
		}
		return n
	}
	var sidecars, peakInit int64
	for _, c := range w.Template.Spec.InitContainers {
		n := count(c)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars = SaturatingAdd(sidecars, n)
			continue
		}
		peakInit = max(peakInit, SaturatingAdd(sidecars, n))
	}
	running := sidecars
	for _, c := range w.Template.Spec.Containers {
		running = SaturatingAdd(running, count(c))
	}
	g := GPUs{Count: max(running, peakInit)}
	for r := range res {
		g.Resources = append(g.Resources, r)
	}
	slices.Sort(g.Resources)
	return g
}

// GPUFields returns the parts of a pod spec that GPUsPerPod reads: the
// containers' GPU requests and limits and the init containers' order and
// restart policies; a pod without GPUs gives an empty spec. Caches keep this
// much of the workloads they otherwise strip.
func GPUFields(spec corev1.PodSpec) corev1.PodSpec {
	keep := func(c corev1.Container) corev1.Container {
		k := corev1.Container{Name: c.Name, RestartPolicy: c.RestartPolicy}
		for name, q := range c.Resources.Requests {
			if GPUResource(name) {
				if k.Resources.Requests == nil {
					k.Resources.Requests = corev1.ResourceList{}
				}
				k.Resources.Requests[name] = q
			}
		}
		for name, q := range c.Resources.Limits {
			if GPUResource(name) {
				if k.Resources.Limits == nil {
					k.Resources.Limits = corev1.ResourceList{}
				}
				k.Resources.Limits[name] = q
			}
		}
		return k
	}
	if (Workload{Template: corev1.PodTemplateSpec{Spec: spec}}).GPUsPerPod().Count == 0 {
		return corev1.PodSpec{}
	}
	var out corev1.PodSpec
	for _, c := range spec.InitContainers {
		out.InitContainers = append(out.InitContainers, keep(c))
	}
	for _, c := range spec.Containers {
		out.Containers = append(out.Containers, keep(c))
	}
	return out
}

// PodsPerReplica is how many pods one replica runs at once: a Job's
// parallelism (1 when unset), or its completions when fewer, since the Job
// controller never runs more pods than completions remain; 1 for the other
// kinds.
func (w Workload) PodsPerReplica() int64 {
	if w.Job == nil || w.Job.Parallelism == nil || *w.Job.Parallelism <= 0 {
		return 1
	}
	pods := *w.Job.Parallelism
	if c := w.Job.Completions; c != nil && *c > 0 && *c < pods {
		pods = *c
	}
	return int64(pods)
}

// JobFinished reports whether a Job with this status has completed or
// failed: a completion time, or a Complete or Failed condition that is
// true.
func JobFinished(st batchv1.JobStatus) bool {
	if st.CompletionTime != nil {
		return true
	}
	for _, c := range st.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// SaturatingAdd adds non-negative counts, giving math.MaxInt64 instead of
// overflowing.
func SaturatingAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// SaturatingMul multiplies non-negative counts, giving math.MaxInt64
// instead of overflowing.
func SaturatingMul(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// devices is a GPU quantity as a device count: rounded up, never negative,
// math.MaxInt64 when it does not fit an int64.
func devices(q resource.Quantity) int64 {
	if q.CmpInt64(math.MaxInt64) > 0 {
		return math.MaxInt64
	}
	return max(0, q.Value())
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

// ContainersMissingRequest lists the containers without a request (or
// limit, which defaults the request) for the resource, as the HPA counts
// them for a utilisation target: the regular containers and the sidecars
// (init containers with restartPolicy Always). With a pod-level request or
// limit (spec.resources) the HPA uses that instead, and none is missing.
func (w Workload) ContainersMissingRequest(name corev1.ResourceName) []string {
	spec := w.Template.Spec
	if spec.Resources != nil && hasRequest(*spec.Resources, name) {
		return nil
	}
	var missing []string
	for _, c := range UtilisationContainers(spec) {
		if !hasRequest(c.Resources, name) {
			missing = append(missing, c.Name)
		}
	}
	return missing
}

// HasUtilisationRequest reports whether the HPA can compute a utilisation
// of the resource for the pods: no container misses a request and they do
// not add up to 0.
func (w Workload) HasUtilisationRequest(name corev1.ResourceName) bool {
	return w.ContainersMissingRequest(name) == nil && !w.RequestIsZero(name)
}

// RequestIsZero reports whether the pod's request for the resource, as the
// HPA sums it (ContainersMissingRequest), is zero: a utilisation of it
// cannot be computed.
func (w Workload) RequestIsZero(name corev1.ResourceName) bool {
	spec := w.Template.Spec
	if spec.Resources != nil && hasRequest(*spec.Resources, name) {
		q := request(*spec.Resources, name)
		return q.IsZero()
	}
	for _, c := range UtilisationContainers(spec) {
		if q := request(c.Resources, name); !q.IsZero() {
			return false
		}
	}
	return true
}

// UtilisationContainers are the containers whose requests the HPA sums for
// a utilisation target: the regular ones and the sidecars (init containers
// with restartPolicy Always).
func UtilisationContainers(spec corev1.PodSpec) []corev1.Container {
	out := slices.Clone(spec.Containers)
	for _, c := range spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out = append(out, c)
		}
	}
	return out
}

func hasRequest(r corev1.ResourceRequirements, name corev1.ResourceName) bool {
	_, req := r.Requests[name]
	_, lim := r.Limits[name]
	return req || lim
}

// request is the request for the resource, or the limit that defaults it.
func request(r corev1.ResourceRequirements, name corev1.ResourceName) resource.Quantity {
	if q, ok := r.Requests[name]; ok {
		return q
	}
	return r.Limits[name]
}
