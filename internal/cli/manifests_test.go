package cli

import (
	"reflect"
	"strings"
	"testing"
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
			for _, d := range documents(source{Name: "x.json", Data: []byte(tt.in)}) {
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

// TestRenderJSONLines renders two Deployments given as one JSON object a
// line: both come out (the second used to be dropped without a word).
func TestRenderJSONLines(t *testing.T) {
	dep := func(name string) string {
		return `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"` + name + `","namespace":"ml","annotations":{"mlscale.io/autoscale":"true","mlscale.io/cpu-target":"70"}},` +
			`"spec":{"selector":{"matchLabels":{"app":"` + name + `"}},"template":{"metadata":{"labels":{"app":"` + name + `"}},"spec":{"containers":[{"name":"c","image":"i","resources":{"requests":{"cpu":"1"}}}]}}}}`
	}
	r := runCLI(t, dep("first")+"\n"+dep("second")+"\n", "render", "-f", "-")
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	for _, name := range []string{"name: first", "name: second"} {
		if !strings.Contains(r.Out, name) {
			t.Errorf("output lacks %q:\n%s", name, r.Out)
		}
	}
}
