package policy

import (
	"encoding/base64"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The trigger dictionaries of the generator (native_test.go) extended for
// trigger_endpoints' Go form: every trigger type of its endpoint table,
// every metadata key it reads, and values of each kind it tells apart.
func init() {
	fuzzTriggerTypes = append(fuzzTriggerTypes,
		"activemq", "apache-kafka", "arangodb", "artemis-queue", "aws-cloudwatch", "aws-dynamodb", "aws-dynamodb-streams",
		"aws-kinesis-stream", "aws-sqs-queue", "azure-app-insights", "azure-blob", "azure-cosmosdb", "azure-data-explorer",
		"azure-eventhub", "azure-log-analytics", "azure-monitor", "azure-pipelines", "azure-queue", "azure-servicebus",
		"beanstalkd", "cassandra", "clickhouse", "couchdb", "datadog", "dynatrace", "elastic-forecast", "elasticsearch", "etcd",
		"external-push", "forgejo-runner", "gcp-cloudtasks", "gcp-pubsub", "gcp-spanner", "gcp-stackdriver",
		"gcp-storage", "github-runner", "graphite", "huawei-cloudeye", "ibmmq", "influxdb", "kafka", "liiklus", "loki",
		"metrics-api", "mongodb", "mssql", "mysql", "nats-jetstream", "new-relic", "nsq", "opensearch", "openstack-metric",
		"openstack-swift", "postgresql", "predictkube", "pulsar", "redis", "redis-cluster",
		"redis-cluster-streams", "redis-sentinel", "redis-sentinel-streams", "redis-streams", "selenium-grid",
		"solace-direct-messaging", "solace-event-queue", "solarwinds", "solr", "splunk", "splunk-observability", "sumologic",
		"temporal", "kubernetes-workload", "kubernetes-resource", "external-mock",
		// Unknown types: a misspelt one, a newer one.
		"Prometheus", "acme-queue",
	)
	fuzzMetadataKeys = append(fuzzMetadataKeys,
		"managementEndpoint", "restAPITemplate", "restApiTemplate", "bootstrapServers", "endpoints", "awsEndpoint", "awsRegion",
		"queueURL", "appInsightsResourceURL", "activeDirectoryEndpoint", "accountName", "endpointSuffix", "connection", "endpoint",
		"leaseEndpoint", "leaseConnection", "eventHubNamespace", "storageAccountName", "storageEndpointSuffix",
		"logAnalyticsResourceURL", "azureResourceManagerEndpoint", "organizationURL", "namespace", "server", "clusterIPAddress",
		"port", "addresses", "cloudID", "scalerAddress", "address", "githubApiURL", "serverURL", "scheme",
		"natsServerMonitoringEndpoint", "nsqLookupdHTTPAddresses", "metricsURL", "metricsUrl", "swiftURL", "prometheusAddress",
		"adminURL", "hosts", "solaceSempBaseURL", "cloud", "brokerURL", "hostFromEnv",
	)
	cloudID := func(decoded string) string { return "deployment:" + base64.StdEncoding.EncodeToString([]byte(decoded)) }
	fuzzMetadataValues = append(fuzzMetadataValues,
		// URLs: allowed and not, ports, user information, IPv6, a host
		// after "#", "?" or the port, upper case, a trailing dot.
		"http://prometheus.monitoring.svc.cluster.local:9090", "http://evil.example.com:9090/x", "HTTP://Prom.Monitoring.SVC.cluster.local.",
		"http://evil.example.com#@p.monitoring.svc.cluster.local", "http://p.monitoring.svc.cluster.local:9090@evil.example.com",
		"http://[::1]:8080/x", "http://[fd00::1]/", "http://[fe80::1%25eth0]:80/", "http://host:99999/", "http://a b/",
		"https://u:p@10.0.0.7:8443/", "prometheus.monitoring:9090", "http://<<managementEndpoint>>/console/jolokia/read/x",
		"<<managementEndpoint>>", "http://activemq:8161@evil.example.com:8161", "http://x?a=b,evil.example.com",
		// Bare hosts, host:port, lists.
		"evil.example.com", "db.ml.svc", "10.0.0.5", "10.9.9.9:6379", "[fd00::1]:80", "[fd00::1", "localhost:7233",
		"r-0.data.svc.cluster.local:6379, evil.example.com:6379,", "a.ml.svc,b.ml.svc", " , ", "h\u00e9.example.com",
		"\xff\xfe.example.com:1", "0.5", "00:05",
		// gRPC targets.
		"dns:///evil.example.com:6000", "dns://10.9.9.9:53/scaler.ml.svc:6000", "passthrough:///x.ml.svc:1",
		"unix:///var/run/scaler.sock", "xds:///evil.example.com:6000", "dns:scaler.ml.svc:6000",
		// MongoDB, MySQL, MSSQL, PostgreSQL.
		"mongodb://u:p@m-0.ml.svc:27017,m-1.evil.example.com:27017/db?replicaSet=rs0", "mongodb+srv://cluster0.evil.example.com/db",
		"mongodb://x@evil.example.com/", "mongodb+srv", "3306)@tcp(evil.example.com:3306", "3306", `sql.ml.svc\SQLEXPRESS`,
		"pg.ml.svc,evil.example.com", "unix(/tmp/s)", "h\u00e9@(x:1)",
		// Azure: names, suffixes, clouds, connection strings.
		"acct", "evil.example.com/", "acct.blob.core.windows.net@evil.example.com", "queue.evil.example.com", "Private",
		"AzureChinaCloud", "azureusgovernmentcloud", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5",
		"DefaultEndpointsProtocol=http;AccountName=evil.example.com/;EndpointSuffix=x.svc;",
		"BlobEndpoint=https://blob.ml.svc/;BlobEndpoint=https://evil.example.com/;SharedAccessSignature=sv=1",
		"QueueEndpoint=https://evil.example.com/;SharedAccessSignature=sv=1", "AccountEndpoint=https://evil.example.com:443/;AccountKey=a2V5;",
		" AccountEndpoint=https://cosmos.ml.svc/ ;AccountKey=a2V5", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k",
		// Elastic Cloud IDs.
		cloudID("evil.example.com$es$kb"), cloudID("ml.svc.cluster.local:443$es$kb"), cloudID("x$evil.example.com/"),
		"deployment:not base64!",
		// AWS.
		"eu-west-1", "http://localstack.ml.svc:4566", "https://sqs.eu-west-1.amazonaws.com/1/q",
	)
}

// FuzzNativeEndpointsSameAsRego is FuzzNativeSameAsRego under the
// configuration with allowed endpoints (nativeConfigs[1]), with the
// fuzzer's string in the Rego input too (FuzzNativeSameAsRego's
// addRawValue refreshes the data of its own copy of the review only, so
// its Rego does not see the string its Go forms see), under a metadata key
// and in a trigger type the bytes choose.
func FuzzNativeEndpointsSameAsRego(f *testing.F) {
	e := newEngine(f, nativeConfigs[1])
	f.Add([]byte{0}, "")
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "amqp://u:p@host:5672/")
	f.Add([]byte{1, 12, 2, 3, 4, 5, 6, 7, 8, 9}, "dns://10.9.9.9:53/x.svc:6000")
	f.Add([]byte{2, 40, 9, 3, 4, 5, 6, 7, 8, 9}, "3306)@tcp(evil.example.com:3306")
	f.Fuzz(func(t *testing.T, data []byte, s string) {
		r, inv := generatedReview(append(data, []byte(s)...))
		if len(data) > 1 {
			key := fuzzMetadataKeys[int(data[1])%len(fuzzMetadataKeys)]
			typ := ""
			if len(data) > 2 && data[2]%2 == 0 {
				typ = fuzzTriggerTypes[int(data[2]/2)%len(fuzzTriggerTypes)]
			}
			setFirstTrigger(r, typ, key, s)
			refreshData(&r)
		}
		compareNative(t, e, "fuzz", r, inv)
	})
}

// setFirstTrigger sets the type (unless typ is "") and metadata key of the
// first trigger of r's KEDA objects.
func setFirstTrigger(r Review, typ, key, value string) {
	for _, obj := range []client.Object{r.TypedObject, r.RenderedObject} {
		var ts []kedav1alpha1.ScaleTriggers
		switch o := obj.(type) {
		case *kedav1alpha1.ScaledObject:
			ts = o.Spec.Triggers
		case *kedav1alpha1.ScaledJob:
			ts = o.Spec.Triggers
		}
		if len(ts) == 0 {
			continue
		}
		if typ != "" {
			ts[0].Type = typ
		}
		if ts[0].Metadata == nil {
			ts[0].Metadata = map[string]string{}
		}
		ts[0].Metadata[key] = value
	}
}
