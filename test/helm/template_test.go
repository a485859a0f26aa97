package helm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/hack/chartdocs"
	"github.com/mlscale/mlscale/internal/intent"
)

// rendered is the output of `helm template`, indexed by kind and name.
type rendered struct {
	objs []*unstructured.Unstructured
}

// all returns the objects of a kind.
func (r rendered) all(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// get returns the object of a kind and name, or nil.
func (r rendered) get(kind, name string) *unstructured.Unstructured {
	for _, o := range r.all(kind) {
		if o.GetName() == name {
			return o
		}
	}
	return nil
}

// into converts u into a typed object, failing on fields the type does not
// know (a typo in a template).
func into(t *testing.T, u *unstructured.Unstructured, typed any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, typed, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// mustGet is get that fails the test when the object is missing.
func (r rendered) mustGet(t *testing.T, kind, name string, typed any) {
	t.Helper()
	u := r.get(kind, name)
	if u == nil {
		t.Fatalf("no %s %s rendered; got %s", kind, name, r.names())
	}
	into(t, u, typed)
}

func (r rendered) names() string {
	var s []string
	for _, o := range r.objs {
		s = append(s, o.GetKind()+"/"+o.GetName())
	}
	return strings.Join(s, ", ")
}

// template runs `helm template` for the release with extra arguments.
func template(t *testing.T, args ...string) rendered {
	t.Helper()
	out, err := runHelm(t, "", append([]string{"template", releaseName, "charts/mlscale", "--namespace", releaseNamespace}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return rendered{objs: decodeObjects(t, out)}
}

// valueSet is one case of the matrix: helm arguments and checks of what
// they must change.
type valueSet struct {
	name string
	args []string
	// failurePolicy are the webhooks whose failurePolicy args override.
	failurePolicy map[string]string
	// noOptIn is true when args remove the opt-in label.
	noOptIn bool
	// replicas is the webhook Deployment's replicas that args set; 2 when 0.
	replicas int32
	// ownCert is true when args bring their own certificate (tls.*)
	// instead of cert-manager's.
	ownCert bool
	check   func(t *testing.T, r rendered)
}

// matrix is run through `helm lint --strict` and `helm template`; every
// case also gets the invariants of checkInvariants.
var matrix = []valueSet{
	{name: "defaults", check: func(t *testing.T, r rendered) {
		// The gpu trigger reads what the collector and the rules record:
		// the collector runs by default (on GPU nodes only), and the
		// monitoring objects come with the Prometheus Operator's API
		// (auto), which a cluster without the operator does not serve.
		if r.get("DaemonSet", "mlscale-collector") == nil {
			t.Error("no collector DaemonSet by default: GPU workloads' gpu trigger would read nothing")
		}
		for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
			if len(r.all(kind)) > 0 {
				t.Errorf("%s rendered although the cluster does not serve monitoring.coreos.com/v1", kind)
			}
		}
		// The self-signed chain: Issuer -> CA Certificate -> CA Issuer -> serving Certificate.
		var selfSigned, caIssuer map[string]any
		if o := r.get("Issuer", "mlscale-selfsigned"); o != nil {
			selfSigned = o.Object
		}
		if o := r.get("Issuer", "mlscale-ca"); o != nil {
			caIssuer = o.Object
		}
		if selfSigned == nil || caIssuer == nil {
			t.Fatalf("self-signed and CA Issuers missing: %s", r.names())
		}
		if _, ok, _ := unstructured.NestedMap(selfSigned, "spec", "selfSigned"); !ok {
			t.Error("Issuer mlscale-selfsigned is not selfSigned")
		}
		ca := r.get("Certificate", "mlscale-ca")
		if ca == nil {
			t.Fatal("CA Certificate missing")
		}
		if isCA, _, _ := unstructured.NestedBool(ca.Object, "spec", "isCA"); !isCA {
			t.Error("Certificate mlscale-ca is not isCA")
		}
		if ref, _, _ := unstructured.NestedString(ca.Object, "spec", "issuerRef", "name"); ref != "mlscale-selfsigned" {
			t.Errorf("CA Certificate issued by %q, want mlscale-selfsigned", ref)
		}
		caSecret, _, _ := unstructured.NestedString(ca.Object, "spec", "secretName")
		if s, _, _ := unstructured.NestedString(caIssuer, "spec", "ca", "secretName"); s != caSecret {
			t.Errorf("CA Issuer reads Secret %q, the CA Certificate writes %q", s, caSecret)
		}
		if ref := servingIssuer(t, r); ref != "Issuer/mlscale-ca" {
			t.Errorf("serving Certificate issued by %s, want Issuer/mlscale-ca", ref)
		}
		var dep appsv1.Deployment
		r.mustGet(t, "Deployment", "mlscale-webhook", &dep)
		if n := len(dep.Spec.Template.Spec.Containers); n != 2 {
			t.Errorf("webhook pod has %d containers, want webhook and predictor", n)
		}
		if dep.Spec.Template.Spec.Affinity == nil || dep.Spec.Template.Spec.Affinity.PodAntiAffinity == nil {
			t.Error("webhook pods have no pod anti-affinity")
		}
		if len(r.all("ConfigMap")) != 2 {
			t.Errorf("want the defaults and policy-config ConfigMaps only, got %s", r.names())
		}
	}},
	{name: "collector", args: []string{"--set", "collector.enabled=true"}, check: func(t *testing.T, r rendered) {
		var ds appsv1.DaemonSet
		r.mustGet(t, "DaemonSet", "mlscale-collector", &ds)
		spec := ds.Spec.Template.Spec
		if spec.NodeSelector["nvidia.com/gpu.present"] != "true" {
			t.Errorf("collector nodeSelector %v does not select GPU nodes", spec.NodeSelector)
		}
		var hostPath string
		for _, v := range spec.Volumes {
			if v.HostPath != nil {
				hostPath = v.HostPath.Path
			}
		}
		if hostPath != "/var/lib/kubelet/pod-resources" {
			t.Errorf("collector hostPath %q, want the kubelet's pod-resources directory", hostPath)
		}
		c := spec.Containers[0]
		if len(c.VolumeMounts) != 1 || !c.VolumeMounts[0].ReadOnly {
			t.Errorf("collector mounts %v, want pod-resources read-only", c.VolumeMounts)
		}
		if c.SecurityContext == nil || c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			t.Error("collector must not be privileged")
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Error("the collector needs no API access; its token must not be mounted")
		}
		// The image runs as 65532 (Dockerfile USER), which cannot connect
		// to the kubelet's root-owned pod-resources socket: the pod must
		// ask for root explicitly (without privileges or capabilities).
		if psc := spec.SecurityContext; psc == nil || psc.RunAsUser == nil || *psc.RunAsUser != 0 || psc.RunAsNonRoot != nil && *psc.RunAsNonRoot {
			t.Errorf("collector pod securityContext %+v does not run as root; the pod-resources socket refuses the image's user", psc)
		}
		if c.SecurityContext.Capabilities == nil || !slices.Contains(c.SecurityContext.Capabilities.Drop, "ALL") {
			t.Error("collector must drop every capability")
		}
		if r.get("Service", "mlscale-collector") == nil {
			t.Error("no collector Service for scraping")
		}
	}},
	{name: "user-issuer", args: []string{"--set", "certManager.issuer.name=corp-ca", "--set", "certManager.issuer.kind=ClusterIssuer"}, check: func(t *testing.T, r rendered) {
		if n := len(r.all("Issuer")); n != 0 {
			t.Errorf("%d Issuers rendered with a user-named issuer, want none", n)
		}
		if len(r.all("Certificate")) != 1 {
			t.Errorf("want only the serving Certificate, got %s", r.names())
		}
		if ref := servingIssuer(t, r); ref != "ClusterIssuer/corp-ca" {
			t.Errorf("serving Certificate issued by %s, want ClusterIssuer/corp-ca", ref)
		}
	}},
	{name: "monitoring", args: []string{"--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.serviceMonitor.labels.release=kube-prometheus", "--set", "metrics.prometheusRule.enabled=true", "--set", "dashboards.enabled=true", "--set", "collector.enabled=true"}, check: func(t *testing.T, r rendered) {
		sm := r.get("ServiceMonitor", "mlscale")
		if sm == nil {
			t.Fatalf("no ServiceMonitor: %s", r.names())
		}
		if sm.GetLabels()["release"] != "kube-prometheus" {
			t.Errorf("ServiceMonitor labels %v lack release=kube-prometheus", sm.GetLabels())
		}
		eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		var ports []string
		for _, e := range eps {
			ports = append(ports, fmt.Sprint(e.(map[string]any)["port"]))
		}
		var svc corev1.Service
		r.mustGet(t, "Service", "mlscale-webhook", &svc)
		for _, p := range ports {
			if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool { return sp.Name == p }) {
				t.Errorf("ServiceMonitor scrapes port %q, which the webhook Service lacks", p)
			}
		}
		checkPrometheusRule(t, r)
		dashboards := 0
		for _, cm := range r.all("ConfigMap") {
			if cm.GetLabels()["grafana_dashboard"] == "1" {
				dashboards++
			}
		}
		if dashboards != 3 {
			t.Errorf("%d dashboard ConfigMaps (label grafana_dashboard=1), want 3", dashboards)
		}
	}},
	{name: "multi-namespace", args: []string{"--set", "namespaceSelector.namespaces={ml-a,ml-b}", "--set", "namespaceSelector.excludeNamespaces={legacy}"}, check: func(t *testing.T, r rendered) {
		for _, wh := range webhookSelectors(t, r) {
			sel := wh.sel
			if !hasRequirement(sel, "kubernetes.io/metadata.name", metav1.LabelSelectorOpIn, "ml-a", "ml-b") {
				t.Errorf("namespaceSelector %v does not restrict to ml-a and ml-b", sel)
			}
			if !hasRequirement(sel, "kubernetes.io/metadata.name", metav1.LabelSelectorOpNotIn, "kube-system", releaseNamespace, "legacy") {
				t.Errorf("namespaceSelector %v does not exclude legacy", sel)
			}
			if wh.workloads && !hasRequirement(sel, "mlscale.io/enabled", metav1.LabelSelectorOpIn, "true") {
				t.Errorf("%s: namespaceSelector %v lost the opt-in label", wh.name, sel)
			}
		}
	}},
	{name: "other-namespace-fail-policy", noOptIn: true, failurePolicy: map[string]string{"mutate.mlscale.io": "Fail", "keda-create.policies.mlscale.io": "Ignore"}, args: []string{"--namespace", "platform", "--set", "webhook.failurePolicy.mutate=Fail", "--set", "webhook.failurePolicy.kedaCreate=Ignore", "--set", "webhook.timeoutSeconds=3", "--set", "namespaceSelector.optInLabel=", "--set", "predictor.enabled=false", "--set", "webhook.podDisruptionBudget.enabled=false"}, check: func(t *testing.T, r rendered) {
		var m admissionv1.MutatingWebhookConfiguration
		r.mustGet(t, "MutatingWebhookConfiguration", "mlscale-mutating", &m)
		for _, wh := range m.Webhooks {
			if *wh.TimeoutSeconds != 3 {
				t.Errorf("%s: timeout %d, want 3", wh.Name, *wh.TimeoutSeconds)
			}
			if wh.ClientConfig.Service.Namespace != "platform" {
				t.Errorf("%s: calls the Service in %s, want platform", wh.Name, wh.ClientConfig.Service.Namespace)
			}
			if !hasRequirement(*wh.NamespaceSelector, "kubernetes.io/metadata.name", metav1.LabelSelectorOpNotIn, "kube-system", "platform") {
				t.Errorf("%s: namespaceSelector does not exclude the release namespace platform", wh.Name)
			}
			if len(wh.NamespaceSelector.MatchExpressions) != 1 {
				t.Errorf("%s: with no opt-in label only the exclusion remains, got %v", wh.Name, wh.NamespaceSelector.MatchExpressions)
			}
		}
		if len(r.all("PodDisruptionBudget")) != 0 {
			t.Error("PodDisruptionBudget rendered although disabled")
		}
		var dep appsv1.Deployment
		r.mustGet(t, "Deployment", "mlscale-webhook", &dep)
		if n := len(dep.Spec.Template.Spec.Containers); n != 1 {
			t.Errorf("predictor disabled but the pod has %d containers", n)
		}
	}},
	{name: "single-replica", replicas: 1, args: []string{"--set", "replicaCount=1"}, check: func(t *testing.T, r rendered) {
		// minAvailable 1 of 1 replica would allow no eviction: every
		// `kubectl drain` of the node would hang.
		if pdbs := r.all("PodDisruptionBudget"); len(pdbs) != 0 {
			t.Errorf("PodDisruptionBudget rendered for 1 replica with minAvailable 1; it blocks every node drain")
		}
	}},
	{name: "three-replicas", replicas: 3, args: []string{"--set", "replicaCount=3", "--set", "webhook.podDisruptionBudget.minAvailable=2"}, check: func(t *testing.T, r rendered) {
		var pdb policyv1.PodDisruptionBudget
		r.mustGet(t, "PodDisruptionBudget", "mlscale-webhook", &pdb)
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 2 {
			t.Errorf("PodDisruptionBudget minAvailable %v, want 2", pdb.Spec.MinAvailable)
		}
	}},
	{name: "string-maps", args: []string{
		"--set", "collector.enabled=true",
		"--set", "collector.nodeSelector.nvidia\\.com/gpu\\.present=true",
		"--set", "webhook.nodeSelector.gpu=false",
		"--set", "commonLabels.cost-center=42",
		"--set", "webhook.podAnnotations.sidecar\\.istio\\.io/inject=false",
		"--set", "serviceAccount.annotations.replicas=3",
	}, check: func(t *testing.T, r rendered) {
		// --set parses true, false and 42 as a boolean and numbers; labels,
		// annotations and node selectors are maps of strings, which into
		// (and the API server) refuse anything else in.
		var ds appsv1.DaemonSet
		r.mustGet(t, "DaemonSet", "mlscale-collector", &ds)
		if got := ds.Spec.Template.Spec.NodeSelector["nvidia.com/gpu.present"]; got != "true" {
			t.Errorf("collector nodeSelector nvidia.com/gpu.present %q, want \"true\"", got)
		}
		var dep appsv1.Deployment
		r.mustGet(t, "Deployment", "mlscale-webhook", &dep)
		if got := dep.Spec.Template.Spec.NodeSelector["gpu"]; got != "false" {
			t.Errorf("webhook nodeSelector gpu %q, want \"false\"", got)
		}
		if got := dep.Spec.Template.Annotations["sidecar.istio.io/inject"]; got != "false" {
			t.Errorf("webhook pod annotation %q, want \"false\"", got)
		}
		for _, o := range r.objs {
			if got := o.GetLabels()["cost-center"]; got != "42" {
				t.Errorf("%s %s: label cost-center %q, want \"42\"", o.GetKind(), o.GetName(), got)
			}
		}
		var sa corev1.ServiceAccount
		r.mustGet(t, "ServiceAccount", "mlscale", &sa)
		if sa.Annotations["replicas"] != "3" {
			t.Errorf("ServiceAccount annotations %v, want replicas: \"3\"", sa.Annotations)
		}
	}},
	{name: "custom-policies", args: []string{"--set-string", "policies.custom.no_latest\\.rego=package mlscale.no_latest", "--set", "policies.config.defaultAction=warn", "--set", "fullnameOverride=scaler"}, check: func(t *testing.T, r rendered) {
		cm := r.get("ConfigMap", "scaler-policies")
		if cm == nil || cm.GetLabels()["mlscale.io/policy"] != "true" {
			t.Fatalf("no ConfigMap scaler-policies labelled mlscale.io/policy=true: %s", r.names())
		}
		var cfg corev1.ConfigMap
		r.mustGet(t, "ConfigMap", "scaler-policy-config", &cfg)
		if !strings.Contains(cfg.Data["config.yaml"], "defaultAction: warn") {
			t.Errorf("policy config %q lacks defaultAction: warn", cfg.Data["config.yaml"])
		}
	}},
	{name: "deprecated-replicas", replicas: 3, args: []string{"--set", "webhook.replicas=3", "--set", "replicaCount=1"}, check: func(t *testing.T, r rendered) {
		// webhook.replicas, the old name, still wins when set; the PDB
		// follows the Deployment's replicas.
		if len(r.all("PodDisruptionBudget")) != 1 {
			t.Error("no PodDisruptionBudget for 3 replicas set through webhook.replicas")
		}
	}},
	{name: "conventions", args: []string{
		"--set", "image.digest=" + testDigest, "--set", "image.tag=9.9.9",
		"--set", "webhook.podLabels.team=ml", "--set", "webhook.podLabels.tier=1",
		"--set", "webhook.podSecurityContext.runAsUser=null", "--set", "webhook.podSecurityContext.runAsGroup=null", "--set", "webhook.podSecurityContext.fsGroup=2000",
		"--set", "webhook.securityContext.runAsUser=1001",
		"--set", "webhook.extraEnv[0].name=HTTPS_PROXY", "--set", "webhook.extraEnv[0].value=http://proxy:3128",
		"--set", "predictor.extraEnv[0].name=TZ", "--set", "predictor.extraEnv[0].value=UTC",
		"--set", "webhook.topologySpreadConstraints[0].maxSkew=1", "--set", "webhook.topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone", "--set", "webhook.topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
		"--set", "webhook.priorityClassName=system-cluster-critical",
		"--set", "collector.enabled=true",
		"--set", "collector.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=gpu-model",
		"--set", "collector.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
		"--set", "collector.podAnnotations.scrape=true", "--set", "collector.podLabels.team=ml",
		"--set", "collector.extraEnv[0].name=NVML_DEBUG", "--set", "collector.extraEnv[0].value=1",
		"--set", "collector.nodeSelector.pool=gpu", "--set", "collector.tolerations[0].operator=Exists",
		"--set", "collector.priorityClassName=system-node-critical",
	}, check: func(t *testing.T, r rendered) {
		var dep appsv1.Deployment
		r.mustGet(t, "Deployment", "mlscale-webhook", &dep)
		pod := dep.Spec.Template.Spec
		wantImage := "ghcr.io/mlscale/mlscale@" + testDigest
		for _, c := range pod.Containers {
			if c.Image != wantImage {
				t.Errorf("container %s: image %s, want %s (image.digest wins over image.tag)", c.Name, c.Image, wantImage)
			}
			if c.SecurityContext == nil || c.SecurityContext.RunAsUser == nil || *c.SecurityContext.RunAsUser != 1001 || c.SecurityContext.Capabilities == nil || !slices.Contains(c.SecurityContext.Capabilities.Drop, "ALL") {
				t.Errorf("container %s: securityContext %+v, want runAsUser 1001 merged into the defaults", c.Name, c.SecurityContext)
			}
		}
		if l := dep.Spec.Template.Labels; l["team"] != "ml" || l["tier"] != "1" || l["app.kubernetes.io/component"] != "webhook" {
			t.Errorf("webhook pod labels %v, want team=ml, tier=\"1\" next to the selector's", l)
		}
		if psc := pod.SecurityContext; psc == nil || psc.RunAsUser != nil || psc.RunAsGroup != nil || psc.FSGroup == nil || *psc.FSGroup != 2000 || psc.SeccompProfile == nil {
			t.Errorf("webhook pod securityContext %+v, want runAsUser and runAsGroup dropped (null), fsGroup 2000, the rest kept", psc)
		}
		env := func(c corev1.Container, name string) string {
			for _, e := range c.Env {
				if e.Name == name {
					return e.Value
				}
			}
			return ""
		}
		if got := env(pod.Containers[0], "HTTPS_PROXY"); got != "http://proxy:3128" {
			t.Errorf("webhook container HTTPS_PROXY %q, want webhook.extraEnv's", got)
		}
		if !slices.ContainsFunc(pod.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == "POD_NAMESPACE" }) {
			t.Error("webhook.extraEnv replaced the chart's POD_NAMESPACE")
		}
		if got := env(pod.Containers[1], "TZ"); got != "UTC" {
			t.Errorf("predictor container TZ %q, want predictor.extraEnv's", got)
		}
		if len(pod.TopologySpreadConstraints) != 1 {
			t.Fatalf("webhook topologySpreadConstraints %v, want 1", pod.TopologySpreadConstraints)
		}
		tsc := pod.TopologySpreadConstraints[0]
		sel, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
		if tsc.TopologyKey != "topology.kubernetes.io/zone" || err != nil || sel.Empty() || !sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
			t.Errorf("topologySpreadConstraint %+v: want the zone key and a labelSelector (defaulted) selecting the webhook pods", tsc)
		}
		if pod.PriorityClassName != "system-cluster-critical" {
			t.Errorf("webhook priorityClassName %q", pod.PriorityClassName)
		}
		var ds appsv1.DaemonSet
		r.mustGet(t, "DaemonSet", "mlscale-collector", &ds)
		cpod := ds.Spec.Template.Spec
		if cpod.Containers[0].Image != wantImage {
			t.Errorf("collector image %s, want %s", cpod.Containers[0].Image, wantImage)
		}
		if a := cpod.Affinity; a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil ||
			a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Key != "gpu-model" {
			t.Errorf("collector affinity %+v, want collector.affinity's nodeAffinity", a)
		}
		if ds.Spec.Template.Annotations["scrape"] != "true" || ds.Spec.Template.Labels["team"] != "ml" {
			t.Errorf("collector pod annotations %v labels %v, want scrape: \"true\" and team: ml", ds.Spec.Template.Annotations, ds.Spec.Template.Labels)
		}
		if got := env(cpod.Containers[0], "NVML_DEBUG"); got != "1" || env(cpod.Containers[0], "NVIDIA_DRIVER_CAPABILITIES") != "utility" {
			t.Errorf("collector env %v, want collector.extraEnv's NVML_DEBUG next to the chart's", cpod.Containers[0].Env)
		}
		if cpod.NodeSelector["pool"] != "gpu" || len(cpod.Tolerations) != 1 || cpod.Tolerations[0].Operator != corev1.TolerationOpExists || cpod.PriorityClassName != "system-node-critical" {
			t.Errorf("collector nodeSelector %v tolerations %v priorityClassName %q", cpod.NodeSelector, cpod.Tolerations, cpod.PriorityClassName)
		}
	}},
	{name: "own-service-account", args: []string{"--set", "serviceAccount.create=false", "--set", "serviceAccount.name=corp-mlscale"}, check: func(t *testing.T, r rendered) {
		// checkRBAC checks that the bindings name the pods' ServiceAccount.
		var dep appsv1.Deployment
		r.mustGet(t, "Deployment", "mlscale-webhook", &dep)
		if sa := dep.Spec.Template.Spec.ServiceAccountName; sa != "corp-mlscale" {
			t.Errorf("webhook pods run as %q, want corp-mlscale", sa)
		}
		for _, sa := range r.all("ServiceAccount") {
			if sa.GetName() != "mlscale-collector" {
				t.Errorf("ServiceAccount %s rendered although serviceAccount.create is false", sa.GetName())
			}
		}
	}},
	{name: "own-certificate", ownCert: true, args: []string{"--set", "certManager.enabled=false", "--set", "tls.existingSecret=corp-webhook-tls", "--set", "tls.caBundle=" + testCABundle}, check: func(t *testing.T, r rendered) {
		// checkWebhooks and checkPods check the caBundle and the mounted Secret.
		for _, kind := range []string{"Certificate", "Issuer", "ClusterIssuer"} {
			if n := len(r.all(kind)); n != 0 {
				t.Errorf("%d %s rendered without cert-manager", n, kind)
			}
		}
	}},
}

// testDigest is an image digest for the tests.
const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// testCABundle is a self-signed CA certificate, PEM and base64-encoded as
// tls.caBundle wants it.
var testCABundle = func() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}()

// servingIssuer returns Kind/name of the serving Certificate's issuer.
func servingIssuer(t *testing.T, r rendered) string {
	t.Helper()
	for _, c := range r.all("Certificate") {
		if isCA, _, _ := unstructured.NestedBool(c.Object, "spec", "isCA"); isCA {
			continue
		}
		kind, _, _ := unstructured.NestedString(c.Object, "spec", "issuerRef", "kind")
		name, _, _ := unstructured.NestedString(c.Object, "spec", "issuerRef", "name")
		return kind + "/" + name
	}
	t.Fatal("no serving Certificate")
	return ""
}

// selector is one webhook's namespaceSelector; workloads is true for the
// webhooks on Deployments, StatefulSets and Jobs.
type selector struct {
	name      string
	sel       metav1.LabelSelector
	workloads bool
}

// onWorkloads reports whether rules match the apps or batch group.
func onWorkloads(rules []admissionv1.RuleWithOperations) bool {
	return slices.ContainsFunc(rules, func(r admissionv1.RuleWithOperations) bool {
		return slices.Contains(r.APIGroups, "apps") || slices.Contains(r.APIGroups, "batch")
	})
}

// webhookSelectors returns the namespaceSelector of every webhook.
func webhookSelectors(t *testing.T, r rendered) []selector {
	t.Helper()
	var out []selector
	for _, u := range r.all("MutatingWebhookConfiguration") {
		var m admissionv1.MutatingWebhookConfiguration
		into(t, u, &m)
		for _, wh := range m.Webhooks {
			out = append(out, selector{wh.Name, *wh.NamespaceSelector, onWorkloads(wh.Rules)})
		}
	}
	for _, u := range r.all("ValidatingWebhookConfiguration") {
		var v admissionv1.ValidatingWebhookConfiguration
		into(t, u, &v)
		for _, wh := range v.Webhooks {
			out = append(out, selector{wh.Name, *wh.NamespaceSelector, onWorkloads(wh.Rules)})
		}
	}
	return out
}

// hasRequirement reports whether sel has the requirement with exactly values.
func hasRequirement(sel metav1.LabelSelector, key string, op metav1.LabelSelectorOperator, values ...string) bool {
	return slices.ContainsFunc(sel.MatchExpressions, func(r metav1.LabelSelectorRequirement) bool {
		return r.Key == key && r.Operator == op && sets.New(r.Values...).Equal(sets.New(values...))
	})
}

func TestLintStrict(t *testing.T) {
	for _, vs := range matrix {
		t.Run(vs.name, func(t *testing.T) {
			args := []string{"lint", "--strict", "charts/mlscale"}
			// lint has no --namespace of its own meaning; keep the value flags.
			for i := 0; i < len(vs.args); i++ {
				if vs.args[i] == "--namespace" {
					i++
					continue
				}
				args = append(args, vs.args[i])
			}
			if out, err := runHelm(t, "", args...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

func TestTemplate(t *testing.T) {
	for _, vs := range matrix {
		t.Run(vs.name, func(t *testing.T) {
			r := template(t, vs.args...)
			ns := releaseNamespace
			if i := slices.Index(vs.args, "--namespace"); i >= 0 {
				ns = vs.args[i+1]
			}
			checkInvariants(t, r, ns, vs)
			vs.check(t, r)
		})
	}
}

// TestSchemaRefusesBadValues checks that values.schema.json (generated
// from values.yaml) stops values the chart cannot honour.
func TestSchemaRefusesBadValues(t *testing.T) {
	for _, bad := range [][]string{
		{"--set", "webhook.timeoutSeconds=10"},
		{"--set", "webhook.podDisruptionBudget.minAvailable=-1"},
		{"--set", "certManager.issuer.kind=Vault"},
		{"--set", "webhook.replicaz=3"},
		{"--set", "predictor.interval=soon"},
		// The webhook would crash-loop on these (policy.ParseConfig refuses them).
		{"--set", "policies.config.actions.gpu_budget=block"},
		{"--set", "policies.config.gpuBudgets.ml-team=-1"},
		// A label value must be a scalar.
		{"--set", "commonLabels.team.name=ml"},
	} {
		if _, err := runHelm(t, "", append([]string{"template", releaseName, "charts/mlscale"}, bad...)...); err == nil {
			t.Errorf("helm template %v succeeded; the schema should refuse it", bad)
		} else if !strings.Contains(err.Error(), "values don't meet the specifications of the schema") {
			t.Errorf("helm template %v failed, but not on the schema: %v", bad, err)
		}
	}
}

// TestServiceNamesAreDNSLabels: with the longest fullname (63 characters
// after the chart's own cut) every Service name is still a DNS label of at
// most 63 characters; the collector's took its "-collector" suffix past it.
// With a fullname of 62 or 63 characters the suffixes (-webhook,
// -collector, -serving-cert) used to be cut off, and the webhook's and the
// collector's Service and ServiceAccount had one name: the install failed
// or left the collector's under the webhook's name.
func TestServiceNamesAreDNSLabels(t *testing.T) {
	for _, n := range []int{40, 60, 62, 63} {
		r := template(t, "--set", "fullnameOverride="+strings.Repeat("a", n))
		services := r.all("Service")
		if len(services) < 2 {
			t.Fatalf("want the webhook's and the collector's Services; got %s", r.names())
		}
		for _, o := range services {
			if errs := validation.IsDNS1123Label(o.GetName()); len(errs) > 0 {
				t.Errorf("fullname of %d: Service %q: %s", n, o.GetName(), strings.Join(errs, "; "))
			}
		}
		seen := map[string]bool{}
		for _, o := range r.objs {
			key := o.GetKind() + "/" + o.GetName()
			if seen[key] {
				t.Errorf("fullname of %d: two objects %s", n, key)
			}
			seen[key] = true
		}
	}
}

// TestNamesThatLookLikeYAMLScalars checks that a release, namespace or name
// override that YAML reads as a boolean or a number (y, off, 123) stays a
// string in every name, namespace and label: unquoted, the API server's
// decoder refused the whole release.
func TestNamesThatLookLikeYAMLScalars(t *testing.T) {
	for _, args := range [][]string{
		{"--set-string", "nameOverride=off"},
		{"--set-string", "fullnameOverride=123"},
		{"--set-string", "nameOverride=yes", "--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.prometheusRule.enabled=true", "--set", "dashboards.enabled=true"},
	} {
		out, err := runHelm(t, "", append([]string{"template", "y", "charts/mlscale", "--namespace", "123"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range decodeObjects(t, out) {
			meta, _ := o.Object["metadata"].(map[string]any)
			for _, k := range []string{"name", "namespace"} {
				if v, ok := meta[k]; ok {
					if _, isString := v.(string); !isString {
						t.Errorf("%v: %s %v: metadata.%s is %T %v, not a string", args, o.GetKind(), meta["name"], k, v, v)
					}
				}
			}
			labels, _ := meta["labels"].(map[string]any)
			for k, v := range labels {
				if _, isString := v.(string); !isString {
					t.Errorf("%v: %s %v: label %s is %T %v, not a string", args, o.GetKind(), meta["name"], k, v, v)
				}
			}
		}
	}
}

// TestRefusals checks that the chart refuses, naming the value and what
// it wants, the values it cannot honour: combinations the schema cannot
// express (template fail) and values it refuses.
func TestRefusals(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		// The webhook pods need a ServiceAccount.
		{[]string{"--set", "serviceAccount.create=false"}, "serviceAccount.name: required when serviceAccount.create is false"},
		// Your own certificate needs both the Secret and the CA bundle.
		{[]string{"--set", "certManager.enabled=false"}, "tls.existingSecret: required when certManager.enabled is false"},
		{[]string{"--set", "certManager.enabled=false", "--set", "tls.existingSecret=corp-tls"}, "tls.caBundle: required when certManager.enabled is false"},
		{[]string{"--set", "certManager.enabled=false", "--set", "tls.existingSecret=corp-tls", "--set", "tls.caBundle=bm90IGEgY2VydGlmaWNhdGU="}, "tls.caBundle: not a base64-encoded PEM certificate"},
		{[]string{"--set", "certManager.enabled=false", "--set", "tls.existingSecret=corp-tls", "--set", "tls.caBundle=%%%"}, "tls.caBundle: not a base64-encoded PEM certificate"},
		// ... and is ignored by nothing: with cert-manager on, it is a mistake.
		{[]string{"--set", "tls.existingSecret=corp-tls"}, "set certManager.enabled=false to use them"},
		{[]string{"--set", "tls.caBundle=" + testCABundle}, "set certManager.enabled=false to use them"},
		// A pod label must not replace a selector label.
		{[]string{"--set", "webhook.podLabels.app\\.kubernetes\\.io/component=x"}, "webhook.podLabels: app.kubernetes.io/component is a selector label the chart sets"},
		{[]string{"--set", "collector.podLabels.app\\.kubernetes\\.io/instance=x"}, "collector.podLabels: app.kubernetes.io/instance is a selector label the chart sets"},
		// failurePolicy: plain keys with the enum; the old keys (webhook
		// names, dots escaped) and unescaped dots are refused, naming the key.
		{[]string{"--set", "webhook.failurePolicy.mutate=Sometimes"}, "at '/webhook/failurePolicy/mutate': value must be one of 'Ignore', 'Fail'"},
		{[]string{"--set", "webhook.failurePolicy.mutate\\.mlscale\\.io=Fail"}, "at '/webhook/failurePolicy': additional properties 'mutate.mlscale.io' not allowed"},
		{[]string{"--set", "webhook.failurePolicy.keda-create=Fail"}, "at '/webhook/failurePolicy': additional properties 'keda-create' not allowed"},
		{[]string{"--set", "webhook.failurePolicy.mutate.mlscale.io=Fail"}, "/webhook/failurePolicy/mutate"},
		// A tag is not a digest.
		{[]string{"--set", "image.digest=latest"}, "at '/image/digest': 'latest' does not match pattern"},
		{[]string{"--set", "replicaCount=0"}, "at '/replicaCount': minimum: got 0, want 1"},
		// Values mlscale would refuse at start, or the API server or
		// cert-manager would refuse in the objects.
		{[]string{"--set", "image.repository="}, "at '/image/repository': '' does not match pattern"},
		{[]string{"--set", "defaults.prometheusServer=prometheus:9090"}, "at '/defaults/prometheusServer': 'prometheus:9090' does not match pattern"},
		{[]string{"--set", "predictor.prometheusURL=notaurl"}, "at '/predictor/prometheusURL': 'notaurl' does not match pattern"},
		// KEDA appends /api/v1/query?query=... to the address.
		{[]string{"--set", "defaults.prometheusServer=http://prometheus:9090?timeout=5s"}, "at '/defaults/prometheusServer': 'http://prometheus:9090?timeout=5s' does not match pattern"},
		{[]string{"--set", "defaults.prometheusServer=http://:9090"}, "at '/defaults/prometheusServer': 'http://:9090' does not match pattern"},
		{[]string{"--set", "defaults.prometheusServer="}, "predictor.enabled needs a Prometheus to read: set predictor.prometheusURL or defaults.prometheusServer"},
		{[]string{"--set", "defaults.clusterDomain=Cluster_Local"}, "at '/defaults/clusterDomain': 'Cluster_Local' does not match pattern"},
		{[]string{"--set", "certManager.duration=90d"}, "at '/certManager/duration': '90d' does not match pattern"},
		{[]string{"--set", "service.port=8080"}, "service.port and webhook.metricsPort are both 8080; the webhook Service's ports must differ"},
		{[]string{"--set", "predictor.interval=0s"}, `predictor.interval: "0s" is no time`},
		{[]string{"--set", "commonLabels.app\\.kubernetes\\.io/instance=platform"}, "commonLabels: app.kubernetes.io/instance is a label the chart sets"},
		{[]string{"--namespace", releaseNamespace, "--set", "namespaceSelector.namespaces={" + releaseNamespace + "}"}, "namespaceSelector.namespaces: " + releaseNamespace + " is the release's own namespace"},
		{[]string{"--set", "namespaceSelector.namespaces={ml,kube-system}"}, "namespaceSelector.namespaces: kube-system is never checked"},
		{[]string{"--set", "namespaceSelector.namespaces={ml}", "--set", "namespaceSelector.excludeNamespaces={ml}"}, "namespaceSelector.namespaces: ml is also in namespaceSelector.excludeNamespaces"},
		{[]string{"--set", "namespaceSelector.namespaces={ML_Team}"}, "at '/namespaceSelector/namespaces/0': 'ML_Team' does not match pattern"},
		{[]string{"--set", "namespaceSelector.optInLabel=bad!key"}, "at '/namespaceSelector/optInLabel': 'bad!key' does not match pattern"},
		{[]string{"--set", "dashboards.label="}, "at '/dashboards/label': '' does not match pattern"},
		{[]string{"--set", "metrics.serviceMonitor.interval=thirty"}, "at '/metrics/serviceMonitor/interval': 'thirty' does not match pattern"},
		{[]string{"--set", "image.repository=ghcr.io/mlscale/mlscale:1.0"}, "at '/image/repository': 'ghcr.io/mlscale/mlscale:1.0' does not match pattern"},
		{[]string{"--set", "policies.config.gpuBudgets.ML=4"}, `policies.config.gpuBudgets: "ML" is not a namespace name`},
		{[]string{"--set", "certManager.duration=30m"}, "certManager.duration: 30m is under an hour, which cert-manager refuses"},
		{[]string{"--set", "certManager.caDuration=59m59s"}, "certManager.caDuration: 59m59s is under an hour"},
		{[]string{"--set", "certManager.renewBefore=1m"}, "certManager.renewBefore: 1m is under 5 minutes"},
		{[]string{"--set", "certManager.renewBefore=3000h"}, "certManager.renewBefore: 3000h is not under certManager.duration (2160h)"},
		{[]string{"--set", "certManager.enabled=false", "--set", "tls.existingSecret=corp-tls", "--set", "tls.caBundle=" + base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n"))}, "tls.caBundle: holds a private key"},
		{[]string{"--set", "predictor.interval=0m0.0s"}, `predictor.interval: "0m0.0s" is no time`},
		// Labels the API server would refuse in every object.
		{[]string{"--set", "commonLabels.team=ml team"}, `commonLabels.team: "ml team" is not a label value`},
		{[]string{"--set", "commonLabels.Example\\.com/team=ml"}, `commonLabels: "Example.com/team" is not a label key`},
		{[]string{"--set", "commonLabels.a/b/c=ml"}, `commonLabels: "a/b/c" is not a label key`},
		{[]string{"--set", "webhook.podLabels.tier=-gpu"}, `webhook.podLabels.tier: "-gpu" is not a label value`},
		{[]string{"--set", "collector.nodeSelector.pool=" + strings.Repeat("g", 64)}, `collector.nodeSelector.pool: "` + strings.Repeat("g", 64) + `" is not a label value`},
	} {
		_, err := runHelm(t, "", append([]string{"template", releaseName, "charts/mlscale"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("helm template %v: %v\nwant a refusal containing %q", c.args, err, c.want)
		}
	}
}

// TestFailurePolicyDefaults checks that values.yaml's webhook.failurePolicy
// has one key per webhook of config/webhook (the webhook name's first label
// in camelCase, as the template derives it), with the marker's policy as its
// default: a marker change must reach the chart's defaults and its docs.
func TestFailurePolicyDefaults(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir(t), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Webhook struct {
			FailurePolicy map[string]string `json:"failurePolicy"`
		} `json:"webhook"`
	}
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	got := values.Webhook.FailurePolicy
	want := map[string]string{}
	for name, h := range generatedWebhooks(t) {
		parts := strings.Split(strings.SplitN(name, ".", 2)[0], "-")
		key := parts[0]
		for _, p := range parts[1:] {
			key += strings.ToUpper(p[:1]) + p[1:]
		}
		want[key] = h.failurePolicy
	}
	if !maps.Equal(got, want) {
		t.Errorf("values.yaml webhook.failurePolicy %v, config/webhook's markers give %v", got, want)
	}
	if len(want) < 5 {
		t.Errorf("config/webhook has %d webhooks: %v", len(want), want)
	}
}

// TestPortCollision checks that two containers of the webhook pod cannot
// be given the same port (they share the pod's network; the second would
// crash-loop on "address already in use").
func TestPortCollision(t *testing.T) {
	_, err := runHelm(t, "", "template", releaseName, "charts/mlscale", "--set", "predictor.metricsPort=8080")
	if err == nil || !strings.Contains(err.Error(), "webhook.metricsPort and predictor.metricsPort are both 8080") {
		t.Errorf("helm template with predictor.metricsPort=webhook.metricsPort: %v, want a refusal", err)
	}
	if _, err := runHelm(t, "", "template", releaseName, "charts/mlscale", "--set", "predictor.enabled=false", "--set", "predictor.metricsPort=8080"); err != nil {
		t.Errorf("predictor disabled, its ports are unused: %v", err)
	}
}

// checkInvariants holds for every value set.
func checkInvariants(t *testing.T, r rendered, ns string, vs valueSet) {
	t.Helper()
	clusterScoped := map[string]bool{"ClusterRole": true, "ClusterRoleBinding": true, "MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
		"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true}
	for _, o := range r.objs {
		if clusterScoped[o.GetKind()] != (o.GetNamespace() == "") {
			t.Errorf("%s %s: namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
		} else if o.GetNamespace() != "" && o.GetNamespace() != ns && o.GetLabels()["grafana_dashboard"] == "" {
			t.Errorf("%s %s in namespace %q, want the release namespace %s", o.GetKind(), o.GetName(), o.GetNamespace(), ns)
		}
	}
	fullname := "mlscale"
	if cm := r.get("ConfigMap", "scaler-defaults"); cm != nil {
		fullname = "scaler"
	}
	checkWebhooks(t, r, ns, fullname, vs)
	checkRBAC(t, r, ns)
	checkPods(t, r, fullname, vs)
}

// checkWebhooks: the configurations match config/webhook (names, paths,
// rules, failurePolicy unless overridden), the webhooks on workloads need
// the opt-in label, they carry the inject annotation naming the serving Certificate, call
// the rendered Service, time out within 5s and exclude kube-system and the
// release namespace.
func checkWebhooks(t *testing.T, r rendered, ns, fullname string, vs valueSet) {
	t.Helper()
	gen := generatedWebhooks(t)
	serving := fullname + "-serving-cert"
	var svc corev1.Service
	r.mustGet(t, "Service", fullname+"-webhook", &svc)
	if !vs.ownCert {
		var cert map[string]any
		if c := r.get("Certificate", serving); c != nil {
			cert = c.Object
		} else {
			t.Fatalf("no serving Certificate %s", serving)
		}
		if s, _, _ := unstructured.NestedString(cert, "spec", "secretName"); s == "" {
			t.Error("serving Certificate has no secretName")
		}
		dns, _, _ := unstructured.NestedStringSlice(cert, "spec", "dnsNames")
		if !slices.Contains(dns, fmt.Sprintf("%s.%s.svc", svc.Name, ns)) {
			t.Errorf("serving Certificate dnsNames %v lack %s.%s.svc, the name the API server verifies", dns, svc.Name, ns)
		}
	}
	// Without cert-manager every webhook carries tls.caBundle, and nothing
	// asks cert-manager's injector to overwrite it.
	wantCA := []byte(nil)
	if vs.ownCert {
		b, err := base64.StdEncoding.DecodeString(testCABundle)
		if err != nil {
			t.Fatal(err)
		}
		wantCA = b
	}
	type hook struct {
		name, path, failurePolicy string
		timeout                   int32
		rules                     []admissionv1.RuleWithOperations
		cc                        admissionv1.WebhookClientConfig
		sel                       *metav1.LabelSelector
		sideEffects               admissionv1.SideEffectClass
	}
	var got []hook
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		for _, u := range r.all(kind) {
			a, injected := u.GetAnnotations()["cert-manager.io/inject-ca-from"]
			switch {
			case vs.ownCert && injected:
				t.Errorf("%s %s: cert-manager.io/inject-ca-from %q without cert-manager", kind, u.GetName(), a)
			case !vs.ownCert && a != ns+"/"+serving:
				t.Errorf("%s %s: cert-manager.io/inject-ca-from %q, want %s/%s", kind, u.GetName(), a, ns, serving)
			}
			if kind == "MutatingWebhookConfiguration" {
				var m admissionv1.MutatingWebhookConfiguration
				into(t, u, &m)
				for _, w := range m.Webhooks {
					got = append(got, hook{w.Name, *w.ClientConfig.Service.Path, string(*w.FailurePolicy), *w.TimeoutSeconds, w.Rules, w.ClientConfig, w.NamespaceSelector, *w.SideEffects})
				}
			} else {
				var v admissionv1.ValidatingWebhookConfiguration
				into(t, u, &v)
				for _, w := range v.Webhooks {
					got = append(got, hook{w.Name, *w.ClientConfig.Service.Path, string(*w.FailurePolicy), *w.TimeoutSeconds, w.Rules, w.ClientConfig, w.NamespaceSelector, *w.SideEffects})
				}
			}
		}
	}
	if len(got) != len(gen) {
		t.Errorf("%d webhooks rendered, config/webhook generates %d", len(got), len(gen))
	}
	for _, h := range got {
		g, ok := gen[h.name]
		if !ok {
			t.Errorf("webhook %s is not in config/webhook/manifests.yaml", h.name)
			continue
		}
		if h.path != g.path || !reflect.DeepEqual(h.rules, g.rules) || h.sideEffects != g.sideEffects {
			t.Errorf("webhook %s: path %s rules %v sideEffects %s; config/webhook has %s %v %s", h.name, h.path, h.rules, h.sideEffects, g.path, g.rules, g.sideEffects)
		}
		if h.timeout < 1 || h.timeout > 5 {
			t.Errorf("webhook %s: timeoutSeconds %d, want 1..5", h.name, h.timeout)
		}
		want := g.failurePolicy
		if fp, ok := vs.failurePolicy[h.name]; ok {
			want = fp
		}
		if h.failurePolicy != want {
			t.Errorf("webhook %s: failurePolicy %q, want %q", h.name, h.failurePolicy, want)
		}
		optIn := hasRequirement(*h.sel, "mlscale.io/enabled", metav1.LabelSelectorOpIn, "true")
		if onWorkloads(h.rules) && !optIn && !vs.noOptIn {
			t.Errorf("webhook %s on workloads does not require the opt-in label: %v", h.name, h.sel)
		}
		if !onWorkloads(h.rules) && optIn {
			t.Errorf("webhook %s on HPAs or KEDA objects requires the opt-in label; it must check every namespace", h.name)
		}
		if !bytes.Equal(h.cc.CABundle, wantCA) {
			t.Errorf("webhook %s: caBundle %d bytes, want %d (tls.caBundle without cert-manager, none with it)", h.name, len(h.cc.CABundle), len(wantCA))
		}
		s := h.cc.Service
		if s == nil || s.Name != svc.Name || s.Namespace != ns || s.Port == nil || !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == *s.Port && p.TargetPort.StrVal == "webhook" }) {
			t.Errorf("webhook %s calls %+v, not the webhook port of Service %s/%s", h.name, s, ns, svc.Name)
		}
		if h.sel == nil || !slices.ContainsFunc(h.sel.MatchExpressions, func(r metav1.LabelSelectorRequirement) bool {
			return r.Key == "kubernetes.io/metadata.name" && r.Operator == metav1.LabelSelectorOpNotIn && sets.New(r.Values...).HasAll("kube-system", ns)
		}) {
			t.Errorf("webhook %s: namespaceSelector %v does not exclude kube-system and %s", h.name, h.sel, ns)
		}
	}
}

// generatedHook is one webhook of config/webhook/manifests.yaml.
type generatedHook struct {
	path, failurePolicy string
	rules               []admissionv1.RuleWithOperations
	sideEffects         admissionv1.SideEffectClass
}

// generatedWebhooks reads config/webhook/manifests.yaml, controller-gen's
// output from the markers: the source the chart must follow.
func generatedWebhooks(t *testing.T) map[string]generatedHook {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]generatedHook{}
	for _, u := range decodeObjects(t, string(b)) {
		switch u.GetKind() {
		case "MutatingWebhookConfiguration":
			var m admissionv1.MutatingWebhookConfiguration
			into(t, u, &m)
			for _, w := range m.Webhooks {
				out[w.Name] = generatedHook{*w.ClientConfig.Service.Path, string(*w.FailurePolicy), w.Rules, *w.SideEffects}
			}
		case "ValidatingWebhookConfiguration":
			var v admissionv1.ValidatingWebhookConfiguration
			into(t, u, &v)
			for _, w := range v.Webhooks {
				out[w.Name] = generatedHook{*w.ClientConfig.Service.Path, string(*w.FailurePolicy), w.Rules, *w.SideEffects}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("config/webhook/manifests.yaml has no webhooks")
	}
	return out
}

// checkRBAC: the ClusterRole and Role carry exactly the rules controller-gen
// generates into config/rbac/role.yaml, the Role lives in the release
// namespace, and the bindings name the pods' ServiceAccount.
func checkRBAC(t *testing.T, r rendered, ns string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]rbacv1.PolicyRule{}
	for _, u := range decodeObjects(t, string(b)) {
		var role rbacv1.ClusterRole // Role has the same rules field
		u2 := u.DeepCopy()
		u2.SetKind("ClusterRole")
		unstructured.RemoveNestedField(u2.Object, "metadata", "namespace")
		into(t, u2, &role)
		want[u.GetKind()] = append(want[u.GetKind()], role.Rules...)
	}
	got := map[string][]rbacv1.PolicyRule{}
	for _, u := range r.all("ClusterRole") {
		var role rbacv1.ClusterRole
		into(t, u, &role)
		got["ClusterRole"] = append(got["ClusterRole"], role.Rules...)
	}
	for _, u := range r.all("Role") {
		var role rbacv1.Role
		into(t, u, &role)
		got["Role"] = append(got["Role"], role.Rules...)
		if role.Namespace != ns {
			t.Errorf("Role %s in %s, want the release namespace %s", role.Name, role.Namespace, ns)
		}
	}
	for kind, rules := range want {
		if !reflect.DeepEqual(got[kind], rules) {
			t.Errorf("%s rules differ from config/rbac/role.yaml:\n got: %v\nwant: %v", kind, got[kind], rules)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rendered role kinds %v, config/rbac has %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	var dep appsv1.Deployment
	for _, u := range r.all("Deployment") {
		into(t, u, &dep)
	}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, u := range r.all(kind) {
			var rb rbacv1.RoleBinding
			u2 := u.DeepCopy()
			u2.SetKind("RoleBinding")
			into(t, u2, &rb)
			if len(rb.Subjects) != 1 || rb.Subjects[0].Name != dep.Spec.Template.Spec.ServiceAccountName || rb.Subjects[0].Namespace != ns {
				t.Errorf("%s %s binds %v, want the webhook pods' ServiceAccount %s/%s", kind, rb.Name, rb.Subjects, ns, dep.Spec.Template.Spec.ServiceAccountName)
			}
			if r.get(rb.RoleRef.Kind, rb.RoleRef.Name) == nil {
				t.Errorf("%s %s refers to %s %s, which is not rendered", kind, rb.Name, rb.RoleRef.Kind, rb.RoleRef.Name)
			}
		}
	}
}

// checkPods: the webhook Deployment has 2 replicas (unless set), a PDB
// selecting its pods, non-root pods with read-only root file systems,
// probes and resources, and mounts the serving Certificate's Secret.
func checkPods(t *testing.T, r rendered, fullname string, vs valueSet) {
	t.Helper()
	var dep appsv1.Deployment
	r.mustGet(t, "Deployment", fullname+"-webhook", &dep)
	wantReplicas := vs.replicas
	if wantReplicas == 0 {
		wantReplicas = 2
	}
	if *dep.Spec.Replicas != wantReplicas {
		t.Errorf("webhook replicas %d, want %d", *dep.Spec.Replicas, wantReplicas)
	}
	pod := dep.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("webhook pods do not run as non-root")
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: root file system not read-only or privilege escalation allowed", c.Name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("container %s: no CPU request or memory limit", c.Name)
		}
		if c.Args[0] != c.Name && c.Name == "webhook" {
			t.Errorf("container %s runs %q", c.Name, c.Args[0])
		}
	}
	// The API server refuses port names over 15 characters (an IANA_SVC_NAME).
	for _, u := range append(r.all("Deployment"), r.all("DaemonSet")...) {
		var d appsv1.Deployment
		u2 := u.DeepCopy()
		u2.SetKind("Deployment")
		unstructured.RemoveNestedField(u2.Object, "spec", "updateStrategy")
		into(t, u2, &d)
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, p := range c.Ports {
				if len(p.Name) > 15 {
					t.Errorf("%s %s container %s: port name %q is longer than 15 characters", u.GetKind(), u.GetName(), c.Name, p.Name)
				}
			}
		}
	}
	for _, u := range r.all("Service") {
		var svc corev1.Service
		into(t, u, &svc)
		for _, p := range svc.Spec.Ports {
			if len(p.Name) > 15 || len(p.TargetPort.StrVal) > 15 {
				t.Errorf("Service %s: port %q (target %q) longer than 15 characters", svc.Name, p.Name, p.TargetPort.StrVal)
			}
		}
	}
	web := pod.Containers[0]
	if web.ReadinessProbe == nil || web.LivenessProbe == nil {
		t.Error("webhook container lacks readiness or liveness probe")
	}
	secret := "corp-webhook-tls" // tls.existingSecret of the own-certificate case
	if !vs.ownCert {
		cert := r.get("Certificate", fullname+"-serving-cert")
		secret, _, _ = unstructured.NestedString(cert.Object, "spec", "secretName")
	}
	if !slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Secret != nil && v.Secret.SecretName == secret }) {
		t.Errorf("webhook pods do not mount the serving certificate's Secret %s", secret)
	}
	for _, u := range r.all("PodDisruptionBudget") {
		var pdb policyv1.PodDisruptionBudget
		into(t, u, &pdb)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
			t.Errorf("PodDisruptionBudget %s does not select the webhook pods", pdb.Name)
		}
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() >= int(*dep.Spec.Replicas) {
			t.Errorf("PodDisruptionBudget minAvailable %v would block every drain of %d replicas", pdb.Spec.MinAvailable, *dep.Spec.Replicas)
		}
	}
}

// TestGeneratedFilesCurrent fails when values.schema.json, README.md or
// the chart's copies of config/rbac, config/webhook and deploy/prometheus
// are stale (run `make chart-docs`).
func TestGeneratedFilesCurrent(t *testing.T) {
	root := repoRoot(t)
	files, err := chartdocs.Generate(chartDir(t), root)
	if err != nil {
		t.Fatal(err)
	}
	if stale := chartdocs.Stale(chartDir(t), files); len(stale) > 0 {
		t.Errorf("stale in charts/mlscale: %s; run `make chart-docs`", strings.Join(stale, ", "))
	}
	var schema map[string]any
	if err := yaml.Unmarshal(files[chartdocs.SchemaFile], &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
}

// checkPrometheusRule: the PrometheusRule has mlscale's alerts, and the
// recording rules of deploy/prometheus when there are any.
func checkPrometheusRule(t *testing.T, r rendered) {
	t.Helper()
	pr := r.get("PrometheusRule", "mlscale")
	if pr == nil {
		t.Fatalf("no PrometheusRule: %s", r.names())
	}
	groups, _, _ := unstructured.NestedSlice(pr.Object, "spec", "groups")
	alerts, records := 0, 0
	for _, g := range groups {
		rules, _ := g.(map[string]any)["rules"].([]any)
		for _, rule := range rules {
			m := rule.(map[string]any)
			if m["expr"] == nil || m["expr"] == "" {
				t.Errorf("rule %v has no expr", m)
			}
			if m["alert"] != nil {
				alerts++
			}
			if m["record"] != nil {
				records++
			}
		}
	}
	if alerts == 0 {
		t.Error("PrometheusRule has no alerts")
	}
	files, _ := filepath.Glob(filepath.Join(chartDir(t), "files", "generated", "prometheus", "*.yaml"))
	if len(files) > 0 && records == 0 {
		t.Errorf("deploy/prometheus has recording rules (%v) but the PrometheusRule has none", files)
	}
}

// TestMonitoringAuto: with metrics.*.enabled "auto" (the default) the
// ServiceMonitor and PrometheusRule (the recording rules the gpu trigger
// reads) come with the Prometheus Operator's API, and false keeps them out
// even then.
func TestMonitoringAuto(t *testing.T) {
	api := []string{"--api-versions", "monitoring.coreos.com/v1/PrometheusRule", "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"}
	r := template(t, api...)
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		if len(r.all(kind)) != 1 {
			t.Errorf("%d %s rendered, want 1 where the cluster serves it (enabled: auto)", len(r.all(kind)), kind)
		}
	}
	r = template(t, append(api, "--set", "metrics.prometheusRule.enabled=false")...)
	if len(r.all("PrometheusRule")) != 0 {
		t.Error("PrometheusRule rendered although metrics.prometheusRule.enabled is false")
	}
}

// TestPrometheusURLAsMLScaleChecks: the chart accepts a Prometheus URL
// (defaults.prometheusServer, passed to `mlscale webhook
// --prometheus-server`) exactly where mlscale does, so that a value the
// chart renders never stops the pods at start.
func TestPrometheusURLAsMLScaleChecks(t *testing.T) {
	for _, u := range []string{
		"http://prometheus-operated.monitoring.svc:9090", "https://thanos.example.com/prometheus", "http://[fd00::1]:9090",
		"http://p:1", "http://p:65535", "http://p:65536", "http://p:99999", "http://p:0", "http://:9090",
		"http://p:9090?timeout=5s", "http://p:9090#x", "http://u:pw@p:9090", "prometheus:9090", "http://p:9090/ x",
	} {
		_, err := runHelm(t, "", "template", releaseName, "charts/mlscale", "--set-string", "defaults.prometheusServer="+u)
		if chart, binary := err == nil, intent.CheckPrometheusServer(u) == nil; chart != binary {
			t.Errorf("%q: the chart accepts it: %v (%v), mlscale accepts it: %v", u, chart, err, binary)
		}
	}
}
