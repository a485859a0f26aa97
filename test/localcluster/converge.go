package localcluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/manager"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
	"github.com/mlscale/mlscale/webhook/reconciler"
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
	// UID is the created workload's uid, which its Events refer to.
	UID types.UID
	// OptedIn is true when the workload has mlscale.io/autoscale: "true".
	OptedIn bool
	// GPU is what one pod requests.
	GPU workload.GPUs
	// KEDA is the ScaledObject or ScaledJob; nil while missing (or for a
	// workload that has not opted in).
	KEDA client.Object
	// RenderFailed is the message of the reconciler's RenderFailed Event
	// for the workload: its annotations cannot be rendered (admission,
	// which would have rejected them, does not check its namespace), so
	// no KEDA object will come. Empty when there is no such Event.
	RenderFailed string
}

// Handled reports whether the row needs nothing more: a workload that has
// not opted in, one whose KEDA object exists, or one the reconciler
// reported it cannot render.
func (r Row) Handled() bool { return !r.OptedIn || r.KEDA != nil || r.RenderFailed != "" }

// KEDAKind is the kind of the KEDA object mlscale makes for a workload kind
// (workload.Kinds).
func KEDAKind(workloadKind string) string {
	for _, k := range workload.Kinds {
		if k.GVK.Kind == workloadKind {
			return k.KEDA.Kind
		}
	}
	return ""
}

// Triggers lists the object's trigger names (the type when unnamed).
func (r Row) Triggers() []string {
	_, _, ts := render.KEDASpec(r.KEDA)
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
	lo, hi, _ := render.KEDASpec(r.KEDA)
	return ptr.Deref(lo, -1), ptr.Deref(hi, -1)
}

// Workloads returns the created workloads among the outcomes, with what
// rendering needs to know about them.
func Workloads(outcomes []Outcome) ([]Row, error) {
	var rows []Row
	for _, o := range outcomes {
		if o.Created == nil {
			continue
		}
		if k, ok := workload.KindOf(o.Created.GroupVersionKind().GroupKind()); !ok || k.GVK != o.Created.GroupVersionKind() {
			continue
		}
		w, err := workloadOf(o.Created)
		if err != nil {
			return nil, err
		}
		rows = append(rows, Row{
			Workload: o.Ref,
			UID:      o.Created.GetUID(),
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
// object or a RenderFailed Event from the reconciler (bad annotations in a
// namespace admission does not check: no KEDA object will come), or until
// the timeout. It fills rows[i].KEDA and rows[i].RenderFailed with what it
// found and returns the number of rows with neither.
func WaitForKEDA(ctx context.Context, c client.Reader, rows []Row, timeout, interval time.Duration) (missing int, err error) {
	deadline := time.Now().Add(timeout)
	for {
		missing = 0
		var waiting []*Row
		for i := range rows {
			r := &rows[i]
			if r.Handled() {
				continue
			}
			k, _ := workload.KindOf(r.Workload.GVK.GroupKind())
			obj := k.NewKEDA()
			err := c.Get(ctx, client.ObjectKey{Namespace: r.Workload.Namespace, Name: r.Workload.Name}, obj)
			switch {
			case err == nil:
				r.KEDA = obj
				continue
			case apierrors.IsNotFound(err):
			default:
				if ctx.Err() != nil {
					return missing, ctx.Err()
				}
			}
			waiting = append(waiting, r)
		}
		if err := renderFailures(ctx, c, waiting); err != nil {
			return len(waiting), err
		}
		for _, r := range waiting {
			if r.RenderFailed == "" {
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

// renderFailures sets RenderFailed on each row whose workload has a
// RenderFailed Event. Events that cannot be listed are not an error (a
// later poll tries again), unless ctx has ended.
func renderFailures(ctx context.Context, c client.Reader, rows []*Row) error {
	namespaces := map[string]bool{}
	for _, r := range rows {
		namespaces[r.Workload.Namespace] = true
	}
	for ns := range namespaces {
		events := &eventsv1.EventList{}
		if err := c.List(ctx, events, client.InNamespace(ns)); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		for _, e := range events.Items {
			if e.Reason != reconciler.ReasonRenderFailed {
				continue
			}
			for _, r := range rows {
				if e.Regarding.UID != "" && e.Regarding.UID == r.UID {
					r.RenderFailed = e.Note
				}
			}
		}
	}
	return nil
}
