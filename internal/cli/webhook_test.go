package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/webhook"
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
		{"negative audit pace", []string{"--audit-pace", "-0.5"}, "--audit-pace must be 0 (no pacing) to 1000, not -0.5"},
		{"infinite audit pace", []string{"--audit-pace", "Inf"}, "--audit-pace must be 0 (no pacing) to 1000, not +Inf"},
		{"audit pace not a number", []string{"--audit-pace", "NaN"}, "--audit-pace must be 0 (no pacing) to 1000, not NaN"},
		{"no reconciles", []string{"--max-concurrent-reconciles", "0"}, "--max-concurrent-reconciles must be at least 1"},
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

// TestWebhookFlagErrors checks that bad flag values stop `mlscale webhook`
// before it starts, with exit status 2 and the flag named, instead of
// running with them (a Prometheus URL with a password was written into
// every rendered trigger) or failing later with exit status 1.
func TestWebhookFlagErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    string
		notWant string
	}{
		{name: "port 0", args: []string{"--port", "0"}, want: "--port must be between 1 and 65535"},
		{name: "prometheus with a password", args: []string{"--prometheus-server", "http://admin:s3cret@prometheus:9090"}, want: "--prometheus-server", notWant: "s3cret"},
		{name: "prometheus not http", args: []string{"--prometheus-server", "ftp://prometheus:9090"}, want: "--prometheus-server"},
		{name: "prometheus without host", args: []string{"--prometheus-server", "prometheus:9090"}, want: "--prometheus-server"},
		{name: "bad cluster domain", args: []string{"--cluster-domain", "Cluster_Local"}, want: `--cluster-domain "Cluster_Local" is not a valid DNS domain`},
		{name: "empty cluster domain", args: []string{"--cluster-domain", ""}, want: "--cluster-domain"},
		{name: "bad host", args: []string{"--host", "bad_host!"}, want: `--host "bad_host!"`},
		{name: "metrics address without port", args: []string{"--metrics-bind-address", "nonsense"}, want: `--metrics-bind-address "nonsense" is not HOST:PORT`},
		{name: "metrics port out of range", args: []string{"--metrics-bind-address", ":99999"}, want: "--metrics-bind-address"},
		{name: "probe port out of range", args: []string{"--health-probe-bind-address", ":99999"}, want: `--health-probe-bind-address ":99999" has no port`},
		{name: "empty cert name", args: []string{"--cert-name", ""}, want: "--cert-name"},
		{name: "bad lease name", args: []string{"--leader-election-id", "Bad_ID"}, want: `--leader-election-id "Bad_ID" is not a valid Lease name`},
		{name: "bad lease namespace", args: []string{"--leader-election-namespace", "Bad_NS"}, want: `--leader-election-namespace "Bad_NS" is not a valid namespace name`},
		{name: "bad policy namespace", args: []string{"--policy-namespace", "ops/team"}, want: `--policy-namespace "ops/team" is not a valid namespace name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No kubeconfig: a value that got past the checks would fail
			// with exit status 1 while finding the API server.
			t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
			t.Setenv("POD_NAMESPACE", "mlscale-system")
			r := runCLI(t, "", append([]string{"webhook"}, tt.args...)...)
			if r.Code != ExitUsage || !strings.Contains(r.ErrOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.Code, r.ErrOut, ExitUsage, tt.want)
			}
			if tt.notWant != "" && strings.Contains(r.ErrOut, tt.notWant) {
				t.Errorf("stderr %q repeats %q", r.ErrOut, tt.notWant)
			}
		})
	}
}

func TestLeaderElectionNamespace(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "namespace")
	if err := os.WriteFile(file, []byte("ml-ops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name      string
		elect     bool
		flag      string
		env, file string
		want      string
		wantErr   string
	}{
		{name: "flag wins", elect: true, flag: "ops", env: "env-ns", file: file, want: "ops"},
		{name: "POD_NAMESPACE", elect: true, env: "env-ns", file: file, want: "env-ns"},
		{name: "service account", elect: true, file: file, want: "ml-ops"},
		{name: "outside a pod", elect: true, file: missing, wantErr: "--leader-elect needs --leader-election-namespace"},
		{name: "no leader election", file: missing, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := webhook.DefaultConfig()
			cfg.LeaderElection, cfg.LeaderElectionNamespace = tt.elect, tt.flag
			err := leaderElectionNamespace(&cfg.Options, tt.env, tt.file)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, new(usageError)) {
					t.Fatalf("error %v, want a usage error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || cfg.LeaderElectionNamespace != tt.want {
				t.Errorf("namespace %q, error %v; want %q", cfg.LeaderElectionNamespace, err, tt.want)
			}
		})
	}
}

func TestCheckWebhookConfigAccepts(t *testing.T) {
	tests := []func(*webhook.Config){
		func(*webhook.Config) {},
		func(c *webhook.Config) { c.Facts.PrometheusServer = "" },
		func(c *webhook.Config) { c.Host, c.MetricsAddr, c.ProbeAddr = "127.0.0.1", "0", "" },
		func(c *webhook.Config) { c.Host, c.MetricsAddr, c.ProbeAddr = "::1", "[::1]:8080", "localhost:0" },
		func(c *webhook.Config) { c.Host = "webhook.mlscale-system.svc" },
		func(c *webhook.Config) { c.LeaderElectionNamespace, c.PolicyNamespace = "mlscale-system", "ops" },
	}
	t.Setenv("POD_NAMESPACE", "mlscale-system")
	for i, change := range tests {
		cfg := webhook.DefaultConfig()
		cfg.CertName, cfg.KeyName = "tls.crt", "tls.key"
		change(&cfg)
		if err := checkWebhookConfig(&cfg); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
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
	cfg := webhook.DefaultConfig()
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
	cfg = webhook.DefaultConfig()
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
