package crdschema_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/mlscale/mlscale/test/crdschema"
)

func keda(t *testing.T) *crdschema.Set {
	t.Helper()
	s, err := crdschema.KEDA()
	if err != nil {
		t.Fatalf("loading KEDA CRDs: %v", err)
	}
	return s
}

func TestKEDAKinds(t *testing.T) {
	s := keda(t)
	for _, kind := range []string{"ScaledObject", "ScaledJob", "TriggerAuthentication", "ClusterTriggerAuthentication"} {
		gvk := schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: kind}
		if s.Version(gvk) == nil {
			t.Errorf("no validator for %s; have %v", gvk, s.Kinds())
		}
	}
	if v := s.Version(schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "ClusterTriggerAuthentication"}); v == nil || v.Namespaced {
		t.Errorf("ClusterTriggerAuthentication should be cluster-scoped")
	}
}

// scaledObject returns a minimal valid ScaledObject; each case breaks it.
func scaledObject() map[string]any {
	return map[string]any{
		"apiVersion": "keda.sh/v1alpha1",
		"kind":       "ScaledObject",
		"metadata":   map[string]any{"name": "llm", "namespace": "ml"},
		"spec": map[string]any{
			"scaleTargetRef":  map[string]any{"name": "llm"},
			"minReplicaCount": int64(0),
			"maxReplicaCount": int64(4),
			"triggers": []any{map[string]any{
				"type":     "rabbitmq",
				"metadata": map[string]any{"queueName": "q", "host": "amqp://rabbitmq:5672/"},
			}},
		},
	}
}

func TestValidate(t *testing.T) {
	s := keda(t)
	tests := []struct {
		name   string
		mutate func(o map[string]any)
		// want lists substrings of the expected errors, one per error; none
		// means the object is valid.
		want []string
	}{
		{name: "valid", mutate: func(map[string]any) {}},
		{
			name: "minReplicaCount above maxReplicaCount breaks the CEL rule",
			mutate: func(o map[string]any) {
				spec(o)["minReplicaCount"] = int64(5)
			},
			want: []string{"minReplicaCount must be less than or equal to maxReplicaCount"},
		},
		{
			name: "minReplicaCount above the default maximum of 100",
			mutate: func(o map[string]any) {
				delete(spec(o), "maxReplicaCount")
				spec(o)["minReplicaCount"] = int64(101)
			},
			want: []string{"minReplicaCount must be less than or equal to maxReplicaCount"},
		},
		{
			name:   "missing triggers",
			mutate: func(o map[string]any) { delete(spec(o), "triggers") },
			want:   []string{"spec.triggers: Required value", "were not checked"},
		},
		{
			name:   "missing scaleTargetRef",
			mutate: func(o map[string]any) { delete(spec(o), "scaleTargetRef") },
			want:   []string{"spec.scaleTargetRef: Required value", "were not checked"},
		},
		{
			name: "trigger without type",
			mutate: func(o map[string]any) {
				delete(spec(o)["triggers"].([]any)[0].(map[string]any), "type")
			},
			want: []string{"spec.triggers[0].type: Required value", "were not checked"},
		},
		{
			name:   "wrong type",
			mutate: func(o map[string]any) { spec(o)["maxReplicaCount"] = "four" },
			want:   []string{"spec.maxReplicaCount: Invalid value", "were not checked"},
		},
		{
			name: "metadata value that is not a string",
			mutate: func(o map[string]any) {
				spec(o)["triggers"].([]any)[0].(map[string]any)["metadata"].(map[string]any)["value"] = int64(5)
			},
			want: []string{"spec.triggers[0].metadata.value: Invalid value", "were not checked"},
		},
		{
			name:   "unknown field",
			mutate: func(o map[string]any) { spec(o)["minReplicas"] = int64(1) },
			want:   []string{"spec.minReplicas: Invalid value: null: unknown field"},
		},
		{
			name:   "bad name",
			mutate: func(o map[string]any) { o["metadata"].(map[string]any)["name"] = "LLM_server" },
			want:   []string{"metadata.name: Invalid value"},
		},
		{
			name:   "no namespace",
			mutate: func(o map[string]any) { delete(o["metadata"].(map[string]any), "namespace") },
			want:   []string{"metadata.namespace: Required value", "were not checked"},
		},
		{
			name: "label value too long",
			mutate: func(o map[string]any) {
				o["metadata"].(map[string]any)["labels"] = map[string]any{"a": strings.Repeat("x", 64)}
			},
			want: []string{"metadata.labels: Invalid value"},
		},
		{
			name:   "unknown kind",
			mutate: func(o map[string]any) { o["kind"] = "ScaledThing" },
			want:   []string{"kind: Unsupported value"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := scaledObject()
			tc.mutate(o)
			errs := s.Validate(o)
			checkErrors(t, errs, tc.want)
		})
	}
}

func TestValidateScaledJob(t *testing.T) {
	s := keda(t)
	sj := map[string]any{
		"apiVersion": "keda.sh/v1alpha1",
		"kind":       "ScaledJob",
		"metadata":   map[string]any{"name": "train", "namespace": "ml"},
		"spec": map[string]any{
			"jobTargetRef": map[string]any{"template": map[string]any{"spec": map[string]any{
				"restartPolicy": "Never",
				"containers":    []any{map[string]any{"name": "t", "image": "trainer:1"}},
			}}},
			"scalingStrategy": map[string]any{"strategy": "accurate"},
			"triggers":        []any{map[string]any{"type": "rabbitmq", "metadata": map[string]any{"queueName": "q"}}},
		},
	}
	checkErrors(t, s.Validate(sj), nil)

	sj["spec"].(map[string]any)["scalingStrategy"] = map[string]any{"strategy": "fastest"}
	checkErrors(t, s.Validate(sj), []string{`spec.scalingStrategy.strategy: Unsupported value: "fastest"`})

	delete(sj["spec"].(map[string]any), "jobTargetRef")
	sj["spec"].(map[string]any)["scalingStrategy"] = map[string]any{}
	checkErrors(t, s.Validate(sj), []string{"spec.jobTargetRef: Required value"})
}

func TestValidateDoesNotModify(t *testing.T) {
	s := keda(t)
	o := scaledObject()
	spec(o)["unknown"] = "x"
	s.Validate(o)
	if spec(o)["unknown"] != "x" {
		t.Fatal("Validate pruned the caller's object")
	}
}

func TestAddSkipsOtherKinds(t *testing.T) {
	var s crdschema.Set
	if err := s.Add([]byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")); err != nil {
		t.Fatal(err)
	}
	if len(s.Kinds()) != 0 {
		t.Fatalf("kinds = %v, want none", s.Kinds())
	}
	if _, err := crdschema.LoadDir(t.TempDir()); err == nil {
		t.Fatal("LoadDir of an empty directory: want an error")
	}
}

func spec(o map[string]any) map[string]any { return o["spec"].(map[string]any) }

func checkErrors(t *testing.T, errs field.ErrorList, want []string) {
	t.Helper()
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d (%q):\n%v", len(errs), len(want), want, errs.ToAggregate())
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), w)
		}
	}
}
