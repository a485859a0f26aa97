package mlscale.policies.trigger_endpoints_test

import data.mlscale.policies.trigger_endpoints as policy

scaled_object(trigger) := {
	"apiVersion": "keda.sh/v1alpha1",
	"kind": "ScaledObject",
	"metadata": {"name": "llm", "namespace": "ml"},
	"spec": {"scaleTargetRef": {"name": "llm"}, "triggers": [trigger]},
}

review(trigger) := {"kind": "ScaledObject", "namespace": "ml", "object": scaled_object(trigger)}

prometheus(address) := {"type": "prometheus", "name": "queue", "metadata": {"serverAddress": address, "query": "up"}}

config := {"allowedEndpoints": ["*.monitoring.svc.cluster.local", "rabbitmq.*.svc.cluster.local"]}

test_endpoint_not_allowed_denied if {
	msgs := policy.violation with input as review(prometheus("http://evil.example.com:9090")) with data.config as config
	count(msgs) == 1
	some msg in msgs
	contains(msg, "trigger_endpoints: ScaledObject ml/llm makes KEDA call evil.example.com (trigger \"queue\", type prometheus, metadata.serverAddress")
	contains(msg, "allowedEndpoints")
}

test_endpoint_allowed if {
	count(policy.violation) == 0 with input as review(prometheus("http://prometheus.monitoring.svc.cluster.local:9090")) with data.config as config
}

test_glob_star_matches_one_label_only if {
	count(policy.violation) == 1 with input as review(prometheus("http://a.b.monitoring.svc.cluster.local:9090")) with data.config as config
}

test_rabbit_host_with_user_allowed if {
	t := {"type": "rabbitmq", "metadata": {"host": "amqp://guest@rabbitmq.ml.svc.cluster.local:5672/vhost", "queueName": "q"}}
	count(policy.violation) == 0 with input as review(t) with data.config as config
}

test_host_is_case_insensitive if {
	count(policy.violation) == 0 with input as review(prometheus("HTTP://Prometheus.Monitoring.svc.cluster.local")) with data.config as config
}

test_no_allowlist_inactive if {
	count(policy.violation) == 0 with input as review(prometheus("http://evil.example.com:9090"))
}

test_ip_address_denied if {
	count(policy.violation) == 1 with input as review(prometheus("http://169.254.169.254/latest")) with data.config as config
}

test_non_endpoint_keys_ignored if {
	t := {"type": "cpu", "metadata": {"type": "Utilization", "value": "80"}}
	count(policy.violation) == 0 with input as review(t) with data.config as config
}

# data_config also allows the data stores of the namespace data.
data_config := {"allowedEndpoints": ["*.monitoring.svc.cluster.local", "*.data.svc.cluster.local", "10.0.0.*"]}

trigger(type, metadata) := {"type": type, "metadata": metadata}

violations(t) := msgs if {
	msgs := policy.violation with input as review(t) with data.config as data_config
}

denied_hosts(t) := {host |
	some msg in violations(t)
	host := regex.find_all_string_submatch_n(`makes KEDA call (\S*) \(trigger `, msg, 1)[0][1]
}

test_unnamed_trigger_named_by_index if {
	msgs := violations(trigger("kafka", {"bootstrapServers": "evil.example.com:9092", "topic": "t"}))
	count(msgs) == 1
	some msg in msgs
	contains(msg, "makes KEDA call evil.example.com (trigger spec.triggers[0], type kafka, metadata.bootstrapServers of ScaledObject ml/llm), which is not on the allowed endpoints [\"*.monitoring.svc.cluster.local\", \"*.data.svc.cluster.local\", \"10.0.0.*\"]")
}

test_scaled_job_second_trigger_index if {
	sj := {
		"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledJob",
		"metadata": {"name": "train", "namespace": "ml"},
		"spec": {"triggers": [
			trigger("redis", {"address": "redis.data.svc.cluster.local:6379", "listName": "l"}),
			trigger("redis", {"address": "evil.example.com:6379", "listName": "l"}),
		]},
	}
	msgs := policy.violation with input as {"kind": "ScaledJob", "namespace": "ml", "object": sj} with data.config as data_config
	count(msgs) == 1
	some msg in msgs
	contains(msg, "(trigger spec.triggers[1], type redis, metadata.address of ScaledJob ml/train)")
}

test_kafka_bootstrap_servers_every_broker_checked if {
	denied_hosts(trigger("kafka", {"bootstrapServers": "kafka-0.data.svc.cluster.local:9092, evil.example.com:9092,kafka-1.data.svc.cluster.local:9092,", "topic": "t"})) == {"evil.example.com"}
	count(violations(trigger("apache-kafka", {"bootstrapServers": "kafka-0.data.svc.cluster.local:9092,kafka-1.data.svc.cluster.local:9092", "topic": "t"}))) == 0
}

test_redis_keys_checked if {
	denied_hosts(trigger("redis", {"address": "evil.example.com:6379", "listName": "l"})) == {"evil.example.com"}
	denied_hosts(trigger("redis", {"host": "redis.data.svc.cluster.local,evil.example.com", "port": "6379,6379", "listName": "l"})) == {"evil.example.com"}
	denied_hosts(trigger("redis-cluster", {"addresses": "r-0.data.svc.cluster.local:6379,10.9.9.9:6379", "listName": "l"})) == {"10.9.9.9"}
	denied_hosts(trigger("redis-sentinel", {"hosts": "s-0.data.svc.cluster.local,evil.example.com", "ports": "26379,26379", "listName": "l"})) == {"evil.example.com"}
	count(violations(trigger("redis-cluster", {"addresses": "r-0.data.svc.cluster.local:6379,10.0.0.7:6379", "listName": "l"}))) == 0
}

test_elasticsearch_addresses_checked if {
	denied_hosts(trigger("elasticsearch", {"addresses": "https://es.data.svc.cluster.local:9200, https://user@evil.example.com:9200", "index": "i"})) == {"evil.example.com"}
	denied_hosts(trigger("opensearch", {"addresses": "http://os.example.org:9200", "index": "i"})) == {"os.example.org"}
}

test_nats_monitoring_endpoint_checked if {
	denied_hosts(trigger("nats-jetstream", {"natsServerMonitoringEndpoint": "nats.evil.example.com:8222", "stream": "s"})) == {"nats.evil.example.com"}
	denied_hosts(trigger("stan", {"natsServerMonitoringEndpoint": "stan.ml.svc:8222"})) == {"stan.ml.svc"}
	count(violations(trigger("nats-jetstream", {"natsServerMonitoringEndpoint": "nats.data.svc.cluster.local:8222"}))) == 0
}

test_database_hosts_checked if {
	every type in ["mongodb", "mysql", "postgresql", "mssql", "clickhouse", "couchdb"] {
		denied_hosts(trigger(type, {"host": "db.evil.example.com", "port": "5432", "query": "q"})) == {"db.evil.example.com"}
		count(violations(trigger(type, {"host": "db.data.svc.cluster.local", "port": "5432", "query": "q"}))) == 0
	}
	denied_hosts(trigger("mongodb", {"host": "m-0.data.svc.cluster.local:27017,m-1.evil.example.com:27017", "dbName": "d"})) == {"m-1.evil.example.com"}
}

test_cassandra_etcd_arangodb_checked if {
	denied_hosts(trigger("cassandra", {"clusterIPAddress": "cassandra.evil.example.com:9042", "keyspace": "k"})) == {"cassandra.evil.example.com"}
	denied_hosts(trigger("etcd", {"endpoints": "etcd-0.data.svc.cluster.local:2379,1.2.3.4:2379", "watchKey": "k"})) == {"1.2.3.4"}
	denied_hosts(trigger("arangodb", {"endpoints": "https://arango.example.org:8529", "query": "q"})) == {"arango.example.org"}
}

test_other_list_keys_checked if {
	denied_hosts(trigger("beanstalkd", {"server": "evil.example.com:11300", "tube": "t"})) == {"evil.example.com"}
	denied_hosts(trigger("nsq", {"nsqLookupdHTTPAddresses": "nsqlookupd.data.svc.cluster.local:4161,evil.example.com:4161"})) == {"evil.example.com"}
	denied_hosts(trigger("liiklus", {"address": "evil.example.com:6565", "topic": "t"})) == {"evil.example.com"}
}

# The generic keys are checked for every trigger type whose rows do not read
# them (cron has none). A type the policy does not know is denied whatever
# the host (test_unknown_type_*).
test_url_keys_checked if {
	every key in [
		"serverAddress", "url", "metricsURL", "endpoint", "leaseEndpoint", "managementEndpoint",
		"adminURL", "serverURL", "githubApiURL", "organizationURL", "solaceSempBaseURL", "swiftURL",
		"prometheusAddress", "scalerAddress", "awsEndpoint", "azureResourceManagerEndpoint",
		"appInsightsResourceURL", "logAnalyticsResourceURL", "activeDirectoryEndpoint",
	] {
		denied_hosts(trigger("cron", {key: "https://evil.example.com:8443/api"})) == {"evil.example.com"}
		count(violations(trigger("cron", {key: "https://svc.data.svc.cluster.local:8443/api"}))) == 0
	}
}

test_url_with_comma_in_query_is_one_address if {
	count(violations(trigger("metrics-api", {"url": "http://api.data.svc.cluster.local/stats?fields=a,b", "valueLocation": "a"}))) == 0
}

test_rest_api_template if {
	template := `http://<<managementEndpoint>>/console/jolokia/read/org.apache.activemq.artemis:broker="<<brokerName>>",component=addresses/MessageCount`
	count(violations(trigger("artemis-queue", {"managementEndpoint": "artemis.data.svc.cluster.local:8161", "restApiTemplate": template}))) == 0
	denied_hosts(trigger("activemq", {"restAPITemplate": "http://evil.example.com:8161/api/jolokia/read/x"})) == {"evil.example.com"}
}

test_host_after_fragment_or_query_at_is_not_the_host if {
	denied_hosts(trigger("prometheus", {"serverAddress": "http://evil.example.com#@prometheus.monitoring.svc.cluster.local", "query": "up"})) == {"evil.example.com"}
	denied_hosts(trigger("prometheus", {"serverAddress": "http://evil.example.com?@prometheus.monitoring.svc.cluster.local", "query": "up"})) == {"evil.example.com"}
	denied_hosts(trigger("prometheus", {"serverAddress": "http://prometheus.monitoring.svc.cluster.local:9090@evil.example.com", "query": "up"})) == {"evil.example.com"}
	denied_hosts(trigger("external", {"scalerAddress": "dns:///evil.example.com:6000"})) == {"evil.example.com"}
}

test_empty_values_ignored if {
	count(violations(trigger("kafka", {"bootstrapServers": " ", "bootstrapServersFromEnv": "KAFKA", "topic": "t"}))) == 0
}

test_azure_endpoint_suffix_checked if {
	denied_hosts(trigger("azure-queue", {"accountName": "acct", "cloud": "Private", "endpointSuffix": "queue.evil.example.com", "queueName": "q"})) == {"acct.queue.evil.example.com"}
	denied_hosts(trigger("azure-servicebus", {"namespace": "ns", "cloud": "Private", "endpointSuffix": "sb.evil.example.com", "queueName": "q"})) == {"ns.sb.evil.example.com"}
	denied_hosts(trigger("azure-eventhub", {"cloud": "Private", "endpointSuffix": "sb.evil.example.com"})) == {"*.sb.evil.example.com"}
	msgs := violations(trigger("azure-blob", {"accountName": "acct", "cloud": "Private", "endpointSuffix": "blob.evil.example.com", "blobContainerName": "c"}))
	some msg in msgs
	contains(msg, "metadata.endpointSuffix of ScaledObject ml/llm")
	count(violations(trigger("azure-queue", {"accountName": "acct", "cloud": "Private", "endpointSuffix": "data.svc.cluster.local", "queueName": "q"}))) == 0
}

test_azure_account_name_cannot_move_the_host if {
	denied_hosts(trigger("azure-blob", {"accountName": "evil.example.com/", "blobContainerName": "c"})) == {"evil.example.com"}
	count(violations(trigger("azure-blob", {"accountName": "acct", "blobContainerName": "c"}))) == 0
	count(violations(trigger("azure-servicebus", {"namespace": "ns", "queueName": "q"}))) == 0
}

test_trailing_dot_fqdn_allowed if {
	count(policy.violation) == 0 with input as review(prometheus("http://prometheus.monitoring.svc.cluster.local.:9090")) with data.config as config
}

test_documented_allowlist_admits_the_default_prometheus if {
	documented := {"allowedEndpoints": ["*.monitoring.svc", "*.monitoring.svc.cluster.local"]}
	count(policy.violation) == 0 with input as review(prometheus("http://prometheus-operated.monitoring.svc:9090")) with data.config as documented
}

# One test per row of policy.endpoint_rows: with allowed metadata the
# trigger passes; with other metadata it is denied for exactly the
# [metadata key, host] KEDA would call. tested_rows lists the rows tested,
# and test_every_row_has_a_test compares it with the table.

denied_pairs(t) := {[key, host] |
	some msg in violations(t)
	m := regex.find_all_string_submatch_n(`makes KEDA call (\S*) \(trigger .*, metadata\.(\S+) of `, msg, 1)[0]
	host := m[1]
	key := m[2]
}

row_test(type, allowed, denied, key, host) if {
	count(violations(trigger(type, allowed))) == 0
	count(violations(trigger(type, denied))) == 1
	denied_pairs(trigger(type, denied)) == {[key, host]}
}

# fixed_row_test: the cloud's own API, nothing to check; a known type, so not
# denied as unknown either.
fixed_row_test(type, md) if {
	type in policy.known_types
	count(violations(trigger(type, md))) == 0
}

row_id(row) := sprintf("%s/%s", [row.type, concat("+", row.fields)])

tested_rows := {
	"activemq/managementEndpoint", "activemq/restAPITemplate", "apache-kafka/bootstrapServers",
	"arangodb/endpoints", "artemis-queue/managementEndpoint", "artemis-queue/restApiTemplate",
	"aws-cloudwatch/awsEndpoint", "aws-cloudwatch/awsRegion", "aws-dynamodb/awsEndpoint",
	"aws-dynamodb/awsRegion", "aws-dynamodb-streams/awsEndpoint", "aws-dynamodb-streams/awsRegion",
	"aws-kinesis-stream/awsEndpoint", "aws-kinesis-stream/awsRegion", "aws-sqs-queue/awsEndpoint",
	"aws-sqs-queue/awsRegion+queueURL", "azure-app-insights/appInsightsResourceURL",
	"azure-app-insights/activeDirectoryEndpoint", "azure-blob/accountName+endpointSuffix",
	"azure-blob/connection", "azure-cosmosdb/endpoint", "azure-cosmosdb/leaseEndpoint",
	"azure-cosmosdb/connection", "azure-cosmosdb/leaseConnection", "azure-cosmosdb/activeDirectoryEndpoint",
	"azure-data-explorer/endpoint", "azure-data-explorer/activeDirectoryEndpoint",
	"azure-eventhub/eventHubNamespace+endpointSuffix", "azure-eventhub/storageAccountName+storageEndpointSuffix",
	"azure-log-analytics/logAnalyticsResourceURL", "azure-monitor/azureResourceManagerEndpoint",
	"azure-pipelines/organizationURL", "azure-queue/accountName+endpointSuffix", "azure-queue/connection",
	"azure-servicebus/namespace+endpointSuffix", "beanstalkd/server", "cassandra/clusterIPAddress",
	"clickhouse/host+port", "couchdb/host+port", "couchdb/connectionString", "datadog/",
	"dynatrace/host", "elastic-forecast/addresses", "elastic-forecast/cloudID", "elasticsearch/addresses",
	"elasticsearch/cloudID", "etcd/endpoints", "external/scalerAddress", "external-push/scalerAddress",
	"forgejo-runner/address", "gcp-cloudtasks/", "gcp-pubsub/", "gcp-spanner/", "gcp-stackdriver/",
	"gcp-storage/", "github-runner/githubApiURL", "graphite/serverAddress", "huawei-cloudeye/",
	"ibmmq/host", "influxdb/serverURL", "kafka/bootstrapServers", "liiklus/address", "loki/serverAddress",
	"metrics-api/url", "mongodb/connectionString", "mongodb/scheme+host+port", "mssql/host",
	"mysql/host+port", "nats-jetstream/natsServerMonitoringEndpoint", "new-relic/region",
	"nsq/nsqLookupdHTTPAddresses", "opensearch/addresses", "openstack-metric/metricsURL",
	"openstack-swift/swiftURL", "postgresql/host", "predictkube/prometheusAddress", "predictkube/",
	"prometheus/serverAddress", "pulsar/adminURL", "rabbitmq/host", "redis/address+addresses",
	"redis/host+hosts", "redis-cluster/address+addresses", "redis-cluster/host+hosts",
	"redis-cluster-streams/address+addresses", "redis-cluster-streams/host+hosts",
	"redis-sentinel/address+addresses", "redis-sentinel/host+hosts", "redis-sentinel-streams/address+addresses",
	"redis-sentinel-streams/host+hosts", "redis-streams/address+addresses", "redis-streams/host+hosts",
	"selenium-grid/url", "solace-direct-messaging/solaceSempBaseURL", "solace-event-queue/solaceSempBaseURL",
	"solarwinds/host", "solr/host", "splunk/host", "splunk-observability/", "sumologic/host", "temporal/endpoint",
}

test_every_row_has_a_test if {
	ids := [row_id(row) | some row in policy.endpoint_rows]
	count(ids) == count({id | some id in ids})
	{id | some id in ids} == tested_rows
}

test_every_row_derives_known_how if {
	hows := {"url", "url_list", "url_hostport", "address", "address_list", "grpc", "template", "mysql", "mongodb", "mssql", "azure_name", "azure_storage_connection", "cosmos_connection", "elastic_cloud_id", "fixed"}
	every row in policy.endpoint_rows {
		row.how in hows
	}
}

test_row_activemq_management_endpoint if {
	row_test(
		"activemq", {"managementEndpoint": "activemq.data.svc.cluster.local:8161", "destinationName": "q", "brokerName": "b"},
		{"managementEndpoint": "activemq.data.svc.cluster.local@evil.example.com:8161", "destinationName": "q", "brokerName": "b"},
		"managementEndpoint", "evil.example.com",
	)
}

test_row_activemq_rest_api_template if {
	row_test(
		"activemq", {"restAPITemplate": "http://activemq.data.svc.cluster.local:8161/api/jolokia/read/org.apache.activemq:type=Broker,brokerName=b,destinationType=Queue,destinationName=q"},
		{"restAPITemplate": "http://evil.example.com:8161/api/jolokia/read/org.apache.activemq:type=Broker,brokerName=b,destinationType=Queue,destinationName=q"},
		"restAPITemplate", "evil.example.com",
	)
}

test_row_apache_kafka_bootstrap_servers if {
	row_test(
		"apache-kafka", {"bootstrapServers": "kafka-0.data.svc.cluster.local:9092, kafka-1.data.svc.cluster.local:9092", "topic": "t"},
		{"bootstrapServers": "kafka-0.data.svc.cluster.local:9092,evil.example.com:9092", "topic": "t"},
		"bootstrapServers", "evil.example.com",
	)
}

test_row_arangodb_endpoints if {
	row_test(
		"arangodb", {"endpoints": "https://arango-0.data.svc.cluster.local:8529,https://arango-1.data.svc.cluster.local:8529", "query": "q"},
		{"endpoints": "https://arango-0.data.svc.cluster.local:8529,https://evil.example.com:8529", "query": "q"},
		"endpoints", "evil.example.com",
	)
}

test_row_artemis_management_endpoint if {
	row_test(
		"artemis-queue", {"managementEndpoint": "artemis.data.svc.cluster.local:8161", "queueName": "q", "brokerName": "b", "brokerAddress": "a"},
		{"managementEndpoint": "evil.example.com#.data.svc.cluster.local:8161", "queueName": "q", "brokerName": "b", "brokerAddress": "a"},
		"managementEndpoint", "evil.example.com",
	)
}

test_row_artemis_rest_api_template if {
	template := `http://<<managementEndpoint>>/console/jolokia/read/org.apache.activemq.artemis:broker="<<brokerName>>",component=addresses,address="a",subcomponent=queues,routing-type="anycast",queue="q"/MessageCount`
	row_test(
		"artemis-queue", {"restApiTemplate": template, "managementEndpoint": "artemis.data.svc.cluster.local:8161"},
		{"restApiTemplate": replace(template, "<<managementEndpoint>>", "evil.example.com:8161")},
		"restApiTemplate", "evil.example.com",
	)
}

aws_endpoint_row_test(type, md) if {
	row_test(
		type, object.union(md, {"awsRegion": "eu-west-1", "awsEndpoint": "http://localstack.data.svc.cluster.local:4566"}),
		object.union(md, {"awsRegion": "eu-west-1", "awsEndpoint": "https://evil.example.com"}),
		"awsEndpoint", "evil.example.com",
	)
}

test_row_aws_cloudwatch_endpoint if aws_endpoint_row_test("aws-cloudwatch", {"namespace": "AWS/SQS", "metricName": "m"})

test_row_aws_cloudwatch_region if fixed_row_test("aws-cloudwatch", {"namespace": "AWS/SQS", "metricName": "m", "awsRegion": "eu-west-1"})

test_row_aws_dynamodb_endpoint if aws_endpoint_row_test("aws-dynamodb", {"tableName": "t"})

test_row_aws_dynamodb_region if fixed_row_test("aws-dynamodb", {"tableName": "t", "awsRegion": "eu-west-1"})

test_row_aws_dynamodb_streams_endpoint if aws_endpoint_row_test("aws-dynamodb-streams", {"tableName": "t"})

test_row_aws_dynamodb_streams_region if fixed_row_test("aws-dynamodb-streams", {"tableName": "t", "awsRegion": "eu-west-1"})

test_row_aws_kinesis_stream_endpoint if aws_endpoint_row_test("aws-kinesis-stream", {"streamName": "s"})

test_row_aws_kinesis_stream_region if fixed_row_test("aws-kinesis-stream", {"streamName": "s", "awsRegion": "eu-west-1"})

test_row_aws_sqs_queue_endpoint if aws_endpoint_row_test("aws-sqs-queue", {"queueURL": "q"})

# The SQS client of KEDA (AWS SDK v2) calls the regional endpoint (or
# awsEndpoint); KEDA takes only the queue name from queueURL.
test_row_aws_sqs_queue_region_and_queue_url if {
	fixed_row_test("aws-sqs-queue", {"queueURL": "https://sqs.eu-west-1.amazonaws.com/123456789012/q", "awsRegion": "eu-west-1"})
	fixed_row_test("aws-sqs-queue", {"queueURL": "https://evil.example.com/123456789012/q", "awsRegion": "eu-west-1"})
}

test_row_azure_app_insights_resource_url if {
	row_test(
		"azure-app-insights", {"cloud": "Private", "appInsightsResourceURL": "https://appinsights.data.svc.cluster.local", "metricId": "m"},
		{"cloud": "Private", "appInsightsResourceURL": "https://evil.example.com", "metricId": "m"},
		"appInsightsResourceURL", "evil.example.com",
	)
}

test_row_azure_app_insights_active_directory_endpoint if {
	row_test(
		"azure-app-insights", {"cloud": "Private", "activeDirectoryEndpoint": "https://login.data.svc.cluster.local/", "metricId": "m"},
		{"cloud": "Private", "activeDirectoryEndpoint": "https://login.evil.example.com/", "metricId": "m"},
		"activeDirectoryEndpoint", "login.evil.example.com",
	)
}

# The account name is put before the suffix: "evil.example.com/" makes the
# URL https://evil.example.com/.blob.core.windows.net, which goes to
# evil.example.com (with a workload identity token).
test_row_azure_blob_account_name_and_suffix if {
	row_test(
		"azure-blob", {"accountName": "acct", "blobContainerName": "c"},
		{"accountName": "evil.example.com/", "blobContainerName": "c"},
		"accountName", "evil.example.com",
	)
	row_test(
		"azure-blob", {"accountName": "acct", "cloud": "Private", "endpointSuffix": "data.svc.cluster.local", "blobContainerName": "c"},
		{"accountName": "acct", "cloud": "Private", "endpointSuffix": "blob.evil.example.com", "blobContainerName": "c"},
		"endpointSuffix", "acct.blob.evil.example.com",
	)
	fixed_row_test("azure-blob", {"accountName": "acct", "cloud": "AzureChinaCloud", "blobContainerName": "c"})
	denied_pairs(trigger("azure-blob", {"accountName": "evil.example.com?", "cloud": "AzureUSGovernmentCloud", "blobContainerName": "c"})) == {["accountName", "evil.example.com"]}
}

test_row_azure_blob_connection if {
	row_test(
		"azure-blob", {"connection": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net", "blobContainerName": "c"},
		{"connection": "DefaultEndpointsProtocol=https;AccountName=evil.example.com/;AccountKey=a2V5", "blobContainerName": "c"},
		"connection", "evil.example.com",
	)
	row_test(
		"azure-blob", {"connection": "BlobEndpoint=https://blob.data.svc.cluster.local/;SharedAccessSignature=sv=1", "blobContainerName": "c"},
		{"connection": "BlobEndpoint=https://blob.data.svc.cluster.local/;BlobEndpoint=https://evil.example.com/;SharedAccessSignature=sv=1", "blobContainerName": "c"},
		"connection", "evil.example.com",
	)
}

test_row_azure_cosmosdb_endpoint if {
	row_test(
		"azure-cosmosdb", {"endpoint": "https://cosmos.data.svc.cluster.local:443/", "leaseEndpoint": "https://cosmos.data.svc.cluster.local:443/"},
		{"endpoint": "https://acct.documents.azure.com:443/", "leaseEndpoint": "https://cosmos.data.svc.cluster.local:443/"},
		"endpoint", "acct.documents.azure.com",
	)
}

test_row_azure_cosmosdb_lease_endpoint if {
	row_test(
		"azure-cosmosdb", {"endpoint": "https://cosmos.data.svc.cluster.local/", "leaseEndpoint": "https://lease.data.svc.cluster.local/"},
		{"endpoint": "https://cosmos.data.svc.cluster.local/", "leaseEndpoint": "https://evil.example.com/"},
		"leaseEndpoint", "evil.example.com",
	)
}

test_row_azure_cosmosdb_connection if {
	row_test(
		"azure-cosmosdb", {"connection": "AccountEndpoint=https://cosmos.data.svc.cluster.local:443/;AccountKey=a2V5;", "leaseEndpoint": "https://cosmos.data.svc.cluster.local/"},
		{"connection": " AccountEndpoint=https://evil.example.com:443/ ;AccountKey=a2V5;", "leaseEndpoint": "https://cosmos.data.svc.cluster.local/"},
		"connection", "evil.example.com",
	)
}

test_row_azure_cosmosdb_lease_connection if {
	row_test(
		"azure-cosmosdb", {"endpoint": "https://cosmos.data.svc.cluster.local/", "leaseConnection": "AccountEndpoint=https://lease.data.svc.cluster.local/;AccountKey=a2V5"},
		{"endpoint": "https://cosmos.data.svc.cluster.local/", "leaseConnection": "AccountEndpoint=https://evil.example.com/;AccountKey=a2V5"},
		"leaseConnection", "evil.example.com",
	)
}

test_row_azure_cosmosdb_active_directory_endpoint if {
	row_test(
		"azure-cosmosdb", {"endpoint": "https://cosmos.data.svc.cluster.local/", "cloud": "Private", "activeDirectoryEndpoint": "https://login.data.svc.cluster.local/"},
		{"endpoint": "https://cosmos.data.svc.cluster.local/", "cloud": "Private", "activeDirectoryEndpoint": "https://evil.example.com/"},
		"activeDirectoryEndpoint", "evil.example.com",
	)
}

test_row_azure_data_explorer_endpoint if {
	row_test(
		"azure-data-explorer", {"endpoint": "https://adx.data.svc.cluster.local", "databaseName": "d", "query": "q", "threshold": "1"},
		{"endpoint": "https://cluster.westeurope.kusto.windows.net", "databaseName": "d", "query": "q", "threshold": "1"},
		"endpoint", "cluster.westeurope.kusto.windows.net",
	)
}

test_row_azure_data_explorer_active_directory_endpoint if {
	row_test(
		"azure-data-explorer", {"endpoint": "https://adx.data.svc.cluster.local", "cloud": "Private", "activeDirectoryEndpoint": "https://login.data.svc.cluster.local"},
		{"endpoint": "https://adx.data.svc.cluster.local", "cloud": "Private", "activeDirectoryEndpoint": "https://evil.example.com"},
		"activeDirectoryEndpoint", "evil.example.com",
	)
}

test_row_azure_eventhub_namespace_and_suffix if {
	row_test(
		"azure-eventhub", {"eventHubNamespace": "ns", "eventHubName": "h", "storageAccountName": "acct"},
		{"eventHubNamespace": "evil.example.com/", "eventHubName": "h", "storageAccountName": "acct"},
		"eventHubNamespace", "evil.example.com",
	)
	row_test(
		"azure-eventhub", {"eventHubNamespace": "ns", "cloud": "Private", "endpointSuffix": "data.svc.cluster.local", "eventHubName": "h"},
		{"eventHubNamespace": "ns", "cloud": "Private", "endpointSuffix": "sb.evil.example.com", "eventHubName": "h"},
		"endpointSuffix", "ns.sb.evil.example.com",
	)
}

# The checkpoint store: https://<storageAccountName>.blob.<storage suffix>.
test_row_azure_eventhub_checkpoint_storage if {
	row_test(
		"azure-eventhub", {"eventHubNamespace": "ns", "eventHubName": "h", "storageAccountName": "acct"},
		{"eventHubNamespace": "ns", "eventHubName": "h", "storageAccountName": "evil.example.com/"},
		"storageAccountName", "evil.example.com",
	)
	private := {"eventHubNamespace": "ns", "cloud": "Private", "endpointSuffix": "data.svc.cluster.local", "storageAccountName": "acct", "storageEndpointSuffix": "data.svc.cluster.local"}
	count(policy.violation) == 0 with input as review(trigger("azure-eventhub", private))
		with data.config as {"allowedEndpoints": ["*.data.svc.cluster.local", "*.blob.data.svc.cluster.local"]}
	denied_pairs(trigger("azure-eventhub", object.union(private, {"storageEndpointSuffix": "evil.example.com"}))) == {["storageEndpointSuffix", "acct.blob.evil.example.com"]}
	row_test(
		"azure-eventhub", {"eventHubNamespace": "ns", "storageAccountName": "acct"},
		{"eventHubNamespace": "ns", "storageAccountName": "acct.blob.core.windows.net@evil.example.com"},
		"storageAccountName", "evil.example.com.blob.core.windows.net",
	)
}

test_row_azure_log_analytics_resource_url if {
	row_test(
		"azure-log-analytics", {"cloud": "Private", "logAnalyticsResourceURL": "https://logs.data.svc.cluster.local", "workspaceId": "w", "query": "q", "threshold": "1"},
		{"cloud": "Private", "logAnalyticsResourceURL": "https://evil.example.com", "workspaceId": "w", "query": "q", "threshold": "1"},
		"logAnalyticsResourceURL", "evil.example.com",
	)
}

test_row_azure_monitor_resource_manager_endpoint if {
	row_test(
		"azure-monitor", {"cloud": "Private", "azureResourceManagerEndpoint": "https://arm.data.svc.cluster.local", "resourceURI": "r"},
		{"cloud": "Private", "azureResourceManagerEndpoint": "https://evil.example.com", "resourceURI": "r"},
		"azureResourceManagerEndpoint", "evil.example.com",
	)
}

test_row_azure_pipelines_organization_url if {
	row_test(
		"azure-pipelines", {"organizationURL": "https://devops.data.svc.cluster.local/org", "poolID": "1"},
		{"organizationURL": "https://dev.azure.com/org", "poolID": "1"},
		"organizationURL", "dev.azure.com",
	)
}

test_row_azure_queue_account_name_and_suffix if {
	row_test(
		"azure-queue", {"accountName": "acct", "queueName": "q"},
		{"accountName": "evil.example.com#", "queueName": "q"},
		"accountName", "evil.example.com",
	)
	row_test(
		"azure-queue", {"accountName": "acct", "cloud": "Private", "endpointSuffix": "data.svc.cluster.local", "queueName": "q"},
		{"accountName": "acct", "cloud": "Private", "endpointSuffix": "queue.evil.example.com", "queueName": "q"},
		"endpointSuffix", "acct.queue.evil.example.com",
	)
}

test_row_azure_queue_connection if {
	row_test(
		"azure-queue", {"connection": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5", "queueName": "q"},
		{"connection": "QueueEndpoint=https://evil.example.com/;SharedAccessSignature=sv=1", "queueName": "q"},
		"connection", "evil.example.com",
	)
}

test_row_azure_servicebus_namespace_and_suffix if {
	row_test(
		"azure-servicebus", {"namespace": "ns", "queueName": "q"},
		{"namespace": "evil.example.com/", "queueName": "q"},
		"namespace", "evil.example.com",
	)
	row_test(
		"azure-servicebus", {"namespace": "ns", "cloud": "Private", "endpointSuffix": "data.svc.cluster.local", "queueName": "q"},
		{"namespace": "ns", "cloud": "Private", "endpointSuffix": "sb.evil.example.com", "queueName": "q"},
		"endpointSuffix", "ns.sb.evil.example.com",
	)
}

test_row_beanstalkd_server if {
	row_test("beanstalkd", {"server": "beanstalkd.data.svc.cluster.local:11300", "tube": "t"}, {"server": "evil.example.com:11300", "tube": "t"}, "server", "evil.example.com")
}

test_row_cassandra_cluster_ip_address if {
	row_test("cassandra", {"clusterIPAddress": "cassandra.data.svc.cluster.local", "port": "9042"}, {"clusterIPAddress": "10.9.9.9", "port": "9042"}, "clusterIPAddress", "10.9.9.9")
}

test_row_clickhouse_host_and_port if {
	row_test("clickhouse", {"host": "clickhouse.data.svc.cluster.local", "port": "9000", "query": "q"}, {"host": "evil.example.com", "query": "q"}, "host", "evil.example.com")
}

test_row_couchdb_host_and_port if {
	row_test("couchdb", {"host": "couchdb.data.svc.cluster.local", "port": "5984", "dbName": "d"}, {"host": "evil.example.com/", "port": "5984", "dbName": "d"}, "host", "evil.example.com")
}

test_row_couchdb_connection_string if {
	row_test("couchdb", {"connectionString": "http://couchdb.data.svc.cluster.local:5984", "dbName": "d"}, {"connectionString": "http://evil.example.com:5984", "dbName": "d"}, "connectionString", "evil.example.com")
}

test_row_datadog if fixed_row_test("datadog", {"query": "sum:trace.redis.command.hits{env:none,service:redis}.as_count()", "queryValue": "7"})

test_row_dynatrace_host if {
	row_test("dynatrace", {"host": "https://dynatrace.data.svc.cluster.local/", "metricSelector": "m"}, {"host": "https://abc123.live.dynatrace.com", "metricSelector": "m"}, "host", "abc123.live.dynatrace.com")
}

test_row_elastic_forecast_addresses if {
	row_test("elastic-forecast", {"addresses": "https://es.data.svc.cluster.local:9200", "jobID": "j"}, {"addresses": "https://es.data.svc.cluster.local:9200,http://evil.example.com:9200", "jobID": "j"}, "addresses", "evil.example.com")
}

# An Elastic Cloud ID is "name:" and base64 of "host$es_uuid$kibana_uuid";
# the client calls https://<es_uuid>.<host>.
cloud_id(decoded) := sprintf("deployment:%s", [base64.encode(decoded)])

test_row_elastic_forecast_cloud_id if {
	row_test("elastic-forecast", {"cloudID": cloud_id("data.svc.cluster.local$es$kb"), "jobID": "j"}, {"cloudID": cloud_id("evil.example.com$es$kb"), "jobID": "j"}, "cloudID", "es.evil.example.com")
}

test_row_elasticsearch_addresses if {
	row_test("elasticsearch", {"addresses": "https://es.data.svc.cluster.local:9200", "index": "i"}, {"addresses": "https://user@evil.example.com:9200", "index": "i"}, "addresses", "evil.example.com")
}

test_row_elasticsearch_cloud_id if {
	row_test("elasticsearch", {"cloudID": cloud_id("data.svc.cluster.local:443$es$kb"), "index": "i"}, {"cloudID": cloud_id("evil.example.com$es$kb"), "index": "i"}, "cloudID", "es.evil.example.com")
	denied_pairs(trigger("elasticsearch", {"cloudID": cloud_id("data.svc.cluster.local$evil.example.com/"), "index": "i"})) == {["cloudID", "evil.example.com"]}
}

test_elastic_cloud_id_that_kedas_client_refuses if {
	# No "name:" prefix, or not base64: the client fails, calling nothing.
	count(violations(trigger("elasticsearch", {"cloudID": base64.encode("evil.example.com$es$kb"), "index": "i"}))) == 0
	count(violations(trigger("elasticsearch", {"cloudID": "deployment:not base64!", "index": "i"}))) == 0
}

test_row_etcd_endpoints if {
	row_test("etcd", {"endpoints": "etcd-0.data.svc.cluster.local:2379,http://etcd-1.data.svc.cluster.local:2379", "watchKey": "k"}, {"endpoints": "etcd-0.data.svc.cluster.local:2379,1.2.3.4:2379", "watchKey": "k"}, "endpoints", "1.2.3.4")
}

test_row_external_scaler_address if {
	row_test("external", {"scalerAddress": "scaler.data.svc.cluster.local:6000"}, {"scalerAddress": "dns:///evil.example.com:6000"}, "scalerAddress", "evil.example.com")
	denied_pairs(trigger("external", {"scalerAddress": "dns://10.9.9.9:53/scaler.data.svc.cluster.local:6000"})) == {["scalerAddress", "10.9.9.9"]}
	denied_pairs(trigger("external", {"scalerAddress": "passthrough:///evil.example.com:6000"})) == {["scalerAddress", "evil.example.com"]}
	count(violations(trigger("external", {"scalerAddress": "unix:///var/run/scaler.sock"}))) == 0
	count(violations(trigger("external", {"scalerAddress": "dns:scaler.data.svc.cluster.local:6000"}))) == 0
}

test_row_external_push_scaler_address if {
	row_test("external-push", {"scalerAddress": "scaler.data.svc.cluster.local:6000"}, {"scalerAddress": "evil.example.com:6000"}, "scalerAddress", "evil.example.com")
}

test_row_forgejo_runner_address if {
	row_test("forgejo-runner", {"address": "https://forgejo.data.svc.cluster.local/", "labels": "l"}, {"address": "https://codeberg.org", "labels": "l"}, "address", "codeberg.org")
}

test_row_gcp_cloudtasks if fixed_row_test("gcp-cloudtasks", {"queueName": "q", "projectID": "p"})

test_row_gcp_pubsub if fixed_row_test("gcp-pubsub", {"subscriptionName": "projects/p/subscriptions/s"})

test_row_gcp_spanner if fixed_row_test("gcp-spanner", {"projectId": "p", "instanceId": "i", "databaseId": "d", "query": "q"})

test_row_gcp_stackdriver if fixed_row_test("gcp-stackdriver", {"projectId": "p", "filter": "metric.type=\"storage.googleapis.com/network/received_bytes_count\""})

test_row_gcp_storage if fixed_row_test("gcp-storage", {"bucketName": "b"})

test_row_github_runner_api_url if {
	row_test("github-runner", {"githubApiURL": "https://github.data.svc.cluster.local/api/v3", "owner": "o", "runnerScope": "org"}, {"githubApiURL": "https://evil.example.com", "owner": "o", "runnerScope": "org"}, "githubApiURL", "evil.example.com")
	fixed_row_test("github-runner", {"owner": "o", "runnerScope": "org"})
}

test_row_graphite_server_address if {
	row_test("graphite", {"serverAddress": "http://graphite.monitoring.svc.cluster.local", "query": "q"}, {"serverAddress": "http://evil.example.com", "query": "q"}, "serverAddress", "evil.example.com")
}

test_row_huawei_cloudeye if fixed_row_test("huawei-cloudeye", {"namespace": "SYS.ELB", "metricName": "mb_l7_qps", "dimensionName": "lbaas_instance_id", "dimensionValue": "x"})

# The ibmmq host is one URL: a comma in its query is not a separator.
test_row_ibmmq_host if {
	row_test(
		"ibmmq", {"host": "https://mq.data.svc.cluster.local:9443/ibmmq/rest/v2/admin/action/qmgr/QM1/mqsc?x=a,evil.example.com", "queueName": "q"},
		{"host": "https://evil.example.com:9443/ibmmq/rest/v2/admin/action/qmgr/QM1/mqsc", "queueName": "q"},
		"host", "evil.example.com",
	)
}

test_row_influxdb_server_url if {
	row_test("influxdb", {"serverURL": "http://influxdb.data.svc.cluster.local:8086", "organizationName": "o"}, {"serverURL": "http://evil.example.com:8086", "organizationName": "o"}, "serverURL", "evil.example.com")
}

test_row_kafka_bootstrap_servers if {
	row_test("kafka", {"bootstrapServers": "kafka.data.svc.cluster.local:9092", "topic": "t"}, {"bootstrapServers": "evil.example.com:9092", "topic": "t"}, "bootstrapServers", "evil.example.com")
}

test_row_liiklus_address if {
	row_test("liiklus", {"address": "liiklus.data.svc.cluster.local:6565", "topic": "t"}, {"address": "dns:///evil.example.com:6565", "topic": "t"}, "address", "evil.example.com")
}

test_row_loki_server_address if {
	row_test("loki", {"serverAddress": "http://loki.monitoring.svc.cluster.local:3100", "query": "q"}, {"serverAddress": "http://evil.example.com:3100", "query": "q"}, "serverAddress", "evil.example.com")
}

test_row_metrics_api_url if {
	row_test("metrics-api", {"url": "http://api.data.svc.cluster.local/stats", "valueLocation": "a"}, {"url": "http://evil.example.com/stats", "valueLocation": "a"}, "url", "evil.example.com")
}

test_row_mongodb_connection_string if {
	row_test(
		"mongodb", {"connectionString": "mongodb://m-0.data.svc.cluster.local:27017,m-1.data.svc.cluster.local:27017/db?replicaSet=rs0", "collection": "c"},
		{"connectionString": "mongodb+srv://cluster0.evil.example.com/db", "collection": "c"},
		"connectionString", "cluster0.evil.example.com",
	)
}

# KEDA formats scheme://user:password@host:port/dbName; the scheme is not
# escaped, so a scheme with "@" and "/" moves the host; a host list is
# split on ",".
test_row_mongodb_scheme_host_port if {
	row_test(
		"mongodb", {"host": "m.data.svc.cluster.local", "port": "27017", "dbName": "d", "collection": "c"},
		{"scheme": "mongodb://x@evil.example.com/", "host": "m.data.svc.cluster.local", "port": "27017", "dbName": "d", "collection": "c"},
		"scheme", "evil.example.com",
	)
	denied_pairs(trigger("mongodb", {"host": "m.data.svc.cluster.local,evil.example.com", "port": "27017", "dbName": "d"})) == {["host", "evil.example.com"]}
	denied_pairs(trigger("mongodb", {"scheme": "mongodb+srv", "host": "cluster0.evil.example.com", "dbName": "d"})) == {["host", "cluster0.evil.example.com"]}
}

test_row_mssql_host if {
	row_test("mssql", {"host": `sql.data.svc.cluster.local\SQLEXPRESS`, "query": "q"}, {"host": "evil.example.com", "query": "q"}, "host", "evil.example.com")
}

# KEDA formats the DSN user@tcp(host:port)/db and go-sql-driver/mysql reads
# the address after the last "@": a port "3306)@tcp(evil.example.com:3306"
# moves it.
test_row_mysql_host_and_port if {
	row_test(
		"mysql", {"host": "mysql.data.svc.cluster.local", "port": "3306", "dbName": "d", "query": "q"},
		{"host": "mysql.data.svc.cluster.local", "port": "3306)@tcp(evil.example.com:3306", "dbName": "d", "query": "q"},
		"port", "evil.example.com",
	)
	denied_pairs(trigger("mysql", {"host": "evil.example.com", "port": "3306", "query": "q"})) == {["host", "evil.example.com"]}
}

test_row_nats_jetstream_monitoring_endpoint if {
	row_test("nats-jetstream", {"natsServerMonitoringEndpoint": "nats.data.svc.cluster.local:8222", "stream": "s"}, {"natsServerMonitoringEndpoint": "nats.evil.example.com:8222", "stream": "s"}, "natsServerMonitoringEndpoint", "nats.evil.example.com")
}

test_row_new_relic if fixed_row_test("new-relic", {"account": "1", "region": "EU", "nrql": "SELECT count(*) FROM Transaction"})

test_row_nsq_lookupd_addresses if {
	row_test("nsq", {"nsqLookupdHTTPAddresses": "nsqlookupd-0.data.svc.cluster.local:4161,nsqlookupd-1.data.svc.cluster.local:4161", "topic": "t"}, {"nsqLookupdHTTPAddresses": "nsqlookupd-0.data.svc.cluster.local:4161,evil.example.com:4161", "topic": "t"}, "nsqLookupdHTTPAddresses", "evil.example.com")
}

test_row_opensearch_addresses if {
	row_test("opensearch", {"addresses": "https://os.data.svc.cluster.local:9200", "index": "i"}, {"addresses": "http://os.example.org:9200", "index": "i"}, "addresses", "os.example.org")
}

test_row_openstack_metric_url if {
	row_test("openstack-metric", {"metricsURL": "http://gnocchi.data.svc.cluster.local:8041/v1/metric", "metricID": "m"}, {"metricsURL": "http://evil.example.com:8041/v1/metric", "metricID": "m"}, "metricsURL", "evil.example.com")
}

test_row_openstack_swift_url if {
	row_test("openstack-swift", {"swiftURL": "http://swift.data.svc.cluster.local:8080/v1/AUTH_x", "containerName": "c"}, {"swiftURL": "http://evil.example.com:8080/v1/AUTH_x", "containerName": "c"}, "swiftURL", "evil.example.com")
}

# libpq (pgx) reads a comma-separated host list.
test_row_postgresql_host if {
	row_test("postgresql", {"host": "pg.data.svc.cluster.local", "port": "5432", "query": "q"}, {"host": "pg.data.svc.cluster.local,evil.example.com", "port": "5432,5432", "query": "q"}, "host", "evil.example.com")
}

test_row_predictkube_prometheus_address if {
	row_test("predictkube", {"prometheusAddress": "http://prometheus.monitoring.svc.cluster.local:9090", "query": "q"}, {"prometheusAddress": "http://evil.example.com:9090", "query": "q"}, "prometheusAddress", "evil.example.com")
}

test_row_predictkube_engine if fixed_row_test("predictkube", {"predictHorizon": "2h", "historyTimeWindow": "7d", "query": "q"})

test_row_prometheus_server_address if {
	row_test("prometheus", {"serverAddress": "http://prometheus.monitoring.svc.cluster.local:9090", "query": "up"}, {"serverAddress": "http://evil.example.com:9090", "query": "up"}, "serverAddress", "evil.example.com")
}

test_row_pulsar_admin_url if {
	row_test("pulsar", {"adminURL": "http://pulsar.data.svc.cluster.local:8080", "topic": "t", "subscription": "s"}, {"adminURL": "http://evil.example.com:8080", "topic": "t", "subscription": "s"}, "adminURL", "evil.example.com")
}

test_row_rabbitmq_host if {
	row_test("rabbitmq", {"host": "amqp://rabbitmq.data.svc.cluster.local:5672/vhost", "queueName": "q"}, {"host": "http://rabbitmq.data.svc.cluster.local:15672@evil.example.com/", "queueName": "q"}, "host", "evil.example.com")
}

redis_row_tests(type) if {
	row_test(type, {"address": "redis.data.svc.cluster.local:6379", "listName": "l"}, {"address": "evil.example.com:6379", "listName": "l"}, "address", "evil.example.com")
	row_test(type, {"addresses": "r-0.data.svc.cluster.local:6379, r-1.data.svc.cluster.local:6379", "listName": "l"}, {"addresses": "r-0.data.svc.cluster.local:6379,10.9.9.9:6379", "listName": "l"}, "addresses", "10.9.9.9")
}

redis_host_row_tests(type) if {
	row_test(type, {"host": "redis.data.svc.cluster.local", "port": "6379", "listName": "l"}, {"host": "evil.example.com", "port": "6379", "listName": "l"}, "host", "evil.example.com")
	row_test(type, {"hosts": "r-0.data.svc.cluster.local,r-1.data.svc.cluster.local", "ports": "6379,6379", "listName": "l"}, {"hosts": "r-0.data.svc.cluster.local,evil.example.com", "ports": "6379,6379", "listName": "l"}, "hosts", "evil.example.com")
}

test_row_redis_address if redis_row_tests("redis")

test_row_redis_host if redis_host_row_tests("redis")

test_row_redis_cluster_address if redis_row_tests("redis-cluster")

test_row_redis_cluster_host if redis_host_row_tests("redis-cluster")

test_row_redis_cluster_streams_address if redis_row_tests("redis-cluster-streams")

test_row_redis_cluster_streams_host if redis_host_row_tests("redis-cluster-streams")

test_row_redis_sentinel_address if redis_row_tests("redis-sentinel")

test_row_redis_sentinel_host if redis_host_row_tests("redis-sentinel")

test_row_redis_sentinel_streams_address if redis_row_tests("redis-sentinel-streams")

test_row_redis_sentinel_streams_host if redis_host_row_tests("redis-sentinel-streams")

test_row_redis_streams_address if redis_row_tests("redis-streams")

test_row_redis_streams_host if redis_host_row_tests("redis-streams")

test_row_selenium_grid_url if {
	row_test("selenium-grid", {"url": "http://selenium-hub.data.svc.cluster.local:4444/graphql", "browserName": "chrome"}, {"url": "http://evil.example.com:4444/graphql", "browserName": "chrome"}, "url", "evil.example.com")
}

test_row_solace_direct_messaging_semp_url if {
	row_test("solace-direct-messaging", {"solaceSempBaseURL": "http://solace.data.svc.cluster.local:8080", "messageVpn": "v"}, {"solaceSempBaseURL": "http://solace.data.svc.cluster.local:8080,http://evil.example.com:8080", "messageVpn": "v"}, "solaceSempBaseURL", "evil.example.com")
}

test_row_solace_event_queue_semp_url if {
	row_test("solace-event-queue", {"solaceSempBaseURL": "https://solace.data.svc.cluster.local:943", "messageVpn": "v", "queueName": "q"}, {"solaceSempBaseURL": "https://evil.example.com:943", "messageVpn": "v", "queueName": "q"}, "solaceSempBaseURL", "evil.example.com")
}

test_row_solarwinds_host if {
	row_test("solarwinds", {"host": "https://swo.data.svc.cluster.local", "metricName": "m"}, {"host": "https://api.na-01.cloud.solarwinds.com", "metricName": "m"}, "host", "api.na-01.cloud.solarwinds.com")
}

test_row_solr_host if {
	row_test("solr", {"host": "http://solr.data.svc.cluster.local:8983", "collection": "c", "query": "*:*"}, {"host": "http://evil.example.com:8983", "collection": "c", "query": "*:*"}, "host", "evil.example.com")
}

test_row_splunk_host if {
	row_test("splunk", {"host": "https://splunk.data.svc.cluster.local:8089", "savedSearchName": "s"}, {"host": "https://evil.example.com:8089", "savedSearchName": "s"}, "host", "evil.example.com")
}

test_row_splunk_observability if fixed_row_test("splunk-observability", {"query": "data('demo.trans.latency').max().publish()", "duration": "10"})

test_row_sumologic_host if {
	row_test("sumologic", {"host": "https://sumo.data.svc.cluster.local", "query": "q"}, {"host": "https://api.sumologic.com", "query": "q"}, "host", "api.sumologic.com")
}

test_row_temporal_endpoint if {
	row_test("temporal", {"endpoint": "temporal-frontend.data.svc.cluster.local:7233", "taskQueue": "q"}, {"endpoint": "evil.example.com:7233", "taskQueue": "q"}, "endpoint", "evil.example.com")
}

# A trigger type the policy does not know: any value that looks like an
# address (or is in a generic endpoint key) denies it under an allowlist,
# whatever its host, and the message names the field.
test_unknown_type_with_address_denied if {
	msgs := violations(trigger("acme-queue", {"brokerURL": "https://broker.data.svc.cluster.local:8443", "queue": "q"}))
	count(msgs) == 1
	some msg in msgs
	contains(msg, "trigger_endpoints: ScaledObject ml/llm has trigger spec.triggers[0] of type \"acme-queue\", which the policy does not know, and its metadata.brokerURL (of ScaledObject ml/llm) looks like an address")
}

test_unknown_type_address_forms if {
	every value in ["db.example.org", "db:5432", "10.1.2.3", "10.1.2.3:80", "a.data.svc.cluster.local,b.data.svc.cluster.local", "[fd00::1]:80", "tcp://x"] {
		count(violations(trigger("acme", {"target": value}))) == 1
	}
	every value in ["0.5", "10", "up", "sum(rate(x[2m]))", "00:05", "a=b,c=d", ""] {
		count(violations(trigger("acme", {"target": value}))) == 0
	}
}

test_unknown_type_generic_key_denied if {
	msgs := violations(trigger("Prometheus", {"serverAddress": "prometheus", "query": "up"}))
	some msg in msgs
	contains(msg, "metadata.serverAddress (of ScaledObject ml/llm) looks like an address")
}

test_unknown_type_env_reference_and_no_allowlist_pass if {
	count(violations(trigger("acme", {"brokerFromEnv": "BROKER.URL", "queue": "q"}))) == 0
	count(policy.violation) == 0 with input as review(trigger("acme", {"brokerURL": "https://evil.example.com"}))
}

test_known_types_without_endpoints_pass if {
	count(violations(trigger("cpu", {"type": "Utilization", "value": "80"}))) == 0
	count(violations(trigger("memory", {"type": "Utilization", "value": "80"}))) == 0
	count(violations(trigger("cron", {"timezone": "Europe/Amsterdam", "start": "0 8 * * *", "end": "0 18 * * *", "desiredReplicas": "2"}))) == 0
	count(violations(trigger("kubernetes-workload", {"podSelector": "app.kubernetes.io/name=worker", "value": "0.5"}))) == 0
	count(violations(trigger("kubernetes-resource", {"resourceKind": "ConfigMap", "resourceName": "cm.data", "key": "k", "targetValue": "1"}))) == 0
}

test_grpc_target_with_other_scheme_checked if {
	denied_hosts(trigger("external", {"scalerAddress": "xds:///evil.example.com:6000"})) == {"evil.example.com"}
	denied_hosts(trigger("temporal", {"endpoint": "localhost:7233", "taskQueue": "q"})) == {"localhost"}
}
