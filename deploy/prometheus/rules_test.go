// Package prometheus holds mlscale's Prometheus recording rules
// (rules/mlscale.rules.yaml); its test checks them with promtool.
package prometheus

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// promtool returns the path of Debian's promtool, failing the test with the
// way to install it when it is missing.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found on PATH: run `make prometheus` (installs Debian's prometheus package): %v", err)
	}
	return p
}

func TestRulesCheck(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", filepath.Join("rules", "mlscale.rules.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check rules did not report success:\n%s", out)
	}
}

func TestRulesUnit(t *testing.T) {
	cmd := exec.Command(promtool(t), "test", "rules", "mlscale.rules.test.yaml")
	cmd.Dir = "rules"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}
