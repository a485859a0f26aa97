package kedaenv

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/test/crdschema"
	"github.com/mlscale/mlscale/test/localcluster"
)

// httpOK returns nil when GET url answers 200 (TLS not verified: a
// readiness probe of a process this package started).
func httpOK(ctx context.Context, url string) error {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // readiness probe of our own child
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// start starts a process, records it, and waits until ready returns nil.
func (e *Env) start(ctx context.Context, name string, cmd *exec.Cmd, what string, ready func(context.Context) error) error {
	_, err := e.startProcess(ctx, name, cmd, what, ready)
	return err
}

// startProcess is start, returning the process (nil when it did not start).
func (e *Env) startProcess(ctx context.Context, name string, cmd *exec.Cmd, what string, ready func(context.Context) error) (*proc, error) {
	p, err := startProc(name, filepath.Join(e.Dir, name+".log"), cmd)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	return p, p.waitFor(ctx, e.opts.StartTimeout, what, ready)
}

// bindAttempts is how many times startOnFreePorts starts a process.
const bindAttempts = 3

// startOnFreePorts starts a process (see startProcess) on n free ports of
// 127.0.0.1; build makes its command and readiness check from them. A port
// freePorts found free can be taken before the process binds it (by another
// process, or as the local port of an outgoing connection), so when the
// process exits saying that an address was already in use it is started
// again on new ports, bindAttempts times in all. It returns the process and
// its ports.
func (e *Env) startOnFreePorts(ctx context.Context, name string, n int, what string, build func(ports []int) (*exec.Cmd, func(context.Context) error)) (*proc, []int, error) {
	logPath := filepath.Join(e.Dir, name+".log")
	for attempt := 1; ; attempt++ {
		ports, err := freePorts("127.0.0.1", n)
		if err != nil {
			return nil, nil, err
		}
		from := logSize(logPath)
		cmd, ready := build(ports)
		p, err := e.startProcess(ctx, name, cmd, what, ready)
		if err == nil || attempt == bindAttempts || p == nil || !p.exited() || !bindConflict(logPath, from) {
			return p, ports, err
		}
	}
}

func (e *Env) startControllerManager(ctx context.Context) error {
	kc := e.opts.Cluster.KubeconfigPath
	certDir := filepath.Join(e.Dir, "kube-controller-manager")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	controllers := slices.Clone(Controllers)
	if e.opts.Simulation != nil {
		controllers = append(controllers, SimulationControllers...)
	}
	_, _, err := e.startOnFreePorts(ctx, ControllerManagerBinary, 1, "healthy", func(ports []int) (*exec.Cmd, func(context.Context) error) {
		cmd := exec.Command(filepath.Join(e.opts.K8sBinDir, ControllerManagerBinary),
			"--kubeconfig="+kc,
			"--authentication-kubeconfig="+kc,
			"--authorization-kubeconfig="+kc,
			"--controllers="+strings.Join(controllers, ","),
			"--leader-elect=false",
			"--bind-address=127.0.0.1",
			"--secure-port="+strconv.Itoa(ports[0]),
			"--cert-dir="+certDir,
			"--horizontal-pod-autoscaler-sync-period=5s",
			"--v=2",
		)
		return cmd, func(ctx context.Context) error {
			return httpOK(ctx, "https://127.0.0.1:"+strconv.Itoa(ports[0])+"/healthz")
		}
	})
	return err
}

// kedaEnv is the environment of KEDA's processes.
func (e *Env) kedaEnv() []string {
	return append(os.Environ(),
		"KUBECONFIG="+e.opts.Cluster.KubeconfigPath,
		"KEDA_CLUSTER_OBJECT_NAMESPACE="+ClusterObjectNamespace,
		"POD_NAMESPACE="+ClusterObjectNamespace,
		"WATCH_NAMESPACE=",
	)
}

// ensureNamespace creates KEDA's namespace.
func (e *Env) ensureNamespace(ctx context.Context) error {
	c, err := localcluster.NewClient(e.opts.Cluster.Config)
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ClusterObjectNamespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", ClusterObjectNamespace, err)
	}
	return nil
}

func (e *Env) startWebhooks(ctx context.Context, caPEM []byte) error {
	if err := e.ensureNamespace(ctx); err != nil {
		return err
	}
	// KEDA's webhook server has no flag for its address: it listens on
	// all interfaces, where a port free on 127.0.0.1 may be taken.
	_, ports, err := e.startOnFreePorts(ctx, WebhooksBinary, 2, "ready", func(ports []int) (*exec.Cmd, func(context.Context) error) {
		port, probe := ports[0], ports[1]
		cmd := exec.Command(filepath.Join(e.opts.KEDABinDir, WebhooksBinary),
			"--cert-dir="+filepath.Join(e.Dir, "certs"),
			"--port="+strconv.Itoa(port),
			"--metrics-bind-address=0",
			"--health-probe-bind-address=127.0.0.1:"+strconv.Itoa(probe),
			"--zap-log-level=info",
		)
		cmd.Env = e.kedaEnv()
		return cmd, func(ctx context.Context) error {
			if err := httpOK(ctx, "http://127.0.0.1:"+strconv.Itoa(probe)+"/readyz"); err != nil {
				return err
			}
			d := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // readiness probe of our own child
			conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				return err
			}
			return conn.Close()
		}
	})
	if err != nil {
		return err
	}
	port := ports[0]
	e.WebhookURL = "https://127.0.0.1:" + strconv.Itoa(port)
	return e.registerWebhooks(ctx, caPEM)
}

// registerWebhooks installs KEDA's own ValidatingWebhookConfiguration
// (config/webhooks in the KEDA module), pointed at the local server with
// the test CA and failurePolicy Fail, so that an unreachable webhook fails
// a request instead of letting it through unchecked.
func (e *Env) registerWebhooks(ctx context.Context, caPEM []byte) error {
	crds, err := crdschema.KEDACRDDir(".")
	if err != nil {
		return err
	}
	path := filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(crds))), "config", "webhooks", "validation_webhooks.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("KEDA's webhook configuration: %w", err)
	}
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := yaml.Unmarshal(b, &vwc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(vwc.Webhooks) == 0 {
		return fmt.Errorf("%s: no webhooks", path)
	}
	fail := admissionregistrationv1.Fail
	for i := range vwc.Webhooks {
		w := &vwc.Webhooks[i]
		if w.ClientConfig.Service == nil || w.ClientConfig.Service.Path == nil {
			return fmt.Errorf("%s: webhook %s has no service path", path, w.Name)
		}
		url := e.WebhookURL + *w.ClientConfig.Service.Path
		w.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM}
		w.FailurePolicy = &fail
	}
	c, err := localcluster.NewClient(e.opts.Cluster.Config)
	if err != nil {
		return err
	}
	if err := c.Create(ctx, &vwc); err != nil {
		return fmt.Errorf("registering KEDA's admission webhooks: %w", err)
	}
	e.vwc = vwc.Name
	return nil
}

// WebhookConfigurationName is the name of KEDA's registered
// ValidatingWebhookConfiguration; empty before registration.
func (e *Env) WebhookConfigurationName() string { return e.vwc }

// hostsFile writes /etc/hosts plus the host aliases and returns its path.
func (e *Env) hostsFile() (string, error) {
	base, err := os.ReadFile("/etc/hosts")
	if err != nil {
		base = []byte("127.0.0.1 localhost\n")
	}
	text := string(base) + "\n# mlscale kedaenv: cluster DNS names served on loopback\n" + e.HostIP + " " + strings.Join(e.opts.HostAliases, " ") + "\n"
	path := filepath.Join(e.Dir, "hosts")
	return path, os.WriteFile(path, []byte(text), 0o644)
}

// OperatorKubeAPIQPS is the keda-operator's --kube-api-qps here (its burst
// is twice that); KEDA's default is 20.
const OperatorKubeAPIQPS = 200

func (e *Env) startOperator(ctx context.Context) error {
	// As root with host aliases, the operator runs in a private mount
	// namespace whose /etc/hosts maps the cluster DNS names to HostIP.
	var unshare, hosts string
	if os.Getuid() == 0 && len(e.opts.HostAliases) > 0 {
		if path, err := exec.LookPath("unshare"); err == nil {
			if hosts, err = e.hostsFile(); err != nil {
				return err
			}
			unshare = path
		}
	}
	_, ports, err := e.startOnFreePorts(ctx, OperatorBinary, 2, "ready", func(ports []int) (*exec.Cmd, func(context.Context) error) {
		probe, grpc := ports[0], ports[1]
		return e.operatorCommand(probe, grpc, unshare, hosts), func(ctx context.Context) error {
			return httpOK(ctx, "http://127.0.0.1:"+strconv.Itoa(probe)+"/readyz")
		}
	})
	if err != nil {
		return err
	}
	e.HostsIsolated = unshare != ""
	e.grpcAddr = "127.0.0.1:" + strconv.Itoa(ports[1])
	return nil
}

// operatorCommand returns the keda-operator's command with its health
// probe on port probe and its metrics service (gRPC, which the adapter
// reads) on port grpc of 127.0.0.1; with unshare set, run through it in a
// private mount namespace (unshare makes mounts private) in which the file
// hosts is bind-mounted on /etc/hosts. The shell execs the operator, so
// the pid stays the same.
func (e *Env) operatorCommand(probe, grpc int, unshare, hosts string) *exec.Cmd {
	certs := filepath.Join(e.Dir, "certs")
	args := []string{
		"--cert-dir=" + certs,
		"--ca-dir=" + certs,
		"--metrics-bind-address=0",
		"--enable-prometheus-metrics=false",
		"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(probe),
		"--metrics-service-bind-address=127.0.0.1:" + strconv.Itoa(grpc),
		"--enable-webhook-patching=false",
		"--enable-apiservice-patching=false",
		"--leader-elect=false",
		"--zap-log-level=info",
		// KEDA's default client limit (20 requests/s, burst 30) lets the
		// operator reconcile about 2.5 ScaledObjects a second: the e2e
		// bursts of 100-200 ScaledObjects kept it busy for over a minute,
		// delaying the other tests' scaling and the finalizers of deleted
		// ScaledObjects (docs/e2e-keda.md).
		"--kube-api-qps=" + strconv.Itoa(OperatorKubeAPIQPS),
		"--kube-api-burst=" + strconv.Itoa(2*OperatorKubeAPIQPS),
	}
	bin := filepath.Join(e.opts.KEDABinDir, OperatorBinary)
	cmd := exec.Command(bin, args...)
	if unshare != "" {
		cmd = exec.Command(unshare, append([]string{"--mount", "--", "/bin/sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, hosts, bin}, args...)...)
	}
	cmd.Env = e.kedaEnv()
	return cmd
}

// adapterService is the name of the Service and APIService KEDA's metrics
// adapter is registered under.
const adapterService = "keda-metrics-apiserver"

// startAdapter starts KEDA's metrics adapter on 127.0.0.1 and registers it
// as the external.metrics.k8s.io APIService. The API server reaches it
// through an ExternalName Service for localhost; it runs without a
// front-proxy client certificate (envtest configures none), so the adapter
// sees its callers as system:anonymous, which is granted read access to
// external.metrics.k8s.io (and nothing else) in this throw-away cluster.
func (e *Env) startAdapter(ctx context.Context, caPEM []byte) error {
	kc := e.opts.Cluster.KubeconfigPath
	certs := filepath.Join(e.Dir, "certs")
	p, ports, err := e.startOnFreePorts(ctx, AdapterBinary, 2, "ready", func(ports []int) (*exec.Cmd, func(context.Context) error) {
		port, metrics := ports[0], ports[1]
		cmd := exec.Command(filepath.Join(e.opts.KEDABinDir, AdapterBinary),
			"--secure-port="+strconv.Itoa(port),
			"--bind-address=127.0.0.1",
			"--cert-dir="+certs,
			"--tls-cert-file="+filepath.Join(certs, "tls.crt"),
			"--tls-private-key-file="+filepath.Join(certs, "tls.key"),
			"--metrics-service-address="+e.grpcAddr,
			"--port="+strconv.Itoa(metrics),
			"--authentication-kubeconfig="+kc,
			"--authorization-kubeconfig="+kc,
			"--lister-kubeconfig="+kc,
			"--authentication-skip-lookup",
			// Discovery (non-resource paths) for the API server's availability check.
			"--authorization-always-allow-paths=/healthz,/readyz,/livez,/openapi/*,/apis,/apis/*",
		)
		cmd.Env = e.kedaEnv()
		return cmd, func(ctx context.Context) error {
			return httpOK(ctx, "https://127.0.0.1:"+strconv.Itoa(port)+"/readyz")
		}
	})
	if err != nil {
		return err
	}
	port := ports[0]
	c, err := localcluster.NewClient(e.opts.Cluster.Config)
	if err != nil {
		return err
	}
	api, err := registerAdapter(ctx, c, port, caPEM)
	if err != nil {
		return err
	}
	return p.waitFor(ctx, e.opts.StartTimeout, "available as external.metrics.k8s.io", func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKey{Name: api.GetName()}, api); err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(api.Object, "status", "conditions")
		for _, cd := range conds {
			if m, ok := cd.(map[string]any); ok && m["type"] == "Available" {
				if m["status"] == "True" {
					return nil
				}
				return fmt.Errorf("APIService Available=%v: %v", m["status"], m["message"])
			}
		}
		return errors.New("APIService has no Available condition yet")
	})
}

// registerAdapter registers the adapter listening on port as the
// external.metrics.k8s.io APIService, through an ExternalName Service, and
// lets its callers read external metrics; it returns the APIService.
func registerAdapter(ctx context.Context, c client.Client, port int, caPEM []byte) (*unstructured.Unstructured, error) {
	// The adapter sees the proxied requests as system:anonymous (no
	// front-proxy certificate): let it read external metrics, nothing else.
	grant := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       "ClusterRole",
		"metadata":   map[string]any{"name": "mlscale-kedaenv-external-metrics"},
		"rules": []any{map[string]any{
			"apiGroups": []any{"external.metrics.k8s.io"},
			"resources": []any{"*"},
			"verbs":     []any{"get", "list", "watch"},
		}},
	}}
	binding := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       "ClusterRoleBinding",
		"metadata":   map[string]any{"name": "mlscale-kedaenv-external-metrics"},
		"roleRef":    map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "mlscale-kedaenv-external-metrics"},
		"subjects":   []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}},
	}}
	for _, o := range []*unstructured.Unstructured{grant, binding} {
		if err := c.Create(ctx, o); err != nil {
			return nil, fmt.Errorf("granting external metrics to the adapter's callers: %w", err)
		}
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: adapterService, Namespace: ClusterObjectNamespace},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: "localhost",
			Ports:        []corev1.ServicePort{{Name: "https", Port: int32(port)}},
		},
	}
	if err := c.Create(ctx, svc); err != nil {
		return nil, fmt.Errorf("creating the adapter's Service: %w", err)
	}
	api := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": "v1beta1.external.metrics.k8s.io"},
		"spec": map[string]any{
			"group":                "external.metrics.k8s.io",
			"version":              "v1beta1",
			"groupPriorityMinimum": int64(100),
			"versionPriority":      int64(100),
			"caBundle":             base64.StdEncoding.EncodeToString(caPEM),
			"service":              map[string]any{"namespace": ClusterObjectNamespace, "name": adapterService, "port": int64(port)},
		},
	}}
	if err := c.Create(ctx, api); err != nil {
		return nil, fmt.Errorf("registering the external.metrics.k8s.io APIService: %w", err)
	}
	return api, nil
}
