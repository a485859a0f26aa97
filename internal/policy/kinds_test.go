package policy

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/workload"
)

// reviewedKindNames are the kinds of ReviewedKinds.
func reviewedKindNames() []string {
	var out []string
	for _, k := range ReviewedKinds {
		out = append(out, k.GVK.Kind)
	}
	return out
}

// possibleKinds returns the kinds for which OPA's partial evaluation of
// the policy's violations, with input.kind known and everything else
// unknown (the rest of the input, data.inventory, data.config), leaves
// anything to evaluate: for the other kinds no input, inventory or
// configuration gives a violation.
func possibleKinds(t *testing.T, compiler *ast.Compiler, name string) []string {
	t.Helper()
	h := hpa("a", "web")
	r, err := NewReview(context.Background(), OperationCreate, &h, nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := Input(r, Inventory{})
	if err != nil {
		t.Fatal(err)
	}
	unknowns := []string{"input.rendered", "data.inventory", "data.config"}
	for k := range in {
		if k != "kind" {
			unknowns = append(unknowns, "input."+k)
		}
	}
	// data.workload_kinds and data.gpu_resources are mlscale's constants.
	data := baseData(Config{})
	delete(data, "config")
	store := inmem.NewFromObject(data)
	var out []string
	for _, kind := range reviewedKindNames() {
		pq, err := rego.New(
			rego.Query("data."+PackagePrefix+name+".violation[_]"),
			rego.Compiler(compiler), rego.Store(store),
			rego.Input(map[string]any{"kind": kind}),
			rego.Unknowns(unknowns),
		).Partial(context.Background())
		if err != nil {
			t.Fatalf("partial evaluation of %s for %s: %v", name, kind, err)
		}
		if len(pq.Queries) > 0 {
			out = append(out, kind)
		}
	}
	slices.Sort(out)
	return out
}

// TestBuiltinKinds proves builtinKinds: each built-in policy is declared
// with exactly the kinds for which partial evaluation cannot rule a
// violation out, and the engine uses the declaration.
func TestBuiltinKinds(t *testing.T) {
	modules, err := BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	compiler := ast.NewCompiler()
	if compiler.Compile(modules); compiler.Failed() {
		t.Fatal(compiler.Errors)
	}
	names := Names(modules)
	if got := slices.Sorted(maps.Keys(builtinKinds)); !slices.Equal(got, names) {
		t.Errorf("builtinKinds declares %v, want the built-in policies %v", got, names)
	}
	e := newEngine(t, Config{})
	for _, name := range names {
		want := slices.Sorted(slices.Values(builtinKinds[name]))
		if got := possibleKinds(t, compiler, name); !slices.Equal(got, want) {
			t.Errorf("policy %s: partial evaluation finds violations possible for %v, builtinKinds declares %v", name, got, want)
		}
		if got, ok := e.Kinds(name); !ok || !slices.Equal(got, want) {
			t.Errorf("engine: policy %s reviews %v (%v), want %v", name, got, ok, want)
		}
	}
	for _, kind := range reviewedKindNames() {
		if !e.Reviews(kind) {
			t.Errorf("no built-in policy reviews %s", kind)
		}
	}
}

// TestBuiltinKindsOnlyUnchanged: a changed built-in policy, or a module
// that changes a document the built-ins read, is evaluated on every kind.
func TestBuiltinKindsOnlyUnchanged(t *testing.T) {
	changed := func(t *testing.T, add map[string]string) *Engine {
		t.Helper()
		modules, err := BuiltinModules()
		if err != nil {
			t.Fatal(err)
		}
		for file, src := range add {
			modules[file] = ast.MustParseModuleWithOpts(src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		}
		e, err := NewFromModules(context.Background(), modules, Config{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := changed(t, map[string]string{"gpu_budget/policy.rego": "package mlscale.policies.gpu_budget\n\nviolation contains \"any\"\n"})
	if kinds, ok := e.Kinds("gpu_budget"); ok {
		t.Errorf("changed gpu_budget reviews only %v", kinds)
	}
	if _, ok := e.Kinds("trigger_credentials"); !ok {
		t.Error("unchanged trigger_credentials lost its kinds")
	}
	e = changed(t, map[string]string{"extra.rego": "package mlscale.lib.extra\n\nx := 1\n"})
	if kinds, ok := e.Kinds("hpa_duplicate_target"); ok {
		t.Errorf("with a module under mlscale.lib, hpa_duplicate_target reviews only %v", kinds)
	}
	e = changed(t, map[string]string{"acme.rego": "package acme.helpers\n\nx := 1\n"})
	if _, ok := e.Kinds("hpa_duplicate_target"); !ok {
		t.Error("an unrelated helper package made hpa_duplicate_target review every kind")
	}
}

// TestDeclaredKinds: a user policy's reviewed_kinds rule limits the kinds
// it is evaluated on; one that is not a constant set of names does not.
func TestDeclaredKinds(t *testing.T) {
	modules, err := BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	for file, src := range map[string]string{
		"declared.rego":  "package mlscale.policies.declared\n\nreviewed_kinds := {\"ScaledJob\"}\n\nviolation contains \"declared: always\"\n",
		"by_input.rego":  "package mlscale.policies.by_input\n\nreviewed_kinds := {input.kind}\n\nviolation contains \"by_input: always\"\n",
		"not_names.rego": "package mlscale.policies.not_names\n\nreviewed_kinds := 7\n\nviolation contains \"not_names: always\"\n",
		// A partial set on input is empty without input: every kind too.
		"by_input_set.rego": "package mlscale.policies.by_input_set\n\nreviewed_kinds contains input.kind if input.kind == \"ScaledObject\"\n\nviolation contains \"by_input_set: always\"\n",
		"silent.rego":       "package mlscale.policies.silent\n\nviolation contains \"silent: always\"\n",
	} {
		modules[file] = ast.MustParseModuleWithOpts(src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	}
	e, err := NewFromModules(context.Background(), modules, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := e.Kinds("declared"); !ok || !slices.Equal(got, []string{KindScaledJob}) {
		t.Errorf("declared reviews %v %v", got, ok)
	}
	for _, name := range []string{"by_input", "by_input_set", "not_names", "silent"} {
		if got, ok := e.Kinds(name); ok {
			t.Errorf("%s reviews only %v, want every kind", name, got)
		}
	}
	h := hpa("a", "web")
	hr, err := NewReview(context.Background(), OperationCreate, &h, nil)
	if err != nil {
		t.Fatal(err)
	}
	sj := gpuScaledJob(1, 0)
	sr, err := NewReview(context.Background(), OperationCreate, sj, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		r    Review
		want []string
	}{
		{hr, []string{"by_input", "by_input_set", "not_names", "silent"}},
		{sr, []string{"by_input", "by_input_set", "declared", "not_names", "silent"}},
	} {
		vs, err := e.Evaluate(context.Background(), c.r, Inventory{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range vs {
			if strings.HasSuffix(v.Message, ": always") {
				got = append(got, v.Policy)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: violations of %v, want %v", c.r.Kind, got, c.want)
		}
	}
}

// TestInputValue: the value the engine evaluates is Input's, converted.
func TestInputValue(t *testing.T) {
	ctx := context.Background()
	h := hpa("a", "web")
	so := scaledObject("so", "web")
	enabled := gpuDeployment(map[string]string{"mlscale.io/autoscale": "true", "mlscale.io/max-replicas": "3"})
	target, err := workload.FromObject(gpuDeployment(nil))
	if err != nil {
		t.Fatal(err)
	}
	full := Inventory{
		HPAs:           []autoscalingv2.HorizontalPodAutoscaler{hpa("b", "web")},
		ScaledObjects:  []kedav1alpha1.ScaledObject{scaledObject("so", "web")},
		ScaledJobs:     []kedav1alpha1.ScaledJob{*gpuScaledJob(2, 1)},
		ResourceQuotas: []corev1.ResourceQuota{gpuQuota("8")},
		Target:         &target,
	}
	for _, obj := range []client.Object{&h, &so, gpuScaledJob(3, 2), enabled} {
		r, err := NewReview(ctx, OperationUpdate, obj, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range []Inventory{{}, full} {
			in, err := Input(r, inv)
			if err != nil {
				t.Fatal(err)
			}
			want := ast.MustInterfaceToValue(in)
			got, err := inputValue(r, inv)
			if err != nil {
				t.Fatal(err)
			}
			if got.Compare(want) != 0 {
				t.Errorf("%s %s: inputValue =\n%v\nwant\n%v", r.Kind, obj.GetName(), got, want)
			}
		}
	}
}

// TestDeclaredKindsRefused: a reviewed_kinds that names a kind mlscale
// never reviews ("HPA"), or none at all, would turn the policy off without
// a word; and a package that reports through deny, not violation, would
// never report. Each is refused, naming the fix.
func TestDeclaredKindsRefused(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"package mlscale.policies.p\n\nreviewed_kinds := {\"HPA\", \"Job\"}\n\nviolation contains \"p: always\"\n",
			`policy p: reviewed_kinds names "HPA", a kind mlscale never reviews, so the policy would not run on it; allowed: Deployment, HorizontalPodAutoscaler, Job, ScaledJob, ScaledObject, StatefulSet`},
		{"package mlscale.policies.p\n\nreviewed_kinds := set()\n\nviolation contains \"p: always\"\n",
			"policy p: reviewed_kinds is empty, so the policy would never run"},
		{"package mlscale.policies.p\n\ndeny contains \"p: always\"\n",
			`package mlscale.policies.p defines "deny" but no "violation" rule, so it would never report; mlscale reads ` + "`violation contains msg if { ... }`: rename deny to violation"},
	} {
		modules, err := BuiltinModules()
		if err != nil {
			t.Fatal(err)
		}
		modules["p.rego"] = ast.MustParseModuleWithOpts(c.src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if _, err := NewFromModules(context.Background(), modules, Config{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error containing %q", c.src, err, c.want)
		}
	}
}
