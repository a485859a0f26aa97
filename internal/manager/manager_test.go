package manager

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/mlscale/mlscale/internal/intent"
)

func TestCacheTransform(t *testing.T) {
	managed := []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	plain := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "w", Generation: 1}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)}}
	plain.ManagedFields = managed
	annotated := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "w", Generation: 1, Annotations: map[string]string{intent.KeyAutoscale: "true"}}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)}}
	annotated.ManagedFields = managed
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "w", Generation: 1}, Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](2)}}

	for _, o := range []any{plain, annotated, job} {
		if _, err := CacheTransform(o); err != nil {
			t.Fatal(err)
		}
	}
	if plain.Spec.Replicas != nil || plain.ManagedFields != nil || plain.Name != "w" {
		t.Errorf("unannotated Deployment not reduced to metadata: %+v", plain)
	}
	if annotated.Spec.Replicas == nil || annotated.ManagedFields != nil {
		t.Errorf("annotated Deployment: spec must stay, managedFields go: %+v", annotated)
	}
	if job.Spec.Parallelism != nil {
		t.Errorf("unannotated Job keeps its spec")
	}
	// Tombstones and other values pass through.
	if v, err := CacheTransform("tombstone"); err != nil || v != "tombstone" {
		t.Errorf("CacheTransform(non-object) = %v, %v", v, err)
	}
}
