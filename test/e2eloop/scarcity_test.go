package e2eloop

import (
	"context"
	"fmt"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/test/kedaenv"
	"github.com/mlscale/mlscale/test/kubetest"
)

// TestGPUBudgetKeepsPodsAway is scenario 2, GPU scarcity: a 4-GPU server
// whose max-replicas (10, 40 GPUs) exceeds the cluster's 32 GPUs, in a
// namespace whose GPU budget (a ResourceQuota of 12 nvidia.com/gpu) allows
// 3 replicas. mlscale renders maxReplicaCount 3, so with demand for 10
// replicas the HPA is capped at 3 (ScalingLimited, TooManyReplicas): the
// Deployment never asks for a 4th pod, no pod above the budget ever exists
// (none refused by quota admission, none Pending), and the 3 are Running
// and Ready on the GPU nodes.
func TestGPUBudgetKeepsPodsAway(t *testing.T) {
	env(t)
	t.Parallel()
	const (
		capacity = 10
		gpus     = 4
		budget   = 12
	)
	ns := namespace(t, "loop-scarce", true)
	mustKubectl(t, fmt.Sprintf(`apiVersion: v1
kind: ResourceQuota
metadata: {name: gpu-budget, namespace: %s}
spec:
  hard: {requests.nvidia.com/gpu: "%d"}
`, ns, budget), "apply", "-f", "-")
	suite.replay.Add(kedaenv.Workload{Name: "scarce-llm", Namespace: ns, Selector: map[string]string{"app": "big"}, CapacityPerReplica: capacity})
	suite.replay.Set("scarce-llm", 0)
	// The budget must be visible to mlscale (it reads the quota's hard
	// limits) before the workload is admitted.
	annotations := demandAnnotations("scarce-llm", capacity, map[string]string{"mlscale.io/max-replicas": "10"})
	mustKubectl(t, gpuServer(ns, "big", 0, gpus, annotations), "apply", "-f", "-")
	so := waitReady(t, 2*time.Minute, ns, "big")
	if maxR, _, _ := unstructured.NestedInt64(so.Object, "spec", "maxReplicaCount"); maxR != budget/gpus {
		t.Fatalf("maxReplicaCount %d, want %d (GPU budget %d / %d GPUs per pod)", maxR, budget/gpus, budget, gpus)
	}

	watch := watchMax(t, ns, "big")
	suite.replay.Set("scarce-llm", 10*capacity)
	ps := waitPods(t, 3*time.Minute, ns, "big", "3 Ready", func(c podCounts) bool { return c.ready == budget/gpus })
	checkOnGPUNodes(t, ps)
	// The HPA wants 10 replicas and is held at 3 by mlscale's maximum.
	kubetest.Eventually(t, time.Minute, "KEDA's HPA ScalingLimited by TooManyReplicas", func() error {
		hpa := &autoscalingv2.HorizontalPodAutoscaler{}
		if err := suite.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "keda-hpa-big"}, hpa); err != nil {
			return err
		}
		if hpa.Spec.MaxReplicas != budget/gpus {
			return fmt.Errorf("HPA maxReplicas %d", hpa.Spec.MaxReplicas)
		}
		for _, c := range hpa.Status.Conditions {
			if c.Type == autoscalingv2.ScalingLimited {
				if c.Status == corev1.ConditionTrue && c.Reason == "TooManyReplicas" {
					return nil
				}
				return fmt.Errorf("ScalingLimited=%s (%s: %s)", c.Status, c.Reason, c.Message)
			}
		}
		return fmt.Errorf("no ScalingLimited condition")
	})
	// The replayer counts pods every kedaenv.PodsInterval.
	var s kedaenv.Sample
	kubetest.Eventually(t, 10*time.Second, "the replayer sees the 3 replicas holding the budget's 12 GPUs", func() error {
		var err error
		if s, err = suite.replay.Sample("scarce-llm"); err != nil {
			return err
		}
		if s.GPUs != budget || s.Ready != budget/gpus {
			return fmt.Errorf("%+v", s)
		}
		return nil
	})
	maxPods, maxReplicas := watch()
	t.Logf("demand for 10 replicas: %d Ready pods on %d GPUs, %g of %g demand unserved; at most %d pods and spec.replicas %d seen",
		s.Ready, s.GPUs, s.Unserved, s.Demand, maxPods, maxReplicas)
	if maxPods > budget/gpus || maxReplicas > budget/gpus {
		t.Errorf("at most %d replicas fit the budget; saw %d pods and spec.replicas %d", budget/gpus, maxPods, maxReplicas)
	}
	// Nothing above the budget was even tried: no pod refused by quota
	// admission (the ReplicaSet controller's FailedCreate).
	var events corev1.EventList
	if err := suite.Client.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.Reason == "FailedCreate" || e.Reason == "FailedScheduling" {
			t.Errorf("event %s on %s/%s: %s", e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message)
		}
	}

	suite.replay.Set("scarce-llm", 0)
	waitPods(t, 2*time.Minute, ns, "big", "all gone", func(c podCounts) bool { return c.all == 0 })
}
