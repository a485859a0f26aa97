package e2eloop

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mlscale/mlscale/test/kedaenv"
	"github.com/mlscale/mlscale/test/kubetest"
)

// TestGPUServerZeroToNToZero is scenario 1: a GPU inference Deployment
// scaled by mlscale on its demand (a Prometheus trigger on the replayed
// gauge, one replica per 10 of demand) goes 0 -> 3 -> 0, with its pods
// scheduled onto the fake GPU nodes, Running and Ready after the cold start,
// and gone again when the demand stops.
func TestGPUServerZeroToNToZero(t *testing.T) {
	env(t)
	t.Parallel()
	const capacity = 10
	ns := namespace(t, "loop-zero", true)
	suite.replay.Add(kedaenv.Workload{Name: "zero-llm", Namespace: ns, Selector: map[string]string{"app": "llm"}, CapacityPerReplica: capacity})
	suite.replay.Set("zero-llm", 0)
	mustKubectl(t, gpuServer(ns, "llm", 0, 1, demandAnnotations("zero-llm", capacity, nil)), "apply", "-f", "-")
	so := waitReady(t, 2*time.Minute, ns, "llm")
	if minR, _, _ := unstructured.NestedInt64(so.Object, "spec", "minReplicaCount"); minR != 0 {
		t.Fatalf("minReplicaCount %d, want 0 (scale-to-zero)", minR)
	}
	if n := len(pods(t, ns, "llm")); n != 0 {
		t.Fatalf("%d pods before any demand", n)
	}

	start := time.Now()
	suite.replay.Set("zero-llm", 3*capacity)
	ps := waitPods(t, 3*time.Minute, ns, "llm", "3 Ready", func(c podCounts) bool { return c.all == 3 && c.ready == 3 })
	t.Logf("demand 0 -> %d: 3 pods Ready %s later", 3*capacity, time.Since(start).Round(time.Second))
	checkOnGPUNodes(t, ps)
	for i := range ps {
		checkColdStart(t, &ps[i])
	}
	if r := replicas(t, ns, "llm"); r != 3 {
		t.Errorf("spec.replicas %d, want 3", r)
	}
	// The replayer counts pods every kedaenv.PodsInterval.
	kubetest.Eventually(t, 10*time.Second, "the replayer sees the demand served by 3 replicas on 3 GPUs", func() error {
		s, err := suite.replay.Sample("zero-llm")
		if err != nil {
			return err
		}
		if s.Unserved != 0 || s.GPUs != 3 || s.Ready != 3 {
			return fmt.Errorf("%+v", s)
		}
		return nil
	})

	start = time.Now()
	suite.replay.Set("zero-llm", 0)
	waitPods(t, 2*time.Minute, ns, "llm", "all gone", func(c podCounts) bool { return c.all == 0 })
	if r := replicas(t, ns, "llm"); r != 0 {
		t.Errorf("spec.replicas %d, want 0", r)
	}
	t.Logf("demand -> 0: scaled to zero, pods gone %s later", time.Since(start).Round(time.Second))
}
