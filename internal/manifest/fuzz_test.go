package manifest

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzDocuments fuzzes the manifest reader of render, policy eval and the
// demo with whole files: it never panics, every document either carries an
// error that names the file, or valid JSON with a kind and an apiVersion,
// and documents are numbered in order.
func FuzzDocuments(f *testing.F) {
	seeds := []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
		"apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: s}\nspec:\n  maxReplicaCount: 3\n  maxReplicaCount: 4\n",
		"apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: s}\nspec: {maxreplicacount: 3, scaleTargetRef: {name: x}}\n",
		"apiVersion: apps/v1\nkind: deployment\nmetadata: {name: a}\n",
		"ApiVersion: apps/v1\nKind: Deployment\n",
		`{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}]}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}` + "\n" + `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b","name":"c"}}`,
		"a: [",
		"--- \n---\n",
		"&a [*a, *a]",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		docs := Documents(Source{Name: "in.yaml", Data: data})
		last := 0
		for _, d := range docs {
			if d.Index < last {
				t.Fatalf("document %d after %d", d.Index, last)
			}
			last = d.Index
			if d.Err != nil {
				if !strings.Contains(d.Err.Error(), "in.yaml") {
					t.Fatalf("error does not name the file: %v", d.Err)
				}
				continue
			}
			if d.Kind == "" || d.APIVersion == "" {
				t.Fatalf("document %d has no kind or apiVersion: %s", d.Index, d.JSON)
			}
			if !json.Valid(d.JSON) {
				t.Fatalf("document %d is not valid JSON: %q", d.Index, d.JSON)
			}
		}
	})
}
