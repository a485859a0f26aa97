package policy

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func hpa(name, target string) autoscalingv2.HorizontalPodAutoscaler {
	return autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ml"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target},
			MaxReplicas:    10,
		},
	}
}

func scaledObject(name, target string) kedav1alpha1.ScaledObject {
	return kedav1alpha1.ScaledObject{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ml"},
		Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef:  &kedav1alpha1.ScaleTarget{Name: target},
			MaxReplicaCount: ptr.To[int32](10),
			Triggers:        []kedav1alpha1.ScaleTriggers{{Type: "cpu", Metadata: map[string]string{"value": "80"}}},
		},
	}
}

func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEvaluate(t *testing.T) {
	kedaOwned := hpa("keda-hpa-web", "web")
	kedaOwned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "keda.sh/v1alpha1", Kind: "ScaledObject", Name: "web"}}
	so := scaledObject("web", "web")
	withPassword := scaledObject("worker", "worker")
	withPassword.Spec.Triggers = []kedav1alpha1.ScaleTriggers{{Type: "rabbitmq", Metadata: map[string]string{"host": "amqp://u:p@rabbit:5672", "queueName": "q"}}}

	tests := []struct {
		name   string
		cfg    Config
		review func(t *testing.T) Review
		inv    Inventory
		want   []Violation // compared by policy, action and message prefix
	}{
		{
			name: "HPA on a workload a ScaledObject scales is denied",
			review: func(t *testing.T) Review {
				h := hpa("web-hpa", "web")
				return mustReview(t)(NewReview(context.Background(), OperationCreate, &h, nil))
			},
			inv:  Inventory{ScaledObjects: []kedav1alpha1.ScaledObject{so}},
			want: []Violation{{Policy: "hpa_scaledobject_conflict", Action: ActionDeny, Message: "hpa_scaledobject_conflict: HorizontalPodAutoscaler ml/web-hpa targets Deployment ml/web, which ScaledObject ml/web already scales"}},
		},
		{
			name: "KEDA's own HPA is allowed",
			review: func(t *testing.T) Review {
				return mustReview(t)(NewReview(context.Background(), OperationCreate, &kedaOwned, nil))
			},
			inv: Inventory{ScaledObjects: []kedav1alpha1.ScaledObject{so}},
		},
		{
			name: "warn action",
			cfg:  Config{Actions: map[string]Action{"hpa_scaledobject_conflict": ActionWarn}},
			review: func(t *testing.T) Review {
				h := hpa("web-hpa", "web")
				return mustReview(t)(NewReview(context.Background(), OperationCreate, &h, nil))
			},
			inv:  Inventory{ScaledObjects: []kedav1alpha1.ScaledObject{so}},
			want: []Violation{{Policy: "hpa_scaledobject_conflict", Action: ActionWarn, Message: "hpa_scaledobject_conflict: "}},
		},
		{
			name: "default action audit, two policies",
			cfg:  Config{DefaultAction: ActionAudit},
			review: func(t *testing.T) Review {
				h := hpa("web-hpa", "web")
				return mustReview(t)(NewReview(context.Background(), OperationCreate, &h, nil))
			},
			inv: Inventory{ScaledObjects: []kedav1alpha1.ScaledObject{so}, HPAs: []autoscalingv2.HorizontalPodAutoscaler{kedaOwned}},
			want: []Violation{
				{Policy: "hpa_duplicate_target", Action: ActionAudit, Message: "hpa_duplicate_target: HorizontalPodAutoscaler ml/web-hpa targets Deployment ml/web, which HorizontalPodAutoscaler ml/keda-hpa-web already scales"},
				{Policy: "hpa_scaledobject_conflict", Action: ActionAudit, Message: "hpa_scaledobject_conflict: "},
			},
		},
		{
			name: "ScaledObject on a foreign HPA's target",
			review: func(t *testing.T) Review {
				s := scaledObject("web", "web")
				return mustReview(t)(NewReview(context.Background(), OperationCreate, &s, nil))
			},
			inv:  Inventory{HPAs: []autoscalingv2.HorizontalPodAutoscaler{hpa("web-hpa", "web")}},
			want: []Violation{{Policy: "scaledobject_foreign_hpa", Action: ActionDeny, Message: "scaledobject_foreign_hpa: ScaledObject ml/web would scale Deployment ml/web"}},
		},
		{
			name: "credentials and endpoint allowlist",
			cfg:  Config{AllowedEndpoints: []string{"rabbitmq.*.svc.cluster.local"}},
			review: func(t *testing.T) Review {
				return mustReview(t)(NewReview(context.Background(), OperationCreate, &withPassword, nil))
			},
			want: []Violation{
				{Policy: "trigger_credentials", Action: ActionDeny, Message: "trigger_credentials: ScaledObject ml/worker has a password in the URL"},
				{Policy: "trigger_endpoints", Action: ActionDeny, Message: "trigger_endpoints: ScaledObject ml/worker makes KEDA call rabbit "},
			},
		},
		{
			name: "ScaledJob over the GPU quota",
			review: func(t *testing.T) Review {
				return mustReview(t)(NewReview(context.Background(), OperationCreate, gpuScaledJob(4, 2), nil))
			},
			inv:  Inventory{ResourceQuotas: []corev1.ResourceQuota{gpuQuota("6")}},
			want: []Violation{{Policy: "gpu_budget", Action: ActionDeny, Message: "gpu_budget: ScaledJob ml/train may scale to 4 replicas x 2 GPUs per pod = 8 GPUs, over the 6 GPUs of ResourceQuota ml/gpus"}},
		},
		{
			name: "DELETE is not evaluated",
			review: func(t *testing.T) Review {
				h := hpa("web-hpa", "web")
				return mustReview(t)(NewReview(context.Background(), OperationDelete, &h, nil))
			},
			inv: Inventory{ScaledObjects: []kedav1alpha1.ScaledObject{so}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEngine(t, tt.cfg)
			got, err := e.Evaluate(context.Background(), tt.review(t), tt.inv)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d violations, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Policy != w.Policy || g.Action != w.Action || !strings.HasPrefix(g.Message, w.Message) {
					t.Errorf("violation %d = %+v, want %+v (message prefix)", i, g, w)
				}
			}
			if len(Denied(got)) != countAction(tt.want, ActionDeny) {
				t.Errorf("Denied = %v", Denied(got))
			}
		})
	}
}

func countAction(vs []Violation, a Action) int {
	n := 0
	for _, v := range vs {
		if v.Action == a {
			n++
		}
	}
	return n
}

func mustReview(t *testing.T) func(Review, error) Review {
	return func(r Review, err error) Review {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

func gpuQuota(hard string) corev1.ResourceQuota {
	return corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "gpus", Namespace: "ml"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"requests.nvidia.com/gpu": resource.MustParse(hard)}},
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown policy", Config{Actions: map[string]Action{"nope": ActionWarn}}, `actions names policy "nope", which does not exist`},
		{"bad action", Config{Actions: map[string]Action{"gpu_budget": "block"}}, `action "block" of policy "gpu_budget" is not an action; allowed: deny, warn, audit`},
		{"bad default", Config{DefaultAction: "off"}, `defaultAction "off"`},
		{"negative budget", Config{GPUBudgets: map[string]int64{"ml": -1}}, `gpuBudgets["ml"] is -1`},
		{"negative default budget", Config{DefaultGPUBudget: ptr.To[int64](-2)}, `defaultGPUBudget is -2`},
		{"empty endpoint", Config{AllowedEndpoints: []string{" "}}, `empty pattern`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestNewFromFS(t *testing.T) {
	ctx := context.Background()
	t.Run("syntax error names the file", func(t *testing.T) {
		_, err := NewFromFS(ctx, fstest.MapFS{"p/policy.rego": {Data: []byte("package mlscale.policies.p\nviolation contains if {")}}, Config{})
		if err == nil || !strings.Contains(err.Error(), "parsing policy p/policy.rego") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no policy", func(t *testing.T) {
		_, err := NewFromFS(ctx, fstest.MapFS{"x.rego": {Data: []byte("package other\nx := 1\n")}}, Config{})
		if err == nil || !strings.Contains(err.Error(), "no package mlscale.policies.*") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("non-string violation", func(t *testing.T) {
		e, err := NewFromFS(ctx, fstest.MapFS{"p.rego": {Data: []byte("package mlscale.policies.p\nviolation contains 1 if true\n")}}, Config{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Evaluate(ctx, Review{Kind: "X", Operation: OperationCreate}, Inventory{})
		if err == nil || !strings.Contains(err.Error(), "policy p: violation has a number (1), want strings only") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("user policy with data.config", func(t *testing.T) {
		src := "package mlscale.policies.limit\nviolation contains \"too many\" if count(data.inventory.horizontalPodAutoscalers) > data.config.defaultGPUBudget\n"
		e, err := NewFromFS(ctx, fstest.MapFS{"limit/policy.rego": {Data: []byte(src)}}, Config{DefaultGPUBudget: ptr.To[int64](1)})
		if err != nil {
			t.Fatal(err)
		}
		two := Inventory{HPAs: []autoscalingv2.HorizontalPodAutoscaler{hpa("a", "a"), hpa("b", "b")}}
		got, err := e.Evaluate(ctx, Review{Kind: KindHPA, Operation: OperationCreate}, two)
		if err != nil || len(got) != 1 || got[0] != (Violation{Policy: "limit", Message: "too many", Action: ActionDeny}) {
			t.Fatalf("got %+v, %v", got, err)
		}
		got, err = e.Evaluate(ctx, Review{Kind: KindHPA, Operation: OperationCreate}, Inventory{HPAs: two.HPAs[:1]})
		if err != nil || len(got) != 0 {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
}

func TestRunTestsReportsFailures(t *testing.T) {
	fsys := fstest.MapFS{
		"p/policy.rego":      {Data: []byte("package mlscale.policies.p\nviolation contains \"x\" if input.bad\n")},
		"p/policy_test.rego": {Data: []byte("package mlscale.policies.p_test\nimport data.mlscale.policies.p\ntest_ok if count(p.violation) == 0\ntest_fails if count(p.violation) == 1\n")},
	}
	results, err := RunTests(context.Background(), fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("results = %+v", results)
	}
	if results[0].Name != "test_fails" || results[0].Passed || results[1].Name != "test_ok" || !results[1].Passed {
		t.Errorf("results = %+v", results)
	}
	if results[0].Policy() != "p" || results[0].Location != "p/policy_test.rego:4" {
		t.Errorf("policy %q location %q", results[0].Policy(), results[0].Location)
	}
}
