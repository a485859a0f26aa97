package native

// Exports of trigger_endpoints' parsers for the tests of package
// native_test, which compare them with the Rego.

// TriggerEndpoints is endpoints(trigger): the [metadata key, host] pairs
// of a trigger of type typ with metadata md, each once.
func TriggerEndpoints(typ string, md map[string]string) [][2]string {
	var out [][2]string
	forEachEndpoint(typ, md, func(key, host string) {
		for _, p := range out {
			if p == [2]string{key, host} {
				return
			}
		}
		out = append(out, [2]string{key, host})
	})
	return out
}

// UnknownAddresses is unknown_addresses(trigger).
func UnknownAddresses(typ string, md map[string]string) []string {
	if knownTypes[typ] {
		return nil
	}
	var out []string
	for k, v := range md {
		if unknownAddress(k, v) {
			out = append(out, k)
		}
	}
	return out
}

// Parsers of trigger_endpoints, by their Rego names.
var (
	HostOf                  = hostOf
	URLHost                 = urlHost
	TCPHost                 = tcpHost
	MySQLHost               = mysqlHost
	StorageConnectionURL    = storageConnectionURL
	CosmosAccountEndpoint   = cosmosAccountEndpoint
	ElasticCloudHost        = elasticCloudHost
	AddressLike             = addressLike
	AzureCloudHost          = azureCloudHost
	MongoDBConnectionString = mongodbConnectionString
	OPASubstring            = opaSubstring
)

// GRPCHosts is grpc_hosts(target), each host once.
func GRPCHosts(target string) []string {
	return collect(func(emit func(string)) { grpcHosts(target, emit) })
}

// MongoDBHosts is mongodb_hosts(uri), each host once.
func MongoDBHosts(uri string) []string {
	return collect(func(emit func(string)) { mongodbHosts(uri, emit) })
}

// collect gathers what f emits, each once.
func collect(f func(emit func(string))) []string {
	var out []string
	f(func(s string) {
		for _, v := range out {
			if v == s {
				return
			}
		}
		out = append(out, s)
	})
	return out
}
