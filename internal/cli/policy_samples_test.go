package cli

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlscale/mlscale/internal/policy"
)

// TestPolicySamples evaluates each built-in policy's samples as a user
// would, with `mlscale policy eval` (policies/NAME/samples, as
// gatekeeper-library keeps them): every file in allowed/ passes every
// policy, every file in denied/ is denied by its policy, with the message
// named on a "# expect: " line. A samples/config.yaml is the policy
// configuration they are evaluated with.
func TestPolicySamples(t *testing.T) {
	root := filepath.Join("..", "..", "policies")
	names, err := policy.NewFromFS(t.Context(), os.DirFS(root), policy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names.Policies() {
		dir := filepath.Join(root, name, "samples")
		args := []string{"policy", "eval"}
		if _, err := os.Stat(filepath.Join(dir, "config.yaml")); err == nil {
			args = append(args, "--policy-config", filepath.Join(dir, "config.yaml"))
		}
		for _, verdict := range []string{"allowed", "denied"} {
			files, _ := filepath.Glob(filepath.Join(dir, verdict, "*.yaml"))
			if len(files) == 0 {
				t.Errorf("policy %s has no %s samples in %s", name, verdict, filepath.Join(dir, verdict))
			}
			for _, f := range files {
				t.Run(name+"/"+verdict+"/"+filepath.Base(f), func(t *testing.T) {
					r := runCLI(t, "", append(args, "-f", f, "-n", "ml")...)
					if verdict == "allowed" {
						if r.Code != ExitOK || r.ErrOut != "" {
							t.Errorf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.Code, r.Out, r.ErrOut)
						}
						return
					}
					if r.Code != ExitFailure || !strings.Contains(r.Out, ": deny: "+name+": ") {
						t.Errorf("exit %d, want 1 and a deny by %s\nstdout:\n%s\nstderr:\n%s", r.Code, name, r.Out, r.ErrOut)
					}
					for _, want := range expectations(t, f) {
						if !strings.Contains(r.Out, want) {
							t.Errorf("no violation says %q:\n%s", want, r.Out)
						}
					}
				})
			}
		}
	}
}

// expectations are the "# expect: TEXT" lines of a sample.
func expectations(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if want, ok := strings.CutPrefix(sc.Text(), "# expect: "); ok {
			out = append(out, want)
		}
	}
	return out
}
