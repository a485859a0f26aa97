# A KEDA object may scale only a workload in its own namespace: its
# metadata.namespace must be the namespace of the request, its
# scaleTargetRef (and a ScaledJob's template) must not name another
# namespace, and the target name must be a plain name, not "ns/name".
package mlscale.policies.scaledobject_namespace

import data.mlscale.lib

violation contains msg if {
	some obj in lib.review_keda_objects
	ns := object.get(obj, ["metadata", "namespace"], "")
	ns != ""
	ns != lib.namespace
	msg := sprintf(
		"scaledobject_namespace: %s is in namespace %s but is admitted in namespace %s; create it in the namespace of the workload it scales",
		[lib.subject, ns, lib.namespace],
	)
}

violation contains msg if {
	so := lib.review_scaled_object
	ns := object.get(so.spec.scaleTargetRef, "namespace", lib.namespace)
	ns != lib.namespace
	msg := sprintf(
		"scaledobject_namespace: %s targets %s in namespace %s; a ScaledObject may scale only workloads in its own namespace %s: create the ScaledObject in namespace %s instead",
		[lib.subject, so.spec.scaleTargetRef.name, ns, lib.namespace, ns],
	)
}

violation contains msg if {
	so := lib.review_scaled_object
	contains(so.spec.scaleTargetRef.name, "/")
	msg := sprintf(
		"scaledobject_namespace: %s targets %q, which names another namespace; a ScaledObject may scale only workloads in its own namespace %s: give the plain workload name and create the ScaledObject beside its workload",
		[lib.subject, so.spec.scaleTargetRef.name, lib.namespace],
	)
}

violation contains msg if {
	sj := lib.review_scaled_job
	ns := object.get(sj.spec.jobTargetRef, ["template", "metadata", "namespace"], lib.namespace)
	ns != lib.namespace
	msg := sprintf(
		"scaledobject_namespace: %s has a job template in namespace %s; a ScaledJob creates Jobs only in its own namespace %s: remove the template's namespace",
		[lib.subject, ns, lib.namespace],
	)
}
