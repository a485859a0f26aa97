package helm

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mlscale/mlscale/internal/cli"
	"github.com/mlscale/mlscale/internal/vap"
)

// TestAPIServerPolicies: the chart's ValidatingAdmissionPolicies and
// bindings are what `mlscale policy vap` prints for the same
// configuration (labels aside): by default, and with actions and
// namespaces set through the values; the webhook then runs with
// --api-server-policies. apiServerPolicies.enabled=false renders neither.
func TestAPIServerPolicies(t *testing.T) {
	cases := []struct {
		name string
		args []string
		cli  []string
	}{
		{name: "defaults"},
		{
			name: "actions and namespaces",
			args: []string{
				"--set", "policies.config.defaultAction=warn", "--set", "policies.config.actions.trigger_credentials=deny",
				"--set", "policies.config.actions.hpa_scaledobject_conflict=audit",
				"--set", "namespaceSelector.excludeNamespaces={monitoring}", "--set", "namespaceSelector.namespaces={ml,team-a}",
			},
			cli: []string{"--exclude-namespace", "monitoring", "--only-namespace", "ml", "--only-namespace", "team-a"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := template(t, c.args...)
			args := append([]string{"policy", "vap", "--namespace", releaseNamespace}, c.cli...)
			if c.name != "defaults" {
				// The configuration the values above set.
				f := filepath.Join(t.TempDir(), "policy.yaml")
				if err := os.WriteFile(f, []byte("defaultAction: warn\nactions: {trigger_credentials: deny, hpa_scaledobject_conflict: audit}\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--policy-config", f)
			}
			want := printed(t, args)
			got := append(r.all("ValidatingAdmissionPolicy"), r.all("ValidatingAdmissionPolicyBinding")...)
			// Each policy's, and the annotations policy's (vap.AnnotationsPolicy).
			if len(got) != 2*(len(vap.Policies())+1) || len(got) != len(want) {
				t.Fatalf("rendered %d policies and bindings, mlscale policy vap prints %d; want %d", len(got), len(want), 2*(len(vap.Policies())+1))
			}
			for _, w := range want {
				g := r.get(w.GetKind(), w.GetName())
				if g == nil {
					t.Errorf("the chart renders no %s %s", w.GetKind(), w.GetName())
					continue
				}
				g = g.DeepCopy()
				g.SetLabels(nil)
				if !reflect.DeepEqual(g.Object, w.Object) {
					t.Errorf("%s %s differs:\nchart: %v\nmlscale policy vap: %v", w.GetKind(), w.GetName(), g.Object, w.Object)
				}
			}
			if !hasArg(t, r, "--api-server-policies") {
				t.Error("the webhook does not run with --api-server-policies")
			}
		})
	}
	t.Run("disabled", func(t *testing.T) {
		r := template(t, "--set", "apiServerPolicies.enabled=false")
		if n := len(r.all("ValidatingAdmissionPolicy")) + len(r.all("ValidatingAdmissionPolicyBinding")); n > 0 {
			t.Errorf("%d policies and bindings rendered although disabled", n)
		}
		if hasArg(t, r, "--api-server-policies") {
			t.Error("the webhook leaves policies to the API server although none are installed")
		}
	})
	t.Run("bad action", func(t *testing.T) {
		_, err := runHelm(t, "", "template", releaseName, "charts/mlscale", "--namespace", releaseNamespace, "--set", "policies.config.defaultAction=block")
		if err == nil {
			t.Error("defaultAction=block rendered")
		}
	})
}

// printed runs `mlscale policy vap` with args and decodes its objects.
func printed(t *testing.T, args []string) []*unstructured.Unstructured {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := cli.Run(context.Background(), args, cli.Streams{In: &bytes.Buffer{}, Out: &out, Err: &errOut}); code != cli.ExitOK {
		t.Fatalf("mlscale %v: exit %d: %s", args, code, errOut.String())
	}
	return decodeObjects(t, out.String())
}

// hasArg reports whether the webhook container runs with arg.
func hasArg(t *testing.T, r rendered, arg string) bool {
	t.Helper()
	for _, d := range r.all("Deployment") {
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			c := c.(map[string]any)
			if c["name"] != "webhook" {
				continue
			}
			args, _ := c["args"].([]any)
			for _, a := range args {
				if a == arg {
					return true
				}
			}
		}
	}
	return false
}

// TestAPIServerPoliciesOptInLabel checks that the annotations policy
// selects the namespaces of the chart's opt-in label, as the workload
// webhooks do, and every namespace without one.
func TestAPIServerPoliciesOptInLabel(t *testing.T) {
	for _, c := range []struct {
		label string
		want  []any // the policy's namespaceSelector.matchExpressions; nil: no selector
	}{
		{"mlscale.io/enabled", []any{map[string]any{"key": "mlscale.io/enabled", "operator": "In", "values": []any{"true"}}}},
		{"team.example.com/mlscale", []any{map[string]any{"key": "team.example.com/mlscale", "operator": "In", "values": []any{"true"}}}},
		{"", nil},
	} {
		r := template(t, "--set", "namespaceSelector.optInLabel="+c.label)
		var p *unstructured.Unstructured
		for _, o := range r.all("ValidatingAdmissionPolicy") {
			if o.GetAnnotations()["mlscale.io/policy"] == "annotations" {
				p = o
			}
		}
		if p == nil {
			t.Fatalf("label %q: no annotations policy", c.label)
		}
		got, found, err := unstructured.NestedSlice(p.Object, "spec", "matchConstraints", "namespaceSelector", "matchExpressions")
		if err != nil || found != (c.want != nil) || !reflect.DeepEqual(got, c.want) {
			t.Errorf("label %q: namespaceSelector.matchExpressions %v (found %v, %v), want %v", c.label, got, found, err, c.want)
		}
	}
}
