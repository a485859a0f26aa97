package native

import (
	"fmt"
	"slices"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// This file is the Go form of mlscale.lib (policies/lib/lib.rego). Where a
// Rego rule is undefined (a missing name makes object_key undefined, and
// with it the whole violation), the Go function returns false.

// Kinds of the objects the policies read.
const (
	kindHPA          = "HorizontalPodAutoscaler"
	kindScaledObject = "ScaledObject"
	kindScaledJob    = "ScaledJob"
	kindDeployment   = "Deployment"
)

// kindOf is the kind the Rego input gives obj: Input.Kind for the object
// under review, the type's kind for the others (every object in the input
// carries apiVersion and kind).
func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler:
		return kindHPA
	case *kedav1alpha1.ScaledObject:
		return kindScaledObject
	case *kedav1alpha1.ScaledJob:
		return kindScaledJob
	}
	return obj.GetObjectKind().GroupVersionKind().Kind
}

// objectKey is lib.object_key: "Kind namespace/name"; false when the
// object has no name.
func objectKey(kind string, obj client.Object) (string, bool) {
	if obj.GetName() == "" {
		return "", false
	}
	return fmt.Sprintf("%s %s/%s", kind, obj.GetNamespace(), obj.GetName()), true
}

// isWorkload reports whether the review's kind is one of
// data.workload_kinds.
func (in *Input) isWorkload() bool { return slices.Contains(in.WorkloadKinds, in.Kind) }

// subject is lib.subject: the object under review, with "(mlscale.io/autoscale
// opt-in)" for a workload.
func (in *Input) subject() (string, bool) {
	key, ok := objectKey(in.Kind, in.Object)
	if !ok {
		return "", false
	}
	if in.isWorkload() {
		return key + " (mlscale.io/autoscale opt-in)", true
	}
	return key, true
}

// ref is a scale target reference as the policies read it: kindSet is
// false when the reference has no kind key (KEDA's omits an empty kind,
// an HPA's always has one).
type ref struct {
	name, kind, apiVersion string
	kindSet                bool
}

// hpaRef is an HPA's spec.scaleTargetRef.
func hpaRef(h *autoscalingv2.HorizontalPodAutoscaler) ref {
	r := h.Spec.ScaleTargetRef
	return ref{name: r.Name, kind: r.Kind, apiVersion: r.APIVersion, kindSet: true}
}

// soRef is a ScaledObject's spec.scaleTargetRef; false when it has none.
func soRef(so *kedav1alpha1.ScaledObject) (ref, bool) {
	r := so.Spec.ScaleTargetRef
	if r == nil {
		return ref{}, false
	}
	return ref{name: r.Name, kind: r.Kind, apiVersion: r.APIVersion, kindSet: r.Kind != ""}, true
}

// targetKind is lib.target_kind: the reference's kind, Deployment when it
// has none.
func (r ref) targetKind() string {
	if !r.kindSet {
		return kindDeployment
	}
	return r.kind
}

// targetKey is lib.target_key: "Kind namespace/name" in the review's
// namespace.
func (in *Input) targetKey(r ref) string {
	return fmt.Sprintf("%s %s/%s", r.targetKind(), in.Namespace, r.name)
}

// targetGroup is lib.target_group: the API group of the reference's
// apiVersion, else the group of the well-known kinds, else "".
func (r ref) targetGroup() string {
	if r.apiVersion != "" {
		group, _, found := strings.Cut(r.apiVersion, "/")
		if !found {
			return ""
		}
		return group
	}
	switch r.targetKind() {
	case "Deployment", "StatefulSet", "ReplicaSet":
		return "apps"
	case "Job":
		return "batch"
	}
	return ""
}

// sameTarget is lib.same_target.
func sameTarget(a, b ref) bool {
	return a.name == b.name && a.targetKind() == b.targetKind() && a.targetGroup() == b.targetGroup()
}

// reviewHPA is lib.review_hpa.
func (in *Input) reviewHPA() (*autoscalingv2.HorizontalPodAutoscaler, bool) {
	h, ok := in.Object.(*autoscalingv2.HorizontalPodAutoscaler)
	return h, ok && in.Kind == kindHPA
}

// reviewScaledObject is lib.review_scaled_object: the ScaledObject under
// review, or the one rendered for an opted-in workload.
func (in *Input) reviewScaledObject() (*kedav1alpha1.ScaledObject, bool) {
	if in.Kind == kindScaledObject {
		so, ok := in.Object.(*kedav1alpha1.ScaledObject)
		return so, ok
	}
	if in.isWorkload() {
		so, ok := in.Rendered.(*kedav1alpha1.ScaledObject)
		return so, ok
	}
	return nil, false
}

// reviewScaledJob is lib.review_scaled_job.
func (in *Input) reviewScaledJob() (*kedav1alpha1.ScaledJob, bool) {
	if in.Kind == kindScaledJob {
		sj, ok := in.Object.(*kedav1alpha1.ScaledJob)
		return sj, ok
	}
	if in.isWorkload() {
		sj, ok := in.Rendered.(*kedav1alpha1.ScaledJob)
		return sj, ok
	}
	return nil, false
}

// kedaObject is one of lib.review_keda_objects.
type kedaObject struct {
	obj      client.Object
	kind     string
	triggers []kedav1alpha1.ScaleTriggers
	// min and max are spec.minReplicaCount and spec.maxReplicaCount; nil
	// when unset.
	min, max *int32
}

// reviewKEDAObjects is lib.review_keda_objects: the ScaledObject or
// ScaledJob under review or rendered for the workload (at most one).
func (in *Input) reviewKEDAObjects() []kedaObject {
	if so, ok := in.reviewScaledObject(); ok {
		return []kedaObject{{obj: so, kind: kindScaledObject, triggers: so.Spec.Triggers, min: so.Spec.MinReplicaCount, max: so.Spec.MaxReplicaCount}}
	}
	if sj, ok := in.reviewScaledJob(); ok {
		return []kedaObject{{obj: sj, kind: kindScaledJob, triggers: sj.Spec.Triggers, min: sj.Spec.MinReplicaCount, max: sj.Spec.MaxReplicaCount}}
	}
	return nil
}

// inventoryHPAs is lib.inventory_hpas: the inventory's HPAs but the
// object under review.
func (in *Input) inventoryHPAs() []*autoscalingv2.HorizontalPodAutoscaler {
	out := make([]*autoscalingv2.HorizontalPodAutoscaler, 0, len(in.HPAs))
	for i := range in.HPAs {
		h := &in.HPAs[i]
		if in.sameObject(kindHPA, h) {
			continue
		}
		out = append(out, h)
	}
	return out
}

// inventoryScaledObjects is lib.inventory_scaled_objects: the inventory's
// ScaledObjects but the one under review and the one rendered for it.
func (in *Input) inventoryScaledObjects() []*kedav1alpha1.ScaledObject {
	out := make([]*kedav1alpha1.ScaledObject, 0, len(in.ScaledObjects))
	for i := range in.ScaledObjects {
		so := &in.ScaledObjects[i]
		if in.sameObject(kindScaledObject, so) || in.sameRendered(so) {
			continue
		}
		out = append(out, so)
	}
	return out
}

// sameObject is lib.same_object(obj, input.object).
func (in *Input) sameObject(kind string, obj client.Object) bool {
	return kind == in.Kind && in.Object.GetName() != "" && obj.GetName() == in.Object.GetName()
}

// sameRendered is lib.same_rendered(so).
func (in *Input) sameRendered(so *kedav1alpha1.ScaledObject) bool {
	if in.Rendered == nil {
		return false
	}
	return kindOf(in.Rendered) == kindScaledObject && in.Rendered.GetName() != "" && so.Name == in.Rendered.GetName()
}

// ownedByScaledObject is lib.owned_by_scaled_object.
func ownedByScaledObject(obj client.Object, name string) bool {
	for _, r := range obj.GetOwnerReferences() {
		if r.Kind == kindScaledObject && strings.HasPrefix(r.APIVersion, "keda.sh/") && r.Name == name {
			return true
		}
	}
	return false
}

// hpaConfigName is spec.advanced.horizontalPodAutoscalerConfig.name; false
// when absent.
func hpaConfigName(so *kedav1alpha1.ScaledObject) (string, bool) {
	a := so.Spec.Advanced
	if a == nil || a.HorizontalPodAutoscalerConfig == nil || a.HorizontalPodAutoscalerConfig.Name == "" {
		return "", false
	}
	return a.HorizontalPodAutoscalerConfig.Name, true
}

// kedaHPAName is lib.keda_hpa_name: the HPA KEDA makes for so; false
// when so has neither a configured HPA name nor a name.
func kedaHPAName(so *kedav1alpha1.ScaledObject) (string, bool) {
	if name, ok := hpaConfigName(so); ok {
		return name, true
	}
	if so.Name == "" {
		return "", false
	}
	return "keda-hpa-" + so.Name, true
}

// kedaOwnsHPA is lib.keda_owns_hpa.
func kedaOwnsHPA(so *kedav1alpha1.ScaledObject, h *autoscalingv2.HorizontalPodAutoscaler) bool {
	if name, ok := kedaHPAName(so); ok && h.Name == name && so.Name != "" && ownedByScaledObject(h, so.Name) {
		return true
	}
	return transfersHPA(so, h.Name)
}

// transfersHPA is lib.transfers_hpa: so takes over the HPA named name with
// KEDA's ownership transfer.
func transfersHPA(so *kedav1alpha1.ScaledObject, name string) bool {
	n, ok := hpaConfigName(so)
	return ok && so.Annotations["scaledobject.keda.sh/transfer-hpa-ownership"] == "true" && n == name
}

// trigger is one of lib.triggers.
type trigger struct {
	owner   client.Object
	ownerKd string
	t       *kedav1alpha1.ScaleTriggers
	index   int
}

// triggers is lib.triggers: every trigger of the KEDA object under review
// or rendered for the workload.
func (in *Input) triggers() []trigger {
	var out []trigger
	for _, o := range in.reviewKEDAObjects() {
		for i := range o.triggers {
			out = append(out, trigger{owner: o.obj, ownerKd: o.kind, t: &o.triggers[i], index: i})
		}
	}
	return out
}

// ref is lib.trigger_ref: the trigger's quoted name, or its position.
func (e trigger) ref() string {
	if e.t.Name != "" {
		return fmt.Sprintf("%q", e.t.Name)
	}
	return fmt.Sprintf("spec.triggers[%d]", e.index)
}

// ownerKey is lib.object_key(e.owner).
func (e trigger) ownerKey() (string, bool) { return objectKey(e.ownerKd, e.owner) }

// gpuResource is lib.gpu_resource.
func (in *Input) gpuResource(name string) bool {
	if slices.Contains(in.GPUResourceNames, name) {
		return true
	}
	for _, p := range in.GPUResourcePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// gpuQuotaKey is lib.gpu_quota_key.
func (in *Input) gpuQuotaKey(key string) bool {
	return in.gpuResource(strings.TrimPrefix(key, "requests."))
}
