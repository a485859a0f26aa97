package e2eloop

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mlscale/mlscale/test/kedaenv"
)

// TestDemoShowsPods runs `mlscale-demo --with-keda --once` as a user would
// (a control plane, KEDA and fake nodes of its own): with kube-scheduler and
// kwok built it runs the fake nodes, the woken worker's pod becomes Ready on
// one of them, and the closing table shows Ready pods next to the KEDA
// objects.
func TestDemoShowsPods(t *testing.T) {
	env(t)
	t.Parallel()
	run := kedaenv.RunDemo(t, suite.Root)
	out := run.Stdout
	for _, want := range []string{"woke up from zero", "Pods on the fake nodes"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// With --once the cluster is gone when the demo ends: no kubectl hint.
	if strings.Contains(out, "kubectl get pods -A -o wide") {
		t.Error("--once suggests kubectl for a cluster it removes")
	}
	if !strings.Contains(run.Stderr, "Simulated nodes: 2 GPU nodes") {
		t.Error("the demo did not run the fake nodes")
	}
	// The woken worker: one Ready pod on a CPU node; the vLLM server's on a GPU node.
	for _, re := range []string{
		`ScaledObject celery-worker\s+Deployment ml-demo/celery-worker\s+[1-9]\d*/[1-9]\d*\s+0\s+cpu-\d`,
		`ScaledObject llm-server\s+Deployment ml-demo/llm-server\s+\d+/\d+\s+0\s+(gpu-\d|-)`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("the closing table has no line matching %s", re)
		}
	}
}
