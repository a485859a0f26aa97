package vap

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gobwas/glob"
	"github.com/google/cel-go/cel"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/internal/policy"
)

// compiledPolicy is a generated policy compiled as the API server would:
// its variables in order, its condition and its message.
type compiledPolicy struct {
	vars                []string
	programs            []cel.Program
	validation, message cel.Program
}

// compilePolicy compiles the named policy of the objects Generate makes
// for cfg.
func compilePolicy(t testing.TB, cfg policy.Config, name string) compiledPolicy {
	t.Helper()
	objs, err := Generate(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := celEnv(t)
	for _, o := range objs {
		p, ok := o.(*admissionregistrationv1.ValidatingAdmissionPolicy)
		if !ok || p.Annotations[PolicyAnnotation] != name {
			continue
		}
		var c compiledPolicy
		for _, v := range p.Spec.Variables {
			c.vars = append(c.vars, v.Name)
			c.programs = append(c.programs, program(t, env, v.Expression))
		}
		c.validation = program(t, env, p.Spec.Validations[0].Expression)
		c.message = program(t, env, p.Spec.Validations[0].MessageExpression)
		return c
	}
	t.Fatalf("no policy %s", name)
	return compiledPolicy{}
}

// eval evaluates the policy on obj, admitted in obj's namespace, as the
// API server does: the variables, then the validation and, when it fails,
// the message. It returns the message, or none when obj is admitted.
func (c compiledPolicy) eval(t testing.TB, obj map[string]any) []string {
	t.Helper()
	ns, _ := obj["metadata"].(map[string]any)["namespace"].(string)
	vars := map[string]any{}
	act := map[string]any{"object": obj, "request": map[string]any{"namespace": ns}, "variables": vars}
	for i, p := range c.programs {
		v, _, err := p.Eval(act)
		if err != nil {
			t.Fatalf("variable %s: %v", c.vars[i], err)
		}
		vars[c.vars[i]] = v
	}
	ok, _, err := c.validation.Eval(act)
	if err != nil {
		t.Fatalf("validation: %v", err)
	}
	if ok.Value() == true {
		return []string{}
	}
	msg, _, err := c.message.Eval(act)
	if err != nil {
		t.Fatalf("message: %v", err)
	}
	return []string{msg.Value().(string)}
}

// object reads a YAML object as the API server hands it to CEL (whole
// numbers as int64).
func object(t testing.TB, doc string) map[string]any {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := utiljson.Unmarshal(j, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// scaledJob is a ScaledJob in namespace ns with the spec fields of spec
// (YAML) and the pod spec of pod (YAML), one trigger without endpoints.
func scaledJob(ns, spec, pod string) string {
	return fmt.Sprintf(`apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: train, namespace: %s}
spec:
  %s
  jobTargetRef:
    %s
  triggers: [{type: cpu, metadata: {value: "50"}}]
`, ns, spec, pod)
}

// gpuCases are ScaledJobs (spec fields; jobTargetRef) checked by the CEL
// and the Rego version of gpu_budget.
var gpuCases = []struct{ ns, spec, job string }{
	{"ml", "maxReplicaCount: 4", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 2}}}]}}`},
	{"ml", "maxReplicaCount: 5", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 2}}}]}}`},
	{"other", "maxReplicaCount: 2", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: "2"}}}]}}`},
	{"other", "maxReplicaCount: 3", `template: {spec: {containers: [{name: a, image: x, resources: {requests: {nvidia.com/gpu: "1"}, limits: {nvidia.com/gpu: "2"}}}]}}`},
	{"other", "maxReplicaCount: 3", `template: {spec: {containers: [{name: a, image: x, resources: {requests: {nvidia.com/gpu: "1", cpu: "64"}}}]}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {cpu: "64", memory: 1Ti}}}]}}`},
	{"other", "", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {amd.com/gpu: 1}}}]}}`},
	{"other", "maxReplicaCount: 1", `{parallelism: 16, template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]}}}`},
	{"other", "maxReplicaCount: 1", `{parallelism: 2, template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]}}}`},
	{"other", "maxReplicaCount: 1", `{parallelism: 0, template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 4}}}]}}}`},
	{"other", "maxReplicaCount: 1", `{parallelism: 16, completions: 2, template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 2}}}]}}}`},
	{"other", "maxReplicaCount: 1", `{parallelism: 16, completions: 3, template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 2}}}]}}}`},
	{"other", "maxReplicaCount: 1", `{parallelism: 2, completions: 100, template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 3}}}]}}}`},
	{"other", "maxReplicaCount: 1", `{parallelism: 8, completions: 0, template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]}}}`},
	{"other", "maxReplicaCount: 1", `{completions: 1, template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 5}}}]}}}`},
	{"other", "maxReplicaCount: 2\n  minReplicaCount: 9", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]}}`},
	{"other", "maxReplicaCount: 2\n  minReplicaCount: 500", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]}}`},
	{"other", "maxReplicaCount: 2", `template: {spec: {initContainers: [{name: s, image: x, restartPolicy: Always, resources: {limits: {nvidia.com/gpu: 1}}}], containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {initContainers: [{name: s, image: x, restartPolicy: Always, resources: {limits: {nvidia.com/gpu: 1}}}, {name: i, image: x, resources: {limits: {nvidia.com/gpu: 4}}}, {name: s2, image: x, restartPolicy: Always, resources: {limits: {nvidia.com/mig-1g.10gb: 2}}}], containers: [{name: a, image: x}]}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {initContainers: [{name: i, image: x, resources: {limits: {nvidia.com/gpu: 3}}}], containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1, nvidia.com/gpu.shared: 1}}}]}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: "4611686018427387904"}}}, {name: b, image: x, resources: {limits: {nvidia.com/gpu: "4611686018427387904"}}}]}}`},
	{"other", "maxReplicaCount: 2147483647", `{parallelism: 2147483647, template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: "1e30"}}}]}}}`},
	{"other", "maxReplicaCount: 3", `{parallelism: 7, template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: "9223372036854775807"}}}]}}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1500m}}}]}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: "9223372036854775806.5"}}}]}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: "4611686018427387903.001"}}}]}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: "1234567890123456789"}}}]}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: "9223372036854775807.0"}}}]}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 2.0000000001}}}]}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1k}}}]}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: "-3"}}}]}}`},
	{"other", "maxReplicaCount: 1", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 5, nvidia.com/mig-2g.20gb: 1}}}]}}`},
	{"zero", "maxReplicaCount: 1", `template: {spec: {containers: [{name: a, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]}}`},
}

// gpuConfig gives ml 8 GPUs, zero none and the others 4.
var gpuConfig = policy.Config{GPUBudgets: map[string]int64{"ml": 8, "zero": 0}, DefaultGPUBudget: ptr(int64(4))}

// TestGPUBudgetMatchesRego runs every case through gpu_budget in Rego (the
// engine, without ResourceQuotas: the budgets configured) and in CEL, and
// compares the messages; with no budget configured the CEL finds none.
func TestGPUBudgetMatchesRego(t *testing.T) {
	ctx := context.Background()
	engine, err := policy.New(ctx, gpuConfig)
	if err != nil {
		t.Fatal(err)
	}
	// The Rego itself: the Go form of gpu_budget is compared with it
	// elsewhere.
	engine = engine.WithoutNative()
	c := compilePolicy(t, gpuConfig, "gpu_budget")
	unconfigured := compilePolicy(t, policy.Config{}, "gpu_budget")
	denied := 0
	for i, tc := range gpuCases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			obj := object(t, scaledJob(tc.ns, tc.spec, tc.job))
			want, err := regoMessages(ctx, t, engine, obj, "gpu_budget")
			if err != nil {
				t.Fatal(err)
			}
			got := c.eval(t, obj)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s\nCEL:  %q\nRego: %q", tc.spec, tc.job, got, want)
			}
			denied += len(got)
			if got := unconfigured.eval(t, obj); len(got) > 0 {
				t.Errorf("no budget configured: %q", got)
			}
		})
	}
	if denied < 10 || denied > len(gpuCases)-5 {
		t.Errorf("%d of %d cases denied; the table should have both", denied, len(gpuCases))
	}
}

// endpointConfig is the allowlist of the endpoint cases.
var endpointConfig = policy.Config{AllowedEndpoints: []string{"*.monitoring.svc.cluster.local", "*.ml.svc", "Kafka-?.ml.svc.cluster.local", "A?i.*.x.example.com", "**.internal"}}

// endpointCases are trigger types and metadata checked by the CEL and the
// Rego version of trigger_endpoints; cel says whether the CEL reads every
// host of the case (else the Rego may find more, which only the webhook
// checks).
var endpointCases = []struct {
	typ string
	md  map[string]any
	cel bool
}{
	{"prometheus", map[string]any{"serverAddress": "http://prometheus.monitoring.svc.cluster.local:9090"}, true},
	{"prometheus", map[string]any{"serverAddress": "http://evil.example.com:9090"}, true},
	{"prometheus", map[string]any{"serverAddress": "  HTTPS://Evil.Example.COM./x?y#z "}, true},
	{"prometheus", map[string]any{"serverAddress": "evil.example.com:9090"}, true},
	{"prometheus", map[string]any{"serverAddress": "http://u:p@evil.example.com"}, false},
	{"prometheus", map[string]any{"serverAddress": "http://[::1]:9090"}, false},
	{"prometheus", map[string]any{"serverAddress": "http://ev%69l.com/"}, false},
	{"prometheus", map[string]any{"serverAddress": "http://a.ml.svc@evil.com/"}, false},
	{"rabbitmq", map[string]any{"host": "amqp://rabbit.example.net:5672", "queueName": "q"}, true},
	{"rabbitmq", map[string]any{"host": "amqp://rabbit.ml.svc:5672/vhost"}, true},
	{"metrics-api", map[string]any{"url": "https://api.a.x.example.com/q?page=1"}, true},
	{"metrics-api", map[string]any{"url": "https://api.c.x.example.bom/q"}, true},
	{"kafka", map[string]any{"bootstrapServers": "kafka-1.ml.svc.cluster.local:9092, kafka-22.ml.svc.cluster.local:9092,evil:9092"}, true},
	{"redis", map[string]any{"address": "redis.ml.svc:6379", "hosts": "a.ml.svc,b.example.com"}, true},
	{"postgresql", map[string]any{"host": "db.internal"}, true},
	{"postgresql", map[string]any{"host": "db.évil.com"}, false},
	{"activemq", map[string]any{"managementEndpoint": "activemq.ml.svc:8161"}, true},
	{"activemq", map[string]any{"managementEndpoint": "http://evil.com"}, true},
	{"activemq", map[string]any{"restAPITemplate": "http://<<managementEndpoint>>/api"}, true},
	{"artemis-queue", map[string]any{"restApiTemplate": "http://evil.com/api/<<managementEndpoint>>"}, true},
	{"nats-jetstream", map[string]any{"natsServerMonitoringEndpoint": "nats.example.com:8222"}, true},
	{"nsq", map[string]any{"nsqLookupdHTTPAddresses": "nsq-1.ml.svc:4161,nsq.example.com:4161"}, true},
	{"elasticsearch", map[string]any{"addresses": "https://es.ml.svc:9200, https://es.example.com"}, true},
	{"elasticsearch", map[string]any{"cloudID": "deployment:ZXZpbC5leGFtcGxlLmNvbSRlcyRrYg=="}, false},
	{"external", map[string]any{"scalerAddress": "scaler.example.com:6000"}, true},
	{"external", map[string]any{"scalerAddress": "dns:///scaler.example.com:6000"}, false},
	{"external", map[string]any{"scalerAddress": "unix:/run/scaler.sock"}, true},
	{"temporal", map[string]any{"endpoint": "temporal.example.com:7233"}, true},
	{"mysql", map[string]any{"host": "mysql.example.com", "port": "3306"}, true},
	{"mysql", map[string]any{"host": "mysql.ml.svc", "port": "3306)@tcp(evil.example.com:3306"}, false},
	{"mongodb", map[string]any{"connectionString": "mongodb://u:p@m1.ml.svc:27017,m2.example.com/db"}, true},
	{"mongodb", map[string]any{"host": "mongo.example.com", "port": "27017"}, true},
	{"mongodb", map[string]any{"scheme": "mongodb+srv", "host": "cluster.example.com"}, true},
	{"mssql", map[string]any{"host": `sql.example.com\inst`}, true},
	{"couchdb", map[string]any{"host": "couch.example.com", "port": "5984"}, true},
	{"clickhouse", map[string]any{"host": "ch.ml.svc", "port": "9000"}, true},
	{"beanstalkd", map[string]any{"server": "beanstalk.example.com:11300"}, true},
	{"azure-blob", map[string]any{"accountName": "evil.example.com/"}, false},
	{"azure-servicebus", map[string]any{"namespace": "ns", "endpointSuffix": "evil.example.com"}, false},
	{"github-runner", map[string]any{"githubApiURL": "https://github.example.com"}, true},
	{"cpu", map[string]any{"value": "50", "url": "http://evil.com"}, true},
	{"cron", map[string]any{"start": "0 8 * * *"}, true},
	{"acme-queue", map[string]any{"brokerURL": "https://broker.ml.svc:8443", "queue": "tasks"}, true},
	{"acme-queue", map[string]any{"hostFromEnv": "BROKER", "size": "10", "peer": "10.0.0.1"}, true},
	{"acme-queue", map[string]any{"url": "http://evil.com", "list": "a.example.com:80, b"}, true},
	{"", map[string]any{"endpoint": "x.ml.svc"}, true},
	{"aws-sqs-queue", map[string]any{"queueURL": "https://sqs.eu-west-1.amazonaws.com/1/q", "awsEndpoint": "http://localstack.example.com:4566"}, true},
	{"solace-event-queue", map[string]any{"solaceSempBaseURL": "http://solace.example.com:8080"}, true},
}

// TestEndpointsMatchRego runs every case through trigger_endpoints in
// Rego (the engine) and in CEL. The CEL's refusal must be the Rego's
// messages joined, where the case says the CEL reads every host, and a
// part of them otherwise; it never refuses what the Rego admits.
func TestEndpointsMatchRego(t *testing.T) {
	ctx := context.Background()
	engine, err := policy.New(ctx, endpointConfig)
	if err != nil {
		t.Fatal(err)
	}
	engine = engine.WithoutNative()
	c := compilePolicy(t, endpointConfig, "trigger_endpoints")
	unconfigured := compilePolicy(t, policy.Config{}, "trigger_endpoints")
	denied, partial := 0, 0
	for i, tc := range endpointCases {
		t.Run(fmt.Sprintf("%d-%s", i, tc.typ), func(t *testing.T) {
			obj := endpointObject(i, tc.typ, tc.md)
			want, err := regoMessages(ctx, t, engine, obj, "trigger_endpoints")
			if err != nil {
				t.Fatal(err)
			}
			got := c.eval(t, obj)
			if tc.cel {
				if w := joined(want); !slices.Equal(got, w) {
					t.Errorf("%v\nCEL:  %q\nRego: %q", tc.md, got, w)
				}
			} else if err := subset(got, want); err != nil {
				t.Errorf("%v: %v", tc.md, err)
			} else if len(want) > 0 && (len(got) == 0 || len(got[0]) < len(strings.Join(want, "; "))) {
				partial++
			}
			denied += len(got)
			if got := unconfigured.eval(t, obj); len(got) > 0 {
				t.Errorf("no allowlist configured: %q", got)
			}
		})
	}
	if denied < 25 || partial < 5 {
		t.Errorf("%d cases denied by the CEL, %d left in part to the webhook; the table should have many of both", denied, partial)
	}
}

// FuzzEndpointsMatchRego: whatever the type, key and value, the CEL
// refuses only with messages the Rego gives.
func FuzzEndpointsMatchRego(f *testing.F) {
	for _, c := range endpointCases {
		for k, v := range c.md {
			f.Add(c.typ, k, v.(string))
		}
	}
	ctx := context.Background()
	engine, err := policy.New(ctx, endpointConfig)
	if err != nil {
		f.Fatal(err)
	}
	engine = engine.WithoutNative()
	c := compilePolicy(f, endpointConfig, "trigger_endpoints")
	f.Fuzz(func(t *testing.T, typ, key, value string) {
		if !utf8.ValidString(typ) || !utf8.ValidString(key) || !utf8.ValidString(value) || key == "" {
			t.Skip("metadata is JSON: valid UTF-8, non-empty keys")
		}
		if strings.IndexFunc(typ, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			t.Skip("the CEL quotes a type with unprintable characters otherwise than Go does (documented)")
		}
		obj := endpointObject(0, typ, map[string]any{key: value})
		want, err := regoMessages(ctx, t, engine, obj, "trigger_endpoints")
		if err != nil {
			t.Fatal(err)
		}
		if err := subset(c.eval(t, obj), want); err != nil {
			t.Errorf("type %q, metadata %q: %q: %v", typ, key, value, err)
		}
	})
}

// endpointObject is a ScaledObject in ml with one trigger, named on
// even i.
func endpointObject(i int, typ string, md map[string]any) map[string]any {
	trigger := map[string]any{"type": typ, "metadata": md}
	if i%2 == 0 {
		trigger["name"] = fmt.Sprintf("t-%d", i)
	}
	return map[string]any{
		"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
		"metadata": map[string]any{"name": "so", "namespace": "ml"},
		"spec":     map[string]any{"scaleTargetRef": map[string]any{"name": "app"}, "triggers": []any{trigger}},
	}
}

// joined is msgs as a refusal: none, or one message joined by "; ".
func joined(msgs []string) []string {
	if len(msgs) == 0 {
		return []string{}
	}
	return []string{strings.Join(msgs, "; ")}
}

// subset checks that the CEL's refusal (got: none or one message) joins
// some of the Rego's messages (want, sorted), in their order.
func subset(got, want []string) error {
	if len(got) == 0 {
		return nil
	}
	rest := got[0]
	for _, w := range want {
		if rest == w {
			return nil
		}
		if r, ok := strings.CutPrefix(rest, w+"; "); ok {
			rest = r
		}
	}
	return fmt.Errorf("the CEL refuses with %q, which is not made of the Rego's %q", got[0], want)
}

// TestGlobRegexp: the allowlist's regular expression matches what Rego's
// glob.match (gobwas/glob, "." the separator) matches, for the patterns
// of EndpointPatternSyntax; the others are refused, naming the pattern.
func TestGlobRegexp(t *testing.T) {
	patterns := []string{"*.monitoring.svc", "a?c", "**", "**.x", "a*", "Kafka-?.ML", "*", "***.x", "a**b", "*?*", "x.*.z", "-_.x", "a.b.", "?"}
	hosts := []string{"", "a", "a.c", "abc", "axc", "a.b.c", "b.c", "x", ".x", "a.x", "*.x", "x.z", "x.y.z", "x..z", "kafka-1.ml", "kafka-12.ml", "prom.monitoring.svc", ".monitoring.svc", "a.b.monitoring.svc", "d-1.y2", "a-1.x", "-_.x", "ab.c", "a\nc", "ab", "a.b.", "é", "a.b"}
	for _, p := range patterns {
		re, err := globRegexp([]string{p})
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		r := regexp.MustCompile(re)
		g := glob.MustCompile(strings.ToLower(p), '.')
		for _, h := range hosts {
			if r.MatchString(h) != g.Match(h) {
				t.Errorf("pattern %q (%s), host %q: regexp %v, glob %v", p, re, h, r.MatchString(h), g.Match(h))
			}
		}
	}
	if re, _ := globRegexp(nil); regexp.MustCompile(re).MatchString("") {
		t.Errorf("no patterns: %s matches the empty host", re)
	}
	for _, p := range []string{"a[!b]c", "a[.]c", "{a,b.c}", "\\*.x", "a+b.(c)|d^$", "évil.com", "prometheus:9090", "a b", "", "x.{,y.}z"} {
		_, err := globRegexp([]string{"ok.svc", p})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("allowedEndpoints[1] %q", p)) || !strings.Contains(err.Error(), EndpointPatternSyntax) {
			t.Errorf("pattern %q: %v, want a refusal naming it and the allowed syntax", p, err)
		}
	}
}

// TestGlobRegexpExhaustive compares the regular expression with gobwas/glob
// on every pattern of up to 4 characters of "a.*?-" and every host of up
// to 5 characters of "ab.-".
func TestGlobRegexpExhaustive(t *testing.T) {
	words := func(alphabet string, n int) []string {
		out := []string{""}
		level := []string{""}
		for range n {
			var next []string
			for _, w := range level {
				for _, c := range alphabet {
					next = append(next, w+string(c))
				}
			}
			out = append(out, next...)
			level = next
		}
		return out
	}
	hosts := words("ab.-", 5)
	for _, p := range words("a.*?-", 4)[1:] {
		re, err := globRegexp([]string{p})
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		r := regexp.MustCompile(re)
		g := glob.MustCompile(p, '.')
		for _, h := range hosts {
			if r.MatchString(h) != g.Match(h) {
				t.Fatalf("pattern %q (%s), host %q: regexp %v, glob %v", p, re, h, r.MatchString(h), g.Match(h))
			}
		}
	}
}
