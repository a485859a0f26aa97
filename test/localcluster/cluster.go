// Package localcluster runs a throw-away Kubernetes control plane on
// loopback: etcd and kube-apiserver built from source (bin/k8s, `make
// control-plane`), started through controller-runtime's envtest with KEDA's
// CRDs and mlscale's webhook configurations installed. The e2e tests and
// `mlscale-demo` both use it.
//
// A Cluster stops exactly the processes it started, by pid. Each running
// cluster also leaves a small record under the temporary directory; when its
// owner dies without stopping it (SIGKILL, a test binary killed at its
// timeout), the next Start finds the record and stops the orphans.
package localcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// Binary names expected in the binary directory.
const (
	EtcdBinary      = "etcd"
	APIServerBinary = "kube-apiserver"
)

// DefaultKubectl is where kubectl is installed on the machine image.
const DefaultKubectl = "/usr/bin/kubectl"

// MissingBinariesError is returned by Start when etcd or kube-apiserver is
// not in the binary directory.
type MissingBinariesError struct {
	// Dir is the directory searched.
	Dir string
	// Missing lists the missing binaries.
	Missing []string
}

// Error says what is missing and how to build it.
func (e *MissingBinariesError) Error() string {
	return fmt.Sprintf("control plane not built: %s missing in %s; run `make control-plane` to build kube-apiserver and etcd from source (about 10 minutes, once)",
		strings.Join(e.Missing, " and "), e.Dir)
}

// CheckBinaries returns a *MissingBinariesError unless etcd and
// kube-apiserver are executable files in dir.
func CheckBinaries(dir string) error {
	var missing []string
	for _, name := range []string{APIServerBinary, EtcdBinary} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return &MissingBinariesError{Dir: dir, Missing: missing}
	}
	return nil
}

// Options configure a cluster.
type Options struct {
	// BinDir holds etcd and kube-apiserver. KUBEBUILDER_ASSETS, when set,
	// takes precedence (as in envtest).
	BinDir string
	// CRDDirs hold CRD manifests to install (KEDA's config/crd/bases).
	CRDDirs []string
	// WebhookDirs hold webhook configurations (config/webhook). envtest
	// generates a CA and serving certificate and points every webhook at
	// the local webhook server on WebhookHost and a free port.
	WebhookDirs []string
	// WebhookPatches are JSON patches (RFC 6902, in YAML) applied to the
	// installed webhook configurations, as config/default's kustomization
	// applies them: the namespace selectors that leave out kube-system,
	// mlscale's own namespace and namespaces without the opt-in label.
	WebhookPatches []WebhookPatch
	// ParentDir is where the throw-away directory is created; the system
	// temporary directory when empty.
	ParentDir string
	// StartTimeout bounds the start of each of etcd and kube-apiserver;
	// 90s when zero (kube-apiserver takes 10-20s on 2 cores).
	StartTimeout time.Duration
	// StopTimeout bounds the graceful stop of each process before it is
	// killed; 20s when zero.
	StopTimeout time.Duration
	// Log receives etcd's and kube-apiserver's output; discarded when nil.
	Log io.Writer
}

// WebhookPatch is a JSON patch file for one webhook configuration.
type WebhookPatch struct {
	// Validating selects a ValidatingWebhookConfiguration rather than a
	// MutatingWebhookConfiguration.
	Validating bool
	// Name is the configuration's name (as in config/webhook).
	Name string
	// File holds the patch operations as a YAML or JSON list.
	File string
}

// Cluster is a running control plane.
type Cluster struct {
	// Env is the envtest environment that started the control plane.
	Env *envtest.Environment
	// Config is an admin REST config (system:masters).
	Config *rest.Config
	// Dir is the throw-away directory: data, certificates, kubeconfig.
	Dir string
	// KubeconfigPath is a kubeconfig file with admin rights, for kubectl.
	KubeconfigPath string
	// WebhookHost, WebhookPort and WebhookCertDir are where the webhook
	// server must listen, and its certificate (tls.crt, tls.key).
	WebhookHost    string
	WebhookPort    int
	WebhookCertDir string

	procs      []Process
	recordPath string
	stopOnce   sync.Once
	stopErr    error
}

// startMu serialises starts in this process, so that the children found
// after a start are the ones that start made.
var startMu sync.Mutex

// claimed holds the pids of the processes of running clusters in this process.
var claimed = map[int]bool{}

// Start starts etcd and kube-apiserver, installs the CRDs and webhook
// configurations and writes a kubeconfig. On error, whatever it started is
// stopped again.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	binDir, err := resolveBinDir(o.BinDir)
	if err != nil {
		return nil, err
	}
	if _, err := ReapStale(); err != nil {
		return nil, fmt.Errorf("stopping processes left by an earlier run: %w", err)
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 90 * time.Second
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 20 * time.Second
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, owner, err := newCluster(o, binDir)
	if err != nil {
		return nil, err
	}

	startMu.Lock()
	defer startMu.Unlock()
	defer func() {
		if err != nil {
			if stopErr := c.Stop(); stopErr != nil {
				err = errors.Join(err, fmt.Errorf("stopping after the failed start: %w", stopErr))
			}
			c = nil
		}
	}()
	if c.Config, err = c.startEnv(ctx, binDir, owner); err != nil {
		return c, err
	}
	if err := applyWebhookPatches(ctx, c.Config, o.WebhookPatches); err != nil {
		return c, err
	}
	return c, c.writeKubeconfig()
}

// resolveBinDir is the directory with etcd and kube-apiserver:
// KUBEBUILDER_ASSETS when set (as in envtest), else dir; absolute and with
// symbolic links resolved, since /proc/PID/exe names the resolved file.
func resolveBinDir(dir string) (string, error) {
	if v := os.Getenv("KUBEBUILDER_ASSETS"); v != "" {
		dir = v
	}
	binDir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("binary directory %q: %w", dir, err)
	}
	if err := CheckBinaries(binDir); err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(binDir); err == nil {
		binDir = resolved
	}
	return binDir, nil
}

// newCluster makes the cluster's throw-away directory and its envtest
// environment, and records the directory on disk before anything starts:
// if this process dies during the start, the next Start removes it.
func newCluster(o Options, binDir string) (*Cluster, Process, error) {
	dir, err := os.MkdirTemp(o.ParentDir, "mlscale-cluster-")
	if err != nil {
		return nil, Process{}, fmt.Errorf("creating the cluster directory: %w", err)
	}
	c := &Cluster{Dir: dir, KubeconfigPath: filepath.Join(dir, "kubeconfig")}
	for _, sub := range []string{"etcd", "apiserver"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			_ = os.RemoveAll(dir)
			return nil, Process{}, fmt.Errorf("creating the cluster directory: %w", err)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: binDir,
		CRDDirectoryPaths:     o.CRDDirs,
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths:            o.WebhookDirs,
			LocalServingHost: "127.0.0.1",
		},
		ControlPlaneStartTimeout: o.StartTimeout,
		ControlPlaneStopTimeout:  o.StopTimeout,
	}
	env.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(binDir, EtcdBinary), DataDir: filepath.Join(dir, "etcd"), Out: o.Log, Err: o.Log}
	api := env.ControlPlane.GetAPIServer()
	api.Path = filepath.Join(binDir, APIServerBinary)
	api.CertDir = filepath.Join(dir, "apiserver")
	api.Out, api.Err = o.Log, o.Log
	env.ControlPlane.KubectlPath = DefaultKubectl
	c.Env = env

	c.recordPath = filepath.Join(stateDir(), fmt.Sprintf("%d-%s.json", os.Getpid(), randomHex()))
	owner, err := self()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, Process{}, fmt.Errorf("reading this process's start time: %w", err)
	}
	if err := writeRecord(c.recordPath, record{Owner: owner, Dirs: []string{dir}}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, Process{}, err
	}
	return c, owner, nil
}

// startEnv starts envtest's control plane, finds the processes it started
// (even when the start failed half way: Stop must know them) and records
// them on disk.
func (c *Cluster) startEnv(ctx context.Context, binDir string, owner Process) (*rest.Config, error) {
	type result struct {
		cfg *rest.Config
		err error
	}
	done := make(chan result, 1)
	go func() {
		cfg, err := c.Env.Start()
		done <- result{cfg, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		// envtest's start cannot be interrupted; wait for it, then stop.
		res = <-done
		if res.err == nil {
			res.err = ctx.Err()
		}
	}
	procs, perr := childrenRunning(filepath.Join(binDir, EtcdBinary), filepath.Join(binDir, APIServerBinary))
	for _, p := range procs {
		if !claimed[p.PID] {
			claimed[p.PID] = true
			c.procs = append(c.procs, p)
		}
	}
	wh := c.Env.WebhookInstallOptions
	c.WebhookHost, c.WebhookPort, c.WebhookCertDir = wh.LocalServingHost, wh.LocalServingPort, wh.LocalServingCertDir
	dirs := []string{c.Dir}
	if c.WebhookCertDir != "" {
		dirs = append(dirs, c.WebhookCertDir)
	}
	if werr := writeRecord(c.recordPath, record{Owner: owner, Procs: c.procs, Dirs: dirs}); werr != nil && res.err == nil {
		res.err = werr
	}
	switch {
	case res.err != nil:
		return nil, fmt.Errorf("starting the control plane: %w", res.err)
	case perr != nil:
		return nil, perr
	case len(c.procs) != 2:
		return nil, fmt.Errorf("started control plane: found %d etcd/kube-apiserver processes, want 2", len(c.procs))
	}
	return res.cfg, nil
}

// writeKubeconfig adds an admin user (system:masters) and writes its
// kubeconfig to KubeconfigPath, for kubectl.
func (c *Cluster) writeKubeconfig() error {
	user, err := c.Env.AddUser(envtest.User{Name: "mlscale-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the admin user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if err := os.WriteFile(c.KubeconfigPath, kc, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return nil
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Processes returns the etcd and kube-apiserver processes this cluster started.
func (c *Cluster) Processes() []Process { return slices.Clone(c.procs) }

// Stop stops kube-apiserver and etcd (SIGTERM, then SIGKILL after the stop
// timeout), makes sure by pid that neither survives, and removes the
// throw-away directories. It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		if c.Env != nil {
			if err := c.Env.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stopping the control plane: %w", err))
			}
		}
		// envtest stops by process group and may give up early; make sure.
		for _, p := range c.procs {
			if err := p.kill(); err != nil {
				errs = append(errs, err)
			}
		}
		if !waitGone(c.procs, 10*time.Second) {
			errs = append(errs, fmt.Errorf("control plane processes %v still running", c.procs))
		}
		startMu.Lock()
		for _, p := range c.procs {
			delete(claimed, p.PID)
		}
		startMu.Unlock()
		if c.WebhookCertDir != "" {
			_ = os.RemoveAll(c.WebhookCertDir)
		}
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", c.Dir, err))
		}
		if len(errs) == 0 && c.recordPath != "" {
			_ = os.Remove(c.recordPath)
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// Kubectl runs kubectl against the cluster with the admin kubeconfig and
// returns its stdout and stderr. stdin may be nil.
func (c *Cluster) Kubectl(ctx context.Context, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	return RunKubectl(ctx, c.KubeconfigPath, stdin, args...)
}

// RunKubectl runs kubectl (MLSCALE_KUBECTL, or /usr/bin/kubectl, or kubectl
// on PATH) with the given kubeconfig.
func RunKubectl(ctx context.Context, kubeconfig string, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	bin, err := KubectlPath()
	if err != nil {
		return "", "", err
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = stdin
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), errOut.String(), err
}

// KubectlPath finds kubectl.
func KubectlPath() (string, error) {
	if v := os.Getenv("MLSCALE_KUBECTL"); v != "" {
		return v, nil
	}
	if _, err := os.Stat(DefaultKubectl); err == nil {
		return DefaultKubectl, nil
	}
	p, err := exec.LookPath("kubectl")
	if err != nil {
		return "", fmt.Errorf("kubectl not found at %s or on PATH: %w", DefaultKubectl, err)
	}
	return p, nil
}

// applyWebhookPatches applies each patch to its webhook configuration.
func applyWebhookPatches(ctx context.Context, cfg *rest.Config, patches []WebhookPatch) error {
	if len(patches) == 0 {
		return nil
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("patching the webhook configurations: %w", err)
	}
	reg := cs.AdmissionregistrationV1()
	for _, p := range patches {
		y, err := os.ReadFile(p.File)
		if err != nil {
			return fmt.Errorf("reading the webhook patch: %w", err)
		}
		ops, err := yaml.YAMLToJSON(y)
		if err != nil {
			return fmt.Errorf("webhook patch %s: %w", p.File, err)
		}
		if p.Validating {
			_, err = reg.ValidatingWebhookConfigurations().Patch(ctx, p.Name, types.JSONPatchType, ops, metav1.PatchOptions{})
		} else {
			_, err = reg.MutatingWebhookConfigurations().Patch(ctx, p.Name, types.JSONPatchType, ops, metav1.PatchOptions{})
		}
		if err != nil {
			return fmt.Errorf("applying %s to the webhook configuration %s: %w", p.File, p.Name, err)
		}
	}
	return nil
}
