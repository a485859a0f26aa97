// Package vap_test runs mlscale's ValidatingAdmissionPolicies (internal/vap)
// in a real etcd and kube-apiserver (bin/k8s) with KEDA's CRDs: the same
// samples through the Rego engine and through the API server, the API
// server alone while mlscale is down, params with 0, 1 and many objects,
// and, with mlscale's webhook in this process, one report per violation.
//
// The suite starts with mlscale's webhook configurations installed (as
// config/default makes them) and then removes them: the API server's
// policies alone are the state of most tests. The tests that need the
// webhook put the configurations back for their duration.
package vap_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/vap"
	"github.com/mlscale/mlscale/test/kubetest"
	"github.com/mlscale/mlscale/test/localcluster"
	"github.com/mlscale/mlscale/webhook"
)

// shadowNamespace is left out by the bindings and the webhook
// configurations (it is mlscale's): a dry run there returns an object as
// the API server would admit it elsewhere (defaulted, pruned), which is
// what the webhook's Rego would see.
const shadowNamespace = vap.DefaultNamespace

// testConfig is the policy configuration of the API server's policies and
// of the webhook: scaledobject_namespace warns, the others deny; a GPU
// budget of 4 and trigger_endpoints' sample allowlist (with mlscale's
// Prometheus), so that gpu_budget and trigger_endpoints are active.
var testConfig = policy.Config{
	Actions:          map[string]policy.Action{"scaledobject_namespace": policy.ActionWarn},
	DefaultGPUBudget: ptr(int64(4)),
	AllowedEndpoints: []string{"*.monitoring.svc.cluster.local", "*.ml.svc.cluster.local", "*.monitoring.svc"},
}

func ptr[T any](v T) *T { return &v }

var suite struct {
	root     string
	cluster  *localcluster.Cluster
	client   client.Client
	dynamic  dynamic.Interface
	warnings warningLog
	// hooks are mlscale's webhook configurations as the suite found them.
	validating []admissionregistrationv1.ValidatingWebhookConfiguration
	mutating   []admissionregistrationv1.MutatingWebhookConfiguration
	// policies are the generated policies and bindings.
	policies []client.Object
	setupErr error
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	if err := setup(context.Background()); err != nil {
		suite.setupErr = err
	}
	if suite.cluster != nil {
		cancel := kubetest.Watchdog("vap e2e", func() { _ = suite.cluster.Stop() })
		defer cancel()
		defer func() {
			if err := suite.cluster.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "vap e2e: stopping the control plane:", err)
			}
		}()
	}
	return m.Run()
}

// setup starts the control plane, removes mlscale's webhook configurations
// (kept to put back), and installs the API server's policies.
func setup(ctx context.Context) error {
	root, err := localcluster.RepoRoot(".")
	if err != nil {
		return err
	}
	suite.root = root
	opts, err := localcluster.RepoOptions(root)
	if err != nil {
		return err
	}
	if suite.cluster, err = localcluster.Start(ctx, opts); err != nil {
		return err
	}
	if suite.client, err = localcluster.NewClient(suite.cluster.Config); err != nil {
		return err
	}
	cfg := rest.CopyConfig(suite.cluster.Config)
	cfg.WarningHandler = &suite.warnings
	cfg.WarningHandlerWithContext = nil
	// The latency benchmark makes requests back to back.
	cfg.QPS, cfg.Burst = -1, 0
	if suite.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	if err := suite.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shadowNamespace}}); err != nil {
		return err
	}
	var vl admissionregistrationv1.ValidatingWebhookConfigurationList
	var ml admissionregistrationv1.MutatingWebhookConfigurationList
	if err := suite.client.List(ctx, &vl); err != nil {
		return err
	}
	if err := suite.client.List(ctx, &ml); err != nil {
		return err
	}
	if len(vl.Items) == 0 {
		return errors.New("no validating webhook configuration was installed from config/webhook")
	}
	suite.validating, suite.mutating = vl.Items, ml.Items
	if err := removeWebhooks(ctx); err != nil {
		return err
	}
	if suite.policies, err = vap.Generate(testConfig, vap.Options{}); err != nil {
		return err
	}
	if err := installPolicies(ctx); err != nil {
		return err
	}
	return waitPolicies(ctx)
}

// removeWebhooks deletes mlscale's webhook configurations.
func removeWebhooks(ctx context.Context) error {
	for i := range suite.validating {
		if err := client.IgnoreNotFound(suite.client.Delete(ctx, suite.validating[i].DeepCopy())); err != nil {
			return err
		}
	}
	for i := range suite.mutating {
		if err := client.IgnoreNotFound(suite.client.Delete(ctx, suite.mutating[i].DeepCopy())); err != nil {
			return err
		}
	}
	return nil
}

// restoreWebhooks creates mlscale's webhook configurations again.
func restoreWebhooks(ctx context.Context) error {
	var objs []client.Object
	for i := range suite.validating {
		objs = append(objs, suite.validating[i].DeepCopy())
	}
	for i := range suite.mutating {
		objs = append(objs, suite.mutating[i].DeepCopy())
	}
	for _, o := range objs {
		o.SetResourceVersion("")
		o.SetUID("")
		o.SetCreationTimestamp(metav1.Time{})
		o.SetManagedFields(nil)
		if err := suite.client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

// withWebhooks puts mlscale's webhook configurations back for the rest of
// the test.
func withWebhooks(t testing.TB) {
	t.Helper()
	if err := restoreWebhooks(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeWebhooks(context.Background()); err != nil {
			t.Errorf("removing the webhook configurations: %v", err)
		}
	})
}

// installPolicies creates the generated policies and bindings.
func installPolicies(ctx context.Context) error {
	for _, o := range suite.policies {
		obj := o.DeepCopyObject().(client.Object)
		if err := suite.client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s: %w", obj.GetName(), err)
		}
	}
	return nil
}

// removePolicies deletes the generated policies and bindings.
func removePolicies(ctx context.Context) error {
	for _, o := range suite.policies {
		obj := o.DeepCopyObject().(client.Object)
		if err := client.IgnoreNotFound(suite.client.Delete(ctx, obj)); err != nil {
			return err
		}
	}
	return nil
}

// waitPolicies waits until the API server enforces the policies: a
// ScaledObject with a password inline is refused (a policy without
// params), and so is an HPA on a ScaledObject's target (with params).
func waitPolicies(ctx context.Context) error {
	ns := "vap-ready"
	if err := suite.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := create(ctx, scaledObject("ready", "app"), ns, false); err != nil && !apierrors.IsAlreadyExists(err) {
			if time.Now().After(deadline) {
				return err
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		_, errCred := create(ctx, withTrigger(scaledObject("cred", "other"), "rabbitmq", map[string]any{"host": "amqp://u:p@rabbitmq:5672"}), ns, true)
		_, errHPA := create(ctx, hpa("ready", "app"), ns, true)
		if vapDenied(errCred) && vapDenied(errHPA) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server does not enforce the policies within 60s: %w; %w", errCred, errHPA)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startMlscale runs mlscale's manager in this process, with the suite's
// policy configuration, until the test ends.
func startMlscale(t testing.TB, apiServerPolicies bool) {
	t.Helper()
	ml, err := suite.cluster.StartMlscale(t.Context(), localcluster.MlscaleOptions{Configure: func(cfg *webhook.Config) {
		cfg.Policy = testConfig
		cfg.APIServerPolicies = apiServerPolicies
		cfg.PolicyNamespace = ""
		cfg.AuditInterval = 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ml.Stop(); err != nil {
			t.Errorf("stopping mlscale: %v", err)
		}
	})
}

// env fails the test when the suite could not start.
func env(t testing.TB) {
	t.Helper()
	if suite.setupErr != nil {
		t.Fatalf("vap e2e setup: %v", suite.setupErr)
	}
}

// namespace creates a namespace for one test and deletes it afterwards.
func namespace(t testing.TB, name string) string {
	t.Helper()
	return kubetest.Namespace(t, suite.client, name, nil)
}

// warningLog collects the API server's warnings (rest.WarningHandler).
type warningLog struct {
	mu   sync.Mutex
	msgs []string
}

// HandleWarningHeader implements rest.WarningHandler.
func (w *warningLog) HandleWarningHeader(code int, _ string, msg string) {
	if code != 299 || msg == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

// take returns the warnings since the last take.
func (w *warningLog) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// gvr maps the kinds the tests create to their resources.
var gvr = map[string]schema.GroupVersionResource{
	"HorizontalPodAutoscaler": {Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
	"ScaledObject":            {Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"},
	"ScaledJob":               {Group: "keda.sh", Version: "v1alpha1", Resource: "scaledjobs"},
	"Deployment":              {Group: "apps", Version: "v1", Resource: "deployments"},
	"StatefulSet":             {Group: "apps", Version: "v1", Resource: "statefulsets"},
	"Job":                     {Group: "batch", Version: "v1", Resource: "jobs"},
	"ResourceQuota":           {Version: "v1", Resource: "resourcequotas"},
}

// create creates obj in namespace ns (a server-side dry run when dryRun)
// and returns what the API server answered. Warnings are in
// suite.warnings.
func create(ctx context.Context, obj *unstructured.Unstructured, ns string, dryRun bool) (*unstructured.Unstructured, error) {
	r, ok := gvr[obj.GetKind()]
	if !ok {
		return nil, fmt.Errorf("the test does not create %s", obj.GetKind())
	}
	if obj.GetAPIVersion() == "autoscaling/v1" {
		r.Version = "v1"
	}
	obj = obj.DeepCopy()
	obj.SetNamespace(ns)
	opts := metav1.CreateOptions{}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return suite.dynamic.Resource(r).Namespace(ns).Create(ctx, obj, opts)
}

// vapDenial matches a refusal by one of the API server's policies.
var vapDenial = regexp.MustCompile(`ValidatingAdmissionPolicy '([^']+)' with binding '[^']+' denied request: (.*)$`)

// vapWarning matches a warning of one of the API server's policies.
var vapWarning = regexp.MustCompile(`^Validation failed for ValidatingAdmissionPolicy '([^']+)' with binding '[^']+': (.*)$`)

// vapDenied reports whether err is a refusal by an API server policy.
func vapDenied(err error) bool {
	return err != nil && vapDenial.MatchString(err.Error())
}

// denialMessage is the policy's message of a refusal by an API server
// policy.
func denialMessage(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	m := vapDenial.FindStringSubmatch(err.Error())
	if m == nil {
		return "", false
	}
	return m[2], true
}

// warningMessages are the policies' messages of the API server policies'
// warnings, and the other warnings.
func warningMessages(ws []string) (policies, others []string) {
	for _, w := range ws {
		if m := vapWarning.FindStringSubmatch(w); m != nil {
			policies = append(policies, m[2])
		} else {
			others = append(others, w)
		}
	}
	return policies, others
}

// scaledObject is a ScaledObject named name on Deployment target with a
// cpu trigger.
func scaledObject(name, target string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"scaleTargetRef": map[string]any{"name": target},
			"triggers": []any{map[string]any{
				"type": "cpu", "metricType": "Utilization", "metadata": map[string]any{"value": "60"},
			}},
		},
	}}
}

// withTrigger adds a trigger to a KEDA object.
func withTrigger(obj *unstructured.Unstructured, typ string, md map[string]any) *unstructured.Unstructured {
	triggers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "triggers")
	triggers = append(triggers, map[string]any{"type": typ, "metadata": md})
	_ = unstructured.SetNestedSlice(obj.Object, triggers, "spec", "triggers")
	return obj
}

// hpa is an autoscaling/v2 HPA named name on Deployment target.
func hpa(name, target string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
			"maxReplicas":    int64(3),
		},
	}}
}

// zapLevel is debug with E2E_LOGS set, else errors only.
func zapLevel() zapcore.Level {
	if os.Getenv("E2E_LOGS") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

// contains reports whether s holds every one of wants, and names the first
// that is missing.
func contains(s string, wants ...string) (string, bool) {
	for _, w := range wants {
		if !strings.Contains(s, w) {
			return w, false
		}
	}
	return "", true
}
