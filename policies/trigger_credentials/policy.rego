# No credentials inline in triggers: a password in a RabbitMQ host URL or a
# token in a Prometheus query is readable by everyone who can read the
# ScaledObject. Credentials belong in a Secret, referenced through a KEDA
# TriggerAuthentication (authenticationRef, or mlscale.io/rabbitmq-auth).
package mlscale.policies.trigger_credentials

import data.mlscale.lib

# userinfo matches a URL with a password: scheme://user:password@host.
userinfo := `[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*:[^/@\s]+@`

# secret_param matches a secret passed as a URL or query parameter, a
# connection-string field (Password=...; AccountKey=...;
# SharedAccessKey=...) or a header (customHeaders: Authorization=...).
secret_param := `(?i)[?&;,{ ](password|passwd|pwd|token|access_token|auth_token|api_key|apikey|api-key|x-api-key|api_token|secret|client_secret|secret_key|access_key|accountkey|sharedaccesskey|sharedaccesssignature|sig|authorization)=[^&;,\s]+`

# private_key matches a PEM private key.
private_key := `-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`

# secret_keys are trigger metadata keys (compared in lower case) that carry
# a secret value inline: passwords, tokens, API and access keys, client
# secrets and keys, connection strings. The ...FromEnv variants are
# references to an environment variable and are allowed.
secret_keys := {
	"password", "passwd", "token", "apikey", "api_key", "secret", "bearertoken", "accesskey",
	"secretkey", "connectionstring", "connection", "leaseconnection", "storageconnection",
	"eventhubconnection", "querykey", "appkey", "cosmosdbkey", "leasecosmosdbkey", "accountkey",
	"sharedaccesskey", "clientkey", "tlsclientkey", "keytab", "credentials",
	"googleapplicationcredentials",
}

# secret_suffixes: a key ending in one of these (compared in lower case) is
# a secret too: sentinelPassword, keyPassword, activeDirectoryClientPassword,
# clientSecret, appCredentialSecret, personalAccessToken, authToken,
# apiToken, accessToken, awsSessionToken, awsSecretAccessKey, ...
secret_suffixes := {"password", "passwd", "secret", "token", "apikey", "api_key", "secretkey", "secretaccesskey", "connectionstring", "privatekey"}

secret_key(key) if lower(key) in secret_keys

secret_key(key) if {
	some suffix in secret_suffixes
	endswith(lower(key), suffix)
}

inline_credential(key, value) := "a password in the URL" if {
	regex.match(userinfo, value)
} else := "a private key" if {
	regex.match(private_key, value)
} else := "a secret value" if {
	secret_key(key)
	trim_space(value) != ""
} else := "a secret parameter" if {
	regex.match(secret_param, concat("", [" ", value]))
}

violation contains msg if {
	some e in lib.triggers
	some key, value in object.get(e.trigger, "metadata", {})
	is_string(value)
	what := inline_credential(key, value)
	msg := sprintf(
		"trigger_credentials: %s has %s inline in trigger %s (type %s), metadata.%s of %s; put the credential in a Secret and reference it through a TriggerAuthentication (spec.triggers[].authenticationRef; for mlscale workloads mlscale.io/rabbitmq-auth)",
		[lib.subject, what, lib.trigger_ref(e), lib.trigger_type(e), key, lib.object_key(e.owner)],
	)
}
