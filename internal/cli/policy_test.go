package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The manifests of testdata/policy-eval, read once: conflicting.yaml is a
// namespace quota, an HPA, and a GPU workload opted in over the quota
// (mlscale lowers its maximum, with a warning, as admission does) on the
// workload the HPA scales (scaledobject_foreign_hpa denies it); clean.yaml
// passes every policy.
var (
	conflictingManifests = readTestdata("policy-eval/conflicting.yaml")
	cleanManifests       = readTestdata("policy-eval/clean.yaml")
)

// readTestdata returns a file of testdata, or panics: the tests cannot run
// without it.
func readTestdata(name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestPolicyEval(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		out      []string // each must appear in stdout
		notOut   []string
		errOut   string
		outLines int
	}{
		{
			name:  "conflicts are denied",
			args:  []string{"-f", "-"},
			stdin: conflictingManifests,
			code:  ExitFailure,
			out: []string{
				"<stdin>: document 3 (line 14): warn: mlscale: Deployment ml/llm: max replicas lowered from 8 to 4: 8 replicas x 2 GPU(s) per pod exceed namespace ml's GPU budget of 8",
				"<stdin>: document 3 (line 14): deny: scaledobject_foreign_hpa: Deployment ml/llm (mlscale.io/autoscale opt-in) would scale Deployment ml/llm, which HorizontalPodAutoscaler ml/llm-hpa already scales",
				// One conflict, reported once: on the object that makes it.
				"2 object(s) evaluated against 9 policies: 1 denied, 1 warning(s), 0 audit",
			},
			notOut:   []string{"hpa_scaledobject_conflict"},
			outLines: 3,
		},
		{
			name:  "the other order: the HPA makes the conflict",
			args:  []string{"-f", "-"},
			stdin: strings.Join(reversed(strings.Split(conflictingManifests, "---\n")), "---\n"),
			code:  ExitFailure,
			out: []string{
				"<stdin>: document 2 (line 20): deny: hpa_scaledobject_conflict: HorizontalPodAutoscaler ml/llm-hpa targets Deployment ml/llm, which ScaledObject ml/llm already scales",
				"2 object(s) evaluated against 9 policies: 1 denied, 0 warning(s), 0 audit",
			},
			notOut:   []string{"scaledobject_foreign_hpa", "lowered"},
			outLines: 2,
		},
		{
			name:  "warn and audit actions admit",
			args:  []string{"-f", "-", "--action", "gpu_budget=warn", "--default-action", "audit", "--gpu-budget", "2"},
			stdin: conflictingManifests,
			code:  ExitOK,
			out: []string{
				"warn: gpu_budget: Deployment ml/llm (mlscale.io/autoscale opt-in) may scale to 4 replicas x 2 GPUs per pod = 8 GPUs, over the 2 GPUs of the configured default GPU budget",
				"audit: scaledobject_foreign_hpa: ",
				"2 object(s) evaluated against 9 policies: 0 denied, 2 warning(s), 1 audit",
			},
		},
		{
			name:  "JSON output",
			args:  []string{"-f", "-", "-o", "json"},
			stdin: conflictingManifests,
			code:  ExitFailure,
			out: []string{
				`"objects": 2,`, `"denied": 1,`, `"warnings": 1`,
				`"where": "<stdin>: document 3 (line 14)",`, `"kind": "Deployment",`, `"namespace": "ml",`, `"name": "llm",`,
				`"action": "deny",`, `"policy": "scaledobject_foreign_hpa",`, `"policy": "mlscale",`,
			},
		},
		{name: "bad output", args: []string{"-f", "-", "-o", "yaml"}, code: ExitUsage, errOut: `--output "yaml": allowed: text, json`},
		{
			name:     "clean manifests pass",
			args:     []string{"-f", "-"},
			stdin:    cleanManifests,
			code:     ExitOK,
			out:      []string{"2 object(s) evaluated against 9 policies: 0 denied, 0 warning(s), 0 audit"},
			outLines: 1,
		},
		{
			name:  "allowlist",
			args:  []string{"-f", "-", "--allowed-endpoint", "*.observability.svc.cluster.local", "-n", "team"},
			stdin: cleanManifests,
			code:  ExitFailure,
			out:   []string{"deny: trigger_endpoints: ScaledObject team/api makes KEDA call prometheus.monitoring.svc.cluster.local"},
		},
		{
			name:  "configured GPU budget",
			args:  []string{"-f", "-", "--gpu-budget", "4"},
			stdin: strings.Replace(conflictingManifests, `{requests.nvidia.com/gpu: "8"}`, `{requests.nvidia.com/gpu: "100"}`, 1),
			code:  ExitFailure,
			out:   []string{"over the 4 GPUs of the configured default GPU budget"},
		},
		{
			name:   "annotations admission denies",
			args:   []string{"-f", "-"},
			stdin:  strings.Replace(conflictingManifests, `mlscale.io/max-replicas: "8"`, `mlscale.io/max-replicas: "many"`, 1),
			code:   ExitFailure,
			errOut: "mlscale.io/max-replicas",
		},
		{name: "no files", args: nil, code: ExitUsage, errOut: "no manifests"},
		{name: "bad action", args: []string{"-f", "-", "--action", "gpu_budget"}, code: ExitUsage, errOut: `--action "gpu_budget": want POLICY=ACTION`},
		{name: "unknown policy", args: []string{"-f", "-", "--action", "nope=warn"}, code: ExitUsage, errOut: `--action nope: no policy "nope" in built-in policies`},
		{name: "bad action value", args: []string{"-f", "-", "--action", "gpu_budget=block"}, code: ExitUsage, errOut: `--action gpu_budget: "block" is not an action; allowed: deny, warn, audit`},
		{name: "bad default action", args: []string{"-f", "-", "--default-action", ""}, code: ExitUsage, errOut: `--default-action "" is not an action; allowed: deny, warn, audit`},
		{name: "negative budget", args: []string{"-f", "-", "--gpu-budget", "-1"}, code: ExitUsage, errOut: "--gpu-budget must be 0 or more"},
		{name: "bad namespace", args: []string{"-f", "-", "-n", "Bad_NS"}, code: ExitUsage, errOut: `--namespace "Bad_NS" is not a valid namespace name`},
		{name: "bad YAML", args: []string{"-f", "-"}, stdin: "a: [", code: ExitFailure, errOut: "invalid YAML"},
		{
			// kubectl autoscale writes autoscaling/v1; the API server
			// converts it to the v2 the webhook reviews.
			name:  "autoscaling/v1 HPA is converted and checked",
			args:  []string{"-f", "-"},
			stdin: strings.Replace(conflictingManifests, "apiVersion: autoscaling/v2", "apiVersion: autoscaling/v1", 1),
			code:  ExitFailure,
			out: []string{
				"deny: scaledobject_foreign_hpa: Deployment ml/llm (mlscale.io/autoscale opt-in) would scale Deployment ml/llm, which HorizontalPodAutoscaler ml/llm-hpa already scales",
				"2 object(s) evaluated against 9 policies: 1 denied",
			},
		},
		{
			name:   "removed HPA version is reported",
			args:   []string{"-f", "-"},
			stdin:  strings.Replace(cleanManifests, "apiVersion: autoscaling/v2", "apiVersion: autoscaling/v2beta2", 1),
			code:   ExitFailure,
			errOut: "<stdin>: document 1 (line 1): autoscaling/v2beta2 HorizontalPodAutoscaler is not evaluated",
		},
		{
			name: "JSON stream",
			args: []string{"-f", "-"},
			stdin: `{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "web", "namespace": "ml"},
  "spec": {"scaleTargetRef": {"name": "web"}, "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}]}}
{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web-hpa", "namespace": "ml"},
  "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3}}
`,
			code: ExitFailure,
			out: []string{
				"<stdin>: document 2 (line 3): deny: hpa_scaledobject_conflict: HorizontalPodAutoscaler ml/web-hpa targets Deployment ml/web",
				"2 object(s) evaluated against 9 policies: 1 denied",
			},
			outLines: 2,
		},
		{name: "broken JSON stream", args: []string{"-f", "-"}, stdin: `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}` + "\n{\"apiVersion\": ", code: ExitFailure, errOut: "<stdin>: document 2 (line 2): invalid JSON"},
		{name: "bad endpoint pattern", args: []string{"-f", "-", "--allowed-endpoint", "http://prometheus:9090"}, code: ExitUsage, errOut: `--allowed-endpoint "http://prometheus:9090": has a scheme; allowed: a host name glob pattern`},
		{
			// The API server names it before validating admission sees
			// it; without a name no policy fired and it passed.
			name: "generateName is reviewed under a generated name",
			args: []string{"-f", "-"},
			stdin: `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {generateName: s8-, namespace: ml}
spec:
  scaleTargetRef: {name: web}
  triggers:
  - type: rabbitmq
    metadata: {queueName: q, mode: QueueLength, value: "5", host: "amqp://user:pass@rabbitmq.ml.svc:5672/"}
`,
			code: ExitFailure,
			out:  []string{"deny: trigger_credentials: ScaledObject ml/s8-xxxxx", "1 object(s) evaluated against 9 policies: 1 denied"},
		},
		{
			name:   "no name at all is a problem",
			args:   []string{"-f", "-"},
			stdin:  "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {namespace: ml}\nspec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, maxReplicas: 3}\n",
			code:   ExitFailure,
			out:    []string{"0 object(s) evaluated"},
			errOut: "<stdin>: document 1 (line 1): HorizontalPodAutoscaler has no metadata.name (nor metadata.generateName); the API server requires one",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.stdin, append([]string{"policy", "eval"}, tt.args...)...)
			if r.Code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.Code, tt.code, r.Out, r.ErrOut)
			}
			for _, want := range tt.out {
				if !strings.Contains(r.Out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.Out)
				}
			}
			if tt.outLines > 0 && strings.Count(r.Out, "\n") != tt.outLines {
				t.Errorf("stdout has %d lines, want %d:\n%s", strings.Count(r.Out, "\n"), tt.outLines, r.Out)
			}
			if !strings.Contains(r.ErrOut, tt.errOut) {
				t.Errorf("stderr lacks %q:\n%s", tt.errOut, r.ErrOut)
			}
			if tt.errOut == "" && r.ErrOut != "" {
				t.Errorf("unexpected stderr:\n%s", r.ErrOut)
			}
		})
	}
}

func TestPolicyEvalConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("policy.yaml", `defaultAction: audit
actions:
  gpu_budget: warn
  team_label: deny
allowedEndpoints: ["*.observability.svc.cluster.local"]
gpuBudgets: {ml: 2}
`)
	bad := write("bad.yaml", "actions: {gpu_budget: block}\n")
	tests := []struct {
		name   string
		args   []string
		code   int
		out    []string
		errOut string
	}{
		{
			name: "file",
			args: []string{"--policy-config", cfg},
			code: ExitOK,
			out: []string{
				// The file's ResourceQuota (8 GPUs) lowers the rendered
				// maximum, as admission would; the configured budget (2) is
				// the policy's.
				"warn: mlscale: Deployment ml/llm: max replicas lowered from 8 to 4: 8 replicas x 2 GPU(s) per pod exceed namespace ml's GPU budget of 8",
				"warn: gpu_budget: Deployment ml/llm (mlscale.io/autoscale opt-in) may scale to 4 replicas x 2 GPUs per pod = 8 GPUs, over the 2 GPUs of the configured GPU budget of namespace ml",
				"audit: scaledobject_foreign_hpa: ",
				"audit: trigger_endpoints: Deployment ml/llm (mlscale.io/autoscale opt-in) makes KEDA call prometheus-operated.monitoring.svc",
				"0 denied, 2 warning(s), 3 audit",
			},
			errOut: `the policy configuration sets the action of "team_label", which is not among the built-in policies`,
		},
		{
			name: "flags override the file",
			args: []string{"--policy-config", cfg, "--default-action", "deny", "--action", "gpu_budget=audit", "--gpu-budget", "1"},
			code: ExitFailure,
			out: []string{
				"audit: gpu_budget: ",
				"deny: scaledobject_foreign_hpa: ",
			},
			errOut: "team_label",
		},
		{name: "bad file", args: []string{"--policy-config", bad}, code: ExitUsage, errOut: `--policy-config: ` + bad + `: policy configuration: action "block" of policy "gpu_budget" is not an action; allowed: deny, warn, audit`},
		{name: "missing file", args: []string{"--policy-config", filepath.Join(dir, "nope.yaml")}, code: ExitUsage, errOut: "reading the policy configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, conflictingManifests, append([]string{"policy", "eval", "-f", "-"}, tt.args...)...)
			if r.Code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.Code, tt.code, r.Out, r.ErrOut)
			}
			for _, want := range tt.out {
				if !strings.Contains(r.Out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.Out)
				}
			}
			if !strings.Contains(r.ErrOut, tt.errOut) {
				t.Errorf("stderr lacks %q:\n%s", tt.errOut, r.ErrOut)
			}
		})
	}
}

func TestPolicyTest(t *testing.T) {
	t.Run("built-in policies pass", func(t *testing.T) {
		r := runCLI(t, "", "policy", "test")
		if r.Code != ExitOK || !strings.HasPrefix(r.Out, "PASS: ") || !strings.Contains(r.Out, "tests (built-in policies)") {
			t.Fatalf("exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
		}
	})
	t.Run("repository folder with --verbose", func(t *testing.T) {
		r := runCLI(t, "", "policy", "test", "../../policies", "--verbose")
		if r.Code != ExitOK || !strings.Contains(r.Out, "PASS mlscale.policies.gpu_budget_test.test_over_quota_denied ("+filepath.Join("..", "..", "policies", "gpu_budget", "policy_test.rego")+":") {
			t.Fatalf("exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
		}
	})
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("p/policy.rego", "package mlscale.policies.p\nviolation contains \"x\" if input.bad\n")
	write("p/policy_test.rego", "package mlscale.policies.p_test\nimport data.mlscale.policies.p\ntest_ok if count(p.violation) == 0\ntest_wrong if count(p.violation) == 1\n")
	t.Run("failing test", func(t *testing.T) {
		r := runCLI(t, "", "policy", "test", dir)
		if r.Code != ExitFailure {
			t.Fatalf("exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
		}
		want := "FAIL mlscale.policies.p_test.test_wrong (" + filepath.Join(dir, "p", "policy_test.rego") + ":4)\nFAIL: 1/2 tests failed (" + dir + ")\n"
		if r.Out != want {
			t.Errorf("stdout:\n%s\nwant:\n%s", r.Out, want)
		}
	})
	t.Run("compile error", func(t *testing.T) {
		write("q/bad.rego", "package q\nx if {\n")
		r := runCLI(t, "", "policy", "test", dir)
		if r.Code != ExitFailure || !strings.Contains(r.ErrOut, filepath.Join(dir, "q", "bad.rego")+":3: rego_parse_error") {
			t.Fatalf("exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
		}
	})
	t.Run("user policy importing mlscale.lib", func(t *testing.T) {
		lib := t.TempDir()
		files := map[string]string{
			"team_label.rego": `package mlscale.policies.team_label

import data.mlscale.lib

violation contains msg if {
	hpa := lib.review_hpa
	not hpa.metadata.labels.team
	msg := sprintf("team_label: %s has no team label", [lib.object_key(hpa)])
}
`,
			"team_label_test.rego": `package mlscale.policies.team_label_test

import data.mlscale.policies.team_label

hpa := {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "x", "namespace": "ml"}}

test_denied if count(team_label.violation) == 1 with input as {"kind": "HorizontalPodAutoscaler", "namespace": "ml", "object": hpa}
`,
		}
		for name, src := range files {
			if err := os.WriteFile(filepath.Join(lib, name), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := runCLI(t, "", "policy", "test", lib)
		if r.Code != ExitOK || r.Out != "PASS: 1/1 tests ("+lib+")\n" {
			t.Fatalf("policy test: exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
		}
		r = runCLI(t, cleanManifests, "policy", "eval", "--policies", lib, "-f", "-")
		if r.Code != ExitFailure || !strings.Contains(r.Out, "deny: team_label: HorizontalPodAutoscaler default/web has no team label") {
			t.Fatalf("policy eval: exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
		}
	})
	t.Run("a policy that fails on one object does not stop the others", func(t *testing.T) {
		dir := t.TempDir()
		// A complete rule with two values on an HPA is a conflict, a
		// runtime error; on a ScaledObject it is one value.
		src := `package mlscale.policies.level

import data.mlscale.lib

level := 1 if input.kind == "HorizontalPodAutoscaler"
level := 2 if input.kind == "HorizontalPodAutoscaler"

violation contains msg if {
	level == 1
	msg := "never"
}

violation contains msg if {
	input.kind == "ScaledObject"
	msg := sprintf("level: %s is reviewed", [lib.object_key(input.object)])
}
`
		if err := os.WriteFile(filepath.Join(dir, "level.rego"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		manifests := "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: a, namespace: ml}\nspec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, maxReplicas: 3}\n---\n" +
			"apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: b, namespace: ml}\nspec: {scaleTargetRef: {name: other}, triggers: [{type: cpu, metricType: Utilization, metadata: {value: \"60\"}}]}\n"
		r := runCLI(t, manifests, "policy", "eval", "--policies", dir, "-f", "-", "-o", "json")
		if r.Code != ExitFailure || !strings.Contains(r.Out, `"problems": 1,`) || !strings.Contains(r.Out, `"message": "level: ScaledObject ml/b is reviewed"`) ||
			!strings.Contains(r.ErrOut, "<stdin>: document 1 (line 1): ") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Out, r.ErrOut)
		}
	})
	t.Run("no tests", func(t *testing.T) {
		empty := t.TempDir()
		if err := os.WriteFile(filepath.Join(empty, "a.rego"), []byte("package a\nx := 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, "", "policy", "test", empty)
		if r.Code != ExitFailure || !strings.Contains(r.ErrOut, "no Rego tests") {
			t.Fatalf("exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		r := runCLI(t, "", "policy", "test", filepath.Join(dir, "nope"))
		if r.Code != ExitUsage || !strings.Contains(r.ErrOut, "policy directory") {
			t.Fatalf("exit %d\n%s%s", r.Code, r.Out, r.ErrOut)
		}
	})
	t.Run("too many arguments", func(t *testing.T) {
		if r := runCLI(t, "", "policy", "test", "a", "b"); r.Code != ExitUsage {
			t.Fatalf("exit %d\n%s", r.Code, r.ErrOut)
		}
	})
}

// reversed returns the elements of s in reverse order.
func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// TestPolicyEvalUnchecked evaluates, with a user policy that wants a team
// label on Jobs and HPAs, a Job that has not opted in and an HPA in
// kube-system, neither of which mlscale's webhooks ever see, and an HPA in
// ml, which they do: only the last is denied, and the summary says what
// was not checked.
func TestPolicyEvalUnchecked(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"team_label.rego": `package mlscale.policies.team_label

reviewed_kinds := {"HorizontalPodAutoscaler", "Job"}

violation contains msg if {
	not input.object.metadata.labels.team
	msg := sprintf("team_label: %s %s has no team label", [input.kind, input.object.metadata.name])
}
`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const hpa = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: %s, namespace: %s}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: %s}
  minReplicas: 1
  maxReplicas: 3
`
	in := `apiVersion: batch/v1
kind: Job
metadata: {name: train, namespace: ml}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
---
` + fmt.Sprintf(hpa, "dns", "kube-system", "coredns") + "---\n" + fmt.Sprintf(hpa, "api", "ml", "api")
	r := runCLI(t, in, "policy", "eval", "--policies", dir, "-f", "-")
	if r.Code != ExitFailure {
		t.Errorf("exit %d, want %d", r.Code, ExitFailure)
	}
	for _, want := range []string{
		"deny: team_label: HorizontalPodAutoscaler api has no team label",
		"1 object(s) evaluated against 1 policies: 1 denied",
		`2 object(s) not checked, as the webhooks never see them: workloads without mlscale.io/autoscale: "true", objects in kube-system`,
	} {
		if !strings.Contains(r.Out, want) {
			t.Errorf("stdout does not contain %q:\n%s", want, r.Out)
		}
	}
	for _, not := range []string{"Job train", "HorizontalPodAutoscaler dns"} {
		if strings.Contains(r.Out, not) {
			t.Errorf("stdout reports %s, which the webhooks never see:\n%s", not, r.Out)
		}
	}
}

// TestPolicyTestBuiltinPackage tests a directory that defines mlscale.lib
// itself: the tests run (offline it replaces the built-in), and a warning
// says the webhook would refuse such a ConfigMap.
func TestPolicyTestBuiltinPackage(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"lib.rego":  "package mlscale.lib\n\nowner := \"team\"\n",
		"team.rego": "package mlscale.policies.team\n\nimport data.mlscale.lib\n\nviolation contains msg if {\n\tnot input.object.metadata.labels[lib.owner]\n\tmsg := \"team: no owner\"\n}\n",
		"team_test.rego": "package mlscale.policies.team_test\n\nimport data.mlscale.policies.team\n\n" +
			"test_denied if {\n\tcount(team.violation) == 1 with input as {\"object\": {\"metadata\": {}}}\n}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runCLI(t, "", "policy", "test", dir)
	if r.Code != ExitOK || !strings.Contains(r.Out, "PASS: 1/1 tests") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", r.Code, r.Out, r.ErrOut)
	}
	if want := "defines built-in mlscale package(s) mlscale.lib: here they replace the built-in ones, but the webhook refuses a ConfigMap that defines one"; !strings.Contains(r.ErrOut, want) {
		t.Errorf("stderr does not contain %q:\n%s", want, r.ErrOut)
	}
}
