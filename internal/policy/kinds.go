package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"

	"github.com/mlscale/mlscale/internal/workload"
)

// KindsRule is the rule by which a policy may declare the input kinds it
// reviews: a set (or array) of kind names, e.g.
//
//	reviewed_kinds := {"HorizontalPodAutoscaler"}
//
// that does not depend on input. The engine reads it once, when it
// compiles the policies, and evaluates the policy only on reviews of those
// kinds (input.kind); for every other kind the policy is taken to have no
// violations. A policy without the rule, or whose rule is not such a
// constant, is evaluated on every kind. The built-in policies are declared
// in builtinKinds instead.
const KindsRule = "reviewed_kinds"

// builtinKinds are the input kinds for which each built-in policy can have
// violations: those whose input can hold what it reviews (an HPA, or a
// KEDA object: the object itself, or the one mlscale renders for an
// opted-in workload). TestBuiltinKinds proves the table with OPA's partial
// evaluation: for every other kind, whatever the rest of the input, the
// inventory and the configuration, the policy has no violation. It applies
// only while the policy and the helper packages are the built-in ones.
var builtinKinds = map[string][]string{
	"cluster_trigger_authentication": kedaKinds(KindScaledObject, KindScaledJob),
	"gpu_budget":                     kedaKinds(KindScaledObject, KindScaledJob),
	"hpa_duplicate_target":           {KindHPA},
	"hpa_scaledobject_conflict":      {KindHPA},
	"scaledobject_duplicate_target":  kedaKinds(KindScaledObject),
	"scaledobject_foreign_hpa":       kedaKinds(KindScaledObject),
	"scaledobject_namespace":         kedaKinds(KindScaledObject, KindScaledJob),
	"trigger_credentials":            kedaKinds(KindScaledObject, KindScaledJob),
	"trigger_endpoints":              kedaKinds(KindScaledObject, KindScaledJob),
}

// kedaKinds is the KEDA kinds and the workload kinds (whose input holds
// the KEDA object mlscale renders for them).
func kedaKinds(kinds ...string) []string {
	return append(kinds, workload.KindNames()...)
}

// kindSet is the input kinds a policy reviews; nil means every kind.
type kindSet map[string]bool

// has reports whether a policy with the set reviews kind.
func (s kindSet) has(kind string) bool { return s == nil || s[kind] }

// sorted returns the kinds, sorted; nil for every kind.
func (s kindSet) sorted() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// policyKinds returns the kinds the named policy reviews: its KindsRule
// when it defines one, else builtinKinds when it and the helper packages
// are the built-in ones, else nil (every kind).
func policyKinds(ctx context.Context, compiler *ast.Compiler, store storage.Store, modules map[string]*ast.Module, name string) (kindSet, error) {
	if declares, readsInput := kindsRule(modules, name); declares {
		if readsInput {
			// Not a constant: evaluated without input it says nothing
			// (a partial set is empty), so every kind.
			return nil, nil
		}
		return declaredKinds(ctx, compiler, store, name)
	}
	if kinds, ok := builtinKinds[name]; ok && builtinUnchanged(modules, name) {
		s := kindSet{}
		for _, k := range kinds {
			s[k] = true
		}
		return s, nil
	}
	return nil, nil
}

// kindsRule reports whether the policy's package defines KindsRule, and
// whether that rule refers to input anywhere (head or body).
func kindsRule(modules map[string]*ast.Module, name string) (declares, readsInput bool) {
	for _, m := range modules {
		if n, ok := policyName(m.Package.Path); !ok || n != name {
			continue
		}
		for _, r := range m.Rules {
			if r.Head.Name.String() != KindsRule && r.Head.Ref().String() != KindsRule {
				continue
			}
			declares = true
			ast.WalkRefs(r, func(ref ast.Ref) bool {
				readsInput = readsInput || ref.HasPrefix(ast.InputRootRef)
				return readsInput
			})
		}
	}
	return declares, readsInput
}

// declaredKinds evaluates a policy's KindsRule without input. A value
// that is not a set or array of strings (or none: the rule depends on
// input) declares nothing: the policy reviews every kind.
func declaredKinds(ctx context.Context, compiler *ast.Compiler, store storage.Store, name string) (kindSet, error) {
	q := fmt.Sprintf("data.%s%s.%s", PackagePrefix, name, KindsRule)
	rs, err := rego.New(rego.Query(q), rego.Compiler(compiler), rego.Store(store)).Eval(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s of policy %s: %w", KindsRule, name, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, nil
	}
	list, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, nil
	}
	s := kindSet{}
	for _, v := range list {
		k, ok := v.(string)
		if !ok {
			return nil, nil
		}
		s[k] = true
	}
	// A kind mlscale never reviews (a typo, "HPA") would turn the policy
	// off without a word.
	kinds := ReviewedKindNames()
	for _, k := range s.sorted() {
		if !slices.Contains(kinds, k) {
			return nil, fmt.Errorf("policy %s: %s names %q, a kind mlscale never reviews, so the policy would not run on it; allowed: %s", name, KindsRule, k, strings.Join(kinds, ", "))
		}
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("policy %s: %s is empty, so the policy would never run; allowed: some of %s, or no %s rule (every kind)", name, KindsRule, strings.Join(kinds, ", "), KindsRule)
	}
	return s, nil
}

// ReviewedKindNames are the kinds of the objects mlscale's policies review
// (input.kind), sorted.
func ReviewedKindNames() []string {
	out := append([]string{KindHPA, KindScaledObject, KindScaledJob}, workload.KindNames()...)
	slices.Sort(out)
	return out
}

// builtinModules are the built-in modules (tests excluded), parsed once.
var builtinModules = sync.OnceValues(BuiltinModules)

// builtinReads are the documents the built-in policies read besides
// their own package.
var builtinReads = []string{"data.mlscale.lib", "data.config", "data.inventory", "data.workload_kinds", "data.gpu_resources"}

// builtinUnchanged reports whether the modules that can change what the
// named built-in policy finds (those of its package, and of any package
// that overlaps a document it reads: mlscale.lib, config, ...) are
// exactly the built-in ones, so that builtinKinds holds for it. Other
// packages (other policies, user helpers) do not matter.
func builtinUnchanged(modules map[string]*ast.Module, name string) bool {
	builtin, err := builtinModules()
	if err != nil {
		return false
	}
	paths := []ast.Ref{ast.MustParseRef("data." + PackagePrefix + name)}
	for _, p := range builtinReads {
		paths = append(paths, ast.MustParseRef(p))
	}
	relevant := func(m *ast.Module) bool {
		return slices.ContainsFunc(paths, func(p ast.Ref) bool {
			return m.Package.Path.HasPrefix(p) || p.HasPrefix(m.Package.Path)
		})
	}
	var want, got []*ast.Module
	for _, m := range builtin {
		if relevant(m) {
			want = append(want, m)
		}
	}
	for _, m := range modules {
		if relevant(m) {
			got = append(got, m)
		}
	}
	if len(got) != len(want) {
		return false
	}
	for _, m := range got {
		if !slices.ContainsFunc(want, m.Equal) {
			return false
		}
	}
	return true
}
