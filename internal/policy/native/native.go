// Package native holds Go forms of mlscale's built-in Rego policies (the
// policies folder). The Rego stays the specification: `mlscale policy test`
// runs its tests, users read and override it, and the policy engine
// (internal/policy) uses a Go form only while a policy and the helper
// packages it reads are exactly the built-in ones. The Go forms exist for
// speed: the Rego interpreter spends about 2 us per expression, and the
// trigger policies evaluate hundreds of expressions per trigger, which made
// validating an opted-in workload ten times slower than mutating it.
//
// Each Go form must find exactly what its Rego does, message for message:
// internal/policy's TestNativeSameAsRego and FuzzNativeSameAsRego run
// both on the same reviews and compare. A Go form reads the typed objects
// the Rego input is converted from (runtime.DefaultUnstructuredConverter),
// so a field the conversion leaves out (nil, empty with omitempty) is an
// absent key to the Rego, and the Go forms read it that way.
package native

import (
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Input is what a Go form reviews: the fields of the Rego input, typed.
type Input struct {
	// Kind is input.kind: the kind of Object.
	Kind string
	// Operation is input.operation.
	Operation string
	// Namespace is input.namespace, the namespace of the request.
	Namespace string
	// Object is input.object: a *HorizontalPodAutoscaler (autoscaling/v2),
	// *ScaledObject, *ScaledJob, or a workload (Deployment, StatefulSet,
	// Job) when Kind is one of WorkloadKinds.
	Object client.Object
	// Rendered is input.rendered: the *ScaledObject or *ScaledJob mlscale
	// renders for an opted-in workload, or nil.
	Rendered client.Object
	// GPUsPerPod is input.gpusPerPod.
	GPUsPerPod int64
	// PodsPerReplica is input.podsPerReplica.
	PodsPerReplica int64
	// HPAs, ScaledObjects and ResourceQuotas are data.inventory's
	// horizontalPodAutoscalers, scaledObjects and resourceQuotas.
	HPAs           []autoscalingv2.HorizontalPodAutoscaler
	ScaledObjects  []kedav1alpha1.ScaledObject
	ResourceQuotas []corev1.ResourceQuota
	// WorkloadKinds is data.workload_kinds.
	WorkloadKinds []string
	// GPUResourceNames and GPUResourcePrefixes are data.gpu_resources.
	GPUResourceNames, GPUResourcePrefixes []string
}

// Config is data.config, the policy configuration the Go forms read (the
// fields of internal/policy's Config that policies see).
type Config struct {
	// AllowedEndpoints is data.config.allowedEndpoints.
	AllowedEndpoints []string
	// GPUBudgets is data.config.gpuBudgets.
	GPUBudgets map[string]int64
	// DefaultGPUBudget is data.config.defaultGPUBudget; nil when unset.
	DefaultGPUBudget *int64
	// ClusterTriggerAuthentications is
	// data.config.clusterTriggerAuthentications.
	ClusterTriggerAuthentications map[string][]string
}

// Func is the Go form of one policy: the messages of its violation rule
// for the input, in any order, without duplicates.
type Func func(in *Input) []string

// compilers build each policy's Go form for a configuration, by policy
// name; a policy without an entry has no Go form.
var compilers = map[string]func(Config) Func{}

// register adds the Go form of a policy; each policy's file calls it from
// init.
func register(name string, compile func(Config) Func) {
	if _, dup := compilers[name]; dup {
		panic("native: policy " + name + " registered twice")
	}
	compilers[name] = compile
}

// Compile returns the Go forms of the built-in policies for cfg, by policy
// name, with what can be prepared once (patterns, tables) prepared.
func Compile(cfg Config) map[string]Func {
	out := make(map[string]Func, len(compilers))
	for name, c := range compilers {
		out[name] = c(cfg)
	}
	return out
}

// Names returns the names of the policies that have a Go form.
func Names() []string {
	out := make([]string, 0, len(compilers))
	for name := range compilers {
		out = append(out, name)
	}
	return out
}
