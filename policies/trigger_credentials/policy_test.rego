package mlscale.policies.trigger_credentials_test

import data.mlscale.policies.trigger_credentials as policy

scaled_object(trigger) := {
	"apiVersion": "keda.sh/v1alpha1",
	"kind": "ScaledObject",
	"metadata": {"name": "worker", "namespace": "ml"},
	"spec": {"scaleTargetRef": {"name": "worker"}, "triggers": [trigger]},
}

review(trigger) := {"kind": "ScaledObject", "namespace": "ml", "object": scaled_object(trigger)}

rabbit(host) := {"type": "rabbitmq", "name": "queue", "metadata": {"host": host, "queueName": "tasks"}}

prometheus(query) := {"type": "prometheus", "metadata": {"serverAddress": "http://prometheus.monitoring:9090", "query": query}}

test_password_in_host_denied if {
	msgs := policy.violation with input as review(rabbit("amqp://guest:s3cret@rabbitmq.ml:5672/"))
	count(msgs) == 1
	some msg in msgs
	contains(msg, "trigger_credentials: ScaledObject ml/worker has a password in the URL inline in trigger \"queue\" (type rabbitmq), metadata.host")
	contains(msg, "TriggerAuthentication")
}

test_host_without_password_allowed if {
	count(policy.violation) == 0 with input as review(rabbit("amqp://rabbitmq.ml.svc.cluster.local:5672/"))
}

test_user_without_password_denied if {
	findings(rabbit("amqp://guest@rabbitmq.ml:5672/")) == {["a user name in the URL, which KEDA sends as Basic auth credentials", "host"]}
	findings(trigger("metrics-api", {"url": "https://ghp_abc123@api.github.com/x", "valueLocation": "a"})) == {["a user name in the URL, which KEDA sends as Basic auth credentials", "url"]}
}

test_promql_label_matchers_allowed if {
	count(policy.violation) == 0 with input as review(prometheus(`sum(kube_secret_info{secret=~"tls-.*"})`))
	count(policy.violation) == 0 with input as review(prometheus(`count(up{sig="invalid", token="x"})`))
	count(policy.violation) == 0 with input as review(prometheus(`sum(rate(http_requests_total{path="/login?token=x"}[2m]))`))
}

test_sql_column_named_token_allowed if {
	t := {"type": "postgresql", "metadata": {"host": "pg.ml.svc", "passwordFromEnv": "PG", "query": "SELECT count(*) FROM jobs WHERE token='x' AND password IS NULL"}}
	count(policy.violation) == 0 with input as review(t)
}

test_token_in_server_address_denied if {
	t := {"type": "prometheus", "metadata": {"serverAddress": "http://prom:9090/?access_token=abc", "query": "up"}}
	count(policy.violation) == 1 with input as review(t)
}

test_plain_query_allowed if {
	count(policy.violation) == 0 with input as review(prometheus(`sum(vllm:num_requests_waiting{namespace="ml"})`))
}

test_secret_key_inline_denied if {
	t := {"type": "postgresql", "metadata": {"password": "hunter2", "query": "select 1"}}
	count(policy.violation) == 1 with input as review(t)
}

test_secret_from_env_allowed if {
	t := {"type": "postgresql", "metadata": {"passwordFromEnv": "PG_PASSWORD", "query": "select 1"}}
	count(policy.violation) == 0 with input as review(t)
}

test_rendered_object_of_workload_checked if {
	d := {"kind": "Deployment", "metadata": {"name": "worker", "namespace": "ml"}}
	review_in := {"kind": "Deployment", "namespace": "ml", "object": d, "rendered": scaled_object(rabbit("amqp://u:p@rabbitmq:5672"))}
	msgs := policy.violation with input as review_in
	some msg in msgs
	contains(msg, "Deployment ml/worker (mlscale.io/autoscale opt-in) has a password in the URL")
}

trigger(type, metadata) := {"type": type, "metadata": metadata}

# findings are the [what, key] pairs of a trigger's violations.
findings(t) := {[what, key] |
	some msg in policy.violation with input as review(t)
	m := regex.find_all_string_submatch_n(`has (.+) inline in trigger .* metadata\.(\S+) of `, msg, 1)[0]
	what := m[1]
	key := m[2]
}

test_unnamed_trigger_named_by_index if {
	msgs := policy.violation with input as review(trigger("redis", {"address": "redis:6379", "password": "hunter2", "listName": "l"}))
	count(msgs) == 1
	some msg in msgs
	contains(msg, "has a secret value inline in trigger spec.triggers[0] (type redis), metadata.password of ScaledObject ml/worker; put the credential in a Secret")
}

test_password_keys_denied if {
	every key in ["password", "Password", "passwd", "sentinelPassword", "keyPassword", "activeDirectoryClientPassword", "saslPassword"] {
		findings(trigger("redis-sentinel", {key: "hunter2", "listName": "l"})) == {["a secret value", key]}
	}
}

test_connection_strings_denied if {
	every key in ["connectionString", "connection", "leaseConnection", "storageConnection"] {
		findings(trigger("azure-queue", {key: "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc==;EndpointSuffix=core.windows.net", "queueName": "q"})) == {["a secret value", key]}
	}
	findings(trigger("mysql", {"connectionString": "mysql://root:hunter2@mysql:3306/db", "query": "q"})) == {["a password in the URL", "connectionString"]}
}

test_tokens_and_keys_denied if {
	every key in [
		"token", "apiKey", "api_key", "apiToken", "authToken", "accessToken", "personalAccessToken", "bearerToken",
		"accessKey", "secretKey", "SecretKey", "awsSecretAccessKey", "awsSessionToken", "secret", "clientSecret",
		"appCredentialSecret", "appKey", "queryKey", "cosmosDBKey", "leaseCosmosDBKey", "clientKey", "tlsClientKey",
		"keytab", "credentials", "GoogleApplicationCredentials",
	] {
		findings(trigger("any", {key: "c2VjcmV0"})) == {["a secret value", key]}
	}
}

test_references_and_public_values_allowed if {
	md := {
		"passwordFromEnv": "PASSWORD", "connectionFromEnv": "CONN", "apiKeyFromEnv": "KEY", "tokenFromEnv": "T",
		"username": "guest", "sasl": "scram_sha512", "saslTokenProvider": "bearer", "tls": "enable",
		"accessID": "id", "key": "config-key", "metricKey": "m", "watchKey": "/k", "password": "",
	}
	count(policy.violation) == 0 with input as review(trigger("any", md))
}

test_secret_parameters_denied if {
	findings(trigger("prometheus", {"serverAddress": "http://prom:9090", "query": "up", "customHeaders": "X-Api-Key=abc,Team=ml"})) == {["a credential header X-Api-Key", "customHeaders"]}
	findings(trigger("prometheus", {"serverAddress": "http://prom:9090", "query": "up", "customHeaders": "Authorization=Bearer abc"})) == {["a credential header Authorization", "customHeaders"]}
	findings(trigger("metrics-api", {"url": "https://acct.blob.core.windows.net/c/x?sv=2022&sig=abc", "valueLocation": "a"})) == {["a credential in the URL's query parameter sig", "url"]}
	findings(trigger("mssql", {"host": "Server=db;User Id=sa;Password=hunter2", "query": "q"})) == {["a secret parameter", "host"]}
}

# KEDA trims the keys and values of customHeaders and queryParameters.
test_trimmed_headers_and_parameters_denied if {
	findings(trigger("prometheus", {"serverAddress": "http://prom:9090", "query": "up", "customHeaders": "Team=ml, Authorization =Bearer abc"})) == {["a credential header Authorization", "customHeaders"]}
	every header in ["X-Auth-Token", "Private-Token", "x-gitlab-token", "Proxy-Authorization", "Cookie"] {
		findings(trigger("prometheus", {"serverAddress": "http://prom:9090", "query": "up", "customHeaders": sprintf(" %s = abc ", [header])})) == {[sprintf("a credential header %s", [header]), "customHeaders"]}
	}
	every param in ["access_token", "private_token", "code", "api_key"] {
		findings(trigger("prometheus", {"serverAddress": "http://prom:9090", "query": "up", "queryParameters": sprintf("team=ml, %s =abc", [param])})) == {[sprintf("a credential query parameter %s", [param]), "queryParameters"]}
	}
}

test_token_parameters_in_urls_denied if {
	every param in ["access_token", "private_token", "code", "token"] {
		findings(trigger("metrics-api", {"url": sprintf("https://api.example.com/v1/q?team=ml&%s=abc", [param]), "valueLocation": "a"})) == {[sprintf("a credential in the URL's query parameter %s", [param]), "url"]}
	}
}

test_public_headers_and_parameters_allowed if {
	md := {"serverAddress": "http://prom:9090", "query": "up", "customHeaders": "X-Scope-OrgID=ml, Accept=application/json", "queryParameters": "timeout=10s,dedup=true"}
	count(policy.violation) == 0 with input as review(trigger("prometheus", md))
}

test_password_in_url_lists_denied if {
	findings(trigger("elasticsearch", {"addresses": "https://es-0:9200, https://elastic:hunter2@es-1:9200", "index": "i"})) == {["a password in the URL", "addresses"]}
	findings(trigger("redis", {"address": "redis://:hunter2@redis:6379", "listName": "l"})) == {["a password in the URL", "address"]}
	findings(trigger("mongodb", {"host": "mongodb://u:hunter2@m-0,m-1/db", "dbName": "d"})) == {["a password in the URL", "host"]}
}

test_private_key_denied if {
	findings(trigger("external", {"scalerAddress": "s:6000", "key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE..."})) == {["a private key", "key"]}
}

test_password_url_in_secret_key_has_one_message if {
	findings(trigger("rabbitmq", {"password": "amqp://u:p@h", "queueName": "q"})) == {["a password in the URL", "password"]}
}

# Two credential names in one value: one finding, naming the first by name
# (before, the functions had two values and OPA stopped the evaluation, so
# the webhook answered an error and an update was admitted).
test_two_credentials_in_one_value_one_finding if {
	findings(trigger("metrics-api", {"url": "https://h/q?token=a&api_key=b", "valueLocation": "a"})) == {["a credential in the URL's query parameter api_key", "url"]}
	findings(trigger("prometheus", {"serverAddress": "http://prom:9090", "query": "up", "customHeaders": "X-Api-Key=a,Authorization=b"})) == {["a credential header Authorization", "customHeaders"]}
	findings(trigger("prometheus", {"serverAddress": "http://prom:9090", "query": "up", "queryParameters": "token=a, api_key=b"})) == {["a credential query parameter api_key", "queryParameters"]}
}
