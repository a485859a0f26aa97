package vap

import (
	"fmt"
	"strings"
)

// This file builds the CEL expressions. CEL has no user functions, so each
// helper below returns the expression for its argument, itself a CEL
// expression; a one-element list's map() or exists() stands in for a let
// binding ([x].map(v, ...)[0]). Comprehension variables are named apart so
// that nesting never shadows one that is still needed.

// quote is s as a CEL string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// list is ss as a CEL list literal of strings.
func list(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// lower is Rego's lower(x) (Go's strings.ToLower) as far as comparisons
// with ASCII names can tell: lowerAscii, after the two runes outside ASCII
// that Go lower-cases into ASCII (İ to i, the Kelvin sign to k).
func lower(x string) string {
	return x + `.replace('\u0130', 'i').replace('\u212a', 'k').lowerAscii()`
}

// objectKey is lib.object_key of the object under review: "Kind ns/name".
const objectKey = `object.kind + ' ' + object.metadata.namespace + '/' + object.metadata.name`

// paramKey is lib.object_key of a param of the given kind.
func paramKey(kind string) string {
	return quote(kind+" ") + ` + params.metadata.namespace + '/' + params.metadata.name`
}

// targetKind is lib.target_kind(ref): KEDA defaults a missing kind to
// Deployment.
func targetKind(ref string) string {
	return fmt.Sprintf(`(has(%[1]s.kind) ? %[1]s.kind : 'Deployment')`, ref)
}

// targetGroup is lib.target_group(ref): the apiVersion's group, else apps
// for Deployment, StatefulSet and ReplicaSet, batch for Job.
func targetGroup(ref string) string {
	return fmt.Sprintf(`(has(%[1]s.apiVersion) && %[1]s.apiVersion != '' ? (%[1]s.apiVersion.contains('/') ? %[1]s.apiVersion.split('/')[0] : '') : (%[2]s in ['Deployment', 'StatefulSet', 'ReplicaSet'] ? 'apps' : (%[2]s == 'Job' ? 'batch' : '')))`,
		ref, targetKind(ref))
}

// sameTarget is lib.same_target(a, b): the same name, kind and API group.
func sameTarget(a, b string) string {
	return fmt.Sprintf(`(%s.name == %s.name && %s == %s && %s == %s)`,
		a, b, targetKind(a), targetKind(b), targetGroup(a), targetGroup(b))
}

// targetKey is lib.target_key(ref): "Kind ns/name" in the request's
// namespace.
func targetKey(ref string) string {
	return fmt.Sprintf(`%s + ' ' + request.namespace + '/' + %s.name`, targetKind(ref), ref)
}

// hpaConfigName is so.spec.advanced.horizontalPodAutoscalerConfig.name when
// set.
func hpaConfigName(so string) (has, name string) {
	cfg := so + ".spec.advanced.horizontalPodAutoscalerConfig"
	has = fmt.Sprintf(`(has(%[1]s.spec.advanced) && has(%[2]s) && has(%[2]s.name))`, so, cfg)
	return has, cfg + ".name"
}

// kedaHPAName is lib.keda_hpa_name(so): the HPA KEDA makes for a
// ScaledObject.
func kedaHPAName(so string) string {
	has, name := hpaConfigName(so)
	return fmt.Sprintf(`(%s ? %s : 'keda-hpa-' + %s.metadata.name)`, has, name, so)
}

// kedaOwnsHPA is lib.keda_owns_hpa(so, hpa): KEDA's own HPA for the
// ScaledObject (its name and an ownerReference), or the HPA the
// ScaledObject takes over (transfer-hpa-ownership).
func kedaOwnsHPA(so, hpa string) string {
	owned := fmt.Sprintf(`(%[1]s.metadata.name == %[2]s && has(%[1]s.metadata.ownerReferences) && %[1]s.metadata.ownerReferences.exists(r, r.kind == 'ScaledObject' && r.apiVersion.startsWith('keda.sh/') && r.name == %[3]s.metadata.name))`,
		hpa, kedaHPAName(so), so)
	return "(" + owned + " || " + transfersHPA(so, hpa) + ")"
}

// transfersHPA is lib.transfers_hpa(so, hpa.metadata.name): the ScaledObject
// takes the HPA over (transfer-hpa-ownership).
func transfersHPA(so, hpa string) string {
	has, name := hpaConfigName(so)
	return fmt.Sprintf(`(has(%[1]s.metadata.annotations) && %[1]s.metadata.annotations[?'scaledobject.keda.sh/transfer-hpa-ownership'].orValue('') == 'true' && %[2]s && %[3]s == %[4]s.metadata.name)`,
		so, has, name, hpa)
}

// scaledObjectOwners are the names of the ScaledObjects among an object's
// ownerReferences, as a CEL list.
func scaledObjectOwners(obj string) string {
	return fmt.Sprintf(`(has(%[1]s.metadata.ownerReferences) ? %[1]s.metadata.ownerReferences.filter(r, r.kind == 'ScaledObject' && r.apiVersion.startsWith('keda.sh/')).map(r, r.name) : [])`, obj)
}

// The names trigger_credentials reads, as in its policy.rego.
var (
	credentialNames = []string{
		"authorization", "proxy-authorization", "x-auth-token", "private-token", "x-api-key", "api-key",
		"apikey", "api_key", "x-access-token", "access_token", "private_token", "code", "token", "id_token",
		"refresh_token", "key", "sig", "signature", "x-amz-signature", "x-amz-security-token", "x-goog-signature",
		"x-vault-token", "cookie", "password", "passwd", "pwd", "secret", "client_secret", "accountkey",
		"sharedaccesskey", "sharedaccesssignature", "ocp-apim-subscription-key", "x-functions-key",
	}
	credentialParts = []string{"token", "secret", "passw", "apikey", "api-key", "api_key", "auth", "signature", "credential"}
	secretKeys      = []string{
		"password", "passwd", "token", "apikey", "api_key", "secret", "bearertoken", "accesskey",
		"secretkey", "connectionstring", "connection", "leaseconnection", "storageconnection",
		"eventhubconnection", "querykey", "appkey", "cosmosdbkey", "leasecosmosdbkey", "accountkey",
		"sharedaccesskey", "clientkey", "tlsclientkey", "keytab", "credentials",
		"googleapplicationcredentials",
	}
	secretSuffixes = []string{"password", "passwd", "secret", "token", "apikey", "api_key", "secretkey", "secretaccesskey", "connectionstring", "privatekey"}
)

// credentialName is trigger_credentials' credential_name(n).
func credentialName(n string) string {
	return fmt.Sprintf(`[%s].exists(l, l in %s || %s.exists(q, l.contains(q)))`, lower(n), list(credentialNames), list(credentialParts))
}

// secretKey is trigger_credentials' secret_key(k).
func secretKey(k string) string {
	return fmt.Sprintf(`[%s].exists(l, l in %s || %s.exists(q, l.endsWith(q)))`, lower(k), list(secretKeys), list(secretSuffixes))
}

// schemePrefix matches what Go's net/url reads as a scheme followed by an
// authority.
const schemePrefix = `^[a-zA-Z][a-zA-Z0-9+.-]*://`

// urlCredential is trigger_credentials' url_credential(v): of the value and
// its comma-separated elements (trimmed), those Go's url.Parse reads as an
// absolute URL with a host; then a password, a user, or a query parameter
// with a credential name.
//
// Kubernetes' url() parses with url.ParseRequestURI and then url.Parse;
// it has no accessor for user information. So: the fragment is cut off
// first (as url.Parse does; ParseRequestURI would take it into the host
// or path), and checked for what url.Parse refuses there (bad escapes;
// control bytes are refused only before the fragment, by isURL too); the
// user information is what comes before the last "@" of
// the authority, between "//" and the first "/" or "?".
func urlCredential(v string) string {
	okURL := fmt.Sprintf(`c.matches(r'%s') && [c.split('#', 2)].exists(p, isURL(p[0]) && url(p[0]).getHost() != '' && (p.size() == 1 || !p[1].matches(r'%%($|.$|[^0-9a-fA-F]|.[^0-9a-fA-F])')))`, schemePrefix)
	urls := fmt.Sprintf(`([%[1]s] + %[1]s.split(',')).map(c, c.trim()).filter(c, %[2]s).map(c, c.split('#', 2)[0])`, v, okURL)
	password := fmt.Sprintf(`us.exists(u, u.matches(r'%s[^/?]*:[^/?]*@'))`, schemePrefix)
	user := fmt.Sprintf(`us.exists(u, u.matches(r'%s[^/?]*@'))`, schemePrefix)
	query := fmt.Sprintf(`[us.map(u, url(u).getQuery().filter(n, %s)).flatten().sort()].map(ns, ns.size() > 0 ? 'a credential in the URL\'s query parameter ' + ns[0] : '')[0]`, credentialName("n"))
	return fmt.Sprintf(`[%s].map(us, %s ? 'a password in the URL' : (%s ? 'a user name in the URL, which KEDA sends as Basic auth credentials' : %s))[0]`,
		urls, password, user, query)
}

// pairCredential is trigger_credentials' pair_credential(k, v): a KEDA
// key-value list (customHeaders, queryParameters) split as
// mlscale.keda_pairs splits it, with a credential name and a value.
func pairCredential(k, v string) string {
	pairs := fmt.Sprintf(`(%[1]s.trim() == '' ? [] : %[1]s.split(',').map(e, [e.split('=', 2)].map(kv, [kv[0].trim(), kv.size() > 1 ? kv[1].trim() : ''])[0]))`, v)
	names := fmt.Sprintf(`%s.filter(p, %s && p[1] != '').map(p, p[0]).sort()`, pairs, credentialName("p[0]"))
	return fmt.Sprintf(`(%[1]s == 'customHeaders' || %[1]s == 'queryParameters' ? [%[2]s].map(ns, ns.size() > 0 ? (%[1]s == 'customHeaders' ? 'a credential header ' : 'a credential query parameter ') + ns[0] : '')[0] : '')`,
		k, names)
}

// connectionCredential is trigger_credentials' connection_credential(v): a
// ";"-separated field whose name (trimmed, lower case) is a credential
// name, with a value.
func connectionCredential(v string) string {
	return fmt.Sprintf(`(%[1]s.contains(';') && %[1]s.split(';').exists(f, f.contains('=') && [f.split('=', 2)].exists(kv, %[2]s in %[3]s && kv[1].trim() != '')))`,
		v, lower("kv[0].trim()"), list(credentialNames))
}

// privateKey is trigger_credentials' private_key pattern.
const privateKey = `-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`

// inlineCredential is trigger_credentials' inline_credential(k, v): what the
// value carries inline, "" when nothing. The order is the Rego's.
func inlineCredential(k, v string) string {
	return fmt.Sprintf(`[%[1]s].map(w, w != '' ? w : (%[2]s.matches(r'%[3]s') ? 'a private key' : (%[4]s && %[2]s.trim() != '' ? 'a secret value' : [%[5]s].map(w2, w2 != '' ? w2 : (%[6]s ? 'a secret parameter' : ''))[0])))[0]`,
		urlCredential(v), v, privateKey, secretKey(k), pairCredential(k, v), connectionCredential(v))
}

// triggerRef is lib.trigger_ref: the trigger's name as Go's %q prints it
// (for names of printable characters), or spec.triggers[i].
func triggerRef(i, t string) string {
	return fmt.Sprintf(`(has(%[2]s.name) && %[2]s.name != '' ? '"' + %[2]s.name.replace('\\', '\\\\').replace('"', '\\"') + '"' : 'spec.triggers[' + string(%[1]s) + ']')`, i, t)
}

// triggerType is lib.trigger_type.
func triggerType(t string) string {
	return fmt.Sprintf(`(has(%[1]s.type) ? %[1]s.type : '')`, t)
}
