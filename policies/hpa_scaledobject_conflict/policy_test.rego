package mlscale.policies.hpa_scaledobject_conflict_test

import data.mlscale.policies.hpa_scaledobject_conflict as policy

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

so_owner(name) := [{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": name, "controller": true}]

review(obj) := {"kind": obj.kind, "operation": "CREATE", "namespace": "ml", "object": obj}

inventory := {"scaledObjects": [scaled_object("web", "web")]}

test_hpa_on_scaled_target_denied if {
	msgs := policy.violation with input as review(hpa("web-hpa", "web", [])) with data.inventory as inventory
	count(msgs) == 1
	some msg in msgs
	contains(msg, "hpa_scaledobject_conflict: HorizontalPodAutoscaler ml/web-hpa targets Deployment ml/web")
	contains(msg, "ScaledObject ml/web")
	contains(msg, "delete this HPA")
}

test_keda_own_hpa_allowed if {
	count(policy.violation) == 0 with input as review(hpa("keda-hpa-web", "web", so_owner("web"))) with data.inventory as inventory
}

test_keda_hpa_with_custom_name_allowed if {
	so := json.patch(scaled_object("web", "web"), [{"op": "add", "path": "/spec/advanced", "value": {"horizontalPodAutoscalerConfig": {"name": "web-custom"}}}])
	count(policy.violation) == 0 with input as review(hpa("web-custom", "web", so_owner("web"))) with data.inventory as {"scaledObjects": [so]}
}

test_hpa_named_like_keda_but_not_owned_denied if {
	count(policy.violation) == 1 with input as review(hpa("keda-hpa-web", "web", [])) with data.inventory as inventory
}

test_hpa_owned_by_other_scaled_object_denied if {
	count(policy.violation) == 1 with input as review(hpa("keda-hpa-other", "web", so_owner("other"))) with data.inventory as inventory
}

test_hpa_adopted_by_transfer_allowed if {
	so := json.patch(scaled_object("web", "web"), [
		{"op": "add", "path": "/metadata/annotations", "value": {"scaledobject.keda.sh/transfer-hpa-ownership": "true"}},
		{"op": "add", "path": "/spec/advanced", "value": {"horizontalPodAutoscalerConfig": {"name": "web-hpa"}}},
	])
	count(policy.violation) == 0 with input as review(hpa("web-hpa", "web", [])) with data.inventory as {"scaledObjects": [so]}
}

test_hpa_on_other_target_allowed if {
	count(policy.violation) == 0 with input as review(hpa("api-hpa", "api", [])) with data.inventory as inventory
}

test_hpa_on_statefulset_of_same_name_allowed if {
	h := json.patch(hpa("web-hpa", "web", []), [{"op": "replace", "path": "/spec/scaleTargetRef/kind", "value": "StatefulSet"}])
	count(policy.violation) == 0 with input as review(h) with data.inventory as inventory
}

test_no_inventory_allowed if {
	count(policy.violation) == 0 with input as review(hpa("web-hpa", "web", []))
}

test_not_an_hpa_ignored if {
	count(policy.violation) == 0 with input as review(scaled_object("x", "web")) with data.inventory as inventory
}
