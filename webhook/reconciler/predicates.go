package reconciler

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/manager"
)

// workloadPredicate passes workloads with mlscale.io/ annotations (before or
// after an update) whose generation, annotations or labels changed (a
// Job's labels, such as Kueue's queue name, are its ScaledJob's, which KEDA
// copies onto the Jobs it starts; a label change moves neither generation
// nor annotations). Deletions pass nothing: garbage collection removes the
// KEDA object with its owner.
func workloadPredicate() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return manager.HasAnnotations(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			if !manager.HasAnnotations(e.ObjectOld) && !manager.HasAnnotations(e.ObjectNew) {
				return false
			}
			return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
				!equality.Semantic.DeepEqual(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()) ||
				!equality.Semantic.DeepEqual(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(e event.GenericEvent) bool { return manager.HasAnnotations(e.Object) },
	}
}

// ownedPredicate passes changes to a KEDA object that matter to its owner:
// deletion, and changes of spec (generation), labels, annotations or
// owners; KEDA's status updates are dropped. Creation passes unless own
// expects it: the reconciler is creating that object from its owner's
// current state (passing those cost every new workload a second
// reconcile: a live read, a server-side apply and a validating review).
// Any other creation reconciles the owner: an apply that an earlier
// mlscale process sent before it died and that the API server finished
// after the new process had found nothing to delete, or a KEDA object a
// user made for a workload that opted out. So does every object of the
// informer's first list: its owner may have opted out while no mlscale
// ran, and then carries no mlscale.io/ annotation for the owner's own
// first list to pass (workloadPredicate); an owner that did pass it is
// queued once, as both lists are delivered before the workers start.
func ownedPredicate(own *creating) predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool {
			return e.IsInInitialList || !own.take(client.ObjectKeyFromObject(e.Object))
		},
		DeleteFunc: func(e event.DeleteEvent) bool {
			own.take(client.ObjectKeyFromObject(e.Object))
			return true
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld, e.ObjectNew
			return o.GetGeneration() != n.GetGeneration() ||
				!equality.Semantic.DeepEqual(o.GetLabels(), n.GetLabels()) ||
				!equality.Semantic.DeepEqual(o.GetAnnotations(), n.GetAnnotations()) ||
				!equality.Semantic.DeepEqual(o.GetOwnerReferences(), n.GetOwnerReferences())
		},
	}
}

// creatingTTL is how long creating expects a creation. The informer
// reports it milliseconds after the apply; an expectation that no creation
// or deletion met (the apply found the object made by someone else just
// before it) expires.
const creatingTTL = time.Minute

// creating holds the names of the KEDA objects the reconciler is creating,
// until the informer reports a creation or deletion of that name. It is set
// before the apply: the informer's event may come before the apply's
// response. Dropping the creation it matches is safe: the object is either
// the one the apply created from the owner's current state, or one someone
// else created just before that the apply then overwrote with that state.
type creating struct{ keys *cache.Expiring }

func newCreating() *creating { return &creating{keys: cache.NewExpiring()} }

// expect notes that the reconciler is about to create the object key.
func (c *creating) expect(key client.ObjectKey) { c.keys.Set(key, struct{}{}, creatingTTL) }

// take reports whether the object key was expected, and forgets it.
func (c *creating) take(key client.ObjectKey) bool {
	if _, ok := c.keys.Get(key); ok {
		c.keys.Delete(key)
		return true
	}
	return false
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
		for name := range q.Spec.Hard {
			if facts.GPUQuotaResource(name) {
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
