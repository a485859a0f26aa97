package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/test/kubetest"
	"github.com/mlscale/mlscale/test/localcluster"
)

// kubectlResult is what one kubectl run printed.
type kubectlResult struct {
	stdout, stderr string
	err            error
}

// kubectl runs the real kubectl against the suite's cluster; stdin may be "".
func kubectl(t *testing.T, stdin string, args ...string) kubectlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var in *strings.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	var r kubectlResult
	if in != nil {
		r.stdout, r.stderr, r.err = suite.cluster.Kubectl(ctx, in, args...)
	} else {
		r.stdout, r.stderr, r.err = suite.cluster.Kubectl(ctx, nil, args...)
	}
	return r
}

// mustKubectl runs kubectl and fails the test when it fails.
func mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := kubectl(t, stdin, args...)
	if r.err != nil {
		t.Fatalf("%v\nstdout:\n%s", r.err, r.stdout)
	}
	return r.stdout
}

// deployment is an annotated Deployment manifest with a CPU request.
func deployment(namespace, name string, annotations map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  namespace: %s
  annotations:
`, name, namespace)
	for k, v := range annotations {
		fmt.Fprintf(&b, "    %s: %q\n", k, v)
	}
	fmt.Fprintf(&b, `spec:
  replicas: 1
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      containers:
        - name: app
          image: registry.example/app:1
          resources:
            requests:
              cpu: 100m
              memory: 64Mi
`, name)
	return b.String()
}

// kedaKind returns the KEDA kind for a workload kind.
var kedaKind = localcluster.KEDAKind

// namespace creates a namespace opted in to mlscale (label
// mlscale.io/enabled=true) for one test and deletes it afterwards.
func namespace(t *testing.T, name string) string {
	t.Helper()
	return kubetest.Namespace(t, suite.client, name, map[string]string{"mlscale.io/enabled": "true"})
}
