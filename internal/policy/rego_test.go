package policy

import (
	"context"
	"io/fs"
	"testing"

	"github.com/open-policy-agent/opa/v1/format"

	"github.com/mlscale/mlscale/policies"
)

// TestRegoPolicies runs every _test.rego of the built-in policies, as
// `opa test policies/` would, and checks that each policy has tests.
func TestRegoPolicies(t *testing.T) {
	results, err := RunTests(context.Background(), policies.FS)
	if err != nil {
		t.Fatal(err)
	}
	perPolicy := map[string]int{}
	for _, r := range results {
		if !r.Passed {
			t.Errorf("Rego test %s.%s (%s) failed %s", r.Package, r.Name, r.Location, r.Err)
		}
		perPolicy[r.Policy()]++
	}
	e, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Policies()) < 7 {
		t.Errorf("built-in policies = %v, want the 7 of issue 4", e.Policies())
	}
	for _, name := range e.Policies() {
		if perPolicy[name] < 2 {
			t.Errorf("policy %s has %d Rego tests, want at least an allowed and a denied case", name, perPolicy[name])
		}
	}
	t.Logf("%d Rego tests, per policy %v", len(results), perPolicy)
}

// TestRegoFormatted checks that every built-in .rego file is as `opa fmt`
// writes it.
func TestRegoFormatted(t *testing.T) {
	n := 0
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		src, err := fs.ReadFile(policies.FS, p)
		if err != nil {
			return err
		}
		out, err := format.Source(p, src)
		if err != nil {
			return err
		}
		if string(out) != string(src) {
			t.Errorf("%s is not formatted as opa fmt would; it would be:\n%s", p, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 19 {
		t.Errorf("%d .rego files embedded, want 9 policies with tests and lib", n)
	}
}
