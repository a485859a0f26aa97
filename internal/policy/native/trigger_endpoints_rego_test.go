package native_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/policy/native"
)

// These tests compare trigger_endpoints' parsers with the Rego functions
// they are the Go form of, one function at a time: a difference shows
// here with the function that has it, where TestNativeSameAsRego (package
// policy) shows only the messages.

const endpointsPackage = "data.mlscale.policies.trigger_endpoints."

// endpointsRego evaluates functions of policies/trigger_endpoints.
type endpointsRego struct {
	compiler *ast.Compiler
	mu       sync.Mutex
	queries  map[string]rego.PreparedEvalQuery
}

var (
	endpointsRegoOnce sync.Once
	endpointsRegoVal  *endpointsRego
	endpointsRegoErr  error
)

// newEndpointsRego compiles the built-in policies once.
func newEndpointsRego(t testing.TB) *endpointsRego {
	t.Helper()
	endpointsRegoOnce.Do(func() {
		modules, err := policy.BuiltinModules()
		if err != nil {
			endpointsRegoErr = err
			return
		}
		c := ast.NewCompiler()
		if c.Compile(modules); c.Failed() {
			endpointsRegoErr = c.Errors
			return
		}
		endpointsRegoVal = &endpointsRego{compiler: c, queries: map[string]rego.PreparedEvalQuery{}}
	})
	if endpointsRegoErr != nil {
		t.Fatal(endpointsRegoErr)
	}
	return endpointsRegoVal
}

// eval evaluates call (a call of a function of the package on input.a,
// input.b, ...) and returns its value, false when it is undefined.
func (r *endpointsRego) eval(t testing.TB, call string, args ...any) (any, bool) {
	t.Helper()
	r.mu.Lock()
	pq, ok := r.queries[call]
	if !ok {
		var err error
		pq, err = rego.New(rego.Query("x := "+endpointsPackage+call), rego.Compiler(r.compiler)).PrepareForEval(context.Background())
		if err != nil {
			r.mu.Unlock()
			t.Fatalf("%s: %v", call, err)
		}
		r.queries[call] = pq
	}
	r.mu.Unlock()
	input := map[string]any{}
	for i, a := range args {
		input[string(rune('a'+i))] = a
	}
	rs, err := pq.Eval(context.Background(), rego.EvalInput(input))
	if err != nil {
		t.Fatalf("%s%q: %v", call, args, err)
	}
	if len(rs) == 0 {
		return nil, false
	}
	return rs[0].Bindings["x"], true
}

// strs converts a Rego set or array of strings.
func strs(t testing.TB, v any) []string {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("not a collection: %#v", v)
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = fmt.Sprint(e)
	}
	sort.Strings(out)
	return out
}

// sorted is list sorted, [] for none.
func sorted(list []string) []string {
	out := slices.Clone(list)
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// compareString compares a Go parser returning a string with a Rego
// function that is always defined.
func compareString(t *testing.T, r *endpointsRego, call string, got string, args ...any) {
	t.Helper()
	want, ok := r.eval(t, call, args...)
	if !ok {
		t.Errorf("%s%q: Rego undefined, Go %q", call, args, got)
		return
	}
	if want != got {
		t.Errorf("%s%q: Go %q, Rego %q", call, args, got, want)
	}
}

// compareOptional compares a Go parser with a Rego function that may be
// undefined.
func compareOptional(t *testing.T, r *endpointsRego, call string, got string, gotOK bool, args ...any) {
	t.Helper()
	want, ok := r.eval(t, call, args...)
	if ok != gotOK || (ok && want != got) {
		t.Errorf("%s%q: Go %q (%v), Rego %q (%v)", call, args, got, gotOK, want, ok)
	}
}

// compareSet compares a Go parser returning a set of strings with a Rego
// function that is always defined.
func compareSet(t *testing.T, r *endpointsRego, call string, got []string, args ...any) {
	t.Helper()
	want, ok := r.eval(t, call, args...)
	if !ok {
		t.Errorf("%s%q: Rego undefined, Go %q", call, args, got)
		return
	}
	if w, g := strs(t, want), sorted(got); !slices.Equal(w, g) {
		t.Errorf("%s%q: Go %q, Rego %q", call, args, g, w)
	}
}

// compareParsers compares every parser with its Rego on s (and t, for
// the two-argument ones).
func compareParsers(t *testing.T, r *endpointsRego, s, s2 string) {
	t.Helper()
	compareString(t, r, "host_of(input.a)", native.HostOf(s), s)
	compareString(t, r, "url_host(input.a)", native.URLHost(s), s)
	compareString(t, r, "tcp_host(input.a)", native.TCPHost(s), s)
	compareSet(t, r, "grpc_hosts(input.a)", native.GRPCHosts(s), s)
	compareSet(t, r, "mongodb_hosts(input.a)", native.MongoDBHosts(s), s)
	h, ok := native.MySQLHost(s, s2)
	compareOptional(t, r, "mysql_host(input.a, input.b)", h, ok, s, s2)
	for _, service := range []string{"blob", "queue"} {
		u, ok := native.StorageConnectionURL(s, service)
		compareOptional(t, r, "storage_connection_url(input.a, input.b)", u, ok, s, service)
	}
	e, ok := native.CosmosAccountEndpoint(s)
	var got []string
	if ok {
		got = []string{e}
	}
	want, wok := r.eval(t, "cosmos_account_endpoint(input.a)", s)
	if wok != ok || (ok && !slices.Equal(strs(t, want), got)) {
		t.Errorf("cosmos_account_endpoint(%q): Go %q (%v), Rego %v (%v)", s, e, ok, want, wok)
	}
	c, ok := native.ElasticCloudHost(s)
	compareOptional(t, r, "elastic_cloud_host(input.a)", c, ok, s)
	for _, scheme := range []string{"mongodb", "mongodb+srv", s2} {
		compareString(t, r, "mongodb_connection_string(input.a, input.b, input.c)", native.MongoDBConnectionString(scheme, s, s2), scheme, s, s2)
	}
	_, like := r.eval(t, "address_like(input.a)", s)
	if like != native.AddressLike(s) {
		t.Errorf("address_like(%q): Go %v, Rego %v", s, native.AddressLike(s), like)
	}
	_, cloud := r.eval(t, "azure_cloud_host(input.a)", s)
	if cloud != native.AzureCloudHost(s) {
		t.Errorf("azure_cloud_host(%q): Go %v, Rego %v", s, native.AzureCloudHost(s), cloud)
	}
}

// compareTrigger compares endpoints(trigger) and
// unknown_addresses(trigger) for a trigger of type typ with metadata md.
func compareTrigger(t *testing.T, r *endpointsRego, typ string, md map[string]string) {
	t.Helper()
	trigger := map[string]any{"type": typ}
	if md != nil {
		m := make(map[string]any, len(md))
		for k, v := range md {
			m[k] = v
		}
		trigger["metadata"] = m
	}
	want, ok := r.eval(t, "endpoints(input.a)", trigger)
	if !ok {
		t.Fatalf("endpoints undefined for %v", trigger)
	}
	var w []string
	for _, p := range want.([]any) {
		pair := p.([]any)
		w = append(w, fmt.Sprintf("%s %q", pair[0], pair[1]))
	}
	var g []string
	for _, p := range native.TriggerEndpoints(typ, md) {
		g = append(g, fmt.Sprintf("%s %q", p[0], p[1]))
	}
	if w, g := sorted(w), sorted(g); !slices.Equal(w, g) {
		t.Errorf("endpoints(type %q, metadata %q):\nGo   %q\nRego %q", typ, md, g, w)
	}
	compareSet(t, r, "unknown_addresses(input.a)", native.UnknownAddresses(typ, md), trigger)
}

// endpointValues are values that reach the parsers' corners.
var endpointValues = []string{
	"", " ", "x", "http://prometheus.monitoring.svc.cluster.local:9090", "HTTP://Prometheus.Monitoring.svc.cluster.local.",
	"http://evil.example.com#@prometheus.monitoring", "http://evil.example.com?@p", "http://p:9090@evil.example.com",
	"amqp://guest:pw@rabbitmq.ml:5672/vhost", "http://[::1]:8080/x", "[::1]:8080", "[fd00::1]", "[fd00::1", "[::1]x:80",
	"http://[fe80::1%25eth0]:80/", "http://a b/", "http://%41.example.com/", "http://host:port/", "http://host:99999/",
	"10.0.0.5:9092", "10.0.0.5", "1.2.3", "db:5432", "db.example.org", "db.example.org.", "db.example.org/x",
	"a.data.svc.cluster.local,b.data.svc.cluster.local", "a, ,b:1,", ",", "k=v,a=b", "0.5", "00:05", "sum(rate(x[1m]))",
	"dns:///evil.example.com:6000", "dns://10.9.9.9:53/scaler:6000", "dns:scaler:6000", "passthrough:///x:1", "unix:///var/run/s.sock",
	"unix-abstract:x", "vsock:2:1", "xds:///evil.example.com:6000", "xds://auth/ep", "DNS://[::1]:53/x", "dns:////x", "dns://a\n/b", "dns:\nx",
	"mongodb://u:p@m-0:27017,m-1.evil:27017/db?replicaSet=rs0", "mongodb+srv://cluster0.evil.example.com/db", "mongodb://x@evil.example.com/",
	"mongodb://@/", "mongodb://a@b@c/d", "mongodb://h\u00e9st:1,\xff\xfe@x/", "mongodb://[::1]:27017/",
	"3306)@tcp(evil.example.com:3306", "3306", "abc", "a@b(c", "unix(/tmp/s)", "(x)", "@(", "h\u00e9@(x:1)", "\xff@(y)", ")@tcp(",
	"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net",
	"BlobEndpoint=https://blob.data.svc/;BlobEndpoint=https://evil.example.com/;SharedAccessSignature=sv=1",
	"QueueEndpoint=https://evil.example.com/;", "AccountName=evil.example.com/;", "AccountName=;;;", "=;", "x", ";",
	"AccountName=\u00e9\xff=1;QueueEndpoint", "BlobEndpoint=;AccountName=a",
	" AccountEndpoint=https://evil.example.com:443/ ;AccountKey=a2V5;", "AccountEndpoint=;AccountEndpoint=https://x/",
	"deployment:" + base64.StdEncoding.EncodeToString([]byte("evil.example.com$es$kb")),
	"deployment:" + base64.StdEncoding.EncodeToString([]byte("data.svc.cluster.local:443$es$kb")),
	"deployment:" + base64.StdEncoding.EncodeToString([]byte("x$evil.example.com/")),
	"deployment:" + base64.StdEncoding.EncodeToString([]byte("nodollar")),
	"deployment:" + base64.StdEncoding.EncodeToString([]byte("\xff$\xfe")), "a:b:c", "deployment:not base64!",
	"acct", "acct.blob.core.windows.net", "*.servicebus.windows.net", "x.queue.core.chinacloudapi.cn", "A.blob.core.windows.net",
	"evil.example.com/", "evil.example.com?", "evil.example.com#", "acct.blob.core.windows.net@evil.example.com",
	`sql.data.svc\SQLEXPRESS`, `\x`, "http://<<managementEndpoint>>/console/jolokia", "<<managementEndpoint>>",
	"http://activemq:8161@evil.example.com:8161", "h\u00e9llo.example.com", "\xff\xfe:1", "ſ.example.com", "K.example.com",
	"http://\u212a.example.com/", "http://x\u00a0.com/", "\u0085http://x.com/\u0085", "tcp://x", "HTTP://", "http:///x", "http://:80/",
	"http://@/", "http://u@:1/", "http://a@b@c/", "https://user@api.example.com/x", "https://a.b/x?token=abc&x=1",
}

// endpointTypes are trigger types: every type of the table, types without
// endpoints and unknown ones.
var endpointTypes = []string{
	"activemq", "apache-kafka", "arangodb", "artemis-queue", "aws-cloudwatch", "aws-dynamodb", "aws-dynamodb-streams",
	"aws-kinesis-stream", "aws-sqs-queue", "azure-app-insights", "azure-blob", "azure-cosmosdb", "azure-data-explorer",
	"azure-eventhub", "azure-log-analytics", "azure-monitor", "azure-pipelines", "azure-queue", "azure-servicebus",
	"beanstalkd", "cassandra", "clickhouse", "couchdb", "datadog", "dynatrace", "elastic-forecast", "elasticsearch", "etcd",
	"external", "external-push", "forgejo-runner", "gcp-cloudtasks", "gcp-pubsub", "gcp-spanner", "gcp-stackdriver",
	"gcp-storage", "github-runner", "graphite", "huawei-cloudeye", "ibmmq", "influxdb", "kafka", "liiklus", "loki",
	"metrics-api", "mongodb", "mssql", "mysql", "nats-jetstream", "new-relic", "nsq", "opensearch", "openstack-metric",
	"openstack-swift", "postgresql", "predictkube", "prometheus", "pulsar", "rabbitmq", "redis", "redis-cluster",
	"redis-cluster-streams", "redis-sentinel", "redis-sentinel-streams", "redis-streams", "selenium-grid",
	"solace-direct-messaging", "solace-event-queue", "solarwinds", "solr", "splunk", "splunk-observability", "sumologic",
	"temporal", "cpu", "memory", "cron", "kubernetes-workload", "kubernetes-resource", "external-mock", "", "acme", "Prometheus", "stan",
}

// endpointKeys are metadata keys: every field of the table, url_keys,
// list_keys and others.
var endpointKeys = []string{
	"managementEndpoint", "restAPITemplate", "restApiTemplate", "bootstrapServers", "endpoints", "awsEndpoint", "awsRegion",
	"queueURL", "appInsightsResourceURL", "activeDirectoryEndpoint", "accountName", "endpointSuffix", "connection", "endpoint",
	"leaseEndpoint", "leaseConnection", "eventHubNamespace", "storageAccountName", "storageEndpointSuffix",
	"logAnalyticsResourceURL", "azureResourceManagerEndpoint", "organizationURL", "namespace", "server", "clusterIPAddress",
	"host", "port", "connectionString", "addresses", "cloudID", "scalerAddress", "address", "githubApiURL", "serverAddress",
	"serverURL", "url", "scheme", "natsServerMonitoringEndpoint", "region", "nsqLookupdHTTPAddresses", "metricsURL", "metricsUrl",
	"swiftURL", "prometheusAddress", "adminURL", "hosts", "solaceSempBaseURL", "cloud", "query", "brokerURL", "hostFromEnv", "",
}

// TestTriggerEndpointsParsersSameAsRego compares each parser with its Rego
// function on endpointValues.
func TestTriggerEndpointsParsersSameAsRego(t *testing.T) {
	r := newEndpointsRego(t)
	for _, s := range endpointValues {
		compareParsers(t, r, s, "27017")
		compareParsers(t, r, "x"+s, s)
	}
}

// TestTriggerEndpointsSameAsRego compares endpoints(trigger) and
// unknown_addresses(trigger) with the Rego for every type of
// endpointTypes with values of endpointValues under pairs of keys.
func TestTriggerEndpointsSameAsRego(t *testing.T) {
	r := newEndpointsRego(t)
	clouds := []string{"", "Private", "AzureChinaCloud", "azureusgovernmentcloud"}
	for ti, typ := range endpointTypes {
		for vi, v := range endpointValues {
			// Each type with each value in a key of its own and in the
			// others, two keys at a time.
			k1 := endpointKeys[(ti+vi)%len(endpointKeys)]
			k2 := endpointKeys[(ti*7+vi*3+1)%len(endpointKeys)]
			md := map[string]string{k1: v, k2: endpointValues[(vi*5+ti)%len(endpointValues)]}
			if c := clouds[(ti+vi)%len(clouds)]; c != "" {
				md["cloud"] = c
			}
			compareTrigger(t, r, typ, md)
		}
		compareTrigger(t, r, typ, nil)
	}
}

// FuzzTriggerEndpointsSameAsRego compares endpoints(trigger) and
// unknown_addresses(trigger), and each parser, with the Rego.
func FuzzTriggerEndpointsSameAsRego(f *testing.F) {
	for i, v := range endpointValues {
		f.Add(uint8(i), uint8(i*3), v, endpointValues[(i*7)%len(endpointValues)])
	}
	f.Fuzz(func(t *testing.T, ti, ki uint8, v, v2 string) {
		r := newEndpointsRego(t)
		typ := endpointTypes[int(ti)%len(endpointTypes)]
		k1 := endpointKeys[int(ki)%len(endpointKeys)]
		k2 := endpointKeys[(int(ki)/len(endpointKeys)+int(ti))%len(endpointKeys)]
		md := map[string]string{k2: v2, k1: v}
		compareTrigger(t, r, typ, md)
		if strings.Count(v, "") < 200 {
			compareParsers(t, r, v, v2)
		}
	})
}
