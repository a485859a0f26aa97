package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlscale/mlscale/test/localcluster"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// demoBinary builds cmd/mlscale-demo once per test run.
func demoBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mlscale-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "mlscale-demo")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/mlscale-demo")
		cmd.Dir = suite.root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/mlscale-demo: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// removeBinary removes what demoBinary built.
func removeBinary() {
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
}

// pidRE finds the pids the demo reports for etcd and kube-apiserver.
var pidRE = regexp.MustCompile(`(etcd|kube-apiserver) pid (\d+)`)

// demoPIDs returns the control plane pids named in the demo's stderr.
func demoPIDs(t *testing.T, stderr string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	for _, m := range pidRE.FindAllStringSubmatch(stderr, -1) {
		pid, _ := strconv.Atoi(m[2])
		pids[m[1]] = pid
	}
	if len(pids) != 2 {
		t.Fatalf("the demo did not report etcd's and kube-apiserver's pids:\n%s", stderr)
	}
	return pids
}

// checkGone fails the test when a process with the pid still runs the
// binary (a recycled pid running something else does not count).
func checkGone(t *testing.T, pids map[string]int) {
	t.Helper()
	for name, pid := range pids {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err == nil && filepath.Base(exe) == name {
			if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil && strings.Contains(string(st), "State:\tZ") {
				continue // a zombie has exited
			}
			t.Errorf("%s (pid %d) survived the demo", name, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// TestDemoOnce runs `mlscale-demo --once` on the samples: every sample
// workload gets its KEDA object, exit status 0, and neither etcd nor
// kube-apiserver survives.
func TestDemoOnce(t *testing.T) {
	env(t)
	bin := demoBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--once")
	cmd.Dir = suite.root
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("mlscale-demo --once took %s\nstdout:\n%s\nstderr:\n%s", time.Since(start).Round(time.Millisecond), stdout.String(), stderr.String())
	if err != nil {
		t.Errorf("mlscale-demo --once: %v, want exit status 0", err)
	}
	checkGone(t, demoPIDs(t, stderr.String()))

	out := stdout.String()
	for _, g := range readGolden(t) {
		want := fmt.Sprintf("%s %s", g.obj.GetKind(), g.obj.GetName())
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q", want)
		}
	}
	for _, s := range []string{"WORKLOAD", "TRIGGERS", "SCALE-TO-ZERO", "GPU", "Deployment ml-demo/dashboard", "(not opted in)", "Rejected objects: none.", "removed on exit"} {
		if !strings.Contains(out, s) {
			t.Errorf("stdout lacks %q", s)
		}
	}
	// The cluster is gone when --once returns: no kubeconfig to export.
	if strings.Contains(out, "export KUBECONFIG") {
		t.Errorf("--once offers a kubeconfig that it removes on exit:\n%s", out)
	}
	if strings.Contains(out, "MISSING") {
		t.Error("a KEDA object is missing")
	}
	// The README shows this run's table: each of its lines is printed,
	// and each table line printed is in the README.
	readme := readmeDemoTable(t)
	for _, line := range readme {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("the README's demo output shows %q; the demo does not print it:\n%s", line, out)
		}
	}
	for _, line := range tableLines(out) {
		if !slices.Contains(readme, line) {
			t.Errorf("the demo prints %q; the README's demo output does not show it", line)
		}
	}
}

// tableLines are the lines of text that belong to the demo's table: its
// header and one line per workload.
func tableLines(text string) []string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "WORKLOAD ") || strings.HasPrefix(l, "Deployment ") || strings.HasPrefix(l, "StatefulSet ") || strings.HasPrefix(l, "Job ") {
			lines = append(lines, l)
		}
	}
	return lines
}

// readmeDemoTable returns the table lines (the header and one line per
// workload) of the demo output the README shows under "The main job".
func readmeDemoTable(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(suite.root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(src), "**1. The main job")
	if !ok {
		t.Fatal("README.md lacks the main job's section")
	}
	_, block, ok := strings.Cut(after, "```\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("README.md's main job section lacks its output block")
	}
	lines := tableLines(block)
	if len(lines) < 5 {
		t.Fatalf("README.md's demo output block has %d table lines:\n%s", len(lines), block)
	}
	return lines
}

// TestDemoRenderFailed runs `mlscale-demo --once -f FILE` with a bad
// annotation in a namespace without the mlscale.io/enabled label:
// admission lets it in, the reconciler reports a RenderFailed Event, and the
// demo shows that message at once instead of waiting out --timeout for a
// KEDA object that cannot come; the exit status is 1.
func TestDemoRenderFailed(t *testing.T) {
	env(t)
	bin := demoBinary(t)
	file := filepath.Join(t.TempDir(), "unlabelled.yaml")
	manifest := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: unlabelled\n---\n" +
		deployment("unlabelled", "typo", map[string]string{"mlscale.io/autoscale": "true", "mlscale.io/max-replicas": "lots"})
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	const timeout = 90 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--once", "--timeout", timeout.String(), "-f", file)
	cmd.Dir = suite.root
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	_ = cmd.Run()
	took := time.Since(start)
	t.Logf("mlscale-demo --once -f unlabelled.yaml took %s\nstdout:\n%s\nstderr:\n%s", took.Round(time.Millisecond), stdout.String(), stderr.String())
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit status %d, want 1 (a workload without its KEDA object)", code)
	}
	checkGone(t, demoPIDs(t, stderr.String()))
	if took >= timeout || strings.Contains(stderr.String(), "Timed out") {
		t.Errorf("the demo waited out --timeout %s for a workload the reconciler cannot render", timeout)
	}
	out := stdout.String()
	for _, s := range []string{"Deployment unlabelled/typo", "NOT RENDERED", `mlscale.io/max-replicas: "lots"`, "Rejected objects: none."} {
		if !strings.Contains(out, s) {
			t.Errorf("stdout lacks %q", s)
		}
	}
	if strings.Contains(out, "MISSING") {
		t.Errorf("the render failure is shown as a missing KEDA object:\n%s", out)
	}
}

// TestDemoBadCommandLine: a bad command line exits 2 before anything
// starts, and the message names the flag at fault.
func TestDemoBadCommandLine(t *testing.T) {
	env(t)
	bin := demoBinary(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "--bogus"},
		{[]string{"--timeout", "0s"}, "--timeout"},
		{[]string{"--messages", "0"}, "--messages must be at least 1, not 0"},
		{[]string{"--keda-timeout", "-1s"}, "--keda-timeout must be positive, not -1s"},
		{[]string{"--once=maybe"}, "--once"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tc.args...)
			cmd.Dir = suite.root
			var stderr strings.Builder
			cmd.Stderr = &stderr
			_ = cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Errorf("exit status %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not name %q:\n%s", tc.want, stderr.String())
			}
			if strings.Contains(stderr.String(), "Starting etcd") {
				t.Errorf("the demo started a cluster for a bad command line:\n%s", stderr.String())
			}
		})
	}
}

// TestDemoInteractive runs `mlscale-demo -f bad.yaml` as a user would: the
// rejected workload is reported with mlscale's message, the kubeconfig
// works with kubectl, and Ctrl-C (SIGINT) stops etcd and kube-apiserver and
// removes the throw-away directory; the exit status is 1 for the rejection.
func TestDemoInteractive(t *testing.T) {
	env(t)
	bin := demoBinary(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	manifest := deployment("ml-demo", "typo", map[string]string{"mlscale.io/autoscale": "true", "mlscale.io/min-replicas": "two"})
	if err := os.WriteFile(bad, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", bad)
	cmd.Dir = suite.root
	var stderr syncBuilder
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stdout syncBuilder
	kubeconfig := ""
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		line := sc.Text()
		stdout.Write([]byte(line + "\n"))
		if k, ok := strings.CutPrefix(line, "kubeconfig: "); ok {
			kubeconfig = k
			break
		}
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		for sc.Scan() { // the scanner may hold read-ahead lines
			stdout.Write([]byte(sc.Text() + "\n"))
		}
	}()
	if kubeconfig == "" {
		_ = cmd.Process.Kill()
		<-copied
		_ = cmd.Wait()
		t.Fatalf("the demo printed no kubeconfig path\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	pids := demoPIDs(t, stderr.String())

	out := stdout.String()
	if !strings.Contains(out, "Deployment ml-demo/typo") || !strings.Contains(out, `mlscale.io/min-replicas: "two"`) {
		t.Errorf("the rejected table does not show the typo Deployment with mlscale's message:\n%s", out)
	}
	// The user explores with kubectl while the demo runs.
	got, _, err := localcluster.RunKubectl(ctx, kubeconfig, nil, "get", "scaledobjects,scaledjobs", "-n", "ml-demo", "-o", "name")
	if err != nil {
		t.Error(err)
	}
	if n := len(strings.Fields(got)); n != len(readGolden(t)) {
		t.Errorf("kubectl found %d KEDA objects in ml-demo, want %d:\n%s", n, len(readGolden(t)), got)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-copied
	err = cmd.Wait()
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit status after Ctrl-C with a rejected object: %d (%v), want 1", code, err)
	}
	checkGone(t, pids)
	if _, err := os.Stat(kubeconfig); !os.IsNotExist(err) {
		t.Errorf("the demo's kubeconfig %s survived it: %v", kubeconfig, err)
	}
	if !strings.Contains(stderr.String(), "Stopped ") {
		t.Errorf("the demo did not report stopping the control plane")
	}
}

// syncBuilder is a strings.Builder safe for a writer goroutine and a reader.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
