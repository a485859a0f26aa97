# Trigger endpoints must be on the configured allowlist, so that a user
# cannot make the KEDA operator call arbitrary addresses. The hosts of the
# endpoint metadata (serverAddress, host, url, bootstrapServers, addresses,
# ...; see url_keys, list_keys and endpointSuffix below) are matched against
# the glob patterns of data.config.allowedEndpoints ("." separates labels, so
# "*.monitoring.svc.cluster.local" matches one label). With no allowlist
# configured the policy is inactive.
#
# The ...FromEnv variants name an environment variable of the scale target
# and the TriggerAuthentication parameters live in Secrets: neither is
# visible at admission, so neither is checked.
package mlscale.policies.trigger_endpoints

import data.mlscale.lib

# url_keys are the trigger metadata keys that hold one URL or one host:port
# KEDA calls (prometheus, loki and graphite serverAddress, metrics-api and
# selenium-grid url, openstack-metric metricsURL, temporal, cosmosdb and
# azure-data-explorer endpoint, activemq and artemis managementEndpoint and
# REST API template, pulsar adminURL, influxdb serverURL, github-runner
# githubApiURL, azure-pipelines organizationURL, solace solaceSempBaseURL,
# openstack-swift swiftURL, predictkube prometheusAddress, external
# scalerAddress, the AWS scalers' awsEndpoint, the Azure scalers' resource
# manager, Application Insights, Log Analytics and Active Directory
# endpoints). The value is one address: a comma in it is part of a path or
# query, not a separator.
url_keys := {
	"serverAddress", "url", "metricsURL", "metricsUrl", "endpoint", "leaseEndpoint",
	"managementEndpoint", "restAPITemplate", "restApiTemplate", "adminURL", "serverURL",
	"githubApiURL", "organizationURL", "solaceSempBaseURL", "swiftURL", "prometheusAddress",
	"scalerAddress", "awsEndpoint", "azureResourceManagerEndpoint", "appInsightsResourceURL",
	"logAnalyticsResourceURL", "activeDirectoryEndpoint",
}

# list_keys are the trigger metadata keys that hold a host, host:port or URL,
# or a comma-separated list of them (kafka and apache-kafka
# bootstrapServers; redis, redis-cluster and redis-sentinel address,
# addresses, host and hosts; elasticsearch, opensearch and elastic-forecast
# addresses; arangodb and etcd endpoints; mongodb, mysql, postgresql, mssql,
# clickhouse, couchdb, rabbitmq, ibmmq, solr, splunk, sumologic, dynatrace
# and solarwinds host; cassandra clusterIPAddress; beanstalkd server; NATS
# JetStream and STAN natsServerMonitoringEndpoint; nsq
# nsqLookupdHTTPAddresses; liiklus and forgejo-runner address). Every
# element of the list is checked.
list_keys := {
	"host", "hosts", "address", "addresses", "bootstrapServers", "endpoints",
	"clusterIPAddress", "server", "natsServerMonitoringEndpoint", "nsqLookupdHTTPAddresses",
}

# template_placeholder is the host of the activemq and artemis REST API
# templates that KEDA replaces with managementEndpoint, checked on its own.
template_placeholder := "<<managementendpoint>>"

# host_of extracts the host of an address: the part after scheme:// and
# user@ (up to the last @ before the path, as Go's net/url reads it), up to a
# port, path, query or fragment.
host_of(address) := lower(regex.find_all_string_submatch_n(`^(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:[^/?#]*@)?(\[[^\]]*\]|[^:/?#]*)`, address, 1)[0][1])

# hosts are the hosts a metadata value names: one for a url_keys value, one
# per non-empty element for a list_keys value.
hosts(key, value) := {host_of(trim_space(value))} if {
	key in url_keys
	trim_space(value) != ""
}

hosts(key, value) := {host_of(trim_space(element)) |
	some element in split(value, ",")
	trim_space(element) != ""
} if {
	key in list_keys
}

# endpoints are the [metadata key, host] pairs of a trigger.
endpoints(trigger) := metadata_endpoints(object.get(trigger, "metadata", {})) | azure_endpoints(trigger)

metadata_endpoints(metadata) := {[key, host] |
	some key, value in metadata
	is_string(value)
	some host in hosts(key, value)
	host != template_placeholder
}

# azure_names are, per Azure trigger type, the metadata key of the name KEDA
# puts before the endpoint suffix, and the public cloud's suffix.
azure_names := {
	"azure-queue": ["accountName", "queue.core.windows.net"],
	"azure-blob": ["accountName", "blob.core.windows.net"],
	"azure-servicebus": ["namespace", "servicebus.windows.net"],
	"azure-eventhub": ["eventHubNamespace", "servicebus.windows.net"],
}

# azure_endpoints: KEDA calls <name>.<endpointSuffix> (accountName for
# azure-queue and azure-blob, namespace for azure-servicebus,
# eventHubNamespace for azure-eventhub). It is checked when endpointSuffix is
# set (a private cloud), or when the name is not a single DNS label and so
# could move the host ("evil.example.com/"); "*" stands for a name that comes
# from a connection string.
azure_endpoints(trigger) := {[key, host]} if {
	[name_key, public_suffix] := azure_names[trigger.type]
	metadata := object.get(trigger, "metadata", {})
	name := trim_space(string_or_empty(metadata, name_key))
	suffix := trim_space(string_or_empty(metadata, "endpointSuffix"))
	key := azure_checked_key(name_key, name, suffix)
	host := host_of(sprintf("https://%s.%s", [name_or_star(name), suffix_or(suffix, public_suffix)]))
} else := set()

azure_checked_key(_, _, suffix) := "endpointSuffix" if suffix != ""

azure_checked_key(name_key, name, suffix) := name_key if {
	suffix == ""
	name != ""
	not regex.match(`^[a-zA-Z0-9-]+$`, name)
}

string_or_empty(obj, key) := obj[key] if {
	is_string(obj[key])
} else := ""

name_or_star(name) := name if {
	name != ""
} else := "*"

suffix_or(suffix, default_suffix) := suffix if {
	suffix != ""
} else := default_suffix

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
