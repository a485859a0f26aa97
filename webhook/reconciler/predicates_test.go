package reconciler

import (
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/workload"
)

func meta(gen int64, annotations map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: "w", Namespace: "ml", Generation: gen, Annotations: annotations}
}

func TestWorkloadPredicate(t *testing.T) {
	on := map[string]string{intent.KeyAutoscale: "true"}
	other := map[string]string{"example.com/x": "1"}
	dep := func(gen int64, a map[string]string) client.Object {
		return &appsv1.Deployment{ObjectMeta: meta(gen, a)}
	}
	p := workloadPredicate()
	tests := []struct {
		name     string
		old, new client.Object
		want     bool
	}{
		{"unannotated, generation changed", dep(1, nil), dep(2, nil), false},
		{"unannotated, other annotation added", dep(1, nil), dep(1, other), false},
		{"annotated, status only", dep(1, on), dep(1, on), false},
		{"annotated, generation changed", dep(1, on), dep(2, on), true},
		{"opted in", dep(1, nil), dep(1, on), true},
		{"opted out", dep(1, on), dep(1, nil), true},
		{"annotated, other annotation added", dep(1, on), dep(1, map[string]string{intent.KeyAutoscale: "true", "example.com/x": "1"}), true},
		{"annotated, label added", dep(1, on), labelled(dep(1, on), "kueue.x-k8s.io/queue-name", "gpu"), true},
		{"unannotated, label added", dep(1, nil), labelled(dep(1, nil), "kueue.x-k8s.io/queue-name", "gpu"), false},
	}
	for _, tt := range tests {
		if got := p.Update(event.UpdateEvent{ObjectOld: tt.old, ObjectNew: tt.new}); got != tt.want {
			t.Errorf("%s: Update = %v, want %v", tt.name, got, tt.want)
		}
	}
	if p.Create(event.CreateEvent{Object: dep(1, nil)}) {
		t.Error("Create passes an unannotated workload")
	}
	if !p.Create(event.CreateEvent{Object: dep(1, on)}) {
		t.Error("Create drops an annotated workload")
	}
	if p.Delete(event.DeleteEvent{Object: dep(1, on)}) {
		t.Error("Delete passes: garbage collection handles deletions")
	}
}

// labelled sets label k to v on o and returns it.
func labelled(o client.Object, k, v string) client.Object {
	o.SetLabels(map[string]string{k: v})
	return o
}

func TestGPUQuotaPredicate(t *testing.T) {
	q := func(hard corev1.ResourceList) client.Object {
		return &corev1.ResourceQuota{ObjectMeta: meta(1, nil), Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	}
	gpu4 := corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse("4")}
	gpu6 := corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse("6")}
	cpu := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
	p := gpuQuotaPredicate()
	if p.Create(event.CreateEvent{Object: q(cpu)}) || !p.Create(event.CreateEvent{Object: q(gpu4)}) {
		t.Error("Create: want only quotas with a GPU limit")
	}
	for _, tt := range []struct {
		name     string
		old, new corev1.ResourceList
		want     bool
	}{
		{"cpu only", cpu, cpu, false},
		{"gpu unchanged", gpu4, gpu4, false},
		{"gpu raised", gpu4, gpu6, true},
		{"gpu removed", gpu4, cpu, true},
	} {
		if got := p.Update(event.UpdateEvent{ObjectOld: q(tt.old), ObjectNew: q(tt.new)}); got != tt.want {
			t.Errorf("%s: Update = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestForeignDeletedPredicate(t *testing.T) {
	so := func(owner *metav1.OwnerReference) client.Object {
		o := &kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "ml"}}
		if owner != nil {
			o.OwnerReferences = []metav1.OwnerReference{*owner}
		}
		return o
	}
	ref := func(apiVersion, kind string, controller bool) *metav1.OwnerReference {
		return &metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: "api", UID: "u", Controller: ptr.To(controller)}
	}
	p := foreignDeletedPredicate(workload.DeploymentGVK)
	tests := []struct {
		name string
		obj  client.Object
		want bool
	}{
		{"hand-written", so(nil), true},
		{"owned but not controlled", so(ref("apps/v1", "Deployment", false)), true},
		{"a StatefulSet's", so(ref("apps/v1", "StatefulSet", true)), true},
		{"this kind's", so(ref("apps/v1", "Deployment", true)), false},
	}
	for _, tt := range tests {
		if got := p.Delete(event.DeleteEvent{Object: tt.obj}); got != tt.want {
			t.Errorf("%s: delete passes = %v, want %v", tt.name, got, tt.want)
		}
		if p.Create(event.CreateEvent{Object: tt.obj}) || p.Update(event.UpdateEvent{ObjectOld: tt.obj, ObjectNew: tt.obj}) {
			t.Errorf("%s: create or update passes", tt.name)
		}
	}
}

func TestOwnedPredicate(t *testing.T) {
	so := func(mutate func(*kedav1alpha1.ScaledObject)) client.Object {
		o := &kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{
			Name: "api", Namespace: "ml", Generation: 1,
			Labels:          map[string]string{"app.kubernetes.io/managed-by": "mlscale"},
			Annotations:     map[string]string{intent.KeyRenderedHash: "abc"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "api", UID: "u", Controller: ptr.To(true)}},
		}}
		if mutate != nil {
			mutate(o)
		}
		return o
	}
	own := newCreating()
	p := ownedPredicate(own)
	old := so(nil)
	key := client.ObjectKeyFromObject(old)
	if !p.Create(event.CreateEvent{Object: old, IsInInitialList: true}) {
		t.Error("create in the first list dropped: an owner that opted out while no mlscale ran (no mlscale.io/ annotation left) would keep its ScaledObject")
	}
	if !p.Create(event.CreateEvent{Object: old}) {
		t.Error("create of an object the reconciler did not make dropped: a late apply for an opted-out workload would be orphaned")
	}
	own.expect(key)
	if p.Create(event.CreateEvent{Object: old}) {
		t.Error("create of the reconciler's own object passes: every new workload would be reconciled twice")
	}
	if !p.Create(event.CreateEvent{Object: old}) {
		t.Error("the reconciler's own creation is still expected after its event")
	}
	own.expect(key)
	if !p.Delete(event.DeleteEvent{Object: old}) {
		t.Error("delete dropped: a deleted ScaledObject would not be put back")
	}
	if !p.Create(event.CreateEvent{Object: old}) {
		t.Error("an expected creation that a deletion met is still expected")
	}
	tests := []struct {
		name   string
		mutate func(*kedav1alpha1.ScaledObject)
		want   bool
	}{
		{"status only", func(o *kedav1alpha1.ScaledObject) { o.Status.OriginalReplicaCount = ptr.To[int32](3) }, false},
		{"spec (generation)", func(o *kedav1alpha1.ScaledObject) { o.Generation = 2 }, true},
		{"labels", func(o *kedav1alpha1.ScaledObject) { o.Labels = nil }, true},
		{"annotations", func(o *kedav1alpha1.ScaledObject) { o.Annotations[intent.KeyRenderedHash] = "def" }, true},
		{"owners", func(o *kedav1alpha1.ScaledObject) { o.OwnerReferences = nil }, true},
	}
	for _, tt := range tests {
		if got := p.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: so(tt.mutate)}); got != tt.want {
			t.Errorf("%s: update passes = %v, want %v", tt.name, got, tt.want)
		}
	}
}
