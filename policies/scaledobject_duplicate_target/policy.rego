# A workload must not be scaled by two ScaledObjects: each would make its own
# HPA, and two HPAs on one target flap (AmbiguousSelector). The second
# ScaledObject itself is refused, before any HPA exists; for an annotated
# workload, the ScaledObject mlscale would render is checked against the
# hand-written ones.
package mlscale.policies.scaledobject_duplicate_target

import data.mlscale.lib

violation contains msg if {
	so := lib.review_scaled_object
	some other in lib.inventory_scaled_objects
	lib.same_target(other.spec.scaleTargetRef, so.spec.scaleTargetRef)
	msg := sprintf(
		"scaledobject_duplicate_target: %s would scale %s, which %s already scales (each ScaledObject makes its own HPA, and two HPAs on one target flap); change the existing ScaledObject instead, or delete it first",
		[lib.subject, lib.target_key(so.spec.scaleTargetRef), lib.object_key(other)],
	)
}
