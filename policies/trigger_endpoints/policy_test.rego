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

test_url_keys_checked if {
	every key in [
		"serverAddress", "url", "metricsURL", "endpoint", "leaseEndpoint", "managementEndpoint",
		"adminURL", "serverURL", "githubApiURL", "organizationURL", "solaceSempBaseURL", "swiftURL",
		"prometheusAddress", "scalerAddress", "awsEndpoint", "azureResourceManagerEndpoint",
		"appInsightsResourceURL", "logAnalyticsResourceURL", "activeDirectoryEndpoint",
	] {
		denied_hosts(trigger("any", {key: "https://evil.example.com:8443/api"})) == {"evil.example.com"}
		count(violations(trigger("any", {key: "https://svc.data.svc.cluster.local:8443/api"}))) == 0
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
	denied_hosts(trigger("external", {"scalerAddress": "dns:///evil.example.com:6000"})) == {""}
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
