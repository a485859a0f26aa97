package policy

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/policy/native"
	"github.com/mlscale/mlscale/internal/workload"
)

// nativeConfigs are the configurations the Go forms are compared under:
// none, and every knob of data.config set.
var nativeConfigs = []Config{
	{},
	{
		AllowedEndpoints:              []string{"*.svc.cluster.local", "*.*.svc", "prometheus.monitoring", "[ab]c.svc", "10.0.0.*", "*.amazonaws.com"},
		GPUBudgets:                    map[string]int64{"ml": 8, "other": 0},
		DefaultGPUBudget:              ptrTo[int64](4),
		ClusterTriggerAuthentications: map[string][]string{"shared": {"ml", "team-*"}, "*": {"other"}},
	},
	{GPUBudgets: map[string]int64{"ml": 3}, ClusterTriggerAuthentications: map[string][]string{"shared": {"*"}}},
}

func ptrTo[T any](v T) *T { return &v }

// compareNative evaluates r with every policy's Go form and with the Rego
// only, and fails when they differ. It returns the violations.
func compareNative(t testing.TB, e *Engine, name string, r Review, inv Inventory) []Violation {
	t.Helper()
	ctx := context.Background()
	got, err := e.Evaluate(ctx, r, inv)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	want, err := e.WithoutNative().Evaluate(ctx, r, inv)
	if err != nil {
		t.Fatalf("%s: Rego: %v", name, err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: the Go forms and the Rego differ\nGo:   %s\nRego: %s\ninput: %s", name, violationList(got), violationList(want), describeInput(r, inv))
	}
	return got
}

func violationList(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "\n  %s: %s", v.Policy, v.Message)
	}
	return b.String()
}

func describeInput(r Review, inv Inventory) string {
	in, err := Input(r, inv)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%v", in)
}

// TestNativeUsed checks that the built-in engine evaluates every policy
// that has a Go form with it, and that a policy or helper package the
// user replaced is evaluated in Rego.
func TestNativeUsed(t *testing.T) {
	e := newEngine(t, Config{})
	want := native.Names()
	slices.Sort(want)
	if got := e.Native(); !slices.Equal(got, want) {
		t.Fatalf("Native() = %v, want %v", got, want)
	}
	if got := e.WithoutNative().Native(); len(got) != 0 {
		t.Fatalf("WithoutNative().Native() = %v", got)
	}
	modules, err := BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for p, m := range modules {
		fsys[p] = &fstest.MapFile{Data: []byte(m.String())}
	}
	fsys["hpa_duplicate_target/policy.rego"] = &fstest.MapFile{Data: []byte("package mlscale.policies.hpa_duplicate_target\nviolation contains \"mine\" if input.kind == \"HorizontalPodAutoscaler\"\n")}
	e2, err := NewFromFS(context.Background(), fsys, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(e2.Native(), "hpa_duplicate_target") {
		t.Fatal("a replaced policy is evaluated with the built-in's Go form")
	}
	h := hpa("web", "web")
	r := mustReview(t)(NewReview(context.Background(), OperationCreate, &h, nil))
	vs, err := e2.Evaluate(context.Background(), r, Inventory{})
	if err != nil || len(vs) != 1 || vs[0].Message != "mine" {
		t.Fatalf("replaced policy: %+v, %v", vs, err)
	}
	fsys["lib/lib.rego"] = &fstest.MapFile{Data: []byte(strings.Replace(string(fsys["lib/lib.rego"].Data), "opt-in)", "opted in)", 1))}
	e3, err := NewFromFS(context.Background(), fsys, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := e3.Native(); len(got) != 0 {
		t.Fatalf("with a replaced mlscale.lib, Native() = %v", got)
	}
}

// TestNativeSameAsRego runs the built-in policies' samples and a few
// thousand generated reviews (conflicting HPAs and ScaledObjects, owner
// references, triggers of every type with credentials, endpoints and
// ClusterTriggerAuthentications, GPU budgets) through the Go forms and the
// Rego, under each of nativeConfigs.
func TestNativeSameAsRego(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	for ci, cfg := range nativeConfigs {
		e := newEngine(t, cfg)
		found := map[string]int{}
		for name, r := range sampleReviews(t) {
			for _, v := range compareNative(t, e, fmt.Sprintf("config %d, %s", ci, name), r, Inventory{}) {
				found[v.Policy]++
			}
		}
		rng := rand.New(rand.NewPCG(uint64(ci), 42))
		for i := range n {
			data := make([]byte, 96)
			for j := range data {
				data[j] = byte(rng.UintN(256))
			}
			r, inv := generatedReview(data)
			for _, v := range compareNative(t, e, fmt.Sprintf("config %d, generated %d", ci, i), r, inv) {
				found[v.Policy]++
			}
		}
		if ci == 1 {
			for _, p := range native.Names() {
				if found[p] == 0 {
					t.Errorf("config %d: no review violates %s: the comparison proves nothing for it", ci, p)
				}
			}
		}
		t.Logf("config %d: violations found per policy: %v", ci, found)
	}
}

// FuzzNativeSameAsRego compares the Go forms with the Rego on reviews
// generated from the fuzzer's bytes (see generatedReview).
func FuzzNativeSameAsRego(f *testing.F) {
	engines := make([]*Engine, len(nativeConfigs))
	for i, cfg := range nativeConfigs {
		engines[i] = newEngine(f, cfg)
	}
	f.Add([]byte{0}, "")
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "amqp://u:p@host:5672/")
	f.Add([]byte{1, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "https://h/?tok%65n=1,https://u@h")
	f.Fuzz(func(t *testing.T, data []byte, s string) {
		r, inv := generatedReview(append(data, []byte(s)...))
		if len(data) > 0 && s != "" {
			addRawValue(&r, s)
		}
		e := engines[len(data)%len(engines)]
		compareNative(t, e, "fuzz", r, inv)
	})
}

// addRawValue puts s into the first trigger's metadata under a key the
// bytes did not choose, so that the fuzzer's strings reach the metadata
// parsers.
func addRawValue(r *Review, s string) {
	for _, obj := range []client.Object{r.TypedObject, r.RenderedObject} {
		var ts []kedav1alpha1.ScaleTriggers
		switch o := obj.(type) {
		case *kedav1alpha1.ScaledObject:
			ts = o.Spec.Triggers
		case *kedav1alpha1.ScaledJob:
			ts = o.Spec.Triggers
		}
		if len(ts) == 0 {
			continue
		}
		if ts[0].Metadata == nil {
			ts[0].Metadata = map[string]string{}
		}
		for _, k := range fuzzMetadataKeys {
			if _, ok := ts[0].Metadata[k]; !ok {
				ts[0].Metadata[k] = s
				break
			}
		}
	}
	refreshData(r)
}

// byteGen picks choices from fuzz bytes; past the end it picks 0.
type byteGen struct {
	b []byte
	i int
	// ref is the last scale target reference made: half of the next ones
	// repeat it, so that generated objects conflict often.
	ref *[3]string
}

// targetRef returns a scale target's name, kind and apiVersion.
func (g *byteGen) targetRef() (name, kind, api string) {
	if g.ref != nil && g.pick(2) == 0 {
		return g.ref[0], g.ref[1], g.ref[2]
	}
	g.ref = &[3]string{g.of(fuzzNames), g.of(fuzzKinds), g.of(fuzzAPIs)}
	return g.ref[0], g.ref[1], g.ref[2]
}

func (g *byteGen) pick(n int) int {
	if n <= 1 {
		return 0
	}
	if g.i >= len(g.b) {
		return 0
	}
	v := int(g.b[g.i])
	g.i++
	if n > 256 && g.i < len(g.b) {
		// Two bytes, so that every entry of a long list is reachable.
		v = v<<8 | int(g.b[g.i])
		g.i++
	}
	return v % n
}

func (g *byteGen) of(list []string) string { return list[g.pick(len(list))] }

// Dictionaries the generator draws from. The trigger ones are extended by
// the test files of each policy's Go form (init functions append to them).
var (
	fuzzNames      = []string{"web", "worker", "", "keda-hpa-web", "llm", "a/b", "web"}
	fuzzNamespaces = []string{"ml", "other", "", "team-a"}
	fuzzKinds      = []string{"", "Deployment", "StatefulSet", "Job", "ReplicaSet", "Rollout"}
	fuzzAPIs       = []string{"", "apps/v1", "batch/v1", "v1", "argoproj.io/v1alpha1", "apps"}
	// fuzzTriggerTypes, fuzzMetadataKeys and fuzzMetadataValues are the
	// trigger types, metadata keys and values generated triggers use.
	fuzzTriggerTypes   = []string{"cpu", "memory", "prometheus", "rabbitmq", "", "cron", "external"}
	fuzzMetadataKeys   = []string{"host", "serverAddress", "url", "query", "queueName", "value", "password", "token", "customHeaders", "queryParameters", "connectionString"}
	fuzzMetadataValues = []string{
		"", "amqp://guest:s3cret@rabbitmq.ml:5672/", "amqp://rabbitmq.ml.svc.cluster.local:5672/",
		"http://prometheus.monitoring:9090", "https://user@api.example.com/x", "https://a.b/x?token=abc&x=1",
		"X-Api-Key=abc,Accept=json", "a=1", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=k",
		"-----BEGIN RSA PRIVATE KEY-----", "sum(rate(x[1m]))", "80", "10.0.0.5:9092", "[::1]:8080",
	}
)

// generatedReview builds a review and an inventory from data: the kind
// under review (HPA, ScaledObject, ScaledJob, or an opted-in Deployment or
// Job with a rendered ScaledObject or ScaledJob), names, scale target
// references, owner references, triggers from the dictionaries above,
// replica bounds, GPUs, and 0-3 HPAs, ScaledObjects and GPU quotas.
func generatedReview(data []byte) (Review, Inventory) {
	g := &byteGen{b: data}
	ns := g.of(fuzzNamespaces)
	reqNS := ns
	if g.pick(4) == 0 {
		reqNS = g.of(fuzzNamespaces)
	}
	var obj, rendered client.Object
	switch g.pick(6) {
	case 0:
		h := genHPA(g, ns)
		obj = &h
	case 1, 2:
		so := genScaledObject(g, ns)
		obj = &so
	case 3:
		sj := genScaledJob(g, ns)
		obj = &sj
	case 4:
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: g.of(fuzzNames), Namespace: ns}}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c"}}
		obj = d
		so := genScaledObject(g, ns)
		rendered = &so
	default:
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: g.of(fuzzNames), Namespace: ns}}
		obj = j
		sj := genScaledJob(g, ns)
		rendered = &sj
	}
	kind := kindOfObject(obj)
	op := []string{OperationCreate, OperationUpdate}[g.pick(2)]
	r := Review{Kind: kind, Operation: op, Namespace: reqNS, TypedObject: obj, RenderedObject: rendered}
	// GPUs per pod past 2^63 / replicas: Rego's products are exact.
	r.GPUsPerPod = []int64{0, 1, 2, 3, 4, 1 << 40, math.MaxInt64}[g.pick(7)]
	r.PodsPerReplica = int64(g.pick(8))
	refreshData(&r)
	var inv Inventory
	for range g.pick(4) {
		inv.HPAs = append(inv.HPAs, genHPA(g, ns))
	}
	for range g.pick(4) {
		inv.ScaledObjects = append(inv.ScaledObjects, genScaledObject(g, ns))
	}
	for range g.pick(3) {
		inv.ResourceQuotas = append(inv.ResourceQuotas, genQuota(g, ns))
	}
	if g.pick(3) == 0 {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse(fmt.Sprint(1 + g.pick(4)))},
		}}}
		if w, err := workload.FromObject(d); err == nil {
			inv.Target = &w
		}
	}
	return r, inv
}

// refreshData sets r's JSON-like Object and Rendered from its typed
// objects, as NewReview does.
func refreshData(r *Review) {
	gvk, err := reviewedGVK(r.TypedObject)
	if err != nil {
		panic(err)
	}
	if r.Object, err = toData(r.TypedObject, gvk); err != nil {
		panic(err)
	}
	if r.RenderedObject != nil {
		rgvk, err := reviewedGVK(r.RenderedObject)
		if err != nil {
			panic(err)
		}
		if r.Rendered, err = toData(r.RenderedObject, rgvk); err != nil {
			panic(err)
		}
	}
}

func kindOfObject(obj client.Object) string {
	gvk, err := reviewedGVK(obj)
	if err != nil {
		panic(err)
	}
	return gvk.Kind
}

func genHPA(g *byteGen, ns string) autoscalingv2.HorizontalPodAutoscaler {
	h := autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: g.of(fuzzNames), Namespace: ns}}
	name, kind, api := g.targetRef()
	h.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{Name: name, Kind: kind, APIVersion: api}
	h.Spec.MaxReplicas = 10
	switch g.pick(4) {
	case 0:
		h.OwnerReferences = []metav1.OwnerReference{{APIVersion: "keda.sh/v1alpha1", Kind: "ScaledObject", Name: g.of(fuzzNames)}}
	case 1:
		h.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ScaledObject", Name: g.of(fuzzNames)}}
	}
	return h
}

func genScaledObject(g *byteGen, ns string) kedav1alpha1.ScaledObject {
	so := kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Name: g.of(fuzzNames), Namespace: ns}}
	if g.pick(8) != 0 {
		name, kind, api := g.targetRef()
		so.Spec.ScaleTargetRef = &kedav1alpha1.ScaleTarget{Name: name, Kind: kind, APIVersion: api}
	}
	so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount = genReplicas(g)
	if g.pick(3) == 0 {
		so.Spec.Advanced = &kedav1alpha1.AdvancedConfig{HorizontalPodAutoscalerConfig: &kedav1alpha1.HorizontalPodAutoscalerConfig{Name: g.of(fuzzNames)}}
		if g.pick(2) == 0 {
			so.Annotations = map[string]string{"scaledobject.keda.sh/transfer-hpa-ownership": []string{"true", "false"}[g.pick(2)]}
		}
	}
	so.Spec.Triggers = genTriggers(g)
	return so
}

func genScaledJob(g *byteGen, ns string) kedav1alpha1.ScaledJob {
	sj := kedav1alpha1.ScaledJob{ObjectMeta: metav1.ObjectMeta{Name: g.of(fuzzNames), Namespace: ns}}
	if g.pick(6) != 0 {
		sj.Spec.JobTargetRef = &batchv1.JobSpec{}
		if g.pick(3) == 0 {
			sj.Spec.JobTargetRef.Template.Namespace = g.of(fuzzNamespaces)
		}
	}
	sj.Spec.MinReplicaCount, sj.Spec.MaxReplicaCount = genReplicas(g)
	sj.Spec.Triggers = genTriggers(g)
	return sj
}

func genReplicas(g *byteGen) (minR, maxR *int32) {
	values := []int32{0, 1, 2, 3, 5, 8, 100, 1000}
	if g.pick(3) != 0 {
		minR = ptrTo(values[g.pick(len(values))])
	}
	if g.pick(4) != 0 {
		maxR = ptrTo(values[g.pick(len(values))])
	}
	return minR, maxR
}

func genTriggers(g *byteGen) []kedav1alpha1.ScaleTriggers {
	n := g.pick(4)
	if n == 0 {
		return nil
	}
	out := make([]kedav1alpha1.ScaleTriggers, n)
	for i := range out {
		t := kedav1alpha1.ScaleTriggers{Type: g.of(fuzzTriggerTypes), Name: []string{"", "queue", "q2"}[g.pick(3)]}
		if m := g.pick(5); m > 0 {
			t.Metadata = map[string]string{}
			for range m {
				t.Metadata[g.of(fuzzMetadataKeys)] = g.of(fuzzMetadataValues)
			}
		}
		switch g.pick(5) {
		case 1:
			t.AuthenticationRef = &kedav1alpha1.AuthenticationRef{Name: "auth"}
		case 2:
			t.AuthenticationRef = &kedav1alpha1.AuthenticationRef{Name: []string{"shared", "other", ""}[g.pick(3)], Kind: "ClusterTriggerAuthentication"}
		case 3:
			t.AuthenticationRef = &kedav1alpha1.AuthenticationRef{Name: "auth", Kind: "TriggerAuthentication"}
		}
		out[i] = t
	}
	return out
}

func genQuota(g *byteGen, ns string) corev1.ResourceQuota {
	q := corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: []string{"gpus", "compute"}[g.pick(2)], Namespace: ns}}
	keys := []string{"requests.nvidia.com/gpu", "nvidia.com/gpu", "requests.amd.com/gpu", "requests.cpu", "limits.nvidia.com/gpu", "requests.nvidia.com/mig-1g.10gb"}
	values := []string{"8", "0", "3", "500m", "1k", "2.5", "16", "1Ki"}
	q.Spec.Hard = corev1.ResourceList{}
	for range 1 + g.pick(2) {
		q.Spec.Hard[corev1.ResourceName(g.of(keys))] = resource.MustParse(g.of(values))
	}
	return q
}
