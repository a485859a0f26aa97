package native

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gobwas/glob"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// This file is the Go form of policies/trigger_endpoints: the hosts KEDA
// calls for a trigger must be on data.config.allowedEndpoints, and a
// trigger type the policy does not know must not carry an address. The
// parsers of the metadata (host_of, url_host, grpc_hosts, ...) are in
// trigger_endpoints_parse.go.

// init registers the Go form of trigger_endpoints.
func init() { register("trigger_endpoints", compileTriggerEndpoints) }

// endpointHow is a row's "how": how KEDA turns the row's fields into the
// address it calls.
type endpointHow uint8

// The hows of endpoint_rows.
const (
	howURL endpointHow = iota
	howURLList
	howURLHostPort
	howAddress
	howAddressList
	howGRPC
	howTemplate
	howMySQL
	howMongoDB
	howMSSQL
	howAzureName
	howAzureStorageConnection
	howCosmosConnection
	howElasticCloudID
	howFixed
)

// endpointRow is one row of endpoint_rows.
type endpointRow struct {
	typ    string
	fields []string
	how    endpointHow
	// format is the row's "format" ("" when it has none); parts is format
	// split at its "%s" verbs (the formats have no other verb), so that
	// sprintf(format, args) is parts interleaved with args.
	format string
	parts  []string
	// suffix is the row's "suffix": which of the cloud's suffixes.
	suffix string
}

// endpointRows is endpoint_rows. A "fixed" row derives nothing; its
// fields count only for row_fields.
var endpointRows = []endpointRow{
	{typ: "activemq", fields: []string{"managementEndpoint"}, how: howURL, format: "http://%s/api/jolokia"},
	{typ: "activemq", fields: []string{"restAPITemplate"}, how: howTemplate},
	{typ: "apache-kafka", fields: []string{"bootstrapServers"}, how: howAddressList},
	{typ: "arangodb", fields: []string{"endpoints"}, how: howURLList, format: "%s/_api"},
	{typ: "artemis-queue", fields: []string{"managementEndpoint"}, how: howURL, format: "http://%s/console/jolokia"},
	{typ: "artemis-queue", fields: []string{"restApiTemplate"}, how: howTemplate},
	{typ: "aws-cloudwatch", fields: []string{"awsEndpoint"}, how: howURL},
	{typ: "aws-cloudwatch", fields: []string{"awsRegion"}, how: howFixed},
	{typ: "aws-dynamodb", fields: []string{"awsEndpoint"}, how: howURL},
	{typ: "aws-dynamodb", fields: []string{"awsRegion"}, how: howFixed},
	{typ: "aws-dynamodb-streams", fields: []string{"awsEndpoint"}, how: howURL},
	{typ: "aws-dynamodb-streams", fields: []string{"awsRegion"}, how: howFixed},
	{typ: "aws-kinesis-stream", fields: []string{"awsEndpoint"}, how: howURL},
	{typ: "aws-kinesis-stream", fields: []string{"awsRegion"}, how: howFixed},
	{typ: "aws-sqs-queue", fields: []string{"awsEndpoint"}, how: howURL},
	{typ: "aws-sqs-queue", fields: []string{"awsRegion", "queueURL"}, how: howFixed},
	{typ: "azure-app-insights", fields: []string{"appInsightsResourceURL"}, how: howURL, format: "%s/v1/apps"},
	{typ: "azure-app-insights", fields: []string{"activeDirectoryEndpoint"}, how: howURL},
	{typ: "azure-blob", fields: []string{"accountName", "endpointSuffix"}, how: howAzureName, format: "https://%s.%s", suffix: "blob"},
	{typ: "azure-blob", fields: []string{"connection"}, how: howAzureStorageConnection, suffix: "blob"},
	{typ: "azure-cosmosdb", fields: []string{"endpoint"}, how: howURL, format: "%s/dbs"},
	{typ: "azure-cosmosdb", fields: []string{"leaseEndpoint"}, how: howURL, format: "%s/dbs"},
	{typ: "azure-cosmosdb", fields: []string{"connection"}, how: howCosmosConnection},
	{typ: "azure-cosmosdb", fields: []string{"leaseConnection"}, how: howCosmosConnection},
	{typ: "azure-cosmosdb", fields: []string{"activeDirectoryEndpoint"}, how: howURL},
	{typ: "azure-data-explorer", fields: []string{"endpoint"}, how: howURL},
	{typ: "azure-data-explorer", fields: []string{"activeDirectoryEndpoint"}, how: howURL},
	{typ: "azure-eventhub", fields: []string{"eventHubNamespace", "endpointSuffix"}, how: howAzureName, format: "amqps://%s.%s/", suffix: "servicebus"},
	{typ: "azure-eventhub", fields: []string{"storageAccountName", "storageEndpointSuffix"}, how: howAzureName, format: "https://%s.blob.%s", suffix: "storage"},
	{typ: "azure-log-analytics", fields: []string{"logAnalyticsResourceURL"}, how: howURL, format: "%s/v1"},
	{typ: "azure-monitor", fields: []string{"azureResourceManagerEndpoint"}, how: howURL},
	{typ: "azure-pipelines", fields: []string{"organizationURL"}, how: howURL, format: "%s/_apis/distributedtask/pools"},
	{typ: "azure-queue", fields: []string{"accountName", "endpointSuffix"}, how: howAzureName, format: "https://%s.%s/", suffix: "queue"},
	{typ: "azure-queue", fields: []string{"connection"}, how: howAzureStorageConnection, suffix: "queue"},
	{typ: "azure-servicebus", fields: []string{"namespace", "endpointSuffix"}, how: howAzureName, format: "https://%s.%s/", suffix: "servicebus"},
	{typ: "beanstalkd", fields: []string{"server"}, how: howAddress},
	{typ: "cassandra", fields: []string{"clusterIPAddress"}, how: howAddress},
	{typ: "clickhouse", fields: []string{"host", "port"}, how: howURLHostPort, format: "clickhouse://%s/"},
	{typ: "couchdb", fields: []string{"host", "port"}, how: howURLHostPort, format: "http://%s/"},
	{typ: "couchdb", fields: []string{"connectionString"}, how: howURL},
	{typ: "datadog", fields: []string{}, how: howFixed},
	{typ: "dynatrace", fields: []string{"host"}, how: howURL, format: "%s/api/v2/metrics/query"},
	{typ: "elastic-forecast", fields: []string{"addresses"}, how: howURLList},
	{typ: "elastic-forecast", fields: []string{"cloudID"}, how: howElasticCloudID},
	{typ: "elasticsearch", fields: []string{"addresses"}, how: howURLList},
	{typ: "elasticsearch", fields: []string{"cloudID"}, how: howElasticCloudID},
	{typ: "etcd", fields: []string{"endpoints"}, how: howAddressList},
	{typ: "external", fields: []string{"scalerAddress"}, how: howGRPC},
	{typ: "external-push", fields: []string{"scalerAddress"}, how: howGRPC},
	{typ: "forgejo-runner", fields: []string{"address"}, how: howURL, format: "%s/api/v1"},
	{typ: "gcp-cloudtasks", fields: []string{}, how: howFixed},
	{typ: "gcp-pubsub", fields: []string{}, how: howFixed},
	{typ: "gcp-spanner", fields: []string{}, how: howFixed},
	{typ: "gcp-stackdriver", fields: []string{}, how: howFixed},
	{typ: "gcp-storage", fields: []string{}, how: howFixed},
	{typ: "github-runner", fields: []string{"githubApiURL"}, how: howURL, format: "%s/repos"},
	{typ: "graphite", fields: []string{"serverAddress"}, how: howURL, format: "%s/render"},
	{typ: "huawei-cloudeye", fields: []string{}, how: howFixed},
	{typ: "ibmmq", fields: []string{"host"}, how: howURL},
	{typ: "influxdb", fields: []string{"serverURL"}, how: howURL, format: "%s/api/v2"},
	{typ: "kafka", fields: []string{"bootstrapServers"}, how: howAddressList},
	{typ: "liiklus", fields: []string{"address"}, how: howGRPC},
	{typ: "loki", fields: []string{"serverAddress"}, how: howURL, format: "%s/loki/api/v1/query"},
	{typ: "metrics-api", fields: []string{"url"}, how: howURL},
	{typ: "mongodb", fields: []string{"connectionString"}, how: howMongoDB},
	{typ: "mongodb", fields: []string{"scheme", "host", "port"}, how: howMongoDB},
	{typ: "mssql", fields: []string{"host"}, how: howMSSQL},
	{typ: "mysql", fields: []string{"host", "port"}, how: howMySQL},
	{typ: "nats-jetstream", fields: []string{"natsServerMonitoringEndpoint"}, how: howURL, format: "http://%s/jsz"},
	{typ: "new-relic", fields: []string{"region"}, how: howFixed},
	{typ: "nsq", fields: []string{"nsqLookupdHTTPAddresses"}, how: howURLList, format: "http://%s/lookup"},
	{typ: "opensearch", fields: []string{"addresses"}, how: howURLList},
	{typ: "openstack-metric", fields: []string{"metricsURL"}, how: howURL},
	{typ: "openstack-swift", fields: []string{"swiftURL"}, how: howURL},
	{typ: "postgresql", fields: []string{"host"}, how: howAddressList},
	{typ: "predictkube", fields: []string{"prometheusAddress"}, how: howURL, format: "%s/api/v1/query"},
	{typ: "predictkube", fields: []string{}, how: howFixed},
	{typ: "prometheus", fields: []string{"serverAddress"}, how: howURL, format: "%s/api/v1/query"},
	{typ: "pulsar", fields: []string{"adminURL"}, how: howURL, format: "%s/admin/v2/persistent"},
	{typ: "rabbitmq", fields: []string{"host"}, how: howURL},
	{typ: "redis", fields: []string{"address", "addresses"}, how: howAddressList},
	{typ: "redis", fields: []string{"host", "hosts"}, how: howAddressList},
	{typ: "redis-cluster", fields: []string{"address", "addresses"}, how: howAddressList},
	{typ: "redis-cluster", fields: []string{"host", "hosts"}, how: howAddressList},
	{typ: "redis-cluster-streams", fields: []string{"address", "addresses"}, how: howAddressList},
	{typ: "redis-cluster-streams", fields: []string{"host", "hosts"}, how: howAddressList},
	{typ: "redis-sentinel", fields: []string{"address", "addresses"}, how: howAddressList},
	{typ: "redis-sentinel", fields: []string{"host", "hosts"}, how: howAddressList},
	{typ: "redis-sentinel-streams", fields: []string{"address", "addresses"}, how: howAddressList},
	{typ: "redis-sentinel-streams", fields: []string{"host", "hosts"}, how: howAddressList},
	{typ: "redis-streams", fields: []string{"address", "addresses"}, how: howAddressList},
	{typ: "redis-streams", fields: []string{"host", "hosts"}, how: howAddressList},
	{typ: "selenium-grid", fields: []string{"url"}, how: howURL},
	{typ: "solace-direct-messaging", fields: []string{"solaceSempBaseURL"}, how: howURLList, format: "%s/SEMP"},
	{typ: "solace-event-queue", fields: []string{"solaceSempBaseURL"}, how: howURLList, format: "%s/SEMP/v2/monitor"},
	{typ: "solarwinds", fields: []string{"host"}, how: howURL},
	{typ: "solr", fields: []string{"host"}, how: howURL, format: "%s/solr/"},
	{typ: "splunk", fields: []string{"host"}, how: howURL, format: "%s/servicesNS/"},
	{typ: "splunk-observability", fields: []string{}, how: howFixed},
	{typ: "sumologic", fields: []string{"host"}, how: howURL, format: "%s/api/v1"},
	{typ: "temporal", fields: []string{"endpoint"}, how: howGRPC},
}

// noEndpointTypes is no_endpoint_types.
var noEndpointTypes = []string{"cpu", "memory", "cron", "kubernetes-workload", "kubernetes-resource", "external-mock"}

// endpointType is what the policy knows of one trigger type of
// endpoint_rows: rows_by_type[t] and row_fields(t).
type endpointType struct {
	rows    []*endpointRow
	covered []string
}

// endpointTypes indexes endpoint_rows by trigger type; knownTypes is
// known_types.
var (
	endpointTypes = map[string]*endpointType{}
	knownTypes    = map[string]bool{}
)

// urlKeys is url_keys; listKeys is list_keys.
var (
	urlKeys = endpointKeySet(
		"serverAddress", "url", "metricsURL", "metricsUrl", "endpoint", "leaseEndpoint",
		"managementEndpoint", "restAPITemplate", "restApiTemplate", "adminURL", "serverURL",
		"githubApiURL", "organizationURL", "solaceSempBaseURL", "swiftURL", "prometheusAddress",
		"scalerAddress", "awsEndpoint", "azureResourceManagerEndpoint", "appInsightsResourceURL",
		"logAnalyticsResourceURL", "activeDirectoryEndpoint",
	)
	listKeys = endpointKeySet(
		"host", "hosts", "address", "addresses", "bootstrapServers", "endpoints",
		"clusterIPAddress", "server", "natsServerMonitoringEndpoint", "nsqLookupdHTTPAddresses",
	)
)

// templatePlaceholder is template_placeholder.
const templatePlaceholder = "<<managementendpoint>>"

// init builds rows_by_type, row_fields and known_types from endpoint_rows,
// and splits the rows' formats.
func init() {
	for i := range endpointRows {
		row := &endpointRows[i]
		if row.format != "" {
			row.parts = strings.Split(row.format, "%s")
		}
		et := endpointTypes[row.typ]
		if et == nil {
			et = &endpointType{}
			endpointTypes[row.typ] = et
		}
		et.rows = append(et.rows, row)
		for _, f := range row.fields {
			if !slices.Contains(et.covered, f) {
				et.covered = append(et.covered, f)
			}
		}
		knownTypes[row.typ] = true
	}
	for _, t := range noEndpointTypes {
		knownTypes[t] = true
	}
}

// endpointKeySet makes a set of metadata keys.
func endpointKeySet(keys ...string) map[string]bool {
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out
}

// sprintf1 is sprintf(object.get(row, "format", "%s"), [v]).
func (row *endpointRow) sprintf1(v string) string {
	if row.parts == nil {
		return v
	}
	return row.parts[0] + v + row.parts[1]
}

// sprintf2 is sprintf(row.format, [a, b]).
func (row *endpointRow) sprintf2(a, b string) string {
	return row.parts[0] + a + row.parts[1] + b + row.parts[2]
}

// triggerEndpoints is the compiled configuration of the policy: allowlist
// with its patterns lower-cased and compiled.
type triggerEndpoints struct {
	globs []*glob.Pattern
	// allowlistText is allowlist as sprintf's %v writes it.
	allowlistText string
}

// compileTriggerEndpoints returns the Go form of trigger_endpoints for
// cfg: nothing to find without an allowlist, else the allowlist's
// patterns compiled as glob.match compiles them (lower-cased, "." the
// separator; a pattern that does not compile is an error in Rego, which
// leaves allowed undefined for it: it matches nothing).
func compileTriggerEndpoints(cfg Config) Func {
	if len(cfg.AllowedEndpoints) == 0 {
		return func(*Input) []string { return nil }
	}
	te := &triggerEndpoints{}
	quoted := make([]string, len(cfg.AllowedEndpoints))
	for i, p := range cfg.AllowedEndpoints {
		quoted[i] = strconv.Quote(p)
		if g, err := glob.Compile(strings.ToLower(p), '.'); err == nil {
			te.globs = append(te.globs, g)
		}
	}
	te.allowlistText = "[" + strings.Join(quoted, ", ") + "]"
	return te.violations
}

// allowed is allowed(host).
func (te *triggerEndpoints) allowed(host string) bool {
	for _, g := range te.globs {
		if g.Match(host) {
			return true
		}
	}
	return false
}

// endpointReview is the state of one evaluation: the review, its subject
// (lib.subject, computed when a message needs it) and the messages.
type endpointReview struct {
	te      *triggerEndpoints
	in      *Input
	subject string
	// subjectState is 0 before subject is computed, 1 when it is defined,
	// 2 when it is undefined (the object has no name: no message).
	subjectState uint8
	msgs         []string
}

// subjectOK is lib.subject, computed once.
func (r *endpointReview) subjectOK() bool {
	if r.subjectState == 0 {
		r.subjectState = 2
		if s, ok := r.in.subject(); ok {
			r.subject, r.subjectState = s, 1
		}
	}
	return r.subjectState == 1
}

// violations is the violation rule of trigger_endpoints.
func (te *triggerEndpoints) violations(in *Input) []string {
	var owner client.Object
	var ownerKind string
	var triggers []kedav1alpha1.ScaleTriggers
	if so, ok := in.reviewScaledObject(); ok {
		owner, ownerKind, triggers = so, kindScaledObject, so.Spec.Triggers
	} else if sj, ok := in.reviewScaledJob(); ok {
		owner, ownerKind, triggers = sj, kindScaledJob, sj.Spec.Triggers
	} else {
		return nil
	}
	r := endpointReview{te: te, in: in}
	for i := range triggers {
		e := trigger{owner: owner, ownerKd: ownerKind, t: &triggers[i], index: i}
		t := e.t
		forEachEndpoint(t.Type, t.Metadata, func(key, host string) {
			if !te.allowed(host) {
				r.endpointMessage(e, key, host)
			}
		})
		if !knownTypes[t.Type] {
			for key, value := range t.Metadata {
				if unknownAddress(key, value) {
					r.unknownMessage(e, key)
				}
			}
		}
	}
	if len(r.msgs) > 1 {
		slices.Sort(r.msgs)
		r.msgs = slices.Compact(r.msgs)
	}
	return r.msgs
}

// endpointMessage adds the message of the first violation rule for
// [key, host] of trigger e.
func (r *endpointReview) endpointMessage(e trigger, key, host string) {
	if !r.subjectOK() {
		return
	}
	owner, ok := e.ownerKey()
	if !ok {
		return
	}
	r.msgs = append(r.msgs, "trigger_endpoints: "+r.subject+" makes KEDA call "+host+" (trigger "+e.ref()+", type "+e.t.Type+
		", metadata."+key+" of "+owner+"), which is not on the allowed endpoints "+r.te.allowlistText+
		"; use an allowed endpoint, or ask the cluster admins to add it to mlscale's policy configuration (allowedEndpoints)")
}

// unknownMessage adds the message of the second violation rule for
// metadata key of trigger e.
func (r *endpointReview) unknownMessage(e trigger, key string) {
	if !r.subjectOK() {
		return
	}
	owner, ok := e.ownerKey()
	if !ok {
		return
	}
	r.msgs = append(r.msgs, "trigger_endpoints: "+r.subject+" has trigger "+e.ref()+" of type "+strconv.Quote(e.t.Type)+
		", which the policy does not know, and its metadata."+key+" (of "+owner+
		") looks like an address: the policy cannot tell which host KEDA would build from it, so with allowed endpoints configured the trigger is denied; use a trigger type KEDA knows, or ask the cluster admins to update mlscale's trigger_endpoints policy")
}

// forEachEndpoint is endpoints(trigger) for a trigger of type typ with
// metadata md: it calls emit for each [metadata key, host] of
// row_endpoints and metadata_endpoints (hosts not empty), possibly more
// than once for the same pair.
func forEachEndpoint(typ string, md map[string]string, emit func(key, host string)) {
	et := endpointTypes[typ]
	var covered []string
	if et != nil {
		covered = et.covered
		for _, row := range et.rows {
			deriveRow(row, md, emit)
		}
	}
	for key, value := range md {
		isURL, isList := urlKeys[key], listKeys[key]
		if (!isURL && !isList) || slices.Contains(covered, key) {
			continue
		}
		if isURL {
			if v := strings.TrimSpace(value); v != "" {
				emitMetadataHost(emit, key, urlHost(v))
			}
			continue
		}
		for e := range strings.SplitSeq(value, ",") {
			if e = strings.TrimSpace(e); e != "" {
				emitMetadataHost(emit, key, hostOf(e))
			}
		}
	}
}

// emitMetadataHost is the filter of metadata_endpoints.
func emitMetadataHost(emit func(key, host string), key, host string) {
	if host != "" && host != templatePlaceholder {
		emit(key, host)
	}
}

// field is field(md, key): the value trimmed, "" when absent.
func field(md map[string]string, key string) string {
	return strings.TrimSpace(md[key])
}

// deriveRow is derive(row, md), with row_endpoints' filter (host != "").
func deriveRow(row *endpointRow, md map[string]string, emit func(key, host string)) {
	out := func(key, host string) {
		if host != "" {
			emit(key, host)
		}
	}
	// key is row.fields[0], the key of every how but address_list, mysql,
	// mongodb and azure_name; v is its field.
	var key, v string
	if len(row.fields) > 0 {
		key = row.fields[0]
		v = field(md, key)
	}
	switch row.how {
	case howURL:
		if v != "" {
			out(key, urlHost(row.sprintf1(v)))
		}
	case howURLList:
		for e := range strings.SplitSeq(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out(key, urlHost(row.sprintf1(e)))
			}
		}
	case howURLHostPort:
		if v != "" {
			out(key, urlHost(row.sprintf1(joinHostPort(v, field(md, row.fields[1])))))
		}
	case howAddress:
		if v != "" {
			out(key, hostOf(v))
		}
	case howAddressList:
		for _, key := range row.fields {
			for e := range strings.SplitSeq(field(md, key), ",") {
				if e = strings.TrimSpace(e); e != "" {
					out(key, hostOf(e))
				}
			}
		}
	case howGRPC:
		if v != "" {
			grpcHosts(v, func(h string) { out(key, h) })
		}
	case howTemplate:
		if v != "" {
			if host := urlHost(v); host != templatePlaceholder {
				out(key, host)
			}
		}
	case howMySQL:
		port := field(md, "port")
		if host, ok := mysqlHost(field(md, "host"), port); ok {
			out(portOrHost(port), host)
		}
	case howMongoDB:
		deriveMongoDB(row, md, out)
	case howMSSQL:
		if v != "" {
			before, _, _ := strings.Cut(v, `\`)
			out(key, hostOf(before))
		}
	case howAzureName:
		deriveAzureName(row, md, out)
	case howAzureStorageConnection:
		if u, ok := storageConnectionURL(v, row.suffix); ok {
			if host := urlHost(u); !azureCloudHost(host) {
				out(key, host)
			}
		}
	case howCosmosConnection:
		if endpoint, ok := cosmosAccountEndpoint(v); ok {
			out(key, urlHost(endpoint+"/dbs"))
		}
	case howElasticCloudID:
		if host, ok := elasticCloudHost(v); ok {
			out(key, host)
		}
	case howFixed:
	}
}

// deriveMongoDB is derive for the two mongodb rows: the hosts of
// connectionString, or of the connection string KEDA formats from scheme,
// host and port.
func deriveMongoDB(row *endpointRow, md map[string]string, out func(key, host string)) {
	if len(row.fields) == 1 {
		mongodbHosts(field(md, "connectionString"), func(h string) { out("connectionString", h) })
		return
	}
	host := field(md, "host")
	if host == "" {
		return
	}
	scheme := field(md, "scheme")
	if scheme == "" {
		scheme = "mongodb"
	}
	key := "scheme"
	if scheme == "mongodb" || scheme == "mongodb+srv" {
		key = "host"
	}
	mongodbHosts(mongodbConnectionString(scheme, host, field(md, "port")), func(h string) { out(key, h) })
}

// deriveAzureName is derive for an azure_name row: <name>.<suffix> in the
// row's format, unless it is a cloud's own public endpoint.
func deriveAzureName(row *endpointRow, md map[string]string, out func(key, host string)) {
	nameKey, suffixKey := row.fields[0], row.fields[1]
	name, suffix := field(md, nameKey), field(md, suffixKey)
	if name == "" && suffix == "" {
		return
	}
	n, s := name, suffix
	if n == "" {
		n = "*"
	}
	if s == "" {
		s = cloudSuffix(md, row.suffix)
	}
	host := urlHost(row.sprintf2(n, s))
	if azureCloudHost(host) {
		return
	}
	out(azureCheckedKey(nameKey, name, suffixKey, suffix), host)
}

// unknownAddress is the body of unknown_addresses for one metadata entry
// (the trigger's type being unknown): not a ...FromEnv key, not blank,
// and unknown_address_value.
func unknownAddress(key, value string) bool {
	if strings.HasSuffix(key, "FromEnv") {
		return false
	}
	v := strings.TrimSpace(value)
	if v == "" {
		return false
	}
	return urlKeys[key] || listKeys[key] || addressLike(v)
}
