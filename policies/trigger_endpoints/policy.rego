# Trigger endpoints must be on the configured allowlist, so that a user
# cannot make the KEDA operator call arbitrary addresses. The hosts of the
# endpoint metadata (serverAddress, host, url, ...) are matched against the
# glob patterns of data.config.allowedEndpoints ("." separates labels, so
# "*.monitoring.svc.cluster.local" matches one label). With no allowlist
# configured the policy is inactive.
package mlscale.policies.trigger_endpoints

import data.mlscale.lib

# endpoint_keys are the trigger metadata keys that hold an address KEDA calls.
endpoint_keys := {"serverAddress", "host", "url", "address", "endpoint", "metricsURL", "metricsUrl"}

# host_of extracts the host of an address: the part after scheme:// and
# user@, up to a port, path, query or fragment.
host_of(address) := lower(regex.find_all_string_submatch_n(`^(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:[^@/]*@)?(\[[^\]]*\]|[^:/?#]*)`, address, 1)[0][1])

default allowlist := []

allowlist := data.config.allowedEndpoints

allowed(host) if {
	some pattern in allowlist
	glob.match(lower(pattern), ["."], host)
}

violation contains msg if {
	count(allowlist) > 0
	some e in lib.triggers
	some key, address in object.get(e.trigger, "metadata", {})
	key in endpoint_keys
	is_string(address)
	host := host_of(address)
	not allowed(host)
	msg := sprintf(
		"trigger_endpoints: %s makes KEDA call %s (trigger %q, type %s, metadata.%s of %s), which is not on the allowed endpoints %v; use an allowed endpoint, or ask the cluster admins to add it to mlscale's policy configuration (allowedEndpoints)",
		[lib.subject, host, object.get(e.trigger, "name", ""), e.trigger.type, key, lib.object_key(e.owner), allowlist],
	)
}
