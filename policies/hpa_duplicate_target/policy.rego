# A workload may be scaled by one HPA only: with two, the HPA controller
# reports AmbiguousSelector and the replica count flaps between them.
package mlscale.policies.hpa_duplicate_target

import data.mlscale.lib

violation contains msg if {
	hpa := lib.review_hpa
	target := lib.target_key(hpa.spec.scaleTargetRef)
	some other in lib.inventory_hpas
	lib.same_target(other.spec.scaleTargetRef, hpa.spec.scaleTargetRef)
	msg := sprintf(
		"hpa_duplicate_target: %s targets %s, which %s already scales (two HPAs on one target flap: AmbiguousSelector); change the existing HPA instead, or delete it first",
		[lib.subject, target, lib.object_key(other)],
	)
}
