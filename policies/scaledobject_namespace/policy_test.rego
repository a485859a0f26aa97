package mlscale.policies.scaledobject_namespace_test

import data.mlscale.policies.scaledobject_namespace as policy

scaled_object(ns, ref) := {
	"apiVersion": "keda.sh/v1alpha1",
	"kind": "ScaledObject",
	"metadata": {"name": "web", "namespace": ns},
	"spec": {"scaleTargetRef": ref},
}

review(obj) := {"kind": obj.kind, "namespace": "ml", "object": obj}

test_own_namespace_allowed if {
	count(policy.violation) == 0 with input as review(scaled_object("ml", {"name": "web"}))
}

test_no_namespace_in_metadata_allowed if {
	count(policy.violation) == 0 with input as review(json.remove(scaled_object("ml", {"name": "web"}), ["metadata/namespace"]))
}

test_other_metadata_namespace_denied if {
	msgs := policy.violation with input as review(scaled_object("prod", {"name": "web"}))
	count(msgs) == 1
	some msg in msgs
	contains(msg, "scaledobject_namespace: ScaledObject prod/web is in namespace prod but is admitted in namespace ml")
}

test_target_in_other_namespace_denied if {
	msgs := policy.violation with input as review(scaled_object("ml", {"name": "web", "namespace": "prod"}))
	count(msgs) == 1
	some msg in msgs
	contains(msg, "targets web in namespace prod")
}

test_target_name_with_namespace_denied if {
	count(policy.violation) == 1 with input as review(scaled_object("ml", {"name": "prod/web"}))
}

test_scaled_job_template_namespace_denied if {
	sj := {"kind": "ScaledJob", "metadata": {"name": "train", "namespace": "ml"}, "spec": {"jobTargetRef": {"template": {"metadata": {"namespace": "prod"}}}}}
	count(policy.violation) == 1 with input as review(sj)
}

test_scaled_job_own_namespace_allowed if {
	sj := {"kind": "ScaledJob", "metadata": {"name": "train", "namespace": "ml"}, "spec": {"jobTargetRef": {"template": {"spec": {}}}}}
	count(policy.violation) == 0 with input as review(sj)
}

test_rendered_object_in_other_namespace_denied if {
	d := {"kind": "Deployment", "metadata": {"name": "web", "namespace": "ml"}}
	review_in := {"kind": "Deployment", "namespace": "ml", "object": d, "rendered": scaled_object("prod", {"name": "web"})}
	count(policy.violation) == 1 with input as review_in
}
