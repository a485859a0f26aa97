package native

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// This file holds the metadata parsers of policies/trigger_endpoints
// (host_of, url_host, grpc_hosts, mysql_host, ...). Where the Rego uses a
// regular expression for a host, the Go form scans the bytes: the
// expressions' special characters are all ASCII, and Go's regexp, which
// OPA runs them with, reads an invalid UTF-8 byte as one character that
// no ASCII class matches, so a byte scan finds the same match. Where the
// Rego uses indexof, substring or count, which OPA computes on runes
// (substring rebuilding a non-ASCII string from its runes, so that an
// invalid UTF-8 byte becomes U+FFFD), the Go form uses opaIndexByte,
// opaSubstring and utf8.RuneCountInString, which do the same.

// isSchemeStart is the class [a-zA-Z] of a URL scheme's first character.
func isSchemeStart(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isSchemeChar is the class [a-zA-Z0-9+.-] of a URL scheme's other
// characters.
func isSchemeChar(c byte) bool {
	return isSchemeStart(c) || '0' <= c && c <= '9' || c == '+' || c == '.' || c == '-'
}

// schemeLen is the length of the scheme at the start of s,
// `^[a-zA-Z][a-zA-Z0-9+.-]*`, 0 when s does not start with one.
func schemeLen(s string) int {
	if s == "" || !isSchemeStart(s[0]) {
		return 0
	}
	k := 1
	for k < len(s) && isSchemeChar(s[k]) {
		k++
	}
	return k
}

// schemeSlashesLen is the length of the match of
// `^[a-zA-Z][a-zA-Z0-9+.-]*://` in s, 0 when there is none.
func schemeSlashesLen(s string) int {
	k := schemeLen(s)
	if k > 0 && strings.HasPrefix(s[k:], "://") {
		return k + 3
	}
	return 0
}

// hostOf is host_of: group 1 of
// `^(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:[^/?#]*@)?(\[[^\]]*\]|[^:/?#]*)`,
// lower-cased, without a trailing dot.
func hostOf(address string) string {
	return strings.TrimSuffix(strings.ToLower(hostOfMatch(address)), ".")
}

// hostOfMatch is group 1 of host_of's expression: after the scheme and
// "://" (when there are both), after the last "@" before the first "/",
// "?" or "#", a bracketed literal up to the first "]", else up to the
// first ":", "/", "?" or "#".
func hostOfMatch(s string) string {
	i := schemeSlashesLen(s)
	start := i
	for k := i; k < len(s); k++ {
		c := s[k]
		if c == '/' || c == '?' || c == '#' {
			break
		}
		if c == '@' {
			start = k + 1
		}
	}
	s = s[start:]
	if strings.HasPrefix(s, "[") {
		if k := strings.IndexByte(s, ']'); k >= 0 {
			return s[:k+1]
		}
	}
	for k := 0; k < len(s); k++ {
		switch s[k] {
		case ':', '/', '?', '#':
			return s[:k]
		}
	}
	return s
}

// urlHost is url_host: the host net/url reads from u (mlscale.parse_url's
// hostname, an IPv6 literal in brackets), else host_of(trim_space(u)).
func urlHost(u string) string {
	if p := parseURL(u); p.ok {
		if strings.Contains(p.hostname, ":") {
			return "[" + p.hostname + "]"
		}
		return p.hostname
	}
	return hostOf(strings.TrimSpace(u))
}

// joinHostPort is join_host_port (net.JoinHostPort).
func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// tcpHost is tcp_host: inside the brackets of `^\[([^\]]*)\]`, else the
// address without its last ":..." (regex.replace(`:[^:]*$`)); lower-cased,
// without a trailing dot. A "[" without "]" leaves the first rule
// undefined, and the else applies.
func tcpHost(address string) string {
	if strings.HasPrefix(address, "[") {
		if k := strings.IndexByte(address, ']'); k >= 0 {
			return strings.TrimSuffix(strings.ToLower(address[1:k]), ".")
		}
	}
	if k := strings.LastIndexByte(address, ':'); k >= 0 {
		address = address[:k]
	}
	return strings.TrimSuffix(strings.ToLower(address), ".")
}

// forEachElement calls f with elements(value): the non-empty trimmed
// elements of a comma-separated list.
func forEachElement(value string, f func(e string)) {
	for e := range strings.SplitSeq(value, ",") {
		if e = strings.TrimSpace(e); e != "" {
			f(e)
		}
	}
}

// grpcSplit is grpc_split: the lower-cased scheme and the rest of
// `^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$` ("." matches no newline).
func grpcSplit(target string) (scheme, rest string, ok bool) {
	k := schemeLen(target)
	if k == 0 || k >= len(target) || target[k] != ':' {
		return "", "", false
	}
	rest = target[k+1:]
	if strings.IndexByte(rest, '\n') >= 0 {
		return "", "", false
	}
	return strings.ToLower(target[:k]), rest, true
}

// grpcHosts is grpc_hosts(target), each host non-empty (a host may come
// twice).
func grpcHosts(target string, emit func(host string)) {
	out := func(h string) {
		if h != "" {
			emit(h)
		}
	}
	scheme, rest, ok := grpcSplit(target)
	switch {
	case ok && (scheme == "dns" || scheme == "passthrough"):
		grpcURIHosts(rest, out)
	case ok && (scheme == "unix" || scheme == "unix-abstract" || scheme == "vsock"):
	default:
		out(hostOf(target))
		// grpc_other_hosts
		if ok && strings.HasPrefix(rest, "//") {
			grpcURIHosts(rest, out)
		}
	}
}

// grpcURIHosts is grpc_uri_hosts(rest): for `^//([^/]*)/?(.*)$` with a
// non-empty authority, tcp_host(authority) and host_of(endpoint); else
// host_of of rest without "//authority" and one leading "/".
func grpcURIHosts(rest string, emit func(host string)) {
	if strings.HasPrefix(rest, "//") {
		after := rest[2:]
		k := strings.IndexByte(after, '/')
		if k < 0 {
			k = len(after)
		}
		authority, tail := after[:k], after[k:]
		if authority != "" && strings.IndexByte(tail, '\n') < 0 {
			emit(tcpHost(authority))
			emit(hostOf(strings.TrimPrefix(tail, "/")))
			return
		}
		// rest_endpoint: regex.replace(rest, `^//[^/]*`, "").
		rest = tail
	}
	emit(hostOf(strings.TrimPrefix(rest, "/")))
}

// isASCII reports whether s is ASCII, as OPA's string builtins check.
func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// opaIndexByte is indexof(s, c) for an ASCII c: the index, in runes, of
// the first c (-1 when none).
func opaIndexByte(s string, c byte) int {
	i := strings.IndexByte(s, c)
	if i <= 0 {
		return i
	}
	return utf8.RuneCountInString(s[:i])
}

// opaLastIndexByte is max(indexof_n(s, c)) for an ASCII c in s: the
// index, in runes, of the last c.
func opaLastIndexByte(s string, c byte) int {
	i := strings.LastIndexByte(s, c)
	if i <= 0 {
		return i
	}
	return utf8.RuneCountInString(s[:i])
}

// opaSubstring is substring(s, start, length) for start >= 0, as OPA
// computes it: on bytes for an ASCII string, else on its runes (a
// negative length: to the end).
func opaSubstring(s string, start, length int) string {
	if s == "" {
		return ""
	}
	if isASCII(s) {
		if start >= len(s) {
			return ""
		}
		if length < 0 {
			return s[start:]
		}
		if start == 0 && length >= len(s) {
			return s
		}
		return s[start : start+min(length, len(s)-start)]
	}
	if start == 0 && length >= utf8.RuneCountInString(s) {
		return s
	}
	runes := []rune(s)
	if start >= len(runes) {
		return ""
	}
	if length < 0 {
		return string(runes[start:])
	}
	return string(runes[start : start+min(length, len(runes)-start)])
}

// mysqlHost is mysql_host(host, port): the address go-sql-driver/mysql
// reads back from the DSN KEDA formats; false where the Rego is
// undefined.
func mysqlHost(host, port string) (string, bool) {
	if host == "" {
		return "", false
	}
	tail := "tcp(" + joinHostPort(host, port) + ")"
	after := tail
	if i := opaLastIndexByte(tail, '@'); i >= 0 {
		after = opaSubstring(tail, i+1, -1)
	}
	open := opaIndexByte(after, '(')
	if open < 0 || opaSubstring(after, 0, open) == "unix" {
		return "", false
	}
	address := opaSubstring(after, open+1, (utf8.RuneCountInString(after)-open)-2)
	if address == "" {
		return "", false
	}
	return tcpHost(address), true
}

// portOrHost is port_or_host: "port" when the port is set and not all
// digits (it moves the address), else "host".
func portOrHost(port string) string {
	if port == "" {
		return "host"
	}
	for i := range len(port) {
		if port[i] < '0' || port[i] > '9' {
			return "port"
		}
	}
	return "host"
}

// mongodbPrefixes are mongodb_hosts' prefixes.
var mongodbPrefixes = [...]string{"mongodb://", "mongodb+srv://"}

// mongodbHosts is mongodb_hosts(uri): emit is called with host_of of each
// element of the authority (a host may come twice).
func mongodbHosts(uri string, emit func(host string)) {
	for _, prefix := range mongodbPrefixes {
		if !strings.HasPrefix(uri, prefix) {
			continue
		}
		rest := opaSubstring(uri, len(prefix), -1)
		// after_first(rest, "@")
		if i := opaIndexByte(rest, '@'); i >= 0 {
			rest = opaSubstring(rest, i+1, -1)
		}
		// regex.find_n(`^[^/?@]*`, rest, 1)[0]
		if k := strings.IndexAny(rest, "/?@"); k >= 0 {
			rest = rest[:k]
		}
		forEachElement(rest, func(e string) { emit(hostOf(e)) })
	}
}

// urlHostEscaper is url_escape_host.
var urlHostEscaper = strings.NewReplacer("%", "%25", "/", "%2F", "?", "%3F", "@", "%40", "#", "%23", " ", "%20")

// mongodbConnectionString is mongodb_connection_string.
func mongodbConnectionString(scheme, host, port string) string {
	if scheme != "mongodb+srv" {
		host = joinHostPort(host, port)
	}
	return scheme + "://u:p@" + urlHostEscaper.Replace(host) + "/db"
}

// azureCloud is one of azure_clouds.
type azureCloud struct{ storage, servicebus string }

// azureClouds is azure_clouds.
var azureClouds = map[string]azureCloud{
	"AZUREPUBLICCLOUD":       {"core.windows.net", "servicebus.windows.net"},
	"AZURECLOUD":             {"core.windows.net", "servicebus.windows.net"},
	"AZUREUSGOVERNMENT":      {"core.usgovcloudapi.net", "servicebus.usgovcloudapi.net"},
	"AZUREUSGOVERNMENTCLOUD": {"core.usgovcloudapi.net", "servicebus.usgovcloudapi.net"},
	"AZURECHINACLOUD":        {"core.chinacloudapi.cn", "servicebus.chinacloudapi.cn"},
	"AZUREGERMANCLOUD":       {"core.cloudapi.de", "servicebus.cloudapi.de"},
}

// azureCloudSuffixes are the suffixes azure_cloud_host tries: .blob. and
// .queue. before each cloud's storage suffix, and its servicebus suffix.
var azureCloudSuffixes = func() []string {
	var out []string
	for _, c := range azureClouds {
		for _, s := range []string{".blob." + c.storage, ".queue." + c.storage, "." + c.servicebus} {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}()

// cloudSuffix is cloud_suffix(md, which), with azure_cloud(md).
func cloudSuffix(md map[string]string, which string) string {
	c, ok := azureClouds[strings.ToUpper(field(md, "cloud"))]
	if !ok {
		c = azureClouds["AZUREPUBLICCLOUD"]
	}
	switch which {
	case "blob":
		return "blob." + c.storage
	case "queue":
		return "queue." + c.storage
	case "storage":
		return c.storage
	}
	return c.servicebus
}

// azureCloudHost is azure_cloud_host: one label (`^([a-z0-9-]+|\*)$`)
// before one of the clouds' own suffixes.
func azureCloudHost(host string) bool {
	for _, suffix := range azureCloudSuffixes {
		if !strings.HasSuffix(host, suffix) {
			continue
		}
		label := host[:len(host)-len(suffix)]
		if label == "*" {
			return true
		}
		ok := label != ""
		for i := 0; ok && i < len(label); i++ {
			c := label[i]
			ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
		}
		if ok {
			return true
		}
	}
	return false
}

// azureCheckedKey is azure_checked_key: the name's key when the name is
// set and not `^[a-zA-Z0-9-]+$`, else the suffix's when it is set, else
// the name's.
func azureCheckedKey(nameKey, name, suffixKey, suffix string) string {
	if name != "" {
		for i := range len(name) {
			c := name[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return nameKey
			}
		}
	}
	if suffix != "" {
		return suffixKey
	}
	return nameKey
}

// storageConnectionURL is storage_connection_url(conn, service): the
// service URL of a storage connection string; false where the Rego is
// undefined (a part without "=", or neither the service's endpoint nor
// AccountName).
func storageConnectionURL(conn, service string) (string, bool) {
	parts := strings.TrimRight(conn, ";")
	for p := range strings.SplitSeq(parts, ";") {
		if !strings.Contains(p, "=") {
			return "", false
		}
	}
	endpointName := ""
	switch service {
	case "blob":
		endpointName = "BlobEndpoint"
	case "queue":
		endpointName = "QueueEndpoint"
	}
	if endpointName != "" {
		if v, ok := connectionField(parts, endpointName); ok {
			return v, true
		}
	}
	account, ok := connectionField(parts, "AccountName")
	if !ok {
		return "", false
	}
	protocol, ok := connectionField(parts, "DefaultEndpointsProtocol")
	if !ok {
		protocol = "https"
	}
	suffix, ok := connectionField(parts, "EndpointSuffix")
	if !ok {
		suffix = "core.windows.net"
	}
	return protocol + "://" + account + "." + service + "." + suffix, true
}

// connectionField is connection_field: the value of the last part of the
// ";"-separated parts (each with "=") named name.
func connectionField(parts, name string) (string, bool) {
	value, found := "", false
	for p := range strings.SplitSeq(parts, ";") {
		eq := opaIndexByte(p, '=')
		if opaSubstring(p, 0, eq) == name {
			value, found = opaSubstring(p, eq+1, -1), true
		}
	}
	return value, found
}

// cosmosAccountEndpoint is cosmos_account_endpoint: the last
// AccountEndpoint of a Cosmos DB connection string.
func cosmosAccountEndpoint(conn string) (string, bool) {
	value, found := "", false
	for p := range strings.SplitSeq(conn, ";") {
		if p = strings.TrimSpace(p); strings.HasPrefix(p, "AccountEndpoint=") {
			value, found = strings.TrimPrefix(p, "AccountEndpoint="), true
		}
	}
	return value, found
}

// elasticCloudHost is elastic_cloud_host: for "name:base64(host$es$...)",
// url_host("https://<es>.<host>").
func elasticCloudHost(cloudID string) (string, bool) {
	if strings.Count(cloudID, ":") != 1 {
		return "", false
	}
	_, encoded, _ := strings.Cut(cloudID, ":")
	decoded, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return "", false
	}
	host, rest, ok := strings.Cut(string(decoded), "$")
	if !ok {
		return "", false
	}
	es, _, _ := strings.Cut(rest, "$")
	return urlHost("https://" + es + "." + host), true
}

// The expressions of address_element but the scheme one.
var (
	addressHostPort = regexp.MustCompile(`^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9._-]*[a-zA-Z][a-zA-Z0-9._-]*|[0-9]{1,3}(\.[0-9]{1,3}){3}):[0-9]{1,5}(/.*)?$`)
	addressDotted   = regexp.MustCompile(`^([a-zA-Z0-9_-]+\.)+[a-zA-Z][a-zA-Z0-9-]*\.?(/.*)?$`)
	addressIPv4     = regexp.MustCompile(`^[0-9]{1,3}(\.[0-9]{1,3}){3}$`)
)

// addressLike is address_like.
func addressLike(value string) bool {
	if schemeSlashesLen(value) > 0 {
		return true
	}
	for e := range strings.SplitSeq(value, ",") {
		if e = strings.TrimSpace(e); e != "" && addressElement(e) {
			return true
		}
	}
	return false
}

// addressElement is address_element.
func addressElement(e string) bool {
	return schemeSlashesLen(e) > 0 || addressHostPort.MatchString(e) || addressDotted.MatchString(e) || addressIPv4.MatchString(e)
}
