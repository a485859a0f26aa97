package kedaenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DemoRun is what `mlscale-demo --with-keda --once` printed.
type DemoRun struct {
	Stdout, Stderr string
}

// RunDemo builds mlscale-demo from the repository at root into a temporary
// folder and runs `mlscale-demo --with-keda --once` as a user would (a
// control plane and KEDA of its own, and the fake nodes when kube-scheduler
// and kwok are built), within eight minutes. It logs the output and fails t
// when the build or the run fails.
func RunDemo(t *testing.T, root string) DemoRun {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mlscale-demo")
	build := exec.Command("go", "build", "-o", bin, "./cmd/mlscale-demo")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--with-keda", "--once", "--repo", root)
	cmd.Env = os.Environ()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("mlscale-demo --with-keda --once in %s:\n%s\nstderr:\n%s", time.Since(start).Round(time.Second), stdout.String(), stderr.String())
	if err != nil {
		t.Fatal(fmt.Errorf("mlscale-demo --with-keda --once: %w", err))
	}
	return DemoRun{Stdout: stdout.String(), Stderr: stderr.String()}
}
