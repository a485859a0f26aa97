package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/render"
)

var ctx = context.Background()

func podTemplate(app string, res corev1.ResourceRequirements) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "registry.example/" + app + ":1", Resources: res,
		}}},
	}
}

func cpuRequest() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}
}

func deployment(ns, name string, annotations map[string]string, res corev1.ResourceRequirements) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name, res),
		},
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(ctx, obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// setAnnotations changes the workload's annotations (nil value removes one),
// retrying on conflicts.
func setAnnotations(t *testing.T, obj client.Object, changes map[string]*string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatalf("getting %s: %v", obj.GetName(), err)
		}
		a := obj.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		for k, v := range changes {
			if v == nil {
				delete(a, k)
			} else {
				a[k] = *v
			}
		}
		obj.SetAnnotations(a)
		err := k8s.Update(ctx, obj)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) || attempt > 5 {
			t.Fatalf("updating %s: %v", obj.GetName(), err)
		}
	}
}

// waitScaledObject waits until the ScaledObject exists and cond holds.
func waitScaledObject(t *testing.T, ns, name, what string, cond func(*kedav1alpha1.ScaledObject) (bool, string)) *kedav1alpha1.ScaledObject {
	t.Helper()
	so := &kedav1alpha1.ScaledObject{}
	eventually(t, what, func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, so); err != nil {
			return false, err.Error()
		}
		return cond(so)
	})
	return so
}

func waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s deleted", obj, obj.GetName()), func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprintf("still there (err %v)", err)
	})
}

func replicas(min, max int32) func(*kedav1alpha1.ScaledObject) (bool, string) {
	return func(so *kedav1alpha1.ScaledObject) (bool, string) {
		gotMin, gotMax := ptr.Deref(so.Spec.MinReplicaCount, -1), ptr.Deref(so.Spec.MaxReplicaCount, -1)
		return gotMin == min && gotMax == max, fmt.Sprintf("replicas %d-%d, want %d-%d", gotMin, gotMax, min, max)
	}
}

func anyObject(*kedav1alpha1.ScaledObject) (bool, string) { return true, "" }

// mlscaleManaged returns mlscale's managedFields entry.
func mlscaleManaged(obj client.Object) *metav1.ManagedFieldsEntry {
	for _, m := range obj.GetManagedFields() {
		if m.Manager == FieldManager {
			return &m
		}
	}
	return nil
}

func checkOwner(t *testing.T, obj client.Object, owner client.Object, kind string) {
	t.Helper()
	refs := obj.GetOwnerReferences()
	if len(refs) != 1 {
		t.Fatalf("%s has %d owner references, want 1: %+v", obj.GetName(), len(refs), refs)
	}
	ref := refs[0]
	if ref.UID != owner.GetUID() || ref.Kind != kind || ref.Name != owner.GetName() || !ptr.Deref(ref.Controller, false) {
		t.Errorf("owner reference %+v, want controller=true %s %s uid %s", ref, kind, owner.GetName(), owner.GetUID())
	}
	l := obj.GetLabels()
	if l[render.LabelManagedBy] != render.ManagedByValue || l[render.LabelWorkloadKind] != kind || l[render.LabelWorkloadName] != owner.GetName() {
		t.Errorf("labels %v lack mlscale's", l)
	}
	m := mlscaleManaged(obj)
	if m == nil || m.Operation != metav1.ManagedFieldsOperationApply {
		t.Fatalf("no server-side apply entry for field manager %q in %+v", FieldManager, obj.GetManagedFields())
	}
	// mlscale must not own fields it never set (zero values of the typed
	// KEDA API).
	for _, f := range []string{`"f:status"`, `"f:creationTimestamp"`, `"f:scalingModifiers":{}`, `"f:rollout":{}`} {
		if m.FieldsV1 != nil && strings.Contains(m.FieldsV1.GetRawString(), f) {
			t.Errorf("mlscale owns %s: %s", f, m.FieldsV1.GetRawString())
		}
	}
}

func TestDeploymentLifecycle(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	d := deployment(ns, "web", map[string]string{
		intent.KeyAutoscale: "true", intent.KeyCPUTarget: "70", intent.KeyMaxReplicas: "5",
	}, cpuRequest())
	create(t, d)

	// Created, owned by the Deployment.
	so := waitScaledObject(t, ns, "web", "ScaledObject created", replicas(1, 5))
	checkOwner(t, so, d, "Deployment")
	if ref := so.Spec.ScaleTargetRef; ref == nil || ref.Kind != "Deployment" || ref.Name != "web" {
		t.Errorf("scaleTargetRef %+v", ref)
	}
	if so.Annotations[intent.KeyRenderedHash] == "" {
		t.Errorf("no %s annotation on the ScaledObject", intent.KeyRenderedHash)
	}
	ev := waitEvent(t, d, ReasonScaledObjectCreated)
	if ev.Type != corev1.EventTypeNormal || !strings.Contains(ev.Message, "replicas 1-5") {
		t.Errorf("created event: %s %q", ev.Type, ev.Message)
	}

	// Annotation changed: updated.
	setAnnotations(t, d, map[string]*string{intent.KeyMaxReplicas: ptr.To("7")})
	so = waitScaledObject(t, ns, "web", "ScaledObject updated", replicas(1, 7))
	waitEvent(t, d, ReasonScaledObjectUpdated)

	// An unrelated annotation change reconciles without writing anything.
	rv := so.ResourceVersion
	unchanged := reconciles(t, "deployment", ResultUnchanged)
	updatedEvents := len(eventsFor(t, ns, d.UID, ReasonScaledObjectUpdated))
	setAnnotations(t, d, map[string]*string{"example.com/owner": ptr.To("team-a")})
	eventually(t, "a no-op reconcile", func() (bool, string) {
		n := reconciles(t, "deployment", ResultUnchanged)
		return n > unchanged, fmt.Sprintf("unchanged reconciles %v", n)
	})
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(so), so); err != nil {
		t.Fatal(err)
	}
	if so.ResourceVersion != rv {
		t.Errorf("re-applying an unchanged ScaledObject wrote it: resourceVersion %s -> %s", rv, so.ResourceVersion)
	}
	if n := len(eventsFor(t, ns, d.UID, ReasonScaledObjectUpdated)); n != updatedEvents {
		t.Errorf("%d Updated events after a no-op reconcile, want %d", n, updatedEvents)
	}

	// Opt-in removed: deleted.
	setAnnotations(t, d, map[string]*string{intent.KeyAutoscale: nil})
	waitGone(t, so)
	waitEvent(t, d, ReasonScaledObjectDeleted)

	// Opted in again, then set to "false": created, then deleted again.
	setAnnotations(t, d, map[string]*string{intent.KeyAutoscale: ptr.To("true")})
	waitScaledObject(t, ns, "web", "ScaledObject created again", anyObject)
	setAnnotations(t, d, map[string]*string{intent.KeyAutoscale: ptr.To("false")})
	waitGone(t, &kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}})
}

func TestStatefulSet(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db", Annotations: map[string]string{intent.KeyAutoscale: "true", intent.KeyMinReplicas: "2"}},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: podTemplate("db", cpuRequest()),
		},
	}
	create(t, s)
	so := waitScaledObject(t, ns, "db", "ScaledObject for the StatefulSet", replicas(2, 10))
	checkOwner(t, so, s, "StatefulSet")
	if ref := so.Spec.ScaleTargetRef; ref == nil || ref.Kind != "StatefulSet" || ref.APIVersion != "apps/v1" {
		t.Errorf("scaleTargetRef %+v", ref)
	}
}

// TestSameNameOtherKind: a StatefulSet that opts in under the name of an
// opted-in Deployment cannot have a ScaledObject of its own; the Event
// names the Deployment whose ScaledObject it is, not "rename or delete it".
func TestSameNameOtherKind(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	d := deployment(ns, "db", map[string]string{intent.KeyAutoscale: "true"}, cpuRequest())
	create(t, d)
	waitScaledObject(t, ns, "db", "the Deployment's ScaledObject", anyObject)
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db", Annotations: map[string]string{intent.KeyAutoscale: "true"}},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: podTemplate("db", cpuRequest()),
		},
	}
	create(t, s)
	ev := waitEvent(t, s, ReasonApplyFailed)
	if !strings.Contains(ev.Message, "is mlscale's for the Deployment db") || !strings.Contains(ev.Message, "rename this StatefulSet") {
		t.Errorf("event %q, want it to name the Deployment and the fix", ev.Message)
	}
}

func TestHandWrittenScaledObjectIsNeverTouched(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	mine := &kedav1alpha1.ScaledObject{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"},
		Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef:  &kedav1alpha1.ScaleTarget{Name: "api"},
			MaxReplicaCount: ptr.To[int32](3),
			Triggers:        []kedav1alpha1.ScaleTriggers{{Type: "cpu", MetricType: "Utilization", Metadata: map[string]string{"value": "50"}}},
		},
	}
	create(t, mine)
	rv := mine.ResourceVersion

	// The Deployment opts in under the same name: mlscale refuses to apply
	// over the user's object and says so.
	d := deployment(ns, "api", map[string]string{intent.KeyAutoscale: "true"}, cpuRequest())
	create(t, d)
	ev := waitEvent(t, d, ReasonApplyFailed)
	if ev.Type != corev1.EventTypeWarning || !strings.Contains(ev.Message, "not managed by mlscale") {
		t.Errorf("conflict event: %s %q", ev.Type, ev.Message)
	}

	// Opting out must not delete it either.
	notEnabled := reconciles(t, "deployment", ResultNotEnabled)
	setAnnotations(t, d, map[string]*string{intent.KeyAutoscale: ptr.To("false")})
	eventually(t, "the opt-out reconciled", func() (bool, string) {
		n := reconciles(t, "deployment", ResultNotEnabled)
		return n > notEnabled, fmt.Sprintf("not_enabled reconciles %v", n)
	})
	got := &kedav1alpha1.ScaledObject{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(mine), got); err != nil {
		t.Fatalf("the hand-written ScaledObject is gone: %v", err)
	}
	if got.ResourceVersion != rv || mlscaleManaged(got) != nil || len(got.OwnerReferences) != 0 {
		t.Errorf("the hand-written ScaledObject was modified: rv %s -> %s, owners %v", rv, got.ResourceVersion, got.OwnerReferences)
	}
}

// TestHandWrittenScaledObjectDeletedIsReplaced: the conflict Event tells the
// user to delete their ScaledObject to let mlscale manage scaling; once they
// do, mlscale's appears at once, not after ConflictRetry.
func TestHandWrittenScaledObjectDeletedIsReplaced(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	mine := &kedav1alpha1.ScaledObject{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"},
		Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef: &kedav1alpha1.ScaleTarget{Name: "api"},
			Triggers:       []kedav1alpha1.ScaleTriggers{{Type: "cpu", MetricType: "Utilization", Metadata: map[string]string{"value": "50"}}},
		},
	}
	create(t, mine)
	d := deployment(ns, "api", map[string]string{intent.KeyAutoscale: "true", intent.KeyMaxReplicas: "4"}, cpuRequest())
	create(t, d)
	waitEvent(t, d, ReasonApplyFailed)

	if err := k8s.Delete(ctx, mine); err != nil {
		t.Fatalf("deleting the hand-written ScaledObject: %v", err)
	}
	so := waitScaledObject(t, ns, "api", "mlscale's ScaledObject after the hand-written one was deleted", func(so *kedav1alpha1.ScaledObject) (bool, string) {
		if so.UID == mine.UID {
			return false, "still the hand-written one"
		}
		return replicas(1, 4)(so)
	})
	checkOwner(t, so, d, "Deployment")
}

func TestJobBecomesScaledJob(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	tpl := podTemplate("train", corev1.ResourceRequirements{})
	tpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	tpl.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "train", Annotations: map[string]string{
			intent.KeyAutoscale: "true", intent.KeyRabbitMQQueue: "training", intent.KeyRabbitMQAuth: "rabbitmq-auth", intent.KeyMaxReplicas: "3",
		}},
		Spec: batchv1.JobSpec{Suspend: ptr.To(true), Template: tpl},
	}
	create(t, j)
	sj := &kedav1alpha1.ScaledJob{}
	eventually(t, "ScaledJob created", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "train"}, sj)
		return err == nil, fmt.Sprint(err)
	})
	checkOwner(t, sj, j, "Job")
	if got := ptr.Deref(sj.Spec.MaxReplicaCount, -1); got != 3 {
		t.Errorf("maxReplicaCount %d, want 3", got)
	}
	if len(sj.Spec.Triggers) != 1 || sj.Spec.Triggers[0].Type != "rabbitmq" {
		t.Errorf("triggers %+v", sj.Spec.Triggers)
	}
	if sj.Spec.Rollout.Strategy != "gradual" {
		t.Errorf("rollout strategy %q, want gradual (running Jobs survive a change)", sj.Spec.Rollout.Strategy)
	}
	tr := sj.Spec.JobTargetRef
	if tr == nil || len(tr.Template.Spec.Containers) != 1 || tr.Suspend != nil {
		t.Fatalf("jobTargetRef %+v", tr)
	}
	if len(tr.Template.Spec.Volumes) != 1 || tr.Template.Spec.Volumes[0].EmptyDir == nil {
		t.Errorf("the emptyDir volume did not survive the apply: %+v", tr.Template.Spec.Volumes)
	}
	if _, ok := tr.Template.Labels["batch.kubernetes.io/controller-uid"]; ok {
		t.Errorf("the Job controller's labels travelled into the template: %v", tr.Template.Labels)
	}
	// mlscale must not own fields it never set (zero-value structs of the
	// typed KEDA API).
	m := mlscaleManaged(sj)
	for _, f := range []string{`"f:rollout":{}`, `"f:scalingStrategy":{}`, `"f:status"`, `"f:creationTimestamp"`} {
		if m != nil && m.FieldsV1 != nil && strings.Contains(m.FieldsV1.GetRawString(), f) {
			t.Errorf("mlscale owns %s: %s", f, m.FieldsV1.GetRawString())
		}
	}
	waitEvent(t, j, ReasonScaledJobCreated)

	// Re-applying is a no-op.
	rv := sj.ResourceVersion
	unchanged := reconciles(t, "job", ResultUnchanged)
	setAnnotations(t, j, map[string]*string{"example.com/run": ptr.To("2")})
	eventually(t, "a no-op reconcile", func() (bool, string) {
		n := reconciles(t, "job", ResultUnchanged)
		return n > unchanged, fmt.Sprintf("unchanged reconciles %v", n)
	})
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(sj), sj); err != nil {
		t.Fatal(err)
	}
	if sj.ResourceVersion != rv {
		t.Errorf("re-applying an unchanged ScaledJob wrote it: resourceVersion %s -> %s", rv, sj.ResourceVersion)
	}
	if n := len(eventsFor(t, ns, j.UID, ReasonScaledJobUpdated)); n != 0 {
		t.Errorf("%d ScaledJobUpdated events, want none", n)
	}

	// Changed annotations update the ScaledJob.
	setAnnotations(t, j, map[string]*string{intent.KeyMaxReplicas: ptr.To("6")})
	eventually(t, "ScaledJob updated", func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(sj), sj); err != nil {
			return false, err.Error()
		}
		got := ptr.Deref(sj.Spec.MaxReplicaCount, -1)
		return got == 6, fmt.Sprintf("maxReplicaCount %d", got)
	})
	waitEvent(t, j, ReasonScaledJobUpdated)

	// A label added to the Job (Kueue's queue) reaches the ScaledJob,
	// which KEDA copies onto the Jobs it starts; before, a label change
	// passed no predicate and waited for the next annotation edit.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(j), j); err != nil {
			return err
		}
		j.Labels = map[string]string{"kueue.x-k8s.io/queue-name": "gpu-queue"}
		return k8s.Update(ctx, j)
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the label on the ScaledJob", func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(sj), sj); err != nil {
			return false, err.Error()
		}
		return sj.Labels["kueue.x-k8s.io/queue-name"] == "gpu-queue", fmt.Sprintf("labels %v", sj.Labels)
	})

	// Opting out deletes the ScaledJob orphaning the Jobs it started
	// (training runs go on); this API server has no garbage collector, so
	// the ScaledJob stays with the orphan finalizer that a cluster's
	// garbage collector acts on.
	setAnnotations(t, j, map[string]*string{intent.KeyAutoscale: ptr.To("false")})
	eventually(t, "the ScaledJob deleted, orphaning its Jobs", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(sj), sj)
		if apierrors.IsNotFound(err) {
			return false, "deleted without the orphan finalizer"
		}
		if err != nil {
			return false, err.Error()
		}
		return sj.DeletionTimestamp != nil && slices.Contains(sj.Finalizers, metav1.FinalizerOrphanDependents),
			fmt.Sprintf("deletionTimestamp %v, finalizers %v", sj.DeletionTimestamp, sj.Finalizers)
	})
}

// TestUnsuspendedJobWarned: a Job that opts in but runs unsuspended (it
// was admitted without the mutating webhook; this suite has none) gets
// its ScaledJob and a JobNotSuspended warning naming the fix; the
// reconciler does not suspend it itself, which would stop its pods.
func TestUnsuspendedJobWarned(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	tpl := podTemplate("train", corev1.ResourceRequirements{})
	tpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "train", Annotations: map[string]string{
			intent.KeyAutoscale: "true", intent.KeyRabbitMQQueue: "training", intent.KeyRabbitMQAuth: "rabbitmq-auth",
		}},
		Spec: batchv1.JobSpec{Template: tpl},
	}
	create(t, j)
	ev := waitEvent(t, j, ReasonJobNotSuspended)
	if ev.Type != corev1.EventTypeWarning || !strings.Contains(ev.Message, "kubectl patch job train -n "+ns) {
		t.Errorf("event %s %q, want a warning naming the fix", ev.Type, ev.Message)
	}
	waitEvent(t, j, ReasonScaledJobCreated)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(j), j); err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(j.Spec.Suspend, false) {
		t.Error("the reconciler suspended the Job")
	}
}

func TestPredictedFloor(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	d := deployment(ns, "infer", map[string]string{
		intent.KeyAutoscale: "true", intent.KeyMinReplicas: "1", intent.KeyMaxReplicas: "8", intent.KeyPredictedFloor: "4",
		intent.KeyPredictive: "true", intent.KeyDemandQuery: "sum(rate(requests_total[1m]))", intent.KeyCapacityPerReplica: "10",
	}, cpuRequest())
	create(t, d)
	waitScaledObject(t, ns, "infer", "floor folded into minReplicaCount", replicas(4, 8))
	setAnnotations(t, d, map[string]*string{intent.KeyPredictedFloor: ptr.To("20")})
	waitScaledObject(t, ns, "infer", "floor above max is clamped to max", replicas(8, 8))
	setAnnotations(t, d, map[string]*string{intent.KeyPredictedFloor: ptr.To("0")})
	waitScaledObject(t, ns, "infer", "floor below min keeps min", replicas(1, 8))
	// A floor left over once the workload is no longer predictive (the
	// predictor removes it at its next cycle) no longer counts.
	setAnnotations(t, d, map[string]*string{intent.KeyPredictedFloor: ptr.To("6")})
	waitScaledObject(t, ns, "infer", "floor folded in again", replicas(6, 8))
	setAnnotations(t, d, map[string]*string{intent.KeyPredictive: nil})
	waitScaledObject(t, ns, "infer", "stale floor without predictive is ignored", replicas(1, 8))
}

func TestBadAnnotationsKeepLastGoodObject(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	d := deployment(ns, "worker", map[string]string{intent.KeyAutoscale: "true", intent.KeyMaxReplicas: "6"}, cpuRequest())
	create(t, d)
	good := waitScaledObject(t, ns, "worker", "ScaledObject created", replicas(1, 6))

	// As if the webhook had been down: a value admission would deny.
	setAnnotations(t, d, map[string]*string{intent.KeyMaxReplicas: ptr.To("lots")})
	ev := waitEvent(t, d, ReasonRenderFailed)
	if ev.Type != corev1.EventTypeWarning || !strings.Contains(ev.Message, intent.KeyMaxReplicas) || !strings.Contains(ev.Message, `"lots"`) {
		t.Errorf("render failure event: %s %q", ev.Type, ev.Message)
	}
	got := &kedav1alpha1.ScaledObject{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(good), got); err != nil {
		t.Fatalf("the last good ScaledObject is gone: %v", err)
	}
	if got.ResourceVersion != good.ResourceVersion || ptr.Deref(got.Spec.MaxReplicaCount, -1) != 6 {
		t.Errorf("the last good ScaledObject changed: rv %s -> %s, max %v", good.ResourceVersion, got.ResourceVersion, got.Spec.MaxReplicaCount)
	}
	if n := reconciles(t, "deployment", ResultRenderError); n < 1 {
		t.Errorf("render_error reconciles %v, want at least 1", n)
	}

	// Put back as it was: the ScaledObject does not change, and a Synced
	// Event says that the failure is past.
	setAnnotations(t, d, map[string]*string{intent.KeyMaxReplicas: ptr.To("6")})
	ev = waitEvent(t, d, ReasonScaledObjectSynced)
	if ev.Type != corev1.EventTypeNormal || !strings.Contains(ev.Message, "ScaledObject "+ns+"/worker") {
		t.Errorf("synced event: %s %q", ev.Type, ev.Message)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(good), got); err != nil || got.ResourceVersion != good.ResourceVersion {
		t.Errorf("the ScaledObject changed when the annotations were put back: rv %s -> %s (%v)", good.ResourceVersion, got.ResourceVersion, err)
	}

	// Fixed with a new value: converges.
	setAnnotations(t, d, map[string]*string{intent.KeyMaxReplicas: ptr.To("9")})
	waitScaledObject(t, ns, "worker", "ScaledObject updated after the fix", replicas(1, 9))
	if n := len(eventsFor(t, ns, d.GetUID(), ReasonScaledObjectSynced)); n != 1 {
		t.Errorf("%d Synced Events, want 1 (an update says Updated)", n)
	}
}

func TestDeletedScaledObjectIsRecreated(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	d := deployment(ns, "queue", map[string]string{intent.KeyAutoscale: "true"}, cpuRequest())
	create(t, d)
	so := waitScaledObject(t, ns, "queue", "ScaledObject created", anyObject)
	oldUID := so.UID
	if err := k8s.Delete(ctx, so); err != nil {
		t.Fatal(err)
	}
	waitScaledObject(t, ns, "queue", "ScaledObject recreated", func(so *kedav1alpha1.ScaledObject) (bool, string) {
		return so.UID != oldUID, "still the old one"
	})

	// A hand edit of a field mlscale owns is reverted; a field mlscale
	// does not render, added by hand, stays (server-side apply removes
	// only the fields mlscale applied before and no longer does), as
	// docs/annotations.md says.
	so = waitScaledObject(t, ns, "queue", "ScaledObject", anyObject)
	so.Spec.MaxReplicaCount = ptr.To[int32](99)
	so.Spec.Fallback = &kedav1alpha1.Fallback{FailureThreshold: 3, Replicas: 2}
	if err := k8s.Update(ctx, so); err != nil {
		t.Fatal(err)
	}
	so = waitScaledObject(t, ns, "queue", "hand edit reverted", replicas(1, 10))
	if so.Spec.Fallback == nil || so.Spec.Fallback.Replicas != 2 {
		t.Errorf("the hand-added fallback is gone: %+v", so.Spec.Fallback)
	}
}

// TestLateScaledObjectOfOptedOutWorkloadIsRemoved: a ScaledObject that
// appears for a workload that has opted out, after the reconciler found
// nothing to delete (here created by the test, as an apply sent by an
// mlscale process that died before the API server finished it would be),
// is removed.
func TestLateScaledObjectOfOptedOutWorkloadIsRemoved(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	d := deployment(ns, "late", map[string]string{intent.KeyAutoscale: "false"}, cpuRequest())
	create(t, d)
	so := &kedav1alpha1.ScaledObject{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: "late",
			Labels: map[string]string{
				render.LabelManagedBy: render.ManagedByValue, render.LabelWorkloadKind: "Deployment", render.LabelWorkloadName: "late",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "Deployment", Name: "late", UID: d.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef: &kedav1alpha1.ScaleTarget{Name: "late"},
			Triggers:       []kedav1alpha1.ScaleTriggers{{Type: "cpu", MetricType: "Utilization", Metadata: map[string]string{"value": "70"}}},
		},
	}
	create(t, so)
	waitGone(t, so)
}

// TestOptOutAtZeroRestoresReplicas: a worker that KEDA took over at 2
// replicas and scaled to zero opts out; its ScaledObject is deleted and
// the worker is put back at 2 replicas, with an Event. KEDA does not run
// here, so nothing else restores them: as when KEDA's finalizer lost its
// restore to a conflict (it logs the error and deletes the ScaledObject
// anyway), which left the e2e suite's worker at zero. A workload KEDA
// never took over (no originalReplicaCount) is left as it is.
func TestOptOutAtZeroRestoresReplicas(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	queue := func(name string) *appsv1.Deployment {
		d := deployment(ns, name, map[string]string{
			intent.KeyAutoscale: "true", intent.KeyRabbitMQQueue: "tasks", intent.KeyRabbitMQAuth: "rabbitmq-auth", intent.KeyMaxReplicas: "5", intent.KeyScaleToZero: "true",
		}, corev1.ResourceRequirements{})
		d.Spec.Replicas = ptr.To(int32(2))
		create(t, d)
		return d
	}
	taken, untouched := queue("worker"), queue("fresh")
	restores := func(so *kedav1alpha1.ScaledObject) (bool, string) {
		ok := ptr.Deref(so.Spec.MinReplicaCount, -1) == 0 && so.Spec.Advanced != nil && so.Spec.Advanced.RestoreToOriginalReplicaCount
		return ok, fmt.Sprintf("min %d, advanced %+v", ptr.Deref(so.Spec.MinReplicaCount, -1), so.Spec.Advanced)
	}
	so := waitScaledObject(t, ns, "worker", "ScaledObject that restores replicas", restores)
	waitScaledObject(t, ns, "fresh", "ScaledObject that restores replicas", restores)
	// What KEDA does when it takes the worker over and scales it to zero.
	so.Status.OriginalReplicaCount = ptr.To(int32(2))
	if err := k8s.Status().Update(ctx, so); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*appsv1.Deployment{taken, untouched} {
		scale := &autoscalingv1.Scale{}
		if err := k8s.SubResource("scale").Get(ctx, d, scale); err != nil {
			t.Fatal(err)
		}
		scale.Spec.Replicas = 0
		if err := k8s.SubResource("scale").Update(ctx, d, client.WithSubResourceBody(scale)); err != nil {
			t.Fatal(err)
		}
		setAnnotations(t, d, map[string]*string{intent.KeyAutoscale: ptr.To("false")})
		waitGone(t, &kedav1alpha1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: d.Name}})
	}
	ev := waitEvent(t, taken, ReasonReplicasRestored)
	if !strings.Contains(ev.Message, "restored 2 replicas") {
		t.Errorf("event %q", ev.Message)
	}
	eventually(t, "worker back at 2 replicas", func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(taken), taken); err != nil {
			return false, err.Error()
		}
		return ptr.Deref(taken.Spec.Replicas, -1) == 2, fmt.Sprintf("replicas %d", ptr.Deref(taken.Spec.Replicas, -1))
	})
	waitEvent(t, untouched, ReasonScaledObjectDeleted)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(untouched), untouched); err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(untouched.Spec.Replicas, -1); got != 0 || len(eventsFor(t, ns, untouched.UID, ReasonReplicasRestored)) != 0 {
		t.Errorf("a workload KEDA never took over: replicas %d, want 0 as it was left", got)
	}
}

func TestGPUQuotaClampsMax(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, nil)
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gpus"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse("4")}},
	}
	create(t, quota)
	gpus := corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("2")}}
	d := deployment(ns, "llm", map[string]string{
		intent.KeyAutoscale: "true", intent.KeyMaxReplicas: "10", intent.KeyMinReplicas: "1",
		intent.KeyPrometheusQuery: `sum(rate(requests_total{app="llm"}[1m]))`,
	}, gpus)
	create(t, d)
	// 4 GPUs / 2 per pod = 2 replicas.
	waitScaledObject(t, ns, "llm", "max clamped by the GPU quota", replicas(1, 2))

	// A bigger quota re-renders the namespace's workloads.
	eventually(t, "quota raised", func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(quota), quota); err != nil {
			return false, err.Error()
		}
		quota.Spec.Hard["requests.nvidia.com/gpu"] = resource.MustParse("6")
		err := k8s.Update(ctx, quota)
		return err == nil, fmt.Sprint(err)
	})
	waitScaledObject(t, ns, "llm", "max follows the raised quota", replicas(1, 3))
}

func TestMetricsLint(t *testing.T) {
	needCluster(t)
	problems, err := testutil.GatherAndLint(registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	mfs, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"mlscale_reconcile_total", "mlscale_reconcile_duration_seconds", "mlscale_keda_objects"} {
		if !names[want] {
			t.Errorf("metric %s not exported (have %v)", want, names)
		}
	}
}
