package render_test

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
)

// docsPath is the user-facing reference whose rendered examples are checked.
const docsPath = "../../docs/annotations.md"

// docsYAMLAfter returns the first ```yaml block after the line of
// docs/annotations.md that contains marker.
func docsYAMLAfter(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("reading the annotation reference: %v", err)
	}
	_, rest, ok := strings.Cut(string(b), marker)
	if !ok {
		t.Fatalf("%s has no %q", docsPath, marker)
	}
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	if !ok {
		t.Fatalf("%s has no yaml block after %q", docsPath, marker)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("%s: unterminated yaml block after %q", docsPath, marker)
	}
	return block
}

// subset reports where want (from the docs) differs from got (rendered):
// every field of want must be in got with the same value; got may have more.
// Lists must have the same length.
func subset(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: docs have a mapping, rendered %#v", path, got)}
		}
		var diffs []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: in the docs but not rendered", path, k))
				continue
			}
			diffs = append(diffs, subset(path+"."+k, wv, gv)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: docs have %d items, rendered %#v", path, len(w), got)}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, subset(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return diffs
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: docs say %#v, rendered %#v", path, want, got)}
	}
	return nil
}

// TestDocsRenderedExamples renders the workloads of the rendered examples in
// docs/annotations.md and fails when the docs show a field the renderer does
// not produce, or a different value.
func TestDocsRenderedExamples(t *testing.T) {
	tests := []struct {
		name   string
		marker string // the text just before the example's yaml block
		w      workload.Workload
	}{
		{
			name:   "a first example",
			marker: "renders (`mlscale render -f worker.yaml`):",
			w: deployment("worker", ann(intent.KeyProfile, "celery-worker", intent.KeyRabbitMQQueue, "tasks", intent.KeyRabbitMQAuth, "rabbitmq-auth"),
				ctr("worker", cpuOnly)),
		},
		{
			name:   "the GPU part of a vLLM Deployment",
			marker: "The rendered GPU part of a vLLM Deployment `llm` in namespace `ml` with",
			w: deployment("llm", ann(intent.KeyProfile, "vllm", intent.KeyWakeQuery, `sum(gateway_pending_requests{backend="llm"})`),
				ctr("vllm", gpu("nvidia.com/gpu", "1"))),
		},
		{
			name:   "zero at night, N in office hours",
			marker: "renders (business hours, `mlscale render`):",
			w: deployment("api", ann(intent.KeyScaleToZero, "true", intent.KeyMinReplicas, "2", intent.KeyBusinessHours, "Mon-Fri 08:00-18:30 Europe/Berlin", intent.KeyCPUTarget, "70"),
				ctr("api", cpuOnly)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want map[string]any
			if err := yaml.Unmarshal([]byte(docsYAMLAfter(t, tt.marker)), &want); err != nil {
				t.Fatalf("the docs' example is not YAML: %v", err)
			}
			res, err := render.Workload(tt.w, facts.Default())
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			u, err := render.ToUnstructured(res.Object)
			if err != nil {
				t.Fatal(err)
			}
			// Through JSON, so that numbers compare as the docs' do.
			raw, err := json.Marshal(u.Object)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			for _, d := range subset("", want, got) {
				t.Errorf("%s: %s", docsPath, d)
			}
		})
	}
}
