package helm

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cainjector "github.com/cert-manager/cert-manager/pkg/controller/cainjector"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/mlscale/mlscale/internal/cli"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/test/crdschema"
	"github.com/mlscale/mlscale/test/kubetest"
	"github.com/mlscale/mlscale/test/localcluster"
)

// certManagerModule is the module whose deploy/crds the API server gets.
const certManagerModule = "github.com/cert-manager/cert-manager"

// TestInstall installs the chart, exactly as the README's install section
// says, into a real kube-apiserver (bin/k8s) with cert-manager's and KEDA's
// CRDs, then checks the path a real cluster takes to a working webhook:
//
//  1. `helm install` succeeds and the webhook configurations carry
//     cert-manager.io/inject-ca-from, without a caBundle yet;
//  2. the serving certificate's Secret appears. No cert-manager controller
//     runs here (it would issue the Certificate through the chart's CA
//     Issuer), so the test writes the Secret the Certificate would produce:
//     the Certificate's secretName and dnsNames, a CA-signed serving
//     certificate, ca.crt, and the cert-manager.io/certificate-name
//     annotation cert-manager sets;
//  3. cert-manager's real CA injector (pkg/controller/cainjector, started
//     in this process against the API server) fills every webhook's
//     caBundle with that ca.crt;
//  4. mlscale's webhook runs in this process with the container arguments of
//     the installed Deployment, the files of its mounted Secret and
//     ConfigMap, and a token of its ServiceAccount (the chart's RBAC); no kubelet or kube-proxy runs here, so the test points the
//     chart's Service at loopback (type ExternalName 127.0.0.1, which the
//     API server resolves for webhook calls), and the webhook listens on
//     127.0.0.1 at the Service's port;
//  5. the API server calls the webhook over TLS, verifying it with the
//     injected CA and the Service's DNS name: an annotated Deployment in the
//     opted-in namespace gets mlscale.io/rendered-hash from the mutating
//     webhook and its ScaledObject from the reconciler, an HPA on the same
//     Deployment is denied by the validating (policy) webhook, a bad
//     annotation is refused, and a namespace that has not opted in is left
//     alone;
//  6. the other value sets of the template matrix pass the API server's
//     validation (kubectl apply --dry-run=server), and helm uninstall
//     removes the webhook configurations;
//  7. an install with your own certificate (certManager.enabled=false,
//     tls.existingSecret, tls.caBundle) creates no cert-manager object, sets
//     every webhook's caBundle and mounts the Secret, whose certificate
//     verifies against that caBundle as the Service's name.
func TestInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver and etcd")
	}
	root := repoRoot(t)
	helmPath(t)
	steps := readmeInstall(t, filepath.Join(root, "README.md"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ctrllog.SetLogger(zap.New(zap.WriteTo(io.Discard)))

	// Port 443 is the Service's port, where the webhook must listen.
	port := 443
	if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		t.Fatalf("the webhook must listen on 127.0.0.1:%d, the Service's port (the test runs as root): %v", port, err)
	} else {
		_ = l.Close()
	}

	kedaCRDs, err := crdschema.KEDACRDDir(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := localcluster.Start(ctx, localcluster.Options{
		BinDir:  filepath.Join(root, "bin", "k8s"),
		CRDDirs: []string{kedaCRDs, certManagerCRDDir(t, root)},
	})
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, cmapi.AddToScheme, kedav1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := client.New(c.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	// 1. The README's commands, as written.
	for _, step := range steps {
		t.Logf("README: %s", strings.Join(step, " "))
		var out string
		var err error
		switch step[0] {
		case "helm":
			out, err = runHelm(t, c.KubeconfigPath, step[1:]...)
		case "kubectl":
			out, _, err = c.Kubectl(ctx, nil, step[1:]...)
		}
		if err != nil {
			t.Fatalf("README install step failed: %v\n%s", err, out)
		}
	}
	mutating, validating := webhookConfigs(ctx, t, cl)
	for _, o := range []client.Object{mutating, validating} {
		if got := o.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != releaseNamespace+"/mlscale-serving-cert" {
			t.Fatalf("%s: cert-manager.io/inject-ca-from %q", o.GetName(), got)
		}
	}
	for _, b := range caBundles(mutating, validating) {
		if len(b) != 0 {
			t.Fatal("caBundle set before the CA injector ran")
		}
	}

	// 2. The Secret cert-manager would write for the serving Certificate.
	var cert cmapi.Certificate
	if err := cl.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: "mlscale-serving-cert"}, &cert); err != nil {
		t.Fatal(err)
	}
	caPEM, certPEM, keyPEM := issue(t, cert.Spec.DNSNames)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: cert.Spec.SecretName, Annotations: map[string]string{
			cmapi.CertificateNameKey:      cert.Name,
			cmapi.IssuerNameAnnotationKey: cert.Spec.IssuerRef.Name,
			cmapi.IssuerKindAnnotationKey: cert.Spec.IssuerRef.Kind,
		}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM, "ca.crt": caPEM},
	}
	if err := cl.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}

	// 3. cert-manager's CA injector.
	stopInjector := startCAInjector(ctx, t, c)
	defer stopInjector()
	kubetest.Eventually(t, time.Minute, "caBundle injected into every webhook", func() error {
		m, v := webhookConfigs(ctx, t, cl)
		for i, b := range caBundles(m, v) {
			if !bytes.Equal(b, caPEM) {
				return fmt.Errorf("webhook %d: caBundle %d bytes, not the Secret's ca.crt", i, len(b))
			}
		}
		return nil
	})

	// 4. mlscale's webhook, as the chart runs it, behind the Service.
	if _, _, err := c.Kubectl(ctx, nil, "patch", "service", "mlscale-webhook", "-n", releaseNamespace, "--type=merge",
		"-p", `{"spec":{"type":"ExternalName","externalName":"127.0.0.1","clusterIP":"","clusterIPs":null,"ipFamilies":null,"ipFamilyPolicy":null,"selector":null}}`); err != nil {
		t.Fatal(err)
	}
	if p := *mutating.Webhooks[0].ClientConfig.Service.Port; int(p) != port {
		t.Fatalf("the webhooks call port %d, the test serves %d", p, port)
	}
	stopWebhook := startWebhook(ctx, t, c, cl, port, caPEM)
	defer stopWebhook()

	// 5. Admission through the API server.
	var ns corev1.Namespace
	if err := cl.Get(ctx, client.ObjectKey{Name: "ml-team"}, &ns); err != nil || ns.Labels["mlscale.io/enabled"] != "true" {
		t.Fatalf("the README's namespace ml-team is not opted in: %v %v", err, ns.Labels)
	}
	dep := deployment("ml-team", "llm", map[string]string{intent.KeyAutoscale: "true", "mlscale.io/cpu-target": "70", "mlscale.io/max-replicas": "5"})
	kubetest.Eventually(t, time.Minute, "Deployment admitted through the webhook", func() error {
		_ = cl.Delete(ctx, dep.DeepCopy())
		d := dep.DeepCopy()
		if err := cl.Create(ctx, d); err != nil {
			return err
		}
		if d.Annotations[intent.KeyRenderedHash] == "" {
			// failurePolicy Ignore: the API server skipped the webhook.
			return errors.New("created without mlscale.io/rendered-hash: the API server did not reach the webhook")
		}
		return nil
	})
	kubetest.Eventually(t, time.Minute, "ScaledObject ml-team/llm", func() error {
		var so kedav1alpha1.ScaledObject
		if err := cl.Get(ctx, client.ObjectKey{Namespace: "ml-team", Name: "llm"}, &so); err != nil {
			return err
		}
		if so.Spec.MaxReplicaCount == nil || *so.Spec.MaxReplicaCount != 5 {
			return fmt.Errorf("maxReplicaCount %v, want 5", so.Spec.MaxReplicaCount)
		}
		return nil
	})
	// The validating webhook (its own configuration and caBundle): an HPA
	// on a workload that the ScaledObject already scales is denied.
	kubetest.Eventually(t, time.Minute, "HPA on ml-team/llm denied by the policy webhook", func() error {
		hpa := &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ml-team", Name: "llm-hpa"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "llm"},
				MaxReplicas:    3,
			},
		}
		err := cl.Create(ctx, hpa)
		if err == nil {
			_ = cl.Delete(ctx, hpa)
			return errors.New("HPA admitted")
		}
		if !strings.Contains(err.Error(), "hpa_scaledobject_conflict") {
			return fmt.Errorf("HPA refused, but not by the policy: %w", err)
		}
		return nil
	})
	bad := deployment("ml-team", "bad", map[string]string{intent.KeyAutoscale: "true", "mlscale.io/max-replicas": "abc"})
	if err := cl.Create(ctx, bad); err == nil || !strings.Contains(err.Error(), "mlscale.io/max-replicas") {
		t.Errorf("Deployment with mlscale.io/max-replicas: abc: %v, want a denial naming the annotation", err)
	}
	// The other value sets' objects, validated by the same API server
	// (the ones whose kinds it has: no Prometheus Operator CRDs here).
	for _, vs := range matrix {
		if slices.ContainsFunc(vs.args, func(a string) bool { return strings.HasPrefix(a, "metrics.") || strings.HasPrefix(a, "dashboards.") }) {
			continue
		}
		ns := "dry-run-" + vs.name
		if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
		args := []string{"template", "dry", "charts/mlscale", "--set", "fullnameOverride=dry-" + vs.name}
		for i := 0; i < len(vs.args); i++ {
			if vs.args[i] == "--namespace" {
				i++
				continue
			}
			args = append(args, vs.args[i])
		}
		out, err := runHelm(t, "", append(args, "--namespace", ns)...)
		if err != nil {
			t.Fatal(err)
		}
		if _, stderr, err := c.Kubectl(ctx, strings.NewReader(out), "apply", "--dry-run=server", "-f", "-"); err != nil {
			t.Errorf("value set %s: the API server refuses the rendered objects: %v\n%s", vs.name, err, stderr)
		}
	}
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "not-opted-in"}}
	if err := cl.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	skipped := deployment("not-opted-in", "app", map[string]string{intent.KeyAutoscale: "true", "mlscale.io/max-replicas": "abc"})
	if err := cl.Create(ctx, skipped); err != nil {
		t.Errorf("a namespace without the opt-in label went through the webhook: %v", err)
	} else if skipped.Annotations[intent.KeyRenderedHash] != "" {
		t.Error("a namespace without the opt-in label was mutated")
	}

	// helm uninstall leaves no webhook configuration behind (which would
	// send admission to a webhook that is gone). The webhook stops first:
	// uninstall deletes its ServiceAccount and so invalidates its token.
	stopWebhook()
	if out, err := runHelm(t, c.KubeconfigPath, "uninstall", releaseName, "--namespace", releaseNamespace); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	kubetest.Eventually(t, time.Minute, "webhook configurations removed by helm uninstall", func() error {
		var ms admissionv1.MutatingWebhookConfigurationList
		var vs admissionv1.ValidatingWebhookConfigurationList
		if err := cl.List(ctx, &ms); err != nil {
			return err
		}
		if err := cl.List(ctx, &vs); err != nil {
			return err
		}
		if n := len(ms.Items) + len(vs.Items); n != 0 {
			return fmt.Errorf("%d webhook configurations left", n)
		}
		return nil
	})

	// 7. Your own certificate instead of cert-manager, as the chart's
	// README shows it: a kubernetes.io/tls Secret and its CA as
	// tls.caBundle. The release installs without cert-manager's objects,
	// every webhook carries the CA and the pods mount the Secret. (The
	// webhook is not started a second time: controller-runtime refuses a
	// second set of controllers in one process. What the API server checks,
	// the Secret's certificate against caBundle for the Service's name, is
	// checked here.)
	svcName := "mlscale-webhook." + releaseNamespace + ".svc"
	ownCA, ownCert, ownKey := issue(t, []string{svcName})
	if err := cl.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: "corp-webhook-tls"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: ownCert, corev1.TLSPrivateKeyKey: ownKey},
	}); err != nil {
		t.Fatal(err)
	}
	if out, err := runHelm(t, c.KubeconfigPath, "install", releaseName, "charts/mlscale", "--namespace", releaseNamespace,
		"--set", "certManager.enabled=false", "--set", "tls.existingSecret=corp-webhook-tls", "--set", "tls.caBundle="+base64.StdEncoding.EncodeToString(ownCA)); err != nil {
		t.Fatalf("helm install with your own certificate: %v\n%s", err, out)
	}
	mutating, validating = webhookConfigs(ctx, t, cl)
	for _, o := range []client.Object{mutating, validating} {
		if a, ok := o.GetAnnotations()["cert-manager.io/inject-ca-from"]; ok {
			t.Errorf("%s: cert-manager.io/inject-ca-from %q without cert-manager", o.GetName(), a)
		}
	}
	roots := x509.NewCertPool()
	for i, b := range caBundles(mutating, validating) {
		if !bytes.Equal(b, ownCA) {
			t.Errorf("webhook %d: caBundle %d bytes, want tls.caBundle's CA", i, len(b))
		}
		roots.AppendCertsFromPEM(b)
	}
	var certs cmapi.CertificateList
	if err := cl.List(ctx, &certs, client.InNamespace(releaseNamespace)); err != nil || len(certs.Items) != 0 {
		t.Errorf("Certificates with certManager.enabled=false: %d (%v)", len(certs.Items), err)
	}
	var ownDep appsv1.Deployment
	if err := cl.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: "mlscale-webhook"}, &ownDep); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ownDep.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Secret != nil && v.Secret.SecretName == "corp-webhook-tls" }) {
		t.Errorf("webhook pods mount %v, not tls.existingSecret corp-webhook-tls", ownDep.Spec.Template.Spec.Volumes)
	}
	if block, _ := pem.Decode(ownCert); block == nil {
		t.Fatal("the test's certificate is not PEM")
	} else if leaf, err := x509.ParseCertificate(block.Bytes); err != nil {
		t.Fatal(err)
	} else if _, err := leaf.Verify(x509.VerifyOptions{DNSName: svcName, Roots: roots}); err != nil {
		t.Errorf("the Secret's certificate does not verify against the installed caBundle as %s: %v", svcName, err)
	}
	if out, err := runHelm(t, c.KubeconfigPath, "uninstall", releaseName, "--namespace", releaseNamespace); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// readmeInstall returns the commands of the README's install section: the
// sh block between <!-- helm-install-test:begin --> and
// <!-- helm-install-test:end -->, one command per line (a trailing
// backslash continues it), comments dropped. Only helm and kubectl
// commands without shell quoting are allowed, so that the test runs them
// exactly as written.
func readmeInstall(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- helm-install-test:begin -->\\s*```sh\\n(.*?)```\\s*<!-- helm-install-test:end -->").FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no install section between <!-- helm-install-test:begin --> and <!-- helm-install-test:end -->")
	}
	var steps [][]string
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(m[1]))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, " #"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur += rest + " "
			continue
		}
		cur += line
		f := strings.Fields(cur)
		cur = ""
		if f[0] != "helm" && f[0] != "kubectl" || strings.ContainsAny(strings.Join(f, " "), `'"$|;&`) {
			t.Fatalf("README install step %q: only plain helm and kubectl commands are allowed", strings.Join(f, " "))
		}
		steps = append(steps, f)
	}
	if !slices.ContainsFunc(steps, func(s []string) bool { return len(s) > 1 && s[0] == "helm" && s[1] == "install" }) {
		t.Fatalf("README install section has no helm install: %v", steps)
	}
	return steps
}

// certManagerCRDDir is deploy/crds of the cert-manager module compiled into
// this test (or the one `go list -m` resolves).
func certManagerCRDDir(t *testing.T, root string) string {
	t.Helper()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == certManagerModule {
				cache := os.Getenv("GOMODCACHE")
				if cache == "" {
					out, err := exec.Command("go", "env", "GOMODCACHE").Output()
					if err == nil {
						cache = strings.TrimSpace(string(out))
					}
				}
				d := filepath.Join(cache, m.Path+"@"+m.Version, "deploy", "crds")
				if _, err := os.Stat(d); err == nil {
					return d
				}
			}
		}
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", certManagerModule)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("finding cert-manager's module: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds")
}

// webhookConfigs reads the release's two webhook configurations.
func webhookConfigs(ctx context.Context, t *testing.T, cl client.Client) (*admissionv1.MutatingWebhookConfiguration, *admissionv1.ValidatingWebhookConfiguration) {
	t.Helper()
	var m admissionv1.MutatingWebhookConfiguration
	var v admissionv1.ValidatingWebhookConfiguration
	if err := cl.Get(ctx, client.ObjectKey{Name: "mlscale-mutating"}, &m); err != nil {
		t.Fatal(err)
	}
	if err := cl.Get(ctx, client.ObjectKey{Name: "mlscale-validating"}, &v); err != nil {
		t.Fatal(err)
	}
	return &m, &v
}

// caBundles lists the caBundle of every webhook.
func caBundles(m *admissionv1.MutatingWebhookConfiguration, v *admissionv1.ValidatingWebhookConfiguration) [][]byte {
	var out [][]byte
	for _, w := range m.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	for _, w := range v.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	return out
}

// issue makes a CA and a serving certificate for dnsNames signed by it,
// as PEM, the way the chart's CA Issuer would.
func issue(t *testing.T, dnsNames []string) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mlscale-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsNames[0]}, DNSNames: dnsNames,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// startCAInjector runs cert-manager's CA injector for webhook
// configurations, sourcing CAs from Certificates (inject-ca-from), in this
// process against the cluster, as cert-manager's cainjector command does.
func startCAInjector(ctx context.Context, t *testing.T, c *localcluster.Cluster) (stop func()) {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, cmapi.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	cfg := *c.Config
	cfg.UserAgent = "cert-manager-cainjector"
	mgr, err := ctrl.NewManager(&cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	if err := cainjector.RegisterAllInjectors(runCtx, mgr, cainjector.SetupOptions{
		EnableCertificatesDataSource: true,
		EnabledReconcilersFor: map[string]bool{
			// The resource names cert-manager's cainjector command enables.
			"mutatingwebhookconfiguration":   true,
			"validatingwebhookconfiguration": true,
		},
	}); err != nil {
		cancel()
		t.Fatalf("registering cert-manager's CA injectors: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(runCtx) }()
	return func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("CA injector: %v", err)
		}
	}
}

// startWebhook runs `mlscale webhook` in this process with the arguments
// of the installed Deployment's webhook container: $(VAR) references
// resolved from its env and envFrom ConfigMaps, its Secret and ConfigMap
// volumes written to a throw-away directory that replaces their mount
// paths; then a kubeconfig with a token of the pod's ServiceAccount (so the
// chart's RBAC is what it runs with), loopback and the Service's port, and no
// metrics or probe listeners (ports other tests may hold). It returns once
// the webhook serves TLS that verifies with ca as the Service's DNS name.
func startWebhook(ctx context.Context, t *testing.T, c *localcluster.Cluster, cl client.Client, port int, ca []byte) (stop func()) {
	t.Helper()
	var dep appsv1.Deployment
	if err := cl.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: "mlscale-webhook"}, &dep); err != nil {
		t.Fatal(err)
	}
	pod := dep.Spec.Template.Spec
	var ctr *corev1.Container
	for i := range pod.Containers {
		if pod.Containers[i].Name == "webhook" {
			ctr = &pod.Containers[i]
		}
	}
	if ctr == nil {
		t.Fatal("the Deployment has no webhook container")
	}
	env := map[string]string{}
	for _, ef := range ctr.EnvFrom {
		var cm corev1.ConfigMap
		if err := cl.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: ef.ConfigMapRef.Name}, &cm); err != nil {
			t.Fatal(err)
		}
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env[e.Name] = releaseNamespace
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory":
			// GOMEMLIMIT (goMemLimitPercent): the limit in bytes, as the kubelet gives it.
			env[e.Name] = strconv.FormatInt(ctr.Resources.Limits.Memory().Value(), 10)
		default:
			t.Fatalf("env %s: the test cannot resolve %v", e.Name, e.ValueFrom)
		}
	}
	dir := t.TempDir()
	mounts := map[string]string{}
	for _, vm := range ctr.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != vm.Name {
				continue
			}
			data := map[string][]byte{}
			switch {
			case v.Secret != nil:
				var s corev1.Secret
				if err := cl.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: v.Secret.SecretName}, &s); err != nil {
					t.Fatal(err)
				}
				data = s.Data
			case v.ConfigMap != nil:
				var cm corev1.ConfigMap
				if err := cl.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: v.ConfigMap.Name}, &cm); err != nil {
					t.Fatal(err)
				}
				for k, s := range cm.Data {
					data[k] = []byte(s)
				}
			default:
				continue // emptyDir
			}
			local := filepath.Join(dir, v.Name)
			if err := os.MkdirAll(local, 0o700); err != nil {
				t.Fatal(err)
			}
			for k, b := range data {
				if err := os.WriteFile(filepath.Join(local, k), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			mounts[vm.MountPath] = local
		}
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	var args []string
	for _, a := range ctr.Args {
		a = ref.ReplaceAllStringFunc(a, func(m string) string {
			v, ok := env[m[2:len(m)-1]]
			if !ok {
				t.Fatalf("argument %q: %s is not set in the container", a, m)
			}
			return v
		})
		for mp, local := range mounts {
			a = strings.ReplaceAll(a, "="+mp, "="+local)
		}
		args = append(args, a)
	}
	if args[0] != "webhook" {
		t.Fatalf("the webhook container runs %v", args)
	}
	args = append(args, "--kubeconfig="+serviceAccountKubeconfig(ctx, t, c, pod.ServiceAccountName), "--host=127.0.0.1", "--port="+strconv.Itoa(port),
		"--metrics-bind-address=0", "--health-probe-bind-address=0")
	t.Logf("mlscale %s", strings.Join(args, " "))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan int, 1)
	var stderr syncBuffer
	go func() {
		done <- cli.Run(runCtx, args, cli.Streams{In: strings.NewReader(""), Out: io.Discard, Err: &stderr})
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		if code := <-done; code != cli.ExitOK {
			t.Errorf("mlscale webhook exited with %d:\n%s", code, stderr.String())
		}
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	server := "mlscale-webhook." + releaseNamespace + ".svc"
	deadline := time.Now().Add(time.Minute)
	for {
		d := &tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: server, MinVersion: tls.VersionTLS12}}
		dctx, dcancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		dcancel()
		if err == nil {
			_ = conn.Close()
			return stop
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("mlscale webhook exited with %d before serving:\n%s", code, stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("the webhook did not serve TLS as %s within a minute: %v\n%s", server, err, stderr.String())
		}
	}
}

// deployment is a Deployment with annotations and a CPU request.
func deployment(ns, name string, annotations map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	one := int32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/app:1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
					}},
				}}},
			},
		},
	}
}

// syncBuffer is a bytes.Buffer safe for the webhook's log writes while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as the
// ServiceAccount (a token from the TokenRequest API, as the kubelet would
// mount), so that the process using it has exactly the chart's RBAC.
func serviceAccountKubeconfig(ctx context.Context, t *testing.T, c *localcluster.Cluster, sa string) string {
	t.Helper()
	token, _, err := c.Kubectl(ctx, nil, "create", "token", sa, "--namespace", releaseNamespace, "--duration", "1h")
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: c.Config.Host, CertificateAuthorityData: c.Config.CAData}
	cfg.AuthInfos[sa] = &clientcmdapi.AuthInfo{Token: strings.TrimSpace(token)}
	cfg.Contexts["sa"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: sa, Namespace: releaseNamespace}
	cfg.CurrentContext = "sa"
	path := filepath.Join(t.TempDir(), "serviceaccount.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
