package e2eloop

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/test/kedaenv"
	"github.com/mlscale/mlscale/test/kubetest"
)

// kubectl runs the real kubectl against the cluster; stdin may be "".
func kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	return suite.Kubectl(t, stdin, args...)
}

// mustKubectl runs kubectl and fails the test when it fails.
func mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return suite.MustKubectl(t, stdin, args...)
}

// namespace creates a namespace opted in to mlscale when optIn is set.
func namespace(t *testing.T, name string, optIn bool) string {
	t.Helper()
	labels := map[string]string{}
	if optIn {
		labels["mlscale.io/enabled"] = "true"
	}
	return kubetest.Namespace(t, suite.Client, name, labels)
}

// gpuServer is a GPU inference Deployment (a vLLM server, as far as the
// scheduler can tell) with app=name, gpus nvidia.com/gpu per pod, on the
// GPU nodes (the label NVIDIA's GPU feature discovery sets; it tolerates
// their taint).
func gpuServer(namespace, name string, replicas, gpus int, annotations map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  namespace: %s\n  annotations:\n", name, namespace)
	for _, k := range slices.Sorted(maps.Keys(annotations)) {
		fmt.Fprintf(&b, "    %s: %q\n", k, annotations[k])
	}
	if len(annotations) == 0 {
		b.WriteString("    {}\n")
	}
	fmt.Fprintf(&b, `spec:
  replicas: %[1]d
  selector:
    matchLabels: {app: %[2]s}
  template:
    metadata:
      labels: {app: %[2]s}
    spec:
      nodeSelector: {nvidia.com/gpu.present: "true"}
      tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
      terminationGracePeriodSeconds: 5
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.11.0
          args: [--model, meta-llama/Llama-3.1-8B-Instruct]
          resources:
            requests: {cpu: "4", memory: 32Gi, nvidia.com/gpu: "%[3]d"}
            limits: {nvidia.com/gpu: "%[3]d"}
`, replicas, name, gpus)
	return b.String()
}

// demandAnnotations opt a GPU server in with a Prometheus trigger on its
// replayed demand: one replica per capacity of demand.
func demandAnnotations(name string, capacity int, extra map[string]string) map[string]string {
	a := map[string]string{
		"mlscale.io/autoscale":                "true",
		"mlscale.io/prometheus-query":         fmt.Sprintf(`sum(%s{workload=%q})`, kedaenv.MetricDemand, name),
		"mlscale.io/prometheus-target":        fmt.Sprint(capacity),
		"mlscale.io/polling-interval":         "1s",
		"mlscale.io/cooldown":                 "10s",
		"mlscale.io/scale-down-stabilization": "0s",
		"mlscale.io/max-replicas":             "4",
	}
	maps.Copy(a, extra)
	return a
}

// pods lists the pods with app=name in namespace.
func pods(t *testing.T, namespace, app string) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	if err := suite.Client.List(context.Background(), &list, client.InNamespace(namespace), client.MatchingLabels{"app": app}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// podCounts counts the pods that exist, are bound to a node, and are Ready.
type podCounts struct{ all, bound, ready, pending int }

func countPods(ps []corev1.Pod) podCounts {
	var c podCounts
	for i := range ps {
		p := &ps[i]
		c.all++
		if p.Spec.NodeName != "" {
			c.bound++
		} else {
			c.pending++
		}
		if p.DeletionTimestamp == nil && kedaenv.PodReady(p) {
			c.ready++
		}
	}
	return c
}

// waitPods waits until the pods of app satisfy ok and returns them.
func waitPods(t *testing.T, timeout time.Duration, namespace, app, what string, ok func(podCounts) bool) []corev1.Pod {
	t.Helper()
	var ps []corev1.Pod
	kubetest.Eventually(t, timeout, fmt.Sprintf("pods of %s/%s: %s", namespace, app, what), func() error {
		ps = pods(t, namespace, app)
		if c := countPods(ps); !ok(c) {
			return fmt.Errorf("%d pods, %d on a node, %d Ready", c.all, c.bound, c.ready)
		}
		return nil
	})
	return ps
}

// checkOnGPUNodes fails the test unless every pod is Running on a fake GPU node.
func checkOnGPUNodes(t *testing.T, ps []corev1.Pod) {
	t.Helper()
	for _, p := range ps {
		n := &corev1.Node{}
		if err := suite.Client.Get(context.Background(), client.ObjectKey{Name: p.Spec.NodeName}, n); err != nil {
			t.Errorf("pod %s on node %q: %v", p.Name, p.Spec.NodeName, err)
			continue
		}
		if n.Labels["nvidia.com/gpu.present"] != "true" || n.Annotations[kedaenv.KwokNodeAnnotation] != "fake" {
			t.Errorf("pod %s on node %s, not a fake GPU node (labels %v)", p.Name, n.Name, n.Labels)
		}
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s is %s, not Running", p.Name, p.Status.Phase)
		}
	}
}

// replicas reads a Deployment's spec.replicas.
func replicas(t *testing.T, namespace, name string) int32 {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := suite.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
		t.Fatal(err)
	}
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// getKEDA reads a ScaledObject or ScaledJob as unstructured.
func getKEDA(ctx context.Context, kind, namespace, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: kind})
	err := suite.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u)
	return u, err
}

// waitReady waits until a ScaledObject is Ready=True.
func waitReady(t *testing.T, timeout time.Duration, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	var u *unstructured.Unstructured
	kubetest.Eventually(t, timeout, fmt.Sprintf("ScaledObject %s/%s Ready=True", namespace, name), func() error {
		var err error
		if u, err = getKEDA(context.Background(), "ScaledObject", namespace, name); err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
				if m["status"] == "True" {
					return nil
				}
				return fmt.Errorf("Ready=%v: %v", m["status"], m["message"])
			}
		}
		return fmt.Errorf("no Ready condition yet")
	})
	return u
}

// watchMax polls the pods of app and the Deployment's spec.replicas every
// 250ms until stop is called, and returns the largest pod count and
// spec.replicas seen.
func watchMax(t *testing.T, namespace, app string) (stop func() (maxPods int, maxReplicas int32)) {
	t.Helper()
	done := make(chan struct{})
	result := make(chan [2]int, 1)
	go func() {
		var mp, mr int
		for {
			var list corev1.PodList
			if err := suite.Client.List(context.Background(), &list, client.InNamespace(namespace), client.MatchingLabels{"app": app}); err == nil {
				mp = max(mp, len(list.Items))
			}
			d := &appsv1.Deployment{}
			if err := suite.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: app}, d); err == nil && d.Spec.Replicas != nil {
				mr = max(mr, int(*d.Spec.Replicas))
			}
			select {
			case <-done:
				result <- [2]int{mp, mr}
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return func() (int, int32) {
		close(done)
		r := <-result
		return r[0], int32(r[1])
	}
}
