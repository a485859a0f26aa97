package vap

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/policy"
)

// annotationValues are values tried for every checked key: valid and
// invalid for each kind, boundaries, and values CEL leaves to the webhook.
var annotationValues = []string{
	"", " ", "\t", "true", "false", "True", "yes", " true", "x", "-",
	"generic", "vllm", "celery-worker", "training-job", "VLLM", "gradual", "immediate", " gradual",
	"0", "1", "-1", "+1", "-0", "00", "007", " 5 ", "5.0", "1e3", "100", "101", "10000", "10001",
	"2147483647", "2147483648", "9223372036854775807", "9223372036854775808", "99999999999999999999999",
	"0x10", "1_000", "٣",
	"0.0", "-0.0", ".5", "5.", ".", "1e", "1e+2", "1E-2", "+.5e-3", "--5", "+-5", "Inf", "NaN", "1e400", "-1e400", "1e-400", "-1e-400",
	"0s", "0", "1s", "30s", "1m", "1h", "24h", "24h1s", "25h", "1h0m1s", "60m", "61m", "59m59s", "1.5s", "1.5m", "500ms", "1000ms",
	"-1s", "+1s", "1", "1d", "1 h", "1µs", "1000000μs", "1us", "h", ".s", "1.s", "9999999999h", "2562048h", "3600s", "3601s", "86400s", "86401s",
	"2%", "0.5%", "50%", "50.0001%", "51%", "0%", "-1%", "2", "2 %", " 2% ", "%", "2%%", "1e1%", "1e-400%", "1e400%",
	`"quoted"`, `back\slash`, "ünïcode", strings.Repeat("7", 130), strings.Repeat("a", 121),
}

// checkedErrors are the parser's messages for the checked keys.
func checkedErrors(t testing.TB, ann map[string]string) []string {
	t.Helper()
	_, _, err := intent.Parse(ann)
	if err == nil {
		return []string{}
	}
	var es intent.Errors
	if !errors.As(err, &es) {
		t.Fatalf("%v: %v is not intent.Errors", ann, err)
	}
	keys := AnnotationKeys()
	out := []string{}
	for _, e := range es {
		// The rules across keys, other than min <= max, are the webhook's.
		crossKey := strings.HasPrefix(e.Problem, "is required") || strings.HasPrefix(e.Problem, "contradicts") || strings.HasPrefix(e.Problem, "holds no replicas")
		if slices.Contains(keys, e.Key) && !crossKey {
			out = append(out, e.Error())
		}
	}
	return out
}

// annotationsPrograms compiles the policy's match condition, violations and
// message.
func annotationsPrograms(t testing.TB) (match, violations, message cel.Program) {
	t.Helper()
	d, err := annotationsDefinition()
	if err != nil {
		t.Fatal(err)
	}
	env := celEnv(t)
	if len(d.conditions) != 1 || d.variables[1].Name != "violations" {
		t.Fatal("the annotations policy changed shape")
	}
	return program(t, env, d.conditions[0].Expression), program(t, env, d.variables[1].Expression), program(t, env, d.message)
}

// celViolations evaluates the policy on a Deployment with ann: nil when
// it does not match.
func celViolations(t testing.TB, match, violations cel.Program, ann map[string]string) []string {
	t.Helper()
	obj := map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": "ml", "annotations": ann}}
	m, _, err := match.Eval(map[string]any{"object": obj})
	if err != nil {
		t.Fatalf("%q: the match condition: %v", ann, err)
	}
	if m.Value() != true {
		return nil
	}
	out, _, err := violations.Eval(map[string]any{"object": obj, "variables": map[string]any{"annotations": ann}})
	if err != nil {
		t.Fatalf("%q: evaluating: %v", ann, err)
	}
	return messages(t, out)
}

// printableASCII reports whether the parser's %q of s is the CEL's quoting.
func printableASCII(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r > '~' })
}

// leftToWebhook reports whether CEL may leave the value of key to the
// webhook: a number or duration whose value CEL does not read, to avoid
// overflow.
func leftToWebhook(key, v string) bool {
	i := slices.IndexFunc(annotationChecks, func(c annotationCheck) bool { return c.key == key })
	if i < 0 {
		return true
	}
	s := strings.TrimSpace(v)
	switch annotationChecks[i].kind {
	case checkFloat, checkPercent:
		return len([]rune(s)) > 40 || regexp.MustCompile(`[eE][+-]?[0-9]{3}`).MatchString(s)
	case checkDuration:
		return len([]rune(s)) > 10 || regexp.MustCompile(`[0-9]{7}`).MatchString(s)
	}
	return false
}

// compareAnnotations checks one annotation set: the CEL refuses only what
// the parser refuses, with its message; and all of it unless a value is
// left to the webhook.
func compareAnnotations(t *testing.T, match, violations cel.Program, ann map[string]string) {
	t.Helper()
	want := checkedErrors(t, ann)
	got := celViolations(t, match, violations, ann)
	if got == nil {
		got = []string{}
	}
	exact := true
	for k, v := range ann {
		if !printableASCII(v) || len(v) > intent.MaxShownValue {
			exact = false
		}
		if leftToWebhook(k, v) {
			exact = false
		}
	}
	if exact {
		if !slices.Equal(got, want) {
			t.Errorf("%q:\nCEL:    %q\nparser: %q", ann, got, want)
		}
		return
	}
	// Every CEL message's key is refused by the parser too.
	for _, g := range got {
		key, _, _ := strings.Cut(g, ": ")
		if !slices.ContainsFunc(want, func(w string) bool { return strings.HasPrefix(w, key+": ") }) {
			t.Errorf("%q: CEL refuses %q, the parser does not refuse %s: %q", ann, g, key, want)
		}
	}
	if len(got) > len(want) {
		t.Errorf("%q: CEL %q, parser %q", ann, got, want)
	}
}

// TestAnnotationsMatchParser: every checked key with every value, through
// the parser and the CEL.
func TestAnnotationsMatchParser(t *testing.T) {
	match, violations, _ := annotationsPrograms(t)
	for _, key := range AnnotationKeys() {
		for _, v := range annotationValues {
			ann := map[string]string{intent.KeyAutoscale: "true", key: v}
			if key == intent.KeyAutoscale {
				ann = map[string]string{key: v}
			}
			compareAnnotations(t, match, violations, ann)
		}
	}
	// min <= max, and several problems at once.
	for _, ann := range []map[string]string{
		{intent.KeyAutoscale: "true", intent.KeyMinReplicas: "5", intent.KeyMaxReplicas: "4"},
		{intent.KeyAutoscale: "true", intent.KeyMinReplicas: "4", intent.KeyMaxReplicas: "4"},
		{intent.KeyAutoscale: "true", intent.KeyMinReplicas: " 05", intent.KeyMaxReplicas: "+4"},
		{intent.KeyAutoscale: "true", intent.KeyMinReplicas: "5", intent.KeyMaxReplicas: "0"},
		{intent.KeyAutoscale: "true", intent.KeyMinReplicas: "x", intent.KeyMaxReplicas: "4"},
		{intent.KeyAutoscale: "yes", intent.KeyMinReplicas: "x", intent.KeyCooldown: "5", intent.KeyTargetUnder: "2"},
		{intent.KeyAutoscale: "false", intent.KeyMinReplicas: "x"},
		{intent.KeyMinReplicas: "x"},
		{intent.KeyAutoscale: "true", intent.KeyPredictive: "true", intent.KeyDemandQuery: "up", intent.KeyCapacityPerReplica: "0", intent.KeyLookahead: "30s"},
	} {
		compareAnnotations(t, match, violations, ann)
	}
}

// TestAnnotationsRandom compares random values made of the characters
// the parsers read.
func TestAnnotationsRandom(t *testing.T) {
	match, violations, _ := annotationsPrograms(t)
	const alphabet = "0123456789+-.eE%smhnuµ _xtrue"
	r := rand.New(rand.NewPCG(1, 2))
	alpha := []rune(alphabet)
	keys := AnnotationKeys()
	for range 20000 {
		n := r.IntN(8)
		b := make([]rune, n)
		for i := range b {
			b[i] = alpha[r.IntN(len(alpha))]
		}
		key := keys[r.IntN(len(keys))]
		ann := map[string]string{intent.KeyAutoscale: "true", key: string(b)}
		if key == intent.KeyAutoscale {
			ann = map[string]string{key: string(b)}
		}
		compareAnnotations(t, match, violations, ann)
	}
}

// TestAnnotationsMessage: the message is the webhook's.
func TestAnnotationsMessage(t *testing.T) {
	_, _, message := annotationsPrograms(t)
	for _, c := range []struct {
		violations []string
		want       string
	}{
		{[]string{"a"}, "mlscale: Deployment ml/web: a"},
		{[]string{"a", "b"}, "mlscale: Deployment ml/web: 2 problems: a; b"},
	} {
		obj := map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": "ml"}}
		out, _, err := message.Eval(map[string]any{"object": obj, "variables": map[string]any{"violations": c.violations}})
		if err != nil {
			t.Fatal(err)
		}
		if out.Value() != c.want {
			t.Errorf("%q: %q, want %q", c.violations, out.Value(), c.want)
		}
	}
}

// TestAnnotationsPolicyObject: the generated objects' shape.
func TestAnnotationsPolicyObject(t *testing.T) {
	objs, err := Generate(policy.Config{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2*len(Policies())+2 {
		t.Fatalf("%d objects, want %d", len(objs), 2*len(Policies())+2)
	}
	p := objs[len(objs)-2].(*admissionregistrationv1.ValidatingAdmissionPolicy)
	b := objs[len(objs)-1].(*admissionregistrationv1.ValidatingAdmissionPolicyBinding)
	if p.Name != "mlscale-annotations" || b.Spec.PolicyName != p.Name || p.Annotations[PolicyAnnotation] != AnnotationsPolicy {
		t.Errorf("names: %s, %s, %v", p.Name, b.Spec.PolicyName, p.Annotations)
	}
	if *p.Spec.FailurePolicy != admissionregistrationv1.Ignore || !slices.Equal(b.Spec.ValidationActions, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}) {
		t.Errorf("failurePolicy %s, actions %v", *p.Spec.FailurePolicy, b.Spec.ValidationActions)
	}
	sel := p.Spec.MatchConstraints.NamespaceSelector
	if sel == nil || len(sel.MatchExpressions) != 1 || sel.MatchExpressions[0].Key != OptInLabel {
		t.Errorf("namespace selector %+v", sel)
	}
	var res []string
	for _, r := range p.Spec.MatchConstraints.ResourceRules {
		for _, x := range r.Resources {
			res = append(res, r.APIGroups[0]+"/"+r.APIVersions[0]+"/"+x)
		}
		if !slices.Equal(r.Operations, []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}) {
			t.Errorf("operations %v", r.Operations)
		}
	}
	if !slices.Equal(res, []string{"apps/v1/deployments", "apps/v1/statefulsets", "batch/v1/jobs"}) {
		t.Errorf("resources %v", res)
	}
	if slices.Contains(Policies(), AnnotationsPolicy) {
		t.Error("the annotations policy is listed among the Rego policies")
	}
}
