package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/test/kubetest"
)

const samplesNamespace = "ml-demo"

// golden is one golden file of internal/render: the KEDA object rendered
// offline for a sample workload.
type golden struct {
	file string
	obj  *unstructured.Unstructured
}

func readGolden(t *testing.T) []golden {
	t.Helper()
	files, err := filepath.Glob(path("internal", "render", "testdata", "golden", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files in internal/render/testdata/golden: %v", err)
	}
	var out []golden
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, golden{file: filepath.Base(f), obj: &unstructured.Unstructured{Object: m}})
	}
	return out
}

// getKEDA reads a live ScaledObject or ScaledJob as unstructured.
func getKEDA(ctx context.Context, kind, namespace, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: kind})
	err := suite.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u)
	return u, err
}

// TestSamples applies config/samples with kubectl and checks that every
// annotated workload gets the KEDA object of its golden file, owned by the
// workload, and that the training Job was suspended by admission.
func TestSamples(t *testing.T) {
	env(t)
	ctx := context.Background()
	out := mustKubectl(t, "", "apply", "-f", path("config", "samples")+"/")
	t.Logf("kubectl apply -f config/samples/:\n%s", out)
	t.Cleanup(func() { kubectl(t, "", "delete", "namespace", samplesNamespace, "--wait=false") })

	goldens := readGolden(t)
	for _, g := range goldens {
		if g.obj.GetNamespace() != samplesNamespace {
			t.Fatalf("%s: namespace %q, want %q", g.file, g.obj.GetNamespace(), samplesNamespace)
		}
	}
	for _, g := range goldens {
		kind, name := g.obj.GetKind(), g.obj.GetName()
		var live *unstructured.Unstructured
		kubetest.Eventually(t, time.Minute, fmt.Sprintf("%s %s from %s", kind, name, g.file), func() error {
			var err error
			live, err = getKEDA(ctx, kind, samplesNamespace, name)
			return err
		})
		t.Run(g.file, func(t *testing.T) {
			compareSpec(t, g, live)
			wlKind := live.GetLabels()["mlscale.io/workload-kind"]
			refs := live.GetOwnerReferences()
			if len(refs) != 1 || refs[0].Kind != wlKind || refs[0].Name != name || refs[0].Controller == nil || !*refs[0].Controller {
				t.Errorf("ownerReferences %+v, want the %s %s as controller", refs, wlKind, name)
			}
			if mgr := fieldManagers(live); !slices.Contains(mgr, "mlscale") {
				t.Errorf("field managers %v lack mlscale (server-side apply)", mgr)
			}
		})
	}

	// The training Job: suspended by the webhook, with the rendered hash.
	var jobs batchv1.JobList
	if err := suite.client.List(ctx, &jobs, client.InNamespace(samplesNamespace)); err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) == 0 {
		t.Fatal("no Job in the samples")
	}
	for _, j := range jobs.Items {
		if j.Annotations[intent.KeyAutoscale] != "true" {
			continue
		}
		if j.Spec.Suspend == nil || !*j.Spec.Suspend {
			t.Errorf("Job %s: spec.suspend = %v, want true (set by the mutating webhook)", j.Name, j.Spec.Suspend)
		}
		if j.Annotations[intent.KeyRenderedHash] == "" {
			t.Errorf("Job %s lacks the %s annotation", j.Name, intent.KeyRenderedHash)
		}
	}

	// Every annotated Deployment carries the hash; unannotated ones get no
	// KEDA object.
	var deps appsv1.DeploymentList
	if err := suite.client.List(ctx, &deps, client.InNamespace(samplesNamespace)); err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		optedIn := d.Annotations[intent.KeyAutoscale] == "true"
		if optedIn && d.Annotations[intent.KeyRenderedHash] == "" {
			t.Errorf("Deployment %s lacks the %s annotation", d.Name, intent.KeyRenderedHash)
		}
		if !optedIn {
			if _, err := getKEDA(ctx, "ScaledObject", samplesNamespace, d.Name); !apierrors.IsNotFound(err) {
				t.Errorf("unannotated Deployment %s: ScaledObject lookup gave %v, want NotFound", d.Name, err)
			}
		}
	}
	var all kedav1alpha1.ScaledObjectList
	if err := suite.client.List(ctx, &all, client.InNamespace(samplesNamespace)); err != nil {
		t.Fatal(err)
	}
	var sjs kedav1alpha1.ScaledJobList
	if err := suite.client.List(ctx, &sjs, client.InNamespace(samplesNamespace)); err != nil {
		t.Fatal(err)
	}
	if n := len(all.Items) + len(sjs.Items); n != len(goldens) {
		t.Errorf("%d KEDA objects in %s, want one per golden file (%d)", n, samplesNamespace, len(goldens))
	}
}

func fieldManagers(u *unstructured.Unstructured) []string {
	var out []string
	for _, m := range u.GetManagedFields() {
		out = append(out, m.Manager)
	}
	return out
}

// compareSpec compares the live object's spec with the golden one. They
// must be equal, except that under spec.jobTargetRef the live object may
// carry fields the API server defaulted on the Job (backoffLimit,
// terminationMessagePath, ...): the reconciler renders from the stored Job,
// the golden file from the manifest.
func compareSpec(t *testing.T, g golden, live *unstructured.Unstructured) {
	t.Helper()
	want, _, _ := unstructured.NestedMap(g.obj.Object, "spec")
	got, _, _ := unstructured.NestedMap(live.Object, "spec")
	var diffs []string
	compareValue(&diffs, "spec", want, got, false)
	sort.Strings(diffs)
	for _, d := range diffs {
		t.Errorf("%s %s differs from %s: %s", live.GetKind(), live.GetName(), g.file, d)
	}
	for _, k := range []string{"app.kubernetes.io/managed-by", "mlscale.io/workload-kind", "mlscale.io/workload-name"} {
		if live.GetLabels()[k] != g.obj.GetLabels()[k] {
			t.Errorf("label %s = %q, want %q", k, live.GetLabels()[k], g.obj.GetLabels()[k])
		}
	}
}

func compareValue(diffs *[]string, at string, want, got any, extrasOK bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %v, want an object", at, got))
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: missing, want %v", at, k, wv))
				continue
			}
			compareValue(diffs, at+"."+k, wv, gv, extrasOK || at+"."+k == "spec.jobTargetRef")
		}
		if !extrasOK {
			for k, gv := range g {
				if _, ok := w[k]; !ok && at+"."+k != "spec.jobTargetRef" {
					*diffs = append(*diffs, fmt.Sprintf("%s.%s: unexpected %v", at, k, gv))
				}
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %v, want %v", at, got, want))
			return
		}
		for i := range w {
			compareValue(diffs, fmt.Sprintf("%s[%d]", at, i), w[i], g[i], extrasOK)
		}
	default:
		if !reflect.DeepEqual(normalise(want), normalise(got)) {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %v, want %v", at, got, want))
		}
	}
}

// normalise makes numbers from YAML (float64 or int64) comparable with
// numbers from the API server (int64).
func normalise(v any) any {
	switch n := v.(type) {
	case float64:
		if n == float64(int64(n)) {
			return int64(n)
		}
	case int:
		return int64(n)
	case int32:
		return int64(n)
	}
	return v
}

// TestBadAnnotation: kubectl apply of a workload with a bad annotation
// fails, stderr names the annotation, and nothing is created.
func TestBadAnnotation(t *testing.T) {
	env(t)
	ns := namespace(t, "e2e-bad")
	manifest := deployment(ns, "bad", map[string]string{intent.KeyAutoscale: "true", intent.KeyMaxReplicas: "lots"})
	r := kubectl(t, manifest, "apply", "-f", "-")
	if r.err == nil {
		t.Fatalf("kubectl apply of max-replicas \"lots\" succeeded:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, intent.KeyMaxReplicas) {
		t.Errorf("stderr does not name %s:\n%s", intent.KeyMaxReplicas, r.stderr)
	}
	t.Logf("kubectl apply stderr: %s", r.stderr)
	var d appsv1.Deployment
	if err := suite.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "bad"}, &d); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment lookup after the denial: %v, want NotFound", err)
	}
}

// TestNamespaceOptIn: the webhook configurations carry config/default's
// namespace selectors, so admission leaves out namespaces without the
// mlscale.io/enabled label and kube-system: the same bad annotation that is
// refused in an opted-in namespace is admitted there (the reconciler then
// reports it on the workload instead).
func TestNamespaceOptIn(t *testing.T) {
	env(t)
	bad := map[string]string{intent.KeyAutoscale: "true", intent.KeyMaxReplicas: "lots"}
	unlabelled := kubetest.Namespace(t, suite.client, "e2e-no-optin", nil)
	for _, ns := range []string{unlabelled, "kube-system"} {
		r := kubectl(t, deployment(ns, "bad-outside", bad), "apply", "--dry-run=server", "-f", "-")
		if r.err != nil {
			t.Errorf("in namespace %s, a bad annotation was refused at admission; want it left to the reconciler: %v\n%s", ns, r.err, r.stderr)
		}
	}
	r := kubectl(t, deployment(namespace(t, "e2e-optin"), "bad-inside", bad), "apply", "--dry-run=server", "-f", "-")
	if r.err == nil || !strings.Contains(r.stderr, intent.KeyMaxReplicas) {
		t.Errorf("in an opted-in namespace the bad annotation was not refused naming %s: %v\n%s", intent.KeyMaxReplicas, r.err, r.stderr)
	}
}

// TestDryRun: `kubectl apply --dry-run=server` gets the webhook's answer
// (a denial for bad annotations) and creates nothing.
func TestDryRun(t *testing.T) {
	env(t)
	ctx := context.Background()
	ns := namespace(t, "e2e-dry-run")
	good := deployment(ns, "dry", map[string]string{intent.KeyAutoscale: "true", intent.KeyCPUTarget: "70"})
	out := mustKubectl(t, good, "apply", "--dry-run=server", "-f", "-", "-o", "yaml")
	if !strings.Contains(out, intent.KeyRenderedHash) {
		t.Errorf("the dry-run answer lacks the webhook's %s annotation:\n%s", intent.KeyRenderedHash, out)
	}
	bad := deployment(ns, "dry-bad", map[string]string{intent.KeyAutoscale: "true", intent.KeyCPUTarget: "seventy"})
	if r := kubectl(t, bad, "apply", "--dry-run=server", "-f", "-"); r.err == nil || !strings.Contains(r.stderr, intent.KeyCPUTarget) {
		t.Errorf("dry-run of a bad annotation: err %v, stderr %q; want a denial naming %s", r.err, r.stderr, intent.KeyCPUTarget)
	}

	// A barrier instead of a sleep: a real workload applied after the dry
	// run gets its ScaledObject; by then the reconciler has seen whatever
	// the dry run might have caused.
	mustKubectl(t, deployment(ns, "barrier", map[string]string{intent.KeyAutoscale: "true"}), "apply", "-f", "-")
	kubetest.Eventually(t, time.Minute, "ScaledObject barrier", func() error {
		_, err := getKEDA(ctx, "ScaledObject", ns, "barrier")
		return err
	})
	var d appsv1.Deployment
	if err := suite.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dry"}, &d); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment after a dry run: %v, want NotFound", err)
	}
	if _, err := getKEDA(ctx, "ScaledObject", ns, "dry"); !apierrors.IsNotFound(err) {
		t.Errorf("ScaledObject after a dry run: %v, want NotFound", err)
	}
}

// TestAnnotationChanges: a changed annotation updates the ScaledObject;
// removing the opt-in deletes it.
func TestAnnotationChanges(t *testing.T) {
	env(t)
	ctx := context.Background()
	ns := namespace(t, "e2e-changes")
	mustKubectl(t, deployment(ns, "api", map[string]string{intent.KeyAutoscale: "true", intent.KeyMaxReplicas: "5"}), "apply", "-f", "-")
	maxIs := func(want int64) func() error {
		return func() error {
			so, err := getKEDA(ctx, "ScaledObject", ns, "api")
			if err != nil {
				return err
			}
			got, _, _ := unstructured.NestedInt64(so.Object, "spec", "maxReplicaCount")
			if got != want {
				return fmt.Errorf("maxReplicaCount %d, want %d", got, want)
			}
			return nil
		}
	}
	kubetest.Eventually(t, time.Minute, "ScaledObject with max 5", maxIs(5))

	mustKubectl(t, "", "annotate", "-n", ns, "deployment/api", "--overwrite", intent.KeyMaxReplicas+"=9")
	kubetest.Eventually(t, time.Minute, "ScaledObject updated to max 9", maxIs(9))

	r := kubectl(t, "", "annotate", "-n", ns, "deployment/api", "--overwrite", intent.KeyMaxReplicas+"=-3")
	if r.err == nil || !strings.Contains(r.stderr, intent.KeyMaxReplicas) {
		t.Errorf("annotating max-replicas=-3: err %v, stderr %q; want a denial naming the annotation", r.err, r.stderr)
	}

	mustKubectl(t, "", "annotate", "-n", ns, "deployment/api", intent.KeyAutoscale+"-")
	kubetest.Eventually(t, time.Minute, "ScaledObject deleted after the opt-in was removed", func() error {
		_, err := getKEDA(ctx, "ScaledObject", ns, "api")
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			return fmt.Errorf("still there")
		}
		return err
	})
}

// TestWebhookOutage stops mlscale, applies workloads (the mutating webhook
// fails open), starts mlscale again and checks that the reconciler creates
// every KEDA object.
func TestWebhookOutage(t *testing.T) {
	env(t)
	ctx := context.Background()
	ns := namespace(t, "e2e-outage")
	if err := stopMlscale(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			if err := startMlscale(); err != nil {
				t.Errorf("restarting mlscale: %v", err)
			}
		}
	})

	var manifests []string
	names := []string{"outage-a", "outage-b", "outage-c"}
	for _, n := range names {
		manifests = append(manifests, deployment(ns, n, map[string]string{intent.KeyAutoscale: "true", intent.KeyMaxReplicas: "3"}))
	}
	manifests = append(manifests, trainingJob(ns, "outage-train"))
	out := mustKubectl(t, strings.Join(manifests, "---\n"), "apply", "-f", "-")
	t.Logf("applied while mlscale was down:\n%s", out)

	// Admitted unmutated: no hash annotation, the Job not suspended.
	var d appsv1.Deployment
	if err := suite.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: names[0]}, &d); err != nil {
		t.Fatal(err)
	}
	if h := d.Annotations[intent.KeyRenderedHash]; h != "" {
		t.Errorf("Deployment admitted with %s=%q while the webhook was down", intent.KeyRenderedHash, h)
	}

	if err := startMlscale(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	for _, n := range names {
		kubetest.Eventually(t, time.Minute, "ScaledObject "+n+" after the outage", func() error {
			_, err := getKEDA(ctx, "ScaledObject", ns, n)
			return err
		})
	}
	kubetest.Eventually(t, time.Minute, "ScaledJob outage-train after the outage", func() error {
		_, err := getKEDA(ctx, kedaKind("Job"), ns, "outage-train")
		return err
	})
}

func trainingJob(namespace, name string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %[1]s
  namespace: %[2]s
  annotations:
    mlscale.io/autoscale: "true"
    mlscale.io/profile: training-job
    mlscale.io/rabbitmq-queue: train
    mlscale.io/rabbitmq-auth: rabbitmq-auth
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: train
          image: registry.example/train:1
`, name, namespace)
}

// TestRunningJobOptInRefused: opting in a Job that runs (its status, as the
// Job controller would set it, written through the status subresource)
// would suspend it and stop its pods: refused, by kubectl annotate and by
// kubectl replace of a manifest that carries no status. A Job that has
// not started opts in and is suspended.
func TestRunningJobOptInRefused(t *testing.T) {
	env(t)
	ns := namespace(t, "e2e-running-job")
	// The training Job without its annotations: a plain Job.
	manifest := func(name string, annotations bool) string {
		m := trainingJob(ns, name)
		if annotations {
			return m
		}
		var keep []string
		for _, l := range strings.Split(m, "\n") {
			if !strings.Contains(l, "annotations:") && !strings.Contains(l, "mlscale.io/") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	mustKubectl(t, manifest("train", false), "apply", "-f", "-")
	mustKubectl(t, "", "patch", "job", "train", "-n", ns, "--subresource=status", "--type=merge",
		"-p", `{"status":{"startTime":"2026-12-04T10:00:00Z","active":1}}`)
	r := kubectl(t, "", "annotate", "job", "train", "-n", ns, "mlscale.io/autoscale=true", "mlscale.io/rabbitmq-queue=train", "mlscale.io/rabbitmq-auth=rabbitmq-auth")
	if r.err == nil || !strings.Contains(r.stderr, "the Job is running (started 2026-12-04T10:00:00Z, 1 active pod(s))") {
		t.Errorf("kubectl annotate of a running Job: %v\nstderr: %s", r.err, r.stderr)
	}
	r = kubectl(t, manifest("train", true), "replace", "-f", "-")
	if r.err == nil || !strings.Contains(r.stderr, "the Job is running") {
		t.Errorf("kubectl replace of a running Job with the opt-in: %v\nstderr: %s", r.err, r.stderr)
	}
	var j batchv1.Job
	if err := suite.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "train"}, &j); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(j.Spec.Suspend, false) || j.Annotations[intent.KeyAutoscale] != "" {
		t.Errorf("the running Job was changed: suspend %v, annotations %v", j.Spec.Suspend, j.Annotations)
	}
	mustKubectl(t, manifest("fresh", true), "apply", "-f", "-")
	if err := suite.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "fresh"}, &j); err != nil {
		t.Fatal(err)
	}
	if !ptr.Deref(j.Spec.Suspend, false) {
		t.Error("a Job that had not started was not suspended by the opt-in")
	}
}
