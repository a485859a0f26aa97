package vap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/manifest"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/vap"
	"github.com/mlscale/mlscale/test/kubetest"
)

// equivalenceCases are documents beyond the policies' samples, applied in
// order in a namespace of their own, as a sample file is.
var equivalenceCases = map[string]string{
	"hpa-of-another-target-taken-over": `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: reports-hpa}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: reports}
  maxReplicas: 3
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: api
  annotations: {scaledobject.keda.sh/transfer-hpa-ownership: "true"}
spec:
  scaleTargetRef: {name: api}
  advanced: {horizontalPodAutoscalerConfig: {name: reports-hpa}}
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
`,
	"hpa-owned-by-another-scaledobject": `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: keda-hpa-first
  ownerReferences: [{apiVersion: keda.sh/v1alpha1, kind: ScaledObject, name: first, uid: 00000000-0000-0000-0000-000000000001}]
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  maxReplicas: 3
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: second}
spec:
  scaleTargetRef: {name: api}
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
`,
	"hpa-other-kind-same-name": `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: so}
spec:
  scaleTargetRef: {name: web, kind: StatefulSet}
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 3
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: sts}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: web}
  maxReplicas: 3
`,
	"hpa-v1-on-scaled-target": `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: so}
spec:
  scaleTargetRef: {name: api, apiVersion: apps/v1}
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  maxReplicas: 3
`,
	"hpa-adopted-and-keda-named": `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: so
  annotations: {scaledobject.keda.sh/transfer-hpa-ownership: "true"}
spec:
  scaleTargetRef: {name: api}
  advanced: {horizontalPodAutoscalerConfig: {name: legacy}}
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: legacy}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  maxReplicas: 3
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: keda-hpa-so
  ownerReferences: [{apiVersion: keda.sh/v1alpha1, kind: ScaledObject, name: so, uid: 00000000-0000-0000-0000-000000000001}]
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  maxReplicas: 3
`,
	"many-scaled-objects-one-conflict": `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: a}
spec:
  scaleTargetRef: {name: a}
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: b}
spec:
  scaleTargetRef: {name: b}
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: c}
spec:
  scaleTargetRef: {name: c}
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: d}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}
  maxReplicas: 3
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: b}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: b}
  maxReplicas: 3
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: d}
spec:
  scaleTargetRef: {name: d}
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
`,
	"credentials-many-triggers": `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: queue}
spec:
  scaleTargetRef: {name: worker}
  triggers:
  - type: rabbitmq
    name: 'say "hi"'
    metadata: {queueName: q, mode: QueueLength, value: "5", host: "amqp://guest:guest@rabbitmq.ml.svc:5672/"}
  - type: metrics-api
    metadata: {url: "https://api.example.com/q?page=1", targetValue: "1", valueLocation: count, authMode: bearer, customHeaders: "X-Team=ml,X-Api-Key=abc"}
  - type: mssql
    metadata: {query: "SELECT COUNT(*) FROM t WHERE token IS NULL", targetValue: "1", connectionString: "Server=db;Database=q;User Id=sa;Password=pw"}
  - type: redis
    metadata: {address: "redis.ml.svc:6379", listName: l, password: ""}
  - type: kafka
    metadata: {bootstrapServers: "kafka.ml.svc:9092", consumerGroup: g, topic: t, sasl: plaintext, tls: enable}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: train}
spec:
  jobTargetRef:
    template:
      spec:
        restartPolicy: Never
        containers: [{name: t, image: registry.example/t:1}]
  triggers:
  - type: azure-queue
    metadata: {queueName: q, connection: "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc=="}
`,
	"gpu-budget-scaledjobs": `
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: fits}
spec:
  maxReplicaCount: 2
  jobTargetRef:
    parallelism: 2
    template:
      spec:
        restartPolicy: Never
        containers: [{name: t, image: registry.example/t:1, resources: {limits: {nvidia.com/gpu: 1}}}]
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: mig-and-init}
spec:
  maxReplicaCount: 1
  jobTargetRef:
    template:
      spec:
        restartPolicy: Never
        initContainers:
        - {name: warm, image: registry.example/w:1, resources: {limits: {nvidia.com/gpu: "5"}}}
        containers: [{name: t, image: registry.example/t:1, resources: {requests: {nvidia.com/mig-1g.10gb: "2"}}}]
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: default-max}
spec:
  jobTargetRef:
    template:
      spec:
        restartPolicy: Never
        containers: [{name: t, image: registry.example/t:1, resources: {limits: {amd.com/gpu: 1}}}]
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
`,
	"endpoints-covered": `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: mixed}
spec:
  scaleTargetRef: {name: worker}
  triggers:
  - type: kafka
    metadata: {bootstrapServers: "kafka-0.kafka.ml.svc.cluster.local:9092,kafka.example.com:9092", consumerGroup: g, topic: t, lagThreshold: "5"}
  - type: prometheus
    name: prom
    metadata: {serverAddress: "http://prometheus-operated.monitoring.svc:9090", query: up, threshold: "1"}
  - type: metrics-api
    metadata: {url: "https://Metrics.Example.ORG./v1?x=1", valueLocation: v, targetValue: "1"}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: redis-queue}
spec:
  jobTargetRef:
    template:
      spec:
        restartPolicy: Never
        containers: [{name: t, image: registry.example/t:1}]
  triggers:
  - type: redis
    metadata: {address: "redis.cache.svc:6379", listName: jobs}
`,
	"endpoints-webhook-only": `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: ipv6}
spec:
  scaleTargetRef: {name: worker}
  triggers:
  - type: metrics-api
    metadata: {url: "http://[fd00::1]:8080/q", valueLocation: v, targetValue: "1"}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: azure}
spec:
  jobTargetRef:
    template:
      spec:
        restartPolicy: Never
        containers: [{name: t, image: registry.example/t:1}]
  triggers:
  - type: azure-servicebus
    metadata: {namespace: orders, queueName: q, cloud: Private, endpointSuffix: evil.example.com}
`,
	"credentials-clean": `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: clean}
spec:
  scaleTargetRef: {name: worker}
  triggers:
  - type: rabbitmq
    metadata: {queueName: q, mode: QueueLength, value: "5", hostFromEnv: RABBIT_URL}
    authenticationRef: {name: rabbit}
  - type: prometheus
    metadata: {serverAddress: "http://prometheus.monitoring.svc:9090", threshold: "1", query: 'sum(x{secret=~"tls-.*"})', customHeaders: "X-Scope-OrgID=ml"}
`,
}

// webhookOnly are the documents (source, kind and name) that the Rego
// refuses and the API server admits: the part of gpu_budget and
// trigger_endpoints that CEL does not hold (docs/policies.md). Each must
// be admitted by the API server, or the entry is stale.
var webhookOnly = map[string]bool{
	"trigger_endpoints/samples/denied/elasticsearch-cloud-id.yaml ScaledObject search":                true,
	"trigger_endpoints/samples/denied/eventhub-storage-account-moves-host.yaml ScaledObject consumer": true,
	"trigger_endpoints/samples/denied/mysql-port-moves-host.yaml ScaledObject jobs":                   true,
	"case/endpoints-webhook-only ScaledObject ipv6":                                                   true,
	"case/endpoints-webhook-only ScaledJob azure":                                                     true,
}

// TestEquivalence runs the same documents through the Rego policies (the
// engine, with the inventory the webhook would read) and through the API
// server's ValidatingAdmissionPolicies, and wants the same verdict and
// message from both: every sample of the policies the API server enforces,
// and equivalenceCases. Each file's documents are applied in order in a
// namespace of their own; an admitted document is created (it is then an
// inventory object and a param of the next), a refused one is not.
// Workloads are created, not compared: the API server cannot see the KEDA
// object mlscale renders for them.
func TestEquivalence(t *testing.T) {
	env(t)
	ctx := t.Context()
	engine, err := policy.New(ctx, testConfig)
	if err != nil {
		t.Fatal(err)
	}
	type source struct{ name, text string }
	var sources []source
	for _, p := range vap.Policies() {
		files, _ := filepath.Glob(filepath.Join(suite.root, "policies", p, "samples", "*", "*.yaml"))
		if len(files) < 2 {
			t.Errorf("policy %s has %d samples, want allowed and denied ones", p, len(files))
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(filepath.Join(suite.root, "policies"), f)
			sources = append(sources, source{rel, string(b)})
		}
	}
	for name, text := range equivalenceCases {
		sources = append(sources, source{"case/" + name, text})
	}
	slices.SortFunc(sources, func(a, b source) int { return strings.Compare(a.name, b.name) })
	compared, refused := 0, 0
	for i, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			ns := namespace(t, fmt.Sprintf("eq-%d", i))
			c, r := compareDocuments(ctx, t, engine, ns, src.name, src.text)
			compared += c
			refused += r
		})
	}
	// The comparison must have been about something.
	if compared < 25 || refused < 10 {
		t.Errorf("compared %d documents, %d of them refused; want at least 25 and 10", compared, refused)
	}
}

// compareDocuments applies the documents of text in ns, comparing the
// verdicts; it returns how many documents it compared and how many of
// them were refused.
func compareDocuments(ctx context.Context, t *testing.T, engine *policy.Engine, ns, name, text string) (compared, refused int) {
	t.Helper()
	var inv policy.Inventory
	for _, d := range manifest.Documents(manifest.Source{Name: name, Data: []byte(text)}) {
		if d.Err != nil {
			t.Fatal(d.Err)
		}
		var obj unstructured.Unstructured
		if err := json.Unmarshal(d.JSON, &obj.Object); err != nil {
			t.Fatal(err)
		}
		kind := obj.GetKind()
		if kind != vap.KindHPA && kind != vap.KindScaledObject && kind != vap.KindScaledJob {
			if _, err := create(ctx, &obj, ns, false); err != nil {
				t.Fatalf("%s: creating %s %s: %v", d.Where(), kind, obj.GetName(), err)
			}
			continue
		}
		// What the webhook would review: the object as the API server
		// admits it (defaulted, pruned, autoscaling/v1 as v2).
		seen, err := create(ctx, &obj, shadowNamespace, true)
		if err != nil {
			t.Fatalf("%s: the dry run in %s: %v", d.Where(), shadowNamespace, err)
		}
		seen.SetNamespace(ns)
		typed := decode(t, seen)
		review, err := policy.NewReview(ctx, policy.OperationCreate, typed, facts.Static(facts.Default()))
		if err != nil {
			t.Fatal(err)
		}
		vs, err := engine.Evaluate(ctx, review, inv)
		if err != nil {
			t.Fatal(err)
		}
		want := regoVerdict(vs)
		key := name + " " + kind + " " + obj.GetName()
		var got verdict
		kubetest.Eventually(t, 15*time.Second, fmt.Sprintf("%s: %s %s: the API server's verdict equals the Rego's %s", d.Where(), kind, obj.GetName(), want), func() error {
			suite.warnings.take()
			_, err := create(ctx, &obj, ns, true)
			got = apiVerdict(err, suite.warnings.take())
			if got.err != "" {
				return fmt.Errorf("the API server: %s", got.err)
			}
			if webhookOnly[key] {
				if len(want.denied) == 0 || len(got.denied) > 0 {
					return fmt.Errorf("%s is listed as refused by the webhook only: the Rego refuses with %q, the API server with %q", key, want.denied, got.denied)
				}
				return nil
			}
			return want.matches(got)
		})
		compared++
		if len(want.denied) > 0 {
			refused++
			continue
		}
		if _, err := create(ctx, &obj, ns, false); err != nil {
			t.Fatalf("%s: creating %s %s: %v", d.Where(), kind, obj.GetName(), err)
		}
		inv.Add(typed)
	}
	return compared, refused
}

// decode turns an object the API server returned into the typed object the
// policies review.
func decode(t *testing.T, u *unstructured.Unstructured) client.Object {
	t.Helper()
	raw, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	o, err := policy.Decode(u.GroupVersionKind(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// verdict is what admission said about one object: the messages of a
// refusal (the API server gives the first policy's) and of warnings.
type verdict struct {
	denied, warned []string
	// err is an answer that is neither a policy's refusal nor an
	// admission.
	err string
}

func (v verdict) String() string {
	return fmt.Sprintf("(denied %q, warnings %q)", v.denied, v.warned)
}

// regoVerdict is the engine's verdict, for the policies the API server
// enforces.
func regoVerdict(vs []policy.Violation) verdict {
	var v verdict
	for _, x := range vs {
		if _, ok := vap.Kinds(x.Policy); !ok {
			continue
		}
		switch x.Action {
		case policy.ActionDeny:
			v.denied = append(v.denied, x.Message)
		case policy.ActionWarn:
			v.warned = append(v.warned, x.Message)
		}
	}
	return v
}

// apiVerdict reads the API server's answer.
func apiVerdict(err error, warnings []string) verdict {
	var v verdict
	if err != nil {
		msg, ok := denialMessage(err)
		if !ok {
			return verdict{err: err.Error()}
		}
		v.denied = []string{msg}
	}
	v.warned, _ = warningMessages(warnings)
	return v
}

// matches compares the Rego's verdict (want) with the API server's. A
// refusal must carry one of the Rego's messages, or the messages of one
// policy joined by "; " (a policy with params refuses with the first
// param's message; one without joins its messages, as the webhook does);
// the warnings must say the same as the Rego's, joined in order.
func (v verdict) matches(got verdict) error {
	switch {
	case len(v.denied) == 0 && len(got.denied) > 0:
		return fmt.Errorf("the API server refuses with %q; the Rego admits", got.denied[0])
	case len(v.denied) > 0 && len(got.denied) == 0:
		return fmt.Errorf("the API server admits; the Rego refuses with %q", v.denied)
	case len(v.denied) > 0:
		if !slices.Contains(acceptable(v.denied), got.denied[0]) {
			return fmt.Errorf("the API server refuses with\n%q\nthe Rego with\n%q", got.denied[0], v.denied)
		}
		return nil
	}
	w, g := slices.Sorted(slices.Values(v.warned)), slices.Sorted(slices.Values(got.warned))
	if strings.Join(w, "; ") != strings.Join(g, "; ") {
		return fmt.Errorf("the API server warns\n%q\nthe Rego\n%q", g, w)
	}
	return nil
}

// acceptable are the refusal messages that match msgs: each, and each
// policy's (the "name: " prefix) joined; for a policy the API server holds
// in part (vap.Partial), also any of its messages joined in order (the
// others are the webhook's).
func acceptable(msgs []string) []string {
	out := slices.Clone(msgs)
	byPolicy := map[string][]string{}
	for _, m := range msgs {
		p, _, _ := strings.Cut(m, ":")
		byPolicy[p] = append(byPolicy[p], m)
	}
	for p, ms := range byPolicy {
		slices.Sort(ms)
		out = append(out, strings.Join(ms, "; "))
		if vap.Partial(p) && len(ms) < 8 {
			for set := 1; set < 1<<len(ms); set++ {
				var part []string
				for i, m := range ms {
					if set&(1<<i) != 0 {
						part = append(part, m)
					}
				}
				out = append(out, strings.Join(part, "; "))
			}
		}
	}
	return out
}
