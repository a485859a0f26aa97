package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/webhook/inventory"
)

// hpaManifests is n HPAs in namespace ml, HPA i on the Deployment
// target(i).
func hpaManifests(n int, target func(int) string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: hpa-%d, namespace: ml}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: %s}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
`, i, target(i))
	}
	return b.String()
}

func distinctTargets(i int) string { return fmt.Sprintf("app-%d", i) }
func oneTarget(int) string         { return "web" }

// BenchmarkPolicyEval is `mlscale policy eval` end to end (reading,
// decoding, rendering, evaluating every built-in policy, printing) on 1,000
// HPAs on distinct targets and on 500 HPAs on one target. Each object's
// inventory is the objects on its target (converted to Rego values once),
// so both grow linearly; before the index, every review carried the whole
// namespace and the second printed one line per pair (71 MB).
func BenchmarkPolicyEval(b *testing.B) {
	for _, c := range []struct {
		name     string
		in       string
		wantCode int
	}{
		{"distinct-targets=1000", hpaManifests(1000, distinctTargets), ExitOK},
		{"one-target=500", hpaManifests(500, oneTarget), ExitFailure},
	} {
		b.Run(c.name, func(b *testing.B) {
			var out bytes.Buffer
			for b.Loop() {
				out.Reset()
				code := Run(context.Background(), []string{"policy", "eval", "-f", "-"}, Streams{In: strings.NewReader(c.in), Out: &out, Err: io.Discard})
				if code != c.wantCode {
					b.Fatalf("exit %d, want %d:\n%s", code, c.wantCode, out.String())
				}
			}
			b.ReportMetric(float64(out.Len()), "output-bytes")
		})
	}
}

// TestPolicyEvalCrowdedTarget: 500 HPAs on one Deployment. Denied, each
// later HPA is refused once, for the first one (a denied HPA never joins
// the cluster). Admitted with a warning, every HPA joins and the later
// ones conflict with more and more: still one line per HPA, the target
// sampled once it is crowded, and the output stays small.
func TestPolicyEvalCrowdedTarget(t *testing.T) {
	const n = 500
	r := runCLI(t, hpaManifests(n, oneTarget), "policy", "eval", "-f", "-")
	if r.Code != ExitFailure || r.ErrOut != "" {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", r.Code, ExitFailure, r.ErrOut)
	}
	lines := strings.Split(strings.TrimSuffix(r.Out, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines for %d objects, want one denial for each HPA after the first and the summary", len(lines), n)
	}
	if want := fmt.Sprintf("%d object(s) evaluated against 9 policies: %d denied,", n, n-1); !strings.HasPrefix(lines[n-1], want) {
		t.Errorf("summary %q, want %q", lines[n-1], want)
	}
	for i, l := range lines[:n-1] {
		want := fmt.Sprintf("deny: hpa_duplicate_target: HorizontalPodAutoscaler ml/hpa-%d targets Deployment ml/web, which HorizontalPodAutoscaler ml/hpa-0 already scales", i+1)
		if !strings.Contains(l, want) || strings.Contains(l, "more like it") {
			t.Fatalf("line %d: %s\nwant %q alone", i+1, l, want)
		}
	}

	r = runCLI(t, hpaManifests(n, oneTarget), "policy", "eval", "-f", "-", "--default-action", "warn")
	if r.Code != ExitOK || r.ErrOut != "" {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", r.Code, ExitOK, r.ErrOut)
	}
	lines = strings.Split(strings.TrimSuffix(r.Out, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines (%d bytes) for %d objects, want one finding per HPA after the first and the summary", len(lines), len(r.Out), n)
	}
	if want := "(and 7 more like it among the first 8 HPAs and the first 8 ScaledObjects on Deployment ml/web; 499 in the files target it)"; !strings.Contains(lines[n-2], want) {
		t.Errorf("the last HPA's line %q lacks %q", lines[n-2], want)
	}
	if len(r.Out) > 1024*n {
		t.Errorf("%d bytes of output for %d objects", len(r.Out), n)
	}
}

// TestPolicyEvalFindings: the messages of a policy about conflicts with
// other objects on the target are one line per object; the others (two
// triggers calling endpoints not allowed) one line each.
func TestPolicyEvalFindings(t *testing.T) {
	in := hpaManifests(3, oneTarget) + `---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: api, namespace: ml}
spec:
  scaleTargetRef: {name: api}
  triggers:
  - {type: prometheus, name: a, metadata: {serverAddress: "http://a.example.com", query: up, threshold: "1"}}
  - {type: prometheus, name: b, metadata: {serverAddress: "http://b.example.com", query: up, threshold: "1"}}
`
	r := runCLI(t, in, "policy", "eval", "-f", "-", "--allowed-endpoint", "*.svc.cluster.local")
	want := []string{
		"<stdin>: document 2 (line 13): deny: hpa_duplicate_target: HorizontalPodAutoscaler ml/hpa-1 targets Deployment ml/web, which HorizontalPodAutoscaler ml/hpa-0 already scales",
		"<stdin>: document 3 (line 24): deny: hpa_duplicate_target: HorizontalPodAutoscaler ml/hpa-2 targets Deployment ml/web, which HorizontalPodAutoscaler ml/hpa-0 already scales",
		`<stdin>: document 4 (line 35): deny: trigger_endpoints: ScaledObject ml/api makes KEDA call a.example.com (trigger "a"`,
		`<stdin>: document 4 (line 35): deny: trigger_endpoints: ScaledObject ml/api makes KEDA call b.example.com (trigger "b"`,
		"4 object(s) evaluated against",
		": 4 denied, 0 warning(s), 0 audit\n",
	}
	if r.Code != ExitFailure || strings.Count(r.Out, "\n") != 5 {
		t.Fatalf("exit %d, %d lines:\n%s%s", r.Code, strings.Count(r.Out, "\n"), r.Out, r.ErrOut)
	}
	for _, w := range want {
		if !strings.Contains(r.Out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, r.Out)
		}
	}
	// Admitted with a warning, every HPA joins: hpa-2 conflicts with both
	// before it, one line.
	r = runCLI(t, in, "policy", "eval", "-f", "-", "--allowed-endpoint", "*.svc.cluster.local", "--default-action", "warn")
	if want := "<stdin>: document 3 (line 24): warn: hpa_duplicate_target: HorizontalPodAutoscaler ml/hpa-2 targets Deployment ml/web, which HorizontalPodAutoscaler ml/hpa-0 already scales"; !strings.Contains(r.Out, want) || !strings.Contains(r.Out, "(and 1 more like it)\n") {
		t.Errorf("stdout lacks %q and its (and 1 more like it):\n%s", want, r.Out)
	}
}

// TestPolicyEvalStrict: eval reads manifests as the API server does. A
// ScaledObject with maxReplicaCount and maxreplicacount, or the same field
// twice, is an error naming the field, not judged on one of them; a kind
// in the wrong case is an error naming the kind, not skipped.
func TestPolicyEvalStrict(t *testing.T) {
	so := func(spec string) string {
		return `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: web, namespace: ml}
spec:
  scaleTargetRef: {name: web}
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
` + spec
	}
	tests := []struct {
		name, in, errOut string
	}{
		{"field in the wrong case", so("  maxReplicaCount: 3\n  maxreplicacount: 50\n"),
			`<stdin>: document 1 (line 1) (ScaledObject ml/web): unknown field "spec.maxreplicacount": field names are case-sensitive; did you mean "spec.maxReplicaCount"?`},
		{"duplicate field", so("  maxReplicaCount: 3\n  maxReplicaCount: 50\n"),
			`<stdin>: document 1 (line 1) (ScaledObject ml/web): duplicate field "spec.maxReplicaCount" (line 8)`},
		{"lower-case kind", strings.Replace(cleanManifests, "kind: ScaledObject", "kind: scaledobject", 1),
			`<stdin>: document 2 (line 8) (scaledobject api): unknown kind "scaledobject" in keda.sh/v1alpha1: kinds are case-sensitive; did you mean "ScaledObject"?`},
		{"lower-case workload kind", strings.Replace(conflictingManifests, "kind: Deployment\n", "kind: deployment\n", 1),
			`<stdin>: document 3 (line 14) (deployment ml/llm): unknown kind "deployment" in apps/v1: kinds are case-sensitive; did you mean "Deployment"?`},
		{"Kind for kind", strings.Replace(cleanManifests, "kind: HorizontalPodAutoscaler", "Kind: HorizontalPodAutoscaler", 1),
			`<stdin>: document 1 (line 1): unknown field "Kind": field names are case-sensitive; did you mean "kind"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.in, "policy", "eval", "-f", "-")
			if r.Code != ExitFailure || strings.TrimSuffix(r.ErrOut, "\n") != ErrorPrefix+tt.errOut {
				t.Errorf("exit %d, want %d\nstderr:\n%s\nwant:\n%s", r.Code, ExitFailure, r.ErrOut, tt.errOut)
			}
		})
	}
}

// TestInventoryTargetMatchesWebhook: eval's index keys HPAs and
// ScaledObjects by target exactly as the webhook's informer index does.
func TestInventoryTargetMatchesWebhook(t *testing.T) {
	ref := func(api, kind, name string) autoscalingv2.CrossVersionObjectReference {
		return autoscalingv2.CrossVersionObjectReference{APIVersion: api, Kind: kind, Name: name}
	}
	objs := []client.Object{
		&autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref("apps/v1", "Deployment", "web")}},
		&autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref("example.com/v1", "Deployment", "web")}},
		&autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: ref("", "", "web")}},
		&autoscalingv2.HorizontalPodAutoscaler{},
		&kedav1alpha1.ScaledObject{Spec: kedav1alpha1.ScaledObjectSpec{ScaleTargetRef: &kedav1alpha1.ScaleTarget{Name: "web"}}},
		&kedav1alpha1.ScaledObject{Spec: kedav1alpha1.ScaledObjectSpec{ScaleTargetRef: &kedav1alpha1.ScaleTarget{Kind: "StatefulSet", Name: "db"}}},
		&kedav1alpha1.ScaledObject{Spec: kedav1alpha1.ScaledObjectSpec{ScaleTargetRef: &kedav1alpha1.ScaleTarget{}}},
		&kedav1alpha1.ScaledObject{},
		&corev1.ResourceQuota{},
	}
	for _, obj := range objs {
		var want []string
		switch obj.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			want = inventory.HPATarget(obj)
		case *kedav1alpha1.ScaledObject:
			want = inventory.ScaledObjectTarget(obj)
		}
		key, ok := policy.InventoryTarget(obj)
		var got []string
		if ok {
			got = []string{key}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%T %+v: InventoryTarget %q, the webhook's index %q", obj, obj, got, want)
		}
	}
}

// admissionManifests hold what eval's index must get right: two namespaces,
// a quota, an annotated GPU workload whose rendered ScaledObject conflicts
// with an HPA, a ScaledObject on a GPU Deployment of the files (its
// inventory's Target), KEDA's own HPA, a custom resource of kind Deployment,
// and a crowded target (sampled).
const admissionManifests = `apiVersion: v1
kind: ResourceQuota
metadata: {name: gpus, namespace: ml}
spec:
  hard: {requests.nvidia.com/gpu: "4"}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm
  namespace: ml
  annotations: {mlscale.io/autoscale: "true", mlscale.io/max-replicas: "8"}
spec:
  selector: {matchLabels: {app: llm}}
  template:
    metadata: {labels: {app: llm}}
    spec:
      containers: [{name: vllm, image: vllm, resources: {limits: {nvidia.com/gpu: "2"}}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: llm-hpa, namespace: ml}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm}
  maxReplicas: 3
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: trainer, namespace: ml}
spec:
  selector: {matchLabels: {app: trainer}}
  template:
    metadata: {labels: {app: trainer}}
    spec:
      containers: [{name: t, image: t, resources: {limits: {nvidia.com/gpu: "4"}}}]
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: trainer, namespace: ml}
spec:
  scaleTargetRef: {name: trainer}
  maxReplicaCount: 3
  triggers: [{type: cpu, metricType: Utilization, metadata: {value: "60"}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: keda-hpa-trainer
  namespace: ml
  ownerReferences: [{apiVersion: keda.sh/v1alpha1, kind: ScaledObject, name: trainer, uid: "1"}]
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: trainer}
  maxReplicas: 3
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: cr-hpa, namespace: ml}
spec:
  scaleTargetRef: {apiVersion: example.com/v1, kind: Deployment, name: trainer}
  maxReplicas: 3
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: other-ns, namespace: team}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm}
  maxReplicas: 3
`

// TestPolicyEvalMatchesAdmission: for every object, in the order of the
// files, eval finds what the validating webhook would with the objects
// admitted before it in the cluster: the inventory webhook/inventory reads
// (through the informer cache's target index; a fake client here, into
// which each admitted object is created) evaluated with Engine.Evaluate
// gives the same policies, and messages of which eval's findings are the
// first (all of them, counted, where the target is not crowded).
func TestPolicyEvalMatchesAdmission(t *testing.T) {
	ctx := context.Background()
	in := admissionManifests + hpaManifests(2*policy.SampleSize+3, func(int) string { return "crowded" }) +
		strings.ReplaceAll(hpaManifests(3, func(int) string { return "crowded-so" }), "name: hpa-", "name: so-target-hpa-")
	for i := range policy.SampleSize + 2 {
		in += fmt.Sprintf("---\napiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: so-%d, namespace: ml}\nspec:\n  scaleTargetRef: {name: crowded-so}\n  triggers: [{type: cpu, metricType: Utilization, metadata: {value: \"60\"}}]\n", i)
	}
	// Warn instead of deny, so that every object joins the cluster and the
	// crowded targets fill up.
	cfg := policyEvalConfig{Files: []string{"-"}, Namespace: "default", Facts: facts.Default()}
	var stderr bytes.Buffer
	objs, problems := readEvalObjects(cfg, Streams{In: strings.NewReader(in), Err: &stderr})
	if problems > 0 || len(objs) < 30 {
		t.Fatalf("%d objects read, %d problems:\n%s", len(objs), problems, stderr.String())
	}
	engine, err := policy.New(ctx, policy.Config{DefaultAction: policy.ActionWarn})
	if err != nil {
		t.Fatal(err)
	}
	cluster := emptyCluster(t)
	src, ix := inventory.Source{Reader: cluster}, policy.NewIndex()
	sampled := 0
	for _, o := range objs {
		if q, ok := o.obj.(*corev1.ResourceQuota); ok {
			if err := ix.Add(q); err != nil {
				t.Fatal(err)
			}
			if err := cluster.Create(ctx, q.DeepCopy()); err != nil {
				t.Fatal(err)
			}
			continue
		}
		r, err := policy.NewReview(ctx, policy.OperationCreate, o.obj, facts.Static(cfg.Facts))
		if err != nil {
			t.Fatal(err)
		}
		inv, err := src.Inventory(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := engine.Evaluate(ctx, r, inv)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := engine.EvaluateIndexed(ctx, r, ix)
		if err != nil {
			t.Fatal(err)
		}
		sampled += compareFindings(t, o.where, vs, fs)
		for _, obj := range []client.Object{o.obj, r.RenderedObject} {
			if obj == nil {
				continue
			}
			if err := ix.Add(obj); err != nil {
				t.Fatal(err)
			}
			c := obj.DeepCopyObject().(client.Object)
			c.SetResourceVersion("")
			if err := cluster.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	if sampled < policy.SampleSize {
		t.Errorf("%d sampled findings: the crowded targets were not exercised", sampled)
	}
}

// compareFindings checks eval's findings against admission's violations
// for one object and returns how many findings were sampled.
func compareFindings(t *testing.T, where string, vs []policy.Violation, fs []policy.Finding) int {
	t.Helper()
	admission := map[string][]string{}
	for _, v := range vs {
		admission[v.Policy] = append(admission[v.Policy], v.Message)
	}
	sampled := 0
	got, partial := map[string]int{}, map[string]bool{}
	for _, f := range fs {
		if !slices.Contains(admission[f.Policy], f.Message) {
			t.Errorf("%s: eval finds %q, admission does not: %q", where, f.Message, admission[f.Policy])
		}
		got[f.Policy] += 1 + f.More
		if f.Sampled {
			sampled++
			partial[f.Policy] = true
		}
	}
	for p, msgs := range admission {
		if got[p] != len(msgs) && !(partial[p] && got[p] > 0 && got[p] <= len(msgs)) {
			t.Errorf("%s: policy %s: eval's findings stand for %d messages, admission gives %d: %q\n%+v", where, p, got[p], len(msgs), msgs, fs)
		}
	}
	for p := range got {
		if len(admission[p]) == 0 {
			t.Errorf("%s: eval finds %s, admission does not", where, p)
		}
	}
	return sampled
}

// emptyCluster is a fake client with the webhook's target index.
func emptyCluster(t *testing.T) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := kedav1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).
		WithIndex(&autoscalingv2.HorizontalPodAutoscaler{}, inventory.TargetIndex, inventory.HPATarget).
		WithIndex(&kedav1alpha1.ScaledObject{}, inventory.TargetIndex, inventory.ScaledObjectTarget).
		Build()
}

// TestPolicyEvalHelpSample: the help names the sample size the engine uses.
func TestPolicyEvalHelpSample(t *testing.T) {
	if want := fmt.Sprintf("more than %d HPAs", policy.SampleSize); !strings.Contains(policyEvalHelp, want) {
		t.Errorf("policy eval's help does not say %q", want)
	}
}
