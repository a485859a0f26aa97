# Helpers shared by mlscale's built-in policies. Not a policy itself: it has
# no violation rule.
package mlscale.lib

# object_key is how an object or a scale target is named in messages and in
# comparisons: "Kind namespace/name".
object_key(obj) := sprintf("%s %s/%s", [obj.kind, object.get(obj, ["metadata", "namespace"], ""), obj.metadata.name])

# namespace is the namespace of the request.
namespace := input.namespace

# target_kind is a scaleTargetRef's kind; KEDA defaults it to Deployment.
target_kind(ref) := object.get(ref, "kind", "Deployment")

# target_key names the workload a scaleTargetRef points at, in the
# namespace of the object that holds the reference, for messages.
target_key(ref) := sprintf("%s %s/%s", [target_kind(ref), namespace, ref.name])

# target_group is the API group of a scaleTargetRef: the group of its
# apiVersion; KEDA defaults an empty one to apps/v1, and the workload kinds
# mlscale knows are in apps or batch.
target_group(ref) := group if {
	api := object.get(ref, "apiVersion", "")
	api != ""
	group := api_group(api)
} else := "apps" if {
	target_kind(ref) in {"Deployment", "StatefulSet", "ReplicaSet"}
} else := "batch" if {
	target_kind(ref) == "Job"
} else := ""

# api_group is the group of an apiVersion ("apps/v1" -> "apps", "v1" -> "").
api_group(api) := "" if not contains(api, "/")

api_group(api) := split(api, "/")[0] if contains(api, "/")

# same_target reports whether two scaleTargetRefs (of objects in the
# request's namespace) name the same workload: the same name, kind and API
# group (a custom resource of kind Deployment in another group is another
# workload).
same_target(a, b) if {
	a.name == b.name
	target_kind(a) == target_kind(b)
	target_group(a) == target_group(b)
}

# review_hpa is the HorizontalPodAutoscaler under review, when it is one.
review_hpa := input.object if input.kind == "HorizontalPodAutoscaler"

# review_scaled_object is the ScaledObject under review: the object itself, or
# for an annotated workload the ScaledObject mlscale would render for it.
review_scaled_object := input.object if input.kind == "ScaledObject"

review_scaled_object := input.rendered if {
	input.kind in workload_kinds
	input.rendered.kind == "ScaledObject"
}

# review_scaled_job is the ScaledJob under review, or the one mlscale would
# render for an annotated Job.
review_scaled_job := input.object if input.kind == "ScaledJob"

review_scaled_job := input.rendered if {
	input.kind in workload_kinds
	input.rendered.kind == "ScaledJob"
}

# review_keda_objects are the KEDA objects under review (at most one).
review_keda_objects contains review_scaled_object

review_keda_objects contains review_scaled_job

# workload_kinds are the kinds mlscale renders KEDA objects for. mlscale
# gives them as data.workload_kinds, from the one table of workload kinds
# that every part of mlscale ranges over (internal/workload).
workload_kinds := {k | some k in data.workload_kinds}

# subject names what is under review in messages: the object, and for an
# annotated workload also that it is mlscale's opt-in.
subject := sprintf("%s (mlscale.io/autoscale opt-in)", [object_key(input.object)]) if {
	input.kind in workload_kinds
}

subject := object_key(input.object) if not input.kind in workload_kinds

# hpa_list, scaled_object_list and quota_list are data.inventory's lists,
# empty when absent.
default hpa_list := []

hpa_list := data.inventory.horizontalPodAutoscalers

default scaled_object_list := []

scaled_object_list := data.inventory.scaledObjects

default quota_list := []

quota_list := data.inventory.resourceQuotas

# inventory_hpas are the namespace's HPAs other than the one under review.
inventory_hpas contains hpa if {
	some hpa in hpa_list
	not same_object(hpa, input.object)
}

# inventory_scaled_objects are the namespace's ScaledObjects other than the
# one under review (or the one an annotated workload would render).
inventory_scaled_objects contains so if {
	some so in scaled_object_list
	not same_object(so, input.object)
	not same_rendered(so)
}

same_object(a, b) if {
	a.kind == b.kind
	a.metadata.name == b.metadata.name
}

same_rendered(so) if {
	so.kind == input.rendered.kind
	so.metadata.name == input.rendered.metadata.name
}

# owned_by_scaled_object reports whether obj has an ownerReference to the ScaledObject named
# name.
owned_by_scaled_object(obj, name) if {
	some ref in object.get(obj, ["metadata", "ownerReferences"], [])
	ref.kind == "ScaledObject"
	startswith(ref.apiVersion, "keda.sh/")
	ref.name == name
}

# keda_hpa_name is the name of the HPA KEDA makes for a ScaledObject:
# advanced.horizontalPodAutoscalerConfig.name, or keda-hpa-<name>.
keda_hpa_name(so) := object.get(so, ["spec", "advanced", "horizontalPodAutoscalerConfig", "name"], sprintf("keda-hpa-%s", [so.metadata.name]))

# transfers_hpa reports whether ScaledObject so takes over the HPA named
# name with KEDA's ownership transfer: the annotation
# scaledobject.keda.sh/transfer-hpa-ownership: "true" and the HPA named in
# advanced.horizontalPodAutoscalerConfig.name.
transfers_hpa(so, name) if {
	object.get(so, ["metadata", "annotations", "scaledobject.keda.sh/transfer-hpa-ownership"], "") == "true"
	so.spec.advanced.horizontalPodAutoscalerConfig.name == name
}

# keda_owns_hpa reports whether hpa belongs to ScaledObject so: KEDA's own
# HPA for it, or the HPA it takes over.
keda_owns_hpa(so, hpa) if {
	hpa.metadata.name == keda_hpa_name(so)
	owned_by_scaled_object(hpa, so.metadata.name)
}

keda_owns_hpa(so, hpa) if transfers_hpa(so, hpa.metadata.name)

# triggers are the triggers of the KEDA objects under review, with the
# object they belong to and their index in spec.triggers.
triggers contains {"owner": obj, "trigger": t, "index": i} if {
	some obj in review_keda_objects
	some i, t in object.get(obj, ["spec", "triggers"], [])
}

# trigger_ref names a trigger of triggers in messages: its name, quoted, or
# for an unnamed trigger its place, spec.triggers[i].
trigger_ref(e) := sprintf("%q", [name]) if {
	name := object.get(e.trigger, "name", "")
	is_string(name)
	name != ""
} else := sprintf("spec.triggers[%d]", [e.index])

# trigger_type is a trigger's type, "" when it has none.
trigger_type(e) := object.get(e.trigger, "type", "")

# gpu_resource reports whether a resource name is counted as a GPU:
# data.gpu_resources lists the names and name prefixes (mlscale gives them
# from the same table as its own GPU count).
gpu_resource(name) if name in data.gpu_resources.names

gpu_resource(name) if {
	some p in data.gpu_resources.prefixes
	startswith(name, p)
}

# gpu_quota_key reports whether a ResourceQuota key limits GPUs: requests.
# followed by a GPU resource, or the bare name (quotas written by hand).
gpu_quota_key(key) if gpu_resource(trim_prefix(key, "requests."))
