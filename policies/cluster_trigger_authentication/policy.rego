# A ClusterTriggerAuthentication holds credentials of the platform (a
# RabbitMQ admin account, a cloud identity) and can be referenced from
# every namespace: combined with an endpoint of the caller's choosing, any
# namespace could send those credentials anywhere. A trigger may reference
# one only when data.config.clusterTriggerAuthentications allows it: a map
# from the ClusterTriggerAuthentication's name ("*" for any) to glob
# patterns of the namespaces that may use it. With no entry, no namespace
# may.
package mlscale.policies.cluster_trigger_authentication

import data.mlscale.lib

default grants := {}

grants := data.config.clusterTriggerAuthentications

# allowed reports whether the request's namespace may use the
# ClusterTriggerAuthentication name.
allowed(name) if {
	some key in [name, "*"]
	some pattern in object.get(grants, key, [])
	glob.match(pattern, [], lib.namespace)
}

violation contains msg if {
	some e in lib.triggers
	ref := object.get(e.trigger, "authenticationRef", {})
	object.get(ref, "kind", "TriggerAuthentication") == "ClusterTriggerAuthentication"
	name := object.get(ref, "name", "")
	not allowed(name)
	msg := sprintf(
		"cluster_trigger_authentication: %s uses ClusterTriggerAuthentication %s in trigger %s (type %s) of %s, which namespace %s may not use; use a TriggerAuthentication of the namespace, or have the platform team add %q to clusterTriggerAuthentications[%q] in the policy configuration",
		[lib.subject, name, lib.trigger_ref(e), lib.trigger_type(e), lib.object_key(e.owner), lib.namespace, lib.namespace, name],
	)
}
