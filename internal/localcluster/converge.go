package localcluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/manager"
	"github.com/mlscale/mlscale/internal/workload"
)

// Scheme knows the Kubernetes built-in types and KEDA's (manager.Scheme).
func Scheme() *runtime.Scheme {
	s, err := manager.Scheme()
	if err != nil {
		panic(err) // static registrations of generated types
	}
	return s
}

// NewClient returns a client for the built-in types and KEDA's.
func NewClient(cfg *rest.Config) (client.Client, error) {
	c, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	return c, nil
}

// Row is one workload and the KEDA object mlscale made for it.
type Row struct {
	// Workload names the workload.
	Workload Ref
	// OptedIn is true when the workload has mlscale.io/autoscale: "true".
	OptedIn bool
	// GPU is what one pod requests.
	GPU workload.GPUs
	// KEDA is the ScaledObject or ScaledJob; nil while missing (or for a
	// workload that has not opted in).
	KEDA client.Object
}

// Handled reports whether the row needs nothing more: a workload that has
// not opted in, or one whose KEDA object exists.
func (r Row) Handled() bool { return !r.OptedIn || r.KEDA != nil }

// KEDAKind is the kind of the KEDA object mlscale makes for a workload kind.
func KEDAKind(workloadKind string) string {
	if workloadKind == workload.KindJob {
		return "ScaledJob"
	}
	return "ScaledObject"
}

// Triggers lists the object's trigger names (the type when unnamed).
func (r Row) Triggers() []string {
	var ts []kedav1alpha1.ScaleTriggers
	switch o := r.KEDA.(type) {
	case *kedav1alpha1.ScaledObject:
		ts = o.Spec.Triggers
	case *kedav1alpha1.ScaledJob:
		ts = o.Spec.Triggers
	}
	var out []string
	for _, t := range ts {
		n := t.Name
		if n == "" {
			n = t.Type
		}
		out = append(out, n)
	}
	return out
}

// MinMax returns the KEDA object's replica bounds (-1 when unset).
func (r Row) MinMax() (minReplicas, maxReplicas int32) {
	minReplicas, maxReplicas = -1, -1
	switch o := r.KEDA.(type) {
	case *kedav1alpha1.ScaledObject:
		if o.Spec.MinReplicaCount != nil {
			minReplicas = *o.Spec.MinReplicaCount
		}
		if o.Spec.MaxReplicaCount != nil {
			maxReplicas = *o.Spec.MaxReplicaCount
		}
	case *kedav1alpha1.ScaledJob:
		if o.Spec.MinReplicaCount != nil {
			minReplicas = *o.Spec.MinReplicaCount
		}
		if o.Spec.MaxReplicaCount != nil {
			maxReplicas = *o.Spec.MaxReplicaCount
		}
	}
	return minReplicas, maxReplicas
}

// Workloads returns the created workloads among the outcomes, with what
// rendering needs to know about them.
func Workloads(outcomes []Outcome) ([]Row, error) {
	var rows []Row
	for _, o := range outcomes {
		if o.Created == nil {
			continue
		}
		gvk := o.Created.GroupVersionKind()
		if gvk != workload.DeploymentGVK && gvk != workload.StatefulSetGVK && gvk != workload.JobGVK {
			continue
		}
		w, err := workloadOf(o.Created)
		if err != nil {
			return nil, err
		}
		rows = append(rows, Row{
			Workload: o.Ref,
			OptedIn:  strings.TrimSpace(o.Created.GetAnnotations()[intent.KeyAutoscale]) == "true",
			GPU:      w.GPUsPerPod(),
		})
	}
	return rows, nil
}

func workloadOf(u *unstructured.Unstructured) (workload.Workload, error) {
	obj, err := Scheme().New(u.GroupVersionKind())
	if err != nil {
		return workload.Workload{}, err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return workload.Workload{}, fmt.Errorf("decoding %s: %w", RefOf(u), err)
	}
	return workload.FromObject(obj)
}

// WaitForKEDA polls until every opted-in workload in rows has its KEDA
// object, or until the timeout; it fills rows[i].KEDA with what it found and
// returns the number of rows still missing.
func WaitForKEDA(ctx context.Context, c client.Reader, rows []Row, timeout, interval time.Duration) (missing int, err error) {
	deadline := time.Now().Add(timeout)
	for {
		missing = 0
		for i := range rows {
			r := &rows[i]
			if !r.OptedIn || r.KEDA != nil {
				continue
			}
			var obj client.Object = &kedav1alpha1.ScaledObject{}
			if KEDAKind(r.Workload.GVK.Kind) == "ScaledJob" {
				obj = &kedav1alpha1.ScaledJob{}
			}
			err := c.Get(ctx, client.ObjectKey{Namespace: r.Workload.Namespace, Name: r.Workload.Name}, obj)
			switch {
			case err == nil:
				r.KEDA = obj
			case apierrors.IsNotFound(err):
				missing++
			default:
				if ctx.Err() != nil {
					return missing, ctx.Err()
				}
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return missing, nil
		}
		select {
		case <-ctx.Done():
			return missing, ctx.Err()
		case <-time.After(interval):
		}
	}
}
