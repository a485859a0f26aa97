package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinary builds the real mlscale binary and runs it as a user would:
// arguments, standard input, exit status and the two output streams.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go tool to build the binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "mlscale")
	build := exec.Command(goTool, "build", "-ldflags", "-X github.com/mlscale/mlscale/internal/cli.version=v0.0.0-binarytest", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	run := func(stdin string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			code = exit.ExitCode()
		case err != nil:
			t.Fatalf("running %s: %v", bin, err)
		}
		return out.String(), errOut.String(), code
	}

	t.Run("version", func(t *testing.T) {
		out, _, code := run("", "version")
		if code != 0 || !strings.HasPrefix(out, "mlscale v0.0.0-binarytest ") {
			t.Errorf("exit %d, stdout %q", code, out)
		}
	})

	workloads, err := os.ReadFile("../../internal/cli/testdata/workloads.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("render from stdin", func(t *testing.T) {
		out, errOut, code := run(string(workloads), "render", "-f", "-")
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		if n := strings.Count(out, "---\n"); n != 4 {
			t.Errorf("printed %d objects, want 4:\n%s", n, out)
		}
	})

	t.Run("bad annotation exits 1", func(t *testing.T) {
		bad := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm
  namespace: ml
  annotations:
    mlscale.io/autoscale: "true"
    mlscale.io/max-replicas: abc
spec:
  template:
    spec:
      containers: [{name: vllm, image: vllm}]
`
		out, errOut, code := run(bad, "render", "-f", "-")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if want := `error: mlscale: Deployment ml/llm: mlscale.io/max-replicas: "abc" is not a whole number`; !strings.HasPrefix(errOut, want) {
			t.Errorf("stderr %q does not start with %q", errOut, want)
		}
		if out != "" {
			t.Errorf("stdout not empty: %q", out)
		}
	})

	t.Run("usage error exits 2", func(t *testing.T) {
		_, errOut, code := run("", "render")
		if code != 2 || !strings.Contains(errOut, "no manifests") {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
}

// TestNoTestBed: the in-cluster binary links none of the test bed: not
// envtest (which the local control plane uses), not a package of test/.
func TestNoTestBed(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go tool: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasSuffix(pkg, "controller-runtime/pkg/envtest") || strings.HasPrefix(pkg, "github.com/mlscale/mlscale/test/") {
			t.Errorf("cmd/mlscale links %s", pkg)
		}
	}
}
