package demo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/test/kedaenv"
	"github.com/mlscale/mlscale/test/localcluster"
)

// demoSimulation is the simulated cluster of --with-keda: two GPU nodes of
// 8 GPUs, two CPU nodes, pods Ready 10s after they start.
var demoSimulation = kedaenv.Simulation{GPUNodes: 2, GPUsPerNode: 8, CPUNodes: 2, ColdStart: 10 * time.Second}

// podsOf lists the pods of a Deployment or StatefulSet (by its selector);
// nil for other kinds.
func podsOf(ctx context.Context, c client.Client, ref localcluster.Ref) ([]corev1.Pod, error) {
	var sel *metav1.LabelSelector
	switch ref.GVK.Kind {
	case "Deployment":
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, d); err != nil {
			return nil, err
		}
		sel = d.Spec.Selector
	case "StatefulSet":
		s := &appsv1.StatefulSet{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, s); err != nil {
			return nil, err
		}
		sel = s.Spec.Selector
	default:
		return nil, nil
	}
	ls, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, err
	}
	var list corev1.PodList
	if err := c.List(ctx, &list, client.InNamespace(ref.Namespace), client.MatchingLabelsSelector{Selector: ls}); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// waitPodsReady waits until every pod of the workload that is on a node is
// Ready (kwok's cold start), or the deadline passes.
func waitPodsReady(ctx context.Context, c client.Client, ref localcluster.Ref, deadline time.Time) error {
	for {
		ps, err := podsOf(ctx, c, ref)
		if err != nil {
			return err
		}
		ready, bound := 0, 0
		for i := range ps {
			if ps[i].Spec.NodeName != "" {
				bound++
				if kedaenv.PodReady(&ps[i]) {
					ready++
				}
			}
		}
		if (bound > 0 && ready == bound) || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// printPodsTable prints each KEDA object with its workload's pods: Ready,
// all, Pending (not scheduled: no node fits), and the nodes they are on.
func printPodsTable(ctx context.Context, w io.Writer, c client.Client, rows []localcluster.Row) error {
	fmt.Fprintln(w, "\nPods on the fake nodes (kwok: scheduled for real, no container runs):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEDA OBJECT\tWORKLOAD\tREADY PODS\tPENDING\tNODES")
	for _, r := range rows {
		if r.KEDA == nil {
			continue
		}
		kind := localcluster.KEDAKind(r.Workload.GVK.Kind)
		if r.Workload.GVK.Kind == "Job" {
			fmt.Fprintf(tw, "%s %s\t%s\t-\t-\t(KEDA starts Jobs per message)\n", kind, r.KEDA.GetName(), r.Workload)
			continue
		}
		ps, err := podsOf(ctx, c, r.Workload)
		if err != nil {
			return err
		}
		ready, pending := 0, 0
		var nodes []string
		for i := range ps {
			p := &ps[i]
			if p.Spec.NodeName == "" {
				pending++
				continue
			}
			if kedaenv.PodReady(p) {
				ready++
			}
			if !slices.Contains(nodes, p.Spec.NodeName) {
				nodes = append(nodes, p.Spec.NodeName)
			}
		}
		slices.Sort(nodes)
		where := strings.Join(nodes, ",")
		if where == "" {
			where = "-"
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%d/%d\t%d\t%s\n", kind, r.KEDA.GetName(), r.Workload, ready, len(ps), pending, where)
	}
	return tw.Flush()
}
