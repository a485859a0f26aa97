package audit

import (
	"context"
	"errors"
	"slices"
	"sort"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/policy"
)

func TestPause(t *testing.T) {
	tests := []struct {
		name           string
		interval, took time.Duration
		factor         float64
		want           time.Duration
	}{
		{"short round: the rest of the interval", time.Minute, 2 * time.Second, 4, 58 * time.Second},
		{"no pacing", time.Minute, 2 * time.Second, 0, 58 * time.Second},
		{"pacing wins", time.Minute, 20 * time.Second, 4, 80 * time.Second},
		{"round longer than the interval, paced", time.Minute, 90 * time.Second, 4, 360 * time.Second},
		{"round longer than the interval, no pacing", time.Minute, 90 * time.Second, 0, 0},
		{"negative factor is no pacing", time.Minute, 90 * time.Second, -1, 0},
		{"fractional factor", time.Minute, 100 * time.Second, 0.5, 50 * time.Second},
		{"exactly the boundary", time.Minute, 12 * time.Second, 4, 48 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Pause(tt.interval, tt.took, tt.factor); got != tt.want {
				t.Errorf("Pause(%s, %s, %v) = %s, want %s", tt.interval, tt.took, tt.factor, got, tt.want)
			}
		})
	}
}

func TestDueForResync(t *testing.T) {
	const resync = 7
	uids := []types.UID{"a", "b", "c", "d", "uid-1", "uid-2", "0f7c6c1e-0000-4000-8000-000000000001"}
	for _, uid := range uids {
		due := 0
		for round := uint64(1); round <= 3*resync; round++ {
			if dueForResync(uid, round, resync) {
				due++
			}
		}
		if due != 3 {
			t.Errorf("%s: due %d times in %d rounds, want once every %d rounds", uid, due, 3*resync, resync)
		}
	}
	for _, r := range []uint64{0, 1} {
		if !dueForResync("a", 5, r) {
			t.Errorf("resync %d: every round must be due", r)
		}
	}
}

func TestFingerprint(t *testing.T) {
	base := func() *autoscalingv2.HorizontalPodAutoscaler {
		h := hpa("h", "web")
		h.Generation, h.ResourceVersion = 3, "100"
		h.Labels = map[string]string{"team": "a"}
		h.Annotations = map[string]string{"note": "x"}
		return h
	}
	tests := []struct {
		name    string
		change  func(h *autoscalingv2.HorizontalPodAutoscaler)
		changed bool
	}{
		{"nothing", func(*autoscalingv2.HorizontalPodAutoscaler) {}, false},
		{"resourceVersion only (a status update)", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.ResourceVersion = "101" }, false},
		{"status", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Status.CurrentReplicas = 4 }, false},
		{"generation (spec)", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Generation = 4 }, true},
		{"label value", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Labels["team"] = "b" }, true},
		{"label moved to the annotations", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Labels = nil
			h.Annotations["team"] = "a"
		}, true},
		{"annotation added", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Annotations["other"] = "y" }, true},
		{"owner", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "u", Controller: ptr.To(true)}}
		}, true},
		{"finalizer", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Finalizers = []string{"f"} }, true},
		{"no generation: the resourceVersion counts", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Generation = 0 }, true},
	}
	want := fingerprint(base())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := base()
			tt.change(h)
			if got := fingerprint(h) != want; got != tt.changed {
				t.Errorf("fingerprint changed: %v, want %v", got, tt.changed)
			}
		})
	}
	// Without a generation, every resourceVersion differs.
	a, b := base(), base()
	a.Generation, b.Generation, b.ResourceVersion = 0, 0, "101"
	if fingerprint(a) == fingerprint(b) {
		t.Error("objects without a generation must be told apart by resourceVersion")
	}
}

func TestQuotaFingerprint(t *testing.T) {
	base := func() *corev1.ResourceQuota {
		return &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: "gpu", Namespace: "ml", ResourceVersion: "1"},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"requests.nvidia.com/gpu": *resourceQty("4"), corev1.ResourcePods: *resourceQty("10")}},
		}
	}
	tests := []struct {
		name    string
		change  func(q *corev1.ResourceQuota)
		changed bool
	}{
		{"usage and resourceVersion", func(q *corev1.ResourceQuota) {
			q.ResourceVersion = "2"
			q.Status.Used = corev1.ResourceList{"requests.nvidia.com/gpu": *resourceQty("2")}
		}, false},
		{"label", func(q *corev1.ResourceQuota) { q.Labels = map[string]string{"a": "b"} }, false},
		{"a hard limit", func(q *corev1.ResourceQuota) { q.Spec.Hard["requests.nvidia.com/gpu"] = *resourceQty("8") }, true},
		{"a limit added", func(q *corev1.ResourceQuota) { q.Spec.Hard[corev1.ResourceCPU] = *resourceQty("8") }, true},
		{"scope", func(q *corev1.ResourceQuota) {
			q.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}
		}, true},
		{"name", func(q *corev1.ResourceQuota) { q.Name = "other" }, true},
	}
	want := quotaFingerprint(base())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := base()
			tt.change(q)
			if got := quotaFingerprint(q) != want; got != tt.changed {
				t.Errorf("fingerprint changed: %v, want %v", got, tt.changed)
			}
		})
	}
}

// recordingInventory records the objects whose inventory was read, that
// is, the objects a round evaluated.
type recordingInventory struct {
	InventorySource
	seen []string
}

func (r *recordingInventory) Inventory(ctx context.Context, rev policy.Review) (policy.Inventory, error) {
	r.seen = append(r.seen, rev.Kind+" "+rev.TypedObject.GetNamespace()+"/"+rev.TypedObject.GetName())
	return r.InventorySource.Inventory(ctx, rev)
}

func (r *recordingInventory) take() []string {
	out := r.seen
	r.seen = nil
	sort.Strings(out)
	return out
}

func annotatedDeployment(ns, name string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-deploy-" + ns + "-" + name), Annotations: map[string]string{intent.KeyAutoscale: "true", intent.KeyCPUTarget: "60"}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: *resourceQty("100m")}},
		}}}}},
	}
}

func scaledObject(ns, name, target string) *kedav1alpha1.ScaledObject {
	return &kedav1alpha1.ScaledObject{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-so-" + ns + "-" + name)},
		Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef: &kedav1alpha1.ScaleTarget{Name: target},
			Triggers:       []kedav1alpha1.ScaleTriggers{{Type: "cpu", MetricType: "Utilization", Metadata: map[string]string{"value": "60"}}},
		},
	}
}

func hpaIn(ns, name, target string) *autoscalingv2.HorizontalPodAutoscaler {
	h := hpa(name, target)
	h.Namespace, h.UID = ns, types.UID("uid-hpa-"+ns+"-"+name)
	return h
}

// TestIncrementalRounds checks which objects a round evaluates again after
// one change, on a cluster whose first round evaluated everything.
func TestIncrementalRounds(t *testing.T) {
	all := []string{
		"Deployment ml/api", "Deployment other/api",
		"HorizontalPodAutoscaler ml/api-hpa", "HorizontalPodAutoscaler ml/web-a", "HorizontalPodAutoscaler ml/web-b",
		"HorizontalPodAutoscaler other/web-a",
		"ScaledObject ml/gpu-so",
	}
	tests := []struct {
		name   string
		change func(t *testing.T, w world)
		want   []string
	}{
		{"nothing changed", func(*testing.T, world) {}, nil},
		{"an HPA's spec: its target's group", func(t *testing.T, w world) {
			update(t, w, &autoscalingv2.HorizontalPodAutoscaler{}, "ml", "web-a", func(o client.Object) {
				o.(*autoscalingv2.HorizontalPodAutoscaler).Spec.MaxReplicas = 9
			})
		}, []string{"HorizontalPodAutoscaler ml/web-a", "HorizontalPodAutoscaler ml/web-b"}},
		{"an HPA's label", func(t *testing.T, w world) {
			update(t, w, &autoscalingv2.HorizontalPodAutoscaler{}, "ml", "api-hpa", func(o client.Object) { o.SetLabels(map[string]string{"team": "x"}) })
		}, []string{"Deployment ml/api", "HorizontalPodAutoscaler ml/api-hpa"}},
		{"a new HPA on an opted-in workload", func(t *testing.T, w world) {
			create(t, w, hpaIn("ml", "api-hpa-2", "api"))
		}, []string{"Deployment ml/api", "HorizontalPodAutoscaler ml/api-hpa", "HorizontalPodAutoscaler ml/api-hpa-2"}},
		{"an HPA deleted", func(t *testing.T, w world) {
			del(t, w, hpaIn("ml", "web-b", "web"))
		}, []string{"HorizontalPodAutoscaler ml/web-a"}},
		{"a retargeted HPA: both groups", func(t *testing.T, w world) {
			update(t, w, &autoscalingv2.HorizontalPodAutoscaler{}, "ml", "web-b", func(o client.Object) {
				o.(*autoscalingv2.HorizontalPodAutoscaler).Spec.ScaleTargetRef.Name = "api"
			})
		}, []string{"Deployment ml/api", "HorizontalPodAutoscaler ml/api-hpa", "HorizontalPodAutoscaler ml/web-a", "HorizontalPodAutoscaler ml/web-b"}},
		{"the unannotated workload a ScaledObject scales", func(t *testing.T, w world) {
			update(t, w, &appsv1.Deployment{}, "ml", "gpu", func(o client.Object) {
				o.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": *resourceQty("2")}
			})
		}, []string{"ScaledObject ml/gpu-so"}},
		{"an unannotated workload nobody scales", func(t *testing.T, w world) {
			update(t, w, &appsv1.Deployment{}, "ml", "plain", func(o client.Object) { o.SetLabels(map[string]string{"a": "b"}) })
		}, nil},
		{"a workload opts out: not evaluated, its findings go", func(t *testing.T, w world) {
			update(t, w, &appsv1.Deployment{}, "ml", "api", func(o client.Object) {
				o.SetAnnotations(map[string]string{intent.KeyAutoscale: "false"})
			})
		}, []string{"HorizontalPodAutoscaler ml/api-hpa"}},
		{"a quota's limit: the whole namespace", func(t *testing.T, w world) {
			update(t, w, &corev1.ResourceQuota{}, "ml", "gpu", func(o client.Object) {
				o.(*corev1.ResourceQuota).Spec.Hard["requests.nvidia.com/gpu"] = *resourceQty("16")
			})
		}, []string{"Deployment ml/api", "HorizontalPodAutoscaler ml/api-hpa", "HorizontalPodAutoscaler ml/web-a", "HorizontalPodAutoscaler ml/web-b", "ScaledObject ml/gpu-so"}},
		{"a new quota in the other namespace", func(t *testing.T, w world) {
			create(t, w, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "other", UID: "uid-q-other"}})
		}, []string{"Deployment other/api", "HorizontalPodAutoscaler other/web-a"}},
		{"a quota's usage only", func(t *testing.T, w world) {
			update(t, w, &corev1.ResourceQuota{}, "ml", "gpu", func(o client.Object) {
				o.(*corev1.ResourceQuota).Status.Used = corev1.ResourceList{"requests.nvidia.com/gpu": *resourceQty("3")}
			})
		}, nil},
		{"a new engine: everything", func(t *testing.T, w world) {
			e, err := policy.New(context.Background(), policy.Config{})
			if err != nil {
				t.Fatal(err)
			}
			w.auditor.Engines.Store(e)
		}, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			gpu := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "gpu", Namespace: "ml", UID: "uid-deploy-ml-gpu"},
				Spec:       appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "llm"}}}}},
			}
			w := newWorld(t,
				hpaIn("ml", "web-a", "web"), hpaIn("ml", "web-b", "web"), hpaIn("ml", "api-hpa", "api"), hpaIn("other", "web-a", "web"),
				annotatedDeployment("ml", "api"), annotatedDeployment("other", "api"),
				&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "ml", UID: "uid-deploy-ml-plain"}},
				gpu, scaledObject("ml", "gpu-so", "gpu"),
				&corev1.ResourceQuota{
					ObjectMeta: metav1.ObjectMeta{Name: "gpu", Namespace: "ml", UID: "uid-q-ml"},
					Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"requests.nvidia.com/gpu": *resourceQty("8")}},
				},
			)
			rec := &recordingInventory{InventorySource: w.auditor.Inventory}
			w.auditor.Inventory = rec
			w.auditor.ResyncRounds = 1 << 62 // no resync turns in this test
			first, stats, err := w.auditor.round(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.take(); !slices.Equal(got, all) {
				t.Fatalf("first round evaluated %q, want %q", got, all)
			}
			if stats.evaluated != len(all) || stats.reused != 0 {
				t.Errorf("first round stats %+v", stats)
			}
			if len(first) == 0 {
				t.Fatal("the first round found nothing; the test needs violations to carry over")
			}
			tt.change(t, w)
			found, stats, err := w.auditor.round(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := rec.take()
			if !slices.Equal(got, tt.want) {
				t.Errorf("evaluated %q, want %q", got, tt.want)
			}
			if stats.evaluated != len(tt.want) {
				t.Errorf("stats.evaluated = %d, want %d", stats.evaluated, len(tt.want))
			}
			// Whatever was reused or evaluated, the findings are those of a
			// full round over the same cache.
			full := newAuditorLike(w.auditor)
			want, err := full.Round(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if g, f := findingSet(found), findingSet(want); !slices.Equal(g, f) {
				t.Errorf("incremental findings %q\nfull round's %q", g, f)
			}
		})
	}
}

// newAuditorLike is a fresh auditor over a's cache and engine, without
// a's verdicts: its first round evaluates everything.
func newAuditorLike(a *Auditor) *Auditor {
	inv := a.Inventory
	if r, ok := inv.(*recordingInventory); ok {
		inv = r.InventorySource
	}
	return &Auditor{Reader: a.Reader, Engines: a.Engines, Inventory: inv, Metrics: NewMetrics()}
}

func findingSet(fs []Finding) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Kind+" "+f.Object.GetNamespace()+"/"+f.Object.GetName()+" "+f.Violation.Policy+": "+f.Violation.Message)
	}
	sort.Strings(out)
	return out
}

func update(t *testing.T, w world, obj client.Object, ns, name string, change func(client.Object)) {
	t.Helper()
	if err := w.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	change(obj)
	if err := w.c.Update(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func create(t *testing.T, w world, obj client.Object) {
	t.Helper()
	if err := w.c.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func del(t *testing.T, w world, obj client.Object) {
	t.Helper()
	if err := w.c.Delete(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func TestResyncRounds(t *testing.T) {
	ctx := context.Background()
	var objs []client.Object
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		objs = append(objs, hpaIn("ml", n, "t-"+n))
	}
	tests := []struct {
		name   string
		resync int
		// want is how many evaluations rounds 2 to 1+rounds make in all.
		rounds, want int
	}{
		{"every round", 1, 3, 3 * len(objs)},
		{"every 4 rounds: each object once in 4 rounds", 4, 4, len(objs)},
		{"every 4 rounds, 8 rounds", 4, 8, 2 * len(objs)},
		{"default", 0, DefaultResyncRounds, len(objs)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, objs...)
			w.auditor.ResyncRounds = tt.resync
			if _, stats, err := w.auditor.round(ctx); err != nil || stats.evaluated != len(objs) {
				t.Fatalf("first round: %+v, %v", stats, err)
			}
			total := 0
			for range tt.rounds {
				_, stats, err := w.auditor.round(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if stats.evaluated+stats.reused != len(objs) {
					t.Fatalf("stats %+v: every object must be evaluated or reused", stats)
				}
				total += stats.evaluated
			}
			if total != tt.want {
				t.Errorf("%d evaluations in %d rounds, want %d", total, tt.rounds, tt.want)
			}
			if got := testutil.ToFloat64(w.auditor.Metrics.reviews.WithLabelValues("evaluated")); got != float64(len(objs)+tt.want) {
				t.Errorf("mlscale_policy_audit_reviews_total{outcome=evaluated} = %v, want %d", got, len(objs)+tt.want)
			}
		})
	}
}

// TestFailedEvaluationRetried: an object whose evaluation failed is
// evaluated again next round even though nothing changed.
func TestFailedEvaluationRetried(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, hpaIn("ml", "a", "web"), hpaIn("ml", "b", "api"))
	w.auditor.ResyncRounds = 1 << 62
	failing := &failingInventory{InventorySource: w.auditor.Inventory, fail: "a"}
	w.auditor.Inventory = failing
	if _, err := w.auditor.Round(ctx); err == nil {
		t.Fatal("want the failed evaluation's error")
	}
	failing.fail = ""
	_, stats, err := w.auditor.round(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.evaluated != 1 || stats.reused != 1 {
		t.Errorf("stats %+v, want the failed object evaluated and the other reused", stats)
	}
}

type failingInventory struct {
	InventorySource
	fail string
}

func (f *failingInventory) Inventory(ctx context.Context, r policy.Review) (policy.Inventory, error) {
	if f.fail != "" && r.TypedObject.GetName() == f.fail {
		return policy.Inventory{}, errors.New("inventory unavailable")
	}
	return f.InventorySource.Inventory(ctx, r)
}

// storeCache is a Reader that serves the objects only from informer stores
// (its List fails), as the manager's cache can.
type storeCache struct {
	client.Reader
	stores map[string]toolscache.Store
}

func (s storeCache) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("List must not be called when the informer's store can be read")
}

func (s storeCache) GetInformer(_ context.Context, obj client.Object, _ ...cache.InformerGetOption) (cache.Informer, error) {
	st, ok := s.stores[typeName(obj)]
	if !ok {
		st = toolscache.NewStore(toolscache.MetaNamespaceKeyFunc)
	}
	return storeOnlyInformer{store: st}, nil
}

type storeOnlyInformer struct {
	cache.Informer
	store toolscache.Store
}

func (i storeOnlyInformer) GetStore() toolscache.Store { return i.store }

func typeName(obj client.Object) string {
	switch obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler:
		return "hpa"
	case *appsv1.Deployment:
		return "deployment"
	case *kedav1alpha1.ScaledObject:
		return "scaledobject"
	}
	return ""
}

func TestRoundFromInformerStores(t *testing.T) {
	ctx := context.Background()
	hpas := toolscache.NewStore(toolscache.MetaNamespaceKeyFunc)
	deployments := toolscache.NewStore(toolscache.MetaNamespaceKeyFunc)
	for _, o := range []any{hpaIn("ml", "a", "web"), hpaIn("ml", "b", "web")} {
		if err := hpas.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	deleting := hpaIn("ml", "c", "web")
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	deleting.Finalizers = []string{"x"}
	if err := hpas.Add(deleting); err != nil {
		t.Fatal(err)
	}
	if err := deployments.Add(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "ml"}}); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	rec := &recordingInventory{InventorySource: w.auditor.Inventory}
	w.auditor.Reader = storeCache{Reader: w.c, stores: map[string]toolscache.Store{"hpa": hpas, "deployment": deployments}}
	w.auditor.Inventory = rec
	if _, err := w.auditor.Round(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"HorizontalPodAutoscaler ml/a", "HorizontalPodAutoscaler ml/b"}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Errorf("evaluated %q, want %q (from the stores; not the object being deleted nor the unannotated workload)", got, want)
	}
}

// TestRoundStopsWithContext: a round whose context ends stops before it
// evaluates anything more, and leaves the metric and the verdicts alone.
func TestRoundStopsWithContext(t *testing.T) {
	w := newWorld(t, hpaIn("ml", "a", "web"), hpaIn("ml", "b", "web"))
	if _, err := w.auditor.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := testutil.CollectAndCount(w.auditor.Metrics.violations)
	if before == 0 {
		t.Fatal("the first round found nothing")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.auditor.Engines.Store(w.auditor.Engines.Load()) // same engine: verdicts kept
	if _, err := w.auditor.Round(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if n := testutil.CollectAndCount(w.auditor.Metrics.violations); n != before {
		t.Errorf("%d violation series after the abandoned round, want %d", n, before)
	}
}
