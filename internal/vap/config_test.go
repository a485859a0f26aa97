package vap

import (
	"encoding/json"
	"slices"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/mlscale/mlscale/internal/policy"
)

// TestBindingActions: a partial policy's binding does not warn (the
// webhook, which keeps evaluating the whole policy, warns), so that a warn
// violation is reported once; deny and audit map as for every policy.
func TestBindingActions(t *testing.T) {
	deny := []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}
	warn := []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn}
	audit := []admissionregistrationv1.ValidationAction{admissionregistrationv1.Audit}
	partial := 0
	for _, name := range Policies() {
		for _, c := range []struct {
			action policy.Action
			want   []admissionregistrationv1.ValidationAction
		}{
			{policy.ActionDeny, deny},
			{"", deny},
			{policy.ActionAudit, audit},
			{policy.ActionWarn, warn},
		} {
			want := c.want
			if Partial(name) && c.action == policy.ActionWarn {
				want = audit
			}
			got, err := BindingActions(name, c.action)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("%s, %q: %v (%v), want %v", name, c.action, got, err, want)
			}
		}
		if Partial(name) {
			partial++
		}
	}
	if !Partial("gpu_budget") || !Partial("trigger_endpoints") || partial != 2 {
		t.Errorf("%d partial policies, want gpu_budget and trigger_endpoints", partial)
	}
	if _, err := BindingActions("gpu_budget", "block"); err == nil {
		t.Error("a bad action was mapped")
	}

	// Generate applies it: with every policy on warn, the partial ones'
	// bindings audit and the others warn.
	objs, err := Generate(policy.Config{DefaultAction: policy.ActionWarn}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		b, ok := o.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding)
		if !ok {
			continue
		}
		name := b.Annotations[PolicyAnnotation]
		want := warn
		if Partial(name) {
			want = audit
		}
		if !slices.Equal(b.Spec.ValidationActions, want) {
			t.Errorf("%s: validationActions %v, want %v", name, b.Spec.ValidationActions, want)
		}
	}
}

// TestConfigVariables: the configuration's variables are JSON, as the Helm
// chart's toJson writes them (test/helm compares the two renders), and
// the defaults when nothing is configured.
func TestConfigVariables(t *testing.T) {
	cfg := policy.Config{
		GPUBudgets:       map[string]int64{"team-a": 0, "ml": 8},
		DefaultGPUBudget: ptr(int64(4)),
		AllowedEndpoints: []string{"*.monitoring.svc", "Kafka-?.ml.svc", "**.internal"},
	}
	regex := `^(?:[^.]*\.monitoring\.svc|kafka-[^.]\.ml\.svc|(?s:.*)\.internal)$`
	regexJSON, _ := json.Marshal(regex)
	for _, c := range []struct {
		name string
		cfg  policy.Config
		want map[string]string
	}{
		{"configured", cfg, map[string]string{
			"gpuBudgets":       `{"ml":8,"team-a":0}`,
			"defaultGPUBudget": "4",
			"allowedEndpoints": `["*.monitoring.svc","Kafka-?.ml.svc","**.internal"]`,
			"allowedHosts":     string(regexJSON),
		}},
		{"defaults", policy.Config{}, map[string]string{
			"gpuBudgets":       `{}`,
			"defaultGPUBudget": "-1",
			"allowedEndpoints": `[]`,
			"allowedHosts":     `"^[^\\s\\S]$"`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs, err := Generate(c.cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, o := range objs {
				if p, ok := o.(*admissionregistrationv1.ValidatingAdmissionPolicy); ok {
					for _, v := range p.Spec.Variables {
						if _, ok := c.want[v.Name]; ok {
							got[v.Name] = v.Expression
						}
					}
				}
			}
			for k, w := range c.want {
				if got[k] != w {
					t.Errorf("variable %s: %s, want %s", k, got[k], w)
				}
			}
		})
	}
	if _, err := Generate(policy.Config{AllowedEndpoints: []string{"{a,b}.svc"}}, Options{}); err == nil {
		t.Error("a pattern outside EndpointPatternSyntax was generated")
	}
}
