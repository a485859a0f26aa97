package render_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/test/crdschema"
)

const (
	samplesDir   = "../../config/samples"
	goldenDir    = "testdata/golden"
	samplesNS    = "ml-demo"
	updateGolden = "UPDATE_GOLDEN"
)

// sampleDoc is one YAML document of a file in config/samples.
type sampleDoc struct {
	file string // base name, e.g. 10-celery-worker.yaml
	gvk  schema.GroupVersionKind
	json []byte
}

func readSamples(t *testing.T) []sampleDoc {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in %s: %v", samplesDir, err)
	}
	var docs []sampleDoc
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			j, err := yaml.YAMLToJSON(doc)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(j, &tm); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			docs = append(docs, sampleDoc{file: filepath.Base(f), gvk: tm.GroupVersionKind(), json: j})
		}
	}
	return docs
}

func stripComments(doc []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(append(out, line...), '\n')
		}
	}
	return out
}

// TestSamplesAreValidObjects checks that config/samples holds objects that
// `kubectl apply -f config/samples/` accepts: known kinds decoded strictly
// (no unknown or misspelt fields), KEDA objects valid against KEDA's CRDs,
// everything but the Namespace in ml-demo, selectors that match their pod
// templates.
func TestSamplesAreValidObjects(t *testing.T) {
	set, err := crdschema.KEDA()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range readSamples(t) {
		var obj any
		switch d.gvk {
		case corev1.SchemeGroupVersion.WithKind("Namespace"):
			obj = &corev1.Namespace{}
		case corev1.SchemeGroupVersion.WithKind("Secret"):
			obj = &corev1.Secret{}
		case corev1.SchemeGroupVersion.WithKind("Service"):
			obj = &corev1.Service{}
		case workload.DeploymentGVK:
			obj = &appsv1.Deployment{}
		case workload.StatefulSetGVK:
			obj = &appsv1.StatefulSet{}
		case workload.JobGVK:
			obj = &batchv1.Job{}
		case schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "TriggerAuthentication"}:
			var m map[string]any
			if err := yaml.Unmarshal(d.json, &m); err != nil {
				t.Fatal(err)
			}
			if errs := set.Validate(m); len(errs) > 0 {
				t.Errorf("%s: TriggerAuthentication: %v", d.file, errs.ToAggregate())
			}
			obj = &metav1.PartialObjectMetadata{}
		default:
			t.Errorf("%s: unexpected kind %s in the samples", d.file, d.gvk)
			continue
		}
		decode := yaml.UnmarshalStrict
		if d.gvk.Group == "keda.sh" {
			decode = yaml.Unmarshal // metadata only; the CRD schema checked the rest
		}
		if err := decode(d.json, obj); err != nil {
			t.Errorf("%s: %s: %v", d.file, d.gvk.Kind, err)
			continue
		}
		meta := objectMeta(obj)
		key := d.gvk.Kind + "/" + meta.Name
		if seen[key] {
			t.Errorf("%s: %s appears twice in the samples", d.file, key)
		}
		seen[key] = true
		switch {
		case d.gvk.Kind == "Namespace":
			if meta.Name != samplesNS || meta.Labels["mlscale.io/enabled"] != "true" {
				t.Errorf("%s: want Namespace %s labelled mlscale.io/enabled=true", d.file, samplesNS)
			}
		case meta.Namespace != samplesNS:
			t.Errorf("%s: %s is in namespace %q, want %q", d.file, key, meta.Namespace, samplesNS)
		}
		checkSelector(t, d.file, obj)
	}
	for _, k := range []string{"Namespace/" + samplesNS, "TriggerAuthentication/rabbitmq-auth", "Secret/rabbitmq-credentials"} {
		if !seen[k] {
			t.Errorf("samples lack %s", k)
		}
	}
}

func objectMeta(obj any) metav1.ObjectMeta {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return o.ObjectMeta
	case *corev1.Secret:
		return o.ObjectMeta
	case *corev1.Service:
		return o.ObjectMeta
	case *appsv1.Deployment:
		return o.ObjectMeta
	case *appsv1.StatefulSet:
		return o.ObjectMeta
	case *batchv1.Job:
		return o.ObjectMeta
	case *metav1.PartialObjectMetadata:
		return o.ObjectMeta
	}
	panic(fmt.Sprintf("no metadata for %T", obj))
}

func checkSelector(t *testing.T, file string, obj any) {
	t.Helper()
	var sel *metav1.LabelSelector
	var tpl map[string]string
	switch o := obj.(type) {
	case *appsv1.Deployment:
		sel, tpl = o.Spec.Selector, o.Spec.Template.Labels
	case *appsv1.StatefulSet:
		sel, tpl = o.Spec.Selector, o.Spec.Template.Labels
	default:
		return
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || sel == nil || s.Empty() || !s.Matches(labels.Set(tpl)) {
		t.Errorf("%s: selector %v does not match the pod template labels %v", file, sel, tpl)
	}
}

// TestGolden renders every annotated workload in config/samples with
// render.DefaultFacts and compares the result with its golden file under
// testdata/golden. UPDATE_GOLDEN=1 rewrites the golden files.
func TestGolden(t *testing.T) {
	update := os.Getenv(updateGolden) != ""
	written := map[string]bool{}
	kinds := map[string]bool{}
	for _, d := range readSamples(t) {
		if k, ok := workload.KindOf(d.gvk.GroupKind()); !ok || k.GVK != d.gvk {
			continue
		}
		w, _, err := workload.Decode(d.gvk, d.json)
		if err != nil {
			t.Fatalf("%s: %v", d.file, err)
		}
		name := fmt.Sprintf("%s-%s-%s.yaml", strings.TrimSuffix(d.file, ".yaml"), strings.ToLower(d.gvk.Kind), w.Name)
		t.Run(name, func(t *testing.T) {
			res, err := render.Workload(w, facts.Default())
			if errors.Is(err, render.ErrNotEnabled) {
				if len(res.Warnings) > 0 {
					t.Errorf("unannotated workload got warnings %q", res.Warnings)
				}
				return
			}
			if err != nil {
				t.Fatalf("render: %s", render.Message(w, err))
			}
			validateKEDA(t, res.Object)
			kinds[string(res.Profile)] = true
			got := goldenText(t, d, w, res)
			path := filepath.Join(goldenDir, name)
			written[name] = true
			if update {
				if err := os.MkdirAll(goldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run %s=1 go test ./internal/render to create it)", err, updateGolden)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("rendered %s differs from %s (run %s=1 go test ./internal/render and review the diff):\n%s",
					w.Name, path, updateGolden, lineDiff(string(want), string(got)))
			}
		})
	}
	for _, p := range []string{"generic", "celery-worker", "vllm", "training-job"} {
		if !kinds[p] {
			t.Errorf("no sample renders with profile %q", p)
		}
	}
	existing, _ := filepath.Glob(filepath.Join(goldenDir, "*.yaml"))
	for _, f := range existing {
		if base := filepath.Base(f); !written[base] {
			if update {
				_ = os.Remove(f)
				continue
			}
			t.Errorf("stale golden file %s: no sample renders to it (run %s=1 to remove it)", f, updateGolden)
		}
	}
}

func goldenText(t *testing.T, d sampleDoc, w workload.Workload, res render.Result) []byte {
	t.Helper()
	u, err := render.ToUnstructured(res.Object)
	if err != nil {
		t.Fatal(err)
	}
	body, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Rendered from config/samples/%s (%s %s/%s) with facts.Default().\n", d.file, w.GVK.Kind, w.Namespace, w.Name)
	fmt.Fprintf(&b, "# Regenerate with %s=1 go test ./internal/render and review the diff.\n", updateGolden)
	warnings := slices.Clone(res.Warnings)
	for _, warn := range warnings {
		fmt.Fprintf(&b, "# warning: %s\n", warn)
	}
	for _, n := range res.Needs {
		fmt.Fprintf(&b, "# %s\n", n)
	}
	b.Write(body)
	return b.Bytes()
}

// lineDiff shows the lines that differ, with their line numbers.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "%4d - %s\n%4d + %s\n", i+1, w, i+1, g)
		}
	}
	return b.String()
}
