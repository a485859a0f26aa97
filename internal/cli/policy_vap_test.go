package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/internal/vap"
)

// TestPolicyVAP: `mlscale policy vap` prints a policy and a binding per
// policy the API server can enforce, with the configuration's actions and
// the namespaces of the flags; bad input is a usage error naming the flag.
func TestPolicyVAP(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(cfg, []byte("defaultAction: warn\nactions: {trigger_credentials: audit}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "policy", "vap", "--policy-config", cfg, "--prefix", "ml", "--namespace", "ops", "--exclude-namespace", "monitoring")
	if r.Code != ExitOK || r.ErrOut != "" {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	// One policy and binding per policy, and the annotations policy's.
	docs := strings.Split(r.Out, "---\n")[1:]
	if len(docs) != 2*len(vap.Policies())+2 {
		t.Fatalf("%d documents, want %d:\n%s", len(docs), 2*len(vap.Policies())+2, r.Out)
	}
	bindings := 0
	for _, d := range docs {
		if !strings.Contains(d, "kind: ValidatingAdmissionPolicyBinding") {
			continue
		}
		var b admissionregistrationv1.ValidatingAdmissionPolicyBinding
		if err := yaml.UnmarshalStrict([]byte(d), &b); err != nil {
			t.Fatal(err)
		}
		bindings++
		// warn: the partial policies' bindings audit, the webhook warns.
		want := admissionregistrationv1.Warn
		if name := b.Annotations[vap.PolicyAnnotation]; name == "trigger_credentials" || vap.Partial(name) {
			want = admissionregistrationv1.Audit
		}
		if len(b.Spec.ValidationActions) != 1 || b.Spec.ValidationActions[0] != want || !strings.HasPrefix(b.Name, "ml-") {
			t.Errorf("binding %s: validationActions %v, want [%s]", b.Name, b.Spec.ValidationActions, want)
		}
		if got := b.Spec.MatchResources.NamespaceSelector.MatchExpressions[0].Values; strings.Join(got, ",") != "kube-system,ops,monitoring" {
			t.Errorf("binding %s leaves out %v", b.Name, got)
		}
	}
	if bindings != len(vap.Policies())+1 {
		t.Errorf("%d bindings, want %d", bindings, len(vap.Policies())+1)
	}
	if !strings.Contains(r.Out, "name: ml-"+vap.AnnotationsPolicy+"\n") {
		t.Errorf("no policy ml-%s:\n%s", vap.AnnotationsPolicy, r.Out)
	}

	endpoints := filepath.Join(t.TempDir(), "endpoints.yaml")
	if err := os.WriteFile(endpoints, []byte("allowedEndpoints: [\"*.ml.svc\", \"{a,b}.ml.svc\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--prefix", "ML_"}, "--prefix"},
		{[]string{"--exclude-namespace", ""}, "--exclude-namespace must not be empty"},
		{[]string{"--only-namespace", "Team"}, "--only-namespace"},
		{[]string{"--only-namespace", "ml", "--exclude-namespace", "ml"}, "--only-namespace ml is also given to --exclude-namespace"},
		{[]string{"--only-namespace", "mlscale-system"}, "--only-namespace mlscale-system is mlscale's own namespace (--namespace), which the policies never check"},
		{[]string{"--only-namespace", "kube-system"}, "--only-namespace kube-system is never checked"},
		{[]string{"--prefix", ""}, `--prefix must not be empty`},
		{[]string{"--policy-config", filepath.Join(t.TempDir(), "missing.yaml")}, "--policy-config"},
		{[]string{"extra"}, `unknown command "extra"`},
		{[]string{"--gpu-budget", "-1"}, "--gpu-budget must be 0 or more"},
		{[]string{"--policy-config", endpoints}, `allowedEndpoints[1] "{a,b}.ml.svc"`},
	} {
		r := runCLI(t, "", append([]string{"policy", "vap"}, c.args...)...)
		if r.Code != ExitUsage || !strings.Contains(r.ErrOut, c.want) || r.Out != "" {
			t.Errorf("policy vap %q: exit %d, stderr %q, want %d and %q", c.args, r.Code, r.ErrOut, ExitUsage, c.want)
		}
	}
	help := runCLI(t, "", "policy", "vap", "--help")
	for _, p := range vap.Policies() {
		if !strings.Contains(help.Out, p) {
			t.Errorf("help does not name %s:\n%s", p, help.Out)
		}
	}
	for _, s := range []string{"part of them", "gpu_budget checks ScaledJobs", "--gpu-budget"} {
		if !strings.Contains(help.Out, s) {
			t.Errorf("help does not say %q:\n%s", s, help.Out)
		}
	}
}

// TestPolicyVAPGPUBudget: --gpu-budget is gpu_budget's default budget, as
// for mlscale webhook, unless the file sets defaultGPUBudget; the file's
// budgets and allowed endpoints make the policies' variables.
func TestPolicyVAPGPUBudget(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.yaml")
	withDefault := filepath.Join(dir, "default.yaml")
	for f, body := range map[string]string{
		plain:       "gpuBudgets: {ml: 8, team-a: 0}\nallowedEndpoints: [\"*.monitoring.svc\"]\n",
		withDefault: "defaultGPUBudget: 2\n",
	} {
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		args []string
		want map[string]string
	}{
		{nil, map[string]string{"defaultGPUBudget": "-1", "gpuBudgets": "{}", "allowedEndpoints": "[]"}},
		{[]string{"--gpu-budget", "4"}, map[string]string{"defaultGPUBudget": "4"}},
		{[]string{"--gpu-budget", "0", "--policy-config", plain}, map[string]string{"defaultGPUBudget": "0", "gpuBudgets": `{"ml":8,"team-a":0}`, "allowedEndpoints": `["*.monitoring.svc"]`}},
		{[]string{"--gpu-budget", "4", "--policy-config", withDefault}, map[string]string{"defaultGPUBudget": "2"}},
	} {
		r := runCLI(t, "", append([]string{"policy", "vap"}, c.args...)...)
		if r.Code != ExitOK {
			t.Fatalf("policy vap %q: exit %d, stderr %q", c.args, r.Code, r.ErrOut)
		}
		got := map[string]string{}
		for _, d := range strings.Split(r.Out, "---\n")[1:] {
			if !strings.Contains(d, "kind: ValidatingAdmissionPolicy\n") {
				continue
			}
			var p admissionregistrationv1.ValidatingAdmissionPolicy
			if err := yaml.UnmarshalStrict([]byte(d), &p); err != nil {
				t.Fatal(err)
			}
			for _, v := range p.Spec.Variables {
				got[v.Name] = v.Expression
			}
		}
		for k, w := range c.want {
			if got[k] != w {
				t.Errorf("policy vap %q: variable %s is %s, want %s", c.args, k, got[k], w)
			}
		}
	}
}
