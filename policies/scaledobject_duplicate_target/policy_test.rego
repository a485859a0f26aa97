package mlscale.policies.scaledobject_duplicate_target_test

import data.mlscale.policies.scaledobject_duplicate_target as policy

scaled_object(name, ref) := {
	"apiVersion": "keda.sh/v1alpha1",
	"kind": "ScaledObject",
	"metadata": {"name": name, "namespace": "ml"},
	"spec": {"scaleTargetRef": ref},
}

review(obj) := {"kind": obj.kind, "operation": "CREATE", "namespace": "ml", "object": obj}

existing := {"scaledObjects": [scaled_object("web", {"name": "web"})]}

test_second_scaled_object_denied if {
	msgs := policy.violation with input as review(scaled_object("web-2", {"name": "web"})) with data.inventory as existing
	count(msgs) == 1
	some msg in msgs
	contains(msg, "scaledobject_duplicate_target: ScaledObject ml/web-2 would scale Deployment ml/web, which ScaledObject ml/web already scales")
}

test_explicit_apps_v1_is_the_default_target if {
	count(policy.violation) == 1 with input as review(scaled_object("web-2", {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"})) with data.inventory as existing
}

test_update_of_the_same_scaled_object_allowed if {
	count(policy.violation) == 0 with input as review(scaled_object("web", {"name": "web"})) with data.inventory as existing
}

test_other_target_allowed if {
	count(policy.violation) == 0 with input as review(scaled_object("api", {"name": "api"})) with data.inventory as existing
}

test_custom_resource_of_kind_deployment_is_another_target if {
	ref := {"apiVersion": "example.com/v1", "kind": "Deployment", "name": "web"}
	count(policy.violation) == 0 with input as review(scaled_object("web-cr", ref)) with data.inventory as existing
}

test_opt_in_next_to_a_hand_written_scaled_object_denied if {
	d := {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ml"}}
	rendered := scaled_object("web-mlscale", {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"})
	msgs := policy.violation with input as {"kind": "Deployment", "namespace": "ml", "object": d, "rendered": rendered} with data.inventory as existing
	count(msgs) == 1
}
