package policy

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego test rule.
type TestResult struct {
	// Package is the test's package without "data.", e.g.
	// "mlscale.policies.gpu_budget_test".
	Package string
	// Name is the test rule's name.
	Name string
	// Location is "file:line" of the rule.
	Location string
	// Passed is true when the test passed.
	Passed bool
	// Err is the evaluation error of a test that could not run, or "".
	Err string
	// Duration is how long the test took.
	Duration time.Duration
}

// Policy returns the name of the policy a test belongs to: NAME of a
// package mlscale.policies.NAME_test or mlscale.policies.NAME; "" for
// other packages.
func (r TestResult) Policy() string {
	name, ok := strings.CutPrefix(r.Package, PackagePrefix)
	if !ok || strings.Contains(name, ".") {
		return ""
	}
	return strings.TrimSuffix(name, "_test")
}

// RunTests runs every Rego test (rules named test_*) of the .rego files of
// fsys, as `opa test` does, and returns the results sorted by package and
// name. An error means the policies could not be loaded or compiled.
func RunTests(ctx context.Context, fsys fs.FS) ([]TestResult, error) {
	modules, err := ParseModules(fsys, true)
	if err != nil {
		return nil, err
	}
	return RunModuleTests(ctx, modules)
}

// RunModuleTests runs every Rego test (rules named test_*) of parsed
// modules, as RunTests does.
func RunModuleTests(ctx context.Context, modules map[string]*ast.Module) ([]TestResult, error) {
	store := inmem.NewFromObject(baseData(Config{}))
	ch, err := tester.NewRunner().SetModules(modules).SetStore(store).RunTests(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("compiling policy tests: %w", err)
	}
	var out []TestResult
	for r := range ch {
		tr := TestResult{
			Package:  strings.TrimPrefix(r.Package, "data."),
			Name:     r.Name,
			Passed:   r.Pass(),
			Duration: r.Duration,
		}
		if r.Location != nil {
			tr.Location = fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
		}
		if r.Error != nil {
			tr.Err = r.Error.Error()
		}
		out = append(out, tr)
	}
	slices.SortFunc(out, func(a, b TestResult) int {
		if c := strings.Compare(a.Package, b.Package); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}
