package vap

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types/ref"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apiserver/pkg/cel/environment"
	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/policy"
)

// celEnv is the API server's CEL environment for admission expressions
// (the libraries of Kubernetes 1.36, the oldest version whose API server
// may read the policies) with the variables a ValidatingAdmissionPolicy
// declares, all dynamic.
func celEnv(t testing.TB) *cel.Env {
	t.Helper()
	base := environment.MustBaseEnvSet(version.MajorMinor(1, 36)).NewExpressionsEnv()
	env, err := base.Extend(
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("params", cel.DynType),
		cel.Variable("request", cel.DynType),
		cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
	)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// program compiles expr.
func program(t testing.TB, env *cel.Env, expr string) cel.Program {
	t.Helper()
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("compiling: %.300s", iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		t.Fatal(err)
	}
	return prg
}

// TestExpressionsCompile compiles every expression of every policy in the
// API server's environment.
func TestExpressionsCompile(t *testing.T) {
	env := celEnv(t)
	objs, err := Generate(policy.Config{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range objs {
		p, ok := o.(*admissionregistrationv1.ValidatingAdmissionPolicy)
		if !ok {
			continue
		}
		var exprs []string
		for _, v := range p.Spec.Variables {
			exprs = append(exprs, v.Expression)
		}
		for _, v := range p.Spec.Validations {
			exprs = append(exprs, v.Expression, v.MessageExpression)
		}
		for _, c := range p.Spec.MatchConditions {
			exprs = append(exprs, c.Expression)
		}
		for _, e := range exprs {
			if _, iss := env.Compile(e); iss.Err() != nil {
				t.Errorf("%s: %.400s", p.Name, iss.Err())
			}
			n++
		}
	}
	if n < 3*len(defaultDefinitions) {
		t.Errorf("compiled %d expressions, want at least %d", n, 3*len(defaultDefinitions))
	}
}

// TestLowerCoversGo proves lower(): the only runes outside ASCII that Go's
// strings.ToLower turns into ASCII are the two lower() replaces first.
func TestLowerCoversGo(t *testing.T) {
	var found []rune
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if unicode.ToLower(r) < 0x80 {
			found = append(found, r)
		}
	}
	if want := []rune{0x130, 0x212a}; !slices.Equal(found, want) {
		t.Errorf("runes Go lower-cases into ASCII: %U, lower() handles %U", found, want)
	}
}

// credentialCases are trigger metadata values, each checked by the CEL and
// the Rego version of trigger_credentials.
var credentialCases = []struct{ key, value string }{
	{"serverAddress", "http://prometheus.monitoring.svc:9090"},
	{"serverAddress", "http://user:secret@prometheus.monitoring.svc:9090"},
	{"serverAddress", "http://user@prometheus.monitoring.svc:9090"},
	{"serverAddress", "http://@prometheus:9090"},
	{"serverAddress", "http://:pw@prometheus:9090"},
	{"serverAddress", "http://u:p@/path"},
	{"serverAddress", "http://u:p@h/#frag"},
	{"serverAddress", "http://u:p@h/#%zz"},
	{"serverAddress", "http://u:p@h/#%4"},
	{"serverAddress", "http://h/#x@y"},
	{"serverAddress", "http://h#x@y/"},
	{"serverAddress", "http://h/p?x=@y"},
	{"serverAddress", "http://h?x@y"},
	{"serverAddress", "http://u:p@h:port/"},
	{"serverAddress", "http://u%zz:p@h/"},
	{"serverAddress", "1http://u:p@h/"},
	{"serverAddress", "amqp:u:p@h"},
	{"serverAddress", "  amqp://guest:guest@rabbitmq:5672/vhost  "},
	{"host", "amqp://rabbitmq:5672,amqp://u:p@rabbitmq-2:5672"},
	{"host", "rabbitmq:5672, amqp://tok@rabbitmq-2"},
	{"url", "https://gitlab.example.com/api/v4/projects/1/jobs?scope=pending&access_token=glpat-abc"},
	{"url", "https://h/x?X-Amz-Signature=abc"},
	{"url", "https://h/x?sig=abc#frag"},
	{"url", "https://h/x?page=2&per_page=100"},
	{"url", "https://h/x?mytoken"},
	{"url", "https://h/x?a=%zz&token=1"},
	{"url", "https://ghp_0123456789abcdef@api.github.com/repos/ml/queue"},
	{"password", "hunter2"},
	{"password", "   "},
	{"sentinelPassword", "x"},
	{"passwordFromEnv", "RABBIT_PASSWORD"},
	{"PASSWORD", "x"},
	{"\u212aeytab", "x"},
	{"apİkey", "x"},
	{"clientSecret", "s"},
	{"personalAccessToken", "t"},
	{"key", "value"},
	{"username", "admin"},
	{"customHeaders", "X-Scope-OrgID=ml, Authorization =Bearer eyJhbGciOi"},
	{"customHeaders", "X-Scope-OrgID=ml"},
	{"customHeaders", "Authorization="},
	{"customHeaders", "X-Gitlab-Token=abc"},
	{"queryParameters", "api_key=abc,format=json"},
	{"queryParameters", "  "},
	{"connectionString", "Server=db;User Id=sa;Password=pw"},
	{"dsn", "Server=db;User Id=sa;Password=pw"},
	{"dsn", "Server=db; PWD = x ;"},
	{"dsn", "Server=db;Password=;"},
	{"dsn", "Server=db;AccountKey"},
	{"dsn", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=abc"},
	{"tlsCert", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"},
	{"ca", "-----BEGIN CERTIFICATE-----\nMIIE\n-----END CERTIFICATE-----"},
	{"query", `sum(rate(http_requests_total{secret=~"tls-.*"}[2m]))`},
	{"password", "http://u:p@h/"},
	{"password", "https://h/?token=1"},
	// Two credential names in one value: the first by name, in both.
	{"url", "https://h/q?token=a&api_key=b"},
	{"customHeaders", "X-Api-Key=a,Authorization=b"},
	{"queryParameters", "token=a, api_key=b"},
}

// TestCredentialsMatchRego runs every case through trigger_credentials in
// Rego (the engine) and in CEL (the API server's libraries, here), and
// compares the messages.
func TestCredentialsMatchRego(t *testing.T) {
	ctx := context.Background()
	engine, err := policy.New(ctx, policy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	prg := program(t, celEnv(t), credentialViolations)
	for i, c := range credentialCases {
		name := ""
		if i%2 == 0 {
			name = fmt.Sprintf("trigger-%d", i)
		}
		so := map[string]any{
			"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
			"metadata": map[string]any{"name": "so", "namespace": "ml"},
			"spec": map[string]any{
				"scaleTargetRef": map[string]any{"name": "app"},
				"triggers": []any{map[string]any{
					"type": "prometheus", "name": name,
					"metadata": map[string]any{c.key: c.value, "threshold": "1"},
				}},
			},
		}
		t.Run(fmt.Sprintf("%d-%s", i, c.key), func(t *testing.T) {
			want, err := regoMessages(ctx, t, engine, so, "trigger_credentials")
			if err != nil {
				t.Fatal(err)
			}
			got := violations(t, prg, so)
			if !slices.Equal(got, want) {
				t.Errorf("metadata %s: %q\nCEL:  %q\nRego: %q", c.key, c.value, got, want)
			}
		})
	}
}

// FuzzCredentialsMatchRego compares trigger_credentials in CEL and in Rego
// on one metadata key and value (the cases above are its seeds): URLs
// that Go's net/url reads in odd ways, lists, key-value lists, connection
// strings.
func FuzzCredentialsMatchRego(f *testing.F) {
	for _, c := range credentialCases {
		f.Add(c.key, c.value)
	}
	ctx := context.Background()
	engine, err := policy.New(ctx, policy.Config{})
	if err != nil {
		f.Fatal(err)
	}
	prg := program(f, celEnv(f), credentialViolations)
	f.Fuzz(func(t *testing.T, key, value string) {
		if !utf8.ValidString(key) || !utf8.ValidString(value) || key == "" {
			t.Skip("metadata is JSON: valid UTF-8, non-empty keys")
		}
		so := map[string]any{
			"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
			"metadata": map[string]any{"name": "so", "namespace": "ml"},
			"spec": map[string]any{
				"scaleTargetRef": map[string]any{"name": "app"},
				"triggers":       []any{map[string]any{"type": "metrics-api", "metadata": map[string]any{key: value}}},
			},
		}
		want, err := regoMessages(ctx, t, engine, so, "trigger_credentials")
		if err != nil {
			t.Fatal(err)
		}
		got := violations(t, prg, so)
		if !slices.Equal(got, want) {
			t.Errorf("metadata %q: %q\nCEL:  %q\nRego: %q", key, value, got, want)
		}
	})
}

// regoMessages are the named policy's messages on obj, evaluated by engine
// in obj's namespace with an empty inventory.
func regoMessages(ctx context.Context, t testing.TB, engine *policy.Engine, obj map[string]any, name string) ([]string, error) {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	o, err := policy.Decode(gvkOf(obj), raw)
	if err != nil {
		t.Fatal(err)
	}
	r, err := policy.NewReview(ctx, policy.OperationCreate, o, facts.Static(facts.Default()))
	if err != nil {
		t.Fatal(err)
	}
	vs, err := engine.Evaluate(ctx, r, policy.Inventory{})
	if err != nil {
		return nil, fmt.Errorf("evaluating the Rego: %w", err)
	}
	out := []string{}
	for _, v := range vs {
		if v.Policy == name {
			out = append(out, v.Message)
		}
	}
	return out, nil
}

// violations evaluates a list-of-messages program on obj, admitted in
// obj's namespace.
func violations(t testing.TB, prg cel.Program, obj map[string]any) []string {
	t.Helper()
	ns, _ := obj["metadata"].(map[string]any)["namespace"].(string)
	out, _, err := prg.Eval(map[string]any{"object": obj, "request": map[string]any{"namespace": ns}})
	if err != nil {
		t.Fatalf("evaluating: %v", err)
	}
	return messages(t, out)
}

// messages converts a list-of-messages result to strings, never nil.
func messages(t testing.TB, out ref.Val) []string {
	t.Helper()
	v, err := out.ConvertToNative(reflect.TypeFor[[]string]())
	if err != nil {
		t.Fatal(err)
	}
	msgs := v.([]string)
	if msgs == nil {
		msgs = []string{}
	}
	return msgs
}

// gvkOf is the group, version and kind of an unstructured object.
func gvkOf(obj map[string]any) schema.GroupVersionKind {
	gv, _ := schema.ParseGroupVersion(obj["apiVersion"].(string))
	return gv.WithKind(obj["kind"].(string))
}

// TestGenerate checks the objects: one policy and one binding per
// policy, the actions of the configuration, params where the policy
// compares objects, the namespaces left out.
func TestGenerate(t *testing.T) {
	cfg := policy.Config{DefaultAction: policy.ActionWarn, Actions: map[string]policy.Action{"trigger_credentials": policy.ActionDeny, "hpa_duplicate_target": policy.ActionAudit}}
	objs, err := Generate(cfg, Options{Prefix: "ml", Namespace: "ops", ExcludeNamespaces: []string{"ops", "infra"}})
	if err != nil {
		t.Fatal(err)
	}
	// Then the annotations policy (TestAnnotationsPolicyObject).
	if len(objs) != 2*len(Policies())+2 {
		t.Fatalf("%d objects, want %d", len(objs), 2*len(Policies())+2)
	}
	for i, name := range Policies() {
		p := objs[2*i].(*admissionregistrationv1.ValidatingAdmissionPolicy)
		b := objs[2*i+1].(*admissionregistrationv1.ValidatingAdmissionPolicyBinding)
		if want := "ml-" + strings.ReplaceAll(name, "_", "-"); p.Name != want || b.Name != want || b.Spec.PolicyName != want {
			t.Errorf("%s: names %s, %s -> %s; want %s", name, p.Name, b.Name, b.Spec.PolicyName, want)
		}
		if p.Annotations[PolicyAnnotation] != name {
			t.Errorf("%s: annotation %v", name, p.Annotations)
		}
		// warn: the partial policies' bindings audit (the webhook warns).
		want, _ := ValidationActions(cfg.ActionFor(name))
		if Partial(name) && cfg.ActionFor(name) == policy.ActionWarn {
			want = []admissionregistrationv1.ValidationAction{admissionregistrationv1.Audit}
		}
		if !slices.Equal(b.Spec.ValidationActions, want) {
			t.Errorf("%s: validationActions %v, want %v", name, b.Spec.ValidationActions, want)
		}
		for _, o := range []map[string]string{p.Annotations, b.Annotations} {
			if got := o[PartialAnnotation]; (got == "true") != Partial(name) || (got != "" && got != "true") {
				t.Errorf("%s: annotation %s %q, Partial %v", name, PartialAnnotation, got, Partial(name))
			}
		}
		if (p.Spec.ParamKind != nil) != (b.Spec.ParamRef != nil) {
			t.Errorf("%s: paramKind %v but paramRef %v", name, p.Spec.ParamKind, b.Spec.ParamRef)
		}
		sel := b.Spec.MatchResources.NamespaceSelector.MatchExpressions
		if len(sel) != 1 || !slices.Equal(sel[0].Values, []string{"kube-system", "ops", "infra"}) {
			t.Errorf("%s: namespace selector %+v", name, sel)
		}
	}
	if _, err := Generate(policy.Config{DefaultAction: "block"}, Options{}); err == nil || !strings.Contains(err.Error(), `"block"`) {
		t.Errorf("a bad action: %v, want an error naming it", err)
	}
	out, err := YAML(objs)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(out), "---\n")[1:]
	if len(docs) != len(objs) {
		t.Fatalf("%d YAML documents, want %d", len(docs), len(objs))
	}
	var back admissionregistrationv1.ValidatingAdmissionPolicy
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &back); err != nil || back.Spec.Validations[0].Expression == "" {
		t.Errorf("the first document does not read back as a policy: %v", err)
	}
}
