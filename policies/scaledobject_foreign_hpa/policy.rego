# A ScaledObject (hand-written, or the one mlscale renders for an opted-in
# workload) must not target a workload that an HPA it does not own already
# scales. KEDA's ownership transfer is honoured: with the annotation
# scaledobject.keda.sh/transfer-hpa-ownership: "true" and the HPA named in
# spec.advanced.horizontalPodAutoscalerConfig.name, KEDA adopts that HPA.
# The HPA taken over must scale the same workload: KEDA would point it at
# this one, and the workload it scaled would lose its autoscaler.
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
		[lib.subject, target, lib.object_key(hpa), hpa_fix(hpa)],
	)
}

violation contains msg if {
	so := lib.review_scaled_object
	some hpa in lib.inventory_hpas
	lib.transfers_hpa(so, hpa.metadata.name)
	not lib.same_target(hpa.spec.scaleTargetRef, so.spec.scaleTargetRef)
	msg := sprintf(
		"scaledobject_foreign_hpa: %s would take over %s, which scales %s, not %s: KEDA would point it at %s and %s would lose its autoscaler; %s",
		[
			lib.subject, lib.object_key(hpa), lib.target_key(hpa.spec.scaleTargetRef), lib.target_key(so.spec.scaleTargetRef),
			lib.target_key(so.spec.scaleTargetRef), lib.target_key(hpa.spec.scaleTargetRef), transfer_fix,
		],
	)
}

# transfer_fix says how to name the right HPA: through mlscale's annotation
# for a workload, KEDA's field for a hand-written ScaledObject.
transfer_fix := "name the HPA that scales this workload in mlscale.io/adopt-hpa, or remove the annotation" if {
	input.kind in lib.workload_kinds
}

transfer_fix := "name the HPA that scales this workload in spec.advanced.horizontalPodAutoscalerConfig.name, or remove scaledobject.keda.sh/transfer-hpa-ownership" if {
	not input.kind in lib.workload_kinds
}

# hpa_fix is the way out of a foreign HPA: taking it over, unless another
# ScaledObject's KEDA already owns it (that ScaledObject, not the HPA, is
# in the way).
hpa_fix(hpa) := sprintf("delete the ScaledObject %s that owns it (for an mlscale workload: remove its mlscale.io/autoscale)", [owners[0]]) if {
	owners := [ref.name |
		some ref in object.get(hpa, ["metadata", "ownerReferences"], [])
		ref.kind == "ScaledObject"
		startswith(ref.apiVersion, "keda.sh/")
	]
	count(owners) > 0
} else := adopt_fix(hpa.metadata.name)

# adopt_fix says how to let KEDA take the HPA over: for an mlscale workload
# the annotation that renders it, for a hand-written ScaledObject KEDA's own
# fields.
adopt_fix(name) := sprintf("let KEDA take it over with the annotation mlscale.io/adopt-hpa: %s", [name]) if {
	input.kind in lib.workload_kinds
}

adopt_fix(name) := sprintf("let KEDA adopt it with the annotation scaledobject.keda.sh/transfer-hpa-ownership: \"true\" and spec.advanced.horizontalPodAutoscalerConfig.name: %s", [name]) if {
	not input.kind in lib.workload_kinds
}
