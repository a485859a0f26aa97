# A ScaledObject (hand-written, or the one mlscale renders for an opted-in
# workload) must not target a workload that an HPA it does not own already
# scales. KEDA's ownership transfer is honoured: with the annotation
# scaledobject.keda.sh/transfer-hpa-ownership: "true" and the HPA named in
# spec.advanced.horizontalPodAutoscalerConfig.name, KEDA adopts that HPA.
package mlscale.policies.scaledobject_foreign_hpa

import data.mlscale.lib

violation contains msg if {
	so := lib.review_scaled_object
	target := lib.target_key(so.spec.scaleTargetRef)
	some hpa in lib.inventory_hpas
	lib.same_target(hpa.spec.scaleTargetRef, so.spec.scaleTargetRef)
	not lib.keda_owns_hpa(so, hpa)
	msg := sprintf(
		"scaledobject_foreign_hpa: %s would scale %s, which %s already scales; delete that HPA first, or %s",
		[lib.subject, target, lib.object_key(hpa), adopt_fix(hpa.metadata.name)],
	)
}

# adopt_fix says how to let KEDA take the HPA over: for an mlscale workload
# the annotation that renders it, for a hand-written ScaledObject KEDA's own
# fields.
adopt_fix(name) := sprintf("let KEDA take it over with the annotation mlscale.io/adopt-hpa: %s", [name]) if {
	input.kind in lib.workload_kinds
}

adopt_fix(name) := sprintf("let KEDA adopt it with the annotation scaledobject.keda.sh/transfer-hpa-ownership: \"true\" and spec.advanced.horizontalPodAutoscalerConfig.name: %s", [name]) if {
	not input.kind in lib.workload_kinds
}
