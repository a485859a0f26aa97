# No credentials inline in triggers: a password in a RabbitMQ host URL or a
# token in a header is readable by everyone who can read the ScaledObject. Credentials belong in a Secret, referenced through a KEDA
# TriggerAuthentication (authenticationRef, or mlscale.io/rabbitmq-auth).
package mlscale.policies.trigger_credentials

import data.mlscale.lib

# Values are read the way KEDA reads them, not matched as text: URLs with
# Go's net/url (mlscale.parse_url: user information in a URL is sent as
# Basic auth, with or without a password), customHeaders and
# queryParameters as KEDA's key-value lists (mlscale.keda_pairs: split on
# "," and "=", trimmed), connection strings as ";"-separated key=value
# fields. Query text (PromQL, SQL) is not scanned: a label matcher
# secret=~"tls-.*" or a column named token is not a credential.

# credential_names are header, query parameter and connection-string field
# names (compared in lower case) that carry a credential.
credential_names := {
	"authorization", "proxy-authorization", "x-auth-token", "private-token", "x-api-key", "api-key",
	"apikey", "api_key", "x-access-token", "access_token", "private_token", "code", "token", "id_token",
	"refresh_token", "key", "sig", "signature", "x-amz-signature", "x-amz-security-token", "x-goog-signature",
	"x-vault-token", "cookie", "password", "passwd", "pwd", "secret", "client_secret", "accountkey",
	"sharedaccesskey", "sharedaccesssignature", "ocp-apim-subscription-key", "x-functions-key",
}

# credential_parts: a name containing one of these (in lower case) carries
# a credential too: X-Gitlab-Token, X-Upstream-Auth, api_secret, ...
credential_parts := {"token", "secret", "passw", "apikey", "api-key", "api_key", "auth", "signature", "credential"}

credential_name(name) if lower(name) in credential_names

credential_name(name) if {
	some part in credential_parts
	contains(lower(name), part)
}

# urls are the URLs a value holds: the whole value and each
# comma-separated element, when net/url reads it as an absolute URL.
urls(value) := {u |
	some candidate in array.concat([value], split(value, ","))
	u := mlscale.parse_url(trim_space(candidate))
	u.ok
}

# url_credential names what a URL carries inline, if anything.
url_credential(value) := "a password in the URL" if {
	some u in urls(value)
	u.password
} else := "a user name in the URL, which KEDA sends as Basic auth credentials" if {
	some u in urls(value)
	u.user
} else := sprintf("a credential in the URL's query parameter %s", [min(names)]) if {
	# Several credential parameters: the first by name (one message,
	# where a function with several values would stop the evaluation).
	names := {name |
		some u in urls(value)
		some name, _ in u.query
		credential_name(name)
	}
	count(names) > 0
}

# pair_credential names a credential in a KEDA key-value list (the first
# by name when there are several).
pair_credential("customHeaders", value) := sprintf("a credential header %s", [min(names)]) if {
	names := pair_credential_names(value)
	count(names) > 0
}

pair_credential("queryParameters", value) := sprintf("a credential query parameter %s", [min(names)]) if {
	names := pair_credential_names(value)
	count(names) > 0
}

pair_credential_names(value) := {k |
	some [k, v] in mlscale.keda_pairs(value)
	credential_name(k)
	v != ""
}

# connection_credential names a secret field of a connection string
# (Server=db;User Id=sa;Password=...).
connection_credential(value) := "a secret parameter" if {
	contains(value, ";")
	some field in split(value, ";")
	[name, secret] := split_once(field, "=")
	lower(trim_space(name)) in credential_names
	trim_space(secret) != ""
}

split_once(s, sep) := [substring(s, 0, i), substring(s, i + count(sep), -1)] if {
	i := indexof(s, sep)
	i >= 0
}

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

inline_credential(key, value) := what if {
	what := url_credential(value)
} else := "a private key" if {
	regex.match(private_key, value)
} else := "a secret value" if {
	secret_key(key)
	trim_space(value) != ""
} else := what if {
	what := pair_credential(key, value)
} else := what if {
	what := connection_credential(value)
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
