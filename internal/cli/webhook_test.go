package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/internal/manager"
	"github.com/mlscale/mlscale/internal/policy"
)

func TestWebhookPolicyFlagErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("actions:\n  gpu_budget: block\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(dir, "unknown.yaml")
	if err := os.WriteFile(unknown, []byte("allowEndpoints: [x]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad action", []string{"--policy-config", bad}, `action "block" of policy "gpu_budget" is not an action; allowed: deny, warn, audit`},
		{"unknown field", []string{"--policy-config", unknown}, `unknown field "allowEndpoints"`},
		{"missing file", []string{"--policy-config", filepath.Join(dir, "nope.yaml")}, "reading the policy configuration"},
		{"negative audit interval", []string{"--audit-interval", "-1s"}, "--audit-interval must be 0 (off) or more"},
		{"empty policy namespace", []string{"--policy-namespace", ""}, "--policy-namespace must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", append([]string{"webhook"}, tt.args...)...)
			if r.Code != ExitUsage || !strings.Contains(r.ErrOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.Code, r.ErrOut, ExitUsage, tt.want)
			}
		})
	}
}

func TestWebhookPolicyFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(file, []byte("actions: {trigger_endpoints: warn}\ndefaultGPUBudget: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := newWebhookCmd()
	if err := cmd.ParseFlags([]string{"--policy-namespace", "ops", "--audit-interval", "30s"}); err != nil {
		t.Fatal(err)
	}
	cfg := manager.DefaultConfig()
	cfg.AuditInterval = 30 * time.Second
	cfg.PolicyNamespace = "ops"
	budget := int64(8)
	cfg.Facts.GPUBudget = &budget
	if err := webhookPolicyFlags(cmd, &cfg, file, true); err != nil {
		t.Fatal(err)
	}
	if cfg.Policy.ActionFor("trigger_endpoints") != policy.ActionWarn || *cfg.Policy.DefaultGPUBudget != 2 || cfg.PolicyNamespace != "ops" {
		t.Errorf("config = %+v", cfg.Policy)
	}

	// Without a file, --gpu-budget is the policies' default budget too;
	// --user-policies=false clears the namespace.
	cfg = manager.DefaultConfig()
	cfg.Facts.GPUBudget = &budget
	cfg.PolicyNamespace = "ops"
	if err := webhookPolicyFlags(newWebhookCmd(), &cfg, "", false); err != nil {
		t.Fatal(err)
	}
	if cfg.Policy.DefaultGPUBudget == nil || *cfg.Policy.DefaultGPUBudget != 8 || cfg.PolicyNamespace != "" {
		t.Errorf("config = %+v, namespace %q", cfg.Policy, cfg.PolicyNamespace)
	}
}

func TestPodNamespace(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "namespace")
	if err := os.WriteFile(file, []byte("ml-ops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ env, file, want string }{
		{"from-env", file, "from-env"},
		{"", file, "ml-ops"},
		{"", filepath.Join(dir, "missing"), "mlscale-system"},
	}
	for _, tt := range tests {
		if got := podNamespace(tt.env, tt.file); got != tt.want {
			t.Errorf("podNamespace(%q, %q) = %q, want %q", tt.env, tt.file, got, tt.want)
		}
	}
}
