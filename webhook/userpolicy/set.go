// Package userpolicy loads user policies from ConfigMaps labelled
// mlscale.io/policy=true into the policy engine, next to the built-in
// policies. A ConfigMap's .rego keys are compiled together with the
// built-ins and its Rego tests (*_test.rego keys) must pass before it is
// activated; a ConfigMap that fails keeps its previous good version active,
// and never disables the built-in policies or other ConfigMaps.
package userpolicy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/mlscale/mlscale/internal/policy"
)

// Label marks the ConfigMaps that hold user policies; its value must be
// "true".
const Label = "mlscale.io/policy"

// Source is one ConfigMap's policies: its data keys ending in .rego.
type Source struct {
	// Namespace and Name identify the ConfigMap.
	Namespace, Name string
	// Version is the ConfigMap's resourceVersion; an unchanged version is
	// not checked again.
	Version string
	// Files are the ConfigMap's data, key to Rego source.
	Files map[string]string
}

// Key is "namespace/name".
func (s Source) Key() string { return s.Namespace + "/" + s.Name }

// Status is the outcome of loading one ConfigMap.
type Status struct {
	// Namespace and Name identify the ConfigMap.
	Namespace, Name string
	// Version is the ConfigMap version the status is about.
	Version string
	// Policies are the policies of the ConfigMap that are active (those of
	// an earlier good version when Err is set).
	Policies []string
	// Err says why this version was rejected; nil when it is active.
	Err error
	// ActiveVersion is the version in use: Version, an earlier good one,
	// or "" when none is.
	ActiveVersion string
	// Checked is true when Version was compiled and tested by this Update
	// (false: the verdict of an earlier Update on the same version).
	Checked bool
}

// loaded is a checked ConfigMap version.
type loaded struct {
	version  string
	modules  map[string]*ast.Module // without tests
	policies []string
}

// Set builds engines from the built-in policies and ConfigMaps, keeping
// each ConfigMap's last good version. It is not safe for concurrent use
// (one reconciler owns it).
type Set struct {
	builtin  map[string]*ast.Module
	packages map[string]bool // package paths of the built-ins
	cfg      policy.Config
	good     map[string]loaded
	// checked caches the verdict on a rejected version, so that it is not
	// compiled and tested again (and reported again) until it changes.
	rejected map[string]Status
}

// NewSet returns a Set over the built-in modules (tests excluded) and the
// configuration.
func NewSet(builtin map[string]*ast.Module, cfg policy.Config) *Set {
	pk := map[string]bool{}
	for _, m := range builtin {
		pk[m.Package.Path.String()] = true
	}
	return &Set{builtin: builtin, packages: pk, cfg: cfg, good: map[string]loaded{}, rejected: map[string]Status{}}
}

// Update loads the current ConfigMaps (all of them; those missing are
// dropped) and returns the engine of the built-ins and every good
// ConfigMap, with one status per source, sorted by key.
func (s *Set) Update(ctx context.Context, sources []Source) (*policy.Engine, []Status, error) {
	slices.SortFunc(sources, func(a, b Source) int { return strings.Compare(a.Key(), b.Key()) })
	present := map[string]bool{}
	var statuses []Status
	for _, src := range sources {
		key := src.Key()
		present[key] = true
		st := Status{Namespace: src.Namespace, Name: src.Name, Version: src.Version}
		if g, ok := s.good[key]; ok && g.version == src.Version {
			st.Policies, st.ActiveVersion = g.policies, g.version
			statuses = append(statuses, st)
			continue
		}
		if r, ok := s.rejected[key]; ok && r.Version == src.Version {
			statuses = append(statuses, r)
			continue
		}
		st.Checked = true
		l, err := s.check(ctx, src)
		if err == nil {
			// It must also compile with the other ConfigMaps.
			err = s.compiles(key, l)
		}
		if err != nil {
			st.Err = err
			if g, ok := s.good[key]; ok {
				st.Policies, st.ActiveVersion = g.policies, g.version
			}
			cached := st
			cached.Checked = false
			s.rejected[key] = cached
			statuses = append(statuses, st)
			continue
		}
		delete(s.rejected, key)
		s.good[key] = l
		st.Policies, st.ActiveVersion = l.policies, l.version
		statuses = append(statuses, st)
	}
	for key := range s.good {
		if !present[key] {
			delete(s.good, key)
		}
	}
	for key := range s.rejected {
		if !present[key] {
			delete(s.rejected, key)
		}
	}
	e, err := policy.NewFromModules(ctx, s.modules("", loaded{}), s.cfg)
	if err != nil {
		return nil, statuses, fmt.Errorf("building the policy engine: %w", err)
	}
	return e, statuses, nil
}

// modules returns the built-ins and every good ConfigMap, with extra in
// place of the good version of key.
func (s *Set) modules(key string, extra loaded) map[string]*ast.Module {
	all := maps.Clone(s.builtin)
	for k, g := range s.good {
		if k == key {
			continue
		}
		maps.Copy(all, g.modules)
	}
	maps.Copy(all, extra.modules)
	return all
}

// compiles checks that l compiles together with the built-ins and the
// other good ConfigMaps (e.g. no two ConfigMaps define one rule twice).
func (s *Set) compiles(key string, l loaded) error {
	c := ast.NewCompiler()
	if c.Compile(s.modules(key, l)); c.Failed() {
		return fmt.Errorf("does not compile together with the other policy ConfigMaps: %w", c.Errors)
	}
	return nil
}

// check parses, compiles and tests one ConfigMap's policies.
func (s *Set) check(ctx context.Context, src Source) (loaded, error) {
	l := loaded{version: src.Version, modules: map[string]*ast.Module{}}
	all := maps.Clone(s.builtin)
	tests := 0
	for _, key := range slices.Sorted(maps.Keys(src.Files)) {
		if !strings.HasSuffix(key, ".rego") {
			continue
		}
		file := fmt.Sprintf("configmap/%s/%s", src.Key(), key)
		m, err := ast.ParseModuleWithOpts(file, src.Files[key], ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return l, fmt.Errorf("parsing %s: %w", key, err)
		}
		pkg := m.Package.Path.String()
		if s.packages[pkg] {
			return l, fmt.Errorf("%s: package %s is a built-in mlscale package; user policies need their own (package %sNAME)", key, strings.TrimPrefix(pkg, "data."), policy.PackagePrefix)
		}
		all[file] = m
		if strings.HasSuffix(key, "_test.rego") {
			tests++
			continue
		}
		l.modules[file] = m
	}
	if len(all) == len(s.builtin) {
		return l, errors.New("has no .rego keys")
	}
	l.policies = policy.Names(l.modules)
	if len(l.policies) == 0 {
		return l, fmt.Errorf("defines no policy: a package %sNAME with a rule violation contains msg", policy.PackagePrefix)
	}
	if tests == 0 {
		return l, errors.New("has no tests: add a NAME_test.rego key with test_ rules; a user policy is activated only once its tests pass")
	}
	ch, err := tester.NewRunner().SetModules(all).RunTests(ctx, nil)
	if err != nil {
		return l, fmt.Errorf("compiling: %w", err)
	}
	var failed []string
	ran := 0
	for r := range ch {
		if r.Location == nil || !strings.HasPrefix(r.Location.File, "configmap/") {
			continue
		}
		ran++
		if !r.Pass() {
			what := strings.TrimPrefix(r.Package, "data.") + "." + r.Name
			if r.Error != nil {
				what += " (" + r.Error.Error() + ")"
			}
			failed = append(failed, what)
		}
	}
	if len(failed) > 0 {
		return l, fmt.Errorf("%d of %d tests failed: %s", len(failed), ran, strings.Join(failed, ", "))
	}
	if ran == 0 {
		return l, errors.New("has no tests: its _test.rego keys define no test_ rules")
	}
	return l, nil
}
