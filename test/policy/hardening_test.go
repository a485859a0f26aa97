package policy_test

import (
	"strings"
	"testing"
	"time"
)

// TestScaledObjectTargetGPUBudget: a hand-written ScaledObject whose
// maxReplicaCount times its target Deployment's GPUs exceeds the
// namespace's ResourceQuota is refused at admission. The target is an
// unannotated Deployment, which the webhook's cache keeps without most of
// its spec: the GPU fields must survive (manager.CacheTransform).
func TestScaledObjectTargetGPUBudget(t *testing.T) {
	env(t)
	ns := namespace(t, "so-gpu-budget")
	docs := strings.Split(sample(t, "gpu_budget", "denied", "scaledobject-target-over-quota.yaml"), "\n---\n")
	if len(docs) != 3 {
		t.Fatalf("the sample has %d documents, want quota, Deployment, ScaledObject", len(docs))
	}
	quota, deploy, so := docs[0], docs[1], docs[2]
	mustKubectl(t, quota+"\n---\n"+deploy, "apply", "-n", ns, "-f", "-")

	// The webhook reads the target from its informer cache: wait until the
	// Deployment has arrived there, i.e. until the dry run is refused.
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, err = kubectl(t, so, "create", "--dry-run=server", "-n", ns, "-f", "-"); err != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err == nil {
		t.Fatal("a ScaledObject scaling its GPU Deployment to 8 x 2 GPUs over a quota of 8 was admitted")
	}
	for _, want := range []string{"gpu_budget", "ScaledObject " + ns + "/llm may scale to 8 replicas x 2 GPUs per pod = 16 GPUs", "ResourceQuota " + ns + "/gpus", "to 4 or less"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("denial does not say %q: %v", want, err)
		}
	}
	// Within the budget it is admitted.
	mustKubectl(t, strings.Replace(so, "maxReplicaCount: 8", "maxReplicaCount: 4", 1), "apply", "-n", ns, "-f", "-")
}

// TestSecondScaledObjectRejected: a second ScaledObject on a workload that
// a ScaledObject already scales is refused itself, before any HPA exists.
func TestSecondScaledObjectRejected(t *testing.T) {
	env(t)
	ns := namespace(t, "second-so")
	docs := strings.Split(sample(t, "scaledobject_duplicate_target", "denied", "second-scaled-object.yaml"), "\n---\n")
	mustKubectl(t, docs[0], "apply", "-n", ns, "-f", "-")
	_, _, err := kubectl(t, docs[1], "apply", "-n", ns, "-f", "-")
	if err == nil {
		t.Fatal("the second ScaledObject on Deployment web was admitted")
	}
	if want := "ScaledObject " + ns + "/web-2 would scale Deployment " + ns + "/web, which ScaledObject " + ns + "/web already scales"; !strings.Contains(err.Error(), want) {
		t.Errorf("denial does not say %q: %v", want, err)
	}
	if out, _, err := kubectl(t, "", "get", "scaledobject", "-n", ns, "web-2"); err == nil {
		t.Errorf("the denied ScaledObject exists: %s", out)
	}
}
