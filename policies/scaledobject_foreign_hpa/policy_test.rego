package mlscale.policies.scaledobject_foreign_hpa_test

import data.mlscale.policies.scaledobject_foreign_hpa as policy

hpa(name, target, owners) := {
	"apiVersion": "autoscaling/v2",
	"kind": "HorizontalPodAutoscaler",
	"metadata": {"name": name, "namespace": "ml", "ownerReferences": owners},
	"spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}},
}

scaled_object(name, target) := {
	"apiVersion": "keda.sh/v1alpha1",
	"kind": "ScaledObject",
	"metadata": {"name": name, "namespace": "ml"},
	"spec": {"scaleTargetRef": {"name": target}},
}

transferring(so, hpa_name) := json.patch(so, [
	{"op": "add", "path": "/metadata/annotations", "value": {"scaledobject.keda.sh/transfer-hpa-ownership": "true"}},
	{"op": "add", "path": "/spec/advanced", "value": {"horizontalPodAutoscalerConfig": {"name": hpa_name}}},
])

deployment := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web", "namespace": "ml", "annotations": {"mlscale.io/autoscale": "true"}},
}

foreign := {"horizontalPodAutoscalers": [hpa("web-hpa", "web", [])]}

test_scaled_object_on_foreign_hpa_target_denied if {
	msgs := policy.violation with input as {"kind": "ScaledObject", "namespace": "ml", "object": scaled_object("web", "web")}
		with data.inventory as foreign
	count(msgs) == 1
	some msg in msgs
	contains(msg, "scaledobject_foreign_hpa: ScaledObject ml/web would scale Deployment ml/web, which HorizontalPodAutoscaler ml/web-hpa already scales")
	contains(msg, "transfer-hpa-ownership")
}

test_mlscale_opt_in_on_foreign_hpa_target_denied if {
	msgs := policy.violation with input as {"kind": "Deployment", "namespace": "ml", "object": deployment, "rendered": scaled_object("web", "web")}
		with data.inventory as foreign
	count(msgs) == 1
	some msg in msgs
	contains(msg, "Deployment ml/web (mlscale.io/autoscale opt-in) would scale Deployment ml/web")
	contains(msg, "let KEDA take it over with the annotation mlscale.io/adopt-hpa: web-hpa")
}

test_mlscale_opt_in_adopting_the_hpa_allowed if {
	count(policy.violation) == 0 with input as {"kind": "Deployment", "namespace": "ml", "object": deployment, "rendered": transferring(scaled_object("web", "web"), "web-hpa")}
		with data.inventory as foreign
}

test_transfer_with_hpa_named_allowed if {
	count(policy.violation) == 0 with input as {"kind": "ScaledObject", "namespace": "ml", "object": transferring(scaled_object("web", "web"), "web-hpa")}
		with data.inventory as foreign
}

test_transfer_naming_other_hpa_denied if {
	count(policy.violation) == 1 with input as {"kind": "ScaledObject", "namespace": "ml", "object": transferring(scaled_object("web", "web"), "other")}
		with data.inventory as foreign
}

test_transfer_annotation_false_denied if {
	so := json.patch(transferring(scaled_object("web", "web"), "web-hpa"), [{"op": "replace", "path": "/metadata/annotations", "value": {"scaledobject.keda.sh/transfer-hpa-ownership": "false"}}])
	count(policy.violation) == 1 with input as {"kind": "ScaledObject", "namespace": "ml", "object": so}
		with data.inventory as foreign
}

test_own_keda_hpa_allowed if {
	owners := [{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "web"}]
	count(policy.violation) == 0 with input as {"kind": "ScaledObject", "operation": "UPDATE", "namespace": "ml", "object": scaled_object("web", "web")}
		with data.inventory as {"horizontalPodAutoscalers": [hpa("keda-hpa-web", "web", owners)]}
}

test_other_target_allowed if {
	count(policy.violation) == 0 with input as {"kind": "ScaledObject", "namespace": "ml", "object": scaled_object("api", "api")}
		with data.inventory as foreign
}

test_workload_without_rendered_object_ignored if {
	count(policy.violation) == 0 with input as {"kind": "Deployment", "namespace": "ml", "object": deployment}
		with data.inventory as foreign
}

test_transfer_of_another_targets_hpa_denied if {
	msgs := policy.violation with input as {"kind": "ScaledObject", "namespace": "ml", "object": transferring(scaled_object("web", "web"), "reports-hpa")}
		with data.inventory as {"horizontalPodAutoscalers": [hpa("reports-hpa", "reports", [])]}
	count(msgs) == 1
	some msg in msgs
	contains(msg, "would take over HorizontalPodAutoscaler ml/reports-hpa, which scales Deployment ml/reports, not Deployment ml/web")
	contains(msg, "spec.advanced.horizontalPodAutoscalerConfig.name")
}

test_hpa_of_another_scaled_object_not_offered_for_adoption if {
	owned := hpa("keda-hpa-other", "web", [{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": "other"}])
	msgs := policy.violation with input as {"kind": "ScaledObject", "namespace": "ml", "object": scaled_object("web", "web")}
		with data.inventory as {"horizontalPodAutoscalers": [owned]}
	count(msgs) == 1
	some msg in msgs
	contains(msg, "delete the ScaledObject other that owns it")
	not contains(msg, "adopt")
}
