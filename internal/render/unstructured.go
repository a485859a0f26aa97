package render

import (
	"fmt"

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
