// Package helm tests the Helm chart in charts/mlscale with the real helm
// (bin/helm, built from helm.sh/helm/v3 by `make helm`): `helm lint
// --strict` and `helm template` over a matrix of value sets with assertions
// on the rendered objects, the chart's generated files, the Grafana
// dashboards' metric names, the Dockerfile, and an install with `helm
// install` into a real kube-apiserver where cert-manager's CA injector
// fills the webhooks' caBundle and the API server calls mlscale's webhook.
package helm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/mlscale/mlscale/test/localcluster"
)

// Release is the release name and namespace the tests install as, the
// ones of the README's install section.
const (
	releaseName      = "mlscale"
	releaseNamespace = "mlscale-system"
)

// repoRoot is the repository's root directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := localcluster.RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// chartDir is charts/mlscale.
func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), "charts", "mlscale") }

// helmPath is bin/helm; the test fails (not skips) without it.
func helmPath(t testing.TB) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "bin", "helm")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("helm not built: %v; run `make helm` (builds helm.sh/helm/v3 from the Go module proxy into bin/helm)", err)
	}
	return p
}

// runHelm runs bin/helm with args in the repository root, with its
// caches and configuration in throw-away directories and, when kubeconfig
// is not empty, against that cluster. It returns stdout, and stderr in the
// error.
func runHelm(t testing.TB, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helmPath(t), args...)
	cmd.Dir = repoRoot(t)
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	if kubeconfig != "" {
		cmd.Env = append(cmd.Env, "KUBECONFIG="+kubeconfig)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// decodeObjects splits a YAML stream into objects, skipping empty documents.
func decodeObjects(t testing.TB, stream string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("decoding rendered manifests: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}
