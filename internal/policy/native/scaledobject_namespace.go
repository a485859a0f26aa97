package native

import (
	"fmt"
	"strings"
)

func init() {
	register("scaledobject_namespace", func(Config) Func { return scaledObjectNamespace })
}

// scaledObjectNamespace is policies/scaledobject_namespace. Its rule on
// spec.scaleTargetRef.namespace never fires on a typed ScaledObject (KEDA's
// ScaleTarget has no namespace field, so the key is always absent) and has
// no Go form.
func scaledObjectNamespace(in *Input) []string {
	subject, ok := in.subject()
	if !ok {
		return nil
	}
	var out []string
	for _, o := range in.reviewKEDAObjects() {
		if ns := o.obj.GetNamespace(); ns != "" && ns != in.Namespace {
			out = append(out, fmt.Sprintf(
				"scaledobject_namespace: %s is in namespace %s but is admitted in namespace %s; create it in the namespace of the workload it scales",
				subject, ns, in.Namespace))
		}
	}
	if so, ok := in.reviewScaledObject(); ok && so.Spec.ScaleTargetRef != nil && strings.Contains(so.Spec.ScaleTargetRef.Name, "/") {
		out = append(out, fmt.Sprintf(
			"scaledobject_namespace: %s targets %q, which names another namespace; a ScaledObject may scale only workloads in its own namespace %s: give the plain workload name and create the ScaledObject beside its workload",
			subject, so.Spec.ScaleTargetRef.Name, in.Namespace))
	}
	if sj, ok := in.reviewScaledJob(); ok && sj.Spec.JobTargetRef != nil {
		if ns := sj.Spec.JobTargetRef.Template.Namespace; ns != "" && ns != in.Namespace {
			out = append(out, fmt.Sprintf(
				"scaledobject_namespace: %s has a job template in namespace %s; a ScaledJob creates Jobs only in its own namespace %s: remove the template's namespace",
				subject, ns, in.Namespace))
		}
	}
	return out
}
