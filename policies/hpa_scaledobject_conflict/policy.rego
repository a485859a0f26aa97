# An HPA must not scale a workload that a ScaledObject already scales: KEDA
# makes its own HPA for the ScaledObject, and two HPAs on one target flap
# (AmbiguousSelector). The HPA KEDA itself owns for the ScaledObject is
# allowed.
package mlscale.policies.hpa_scaledobject_conflict

import data.mlscale.lib

violation contains msg if {
	hpa := lib.review_hpa
	target := lib.target_key(hpa.spec.scaleTargetRef)
	some so in lib.inventory_scaled_objects
	lib.same_target(so.spec.scaleTargetRef, hpa.spec.scaleTargetRef)
	not lib.keda_owns_hpa(so, hpa)
	msg := sprintf(
		"hpa_scaledobject_conflict: %s targets %s, which %s already scales (KEDA makes its own HPA %s for it); delete this HPA and tune the ScaledObject instead, or delete the ScaledObject (for an mlscale workload: remove mlscale.io/autoscale) to keep this HPA",
		[lib.subject, target, lib.object_key(so), lib.keda_hpa_name(so)],
	)
}
