package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// updateGolden regenerates the golden files: UPDATE_GOLDEN=1 go test ./internal/cli/.
var updateGolden = os.Getenv("UPDATE_GOLDEN") == "1"

// result is what one in-process run of mlscale produced.
type result struct {
	Code        int
	Out, ErrOut string
}

// runCLI runs mlscale in process with the arguments and standard input.
func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	return result{Code: code, Out: out.String(), ErrOut: errOut.String()}
}

// golden compares got with testdata/golden/name, or rewrites the file when
// UPDATE_GOLDEN=1.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (regenerate with UPDATE_GOLDEN=1): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (regenerate with UPDATE_GOLDEN=1 and review the diff)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestRootHelp(t *testing.T) {
	r := runCLI(t, "", "--help")
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	for _, sub := range []string{"render", "version"} {
		if !strings.Contains(r.Out, sub) {
			t.Errorf("help does not list %q:\n%s", sub, r.Out)
		}
	}
}

func TestSubcommandsRegistered(t *testing.T) {
	root := NewRootCommand()
	seen := map[string]bool{}
	for _, c := range root.Commands() {
		if seen[c.Name()] {
			t.Errorf("subcommand %q registered twice", c.Name())
		}
		seen[c.Name()] = true
		if c.Short == "" {
			t.Errorf("subcommand %q has no short help", c.Name())
		}
	}
	for _, want := range []string{"render", "version"} {
		if !seen[want] {
			t.Errorf("subcommand %q missing", want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown subcommand", []string{"bogus"}, `unknown command "bogus"`},
		{"unknown flag", []string{"render", "--bogus"}, "unknown flag: --bogus"},
		{"no manifests", []string{"render"}, "no manifests"},
		{"bad output format", []string{"render", "-f", "-", "-o", "xml"}, `-o "xml" is not supported; allowed: yaml, json`},
		{"negative GPU budget", []string{"render", "-f", "-", "--gpu-budget", "-1"}, "--gpu-budget must be 0 or more"},
		{"stdin twice", []string{"render", "-f", "-", "-f", "-"}, "standard input"},
		{"positional argument", []string{"render", "file.yaml"}, `mlscale render takes its files with -f, not as arguments: mlscale render -f file.yaml`},
		{"positional arguments to policy eval", []string{"policy", "eval", "a.yaml", "b/"}, `mlscale policy eval -f a.yaml -f b/`},
		{"a trace as an argument", []string{"backtest", "trace.csv"}, `mlscale backtest takes its files with -f, not as arguments: mlscale backtest -f trace.csv`},
		{"version takes no arguments", []string{"version", "x"}, `unknown command "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", tt.args...)
			if r.Code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr %q", r.Code, ExitUsage, r.ErrOut)
			}
			if !strings.Contains(r.ErrOut, tt.want) {
				t.Errorf("stderr %q does not contain %q", r.ErrOut, tt.want)
			}
			if r.Out != "" {
				t.Errorf("stdout is not empty: %q", r.Out)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	old := version
	t.Cleanup(func() { version = old })
	version = "v9.9.9-test"
	r := runCLI(t, "", "version")
	if r.Code != ExitOK || !strings.HasPrefix(r.Out, "mlscale v9.9.9-test ") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.Code, r.Out, r.ErrOut)
	}
}

// TestBoolFlagUsage: boolean flags are listed as "--debug", as kubectl lists
// them, not "--debug[=true|false]"; the descriptions stay aligned.
func TestBoolFlagUsage(t *testing.T) {
	r := runCLI(t, "", "webhook", "--help")
	if r.Code != ExitOK || strings.Contains(r.Out, boolSuffix) {
		t.Fatalf("exit %d, help lists %s:\n%s", r.Code, boolSuffix, r.Out)
	}
	column := func(flag, description string) int {
		for _, l := range strings.Split(r.Out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), flag+" ") {
				return strings.Index(l, description)
			}
		}
		return -1
	}
	debug, metrics := column("--debug", "log at debug level"), column("--metrics-bind-address", "address of the metrics endpoint")
	if debug < 0 || debug != metrics {
		t.Errorf("descriptions of --debug (column %d) and --metrics-bind-address (column %d) are not aligned:\n%s", debug, metrics, r.Out)
	}
}
