package helm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/internal/cli"
	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/vap"
	"github.com/mlscale/mlscale/test/kubetest"
	"github.com/mlscale/mlscale/test/localcluster"
)

// policyConfig is a policy configuration with budgets (one of 0) and an
// allowlist of several patterns, as the chart's policies.config holds it:
// gpu_budget denies, every other policy warns.
var policyConfig = map[string]any{
	"defaultAction": "warn",
	"actions":       map[string]any{"gpu_budget": "deny"},
	"gpuBudgets":    map[string]any{"ml": 8, "team-a": 0},
	"allowedEndpoints": []any{
		"*.monitoring.svc", "*.Monitoring.svc.cluster.local", "Kafka-?.ml.svc", "**.internal",
		"rabbitmq.messaging.svc.cluster.local", "a***b.x?y.svc",
	},
}

// defaultGPUBudget is defaults.gpuBudget, the webhook's --gpu-budget.
const defaultGPUBudget = 4

// configValues writes the chart's values for the policy configuration cfg
// (and defaults.gpuBudget) and the same configuration as a policy file,
// and returns the two paths.
func configValues(t *testing.T, cfg map[string]any) (values, policyFile string) {
	t.Helper()
	dir := t.TempDir()
	values, policyFile = filepath.Join(dir, "values.yaml"), filepath.Join(dir, "policy.yaml")
	for path, doc := range map[string]any{
		values:     map[string]any{"defaults": map[string]any{"gpuBudget": defaultGPUBudget}, "policies": map[string]any{"config": cfg}},
		policyFile: cfg,
	} {
		b, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return values, policyFile
}

// withActions is policyConfig with other actions.
func withActions(actions map[string]any) map[string]any {
	cfg := map[string]any{}
	for k, v := range policyConfig {
		cfg[k] = v
	}
	cfg["actions"] = actions
	return cfg
}

// TestAPIServerPoliciesConfig: with budgets and allowed endpoints in the
// values, the chart's gpu_budget and trigger_endpoints are active and
// every policy and binding is what `mlscale policy vap --policy-config
// --gpu-budget` prints for the same configuration, from a values file
// (numbers as float64) and from --set (int64); the partial policies'
// bindings audit where the action is warn (the webhook warns). A pattern
// the template cannot translate fails the render, and `mlscale policy vap`
// refuses it too.
func TestAPIServerPoliciesConfig(t *testing.T) {
	values, policyFile := configValues(t, policyConfig)
	cliArgs := []string{"policy", "vap", "--namespace", releaseNamespace, "--policy-config", policyFile, "--gpu-budget", fmt.Sprint(defaultGPUBudget)}
	want := printed(t, cliArgs)
	setValues := []string{
		"--set", fmt.Sprintf("defaults.gpuBudget=%d", defaultGPUBudget),
		"--set", "policies.config.defaultAction=warn", "--set", "policies.config.actions.gpu_budget=deny",
		"--set", "policies.config.gpuBudgets.ml=8", "--set", "policies.config.gpuBudgets.team-a=0",
		"--set", "policies.config.allowedEndpoints={*.monitoring.svc,*.Monitoring.svc.cluster.local,Kafka-?.ml.svc,**.internal,rabbitmq.messaging.svc.cluster.local,a***b.x?y.svc}",
	}
	for name, args := range map[string][]string{"values file": {"-f", values}, "--set": setValues} {
		t.Run(name, func(t *testing.T) {
			r := template(t, args...)
			got := append(r.all("ValidatingAdmissionPolicy"), r.all("ValidatingAdmissionPolicyBinding")...)
			// Each policy's, and the annotations policy's (vap.AnnotationsPolicy).
			if len(got) != len(want) || len(want) != 2*(len(vap.Policies())+1) {
				t.Fatalf("rendered %d policies and bindings, mlscale policy vap prints %d; want %d", len(got), len(want), 2*(len(vap.Policies())+1))
			}
			for _, w := range want {
				g := r.get(w.GetKind(), w.GetName())
				if g == nil {
					t.Errorf("the chart renders no %s %s", w.GetKind(), w.GetName())
					continue
				}
				g = g.DeepCopy()
				g.SetLabels(nil)
				if !reflect.DeepEqual(g.Object, w.Object) {
					t.Errorf("%s %s differs:\nchart: %v\nmlscale policy vap: %v", w.GetKind(), w.GetName(), g.Object, w.Object)
				}
			}
			// The configuration is there, not the defaults.
			vars := map[string]string{}
			for _, name := range []string{"gpu-budget", "trigger-endpoints"} {
				p := r.get("ValidatingAdmissionPolicy", releaseName+"-"+name)
				if p == nil {
					t.Fatalf("no policy %s", name)
				}
				vs, _, _ := unstructured.NestedSlice(p.Object, "spec", "variables")
				for _, v := range vs {
					v := v.(map[string]any)
					vars[v["name"].(string)] = v["expression"].(string)
				}
			}
			for k, w := range map[string]string{
				"gpuBudgets":       `{"ml":8,"team-a":0}`,
				"defaultGPUBudget": "4",
				"allowedEndpoints": `["*.monitoring.svc","*.Monitoring.svc.cluster.local","Kafka-?.ml.svc","**.internal","rabbitmq.messaging.svc.cluster.local","a***b.x?y.svc"]`,
				"allowedHosts":     `"^(?:[^.]*\\.monitoring\\.svc|[^.]*\\.monitoring\\.svc\\.cluster\\.local|kafka-[^.]\\.ml\\.svc|(?s:.*)\\.internal|rabbitmq\\.messaging\\.svc\\.cluster\\.local|a(?s:.*)[^.]*b\\.x[^.]y\\.svc)$"`,
			} {
				if vars[k] != w {
					t.Errorf("variable %s: %s, want %s", k, vars[k], w)
				}
			}
			for name, w := range map[string]string{"gpu-budget": "Deny", "trigger-endpoints": "Audit", "trigger-credentials": "Warn"} {
				b := r.get("ValidatingAdmissionPolicyBinding", releaseName+"-"+name)
				if got, _, _ := unstructured.NestedStringSlice(b.Object, "spec", "validationActions"); !slices.Equal(got, []string{w}) {
					t.Errorf("binding %s: validationActions %v, want [%s]", name, got, w)
				}
			}
		})
	}

	t.Run("patterns the template cannot translate", func(t *testing.T) {
		for _, p := range []string{"{a,b}.ml.svc", "[ab].ml.svc", `\*.ml.svc`, "évil.example.com"} {
			cfg := map[string]any{"allowedEndpoints": []any{"*.monitoring.svc", p}}
			values, policyFile := configValues(t, cfg)
			_, err := runHelm(t, "", "template", releaseName, "charts/mlscale", "--namespace", releaseNamespace, "-f", values)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("policies.config.allowedEndpoints[1] %q", p)) || !strings.Contains(err.Error(), vap.EndpointPatternSyntax) {
				t.Errorf("pattern %q: the chart renders (%v); want a failure naming the value and the allowed syntax", p, err)
			}
			var out, errOut bytes.Buffer
			code := cli.Run(context.Background(), []string{"policy", "vap", "--policy-config", policyFile}, cli.Streams{In: &bytes.Buffer{}, Out: &out, Err: &errOut})
			if code != cli.ExitUsage || !strings.Contains(errOut.String(), fmt.Sprintf("allowedEndpoints[1] %q", p)) || !strings.Contains(errOut.String(), vap.EndpointPatternSyntax) {
				t.Errorf("pattern %q: mlscale policy vap exits %d, %q; want a refusal naming it and the allowed syntax", p, code, errOut.String())
			}
			// Without the API server's policies the webhook alone reads
			// the pattern.
			if _, err := runHelm(t, "", "template", releaseName, "charts/mlscale", "--namespace", releaseNamespace, "-f", values, "--set", "apiServerPolicies.enabled=false"); err != nil {
				t.Errorf("pattern %q without apiServerPolicies: %v", p, err)
			}
		}
	})

	// What the webhook refuses at start (it would crash-loop) the chart
	// refuses too, with or without the API server's policies.
	t.Run("patterns the webhook refuses", func(t *testing.T) {
		for _, p := range []string{
			"http://prometheus.monitoring.svc", "prometheus.monitoring.svc:9090", "prometheus.svc/metrics",
			"user@rabbitmq.svc", "prom .svc", " ", "prometheus.monitoring.svc.", "fd00::1", "[fd00::1]",
			"[ab.ml.svc", "{a,b.ml.svc", "[z-a].ml.svc", "[]x.ml.svc", "[a-]x.ml.svc", "[!]x.ml.svc", "[a-b-c]x.ml.svc", "[--]x.ml.svc",
		} {
			if policy.CheckEndpointPattern(p) == nil {
				t.Errorf("pattern %q: the webhook accepts it; this case is not one it refuses", p)
			}
			values, _ := configValues(t, map[string]any{"allowedEndpoints": []any{"*.monitoring.svc", p}})
			_, err := runHelm(t, "", "template", releaseName, "charts/mlscale", "--namespace", releaseNamespace, "-f", values, "--set", "apiServerPolicies.enabled=false")
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("policies.config.allowedEndpoints[1] %q", p)) || !strings.Contains(err.Error(), policy.EndpointPatternAllowed) {
				t.Errorf("pattern %q: the chart renders (%v); want a failure naming the value and what is allowed", p, err)
			}
		}
		// ... and what it accepts, the chart renders.
		for _, p := range []string{"[-a]x.ml.svc", "[!a]x.ml.svc", "[ab-]x.ml.svc", "[a-a]x.ml.svc", "[!-a]x.ml.svc", "{a,b}.ml.svc"} {
			if err := policy.CheckEndpointPattern(p); err != nil {
				t.Errorf("pattern %q: the webhook refuses it (%v); this case is not one it accepts", p, err)
			}
			values, _ := configValues(t, map[string]any{"allowedEndpoints": []any{p}})
			if _, err := runHelm(t, "", "template", releaseName, "charts/mlscale", "--namespace", releaseNamespace, "-f", values, "--set", "apiServerPolicies.enabled=false"); err != nil {
				t.Errorf("pattern %q, which the webhook accepts: %v", p, err)
			}
		}
	})
}

// warnings collects the API server's warnings.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

// HandleWarningHeader implements rest.WarningHandler.
func (w *warnings) HandleWarningHeader(code int, _ string, msg string) {
	if code == 299 && msg != "" {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.msgs = append(w.msgs, msg)
	}
}

// take returns the warnings since the last take.
func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

var (
	vapGVR        = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicies"}
	bindingGVR    = schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingadmissionpolicybindings"}
	scaledJobGVR  = schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledjobs"}
	scaledObjGVR  = schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}
	namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// TestAPIServerPoliciesConfigApply installs the chart's policies and
// bindings for policyConfig into a real kube-apiserver (bin/k8s) with
// KEDA's CRDs, without mlscale. The API server accepts them; with both
// policies on deny, gpu_budget refuses ScaledJobs over the namespace's
// budget (0 in team-a, 8 in ml, defaults.gpuBudget elsewhere) and
// trigger_endpoints a host off the allowlist, admitting the allowed ones;
// then, with trigger_endpoints on warn, its binding audits: the API server
// neither refuses nor warns (the webhook gives the warning).
func TestAPIServerPoliciesConfigApply(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver and etcd")
	}
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	crds, err := localcluster.KEDACRDDir(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := localcluster.Start(ctx, localcluster.Options{BinDir: filepath.Join(root, "bin", "k8s"), CRDDirs: []string{crds}})
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	var warned warnings
	cfg := rest.CopyConfig(c.Config)
	cfg.WarningHandler = &warned
	cfg.WarningHandlerWithContext = nil
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"ml", "team-a", "other"} {
		if _, err := dyn.Resource(namespacesGVR).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns},
		}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// install creates or updates the chart's policies and bindings for cfg.
	install := func(t *testing.T, cfg map[string]any) {
		t.Helper()
		values, _ := configValues(t, cfg)
		r := template(t, "-f", values)
		for kind, gvr := range map[string]schema.GroupVersionResource{"ValidatingAdmissionPolicy": vapGVR, "ValidatingAdmissionPolicyBinding": bindingGVR} {
			for _, o := range r.all(kind) {
				_, err := dyn.Resource(gvr).Create(ctx, o, metav1.CreateOptions{FieldValidation: "Strict"})
				if apierrors.IsAlreadyExists(err) {
					var old *unstructured.Unstructured
					if old, err = dyn.Resource(gvr).Get(ctx, o.GetName(), metav1.GetOptions{}); err == nil {
						o.SetResourceVersion(old.GetResourceVersion())
						_, err = dyn.Resource(gvr).Update(ctx, o, metav1.UpdateOptions{FieldValidation: "Strict"})
					}
				}
				if err != nil {
					t.Fatalf("the API server refuses %s %s: %v", kind, o.GetName(), err)
				}
			}
		}
		if ws := warned.take(); len(ws) > 0 {
			t.Errorf("warnings installing the policies: %q", ws)
		}
	}
	// create makes obj in ns as a dry run, returning the API server's
	// warnings and error.
	create := func(gvr schema.GroupVersionResource, ns, doc string) ([]string, error) {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		warned.take()
		_, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return warned.take(), err
	}
	scaledJob := func(ns string, maxReplicas, gpus int) ([]string, error) {
		return create(scaledJobGVR, ns, fmt.Sprintf(`apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: train}
spec:
  maxReplicaCount: %d
  jobTargetRef:
    template:
      spec:
        restartPolicy: Never
        containers: [{name: train, image: trainer, resources: {limits: {nvidia.com/gpu: %d}}}]
  triggers: [{type: cpu, metadata: {value: "50"}}]
`, maxReplicas, gpus))
	}
	scaledObject := func(ns, server string) ([]string, error) {
		return create(scaledObjGVR, ns, fmt.Sprintf(`apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: web}
spec:
  scaleTargetRef: {name: web}
  triggers: [{type: prometheus, metadata: {serverAddress: %q, query: up, threshold: "1"}}]
`, server))
	}
	denied := func(err error, msg string) bool {
		return err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy") && strings.Contains(err.Error(), msg)
	}

	t.Run("deny", func(t *testing.T) {
		install(t, withActions(map[string]any{"gpu_budget": "deny", "trigger_endpoints": "deny"}))
		kubetest.Eventually(t, time.Minute, "gpu_budget refuses a GPU in team-a (budget 0)", func() error {
			if _, err := scaledJob("team-a", 1, 1); !denied(err, "gpu_budget: ScaledJob team-a/train may scale to 1 replicas x 1 GPUs per pod = 1 GPUs, over the 0 GPUs of the configured GPU budget of namespace team-a") {
				return fmt.Errorf("got %w", err)
			}
			return nil
		})
		for _, c := range []struct {
			ns          string
			max, gpus   int
			refusedWith string
		}{
			{"ml", 4, 2, ""},
			{"ml", 5, 2, "over the 8 GPUs of the configured GPU budget of namespace ml"},
			{"other", 4, 1, ""},
			{"other", 5, 1, "over the 4 GPUs of the configured default GPU budget"},
			{"team-a", 3, 0, ""},
		} {
			_, err := scaledJob(c.ns, c.max, c.gpus)
			if c.refusedWith == "" && err != nil || c.refusedWith != "" && !denied(err, c.refusedWith) {
				t.Errorf("ScaledJob in %s, %d x %d GPUs: %v, want refused with %q", c.ns, c.max, c.gpus, err, c.refusedWith)
			}
		}
		kubetest.Eventually(t, time.Minute, "trigger_endpoints refuses a host off the allowlist", func() error {
			_, err := scaledObject("ml", "http://evil.example.com:9090")
			if !denied(err, `trigger_endpoints: ScaledObject ml/web makes KEDA call evil.example.com (trigger spec.triggers[0], type prometheus, metadata.serverAddress of ScaledObject ml/web), which is not on the allowed endpoints ["*.monitoring.svc", "*.Monitoring.svc.cluster.local", "Kafka-?.ml.svc", "**.internal", "rabbitmq.messaging.svc.cluster.local", "a***b.x?y.svc"]`) {
				return fmt.Errorf("got %w", err)
			}
			return nil
		})
		for server, allowed := range map[string]bool{
			"http://prometheus-operated.monitoring.svc:9090":               true,
			"http://prometheus.MONITORING.svc.cluster.local:9090":          true,
			"http://kafka-1.ml.svc:9090":                                   true,
			"http://kafka-12.ml.svc:9090":                                  false,
			"https://a.b.c.internal":                                       true,
			"http://ab.x1y.svc":                                            true,
			"http://a.q.b.xy.svc":                                          false,
			"http://prometheus.monitoring.svc.cluster.local.evil.com:9090": false,
		} {
			ws, err := scaledObject("ml", server)
			if allowed && (err != nil || len(ws) > 0) || !allowed && !denied(err, "trigger_endpoints: ScaledObject ml/web makes KEDA call") {
				t.Errorf("serverAddress %s: %v (warnings %q); want allowed %v", server, err, ws, allowed)
			}
		}
	})

	t.Run("trigger_endpoints warns", func(t *testing.T) {
		// From Deny to Audit: once the API server admits the host off the
		// allowlist, the binding is the new one, and it does not warn
		// (the webhook, not running here, would).
		install(t, policyConfig)
		kubetest.Eventually(t, time.Minute, "trigger_endpoints' binding audits", func() error {
			if _, err := scaledObject("ml", "http://evil.example.com:9090"); err != nil {
				return err
			}
			return nil
		})
		for range 3 {
			if ws, err := scaledObject("ml", "http://evil.example.com:9090"); err != nil || len(ws) > 0 {
				t.Errorf("a host off the allowlist: %v, warnings %q; want admitted without a warning", err, ws)
			}
		}
		if _, err := scaledJob("team-a", 1, 1); !denied(err, "gpu_budget: ScaledJob team-a/train") {
			t.Errorf("gpu_budget (deny) admits a GPU in team-a: %v", err)
		}
	})
}
