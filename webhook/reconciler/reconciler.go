// Package reconciler is mlscale's reconciler: it watches annotated
// Deployments, StatefulSets and Jobs and converges each one's KEDA object
// (ScaledObject or ScaledJob) to what render.Workload gives, with server-side
// apply under the field manager "mlscale". The admission webhook is the fast
// check; this loop makes sure that a webhook outage or a failed later
// admission never leaves state half made.
package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
)

// FieldManager is the server-side apply field manager of every KEDA object
// mlscale writes.
const FieldManager = "mlscale"

// EventSource is the reporting controller named on mlscale's Events.
const EventSource = "mlscale"

// Event reasons, on the workload.
const (
	ReasonScaledObjectCreated = "ScaledObjectCreated"
	ReasonScaledObjectUpdated = "ScaledObjectUpdated"
	ReasonScaledObjectDeleted = "ScaledObjectDeleted"
	ReasonScaledJobCreated    = "ScaledJobCreated"
	ReasonScaledJobUpdated    = "ScaledJobUpdated"
	ReasonScaledJobDeleted    = "ScaledJobDeleted"
	// ReasonScaledObjectSynced and ReasonScaledJobSynced say that a
	// workload whose last reconcile warned (RenderFailed, ApplyFailed) has
	// its KEDA object as its annotations render again, without a change
	// to it (a change says Created or Updated): the warnings are past.
	ReasonScaledObjectSynced = "ScaledObjectSynced"
	ReasonScaledJobSynced    = "ScaledJobSynced"
	ReasonRenderFailed       = "RenderFailed"
	ReasonApplyFailed        = "ApplyFailed"
	// ReasonJobNotSuspended warns that a ScaledJob's template Job runs on
	// its own: it was admitted without the mutating webhook, which
	// suspends it.
	ReasonJobNotSuspended = "JobNotSuspended"
	// ReasonReplicasRestored says that the reconciler put back the
	// replicas a workload had before KEDA scaled it, after it opted out
	// while at zero and KEDA's own restore did not take (see
	// restoreReplicas).
	ReasonReplicasRestored = "ReplicasRestored"
)

// restoreRetry is how soon the reconciler looks again at a workload whose
// ScaledObject is being deleted, to restore its replicas once it is gone.
const restoreRetry = 2 * time.Second

// ConflictRetry is how long the reconciler waits before looking again at a
// workload whose KEDA object's name is taken by an object mlscale does not
// manage (a hand-written ScaledObject of the same name).
const ConflictRetry = 5 * time.Minute

// Options configure the reconciler.
type Options struct {
	// Facts gives the facts for a namespace; nil means facts.Default()
	// everywhere.
	Facts facts.Func
	// Metrics receive reconcile counts; nil means DefaultMetrics().
	Metrics *Metrics
	// MaxConcurrentReconciles is how many workloads of one kind are
	// reconciled at once; at least 1.
	MaxConcurrentReconciles int
	// Observer, when set, is handed every KEDA object applied (the
	// trigger check, webhook/querycheck).
	Observer Observer
}

// Observer is told about every KEDA object the reconciler applies. Observe
// must not block.
type Observer interface {
	Observe(kedaObj client.Object)
}

// DefaultMaxConcurrentReconciles is how many workloads of one kind `mlscale
// webhook` reconciles at once (--max-concurrent-reconciles). A reconcile
// spends most of its time waiting on the API server (a read of the KEDA
// object, then a server-side apply that the API server sends through the
// validating webhook): with 2, a burst of 1,000 new workloads waited on the
// reconciler's queue while the API server had time to spare (see
// docs/performance.md).
const DefaultMaxConcurrentReconciles = 16

// DefaultOptions returns the options `mlscale webhook` runs with.
func DefaultOptions() Options {
	return Options{MaxConcurrentReconciles: DefaultMaxConcurrentReconciles}
}

// kindName is a workload kind's lower-case name, used in controller names
// and in the kind label of the metrics.
func kindName(k workload.Kind) string { return strings.ToLower(k.GVK.Kind) }

// The reconciler's permissions; `make manifests` turns these into
// config/rbac/role.yaml.
//
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments/finalizers;statefulsets/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments/scale;statefulsets/scale,verbs=get;update
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=keda.sh,resources=scaledobjects;scaledjobs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=resourcequotas,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// SetupWithManager adds one controller per workload kind (Deployment,
// StatefulSet, Job) to the manager. The controllers run on the elected
// leader only.
//
// Watches:
//   - the workloads, filtered to those carrying an mlscale.io/ annotation
//     (now or before the change) and to changes of generation or
//     annotations, so that unannotated workloads and status updates cost
//     only the informer's delivery;
//   - the ScaledObjects/ScaledJobs they control, so that a deleted or edited
//     one is put back;
//   - deletions of KEDA objects not controlled by a workload of the kind,
//     so that a workload whose name was taken by a hand-written
//     ScaledObject gets mlscale's as soon as the user deletes theirs,
//     rather than after ConflictRetry;
//   - ResourceQuotas with a GPU limit, so that a changed GPU budget
//     re-renders the namespace's annotated workloads.
func SetupWithManager(mgr manager.Manager, opts Options) error {
	if opts.MaxConcurrentReconciles < 1 {
		return fmt.Errorf("MaxConcurrentReconciles must be at least 1, not %d", opts.MaxConcurrentReconciles)
	}
	if opts.Metrics == nil {
		m, err := DefaultMetrics()
		if err != nil {
			return fmt.Errorf("registering reconcile metrics: %w", err)
		}
		opts.Metrics = m
	}
	opts.Metrics.objects.source.Store(&objectSource{reader: mgr.GetClient(), elected: mgr.Elected()})
	for _, k := range workload.Kinds {
		own := newCreating()
		r := &reconciler{
			creating: own,
			kind:     k,
			client:   mgr.GetClient(),
			live:     mgr.GetAPIReader(),
			recorder: mgr.GetEventRecorder(EventSource),
			facts:    opts.Facts,
			metrics:  opts.Metrics,
			observer: opts.Observer,
		}
		err := ctrl.NewControllerManagedBy(mgr).
			Named("mlscale-"+kindName(k)).
			For(k.New(), builder.WithPredicates(workloadPredicate())).
			Owns(k.NewKEDA(), builder.WithPredicates(ownedPredicate(own))).
			Watches(k.NewKEDA(), handler.EnqueueRequestsFromMapFunc(r.freedName), builder.WithPredicates(foreignDeletedPredicate(k.GVK))).
			Watches(&corev1.ResourceQuota{}, handler.EnqueueRequestsFromMapFunc(r.quotaToWorkloads), builder.WithPredicates(gpuQuotaPredicate())).
			WithOptions(crcontroller.Options{
				MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
				// Names are fixed per kind; tests start several managers
				// in one process.
				SkipNameValidation: ptr.To(true),
			}).
			Complete(r)
		if err != nil {
			return fmt.Errorf("setting up the %s controller: %w", kindName(k), err)
		}
	}
	return nil
}

// reconciler converges one workload kind.
type reconciler struct {
	kind     workload.Kind
	client   client.Client
	live     client.Reader
	recorder events.EventRecorder
	facts    facts.Func
	metrics  *Metrics
	observer Observer
	// creating tells ownedPredicate which KEDA objects this reconciler is
	// creating itself.
	creating *creating
	// failing holds the workloads (client.ObjectKey) whose last reconcile
	// warned (see warn and resolved).
	failing sync.Map
	// restoring holds the workloads (client.ObjectKey) that opted out
	// while their ScaledObject restores their replicas, with the count to
	// restore (int32; see restoreReplicas).
	restoring sync.Map
}

// warn records a RenderFailed or ApplyFailed Event on the workload and
// remembers that it failed.
func (r *reconciler) warn(owner client.Object, reason, action, format string, args ...any) {
	r.failing.Store(client.ObjectKeyFromObject(owner), struct{}{})
	r.recorder.Eventf(owner, nil, corev1.EventTypeWarning, reason, action, format, args...)
}

// resolved forgets that the workload failed; where it had, and its KEDA
// object was current without a change (so that no Created or Updated
// Event says so), it records a Synced Event.
func (r *reconciler) resolved(owner client.Object, unchanged bool, kedaKind string, key client.ObjectKey) {
	if _, was := r.failing.LoadAndDelete(client.ObjectKeyFromObject(owner)); was && unchanged {
		r.recorder.Eventf(owner, nil, corev1.EventTypeNormal, kedaKind+"Synced", "Apply",
			"%s %s is as the workload's annotations render: the earlier warnings are resolved", kedaKind, key)
	}
}

// Reconcile implements reconcile.Reconciler.
func (r *reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	res, outcome, err := r.reconcile(ctx, req)
	r.metrics.observe(kindName(r.kind), outcome, time.Since(start))
	return res, err
}

func (r *reconciler) reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, string, error) {
	obj := r.kind.New()
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			// Garbage collection removes what the workload owned.
			r.failing.Delete(req.NamespacedName)
			r.restoring.Delete(req.NamespacedName)
			return reconcile.Result{}, ResultGone, nil
		}
		return reconcile.Result{}, ResultError, fmt.Errorf("getting %s %s: %w", r.kind.GVK.Kind, req, err)
	}
	if obj.GetDeletionTimestamp() != nil {
		return reconcile.Result{}, ResultGone, nil
	}
	if v, ok := obj.GetAnnotations()[intent.KeyAutoscale]; !ok || v == "false" {
		return r.removeOwned(ctx, obj)
	}
	w, err := workload.FromObject(obj)
	if err != nil {
		return reconcile.Result{}, ResultError, fmt.Errorf("reading %s %s: %w", r.kind.GVK.Kind, req, err)
	}
	f, err := r.facts.For(ctx, req.Namespace)
	if err != nil {
		return reconcile.Result{}, ResultError, fmt.Errorf("gathering cluster facts for %s %s: %w", r.kind.GVK.Kind, req, err)
	}
	rendered, err := render.Workload(w, f)
	if errors.Is(err, render.ErrNotEnabled) {
		return r.removeOwned(ctx, obj)
	}
	if err != nil {
		// Bad annotations that got past admission (a webhook outage, a
		// changed quota): keep the last good object, say so, retry with
		// backoff.
		msg := render.Message(w, err)
		r.warn(obj, ReasonRenderFailed, "Render",
			"%s; the current %s, if any, is kept", msg, r.kind.KEDA.Kind)
		return reconcile.Result{}, ResultRenderError, fmt.Errorf("rendering %s %s: %w", r.kind.GVK.Kind, req, err)
	}
	// Opted in again: KEDA has the replicas again.
	r.restoring.Delete(req.NamespacedName)
	res, outcome, err := r.apply(ctx, obj, rendered)
	if err == nil {
		r.warnUnsuspended(obj)
	}
	return res, outcome, err
}

// warnUnsuspended warns on a Job whose ScaledJob was applied while the Job
// itself runs unsuspended: admitted without the mutating webhook (an
// outage, or a namespace it does not watch), it runs once on its own
// beside the Jobs KEDA starts. The reconciler does not suspend it: that
// would stop its pods.
func (r *reconciler) warnUnsuspended(obj client.Object) {
	j, ok := obj.(*batchv1.Job)
	if !ok || ptr.Deref(j.Spec.Suspend, false) || workload.JobFinished(j.Status) {
		return
	}
	r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, ReasonJobNotSuspended, "Warn",
		"Job %s/%s is not suspended: it runs once on its own beside the Jobs its ScaledJob starts (it was admitted without mlscale's mutating webhook, which suspends it); "+
			"suspend it if it should only be the template (kubectl patch job %s -n %s --type=merge -p '{\"spec\":{\"suspend\":true}}', which stops its pods), or let it finish",
		j.Namespace, j.Name, j.Name, j.Namespace)
}

// apply applies the rendered object with server-side apply and reports
// whether it was created, updated or already current.
func (r *reconciler) apply(ctx context.Context, owner client.Object, rendered render.Result) (reconcile.Result, string, error) {
	desired := rendered.Object
	gvk := desired.GetObjectKind().GroupVersionKind()
	key := client.ObjectKeyFromObject(desired)
	logger := log.FromContext(ctx).WithValues(gvk.Kind, key)

	// The live object's metadata (not the cache's, which may lag behind the
	// last apply) tells created from updated from unchanged, and whose it is.
	existing := &metav1.PartialObjectMetadata{}
	existing.SetGroupVersionKind(gvk)
	found := true
	if err := r.live.Get(ctx, key, existing); err != nil {
		if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, ResultError, fmt.Errorf("getting %s %s: %w", gvk.Kind, key, err)
		}
		found = false
	}
	if found && !adoptable(existing, owner, r.kind.GVK) {
		l := existing.GetLabels()
		if other := l[render.LabelWorkloadKind]; l[render.LabelManagedBy] == render.ManagedByValue && other != "" && other != r.kind.GVK.Kind {
			// mlscale's own, for a workload of another kind and this name.
			r.warn(owner, ReasonApplyFailed, "Apply",
				"%s %s is mlscale's for the %s %s: a %s and a %s of one name would need one %s; rename this %s, or opt the %s out (remove its mlscale.io/autoscale)",
				gvk.Kind, key, other, l[render.LabelWorkloadName], other, r.kind.GVK.Kind, gvk.Kind, r.kind.GVK.Kind, other)
		} else {
			r.warn(owner, ReasonApplyFailed, "Apply",
				"%s %s already exists and is not managed by mlscale for this %s; it is left alone (rename or delete it to let mlscale manage scaling)",
				gvk.Kind, key, r.kind.GVK.Kind)
		}
		logger.Info("KEDA object of the same name is not mlscale's; leaving it alone")
		return reconcile.Result{RequeueAfter: ConflictRetry}, ResultConflict, nil
	}

	// The typed KEDA structs marshal zero-value fields (status, empty
	// rollout and scalingStrategy, null timestamps); render.ToUnstructured
	// drops them, so that mlscale owns only the fields it renders.
	body, err := render.ToUnstructured(desired)
	if err != nil {
		return reconcile.Result{}, ResultError, fmt.Errorf("building the apply body of %s %s: %w", gvk.Kind, key, err)
	}
	if !found {
		r.creating.expect(key)
	}
	if err := r.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(body), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		if !found {
			r.creating.take(key)
		}
		r.warn(owner, ReasonApplyFailed, "Apply",
			"applying %s %s: %v", gvk.Kind, key, err)
		return reconcile.Result{}, ResultApplyError, fmt.Errorf("applying %s %s: %w", gvk.Kind, key, err)
	}
	if r.observer != nil {
		r.observer.Observe(desired)
	}
	summary := summarize(rendered)
	created, updated := !found, found && (body.GetGeneration() != existing.GetGeneration() || !sameStrings(body.GetLabels(), existing.GetLabels()) || !sameOwners(body.GetOwnerReferences(), existing.GetOwnerReferences()))
	r.resolved(owner, !created && !updated, gvk.Kind, key)
	switch {
	case created:
		r.recorder.Eventf(owner, nil, corev1.EventTypeNormal, gvk.Kind+"Created", "Apply", "created %s %s: %s", gvk.Kind, key, summary)
		logger.Info("created", "hash", rendered.Hash)
		return reconcile.Result{}, ResultCreated, nil
	case updated:
		r.recorder.Eventf(owner, nil, corev1.EventTypeNormal, gvk.Kind+"Updated", "Apply", "updated %s %s: %s", gvk.Kind, key, summary)
		logger.Info("updated", "hash", rendered.Hash)
		return reconcile.Result{}, ResultUpdated, nil
	}
	return reconcile.Result{}, ResultUnchanged, nil
}

// removeOwned deletes the workload's KEDA object after it opted out, but only
// when the object is controlled by this workload and labelled as mlscale's:
// a hand-written one of the same name is never touched. A ScaledJob is
// deleted orphaning its dependents: the Jobs KEDA started from it are
// training runs that go on (the garbage collector would otherwise delete
// them with it). A ScaledObject that restores the replicas KEDA found
// (restoreToOriginalReplicaCount, rendered for a minimum of 0) is followed
// until it is gone, and then restoreReplicas checks that it did.
func (r *reconciler) removeOwned(ctx context.Context, owner client.Object) (reconcile.Result, string, error) {
	gvk := r.kind.KEDA
	key := client.ObjectKeyFromObject(owner)
	existing := r.kind.NewKEDA()
	if err := r.live.Get(ctx, key, existing); err != nil {
		if apierrors.IsNotFound(err) {
			return r.restoreReplicas(ctx, owner)
		}
		return reconcile.Result{}, ResultError, fmt.Errorf("getting %s %s: %w", gvk.Kind, key, err)
	}
	if !metav1.IsControlledBy(existing, owner) || existing.GetLabels()[render.LabelManagedBy] != render.ManagedByValue {
		return reconcile.Result{}, ResultNotEnabled, nil
	}
	if existing.GetDeletionTimestamp() != nil {
		if _, ok := r.restoring.Load(key); ok {
			return reconcile.Result{RequeueAfter: restoreRetry}, ResultDeleted, nil
		}
		return reconcile.Result{}, ResultDeleted, nil
	}
	if so, ok := existing.(*kedav1alpha1.ScaledObject); ok {
		r.noteRestore(key, so)
	}
	opts := []client.DeleteOption{client.Preconditions{UID: ptr.To(existing.GetUID()), ResourceVersion: ptr.To(existing.GetResourceVersion())}}
	if gvk.Kind == "ScaledJob" {
		opts = append(opts, client.PropagationPolicy(metav1.DeletePropagationOrphan))
	}
	err := r.client.Delete(ctx, existing, opts...)
	switch {
	case apierrors.IsNotFound(err):
		return r.restoreReplicas(ctx, owner)
	case err != nil:
		r.restoring.Delete(key)
		r.warn(owner, ReasonApplyFailed, "Delete", "deleting %s %s: %v", gvk.Kind, key, err)
		return reconcile.Result{}, ResultApplyError, fmt.Errorf("deleting %s %s: %w", gvk.Kind, key, err)
	}
	kept := ""
	if gvk.Kind == "ScaledJob" {
		kept = " (the Jobs it started run on)"
	}
	r.failing.Delete(key)
	r.recorder.Eventf(owner, nil, corev1.EventTypeNormal, gvk.Kind+"Deleted", "Delete",
		"deleted %s %s%s: %s is no longer \"true\"", gvk.Kind, key, kept, intent.KeyAutoscale)
	log.FromContext(ctx).Info("deleted after opt-out", gvk.Kind, key)
	if _, ok := r.restoring.Load(key); ok {
		return reconcile.Result{RequeueAfter: restoreRetry}, ResultDeleted, nil
	}
	return reconcile.Result{}, ResultDeleted, nil
}

// noteRestore remembers, before the ScaledObject so of the workload key is
// deleted, the replicas it is to restore: those KEDA found when it took
// the workload over (status.originalReplicaCount), when
// restoreToOriginalReplicaCount is set and they were more than 0.
func (r *reconciler) noteRestore(key client.ObjectKey, so *kedav1alpha1.ScaledObject) {
	if so.Spec.Advanced == nil || !so.Spec.Advanced.RestoreToOriginalReplicaCount {
		return
	}
	if n := ptr.Deref(so.Status.OriginalReplicaCount, 0); n > 0 {
		r.restoring.Store(key, n)
	}
}

// restoreReplicas runs once a ScaledObject that was to restore the
// workload's replicas is gone. KEDA's finalizer restores them, but only
// once: a scale to zero of KEDA's own that lands while it finalizes (its
// scale loop stops at the same time) makes the restore fail on a
// conflict, and KEDA deletes the ScaledObject anyway, leaving the workload
// at zero with nothing to wake it. So if the workload is still at 0
// replicas, the reconciler puts back the count KEDA found, and says so in
// an Event.
func (r *reconciler) restoreReplicas(ctx context.Context, owner client.Object) (reconcile.Result, string, error) {
	key := client.ObjectKeyFromObject(owner)
	v, ok := r.restoring.LoadAndDelete(key)
	if !ok {
		return reconcile.Result{}, ResultNotEnabled, nil
	}
	want, _ := v.(int32)
	scale := &autoscalingv1.Scale{}
	if err := r.client.SubResource("scale").Get(ctx, owner, scale); err != nil {
		r.restoring.Store(key, want)
		return reconcile.Result{}, ResultError, fmt.Errorf("getting the scale of %s %s: %w", r.kind.GVK.Kind, key, err)
	}
	if scale.Spec.Replicas != 0 {
		return reconcile.Result{}, ResultNotEnabled, nil
	}
	scale.Spec.Replicas = want
	if err := r.client.SubResource("scale").Update(ctx, owner, client.WithSubResourceBody(scale)); err != nil {
		// A conflict: someone scaled it meanwhile; look again.
		r.restoring.Store(key, want)
		return reconcile.Result{}, ResultError, fmt.Errorf("restoring %d replicas of %s %s: %w", want, r.kind.GVK.Kind, key, err)
	}
	r.recorder.Eventf(owner, nil, corev1.EventTypeNormal, ReasonReplicasRestored, "Scale",
		"restored %d replicas: the workload opted out at 0 replicas, and its ScaledObject was deleted without putting back the %d KEDA found when it took over", want, want)
	log.FromContext(ctx).Info("restored replicas after opt-out", "replicas", want)
	return reconcile.Result{}, ResultDeleted, nil
}

// adoptable reports whether mlscale may apply over an existing KEDA object:
// it is controlled by this workload, or it is labelled as mlscale's rendering
// of a workload of this kind and name (left by an earlier workload of the
// same name, or applied from `mlscale render`).
func adoptable(existing *metav1.PartialObjectMetadata, owner client.Object, ownerGVK schema.GroupVersionKind) bool {
	if metav1.IsControlledBy(existing, owner) {
		return true
	}
	l := existing.GetLabels()
	return l[render.LabelManagedBy] == render.ManagedByValue &&
		l[render.LabelWorkloadKind] == ownerGVK.Kind &&
		l[render.LabelWorkloadName] == owner.GetName()
}

func sameStrings(want, got map[string]string) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func sameOwners(want, got []metav1.OwnerReference) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if want[i].UID != got[i].UID {
			return false
		}
	}
	return true
}

// summarize describes the rendered object in one line for an Event.
func summarize(res render.Result) string {
	minR, maxR, triggers := render.KEDASpec(res.Object)
	names := make([]string, 0, len(triggers))
	for _, t := range triggers {
		names = append(names, t.Name)
	}
	return fmt.Sprintf("profile %s, replicas %d-%d, triggers %s, hash %s",
		res.Profile, ptr.Deref(minR, 0), ptr.Deref(maxR, 0), strings.Join(names, ","), res.Hash)
}

// quotaToWorkloads maps a ResourceQuota to the namespace's opted-in
// workloads of this kind.
func (r *reconciler) quotaToWorkloads(ctx context.Context, q client.Object) []reconcile.Request {
	list := r.kind.NewList()
	if err := r.client.List(ctx, list, client.InNamespace(q.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "listing workloads for a changed ResourceQuota", "kind", r.kind.GVK.Kind, "namespace", q.GetNamespace())
		return nil
	}
	var reqs []reconcile.Request
	for _, o := range listItems(list) {
		if intent.Enabled(o.GetAnnotations()) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	return reqs
}

// freedName maps a deleted KEDA object that was not this kind's to the
// opted-in workload of this kind with the same name, which may have been
// waiting for the name (ConflictRetry).
func (r *reconciler) freedName(ctx context.Context, o client.Object) []reconcile.Request {
	key := client.ObjectKeyFromObject(o)
	w := r.kind.New()
	if err := r.client.Get(ctx, key, w); err != nil {
		if !apierrors.IsNotFound(err) {
			log.FromContext(ctx).Error(err, "getting the workload of a deleted KEDA object's name", "kind", r.kind.GVK.Kind, "workload", key)
		}
		return nil
	}
	if !intent.Enabled(w.GetAnnotations()) {
		return nil
	}
	return []reconcile.Request{{NamespacedName: key}}
}

// listItems returns the items of a typed list as client.Objects.
func listItems(l client.ObjectList) []client.Object {
	objs, err := apimeta.ExtractList(l)
	if err != nil { // only for a type that is not a list, a programming error
		panic(fmt.Sprintf("extracting %T: %v", l, err))
	}
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(client.Object))
	}
	return out
}
