package policy

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// sampleReviews are the reviews of the built-in policies' samples (each
// document of policies/*/samples/**/*.yaml of a reviewed kind).
func sampleReviews(t *testing.T) map[string]Review {
	t.Helper()
	out := map[string]Review{}
	samples := os.DirFS("../../policies")
	err := fs.WalkDir(samples, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".yaml" || !strings.Contains(p, "/samples/") {
			return err
		}
		src, err := fs.ReadFile(samples, p)
		if err != nil {
			return err
		}
		for i, doc := range bytes.Split(src, []byte("\n---")) {
			raw, err := yaml.YAMLToJSON(doc)
			if err != nil {
				return err
			}
			var tm struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(raw, &tm); err != nil || tm.Kind == "" {
				continue
			}
			gv, err := schema.ParseGroupVersion(tm.APIVersion)
			if err != nil {
				return err
			}
			obj, err := Decode(gv.WithKind(tm.Kind), raw)
			if err != nil {
				continue // not reviewed: quotas, TriggerAuthentications
			}
			if obj.GetNamespace() == "" {
				obj.SetNamespace("ml")
			}
			r, err := NewReview(context.Background(), OperationCreate, obj, nil)
			if err != nil {
				continue // annotations that do not render
			}
			out[p+"#"+string(rune('0'+i))] = r
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("only %d sample reviews", len(out))
	}
	return out
}

// TestEvaluateTogether checks that evaluating a kind's policies in one
// query finds exactly what evaluating each policy alone finds, on every
// sample of the built-in policies (allowed and denied), with and without
// the endpoint allowlist.
func TestEvaluateTogether(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []Config{{}, {AllowedEndpoints: []string{"*.svc.cluster.local"}}} {
		e := newEngine(t, cfg)
		found := 0
		for name, r := range sampleReviews(t) {
			got, err := e.Evaluate(ctx, r, Inventory{})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			value, err := inputValue(r, Inventory{})
			if err != nil {
				t.Fatal(err)
			}
			var want []Violation
			for _, p := range e.policiesFor(r.Kind) {
				msgs, err := e.evalPolicy(ctx, p, r, value)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, m := range msgs {
					want = append(want, Violation{Policy: p.name, Message: m, Action: cfg.ActionFor(p.name)})
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: together %+v\nalone %+v", name, got, want)
			}
			found += len(got)
		}
		if found == 0 {
			t.Error("no sample has a violation: the comparison proves nothing")
		}
	}
}

// TestEvaluateTogetherErrors checks that a policy whose rule is not a set
// of strings is named in the error, as when each policy is evaluated
// alone, and that an undefined rule finds nothing.
func TestEvaluateTogetherErrors(t *testing.T) {
	ctx := context.Background()
	fsys := fstest.MapFS{
		"a.rego": {Data: []byte("package mlscale.policies.a\nviolation contains \"a\" if input.kind == \"ScaledObject\"\n")},
		"b.rego": {Data: []byte("package mlscale.policies.b\nviolation contains 1 if input.object.bad\n")},
		"c.rego": {Data: []byte("package mlscale.policies.c\nviolation := {\"c\"} if input.object.c\n")},
	}
	e, err := NewFromFS(ctx, fsys, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.together[KindScaledObject]; !ok {
		t.Fatal("no query of the ScaledObject policies together")
	}
	r := Review{Kind: KindScaledObject, Operation: OperationCreate, Object: map[string]any{"c": true}}
	got, err := e.Evaluate(ctx, r, Inventory{})
	if err != nil || len(got) != 2 || got[0].Message != "a" || got[1].Message != "c" {
		t.Fatalf("got %+v, %v", got, err)
	}
	r.Object = map[string]any{}
	if got, err = e.Evaluate(ctx, r, Inventory{}); err != nil || len(got) != 1 {
		t.Fatalf("undefined violation of c: got %+v, %v", got, err)
	}
	r.Object = map[string]any{"bad": true}
	if _, err := e.Evaluate(ctx, r, Inventory{}); err == nil || !strings.Contains(err.Error(), "policy b: violation has a number (1), want strings only") {
		t.Fatalf("err = %v", err)
	}
}
