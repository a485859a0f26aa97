package e2eloop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/test/kedaenv"
	"github.com/mlscale/mlscale/test/kubetest"
)

// TestSimulatedCluster checks the simulated cluster itself, without
// mlscale: the fake nodes carry their GPUs and NVIDIA's labels, the
// scheduler counts GPU requests (a pod that no node can fit stays Pending,
// Unschedulable for want of nvidia.com/gpu), and kwok makes a scheduled pod
// Ready a cold start after it started.
func TestSimulatedCluster(t *testing.T) {
	env(t)
	ctx := context.Background()
	var nodes corev1.NodeList
	if err := suite.Client.List(ctx, &nodes); err != nil {
		t.Fatal(err)
	}
	gpuNodes, cpuNodes := 0, 0
	for _, n := range nodes.Items {
		if !nodeReady(&n) {
			t.Errorf("node %s is not Ready", n.Name)
		}
		q := n.Status.Allocatable[kedaenv.GPUResource]
		switch n.Labels[kedaenv.LabelNodePool] {
		case "gpu":
			gpuNodes++
			if q.Value() != int64(simulation.GPUsPerNode) || n.Labels["nvidia.com/gpu.product"] == "" || n.Labels["nvidia.com/gpu.count"] != fmt.Sprint(simulation.GPUsPerNode) {
				t.Errorf("GPU node %s: allocatable %s nvidia.com/gpu, labels %v", n.Name, q.String(), n.Labels)
			}
		case "cpu":
			cpuNodes++
			if !q.IsZero() {
				t.Errorf("CPU node %s has %s GPUs", n.Name, q.String())
			}
		}
	}
	if gpuNodes != simulation.GPUNodes || cpuNodes != simulation.CPUNodes {
		t.Fatalf("%d GPU and %d CPU nodes, want %d and %d", gpuNodes, cpuNodes, simulation.GPUNodes, simulation.CPUNodes)
	}

	// One more whole-node pod than there are GPU nodes: one stays Pending.
	ns := namespace(t, "sim-fill", false)
	want := simulation.GPUNodes + 1
	mustKubectl(t, gpuServer(ns, "fill", want, simulation.GPUsPerNode, nil), "apply", "-f", "-")
	ps := waitPods(t, 2*time.Minute, ns, "fill", fmt.Sprintf("%d Ready, 1 Pending", simulation.GPUNodes), func(c podCounts) bool {
		return c.all == want && c.ready == simulation.GPUNodes && c.pending == 1
	})
	seen := map[string]bool{}
	for _, p := range ps {
		if p.Spec.NodeName == "" {
			checkUnschedulable(t, &p)
			continue
		}
		if seen[p.Spec.NodeName] {
			t.Errorf("two 8-GPU pods on node %s", p.Spec.NodeName)
		}
		seen[p.Spec.NodeName] = true
		checkColdStart(t, &p)
	}
	checkOnGPUNodes(t, boundPods(ps))

	mustKubectl(t, "", "delete", "deployment", "-n", ns, "fill")
	waitPods(t, 2*time.Minute, ns, "fill", "all gone", func(c podCounts) bool { return c.all == 0 })
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func boundPods(ps []corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range ps {
		if p.Spec.NodeName != "" {
			out = append(out, p)
		}
	}
	return out
}

// checkUnschedulable fails unless the scheduler reports the pod
// Unschedulable for want of GPUs.
func checkUnschedulable(t *testing.T, p *corev1.Pod) {
	t.Helper()
	kubetest.Eventually(t, time.Minute, "pod "+p.Name+" Unschedulable: Insufficient nvidia.com/gpu", func() error {
		cur := &corev1.Pod{}
		if err := suite.Client.Get(context.Background(), client.ObjectKeyFromObject(p), cur); err != nil {
			return err
		}
		for _, c := range cur.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable &&
				strings.Contains(c.Message, "Insufficient "+string(kedaenv.GPUResource)) {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", cur.Status.Conditions)
	})
}

// checkColdStart fails unless the pod became Ready at least the cold start
// after kwok started it (status.startTime), as kwok's Stage says.
func checkColdStart(t *testing.T, p *corev1.Pod) {
	t.Helper()
	if p.Status.StartTime == nil {
		t.Errorf("pod %s has no startTime", p.Name)
		return
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			// Condition times have a resolution of one second.
			if d := c.LastTransitionTime.Sub(p.Status.StartTime.Time); d < simulation.ColdStart-time.Second {
				t.Errorf("pod %s Ready %s after its start, before the cold start of %s", p.Name, d, simulation.ColdStart)
			}
			return
		}
	}
	t.Errorf("pod %s is not Ready", p.Name)
}
