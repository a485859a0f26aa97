package mlscale.policies.hpa_duplicate_target_test

import data.mlscale.policies.hpa_duplicate_target as policy

hpa(name, kind, target) := {
	"apiVersion": "autoscaling/v2",
	"kind": "HorizontalPodAutoscaler",
	"metadata": {"name": name, "namespace": "ml"},
	"spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target}},
}

review(obj, op) := {"kind": obj.kind, "operation": op, "namespace": "ml", "object": obj}

test_second_hpa_denied if {
	msgs := policy.violation with input as review(hpa("b", "Deployment", "web"), "CREATE")
		with data.inventory as {"horizontalPodAutoscalers": [hpa("a", "Deployment", "web")]}
	count(msgs) == 1
	some msg in msgs
	contains(msg, "hpa_duplicate_target: HorizontalPodAutoscaler ml/b targets Deployment ml/web, which HorizontalPodAutoscaler ml/a already scales")
	contains(msg, "AmbiguousSelector")
}

test_update_of_same_hpa_allowed if {
	count(policy.violation) == 0 with input as review(hpa("a", "Deployment", "web"), "UPDATE")
		with data.inventory as {"horizontalPodAutoscalers": [hpa("a", "Deployment", "web")]}
}

test_other_target_allowed if {
	count(policy.violation) == 0 with input as review(hpa("b", "Deployment", "api"), "CREATE")
		with data.inventory as {"horizontalPodAutoscalers": [hpa("a", "Deployment", "web")]}
}

test_other_kind_same_name_allowed if {
	count(policy.violation) == 0 with input as review(hpa("b", "StatefulSet", "web"), "CREATE")
		with data.inventory as {"horizontalPodAutoscalers": [hpa("a", "Deployment", "web")]}
}

test_two_existing_reported_each if {
	count(policy.violation) == 2 with input as review(hpa("c", "Deployment", "web"), "CREATE")
		with data.inventory as {"horizontalPodAutoscalers": [hpa("a", "Deployment", "web"), hpa("b", "Deployment", "web")]}
}
