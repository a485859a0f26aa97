package manifest

import (
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestDocumentsJSONStream(t *testing.T) {
	const (
		cm  = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`
		svc = `{"apiVersion":"v1","kind":"Service","metadata":{"name":"b"}}`
	)
	type doc struct {
		Kind  string
		Index int
		Line  int
		Err   string // in the error, "" for none
	}
	tests := []struct {
		name string
		in   string
		want []doc
	}{
		{"one object", cm + "\n", []doc{{"ConfigMap", 1, 1, ""}}},
		{"one object a line (jq -c)", cm + "\n" + svc + "\n", []doc{{"ConfigMap", 1, 1, ""}, {"Service", 2, 2, ""}}},
		{"objects back to back", cm + svc, []doc{{"ConfigMap", 1, 1, ""}, {"Service", 2, 1, ""}}},
		{"pretty-printed objects", "{\n \"apiVersion\": \"v1\",\n \"kind\": \"ConfigMap\"\n}\n\n{\n \"apiVersion\": \"v1\",\n \"kind\": \"Service\"\n}\n",
			[]doc{{"ConfigMap", 1, 1, ""}, {"Service", 2, 6, ""}}},
		{"broken object after good ones", cm + "\n" + svc + "\n{\"kind\": \n", []doc{{"ConfigMap", 1, 1, ""}, {"Service", 2, 2, ""}, {"", 3, 3, "x.json: document 3 (line 3): invalid JSON after 2 objects"}}},
		{"YAML flow mapping is still YAML", "{apiVersion: v1, kind: ConfigMap}\n", []doc{{"ConfigMap", 1, 1, ""}}},
		{"JSON documents and YAML separators", cm + "\n---\nkind: Service\napiVersion: v1\n", []doc{{"ConfigMap", 1, 1, ""}, {"Service", 2, 3, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []doc
			for _, d := range Documents(Source{Name: "x.json", Data: []byte(tt.in)}) {
				e := ""
				if d.Err != nil {
					e = d.Err.Error()
				}
				got = append(got, doc{d.Kind, d.Index, d.Line, e})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("documents:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSplitYAML(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		lines []int
	}{
		{"empty", "", nil},
		{"comments only", "# a\n\n# b\n", nil},
		{"one document", "a: 1\n", []int{1}},
		{"leading separator", "---\na: 1\n---\nb: 2\n", []int{2, 4}},
		{"trailing separator", "a: 1\n---\n", []int{1}},
		{"separator with comment", "a: 1\n--- # next\nb: 2\n", []int{1, 3}},
		{"content on separator line", "a: 1\n--- {b: 2}\n", []int{1, 2}},
		{"empty documents", "---\n---\n# c\n---\na: 1\n", []int{5}},
		{"CRLF", "a: 1\r\n---\r\nb: 2\r\n", []int{1, 3}},
		{"dashes inside a block", "a: |\n  ----\n  --- x\nb: 1\n", []int{1}},
		{"no final newline", "a: 1\n---\nb: 2", []int{1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []int
			for _, c := range splitYAML([]byte(tt.in)) {
				lines = append(lines, c.line)
				var v any
				if err := yaml.Unmarshal(c.text, &v); err != nil {
					t.Errorf("chunk at line %d does not parse: %v", c.line, err)
				}
			}
			if !reflect.DeepEqual(lines, tt.lines) {
				t.Errorf("documents start at lines %v, want %v", lines, tt.lines)
			}
		})
	}
}
