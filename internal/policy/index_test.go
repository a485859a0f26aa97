package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// indexOf is an Index of the objects.
func indexOf(t testing.TB, inv Inventory) *Index {
	t.Helper()
	ix := NewIndex()
	for i := range inv.HPAs {
		if err := ix.Add(&inv.HPAs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range inv.ScaledObjects {
		if err := ix.Add(&inv.ScaledObjects[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range inv.ResourceQuotas {
		if err := ix.Add(&inv.ResourceQuotas[i]); err != nil {
			t.Fatal(err)
		}
	}
	return ix
}

// expand lists the messages findings stand for that they name: each
// finding's own, More times "+".
func expand(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Policy+": "+f.Message)
		for range f.More {
			out = append(out, f.Policy+": +")
		}
	}
	return out
}

// TestEvaluateIndexedMatchesEvaluate: on a target that is not crowded, the
// findings are Evaluate's violations with the inventory of the review's
// target, conflicts with several objects on one target summed up.
func TestEvaluateIndexedMatchesEvaluate(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Config{})
	onWeb := Inventory{
		HPAs:          []autoscalingv2.HorizontalPodAutoscaler{hpa("a", "web"), hpa("b", "web")},
		ScaledObjects: []kedav1alpha1.ScaledObject{scaledObject("web", "web")},
	}
	all := onWeb
	all.HPAs = append(slices.Clone(all.HPAs), hpa("c", "api"))
	all.ResourceQuotas = append(all.ResourceQuotas, gpuQuota("8"))
	ix := indexOf(t, all)
	for _, obj := range []autoscalingv2.HorizontalPodAutoscaler{hpa("new", "web"), hpa("new", "api"), hpa("new", "db")} {
		r := mustReview(t)(NewReview(ctx, OperationCreate, &obj, nil))
		vs, err := e.Evaluate(ctx, r, Inventory{HPAs: all.HPAs, ScaledObjects: all.ScaledObjects, ResourceQuotas: all.ResourceQuotas})
		if err != nil {
			t.Fatal(err)
		}
		fs, err := e.EvaluateIndexed(ctx, r, ix)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, v := range vs {
			want = append(want, v.Policy+": "+v.Message)
		}
		got := expand(fs)
		if len(got) != len(want) {
			t.Fatalf("%s: findings %q, violations %q", obj.Spec.ScaleTargetRef.Name, got, want)
		}
		for _, g := range got {
			if !strings.HasSuffix(g, ": +") && !slices.Contains(want, g) {
				t.Errorf("%s: finding %q is not a violation: %q", obj.Spec.ScaleTargetRef.Name, g, want)
			}
		}
	}
}

// TestEvaluateIndexedSample: on a crowded target, a review is compared with
// the first SampleSize objects of each list; a policy that finds nothing
// there is evaluated with them all, so that a conflict with a later object
// is still found.
func TestEvaluateIndexedSample(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Config{})
	const n = 3 * SampleSize
	var inv Inventory
	for i := range n {
		inv.HPAs = append(inv.HPAs, hpa(fmt.Sprintf("h%d", i), "web"))
	}
	// SampleSize ScaledObjects that hand the HPA "adopted" over to KEDA,
	// then one that does not.
	for i := range SampleSize + 1 {
		so := scaledObject(fmt.Sprintf("so%d", i), "db")
		if i < SampleSize {
			so.Annotations = map[string]string{"scaledobject.keda.sh/transfer-hpa-ownership": "true"}
			so.Spec.Advanced = &kedav1alpha1.AdvancedConfig{HorizontalPodAutoscalerConfig: &kedav1alpha1.HorizontalPodAutoscalerConfig{Name: "adopted"}}
		}
		inv.ScaledObjects = append(inv.ScaledObjects, so)
	}
	ix := indexOf(t, inv)

	h := inv.HPAs[n-1]
	fs, err := e.EvaluateIndexed(ctx, mustReview(t)(NewReview(ctx, OperationCreate, &h, nil)), ix)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Policy != "hpa_duplicate_target" || !fs[0].Sampled || fs[0].More != SampleSize-1 || fs[0].OnTarget != n || fs[0].Target != "Deployment/web" {
		t.Fatalf("findings %+v, want one sampled hpa_duplicate_target with %d more", fs, SampleSize-1)
	}

	adopted := hpa("adopted", "db")
	fs, err = e.EvaluateIndexed(ctx, mustReview(t)(NewReview(ctx, OperationCreate, &adopted, nil)), ix)
	if err != nil {
		t.Fatal(err)
	}
	last := fmt.Sprintf("ScaledObject ml/so%d already scales", SampleSize)
	if len(fs) != 1 || fs[0].Policy != "hpa_scaledobject_conflict" || fs[0].Sampled || fs[0].More != 0 || !strings.Contains(fs[0].Message, last) {
		t.Fatalf("findings %+v, want hpa_scaledobject_conflict with the ScaledObject past the sample (%s)", fs, last)
	}
}

// TestIndexAdd: only what an inventory source reads is indexed.
func TestIndexAdd(t *testing.T) {
	ix := NewIndex()
	noTarget := hpa("x", "")
	sj := &kedav1alpha1.ScaledJob{ObjectMeta: metav1.ObjectMeta{Name: "sj", Namespace: "ml"}}
	if err := ix.Add(&noTarget); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(sj); err != nil {
		t.Fatal(err)
	}
	if len(ix.namespaces) != 0 {
		t.Errorf("indexed %v, want nothing", ix.namespaces)
	}
	h := hpa("h", "web")
	r := mustReview(t)(NewReview(context.Background(), OperationCreate, &h, nil))
	if inv := ix.inventory(r); inv.onTarget != 0 || inv.sampled() {
		t.Errorf("inventory of an empty index: %+v", inv)
	}
}

// BenchmarkEvaluateIndexed is BenchmarkEvaluate's HPA review through the
// index: the inventory's conversion is done once, when objects are added,
// so a review costs the same whatever the namespace holds.
func BenchmarkEvaluateIndexed(b *testing.B) {
	e := newEngine(b, Config{AllowedEndpoints: []string{"*.svc.cluster.local"}})
	h := hpa("new", "web")
	r, err := NewReview(context.Background(), OperationCreate, &h, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10, 100, 1000} {
		ix := indexOf(b, inventoryOf(n))
		b.Run(fmt.Sprintf("inventory=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fs, err := e.EvaluateIndexed(context.Background(), r, ix)
				if err != nil || len(fs) != 0 {
					b.Fatalf("%v %v", fs, err)
				}
			}
		})
	}
}
