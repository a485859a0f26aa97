// Package facts gathers what rendering needs to know about the cluster
// (render.Facts) from the API server: today the namespace's GPU budget, read
// from its ResourceQuotas.
package facts

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/render"
)

// GPUQuotaResources are the ResourceQuota keys read as a GPU budget. Kubernetes
// only accepts the requests. form for extended resources in a quota; the bare
// name is accepted too for quotas written by hand or by older tools.
var GPUQuotaResources = []corev1.ResourceName{"requests.nvidia.com/gpu", "nvidia.com/gpu"}

// FromCluster returns a function giving the facts for a namespace: the static
// facts (configuration) with GPUBudget lowered to the smallest hard limit on
// GPUQuotaResources among the namespace's ResourceQuotas. The reader is meant
// to be the manager's cache, so that admission costs no API round trip.
//
// Scoped quotas count too: mlscale does not evaluate quota scopes, and taking
// the smallest limit errs on the safe side.
//
// The returned function has the signature of mutate.FactsFunc.
func FromCluster(reader client.Reader, static render.Facts) func(ctx context.Context, namespace string) (render.Facts, error) {
	return func(ctx context.Context, namespace string) (render.Facts, error) {
		var quotas corev1.ResourceQuotaList
		if err := reader.List(ctx, &quotas, client.InNamespace(namespace)); err != nil {
			return static, fmt.Errorf("listing ResourceQuotas in namespace %s: %w", namespace, err)
		}
		f := static
		f.GPUBudget = GPUBudget(static.GPUBudget, quotas.Items)
		return f, nil
	}
}

// GPUBudget returns the smallest of the configured budget (nil means none)
// and the hard GPU limits of the quotas; nil when there is neither.
func GPUBudget(configured *int64, quotas []corev1.ResourceQuota) *int64 {
	var budget *int64
	if configured != nil {
		v := *configured
		budget = &v
	}
	for _, q := range quotas {
		for _, name := range GPUQuotaResources {
			qty, ok := q.Spec.Hard[name]
			if !ok {
				continue
			}
			// GPUs are whole devices: round a fractional limit down.
			v := qty.Value()
			if qty.MilliValue()%1000 != 0 {
				v = qty.MilliValue() / 1000
			}
			if budget == nil || v < *budget {
				budget = &v
			}
		}
	}
	return budget
}
