package policy

import (
	"slices"

	"github.com/mlscale/mlscale/internal/policy/native"
	"github.com/mlscale/mlscale/internal/workload"
)

// nativeConfig is data.config for the policies' Go forms.
func (c Config) nativeConfig() native.Config {
	return native.Config{
		AllowedEndpoints:              c.AllowedEndpoints,
		GPUBudgets:                    c.GPUBudgets,
		DefaultGPUBudget:              c.DefaultGPUBudget,
		ClusterTriggerAuthentications: c.ClusterTriggerAuthentications,
	}
}

// workloadKindNames is data.workload_kinds, made once.
var workloadKindNames = workload.KindNames()

// nativeInput is Input(r, inv) for the policies' Go forms: the same
// fields, typed. r.TypedObject must be set.
func nativeInput(r Review, inv Inventory) *native.Input {
	gpus, pods := podCounts(r, inv.Target)
	return &native.Input{
		Kind:                r.Kind,
		Operation:           r.Operation,
		Namespace:           r.Namespace,
		Object:              r.TypedObject,
		Rendered:            r.RenderedObject,
		GPUsPerPod:          gpus,
		PodsPerReplica:      pods,
		HPAs:                inv.HPAs,
		ScaledObjects:       inv.ScaledObjects,
		ResourceQuotas:      inv.ResourceQuotas,
		WorkloadKinds:       workloadKindNames,
		GPUResourceNames:    workload.GPUResourceNames,
		GPUResourcePrefixes: workload.GPUResourcePrefixes,
	}
}

// equal reports whether s is exactly the kinds of list (nil: every kind,
// equal to no list).
func (s kindSet) equal(list []string) bool {
	if s == nil || list == nil {
		return s == nil && list == nil
	}
	if len(s) != len(list) {
		return false
	}
	return !slices.ContainsFunc(list, func(k string) bool { return !s[k] })
}
