package policy

import (
	"fmt"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The keys and values trigger_credentials tells apart, for the generated
// reviews of TestNativeSameAsRego and FuzzNativeSameAsRego.
func init() {
	fuzzMetadataKeys = append(fuzzMetadataKeys,
		// secret_keys, in any case, and secret_suffixes.
		"Password", "PASSWORD", "passwd", "apiKey", "api_key", "secret", "bearerToken", "accessKey", "SecretKey",
		"connection", "leaseConnection", "appKey", "cosmosDBKey", "tlsClientKey", "keytab", "credentials",
		"GoogleApplicationCredentials", "sentinelPassword", "clientSecret", "personalAccessToken",
		"awsSecretAccessKey", "sshPrivateKey", "API\u212AEY", "pass\u200bword",
		// Not secret keys: references, look-alikes, public keys.
		"passwordFromEnv", "tokenFromEnv", "key", "metricKey", "username", "passwordx", "tokens",
		// Key-value lists are only these two, case-sensitively.
		"CustomHeaders", "queryparameters",
		// URL lists and addresses.
		"addresses", "address", "endpoint", "scalerAddress",
	)
	fuzzMetadataValues = append(fuzzMetadataValues,
		// URLs with user information.
		"amqp://guest@rabbitmq.ml:5672/", "amqp://:pw@rabbitmq:5672", "amqp://u:@rabbitmq:5672", "redis://:hunter2@redis:6379",
		" amqp://u:p@h:5672 ", "\tHTTPS://User@H/\n", "https://ghp_abc123@api.github.com/x", "https://%zz@h/",
		"https://пароль:п@h.example/", "amqp://u:p@h:badport", "u:p@h:5672", "//u:p@h/", "mailto:u:p@h",
		// Credential query parameters, by name and by part of a name.
		"https://h/q?token=a&api_key=b", "https://h/q?Access_Token=x", "https://h/?sig=", "https://h/?x=1;token=2",
		"https://h/?%zz=1&token=2", "https://h/?tok%65n=1", "https://h/?token", "https://h/?=x", "https://h/?a=1#token=x",
		"https://h/?X-Amz-Signature=s&code=c", "https://h/?team=ml&private_token=t", "https://h/?to\u212Aen=1",
		"https://h/?t%C3%B6ken=1", "https://h/?my_apikey=1&Auth=2", "http://prom:9090/?access_token=abc", "https://h/?",
		"https://acct.blob.core.windows.net/c/x?sv=2022&sig=abc", "https://h/?x=%zz&token=1",
		// Comma-separated lists of URLs.
		"https://es-0:9200, https://elastic:hunter2@es-1:9200", "http://a/?code=1,http://b/?api_key=2",
		"a,amqp://u:p@h", "https://u@a/,https://b/?token=1", "mongodb://u:hunter2@m-0,m-1/db", "https://a/?x=1, https://b/",
		",https://c/?secret=1,", "http://a/,  http://u:p@b/ ,c",
		// Private keys.
		"-----BEGIN PRIVATE KEY-----", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMII", "-----BEGIN rsa PRIVATE KEY-----",
		"xx-----BEGIN EC PRIVATE KEY-----yy", "-----BEGIN PUBLIC KEY-----", "-----BEGIN OPENSSH PRIVATE KEY----",
		// Whitespace and plain secrets.
		" ", "\t\n", "hunter2", "  hunter2 ", "\u00a0", "\u200b", "\u3000", "c2VjcmV0",
		// customHeaders and queryParameters lists.
		"Authorization =Bearer abc", " X-Auth-Token = abc ", "X-Api-Key=,Team=ml", "token", "token=a, api_key=b",
		"X-Scope-OrgID=ml, Accept=application/json", "a=b=c,secret=x=y", "COOKIE=1", "x-gitlab-token=t", "Api\u212Aey=1",
		",,=,", "Private-Token=p,Proxy-Authorization=q", "code=1", "timeout=10s,dedup=true", "X-Upstream-Auth= v ",
		// Connection strings.
		"Server=db;User Id=sa;Password=hunter2", "Server=db;Password=", "Server=db;Password= ", "a;PWD=x", "AccountKey=abc==;",
		"x; Token =y", "SharedAccessSignature=sv=1&sig=2;", "Endpoint=sb://ns/;SharedAccessKeyName=Root;SharedAccessKey=k",
		"to\u212Aen=x;a", "pässword=x;y", "\xffpassword=x;a", "password\xff=x;a", "Password=\xff;a", "x=1;api-key=2",
		"DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc==;EndpointSuffix=core.windows.net",
		"Endpoint=sb://u:p@ns.servicebus.windows.net/;EntityPath=q", "ÄccountKey=1;", "Key=1;",
		// Query text that is not a credential.
		`sum(kube_secret_info{secret=~"tls-.*"})`, "SELECT 1 FROM t WHERE token='x' AND password IS NULL",
	)
}

// TestNativeCredentialsCases compares the Go forms of trigger_credentials
// and cluster_trigger_authentication with the Rego on reviews the
// generator does not make: ClusterTriggerAuthentication names and request
// namespaces of every kind (globs with "." separators, quotes, "*" and an
// invalid pattern in the configuration), and every metadata value of the
// dictionaries under every key.
func TestNativeCredentialsCases(t *testing.T) {
	configs := append([]Config{}, nativeConfigs...)
	configs = append(configs,
		Config{ClusterTriggerAuthentications: map[string][]string{"*": {"*"}}},
		Config{ClusterTriggerAuthentications: map[string][]string{
			"shared": {"team-*", "ml.x", "*.ml", "t?am-a", "{ml,other}", "[a-m]l"},
			"":       {"ml"}, `we"ird`: {"other"}, "*": {"team-a.b"}, "ü": {"*"},
		}},
	)
	names := []string{"shared", "other", "", "*", `we"ird`, "ü", "Shared"}
	namespaces := []string{"ml", "team-a", "a.b", "team-a.b", "", "other", "ml.x", "x.ml"}
	for ci, cfg := range configs {
		e := newEngine(t, cfg)
		found := map[string]int{}
		check := func(name string, r Review) {
			refreshData(&r)
			for _, v := range compareNative(t, e, fmt.Sprintf("config %d, %s", ci, name), r, Inventory{}) {
				found[v.Policy]++
			}
		}
		for _, ns := range namespaces {
			for _, name := range names {
				so := kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Name: "worker", Namespace: ns}}
				so.Spec.ScaleTargetRef = &kedav1alpha1.ScaleTarget{Name: "worker"}
				so.Spec.Triggers = []kedav1alpha1.ScaleTriggers{
					{Type: "rabbitmq", AuthenticationRef: &kedav1alpha1.AuthenticationRef{Name: name, Kind: "ClusterTriggerAuthentication"}},
					{Type: "rabbitmq", Name: "q", AuthenticationRef: &kedav1alpha1.AuthenticationRef{Name: name}},
				}
				check(fmt.Sprintf("ScaledObject in %q using %q", ns, name), Review{Kind: KindScaledObject, Operation: OperationCreate, Namespace: ns, TypedObject: &so})
				sj := kedav1alpha1.ScaledJob{ObjectMeta: metav1.ObjectMeta{Name: "train", Namespace: ns}}
				sj.Spec.JobTargetRef = &batchv1.JobSpec{}
				sj.Spec.Triggers = []kedav1alpha1.ScaleTriggers{{Type: "x", Name: "t", AuthenticationRef: &kedav1alpha1.AuthenticationRef{Name: name, Kind: "ClusterTriggerAuthentication"}}}
				check(fmt.Sprintf("ScaledJob in %q using %q", ns, name), Review{Kind: KindScaledJob, Operation: OperationUpdate, Namespace: ns, TypedObject: &sj})
			}
		}
		if ci != 1 && ci != 3 {
			continue
		}
		for _, key := range fuzzMetadataKeys {
			md := map[string]string{}
			for i, v := range fuzzMetadataValues {
				md[key] = v
				so := kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Name: "worker", Namespace: "ml"}}
				so.Spec.Triggers = []kedav1alpha1.ScaleTriggers{{Type: "prometheus", Metadata: md}}
				check(fmt.Sprintf("metadata %q: value %d %q", key, i, v), Review{Kind: KindScaledObject, Operation: OperationCreate, Namespace: "ml", TypedObject: &so})
				md = map[string]string{}
			}
		}
		t.Logf("config %d: violations found per policy: %v", ci, found)
	}
}
