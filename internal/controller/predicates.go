package controller

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
)

// HasAnnotations reports whether an object carries any mlscale.io/
// annotation: the workloads the reconciler looks at.
func HasAnnotations(obj client.Object) bool {
	for k := range obj.GetAnnotations() {
		if strings.HasPrefix(k, intent.Prefix) {
			return true
		}
	}
	return false
}

// workloadPredicate passes workloads with mlscale.io/ annotations (before or
// after an update) whose generation or annotations changed. Deletions pass
// nothing: garbage collection removes the KEDA object with its owner.
func workloadPredicate() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return HasAnnotations(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			if !HasAnnotations(e.ObjectOld) && !HasAnnotations(e.ObjectNew) {
				return false
			}
			return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
				!equality.Semantic.DeepEqual(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations())
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(e event.GenericEvent) bool { return HasAnnotations(e.Object) },
	}
}

// ownedPredicate passes changes to a KEDA object that matter to its owner:
// creation (a resync or a restart), deletion, and changes of spec, labels,
// annotations or owners; KEDA's status updates are dropped.
func ownedPredicate() predicate.Predicate {
	return predicate.Or(
		predicate.GenerationChangedPredicate{},
		predicate.LabelChangedPredicate{},
		predicate.AnnotationChangedPredicate{},
		predicate.Funcs{
			CreateFunc:  func(event.CreateEvent) bool { return false },
			DeleteFunc:  func(event.DeleteEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return false },
			UpdateFunc: func(e event.UpdateEvent) bool {
				return !equality.Semantic.DeepEqual(e.ObjectOld.GetOwnerReferences(), e.ObjectNew.GetOwnerReferences())
			},
		},
	)
}

// foreignDeletedPredicate passes deletions of KEDA objects whose controller
// is not a workload of the given kind (hand-written ones, or another kind's
// of the same name): their name may be what a workload of this kind waits
// for. The owned ones are watched by ownedPredicate.
func foreignDeletedPredicate(owner schema.GroupVersionKind) predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		DeleteFunc: func(e event.DeleteEvent) bool {
			ref := metav1.GetControllerOf(e.Object)
			return ref == nil || ref.Kind != owner.Kind || ref.APIVersion != owner.GroupVersion().String()
		},
	}
}

// gpuQuotaPredicate passes ResourceQuotas that set (or used to set) a GPU
// limit, and only when their hard limits change.
func gpuQuotaPredicate() predicate.Predicate {
	hasGPU := func(o client.Object) bool {
		q, ok := o.(*corev1.ResourceQuota)
		if !ok {
			return false
		}
		for _, name := range facts.GPUQuotaResources {
			if _, ok := q.Spec.Hard[name]; ok {
				return true
			}
		}
		return false
	}
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return hasGPU(e.Object) },
		DeleteFunc: func(e event.DeleteEvent) bool { return hasGPU(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			if !hasGPU(e.ObjectOld) && !hasGPU(e.ObjectNew) {
				return false
			}
			o, _ := e.ObjectOld.(*corev1.ResourceQuota)
			n, _ := e.ObjectNew.(*corev1.ResourceQuota)
			return o == nil || n == nil || !equality.Semantic.DeepEqual(o.Spec.Hard, n.Spec.Hard)
		},
		GenericFunc: func(e event.GenericEvent) bool { return hasGPU(e.Object) },
	}
}

// CacheTransform is a cache transform (cache.Options.DefaultTransform or
// ByObject[...].Transform) that keeps the informer cache small in clusters
// with many workloads mlscale does not manage: it drops managedFields from
// every object, and spec and status from Deployments, StatefulSets and Jobs
// without mlscale.io/ annotations (only their metadata is kept, enough to
// see them opt in: the watch then delivers the full object).
//
// Readers of the shared cache therefore see unannotated workloads without
// spec; read those through the API reader when the spec is needed.
func CacheTransform(obj any) (any, error) {
	o, ok := obj.(client.Object)
	if !ok {
		return obj, nil
	}
	o.SetManagedFields(nil)
	if HasAnnotations(o) {
		return obj, nil
	}
	switch t := obj.(type) {
	case *appsv1.Deployment:
		t.Spec, t.Status = appsv1.DeploymentSpec{}, appsv1.DeploymentStatus{}
	case *appsv1.StatefulSet:
		t.Spec, t.Status = appsv1.StatefulSetSpec{}, appsv1.StatefulSetStatus{}
	case *batchv1.Job:
		t.Spec, t.Status = batchv1.JobSpec{}, batchv1.JobStatus{}
	}
	return obj, nil
}
