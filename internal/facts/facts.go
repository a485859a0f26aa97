// Package facts holds what rendering needs to know about the cluster (Facts),
// the one function type that gives them per namespace (Func), and the one
// place that reads them from the API server: the namespace's GPU budget,
// from its ResourceQuotas.
package facts

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/workload"
)

// Defaults of Facts.
const (
	// DefaultClusterDomain is Kubernetes' default cluster DNS domain.
	DefaultClusterDomain = "cluster.local"
	// DefaultPrometheusServer is the Prometheus URL assumed when neither the
	// workload (mlscale.io/prometheus-server) nor the configuration names
	// one: the Service that the Prometheus Operator creates in "monitoring".
	DefaultPrometheusServer = "http://prometheus-operated.monitoring.svc:9090"
)

// Facts are what rendering needs to know about the cluster.
type Facts struct {
	// ClusterDomain expands short service names.
	ClusterDomain string
	// PrometheusServer is the Prometheus URL used when a workload names
	// none; empty for a cluster without a default, where workloads that
	// need Prometheus must name their own.
	PrometheusServer string
	// GPUBudget is the namespace's GPU budget in devices (a ResourceQuota on
	// requests.nvidia.com/gpu, or configuration); nil means none.
	GPUBudget *int64
	// AllowUnknownKeys makes mlscale.io/ annotations that are not in the
	// contract warnings instead of errors (--unknown-annotations=warn).
	AllowUnknownKeys bool
}

// Default returns the facts used when nothing is known about the cluster:
// the default cluster domain and Prometheus server, no GPU budget.
func Default() Facts {
	return Facts{ClusterDomain: DefaultClusterDomain, PrometheusServer: DefaultPrometheusServer}
}

// Func gives the facts for a namespace. Its nil value gives Default() for
// every namespace; call it through For.
type Func func(ctx context.Context, namespace string) (Facts, error)

// For returns the facts for the namespace: f's, or Default() when f is nil.
func (f Func) For(ctx context.Context, namespace string) (Facts, error) {
	if f == nil {
		return Default(), nil
	}
	return f(ctx, namespace)
}

// Static returns a Func that gives the same facts for every namespace.
func Static(f Facts) Func {
	return func(context.Context, string) (Facts, error) { return f, nil }
}

// GPUQuotaResource reports whether a ResourceQuota key limits GPUs:
// "requests." followed by a GPU resource (workload.GPUResource), or the bare
// GPU resource name. Kubernetes only accepts the requests. form for extended
// resources in a quota; the bare name is read too for quotas written by hand
// or by older tools. The budget is the smallest such limit, compared with
// the sum of all GPU devices of a pod: a namespace with quotas on two GPU
// resources is held to the smaller one, on the safe side.
func GPUQuotaResource(name corev1.ResourceName) bool {
	return workload.GPUResource(corev1.ResourceName(strings.TrimPrefix(string(name), "requests.")))
}

// FromCluster returns the Func of a cluster: the static facts (configuration)
// with GPUBudget lowered to the smallest hard GPU limit (GPUQuotaResource)
// among the namespace's ResourceQuotas. The reader is meant to be the
// manager's cache, so that admission costs no API round trip.
//
// Scoped quotas count too: mlscale does not evaluate quota scopes, and taking
// the smallest limit errs on the safe side.
func FromCluster(reader client.Reader, static Facts) Func {
	return func(ctx context.Context, namespace string) (Facts, error) {
		var quotas corev1.ResourceQuotaList
		if err := reader.List(ctx, &quotas, client.InNamespace(namespace)); err != nil {
			return static, fmt.Errorf("listing ResourceQuotas in namespace %s: %w", namespace, err)
		}
		f := static
		f.GPUBudget = GPUBudget(static.GPUBudget, quotas.Items)
		return f, nil
	}
}

// FromQuotas is FromCluster over ResourceQuotas already read, by namespace:
// `mlscale policy eval` reads them from its files, so that it renders with
// the GPU budget admission would use.
func FromQuotas(static Facts, quotas map[string][]corev1.ResourceQuota) Func {
	return func(_ context.Context, namespace string) (Facts, error) {
		f := static
		f.GPUBudget = GPUBudget(static.GPUBudget, quotas[namespace])
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
		for name, qty := range q.Spec.Hard {
			if !GPUQuotaResource(name) {
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
