// Package inventory gives the policies their data.inventory from the
// manager's informer cache: field indexes on the scale target of HPAs and
// ScaledObjects let each admission request read only the objects that can
// conflict with it (and the namespace's ResourceQuotas), never a List of
// the namespace or the cluster.
package inventory

import (
	"context"
	"fmt"
	"slices"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/workload"
)

// TargetIndex is the field index, on HPAs and ScaledObjects, of their
// scaleTargetRef as policy.TargetKey ("Kind/name"). Together with the
// cache's namespace index it answers "who scales this workload?".
const TargetIndex = "mlscale.io/scale-target"

// The informer cache reads these; `make manifests` turns the markers into
// config/rbac/role.yaml.
//
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch
// +kubebuilder:rbac:groups=keda.sh,resources=scaledobjects;scaledjobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=resourcequotas,verbs=get;list;watch

// HPATarget is the TargetIndex function of HPAs.
func HPATarget(obj client.Object) []string {
	h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok || h.Spec.ScaleTargetRef.Name == "" {
		return nil
	}
	return []string{policy.TargetKey(h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)}
}

// ScaledObjectTarget is the TargetIndex function of ScaledObjects; KEDA
// defaults an empty kind to Deployment.
func ScaledObjectTarget(obj client.Object) []string {
	so, ok := obj.(*kedav1alpha1.ScaledObject)
	if !ok || so.Spec.ScaleTargetRef == nil || so.Spec.ScaleTargetRef.Name == "" {
		return nil
	}
	kind := so.Spec.ScaleTargetRef.Kind
	if kind == "" {
		kind = workload.KindDeployment
	}
	return []string{policy.TargetKey(kind, so.Spec.ScaleTargetRef.Name)}
}

// SetupIndexes registers TargetIndex on HPAs and ScaledObjects. Call it
// before the cache starts.
func SetupIndexes(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &autoscalingv2.HorizontalPodAutoscaler{}, TargetIndex, HPATarget); err != nil {
		return fmt.Errorf("indexing HPAs by scale target: %w", err)
	}
	if err := indexer.IndexField(ctx, &kedav1alpha1.ScaledObject{}, TargetIndex, ScaledObjectTarget); err != nil {
		return fmt.Errorf("indexing ScaledObjects by scale target: %w", err)
	}
	return nil
}

// Source reads inventories from a cache-backed client.Reader whose cache
// has the indexes of SetupIndexes. It implements the validating webhook's
// InventorySource.
type Source struct {
	// Reader is the manager's cache (mgr.GetCache() or its client's reader).
	Reader client.Reader
	// Live, when set, reads from the API server itself (mgr.GetAPIReader())
	// where the cache may lag: for an HPA whose target no ScaledObject in
	// the cache scales, the namespace's ScaledObjects are listed live. A
	// file that holds a ScaledObject and an HPA on the same workload,
	// applied at once, sends the HPA to admission milliseconds after the
	// ScaledObject was stored, and under load the informer had not seen
	// it yet: the conflicting HPA was admitted. HPAs are created rarely
	// (KEDA makes one per ScaledObject), so the extra read is too.
	Live client.Reader
}

// Inventory returns the objects related to the review: the HPAs and
// ScaledObjects in its namespace whose scale target is the review's (see
// policy.ScaleTarget), the HPA the review's ScaledObject takes over (see
// policy.TransferredHPA) whatever it scales, and the namespace's
// ResourceQuotas. ScaledJobs have no scale target and no built-in policy
// compares them, so none are read.
func (s Source) Inventory(ctx context.Context, r policy.Review) (policy.Inventory, error) {
	var inv policy.Inventory
	var quotas corev1.ResourceQuotaList
	if err := s.Reader.List(ctx, &quotas, client.InNamespace(r.Namespace)); err != nil {
		return inv, fmt.Errorf("listing the ResourceQuotas of namespace %s from the cache: %w", r.Namespace, err)
	}
	inv.ResourceQuotas = quotas.Items
	target, ok := policy.ScaleTarget(r)
	if !ok {
		return inv, nil
	}
	byTarget := []client.ListOption{client.InNamespace(r.Namespace), client.MatchingFields{TargetIndex: target}}
	var hpas autoscalingv2.HorizontalPodAutoscalerList
	if err := s.Reader.List(ctx, &hpas, byTarget...); err != nil {
		return inv, fmt.Errorf("listing the HPAs of %s in namespace %s from the cache: %w", target, r.Namespace, err)
	}
	var sos kedav1alpha1.ScaledObjectList
	if err := s.Reader.List(ctx, &sos, byTarget...); err != nil {
		return inv, fmt.Errorf("listing the ScaledObjects of %s in namespace %s from the cache: %w", target, r.Namespace, err)
	}
	if len(sos.Items) == 0 && r.Kind == policy.KindHPA && s.Live != nil {
		live, err := s.liveScaledObjects(ctx, r.Namespace, target)
		if err != nil {
			return inv, err
		}
		sos.Items = live
	}
	inv.HPAs, inv.ScaledObjects = hpas.Items, sos.Items
	if name, ok := policy.TransferredHPA(r); ok && !slices.ContainsFunc(inv.HPAs, func(h autoscalingv2.HorizontalPodAutoscaler) bool { return h.Name == name }) {
		var h autoscalingv2.HorizontalPodAutoscaler
		switch err := s.Reader.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: name}, &h); {
		case err == nil:
			inv.HPAs = append(inv.HPAs, h)
		case !apierrors.IsNotFound(err):
			return inv, fmt.Errorf("reading HPA %s/%s, which %s takes over, from the cache: %w", r.Namespace, name, target, err)
		}
	}
	w, err := s.target(ctx, r)
	inv.Target = w
	return inv, err
}

// liveScaledObjects lists the ScaledObjects of namespace ns that scale
// target from the API server (Live): no field selector matches a scale
// target there, so the namespace's are read and filtered here.
func (s Source) liveScaledObjects(ctx context.Context, ns, target string) ([]kedav1alpha1.ScaledObject, error) {
	var all kedav1alpha1.ScaledObjectList
	if err := s.Live.List(ctx, &all, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing the ScaledObjects of namespace %s from the API server (the cache had none scaling %s): %w", ns, target, err)
	}
	var out []kedav1alpha1.ScaledObject
	for i := range all.Items {
		if slices.Contains(ScaledObjectTarget(&all.Items[i]), target) {
			out = append(out, all.Items[i])
		}
	}
	return out, nil
}

// target reads the workload a reviewed ScaledObject scales from the cache
// (which keeps the GPU fields of unannotated workloads; see
// manager.CacheTransform); nil when it is not a workload kind or does not
// exist.
func (s Source) target(ctx context.Context, r policy.Review) (*workload.Workload, error) {
	kind, name, ok := policy.TargetWorkload(r)
	if !ok {
		return nil, nil
	}
	obj := kind.New()
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the target %s %s/%s from the cache: %w", kind.GVK.Kind, r.Namespace, name, err)
	}
	w, err := workload.FromObject(obj)
	if err != nil {
		return nil, err
	}
	return &w, nil
}
