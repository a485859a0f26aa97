package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/mlscale/mlscale/test/crdschema"
	"github.com/mlscale/mlscale/test/kubetest"
)

// apiServer is a real kube-apiserver (and etcd) with KEDA's CRDs, reached
// with raw request bodies: the bytes a manifest holds, not what a Go client
// would encode from them.
type apiServer struct {
	host   string
	client *http.Client
}

// reply is what the API server answered to one request.
type reply struct {
	code     int
	body     map[string]any
	warnings []string
}

// message is the reply's Status message.
func (r reply) message() string {
	m, _ := r.body["message"].(string)
	return m
}

func (s apiServer) do(t *testing.T, method, path string, body []byte) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.host+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{code: resp.StatusCode, warnings: resp.Header.Values("Warning")}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return r
}

func startAPIServer(t *testing.T) apiServer {
	t.Helper()
	assets, err := kubetest.AssetsDir()
	if err != nil {
		t.Fatal("no control plane: ", err)
	}
	crds, err := crdschema.KEDACRDDir("")
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDDirectoryPaths: []string{crds}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return apiServer{host: strings.TrimSuffix(cfg.Host, "/"), client: hc}
}

const scaledObjects = "/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects"

// scaledObjectJSON is a ScaledObject named name whose spec has the
// maxReplicaCount-like fields of extra, in order.
func scaledObjectJSON(name, extra string) []byte {
	return fmt.Appendf(nil, `{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": %q, "namespace": "default"},
 "spec": {"scaleTargetRef": {"name": "web"}, %s, "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}]}}`, name, extra)
}

// readErr is what Documents says of a manifest, "" when it reads it.
func readErr(manifest []byte) string {
	for _, d := range Documents(Source{Name: "so.json", Data: manifest}) {
		if d.Err != nil {
			return d.Err.Error()
		}
	}
	return ""
}

// TestAPIServerReadsStrictly shows, on a real API server, what Documents
// mirrors: field names are matched case-sensitively (Go's encoding/json,
// which `policy eval` used, does not), and with fieldValidation=Strict
// (kubectl's default --validate=strict) an unknown field (one in the wrong
// case included) or a duplicate field is an error, as is a kind in the
// wrong case.
func TestAPIServerReadsStrictly(t *testing.T) {
	s := startAPIServer(t)

	t.Run("field in the wrong case", func(t *testing.T) {
		body := scaledObjectJSON("case", `"maxReplicaCount": 3, "maxreplicacount": 50`)
		// encoding/json matches without regard to case, and the last wins:
		// a policy would judge 50.
		var lenient kedav1alpha1.ScaledObject
		if err := json.Unmarshal(body, &lenient); err != nil || *lenient.Spec.MaxReplicaCount != 50 {
			t.Fatalf("encoding/json: %v, %v", err, lenient.Spec.MaxReplicaCount)
		}
		r := s.do(t, http.MethodPost, scaledObjects+"?fieldValidation=Strict", body)
		if r.code != http.StatusBadRequest || !strings.Contains(r.message(), `unknown field "spec.maxreplicacount"`) {
			t.Errorf("Strict: %d %s", r.code, r.message())
		}
		// Without strict validation the server stores the case-sensitive
		// match and drops the other with a warning.
		r = s.do(t, http.MethodPost, scaledObjects, body)
		if r.code != http.StatusCreated || !strings.Contains(strings.Join(r.warnings, "\n"), `unknown field \"spec.maxreplicacount\"`) {
			t.Fatalf("Warn: %d %s %q", r.code, r.message(), r.warnings)
		}
		spec, _ := r.body["spec"].(map[string]any)
		if spec["maxReplicaCount"] != float64(3) || spec["maxreplicacount"] != nil {
			t.Errorf("stored spec %v, want maxReplicaCount 3 only", spec)
		}
		if got := readErr(body); !strings.Contains(got, `(ScaledObject default/case): unknown field "spec.maxreplicacount": field names are case-sensitive; did you mean "spec.maxReplicaCount"?`) {
			t.Errorf("Documents: %q", got)
		}
	})

	t.Run("duplicate field", func(t *testing.T) {
		body := scaledObjectJSON("dup", `"maxReplicaCount": 3, "maxReplicaCount": 50`)
		r := s.do(t, http.MethodPost, scaledObjects+"?fieldValidation=Strict", body)
		if r.code != http.StatusBadRequest || !strings.Contains(r.message(), `duplicate field "spec.maxReplicaCount"`) {
			t.Errorf("Strict: %d %s", r.code, r.message())
		}
		// Without strict validation the last one wins, with a warning: a
		// policy reading the first would judge another object.
		r = s.do(t, http.MethodPost, scaledObjects, body)
		if r.code != http.StatusCreated || !strings.Contains(strings.Join(r.warnings, "\n"), `duplicate field \"spec.maxReplicaCount\"`) {
			t.Fatalf("Warn: %d %s %q", r.code, r.message(), r.warnings)
		}
		if spec, _ := r.body["spec"].(map[string]any); spec["maxReplicaCount"] != float64(50) {
			t.Errorf("stored spec %v, want maxReplicaCount 50", spec)
		}
		if got := readErr(body); !strings.Contains(got, `(ScaledObject default/dup): duplicate field "spec.maxReplicaCount"`) {
			t.Errorf("Documents: %q", got)
		}
	})

	t.Run("kind in the wrong case", func(t *testing.T) {
		body := []byte(`{"apiVersion": "apps/v1", "kind": "deployment", "metadata": {"name": "web", "namespace": "default"},
 "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "c"}]}}}}`)
		r := s.do(t, http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", body)
		if r.code != http.StatusBadRequest || !strings.Contains(r.message(), `no kind "deployment" is registered`) {
			t.Errorf("server: %d %s", r.code, r.message())
		}
		if got := readErr(body); !strings.Contains(got, `unknown kind "deployment" in apps/v1: kinds are case-sensitive; did you mean "Deployment"?`) {
			t.Errorf("Documents: %q", got)
		}
	})

	t.Run("built-in kind: field in the wrong case", func(t *testing.T) {
		body := []byte(`{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "default"},
 "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3, "maxreplicas": 50}}`)
		r := s.do(t, http.MethodPost, "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers?fieldValidation=Strict", body)
		if r.code != http.StatusBadRequest || !strings.Contains(r.message(), `unknown field "spec.maxreplicas"`) {
			t.Errorf("Strict: %d %s", r.code, r.message())
		}
		if got := readErr(body); !strings.Contains(got, `(HorizontalPodAutoscaler default/web): unknown field "spec.maxreplicas": field names are case-sensitive; did you mean "spec.maxReplicas"?`) {
			t.Errorf("Documents: %q", got)
		}
	})
}
