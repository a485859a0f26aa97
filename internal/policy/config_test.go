package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name, in string
		want     func(Config) bool
		err      string
	}{
		{name: "yaml", in: `
defaultAction: warn
actions:
  gpu_budget: deny
  my_policy: audit
allowedEndpoints: ["*.monitoring.svc.cluster.local"]
gpuBudgets: {ml: 8}
defaultGPUBudget: 4
`, want: func(c Config) bool {
			return c.ActionFor("gpu_budget") == ActionDeny && c.ActionFor("my_policy") == ActionAudit &&
				c.ActionFor("other") == ActionWarn && c.GPUBudgets["ml"] == 8 && *c.DefaultGPUBudget == 4 &&
				len(c.AllowedEndpoints) == 1
		}},
		{name: "json", in: `{"actions": {"trigger_endpoints": "warn"}}`, want: func(c Config) bool { return c.ActionFor("trigger_endpoints") == ActionWarn }},
		{name: "empty", in: ``, want: func(c Config) bool { return c.ActionFor("x") == ActionDeny }},
		{name: "unknown field", in: "action: {gpu_budget: warn}\n", err: `unknown field "action"; fields: defaultAction, actions, allowedEndpoints, gpuBudgets, defaultGPUBudget, clusterTriggerAuthentications`},
		{name: "bad action", in: "actions: {gpu_budget: block}\n", err: `action "block" of policy "gpu_budget" is not an action; allowed: deny, warn, audit`},
		{name: "bad default", in: "defaultAction: block\n", err: `defaultAction "block" is not an action; allowed: deny, warn, audit`},
		{name: "negative budget", in: "gpuBudgets: {ml: -1}\n", err: `gpuBudgets["ml"] is -1; it must be 0 or more`},
		{name: "empty pattern", in: "allowedEndpoints: [a, '']\n", err: `allowedEndpoints[1] "" is an empty pattern`},
		{name: "pattern with scheme", in: "allowedEndpoints: ['http://prometheus.monitoring.svc:9090']\n", err: `allowedEndpoints[0] "http://prometheus.monitoring.svc:9090" has a scheme; allowed: a host name glob pattern`},
		{name: "pattern with port", in: "allowedEndpoints: ['prometheus.monitoring.svc:9090']\n", err: `allowedEndpoints[0] "prometheus.monitoring.svc:9090" has a port`},
		{name: "pattern with path", in: "allowedEndpoints: ['prometheus.monitoring.svc/api']\n", err: `allowedEndpoints[0] "prometheus.monitoring.svc/api" is not a host pattern`},
		{name: "invalid glob", in: "allowedEndpoints: ['[abc.svc']\n", err: `allowedEndpoints[0] "[abc.svc" is not a valid glob pattern`},
		{name: "glob patterns", in: "allowedEndpoints: ['*.monitoring.svc.cluster.local', 'prom-?.example.com', '{a,b}.svc', '[ab]c.svc']\n", want: func(c Config) bool { return len(c.AllowedEndpoints) == 4 }},
		{name: "IPv6 address in brackets", in: "allowedEndpoints: ['[fd00::1]']\n", err: `allowedEndpoints[0] "[fd00::1]" is an IPv6 address, which a glob pattern cannot match`},
		{name: "IPv6 address", in: "allowedEndpoints: ['fd00::1']\n", err: `allowedEndpoints[0] "fd00::1" is an IPv6 address`},
		{name: "two documents", in: "defaultAction: deny\n---\ndefaultAction: bogus\nfoo: 1\n", err: `policy configuration: holds 2 YAML documents; it is one document`},
		{name: "a leading document marker", in: "---\ndefaultAction: warn\n", want: func(c Config) bool { return c.ActionFor("x") == ActionWarn }},
		{name: "a trailing document marker", in: "defaultAction: warn\n---\n", want: func(c Config) bool { return c.ActionFor("x") == ActionWarn }},
		{name: "trailing dot", in: "allowedEndpoints: ['*.monitoring.svc.']\n", err: `allowedEndpoints[0] "*.monitoring.svc." ends with a dot: hosts are compared without their trailing dot`},
		{name: "wrong type", in: "gpuBudgets: {ml: lots}\n", err: `policy configuration:`},
		{name: "cluster trigger authentications", in: "clusterTriggerAuthentications: {rabbitmq-platform: ['team-*', ml]}\n", want: func(c Config) bool {
			return len(c.ClusterTriggerAuthentications["rabbitmq-platform"]) == 2 && c.Data()["clusterTriggerAuthentications"] != nil
		}},
		{name: "empty namespace pattern", in: "clusterTriggerAuthentications: {x: ['']}\n", err: `clusterTriggerAuthentications["x"][0] "" is not a namespace pattern; allowed: a namespace name or a glob pattern`},
		// encoding/json ignores case: the second key replaced the first.
		{name: "a field name in another case", in: "allowedEndpoints: ['*.monitoring.svc']\nallowedendpoints: ['**']\n", err: `unknown field "allowedendpoints" (did you mean "allowedEndpoints"? field names are case-sensitive)`},
		{name: "a field name in upper case", in: "GPUBUDGETS: {ml: 100}\n", err: `unknown field "GPUBUDGETS" (did you mean "gpuBudgets"?`},
		{name: "a budget for no namespace", in: "gpuBudgets: {ML: 4}\n", err: `gpuBudgets names "ML", which is not a namespace name`},
		{name: "bad namespace glob", in: "clusterTriggerAuthentications: {x: ['[ml']}\n", err: `clusterTriggerAuthentications["x"][0] "[ml" is not a namespace pattern`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseConfig error = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("ParseConfig = %+v", c)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(p, []byte("actions: {gpu_budget: warn}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil || c.ActionFor("gpu_budget") != ActionWarn {
		t.Fatalf("LoadConfig = %+v, %v", c, err)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "reading the policy configuration") {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(p, []byte("actions: {gpu_budget: nope}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("a bad file's error must name it: %v", err)
	}
}

func TestUnknownPolicies(t *testing.T) {
	c := Config{Actions: map[string]Action{"gpu_budget": ActionWarn, "zeta": ActionDeny, "alpha": ActionAudit}}
	got := c.UnknownPolicies([]string{"gpu_budget"})
	if strings.Join(got, ",") != "alpha,zeta" {
		t.Errorf("UnknownPolicies = %v", got)
	}
	// NewFromModules accepts actions for policies not loaded (user
	// policies to come); NewFromFS does not.
	mods, err := BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewFromModules(context.Background(), mods, c); err != nil {
		t.Errorf("NewFromModules with actions for user policies: %v", err)
	}
	if _, err := New(context.Background(), c); err == nil {
		t.Error("New accepted actions for unknown policies")
	}
	if _, err := NewFromModules(context.Background(), mods, Config{DefaultAction: "x"}); err == nil {
		t.Error("NewFromModules accepted a bad defaultAction")
	}
}

func TestScaleTarget(t *testing.T) {
	ref := func(kind, name string) map[string]any {
		m := map[string]any{"name": name}
		if kind != "" {
			m["kind"] = kind
		}
		return map[string]any{"spec": map[string]any{"scaleTargetRef": m}, "metadata": map[string]any{"name": "o"}}
	}
	tests := []struct {
		name string
		r    Review
		want string
		ok   bool
	}{
		{"hpa", Review{Kind: KindHPA, Object: ref("StatefulSet", "db")}, "StatefulSet/db", true},
		{"hpa without kind", Review{Kind: KindHPA, Object: ref("", "db")}, "", false},
		{"scaledobject defaults to Deployment", Review{Kind: KindScaledObject, Object: ref("", "web")}, "Deployment/web", true},
		{"scaledobject without target", Review{Kind: KindScaledObject, Object: map[string]any{"spec": map[string]any{}}}, "", false},
		{"scaledjob", Review{Kind: KindScaledJob, Object: ref("", "x")}, "", false},
		{"workload", Review{Kind: "Deployment", Object: map[string]any{"metadata": map[string]any{"name": "llm"}}}, "Deployment/llm", true},
		{"job", Review{Kind: "Job", Object: map[string]any{"metadata": map[string]any{"name": "train"}}}, "Job/train", true},
		{"workload without name", Review{Kind: "StatefulSet", Object: map[string]any{}}, "", false},
		{"other kind", Review{Kind: "Pod", Object: ref("", "x")}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ScaleTarget(tt.r)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ScaleTarget = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestHolder(t *testing.T) {
	var zero Holder
	if zero.Load() != nil {
		t.Error("the zero Holder holds an engine")
	}
	a, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(context.Background(), Config{DefaultAction: ActionWarn})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHolder(a)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				if i%2 == 0 {
					h.Store(b)
				}
				if e := h.Load(); e != a && e != b {
					t.Error("Load returned neither engine")
				}
			}
		})
	}
	wg.Wait()
	if h.Load() != b {
		t.Error("the last Store is not held")
	}
}
