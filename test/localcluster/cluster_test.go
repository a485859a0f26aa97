package localcluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// testOptions are the options for this checkout, without webhooks (the
// e2e tests cover those). The test fails when the control plane is not built.
func testOptions(t *testing.T) Options {
	t.Helper()
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	crds, err := KEDACRDDir(root)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{BinDir: filepath.Join(root, "bin", "k8s"), CRDDirs: []string{crds}, ParentDir: t.TempDir()}
	if v := os.Getenv("KUBEBUILDER_ASSETS"); v != "" {
		o.BinDir = v
	}
	if err := CheckBinaries(o.BinDir); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestMissingBinaries(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", "")
	_, err := Start(context.Background(), Options{BinDir: t.TempDir()})
	var missing *MissingBinariesError
	if !errors.As(err, &missing) {
		t.Fatalf("Start with no binaries: %v, want a MissingBinariesError", err)
	}
	if !strings.Contains(err.Error(), "make control-plane") {
		t.Errorf("error %q does not say to run make control-plane", err)
	}
}

func TestStartStop(t *testing.T) {
	o := testOptions(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Stop() }() // a second Stop is a no-op
	procs := c.Processes()
	if len(procs) != 2 {
		t.Fatalf("processes: %v", procs)
	}
	for _, p := range procs {
		if !p.Alive() {
			t.Errorf("%v is not running", p)
		}
	}
	if !strings.HasPrefix(c.Config.Host, "https://127.0.0.1:") {
		t.Errorf("API server at %s, want loopback", c.Config.Host)
	}
	out, _, err := c.Kubectl(ctx, nil, "get", "crd", "scaledobjects.keda.sh", "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "customresourcedefinition.apiextensions.k8s.io/scaledobjects.keda.sh" {
		t.Errorf("kubectl get crd: %q", out)
	}
	checkCreator(ctx, t, c)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.Alive() {
			t.Errorf("%v survived Stop", p)
		}
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("%s not removed: %v", c.Dir, err)
	}
}

// checkCreator applies, as the demo applies a user's -f manifests, a
// ConfigMap without a namespace (it goes to "default", as kubectl apply
// puts it; it was refused) and then a changed copy (it replaces the
// stored one; it was refused as "already exists").
func checkCreator(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	cr, err := NewCreator(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	cm := func(v string) Manifest {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "app"}, "data": map[string]any{"k": v},
		}}
		return Manifest{Source: "app.yaml", Object: u}
	}
	for _, v := range []string{"1", "2"} {
		out, err := cr.Create(ctx, []Manifest{cm(v)})
		if err != nil {
			t.Fatal(err)
		}
		if o := out[0]; o.Err != nil || o.Created == nil || o.Created.GetNamespace() != "default" {
			t.Fatalf("applying app.yaml with k=%s: %+v", v, o)
		}
	}
	got, _, err := c.Kubectl(ctx, nil, "get", "configmap", "-n", "default", "app", "-o", "jsonpath={.data.k}")
	if err != nil || got != "2" {
		t.Errorf("stored ConfigMap has k=%q (%v), want the second apply's 2", got, err)
	}
}

// TestMain runs the test binary as the cluster-owning child process of
// TestOrphansReaped when MLSCALE_LOCALCLUSTER_HELPER is set, and as the
// test suite otherwise.
func TestMain(m *testing.M) {
	if os.Getenv("MLSCALE_LOCALCLUSTER_HELPER") == "1" {
		runHelperProcess()
	}
	os.Exit(m.Run())
}

// runHelperProcess starts a cluster, prints its processes and directory as
// JSON, and blocks until it is killed.
func runHelperProcess() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "helper process:", err)
		os.Exit(3)
	}
	root, err := RepoRoot(".")
	if err != nil {
		fail(err)
	}
	crds, err := KEDACRDDir(root)
	if err != nil {
		fail(err)
	}
	o := Options{BinDir: os.Getenv("KUBEBUILDER_ASSETS"), CRDDirs: []string{crds}, ParentDir: os.Getenv("MLSCALE_LOCALCLUSTER_PARENT")}
	c, err := Start(context.Background(), o)
	if err != nil {
		fail(err)
	}
	b, err := json.Marshal(struct {
		Procs []Process
		Dir   string
	}{c.Processes(), c.Dir})
	if err != nil {
		fail(err)
	}
	if _, err := os.Stdout.Write(append(b, '\n')); err != nil {
		fail(err)
	}
	select {} // until killed
}

// TestOrphansReaped kills a process that runs a cluster, as a test timeout
// or SIGKILL would, and checks that the next ReapStale stops its etcd and
// kube-apiserver and removes its directory.
func TestOrphansReaped(t *testing.T) {
	o := testOptions(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), "MLSCALE_LOCALCLUSTER_HELPER=1", "MLSCALE_LOCALCLUSTER_PARENT="+o.ParentDir, "KUBEBUILDER_ASSETS="+o.BinDir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var started struct {
		Procs []Process
		Dir   string
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "{") {
			if err := json.Unmarshal(sc.Bytes(), &started); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if len(started.Procs) != 2 {
		t.Fatalf("helper started %v", started.Procs)
	}
	// Make sure they die whatever happens below.
	defer func() {
		for _, p := range started.Procs {
			_ = p.kill()
		}
	}()
	for _, p := range started.Procs {
		if !p.Alive() {
			t.Fatalf("%v died with its owner; the reaping below would prove nothing", p)
		}
	}
	// Another test binary's Start may reap them first; either way they go.
	if _, err := ReapStale(); err != nil {
		t.Fatal(err)
	}
	for _, p := range started.Procs {
		if p.Alive() {
			t.Errorf("%v survived ReapStale", p)
		}
	}
	if _, err := os.Stat(started.Dir); !os.IsNotExist(err) {
		t.Errorf("%s not removed: %v", started.Dir, err)
	}
}
