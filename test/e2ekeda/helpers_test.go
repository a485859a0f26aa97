package e2ekeda

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/test/kubetest"
)

// rabbitHost is the RabbitMQ host the test workloads name: a cluster DNS
// name that KEDA's operator resolves to the test broker (kedaenv's host
// aliases).
const rabbitHost = "rabbitmq.ml-demo.svc.cluster.local"

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

// namespace creates a namespace opted in to mlscale, with the sample
// RabbitMQ Secret and TriggerAuthentication (rabbitmq-auth), and deletes it
// afterwards.
func namespace(t *testing.T, name string) string {
	t.Helper()
	kubetest.Namespace(t, suite.Client, name, map[string]string{"mlscale.io/enabled": "true"})
	mustKubectl(t, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: rabbitmq-credentials
  namespace: %[1]s
stringData:
  username: %[2]s
  password: %[3]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: rabbitmq-auth
  namespace: %[1]s
spec:
  secretTargetRef:
    - {parameter: username, name: rabbitmq-credentials, key: username}
    - {parameter: password, name: rabbitmq-credentials, key: password}
`, name, suite.KEDA.RabbitMQ.User, suite.KEDA.RabbitMQ.Password), "apply", "-f", "-")
	return name
}

// workload is an annotated Deployment or Job manifest.
func workload(kind, namespace, name string, replicas int, annotations map[string]string) string {
	var b strings.Builder
	api := "apps/v1"
	if kind == "Job" {
		api = "batch/v1"
	}
	fmt.Fprintf(&b, "apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n  namespace: %s\n  annotations:\n", api, kind, name, namespace)
	for _, k := range slices.Sorted(maps.Keys(annotations)) {
		fmt.Fprintf(&b, "    %s: %q\n", k, annotations[k])
	}
	b.WriteString("spec:\n")
	if kind == "Job" {
		b.WriteString("  template:\n    spec:\n      restartPolicy: Never\n")
	} else {
		fmt.Fprintf(&b, "  replicas: %d\n  selector:\n    matchLabels:\n      app: %s\n  template:\n    metadata:\n      labels:\n        app: %s\n    spec:\n", replicas, name, name)
	}
	b.WriteString(`      containers:
        - name: app
          image: registry.example/worker:1
          resources:
            requests:
              cpu: 100m
              memory: 64Mi
`)
	return b.String()
}

// rabbitAnnotations opt a workload in with a RabbitMQ trigger on queue.
func rabbitAnnotations(profile, queue string, extra map[string]string) map[string]string {
	a := map[string]string{
		"mlscale.io/autoscale":        "true",
		"mlscale.io/profile":          profile,
		"mlscale.io/rabbitmq-queue":   queue,
		"mlscale.io/rabbitmq-host":    rabbitHost,
		"mlscale.io/rabbitmq-auth":    "rabbitmq-auth",
		"mlscale.io/polling-interval": "1s",
	}
	maps.Copy(a, extra)
	return a
}

// getKEDA reads a ScaledObject or ScaledJob as unstructured.
func getKEDA(ctx context.Context, kind, namespace, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: kind})
	err := suite.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u)
	return u, err
}

// condition returns the status and message of a KEDA condition ("" when absent).
func condition(u *unstructured.Unstructured, typ string) (status, message string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == typ {
			s, _ := m["status"].(string)
			msg, _ := m["message"].(string)
			return s, msg
		}
	}
	return "", ""
}

// waitCondition waits until KEDA's object has condition typ = want.
func waitCondition(t *testing.T, timeout time.Duration, kind, namespace, name, typ, want string) {
	t.Helper()
	kubetest.Eventually(t, timeout, fmt.Sprintf("%s %s/%s %s=%s", kind, namespace, name, typ, want), func() error {
		u, err := getKEDA(context.Background(), kind, namespace, name)
		if err != nil {
			return err
		}
		if s, msg := condition(u, typ); s != want {
			return fmt.Errorf("%s=%q (%s)", typ, s, msg)
		}
		return nil
	})
}

// kedaHPA returns the HPA KEDA made for a ScaledObject.
func kedaHPA(namespace, name string) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{}
	err := suite.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: "keda-hpa-" + name}, hpa)
	return hpa, err
}

// replicas reads a Deployment's spec.replicas.
func replicas(namespace, name string) (int32, error) {
	d := &appsv1.Deployment{}
	if err := suite.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
		return -1, err
	}
	if d.Spec.Replicas == nil {
		return 1, nil
	}
	return *d.Spec.Replicas, nil
}

// waitReplicas waits until a Deployment's spec.replicas satisfies ok.
func waitReplicas(t *testing.T, timeout time.Duration, namespace, name, what string, ok func(int32) bool) int32 {
	t.Helper()
	var got int32
	kubetest.Eventually(t, timeout, fmt.Sprintf("Deployment %s/%s spec.replicas %s", namespace, name, what), func() error {
		r, err := replicas(namespace, name)
		if err != nil {
			return err
		}
		got = r
		if !ok(r) {
			return fmt.Errorf("spec.replicas = %d", r)
		}
		return nil
	})
	return got
}

// gone returns nil once a Get of obj is NotFound.
func gone(obj client.Object, namespace, name string) error {
	err := suite.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, obj)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	default:
		return fmt.Errorf("%s/%s still exists (deletionTimestamp %v, finalizers %v)", namespace, name, obj.GetDeletionTimestamp(), obj.GetFinalizers())
	}
}
