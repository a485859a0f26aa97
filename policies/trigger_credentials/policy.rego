# No credentials inline in triggers: a password in a RabbitMQ host URL or a
# token in a Prometheus query is readable by everyone who can read the
# ScaledObject. Credentials belong in a Secret, referenced through a KEDA
# TriggerAuthentication (authenticationRef, or mlscale.io/rabbitmq-auth).
package mlscale.policies.trigger_credentials

import data.mlscale.lib

# userinfo matches a URL with a password: scheme://user:password@host.
userinfo := `[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*:[^/@\s]+@`

# secret_param matches a secret passed as a URL or query parameter.
secret_param := `(?i)[?&;,{ ](password|passwd|pwd|token|access_token|api_key|apikey|secret)=[^&\s]+`

# secret_keys are trigger metadata keys that carry a secret value inline
# (the ...FromEnv variants are references and are allowed).
secret_keys := {"password", "passwd", "token", "apikey", "apiKey", "api_key", "secret", "bearerToken", "accessKey", "secretKey", "connectionString"}

inline_credential(key, value) := "a password in the URL" if regex.match(userinfo, value)

inline_credential(key, value) := "a secret parameter" if {
	not regex.match(userinfo, value)
	regex.match(secret_param, concat("", [" ", value]))
}

inline_credential(key, value) := "a secret value" if {
	key in secret_keys
	value != ""
}

violation contains msg if {
	some e in lib.triggers
	some key, value in object.get(e.trigger, "metadata", {})
	is_string(value)
	what := inline_credential(key, value)
	msg := sprintf(
		"trigger_credentials: %s has %s inline in trigger %q (type %s), metadata.%s of %s; put the credential in a Secret and reference it through a TriggerAuthentication (spec.triggers[].authenticationRef; for mlscale workloads mlscale.io/rabbitmq-auth)",
		[lib.subject, what, object.get(e.trigger, "name", ""), e.trigger.type, key, lib.object_key(e.owner)],
	)
}
