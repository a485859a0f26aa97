package manifest

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// scaledObjectYAML is a ScaledObject manifest; spec is indented by two.
func scaledObjectYAML(spec string) string {
	return "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: web\n  namespace: ml\nspec:\n  scaleTargetRef: {name: web}\n" + spec
}

// TestDocumentsStrict: documents are read as the API server reads them
// with fieldValidation=Strict (kubectl's default --validate=strict): field
// names case-sensitive, duplicate and unknown fields errors, kinds
// case-sensitive.
func TestDocumentsStrict(t *testing.T) {
	tests := []struct {
		name string
		in   string
		// err is the whole error, "" for none.
		err  string
		kind string // Kind of a document read without error
	}{
		{name: "valid", in: scaledObjectYAML("  maxReplicaCount: 3\n"), kind: "ScaledObject"},
		{
			name: "duplicate field, YAML",
			in:   scaledObjectYAML("  maxReplicaCount: 3\n  maxReplicaCount: 50\n"),
			err:  `x.yaml: document 1 (line 1) (ScaledObject ml/web): duplicate field "spec.maxReplicaCount" (line 9)`,
		},
		{
			name: "duplicate field in a list item, YAML",
			in:   scaledObjectYAML("  triggers:\n  - type: cpu\n    metadata: {value: \"60\", value: \"90\"}\n"),
			err:  `x.yaml: document 1 (line 1) (ScaledObject ml/web): duplicate field "spec.triggers[0].metadata.value" (line 10)`,
		},
		{
			name: "duplicate field, JSON stream",
			in: `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "web", "namespace": "ml"}, "spec": {"scaleTargetRef": {"name": "web"}, "maxReplicaCount": 3, "maxReplicaCount": 50}}
`,
			err: `x.yaml: document 2 (line 2) (ScaledObject ml/web): duplicate field "spec.maxReplicaCount"`,
		},
		{
			name: "field in the wrong case next to the right one",
			in:   scaledObjectYAML("  maxReplicaCount: 3\n  maxreplicacount: 50\n"),
			err:  `x.yaml: document 1 (line 1) (ScaledObject ml/web): unknown field "spec.maxreplicacount": field names are case-sensitive; did you mean "spec.maxReplicaCount"?`,
		},
		{
			name: "field in the wrong case alone",
			in:   scaledObjectYAML("  MaxReplicaCount: 50\n"),
			err:  `x.yaml: document 1 (line 1) (ScaledObject ml/web): unknown field "spec.MaxReplicaCount": field names are case-sensitive; did you mean "spec.maxReplicaCount"?`,
		},
		{
			name: "field in the wrong case in an inlined struct",
			in:   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  Labels: {a: b}\n",
			err:  `x.yaml: document 1 (line 1) (ConfigMap a): unknown field "metadata.Labels": field names are case-sensitive; did you mean "metadata.labels"?`,
		},
		{
			name: "unknown field",
			in:   scaledObjectYAML("  maxReplicas: 3\n"),
			err:  `x.yaml: document 1 (line 1) (ScaledObject ml/web): unknown field "spec.maxReplicas"`,
		},
		{
			name: "several problems, sorted",
			in:   scaledObjectYAML("  maxreplicacount: 3\n  minReplicas: 1\n"),
			err:  `x.yaml: document 1 (line 1) (ScaledObject ml/web): unknown field "spec.maxreplicacount": field names are case-sensitive; did you mean "spec.maxReplicaCount"?; unknown field "spec.minReplicas"`,
		},
		{
			name: "lower-case kind",
			in:   "apiVersion: apps/v1\nkind: deployment\nmetadata: {name: web}\n",
			err:  `x.yaml: document 1 (line 1) (deployment web): unknown kind "deployment" in apps/v1: kinds are case-sensitive; did you mean "Deployment"?`,
		},
		{
			name: "lower-case KEDA kind",
			in:   "apiVersion: keda.sh/v1alpha1\nkind: scaledobject\nmetadata: {name: web}\n",
			err:  `x.yaml: document 1 (line 1) (scaledobject web): unknown kind "scaledobject" in keda.sh/v1alpha1: kinds are case-sensitive; did you mean "ScaledObject"?`,
		},
		{
			name: "Kind instead of kind",
			in:   "apiVersion: apps/v1\nKind: Deployment\nmetadata: {name: web}\n",
			err:  `x.yaml: document 1 (line 1): unknown field "Kind": field names are case-sensitive; did you mean "kind"?`,
		},
		{
			name: "Kind next to kind",
			in:   "apiVersion: apps/v1\nkind: Deployment\nKind: StatefulSet\nmetadata: {name: web}\n",
			err:  `x.yaml: document 1 (line 1): unknown field "Kind": field names are case-sensitive; did you mean "kind"?`,
		},
		{name: "unknown kind is read", in: "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {anything: 1, Anything: 2}\n", kind: "Widget"},
		{name: "kind of an unknown group is read", in: "apiVersion: example.com/v1\nkind: deployment\nmetadata: {name: w}\n", kind: "deployment"},
		{
			name: "unknown kind: duplicate field",
			in:   `{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": 1, "a": 2}}` + "\n",
			err:  `x.yaml: document 1 (line 1) (Widget w): duplicate field "spec.a" (line 1)`,
		},
		{
			name: "unknown kind: metadata is every object's",
			in:   "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, Namespace: ml}\n",
			err:  `x.yaml: document 1 (line 1) (Widget w): unknown field "metadata.Namespace": field names are case-sensitive; did you mean "metadata.namespace"?`,
		},
		{
			name: "List item",
			in:   "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n  Data: {}\n",
			err:  `x.yaml: document 1 (line 1), item 2 (ConfigMap b): unknown field "Data": field names are case-sensitive; did you mean "data"?`,
		},
		// A value of the wrong type is left to the callers, whose messages
		// say more (render: how to quote an annotation).
		{name: "wrong type is left to the caller", in: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations: {a: 3}\nspec: {replicas: many}\n", kind: "Deployment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := Documents(Source{Name: "x.yaml", Data: []byte(tt.in)})
			var errs []string
			var kinds []string
			for _, d := range docs {
				if d.Err != nil {
					errs = append(errs, d.Err.Error())
				} else {
					kinds = append(kinds, d.Kind)
				}
			}
			switch {
			case tt.err == "" && len(errs) > 0:
				t.Fatalf("errors: %q", errs)
			case tt.err != "" && (len(errs) != 1 || errs[0] != tt.err):
				t.Fatalf("errors:\n got %q\nwant %q", errs, tt.err)
			case tt.kind != "" && (len(kinds) != 1 || kinds[0] != tt.kind):
				t.Fatalf("documents read: %q, want one %s", kinds, tt.kind)
			}
		})
	}
}

// TestCaseHint finds the field an unknown field was meant to be through
// pointers, slices, maps and inlined structs.
func TestCaseHint(t *testing.T) {
	scheme, _ := kinds()
	so, err := scheme.New(schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"spec.maxreplicacount":                        "spec.maxReplicaCount",
		"spec.triggers[0].METADATA":                   "spec.triggers[0].metadata",
		"spec.advanced.horizontalpodautoscalerconfig": "spec.advanced.horizontalPodAutoscalerConfig",
		"Kind":                            "kind",
		"metadata.Labels":                 "metadata.labels",
		"spec.maxReplicaCount":            "",
		"spec.nothing":                    "",
		"spec.triggers[0].metadata.Value": "",
	} {
		if got := caseHint(reflect.TypeOf(so), path); got != want {
			t.Errorf("caseHint(%q) = %q, want %q", path, got, want)
		}
	}
	if !strings.Contains(caseError("Kind", "kind").Error(), `did you mean "kind"?`) {
		t.Error(caseError("Kind", "kind"))
	}
}
