package userpolicy

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mlscale/mlscale/internal/policy"
)

const rule = `package mlscale.policies.team_label

violation contains "team_label: no team" if {
	input.kind == "HorizontalPodAutoscaler"
	not input.object.metadata.labels.team
}
`

const ruleTest = `package mlscale.policies.team_label_test

import data.mlscale.policies.team_label

test_denied if {
	count(team_label.violation) == 1 with input as {"kind": "HorizontalPodAutoscaler", "object": {"metadata": {"name": "x"}}}
}
`

const failing = `package mlscale.policies.team_label_test

import data.mlscale.policies.team_label

test_wrong if {
	count(team_label.violation) == 0 with input as {"kind": "HorizontalPodAutoscaler", "object": {"metadata": {"name": "x"}}}
}
`

func src(name, version string, files ...string) Source {
	s := Source{Namespace: "mlscale-system", Name: name, Version: version, Files: map[string]string{}}
	for i := 0; i+1 < len(files); i += 2 {
		s.Files[files[i]] = files[i+1]
	}
	return s
}

// denies reports whether the engine's team_label policy denies an HPA
// without a team label.
func denies(t *testing.T, e *policy.Engine) bool {
	t.Helper()
	vs, err := e.Evaluate(context.Background(), policy.Review{
		Kind: policy.KindHPA, Operation: policy.OperationCreate, Namespace: "ml",
		Object: map[string]any{"kind": policy.KindHPA, "metadata": map[string]any{"name": "x"}, "spec": map[string]any{}},
	}, policy.Inventory{})
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(vs, func(v policy.Violation) bool { return v.Policy == "team_label" })
}

func newSet(t *testing.T) *Set {
	t.Helper()
	mods, err := policy.BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	return NewSet(mods, policy.Config{})
}

func TestCheckRejects(t *testing.T) {
	tests := []struct {
		name string
		src  Source
		err  string
	}{
		{"syntax error", src("a", "1", "p.rego", "package mlscale.policies.x\nviolation contains msg if {", "p_test.rego", ruleTest), "parsing p.rego"},
		{"failing test", src("a", "1", "p.rego", rule, "p_test.rego", failing), "1 of 1 tests failed: mlscale.policies.team_label_test.test_wrong"},
		{"no tests", src("a", "1", "p.rego", rule), "has no tests"},
		{"no rego keys", src("a", "1", "README", "x"), "has no .rego keys"},
		{"no policy", src("a", "1", "p.rego", "package mlscale.helpers\nx := 1\n", "p_test.rego", ruleTest), "defines no policy"},
		{"built-in package", src("a", "1", "p.rego", strings.Replace(rule, "team_label", "gpu_budget", 1), "p_test.rego", ruleTest), "package mlscale.policies.gpu_budget is a built-in mlscale package"},
		{"built-in lib", src("a", "1", "p.rego", rule, "lib.rego", "package mlscale.lib\nx := 1\n", "p_test.rego", ruleTest), "package mlscale.lib is a built-in"},
		{"compile error", src("a", "1", "p.rego", rule+"\nbad if { undefined_fn(1) }\n", "p_test.rego", ruleTest), "undefined_fn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSet(t)
			e, st, err := s.Update(context.Background(), []Source{tt.src})
			if err != nil {
				t.Fatal(err)
			}
			if len(st) != 1 || st[0].Err == nil || !strings.Contains(st[0].Err.Error(), tt.err) {
				t.Fatalf("status = %+v, want an error containing %q", st, tt.err)
			}
			if st[0].ActiveVersion != "" || !st[0].Checked {
				t.Errorf("status = %+v, want checked and nothing active", st[0])
			}
			if len(e.Policies()) != builtinCount(t) {
				t.Errorf("the built-ins must stay: %v", e.Policies())
			}
		})
	}
}

func TestUpdateLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newSet(t)

	// A good ConfigMap activates its policy.
	e, st, err := s.Update(ctx, []Source{src("team", "1", "team.rego", rule, "team_test.rego", ruleTest)})
	if err != nil || st[0].Err != nil || st[0].ActiveVersion != "1" || !slices.Equal(st[0].Policies, []string{"team_label"}) {
		t.Fatalf("good ConfigMap: %+v, %v", st, err)
	}
	if !denies(t, e) || !slices.Contains(e.Policies(), "gpu_budget") {
		t.Fatalf("engine policies %v: team_label must deny next to the built-ins", e.Policies())
	}

	// The same version again is not re-checked.
	_, st, _ = s.Update(ctx, []Source{src("team", "1", "team.rego", rule, "team_test.rego", ruleTest)})
	if st[0].Checked {
		t.Error("an unchanged version was checked again")
	}

	// A broken version keeps version 1 active.
	broken := src("team", "2", "team.rego", "package mlscale.policies.team_label\nviolation contains msg if {", "team_test.rego", ruleTest)
	e, st, err = s.Update(ctx, []Source{broken})
	if err != nil || st[0].Err == nil || st[0].ActiveVersion != "1" || !st[0].Checked {
		t.Fatalf("broken update: %+v, %v", st, err)
	}
	if !denies(t, e) {
		t.Error("after a broken update, the previous version must still deny")
	}
	// ... and is reported once.
	_, st, _ = s.Update(ctx, []Source{broken})
	if st[0].Err == nil || st[0].Checked {
		t.Errorf("the rejected version again: %+v", st[0])
	}

	// A second ConfigMap that redefines the first one's policy with a
	// conflicting rule does not compile together with it.
	clash := src("clash", "1", "c.rego", "package mlscale.policies.team_label\n\nviolation := 1\n", "c_test.rego", "package mlscale.policies.clash_test\n\ntest_x if { true }\n")
	e, st, err = s.Update(ctx, []Source{broken, clash})
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Name != "clash" || st[0].Err == nil {
		t.Errorf("clashing ConfigMap: %+v", st[0])
	}
	if !denies(t, e) {
		t.Error("the clash must not disable the good one")
	}

	// Deleting the ConfigMap removes its policy.
	e, st, err = s.Update(ctx, nil)
	if err != nil || len(st) != 0 {
		t.Fatalf("no ConfigMaps: %+v, %v", st, err)
	}
	if denies(t, e) || len(e.Policies()) != builtinCount(t) {
		t.Errorf("after deletion: policies %v", e.Policies())
	}
}

func TestUpdateAppliesConfig(t *testing.T) {
	mods, err := policy.BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	s := NewSet(mods, policy.Config{Actions: map[string]policy.Action{"team_label": policy.ActionWarn}})
	e, _, err := s.Update(context.Background(), []Source{src("team", "1", "team.rego", rule, "team_test.rego", ruleTest)})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Config().ActionFor("team_label"); got != policy.ActionWarn {
		t.Errorf("action of the user policy = %s, want warn", got)
	}
}

// builtinCount is the number of built-in policies, read from the embedded
// policies so that adding one does not break these tests.
func builtinCount(t *testing.T) int {
	t.Helper()
	e, err := policy.New(t.Context(), policy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return len(e.Policies())
}
