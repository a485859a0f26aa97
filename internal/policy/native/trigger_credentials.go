package native

import (
	"regexp"
	"strings"
)

// This file is the Go form of policies/trigger_credentials: no credentials
// inline in trigger metadata.

func init() { register("trigger_credentials", compileTriggerCredentials) }

// credentialNames is credential_names: header, query parameter and
// connection-string field names (in lower case) that carry a credential.
var credentialNames = setOf(
	"authorization", "proxy-authorization", "x-auth-token", "private-token", "x-api-key", "api-key",
	"apikey", "api_key", "x-access-token", "access_token", "private_token", "code", "token", "id_token",
	"refresh_token", "key", "sig", "signature", "x-amz-signature", "x-amz-security-token", "x-goog-signature",
	"x-vault-token", "cookie", "password", "passwd", "pwd", "secret", "client_secret", "accountkey",
	"sharedaccesskey", "sharedaccesssignature", "ocp-apim-subscription-key", "x-functions-key",
)

// credentialParts is credential_parts: a name containing one of these (in
// lower case) carries a credential too.
var credentialParts = []string{"token", "secret", "passw", "apikey", "api-key", "api_key", "auth", "signature", "credential"}

// secretKeys is secret_keys: trigger metadata keys (in lower case) that
// carry a secret value inline.
var secretKeys = setOf(
	"password", "passwd", "token", "apikey", "api_key", "secret", "bearertoken", "accesskey",
	"secretkey", "connectionstring", "connection", "leaseconnection", "storageconnection",
	"eventhubconnection", "querykey", "appkey", "cosmosdbkey", "leasecosmosdbkey", "accountkey",
	"sharedaccesskey", "clientkey", "tlsclientkey", "keytab", "credentials",
	"googleapplicationcredentials",
)

// secretSuffixes is secret_suffixes: a key ending in one of these (in lower
// case) is a secret too.
var secretSuffixes = []string{"password", "passwd", "secret", "token", "apikey", "api_key", "secretkey", "secretaccesskey", "connectionstring", "privatekey"}

// privateKey is private_key, a PEM private key header.
var privateKey = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`)

// Findings of inline_credential that do not name anything.
const (
	whatPassword    = "a password in the URL"
	whatUser        = "a user name in the URL, which KEDA sends as Basic auth credentials"
	whatQueryParam  = "a credential in the URL's query parameter "
	whatPrivateKey  = "a private key"
	whatSecretValue = "a secret value"
	whatHeader      = "a credential header "
	whatParameter   = "a credential query parameter "
	whatConnection  = "a secret parameter"
)

// setOf makes a set of strings.
func setOf(items ...string) map[string]struct{} {
	out := make(map[string]struct{}, len(items))
	for _, s := range items {
		out[s] = struct{}{}
	}
	return out
}

// compileTriggerCredentials returns the Go form of trigger_credentials; it
// reads no configuration.
func compileTriggerCredentials(Config) Func { return triggerCredentials }

// triggerCredentials is trigger_credentials' violation rule: one message
// per trigger metadata entry that holds a credential inline.
func triggerCredentials(in *Input) []string {
	var out []string
	for _, e := range in.triggers() {
		for key, value := range e.t.Metadata {
			what, ok := inlineCredential(key, value)
			if !ok {
				continue
			}
			// lib.subject and lib.object_key(e.owner) are undefined for an
			// object without a name: no message.
			subject, ok := in.subject()
			if !ok {
				return nil
			}
			ownerKey, ok := e.ownerKey()
			if !ok {
				continue
			}
			out = append(out, "trigger_credentials: "+subject+" has "+what+" inline in trigger "+e.ref()+
				" (type "+e.t.Type+"), metadata."+key+" of "+ownerKey+
				"; put the credential in a Secret and reference it through a TriggerAuthentication (spec.triggers[].authenticationRef; for mlscale workloads mlscale.io/rabbitmq-auth)")
		}
	}
	return out
}

// inlineCredential is inline_credential(key, value): what the metadata
// entry carries inline, the first defined branch of its else-chain; false
// when none is.
func inlineCredential(key, value string) (string, bool) {
	if what, ok := urlCredential(value); ok {
		return what, true
	}
	if strings.Contains(value, "PRIVATE KEY-----") && privateKey.MatchString(value) {
		return whatPrivateKey, true
	}
	if secretKey(key) && strings.TrimSpace(value) != "" {
		return whatSecretValue, true
	}
	if what, ok := pairCredential(key, value); ok {
		return what, true
	}
	if connectionCredential(value) {
		return whatConnection, true
	}
	return "", false
}

// credentialName is credential_name(name).
func credentialName(name string) bool {
	l := strings.ToLower(name)
	if _, ok := credentialNames[l]; ok {
		return true
	}
	for _, p := range credentialParts {
		if strings.Contains(l, p) {
			return true
		}
	}
	return false
}

// secretKey is secret_key(key).
func secretKey(key string) bool {
	l := strings.ToLower(key)
	if _, ok := secretKeys[l]; ok {
		return true
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(l, s) {
			return true
		}
	}
	return false
}

// urlCredential is url_credential(value) over urls(value) (the value and
// each comma-separated element, trimmed, that parse_url reads as an
// absolute URL): a password, else a user name, else the least credential
// query parameter name of any of them; false when none.
func urlCredential(value string) (string, bool) {
	// parse_url needs "scheme://" in the candidate (see parseURL).
	if !strings.Contains(value, "://") {
		return "", false
	}
	var st urlScan
	st.add(value)
	if strings.Contains(value, ",") {
		rest := value
		for {
			elem, tail, more := strings.Cut(rest, ",")
			st.add(elem)
			if !more {
				break
			}
			rest = tail
		}
	}
	switch {
	case st.password:
		return whatPassword, true
	case st.user:
		return whatUser, true
	case st.nameFound:
		return whatQueryParam + st.name, true
	}
	return "", false
}

// urlScan accumulates url_credential's three branches over urls(value).
type urlScan struct {
	password, user bool
	// name is min of the credential query parameter names so far, when
	// nameFound.
	name      string
	nameFound bool
}

// add reads one candidate of urls(value).
func (st *urlScan) add(candidate string) {
	u := parseURL(candidate)
	if !u.ok {
		return
	}
	st.password = st.password || u.password
	st.user = st.user || u.user
	if st.password || st.user || u.rawQuery == "" {
		// The query branch is not reached.
		return
	}
	for name := range u.query() {
		if credentialName(name) && (!st.nameFound || name < st.name) {
			st.name, st.nameFound = name, true
		}
	}
}

// pairCredential is pair_credential(key, value): the least credential
// name with a value in the KEDA key-value list of customHeaders or
// queryParameters; false for other keys or when there is none.
func pairCredential(key, value string) (string, bool) {
	var prefix string
	switch key {
	case "customHeaders":
		prefix = whatHeader
	case "queryParameters":
		prefix = whatParameter
	default:
		return "", false
	}
	name, found := "", false
	for k, v := range kedaPairs(value) {
		if v != "" && (!found || k < name) && credentialName(k) {
			name, found = k, true
		}
	}
	if !found {
		return "", false
	}
	return prefix + name, true
}

// connectionCredential is connection_credential(value): a ";"-separated
// field name=secret whose trimmed name (in lower case) is a credential
// name and whose trimmed secret is not empty. split_once's indexof and
// substring count runes, but "=" is one byte that no UTF-8 sequence (nor
// an invalid byte read as U+FFFD) contains, and the name matches only
// ASCII names either way, so cutting bytes finds the same.
func connectionCredential(value string) bool {
	if !strings.Contains(value, ";") {
		return false
	}
	rest := value
	for {
		field, tail, more := strings.Cut(rest, ";")
		if name, secret, ok := strings.Cut(field, "="); ok && strings.TrimSpace(secret) != "" {
			if _, ok := credentialNames[strings.ToLower(strings.TrimSpace(name))]; ok {
				return true
			}
		}
		if !more {
			return false
		}
		rest = tail
	}
}
