package render

import (
	"fmt"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ToUnstructured converts a rendered object to its unstructured form as it
// should be printed or applied: without the empty status, the null creation
// timestamps and the empty structs (scalingModifiers, rollout,
// scalingStrategy) that KEDA's Go types always serialise. Fields a user or
// KEDA would read are kept unchanged.
func ToUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %T to unstructured: %w", obj, err)
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(m, "status")
	for _, path := range [][]string{
		{"metadata", "creationTimestamp"},
		{"spec", "jobTargetRef", "template", "metadata", "creationTimestamp"},
	} {
		if v, ok, _ := unstructured.NestedFieldNoCopy(m, path...); ok && v == nil {
			unstructured.RemoveNestedField(m, path...)
		}
	}
	for _, path := range [][]string{
		{"spec", "advanced", "scalingModifiers"},
		{"spec", "advanced"},
		{"spec", "rollout"},
		{"spec", "scalingStrategy"},
	} {
		if v, ok, _ := unstructured.NestedFieldNoCopy(m, path...); ok {
			if mv, isMap := v.(map[string]any); isMap && len(mv) == 0 {
				unstructured.RemoveNestedField(m, path...)
			}
		}
	}
	return u, nil
}

// KEDASpec returns the replica bounds and triggers of a ScaledObject or
// ScaledJob (nil bounds and no triggers for another object).
func KEDASpec(obj client.Object) (minReplicas, maxReplicas *int32, triggers []kedav1alpha1.ScaleTriggers) {
	switch o := obj.(type) {
	case *kedav1alpha1.ScaledObject:
		return o.Spec.MinReplicaCount, o.Spec.MaxReplicaCount, o.Spec.Triggers
	case *kedav1alpha1.ScaledJob:
		return o.Spec.MinReplicaCount, o.Spec.MaxReplicaCount, o.Spec.Triggers
	}
	return nil, nil, nil
}
