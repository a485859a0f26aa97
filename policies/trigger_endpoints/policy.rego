# Trigger endpoints must be on the configured allowlist, so that a user
# cannot make the KEDA operator call arbitrary addresses. The hosts KEDA
# would call are derived from the trigger metadata the way KEDA derives them
# (endpoint_rows below: one row per trigger type and field), and matched
# against the glob patterns of data.config.allowedEndpoints ("." separates
# labels, so "*.monitoring.svc.cluster.local" matches one label). A trigger
# type the policy does not know, with metadata that looks like an address,
# is denied: the policy cannot tell which host KEDA would build from it.
# With no allowlist configured the policy is inactive.
#
# The ...FromEnv variants name an environment variable of the scale target
# and the TriggerAuthentication parameters live in Secrets: neither is
# visible at admission, so neither is checked.
package mlscale.policies.trigger_endpoints

import data.mlscale.lib

# endpoint_rows is the table of the addresses KEDA (v2.21) builds: one row
# per trigger type and metadata field (or fields taken together), with how
# KEDA turns the value into the address it calls ("how", see derive below):
#
#   url            the value, formatted into the request URL as KEDA formats
#                  it ("format", e.g. "%s/api/v1/query"), read by Go's
#                  net/url as KEDA's HTTP clients read it
#   url_list       a comma-separated list, each element as url
#   url_hostport   fields [host, port] joined as Go's net.JoinHostPort and
#                  formatted into a URL
#   address        a host, host:port or URL dialed directly
#   address_list   a comma-separated list of addresses
#   grpc           a gRPC target (grpc.NewClient): dns:///host:port,
#                  passthrough:///host:port, unix:path or host:port
#   template       activemq and artemis REST API templates: a URL whose host
#                  may be the <<managementEndpoint>> placeholder
#   mysql          fields [host, port] in the DSN KEDA formats and
#                  go-sql-driver/mysql parses back
#   mongodb        a connection string, or fields [scheme, host, port] in
#                  the connection string KEDA formats, as the Go driver
#                  reads it (hosts split on ",")
#   mssql          a host, with an instance name after "\"
#   azure_name     fields [name, suffix]: the name before the cloud's
#                  endpoint suffix ("format", e.g. "https://%s.%s"), the
#                  suffix from the metadata (cloud: Private) or the cloud's
#                  ("suffix": which of the cloud's suffixes)
#   azure_storage_connection  a storage connection string (BlobEndpoint or
#                  QueueEndpoint, or DefaultEndpointsProtocol, AccountName
#                  and EndpointSuffix)
#   cosmos_connection  a Cosmos DB connection string (AccountEndpoint)
#   elastic_cloud_id   an Elastic Cloud ID: "name:" and base64 of
#                  "host$es_uuid$kibana_uuid", https://<es_uuid>.<host>
#   fixed          the cloud's own public API; no metadata field names a host
#                  ("host" says which)
#
# A field KEDA reads from the TriggerAuthentication first is still checked
# when it is in the metadata.
endpoint_rows := [
	{"type": "activemq", "fields": ["managementEndpoint"], "how": "url", "format": "http://%s/api/jolokia"},
	{"type": "activemq", "fields": ["restAPITemplate"], "how": "template"},
	{"type": "apache-kafka", "fields": ["bootstrapServers"], "how": "address_list"},
	{"type": "arangodb", "fields": ["endpoints"], "how": "url_list", "format": "%s/_api"},
	{"type": "artemis-queue", "fields": ["managementEndpoint"], "how": "url", "format": "http://%s/console/jolokia"},
	{"type": "artemis-queue", "fields": ["restApiTemplate"], "how": "template"},
	{"type": "aws-cloudwatch", "fields": ["awsEndpoint"], "how": "url"},
	{"type": "aws-cloudwatch", "fields": ["awsRegion"], "how": "fixed", "host": "monitoring.<awsRegion>.amazonaws.com"},
	{"type": "aws-dynamodb", "fields": ["awsEndpoint"], "how": "url"},
	{"type": "aws-dynamodb", "fields": ["awsRegion"], "how": "fixed", "host": "dynamodb.<awsRegion>.amazonaws.com"},
	{"type": "aws-dynamodb-streams", "fields": ["awsEndpoint"], "how": "url"},
	{"type": "aws-dynamodb-streams", "fields": ["awsRegion"], "how": "fixed", "host": "streams.dynamodb.<awsRegion>.amazonaws.com"},
	{"type": "aws-kinesis-stream", "fields": ["awsEndpoint"], "how": "url"},
	{"type": "aws-kinesis-stream", "fields": ["awsRegion"], "how": "fixed", "host": "kinesis.<awsRegion>.amazonaws.com"},
	{"type": "aws-sqs-queue", "fields": ["awsEndpoint"], "how": "url"},
	{"type": "aws-sqs-queue", "fields": ["awsRegion", "queueURL"], "how": "fixed", "host": "sqs.<awsRegion>.amazonaws.com (KEDA takes only the queue name from queueURL)"},
	{"type": "azure-app-insights", "fields": ["appInsightsResourceURL"], "how": "url", "format": "%s/v1/apps"},
	{"type": "azure-app-insights", "fields": ["activeDirectoryEndpoint"], "how": "url"},
	{"type": "azure-blob", "fields": ["accountName", "endpointSuffix"], "how": "azure_name", "format": "https://%s.%s", "suffix": "blob"},
	{"type": "azure-blob", "fields": ["connection"], "how": "azure_storage_connection", "suffix": "blob"},
	{"type": "azure-cosmosdb", "fields": ["endpoint"], "how": "url", "format": "%s/dbs"},
	{"type": "azure-cosmosdb", "fields": ["leaseEndpoint"], "how": "url", "format": "%s/dbs"},
	{"type": "azure-cosmosdb", "fields": ["connection"], "how": "cosmos_connection"},
	{"type": "azure-cosmosdb", "fields": ["leaseConnection"], "how": "cosmos_connection"},
	{"type": "azure-cosmosdb", "fields": ["activeDirectoryEndpoint"], "how": "url"},
	{"type": "azure-data-explorer", "fields": ["endpoint"], "how": "url"},
	{"type": "azure-data-explorer", "fields": ["activeDirectoryEndpoint"], "how": "url"},
	{"type": "azure-eventhub", "fields": ["eventHubNamespace", "endpointSuffix"], "how": "azure_name", "format": "amqps://%s.%s/", "suffix": "servicebus"},
	{"type": "azure-eventhub", "fields": ["storageAccountName", "storageEndpointSuffix"], "how": "azure_name", "format": "https://%s.blob.%s", "suffix": "storage"},
	{"type": "azure-log-analytics", "fields": ["logAnalyticsResourceURL"], "how": "url", "format": "%s/v1"},
	{"type": "azure-monitor", "fields": ["azureResourceManagerEndpoint"], "how": "url"},
	{"type": "azure-pipelines", "fields": ["organizationURL"], "how": "url", "format": "%s/_apis/distributedtask/pools"},
	{"type": "azure-queue", "fields": ["accountName", "endpointSuffix"], "how": "azure_name", "format": "https://%s.%s/", "suffix": "queue"},
	{"type": "azure-queue", "fields": ["connection"], "how": "azure_storage_connection", "suffix": "queue"},
	{"type": "azure-servicebus", "fields": ["namespace", "endpointSuffix"], "how": "azure_name", "format": "https://%s.%s/", "suffix": "servicebus"},
	{"type": "beanstalkd", "fields": ["server"], "how": "address"},
	{"type": "cassandra", "fields": ["clusterIPAddress"], "how": "address"},
	{"type": "clickhouse", "fields": ["host", "port"], "how": "url_hostport", "format": "clickhouse://%s/"},
	{"type": "couchdb", "fields": ["host", "port"], "how": "url_hostport", "format": "http://%s/"},
	{"type": "couchdb", "fields": ["connectionString"], "how": "url"},
	{"type": "datadog", "fields": [], "how": "fixed", "host": "api.<datadogSite> or the Datadog Cluster Agent, both from the TriggerAuthentication"},
	{"type": "dynatrace", "fields": ["host"], "how": "url", "format": "%s/api/v2/metrics/query"},
	{"type": "elastic-forecast", "fields": ["addresses"], "how": "url_list"},
	{"type": "elastic-forecast", "fields": ["cloudID"], "how": "elastic_cloud_id"},
	{"type": "elasticsearch", "fields": ["addresses"], "how": "url_list"},
	{"type": "elasticsearch", "fields": ["cloudID"], "how": "elastic_cloud_id"},
	{"type": "etcd", "fields": ["endpoints"], "how": "address_list"},
	{"type": "external", "fields": ["scalerAddress"], "how": "grpc"},
	{"type": "external-push", "fields": ["scalerAddress"], "how": "grpc"},
	{"type": "forgejo-runner", "fields": ["address"], "how": "url", "format": "%s/api/v1"},
	{"type": "gcp-cloudtasks", "fields": [], "how": "fixed", "host": "cloudtasks.googleapis.com, monitoring.googleapis.com"},
	{"type": "gcp-pubsub", "fields": [], "how": "fixed", "host": "monitoring.googleapis.com"},
	{"type": "gcp-spanner", "fields": [], "how": "fixed", "host": "spanner.googleapis.com"},
	{"type": "gcp-stackdriver", "fields": [], "how": "fixed", "host": "monitoring.googleapis.com"},
	{"type": "gcp-storage", "fields": [], "how": "fixed", "host": "storage.googleapis.com"},
	{"type": "github-runner", "fields": ["githubApiURL"], "how": "url", "format": "%s/repos"},
	{"type": "graphite", "fields": ["serverAddress"], "how": "url", "format": "%s/render"},
	{"type": "huawei-cloudeye", "fields": [], "how": "fixed", "host": "the IdentityEndpoint and Cloud of the TriggerAuthentication"},
	{"type": "ibmmq", "fields": ["host"], "how": "url"},
	{"type": "influxdb", "fields": ["serverURL"], "how": "url", "format": "%s/api/v2"},
	{"type": "kafka", "fields": ["bootstrapServers"], "how": "address_list"},
	{"type": "liiklus", "fields": ["address"], "how": "grpc"},
	{"type": "loki", "fields": ["serverAddress"], "how": "url", "format": "%s/loki/api/v1/query"},
	{"type": "metrics-api", "fields": ["url"], "how": "url"},
	{"type": "mongodb", "fields": ["connectionString"], "how": "mongodb"},
	{"type": "mongodb", "fields": ["scheme", "host", "port"], "how": "mongodb"},
	{"type": "mssql", "fields": ["host"], "how": "mssql"},
	{"type": "mysql", "fields": ["host", "port"], "how": "mysql"},
	{"type": "nats-jetstream", "fields": ["natsServerMonitoringEndpoint"], "how": "url", "format": "http://%s/jsz"},
	{"type": "new-relic", "fields": ["region"], "how": "fixed", "host": "the New Relic API of the region (US or EU)"},
	{"type": "nsq", "fields": ["nsqLookupdHTTPAddresses"], "how": "url_list", "format": "http://%s/lookup"},
	{"type": "opensearch", "fields": ["addresses"], "how": "url_list"},
	{"type": "openstack-metric", "fields": ["metricsURL"], "how": "url"},
	{"type": "openstack-swift", "fields": ["swiftURL"], "how": "url"},
	{"type": "postgresql", "fields": ["host"], "how": "address_list"},
	{"type": "predictkube", "fields": ["prometheusAddress"], "how": "url", "format": "%s/api/v1/query"},
	{"type": "predictkube", "fields": [], "how": "fixed", "host": "api.predictkube.com"},
	{"type": "prometheus", "fields": ["serverAddress"], "how": "url", "format": "%s/api/v1/query"},
	{"type": "pulsar", "fields": ["adminURL"], "how": "url", "format": "%s/admin/v2/persistent"},
	{"type": "rabbitmq", "fields": ["host"], "how": "url"},
	{"type": "redis", "fields": ["address", "addresses"], "how": "address_list"},
	{"type": "redis", "fields": ["host", "hosts"], "how": "address_list"},
	{"type": "redis-cluster", "fields": ["address", "addresses"], "how": "address_list"},
	{"type": "redis-cluster", "fields": ["host", "hosts"], "how": "address_list"},
	{"type": "redis-cluster-streams", "fields": ["address", "addresses"], "how": "address_list"},
	{"type": "redis-cluster-streams", "fields": ["host", "hosts"], "how": "address_list"},
	{"type": "redis-sentinel", "fields": ["address", "addresses"], "how": "address_list"},
	{"type": "redis-sentinel", "fields": ["host", "hosts"], "how": "address_list"},
	{"type": "redis-sentinel-streams", "fields": ["address", "addresses"], "how": "address_list"},
	{"type": "redis-sentinel-streams", "fields": ["host", "hosts"], "how": "address_list"},
	{"type": "redis-streams", "fields": ["address", "addresses"], "how": "address_list"},
	{"type": "redis-streams", "fields": ["host", "hosts"], "how": "address_list"},
	{"type": "selenium-grid", "fields": ["url"], "how": "url"},
	{"type": "solace-direct-messaging", "fields": ["solaceSempBaseURL"], "how": "url_list", "format": "%s/SEMP"},
	{"type": "solace-event-queue", "fields": ["solaceSempBaseURL"], "how": "url_list", "format": "%s/SEMP/v2/monitor"},
	{"type": "solarwinds", "fields": ["host"], "how": "url"},
	{"type": "solr", "fields": ["host"], "how": "url", "format": "%s/solr/"},
	{"type": "splunk", "fields": ["host"], "how": "url", "format": "%s/servicesNS/"},
	{"type": "splunk-observability", "fields": [], "how": "fixed", "host": "the Splunk Observability realm of the TriggerAuthentication"},
	{"type": "sumologic", "fields": ["host"], "how": "url", "format": "%s/api/v1"},
	{"type": "temporal", "fields": ["endpoint"], "how": "grpc"},
]

# no_endpoint_types are the trigger types KEDA knows that call no network
# endpoint of the user's choosing (the Kubernetes API, or nothing).
no_endpoint_types := {"cpu", "memory", "cron", "kubernetes-workload", "kubernetes-resource", "external-mock"}

# known_types are the trigger types of KEDA v2.21 (pkg/scaling/scalers_builder.go).
known_types := {row.type | some row in endpoint_rows} | no_endpoint_types

# rows_by_type indexes endpoint_rows by trigger type.
rows_by_type[t] contains row if {
	some row in endpoint_rows
	t := row.type
}

# row_fields are, per trigger type, the metadata keys its rows read.
row_fields(t) := {f |
	some row in rows_by_type[t]
	some f in row.fields
}

# url_keys are the trigger metadata keys that hold one URL or one host:port
# KEDA calls, checked for every trigger type whose rows do not read the key
# (so also for keys a newer KEDA might add to a known type). The value is
# one address: a comma in it is part of a path or query, not a separator.
url_keys := {
	"serverAddress", "url", "metricsURL", "metricsUrl", "endpoint", "leaseEndpoint",
	"managementEndpoint", "restAPITemplate", "restApiTemplate", "adminURL", "serverURL",
	"githubApiURL", "organizationURL", "solaceSempBaseURL", "swiftURL", "prometheusAddress",
	"scalerAddress", "awsEndpoint", "azureResourceManagerEndpoint", "appInsightsResourceURL",
	"logAnalyticsResourceURL", "activeDirectoryEndpoint",
}

# list_keys are the trigger metadata keys that hold a host, host:port or URL,
# or a comma-separated list of them, checked like url_keys. Every element of
# the list is checked.
list_keys := {
	"host", "hosts", "address", "addresses", "bootstrapServers", "endpoints",
	"clusterIPAddress", "server", "natsServerMonitoringEndpoint", "nsqLookupdHTTPAddresses",
}

# template_placeholder is the host of the artemis REST API template that
# KEDA replaces with managementEndpoint, checked on its own.
template_placeholder := "<<managementendpoint>>"

# host_of extracts the host of an address leniently: the part after
# scheme:// and user@ (up to the last @ before the path, as Go's net/url
# reads it), up to a port, path, query or fragment. It reads a host:port
# that net/url would not (KEDA's dialers take host:port).
host_of(address) := trim_suffix(lower(regex.find_all_string_submatch_n(`^(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:[^/?#]*@)?(\[[^\]]*\]|[^:/?#]*)`, address, 1)[0][1]), ".")

# url_host is the host Go's net/url reads from a URL (an IPv6 literal in
# brackets, as host_of and the allowlist write it). Where net/url finds no
# absolute URL with a host, KEDA's HTTP client would call nothing; the host
# a lenient reading finds (host_of) is checked all the same, so that a
# client that reads the value some other way cannot slip by.
url_host(u) := bracketed(parsed.hostname) if {
	parsed := mlscale.parse_url(u)
	parsed.ok
} else := host_of(trim_space(u))

bracketed(h) := sprintf("[%s]", [h]) if contains(h, ":")

bracketed(h) := h if not contains(h, ":")

# join_host_port is Go's net.JoinHostPort.
join_host_port(host, port) := sprintf("[%s]:%s", [host, port]) if contains(host, ":")

join_host_port(host, port) := sprintf("%s:%s", [host, port]) if not contains(host, ":")

# tcp_host is the host of a host:port as Go's net.SplitHostPort reads it (the
# whole address when it has no port).
tcp_host(address) := trim_suffix(lower(regex.find_all_string_submatch_n(`^\[([^\]]*)\]`, address, 1)[0][1]), ".") if {
	startswith(address, "[")
} else := trim_suffix(lower(regex.replace(address, `:[^:]*$`, "")), ".")

# field is a metadata value as KEDA's typed configuration reads it: trimmed,
# "" when absent or not a string.
field(md, key) := trim_space(md[key]) if {
	is_string(md[key])
} else := ""

# elements are the non-empty trimmed elements of a comma-separated list.
elements(value) := [trim_space(e) | some e in split(value, ","); trim_space(e) != ""]

# derive(row, md) is the set of [metadata key, host] of one row for the
# trigger metadata md, empty when its fields are not set.
derive(row, md) := {[key, url_host(sprintf(object.get(row, "format", "%s"), [v]))] |
	key := row.fields[0]
	v := field(md, key)
	v != ""
} if row.how == "url"

derive(row, md) := {[key, url_host(sprintf(object.get(row, "format", "%s"), [e]))] |
	key := row.fields[0]
	some e in elements(field(md, key))
} if row.how == "url_list"

derive(row, md) := {[key, url_host(sprintf(row.format, [join_host_port(host, field(md, row.fields[1]))]))] |
	key := row.fields[0]
	host := field(md, key)
	host != ""
} if row.how == "url_hostport"

derive(row, md) := {[key, host_of(v)] |
	key := row.fields[0]
	v := field(md, key)
	v != ""
} if row.how == "address"

derive(row, md) := {[key, host_of(e)] |
	some key in row.fields
	some e in elements(field(md, key))
} if row.how == "address_list"

derive(row, md) := {[key, host] |
	key := row.fields[0]
	v := field(md, key)
	v != ""
	some host in grpc_hosts(v)
} if row.how == "grpc"

derive(row, md) := {[key, host] |
	key := row.fields[0]
	v := field(md, key)
	v != ""
	host := url_host(v)
	host != template_placeholder
} if row.how == "template"

derive(row, md) := {[key, host] |
	host := mysql_host(field(md, "host"), field(md, "port"))
	key := port_or_host(field(md, "port"))
} if row.how == "mysql"

derive(row, md) := {["connectionString", host] |
	some host in mongodb_hosts(field(md, "connectionString"))
} if {
	row.how == "mongodb"
	row.fields == ["connectionString"]
}

derive(row, md) := {[key, host] |
	field(md, "host") != ""
	scheme := mongodb_scheme(field(md, "scheme"))
	key := mongodb_key(scheme)
	some host in mongodb_hosts(mongodb_connection_string(scheme, field(md, "host"), field(md, "port")))
} if {
	row.how == "mongodb"
	row.fields == ["scheme", "host", "port"]
}

derive(row, md) := {[key, host_of(split(v, `\`)[0])] |
	key := row.fields[0]
	v := field(md, key)
	v != ""
} if row.how == "mssql"

derive(row, md) := {[key, host] |
	[name_key, suffix_key] := row.fields
	name := field(md, name_key)
	suffix := field(md, suffix_key)
	[name, suffix] != ["", ""]
	host := url_host(sprintf(row.format, [name_or_star(name), suffix_or(suffix, cloud_suffix(md, row.suffix))]))
	not azure_cloud_host(host)
	key := azure_checked_key(name_key, name, suffix_key, suffix)
} if row.how == "azure_name"

derive(row, md) := {[key, host] |
	key := row.fields[0]
	host := url_host(storage_connection_url(field(md, key), row.suffix))
	not azure_cloud_host(host)
} if row.how == "azure_storage_connection"

derive(row, md) := {[key, host] |
	key := row.fields[0]
	some endpoint in cosmos_account_endpoint(field(md, key))
	host := url_host(sprintf("%s/dbs", [endpoint]))
} if row.how == "cosmos_connection"

derive(row, md) := {[key, host] |
	key := row.fields[0]
	host := elastic_cloud_host(field(md, key))
} if row.how == "elastic_cloud_id"

derive(row, _) := set() if row.how == "fixed"

# grpc_hosts are the hosts gRPC (grpc.NewClient) contacts for a target: the
# endpoint of a dns: or passthrough: target (and the DNS server named as a
# dns: authority), nothing for a unix: socket; any other target (host:port,
# or a scheme gRPC has no resolver for) is read as dns:///target.
grpc_hosts(target) := hosts if {
	[scheme, rest] := grpc_split(target)
	scheme in {"dns", "passthrough"}
	hosts := {h | some h in grpc_uri_hosts(rest); h != ""}
} else := set() if {
	[scheme, _] := grpc_split(target)
	scheme in {"unix", "unix-abstract", "vsock"}
} else := {h | some h in ({host_of(target)} | grpc_other_hosts(target)); h != ""}

# grpc_other_hosts: a scheme://authority/endpoint target with a scheme the
# policy does not model (xds, ...; gRPC may have a resolver for it): the
# hosts of its URI are checked too.
grpc_other_hosts(target) := grpc_uri_hosts(rest) if {
	[_, rest] := grpc_split(target)
	startswith(rest, "//")
} else := set()

grpc_split(target) := [lower(m[1]), m[2]] if {
	m := regex.find_all_string_submatch_n(`^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$`, target, 1)[0]
}

# grpc_uri_hosts: after "scheme:", "//authority/endpoint" or "endpoint".
grpc_uri_hosts(rest) := {tcp_host(authority), host_of(endpoint)} if {
	m := regex.find_all_string_submatch_n(`^//([^/]*)/?(.*)$`, rest, 1)[0]
	authority := m[1]
	authority != ""
	endpoint := m[2]
} else := {host_of(trim_prefix(rest_endpoint(rest), "/"))}

rest_endpoint(rest) := regex.replace(rest, `^//[^/]*`, "") if startswith(rest, "//")

rest_endpoint(rest) := rest if not startswith(rest, "//")

# mysql_host: KEDA formats user[:password]@tcp(host:port)/dbname
# (net.JoinHostPort, then go-sql-driver's FormatDSN), and the driver parses
# it back: the address is between the first "(" after the last "@" and the
# ")" before the last "/". A host or port with "@" or ")" in it moves it.
mysql_host(host, port) := tcp_host(address) if {
	host != ""
	tail := sprintf("tcp(%s)", [join_host_port(host, port)])
	after := after_last(tail, "@")
	open := indexof(after, "(")
	open >= 0
	substring(after, 0, open) != "unix"
	address := substring(after, open + 1, (count(after) - open) - 2)
	address != ""
}

after_last(s, sep) := substring(s, max(indexof_n(s, sep)) + 1, -1) if {
	contains(s, sep)
} else := s

port_or_host(port) := "port" if {
	port != ""
	not regex.match(`^[0-9]+$`, port)
} else := "host"

# mongodb_hosts are the hosts of a MongoDB connection string as the Go
# driver reads it: after mongodb:// or mongodb+srv:// and the user
# information (up to the first "@"), up to the first "/", "?" or "@", split
# on ","; for mongodb+srv the name KEDA looks up the SRV records of.
mongodb_hosts(uri) := {host_of(h) |
	some prefix in ["mongodb://", "mongodb+srv://"]
	startswith(uri, prefix)
	rest := substring(uri, count(prefix), -1)
	authority := regex.find_n(`^[^/?@]*`, after_first(rest, "@"), 1)[0]
	some h in elements(authority)
}

after_first(s, sep) := substring(s, indexof(s, sep) + count(sep), -1) if {
	contains(s, sep)
} else := s

# mongodb_connection_string is the string KEDA formats from scheme, host and
# port (url.URL.String: the host escaped, the scheme not; the user
# information is always there, KEDA requires it).
mongodb_connection_string(scheme, host, port) := sprintf("%s://u:p@%s/db", [scheme, url_escape_host(host)]) if {
	scheme == "mongodb+srv"
} else := sprintf("%s://u:p@%s/db", [scheme, url_escape_host(join_host_port(host, port))])

mongodb_scheme(scheme) := scheme if scheme != ""

mongodb_scheme("") := "mongodb"

mongodb_key(scheme) := "host" if {
	scheme in {"mongodb", "mongodb+srv"}
} else := "scheme"

url_escape_host(h) := strings.replace_n({"%": "%25", "/": "%2F", "?": "%3F", "@": "%40", "#": "%23", " ": "%20"}, h)

# Azure: KEDA calls <name>.<suffix>. The suffix is the metadata's
# endpointSuffix (storageEndpointSuffix for the Event Hub checkpoint store)
# with cloud: Private, or the cloud's; the policy takes the metadata's
# whenever it is set. "*" stands for a name that comes from a connection
# string. A name that is one DNS label under one of the clouds' own
# suffixes is the cloud's public endpoint, which is not checked.
azure_clouds := {
	"AZUREPUBLICCLOUD": {"storage": "core.windows.net", "servicebus": "servicebus.windows.net"},
	"AZURECLOUD": {"storage": "core.windows.net", "servicebus": "servicebus.windows.net"},
	"AZUREUSGOVERNMENT": {"storage": "core.usgovcloudapi.net", "servicebus": "servicebus.usgovcloudapi.net"},
	"AZUREUSGOVERNMENTCLOUD": {"storage": "core.usgovcloudapi.net", "servicebus": "servicebus.usgovcloudapi.net"},
	"AZURECHINACLOUD": {"storage": "core.chinacloudapi.cn", "servicebus": "servicebus.chinacloudapi.cn"},
	"AZUREGERMANCLOUD": {"storage": "core.cloudapi.de", "servicebus": "servicebus.cloudapi.de"},
}

azure_cloud(md) := azure_clouds[upper(field(md, "cloud"))] if {
	azure_clouds[upper(field(md, "cloud"))]
} else := azure_clouds.AZUREPUBLICCLOUD

cloud_suffix(md, "blob") := sprintf("blob.%s", [azure_cloud(md).storage])

cloud_suffix(md, "queue") := sprintf("queue.%s", [azure_cloud(md).storage])

cloud_suffix(md, "storage") := azure_cloud(md).storage

cloud_suffix(md, "servicebus") := azure_cloud(md).servicebus

azure_cloud_host(host) if {
	some cloud in azure_clouds
	some suffix in [
		sprintf(".blob.%s", [cloud.storage]),
		sprintf(".queue.%s", [cloud.storage]),
		sprintf(".%s", [cloud.servicebus]),
	]
	endswith(host, suffix)
	regex.match(`^([a-z0-9-]+|\*)$`, trim_suffix(host, suffix))
}

# azure_checked_key names the field that makes the host: the name when it is
# not a plain DNS label (it moves the host), else the suffix when set.
azure_checked_key(name_key, name, suffix_key, suffix) := name_key if {
	name != ""
	not regex.match(`^[a-zA-Z0-9-]+$`, name)
} else := suffix_key if {
	suffix != ""
} else := name_key

name_or_star(name) := name if {
	name != ""
} else := "*"

suffix_or(suffix, default_suffix) := suffix if {
	suffix != ""
} else := default_suffix

# storage_connection_url is the service URL the Azure storage SDK reads
# from a connection string: BlobEndpoint (QueueEndpoint), or
# DefaultEndpointsProtocol://AccountName.blob.EndpointSuffix (https and
# core.windows.net by default); the last of a repeated field counts.
storage_connection_url(conn, service) := url if {
	parts := split(trim_right(conn, ";"), ";")
	every part in parts {
		contains(part, "=")
	}
	pairs := [[substring(p, 0, indexof(p, "=")), substring(p, indexof(p, "=") + 1, -1)] | some p in parts]
	url := storage_service_url(pairs, service)
}

storage_service_url(pairs, "blob") := connection_field(pairs, "BlobEndpoint")

storage_service_url(pairs, "queue") := connection_field(pairs, "QueueEndpoint")

storage_service_url(pairs, service) := sprintf("%s://%s.%s.%s", [
	connection_field_or(pairs, "DefaultEndpointsProtocol", "https"),
	connection_field(pairs, "AccountName"),
	service,
	connection_field_or(pairs, "EndpointSuffix", "core.windows.net"),
]) if {
	not connection_field(pairs, sprintf("%sEndpoint", [service_endpoint_name(service)]))
	connection_field(pairs, "AccountName")
}

service_endpoint_name("blob") := "Blob"

service_endpoint_name("queue") := "Queue"

connection_field(pairs, name) := pairs[i][1] if {
	indices := [j | some j, p in pairs; p[0] == name]
	count(indices) > 0
	i := max(indices)
}

connection_field_or(pairs, name, default_value) := connection_field(pairs, name) if {
	connection_field(pairs, name)
} else := default_value

# cosmos_account_endpoint is the AccountEndpoint of a Cosmos DB connection
# string (";"-separated, trimmed; the last one counts).
cosmos_account_endpoint(conn) := {e} if {
	endpoints := [trim_prefix(trim_space(p), "AccountEndpoint=") |
		some p in split(conn, ";")
		startswith(trim_space(p), "AccountEndpoint=")
	]
	count(endpoints) > 0
	e := endpoints[count(endpoints) - 1]
}

# elastic_cloud_host: go-elasticsearch splits a Cloud ID on ":" (exactly
# two parts), base64-decodes the second, splits it on "$" and calls
# https://<es_uuid>.<host>.
elastic_cloud_host(cloud_id) := url_host(sprintf("https://%s.%s", [parts[1], parts[0]])) if {
	halves := split(cloud_id, ":")
	count(halves) == 2
	base64.is_valid(halves[1])
	parts := split(base64.decode(halves[1]), "$")
	count(parts) >= 2
}

# endpoints are the [metadata key, host] pairs of a trigger: its rows, and
# the generic keys its rows do not read.
endpoints(trigger) := row_endpoints(trigger) | metadata_endpoints(trigger)

row_endpoints(trigger) := {[key, host] |
	md := trigger_metadata(trigger)
	some row in rows_by_type[trigger.type]
	some [key, host] in derive(row, md)
	host != ""
}

metadata_endpoints(trigger) := {[key, host] |
	covered := row_fields(object.get(trigger, "type", ""))
	some key, value in trigger_metadata(trigger)
	is_string(value)
	not key in covered
	some host in hosts(key, value)
	host != ""
	host != template_placeholder
}

trigger_metadata(trigger) := md if {
	md := object.get(trigger, "metadata", {})
	is_object(md)
} else := {}

# hosts are the hosts a generic metadata value names: one for a url_keys
# value, one per non-empty element for a list_keys value.
hosts(key, value) := {url_host(trim_space(value))} if {
	key in url_keys
	trim_space(value) != ""
}

hosts(key, value) := {host_of(e) | some e in elements(value)} if {
	key in list_keys
}

# address_like reports whether a metadata value (or an element of a
# comma-separated list) looks like a network address: a URL with a scheme,
# a host:port, a dotted host name or an IPv4 address.
address_like(value) if regex.match(`^[a-zA-Z][a-zA-Z0-9+.-]*://`, value)

address_like(value) if {
	some e in elements(value)
	address_element(e)
}

address_element(e) if regex.match(`^[a-zA-Z][a-zA-Z0-9+.-]*://`, e)

address_element(e) if regex.match(`^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9._-]*[a-zA-Z][a-zA-Z0-9._-]*|[0-9]{1,3}(\.[0-9]{1,3}){3}):[0-9]{1,5}(/.*)?$`, e)

address_element(e) if regex.match(`^([a-zA-Z0-9_-]+\.)+[a-zA-Z][a-zA-Z0-9-]*\.?(/.*)?$`, e)

address_element(e) if regex.match(`^[0-9]{1,3}(\.[0-9]{1,3}){3}$`, e)

# unknown_addresses are the metadata keys of a trigger of a type the
# policy does not know whose values look like an address (or are in a
# generic endpoint key).
unknown_addresses(trigger) := {key |
	not object.get(trigger, "type", "") in known_types
	some key, value in trigger_metadata(trigger)
	is_string(value)
	not endswith(key, "FromEnv")
	trim_space(value) != ""
	unknown_address_value(key, trim_space(value))
}

unknown_address_value(key, _) if key in url_keys

unknown_address_value(key, _) if key in list_keys

unknown_address_value(_, value) if address_like(value)

default allowlist := []

allowlist := data.config.allowedEndpoints

allowed(host) if {
	some pattern in allowlist
	glob.match(lower(pattern), ["."], host)
}

violation contains msg if {
	count(allowlist) > 0
	some e in lib.triggers
	some [key, host] in endpoints(e.trigger)
	not allowed(host)
	msg := sprintf(
		"trigger_endpoints: %s makes KEDA call %s (trigger %s, type %s, metadata.%s of %s), which is not on the allowed endpoints %v; use an allowed endpoint, or ask the cluster admins to add it to mlscale's policy configuration (allowedEndpoints)",
		[lib.subject, host, lib.trigger_ref(e), lib.trigger_type(e), key, lib.object_key(e.owner), allowlist],
	)
}

violation contains msg if {
	count(allowlist) > 0
	some e in lib.triggers
	some key in unknown_addresses(e.trigger)
	msg := sprintf(
		"trigger_endpoints: %s has trigger %s of type %q, which the policy does not know, and its metadata.%s (of %s) looks like an address: the policy cannot tell which host KEDA would build from it, so with allowed endpoints configured the trigger is denied; use a trigger type KEDA knows, or ask the cluster admins to update mlscale's trigger_endpoints policy",
		[lib.subject, lib.trigger_ref(e), lib.trigger_type(e), key, lib.object_key(e.owner)],
	)
}
