package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// usageHint is the line that follows a bad flag's error, as in kubectl.
var usageHint = regexp.MustCompile(`^Run 'mlscale( [a-z]+)* --help' for usage$`)

// TestStderrLinePrefixes runs failing and warning commands of every kind
// and checks that each line they write to standard error starts as
// kubectl's do: "error: " or "Warning: " (a bad flag's "Run '... --help'
// for usage" line excepted), and that the line the case is about is there.
func TestStderrLinePrefixes(t *testing.T) {
	dir := t.TempDir()
	untested := filepath.Join(dir, "policies")
	if err := os.Mkdir(untested, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(untested, "p.rego"), []byte("package mlscale.policies.p\nviolation contains \"x\" if input.bad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	policyConfig := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyConfig, []byte("actions:\n  no_such_policy: warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cronJob := `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: ml, annotations: {mlscale.io/autoscale: "true"}}
`
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string // a whole line of stderr
	}{
		{"unknown command", "", []string{"bogus"}, ExitUsage, `error: unknown command "bogus" for "mlscale"`},
		{"unknown flag", "", []string{"render", "--bogus"}, ExitUsage, "error: unknown flag: --bogus"},
		{"kubectl's -v", "", []string{"policy", "test", "-v"}, ExitUsage,
			"error: unknown shorthand flag: 'v' in -v (mlscale has no -v, which sets the log level in kubectl: use --verbose, or --debug for the in-cluster commands)"},
		{"bad flag value", "", []string{"render", "-f", "-", "-o", "xml"}, ExitUsage, `error: -o "xml" is not supported; allowed: yaml, json`},
		{"missing file", "", []string{"render", "-f", filepath.Join(dir, "nope.yaml")}, ExitFailure,
			"error: reading " + filepath.Join(dir, "nope.yaml") + ": stat " + filepath.Join(dir, "nope.yaml") + ": no such file or directory"},
		{"annotation admission denies", "", []string{"render", "-f", "testdata/bad.yaml"}, ExitFailure,
			`error: mlscale: Deployment ml/llm: mlscale.io/max-replicas: "abc" is not a whole number; allowed: a whole number from 1 to 10000`},
		{"document that is not YAML", "a: [b\n", []string{"render", "-f", "-"}, ExitFailure, ""},
		{"render warning", cronJob, []string{"render", "-f", "-"}, ExitOK,
			"Warning: CronJob ml/nightly: mlscale.io/autoscale is set, but mlscale scales only Deployments, StatefulSets and Jobs; ignored"},
		{"policy eval: broken JSON", "{\"apiVersion\": ", []string{"policy", "eval", "-f", "-"}, ExitFailure, ""},
		{"policy eval: configured policy not loaded", "", []string{"policy", "eval", "-f", "-", "--policy-config", policyConfig}, ExitOK,
			`Warning: the policy configuration sets the action of "no_such_policy", which is not among the built-in policies`},
		{"policy test: no tests", "", []string{"policy", "test", untested}, ExitFailure,
			"error: " + untested + ": no Rego tests (rules named test_*) found"},
		{"backtest: missing trace", "", []string{"backtest", "-f", filepath.Join(dir, "nope.csv")}, ExitFailure, ""},
		{"status: no such kubeconfig", "", []string{"status", "--kubeconfig", filepath.Join(dir, "nope")}, ExitFailure, ""},
		{"status: bad output", "", []string{"status", "-o", "yaml"}, ExitUsage, `error: -o "yaml" is not supported; allowed: wide, json (or none, for the table)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.stdin, tt.args...)
			if r.Code != tt.code {
				t.Errorf("exit %d, want %d", r.Code, tt.code)
			}
			lines := strings.Split(strings.TrimSuffix(r.ErrOut, "\n"), "\n")
			if r.ErrOut == "" {
				t.Fatal("nothing on stderr")
			}
			for _, l := range lines {
				if !strings.HasPrefix(l, ErrorPrefix) && !strings.HasPrefix(l, WarningPrefix) && !usageHint.MatchString(l) {
					t.Errorf("stderr line %q starts with neither %q nor %q", l, ErrorPrefix, WarningPrefix)
				}
			}
			if tt.want != "" && !strings.Contains("\n"+r.ErrOut, "\n"+tt.want+"\n") {
				t.Errorf("stderr lacks the line %q:\n%s", tt.want, r.ErrOut)
			}
		})
	}
}

func TestVerboseHint(t *testing.T) {
	for _, tt := range []struct {
		args []string
		hint bool
	}{
		{[]string{"policy", "test", "-v"}, true},
		{[]string{"render", "-v=3"}, true},
		{[]string{"render", "-x"}, false},
		{[]string{"policy", "test", "--verbose", "--bogus"}, false},
	} {
		r := runCLI(t, "", tt.args...)
		if got := strings.Contains(r.ErrOut, "mlscale has no -v"); got != tt.hint || r.Code != ExitUsage {
			t.Errorf("%q: exit %d, hint %t, want %t:\n%s", tt.args, r.Code, got, tt.hint, r.ErrOut)
		}
	}
}
