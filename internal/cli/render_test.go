package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mlscale/mlscale/internal/facts"
	"github.com/mlscale/mlscale/internal/manifest"
	"github.com/mlscale/mlscale/internal/render"
	"github.com/mlscale/mlscale/internal/workload"
)

// yamlStream parses a YAML stream into its documents.
func yamlStream(t *testing.T, name, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range manifest.Documents(manifest.Source{Name: name, Data: []byte(s)}) {
		if d.Err != nil {
			t.Fatalf("parsing %s: %v", name, d.Err)
		}
		var m map[string]any
		if err := json.Unmarshal(d.JSON, &m); err != nil {
			t.Fatalf("parsing %s: %v", name, err)
		}
		out = append(out, m)
	}
	return out
}

// jsonList parses the JSON output of render.
func jsonList(t *testing.T, s string) []map[string]any {
	t.Helper()
	var l struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Items      []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
	if l.APIVersion != "v1" || l.Kind != "List" || l.Items == nil {
		t.Fatalf("output is not a v1 List with items: %s", s)
	}
	return l.Items
}

func names(objs []map[string]any) []string {
	var out []string
	for _, o := range objs {
		meta, _ := o["metadata"].(map[string]any)
		out = append(out, o["kind"].(string)+" "+meta["namespace"].(string)+"/"+meta["name"].(string))
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var workloadsRendered = []string{
	"ScaledObject ml/worker", "ScaledObject ml/llm", "ScaledObject default/indexer", "ScaledJob ml/train",
}

func TestRenderWorkloads(t *testing.T) {
	r := runCLI(t, "", "render", "-f", "testdata/workloads.yaml")
	if r.Code != ExitOK || r.ErrOut != "" {
		t.Fatalf("exit %d, stderr:\n%s", r.Code, r.ErrOut)
	}
	golden(t, "workloads.yaml", r.Out)
	if got := names(yamlStream(t, "stdout", r.Out)); !reflect.DeepEqual(got, workloadsRendered) {
		t.Errorf("rendered %q, want %q", got, workloadsRendered)
	}
	if !strings.HasPrefix(r.Out, "---\n") {
		t.Errorf("YAML output does not start with ---")
	}
}

func TestRenderJSONMatchesYAML(t *testing.T) {
	y := runCLI(t, "", "render", "-f", "testdata/workloads.yaml")
	j := runCLI(t, "", "render", "-f", "testdata/workloads.yaml", "-o", "json")
	if j.Code != ExitOK || j.ErrOut != "" {
		t.Fatalf("exit %d, stderr:\n%s", j.Code, j.ErrOut)
	}
	if got, want := jsonList(t, j.Out), yamlStream(t, "yaml", y.Out); !reflect.DeepEqual(got, want) {
		t.Errorf("-o json items differ from -o yaml documents\njson: %s\nyaml: %s", j.Out, y.Out)
	}
}

func TestRenderStdin(t *testing.T) {
	in := readFile(t, "testdata/workloads.yaml")
	file := runCLI(t, "", "render", "-f", "testdata/workloads.yaml")
	for _, args := range [][]string{{"render", "-f", "-"}, {"render", "--filename=-"}} {
		r := runCLI(t, in, args...)
		if r.Code != ExitOK || r.ErrOut != "" {
			t.Fatalf("%q: exit %d, stderr:\n%s", args, r.Code, r.ErrOut)
		}
		if r.Out != file.Out {
			t.Errorf("%q: stdin output differs from file output:\n%s", args, r.Out)
		}
	}
}

func TestRenderSkipsSilently(t *testing.T) {
	for _, format := range []string{"yaml", "json"} {
		t.Run(format, func(t *testing.T) {
			r := runCLI(t, "", "render", "-f", "testdata/skipped.yaml", "-o", format)
			if r.Code != ExitOK || r.ErrOut != "" {
				t.Fatalf("exit %d, stderr:\n%s", r.Code, r.ErrOut)
			}
			switch format {
			case "yaml":
				if r.Out != "" {
					t.Errorf("stdout not empty:\n%s", r.Out)
				}
			case "json":
				if items := jsonList(t, r.Out); len(items) != 0 {
					t.Errorf("items not empty: %s", r.Out)
				}
			}
		})
	}
}

// wantMessages renders each workload of a manifest file with the library
// and returns the lines render prints: "error: " and the message admission
// would deny with.
func wantMessages(t *testing.T, path string) []string {
	t.Helper()
	var msgs []string
	for _, d := range manifest.Documents(manifest.Source{Name: path, Data: []byte(readFile(t, path))}) {
		if d.Err != nil {
			t.Fatal(d.Err)
		}
		w, _, err := workload.Decode(d.GVK(), d.JSON)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := render.Workload(w, facts.Default()); err != nil {
			msgs = append(msgs, ErrorPrefix+render.Message(w, err))
		}
	}
	return msgs
}

func TestRenderBadAnnotations(t *testing.T) {
	r := runCLI(t, "", "render", "-f", "testdata/bad.yaml")
	if r.Code != ExitFailure {
		t.Errorf("exit %d, want %d", r.Code, ExitFailure)
	}
	// Every problem is reported, each exactly as admission words it.
	want := wantMessages(t, "testdata/bad.yaml")
	if len(want) != 2 {
		t.Fatalf("testdata/bad.yaml should have two bad workloads, has %d", len(want))
	}
	if got := strings.Split(strings.TrimSuffix(r.ErrOut, "\n"), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.ErrOut, strings.Join(want, "\n"))
	}
	for _, s := range []string{`mlscale: Deployment ml/llm: mlscale.io/max-replicas: "abc"`, `mlscale: Deployment ml/cpu: mlscale.io/cooldown: "soon"`} {
		if !strings.Contains(r.ErrOut, s) {
			t.Errorf("stderr does not name the annotation: want %q in\n%s", s, r.ErrOut)
		}
	}
	// The good workload between them is still rendered.
	if got := names(yamlStream(t, "stdout", r.Out)); !reflect.DeepEqual(got, []string{"ScaledObject ml/worker"}) {
		t.Errorf("rendered %q, want the good worker only", got)
	}
}

func TestRenderMalformedYAML(t *testing.T) {
	r := runCLI(t, "", "render", "-f", "testdata/malformed.yaml")
	if r.Code != ExitFailure {
		t.Errorf("exit %d, want %d", r.Code, ExitFailure)
	}
	for _, s := range []string{
		"testdata/malformed.yaml: document 2 (line 22): invalid YAML: yaml: line 28:",
		"testdata/malformed.yaml: document 3 (line 30): not a Kubernetes object",
	} {
		if !strings.Contains(r.ErrOut, s) {
			t.Errorf("stderr does not contain %q:\n%s", s, r.ErrOut)
		}
	}
	if got := names(yamlStream(t, "stdout", r.Out)); !reflect.DeepEqual(got, []string{"ScaledObject ml/worker"}) {
		t.Errorf("rendered %q, want the worker before the broken documents", got)
	}
}

func TestRenderAllSourcesBeforeFailing(t *testing.T) {
	r := runCLI(t, readFile(t, "testdata/malformed.yaml"),
		"render", "-f", "testdata/bad.yaml", "-f", "-", "-f", "testdata/workloads.yaml", "-o", "json")
	if r.Code != ExitFailure {
		t.Errorf("exit %d, want %d", r.Code, ExitFailure)
	}
	for _, s := range []string{"ml/llm: mlscale.io/max-replicas", "ml/cpu: mlscale.io/cooldown", "<stdin>: document 2 (line 22): invalid YAML", "<stdin>: document 3 (line 30)"} {
		if !strings.Contains(r.ErrOut, s) {
			t.Errorf("stderr does not contain %q:\n%s", s, r.ErrOut)
		}
	}
	want := append([]string{"ScaledObject ml/worker", "ScaledObject ml/worker"}, workloadsRendered...)
	if got := names(jsonList(t, r.Out)); !reflect.DeepEqual(got, want) {
		t.Errorf("rendered %q, want %q", got, want)
	}
}

func TestRenderDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	workloads := readFile(t, "testdata/workloads.yaml")
	write("b.yml", workloads)
	write("a.yaml", readFile(t, "testdata/skipped.yaml"))
	write("README.md", "not a manifest")
	write("sub/c.yaml", workloads)

	r := runCLI(t, "", "render", "-f", dir)
	if r.Code != ExitOK || r.ErrOut != "" {
		t.Fatalf("exit %d, stderr:\n%s", r.Code, r.ErrOut)
	}
	if got := names(yamlStream(t, "stdout", r.Out)); !reflect.DeepEqual(got, workloadsRendered) {
		t.Errorf("rendered %q, want %q (subdirectories only with -R)", got, workloadsRendered)
	}
	r = runCLI(t, "", "render", "-R", "-f", dir)
	if got := names(yamlStream(t, "stdout", r.Out)); len(got) != 2*len(workloadsRendered) {
		t.Errorf("with -R rendered %q, want the workloads twice", got)
	}

	empty := t.TempDir()
	r = runCLI(t, "", "render", "-f", empty)
	if r.Code != ExitFailure || !strings.Contains(r.ErrOut, "has no .yaml, .yml, .json files") {
		t.Errorf("empty directory: exit %d, stderr %q", r.Code, r.ErrOut)
	}
}

func TestRenderMissingFile(t *testing.T) {
	r := runCLI(t, "", "render", "-f", "testdata/does-not-exist.yaml", "-f", "testdata/workloads.yaml")
	if r.Code != ExitFailure || !strings.HasPrefix(r.ErrOut, "error: reading testdata/does-not-exist.yaml: ") {
		t.Errorf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
	if got := names(yamlStream(t, "stdout", r.Out)); !reflect.DeepEqual(got, workloadsRendered) {
		t.Errorf("rendered %q, want the other file's workloads %q", got, workloadsRendered)
	}
}

func TestRenderFlags(t *testing.T) {
	// The workloads without their namespace: -n gives it.
	b, err := os.ReadFile("testdata/workloads.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in := strings.ReplaceAll(string(b), "  namespace: ml\n", "")
	r := runCLI(t, in, "render", "-f", "-", "-o", "json",
		"--gpu-budget", "2", "--prometheus-server", "http://prom.example:9090", "--cluster-domain", "corp.internal", "-n", "search")
	if r.Code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.Code, r.ErrOut)
	}
	// The GPU budget of 2 fits one pod of 2 GPUs: max lowered from 6 to 1.
	if !strings.Contains(r.ErrOut, "Warning: Deployment search/llm: max replicas lowered from 6 to 1") {
		t.Errorf("no GPU budget warning on stderr:\n%s", r.ErrOut)
	}
	for _, s := range []string{
		`"maxReplicaCount": 1,`,
		`"serverAddress": "http://prom.example:9090"`,
		`"host": "amqp://rabbitmq.search.svc.corp.internal:5672/"`,
		`"namespace": "search"`,
	} {
		if !strings.Contains(r.Out, s) {
			t.Errorf("output does not contain %s", s)
		}
	}
}

func TestRenderListAndWarnings(t *testing.T) {
	// kubectl get -o yaml prints a List; a CronJob with the opt-in
	// annotation is not something mlscale scales, which deserves a word.
	in := `apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: worker
    namespace: ml
    annotations:
      mlscale.io/autoscale: "true"
      mlscale.io/rabbitmq-queue: tasks
  spec:
    template:
      spec:
        containers: [{name: worker, image: worker}]
- apiVersion: batch/v1
  kind: CronJob
  metadata:
    name: nightly
    namespace: ml
    annotations:
      mlscale.io/autoscale: "true"
- kind: Secret
`
	r := runCLI(t, in, "render", "-f", "-")
	if r.Code != ExitFailure {
		t.Errorf("exit %d, want %d (the item without apiVersion)", r.Code, ExitFailure)
	}
	if got := names(yamlStream(t, "stdout", r.Out)); !reflect.DeepEqual(got, []string{"ScaledObject ml/worker"}) {
		t.Errorf("rendered %q", got)
	}
	for _, s := range []string{
		"Warning: Deployment ml/worker: mlscale.io/rabbitmq-auth is not set",
		"Warning: CronJob ml/nightly: mlscale.io/autoscale is set, but mlscale scales only Deployments, StatefulSets and Jobs; ignored",
		"<stdin>: document 1 (line 1), item 3: not a Kubernetes object: apiVersion or kind is missing",
	} {
		if !strings.Contains(r.ErrOut, s) {
			t.Errorf("stderr does not contain %q:\n%s", s, r.ErrOut)
		}
	}
}

func TestRenderDecodeError(t *testing.T) {
	in := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: many}\n"
	r := runCLI(t, in, "render", "-f", "-")
	if r.Code != ExitFailure || !strings.Contains(r.ErrOut, "<stdin>: document 1 (line 1): decoding Deployment") {
		t.Errorf("exit %d, stderr %q", r.Code, r.ErrOut)
	}
}

// The renderer's golden files: one per workload of config/samples, named
// <sample>-<kind>-<name>.yaml, a few comment lines (the last ones
// "# warning: ...") and then the rendered object.
const (
	samplesDir = "../../config/samples"
	goldenDir  = "../../internal/render/testdata/golden"
)

// TestRenderSamples checks that `mlscale render -f config/samples` prints
// exactly the renderer's golden files, in sample order, and their warnings.
func TestRenderSamples(t *testing.T) {
	if _, err := os.Stat(samplesDir); err != nil {
		t.Fatalf("no samples: %v", err)
	}
	r := runCLI(t, "", "render", "-f", samplesDir)
	if r.Code != ExitOK {
		t.Fatalf("render -f config/samples: exit %d, stderr:\n%s", r.Code, r.ErrOut)
	}
	if _, err := os.Stat(goldenDir); err != nil {
		t.Fatalf("no golden files: %v", err)
	}
	samples, errs := manifest.ReadSources([]string{samplesDir}, false, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var wantOut, wantErr strings.Builder
	goldens := 0
	for _, src := range samples {
		sample := src.Name
		for _, d := range manifest.Documents(src) {
			if d.Err != nil || !isWorkloadDoc(d) {
				continue
			}
			m := objectMeta(d)
			name := fmt.Sprintf("%s-%s-%s.yaml", strings.TrimSuffix(filepath.Base(sample), filepath.Ext(sample)), strings.ToLower(d.Kind), m.Name)
			text, err := os.ReadFile(filepath.Join(goldenDir, name))
			if os.IsNotExist(err) {
				continue // not opted in; the renderer's tests check that every opted-in workload has a golden file
			}
			if err != nil {
				t.Fatal(err)
			}
			goldens++
			body := string(text)
			var needs strings.Builder
			for strings.HasPrefix(body, "#") {
				line, rest, _ := strings.Cut(body, "\n")
				if warning, ok := strings.CutPrefix(line, "# warning: "); ok {
					fmt.Fprintf(&wantErr, "Warning: %s %s: %s\n", d.Kind, objectName(m), warning)
				}
				if strings.HasPrefix(line, "# trigger ") {
					needs.WriteString(line + "\n") // render prints what each trigger reads
				}
				body = rest
			}
			body = needs.String() + body
			wantOut.WriteString("---\n" + body)
		}
	}
	if goldens == 0 {
		t.Fatal("no golden file matches a sample")
	}
	if r.Out != wantOut.String() {
		t.Errorf("mlscale render -f config/samples differs from the golden files in %s:\n--- got\n%s\n--- want\n%s", goldenDir, r.Out, wantOut.String())
	}
	if r.ErrOut != wantErr.String() {
		t.Errorf("warnings differ from the golden files':\n--- got\n%s\n--- want\n%s", r.ErrOut, wantErr.String())
	}
	if n := strings.Count(r.Out, "---\n"); n != goldens {
		t.Errorf("rendered %d objects, want %d (one per golden file)", n, goldens)
	}
}

func TestRenderBadFlagValues(t *testing.T) {
	const secret = "s3cr3t"
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"prometheus server with credentials", []string{"--prometheus-server", "http://admin:" + secret + "@prom:9090"},
			"error: --prometheus-server has credentials inline; allowed: an http or https URL without credentials"},
		{"prometheus server not a URL", []string{"--prometheus-server", "prom:9090"},
			"error: --prometheus-server is not an http(s) URL; allowed: an http or https URL"},
		{"prometheus server not http", []string{"--prometheus-server", "ftp://prom"},
			"error: --prometheus-server is not an http(s) URL"},
		{"cluster domain with upper case", []string{"--cluster-domain", "Corp.Internal"},
			`error: --cluster-domain "Corp.Internal" is not a valid DNS domain`},
		{"cluster domain empty", []string{"--cluster-domain="},
			`error: --cluster-domain "" is not a valid DNS domain`},
		{"namespace not a name", []string{"-n", "Team A"},
			`error: --namespace "Team A" is not a valid namespace name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, "", append([]string{"render", "-f", "testdata/workloads.yaml"}, tt.args...)...)
			if r.Code != ExitUsage {
				t.Errorf("exit %d, want %d (a bad command line)", r.Code, ExitUsage)
			}
			if !strings.Contains(r.ErrOut, tt.want) {
				t.Errorf("stderr does not contain %q:\n%s", tt.want, r.ErrOut)
			}
			if strings.Contains(r.ErrOut+r.Out, secret) {
				t.Errorf("the password leaks:\n%s%s", r.Out, r.ErrOut)
			}
			if r.Out != "" {
				t.Errorf("stdout not empty:\n%s", r.Out)
			}
		})
	}
	// No default Prometheus server is allowed: workloads then name their own.
	r := runCLI(t, "", "render", "-f", "testdata/workloads.yaml", "--prometheus-server=")
	if r.Code != ExitFailure || !strings.Contains(r.ErrOut, "mlscale.io/prometheus-server: is missing and the cluster has no default Prometheus server") {
		t.Errorf("--prometheus-server=: exit %d, stderr:\n%s", r.Code, r.ErrOut)
	}
}

func TestRenderNonStringAnnotations(t *testing.T) {
	const head = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: llm\n  namespace: ml\n  annotations:\n"
	tests := []struct {
		name, annotations string
		want              string
	}{
		{"unquoted number", "    mlscale.io/autoscale: \"true\"\n    mlscale.io/max-replicas: 3\n",
			`<stdin>: document 1 (line 1): Deployment ml/llm: annotation mlscale.io/max-replicas: 3 is not a string; annotation values are strings, quote the value as you mean it (mlscale.io/max-replicas: "3"; unquoted, YAML reads 012 as 10 and 0x10 as 16)`},
		// YAML has read 012 as octal: the message says so.
		{"unquoted number with a leading zero", "    mlscale.io/autoscale: \"true\"\n    mlscale.io/max-replicas: 012\n",
			`annotation mlscale.io/max-replicas: 10 is not a string; annotation values are strings, quote the value as you mean it (mlscale.io/max-replicas: "10"; unquoted, YAML reads 012 as 10 and 0x10 as 16)`},
		{"unquoted boolean", "    mlscale.io/autoscale: true\n",
			`<stdin>: document 1 (line 1): Deployment ml/llm: annotation mlscale.io/autoscale: true is not a string; annotation values are strings, quote it: mlscale.io/autoscale: "true"`},
		{"several, sorted", "    mlscale.io/autoscale: true\n    mlscale.io/cpu-target: 70\n",
			`Deployment ml/llm: 2 problems: annotation mlscale.io/autoscale: true is not a string; annotation values are strings, quote it: mlscale.io/autoscale: "true"; annotation mlscale.io/cpu-target: 70 is not a string; annotation values are strings, quote the value as you mean it (mlscale.io/cpu-target: "70"; unquoted, YAML reads 012 as 10 and 0x10 as 16)`},
		{"a mapping", "    mlscale.io/autoscale: \"true\"\n    mlscale.io/profile: {name: vllm}\n",
			`Deployment ml/llm: annotation mlscale.io/profile is not a string; annotation values are strings`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, head+tt.annotations+"spec:\n  template:\n    spec:\n      containers: [{name: c, image: c}]\n", "render", "-f", "-")
			if r.Code != ExitFailure {
				t.Errorf("exit %d, want %d", r.Code, ExitFailure)
			}
			if got := strings.TrimSuffix(r.ErrOut, "\n"); !strings.Contains(got, tt.want) || strings.Count(got, "\n") != 0 {
				t.Errorf("stderr:\n%s\nwant one line with:\n%s", r.ErrOut, tt.want)
			}
		})
	}
}

// gatewayWorkloadTail ends a workload's manifest after "annotations:": the
// opt-in, a trigger on a gateway's queue, and a one-container pod.
const gatewayWorkloadTail = `    mlscale.io/autoscale: "true"
    mlscale.io/prometheus-query: sum(gateway_pending_requests)
spec:
  template:
    spec:
      containers: [{name: c, image: c}]
`

func TestRenderWorkloadWithoutName(t *testing.T) {
	in := `apiVersion: apps/v1
kind: Deployment
metadata:
  generateName: llm-
  annotations:
` + gatewayWorkloadTail
	r := runCLI(t, in, "render", "-f", "-", "-n", "ml")
	if r.Code != ExitFailure {
		t.Errorf("exit %d, want %d", r.Code, ExitFailure)
	}
	if r.Out != "" {
		t.Errorf("rendered an object without a name:\n%s", r.Out)
	}
	if want := "<stdin>: document 1 (line 1): Deployment in namespace ml has no metadata.name"; !strings.Contains(r.ErrOut, want) {
		t.Errorf("stderr does not contain %q:\n%s", want, r.ErrOut)
	}
}

// TestRenderOneNameTwoWorkloads renders a Deployment and a StatefulSet of
// one name: both would make ScaledObject ml/api, and applied, the second
// would replace the first. The second is refused, naming both.
func TestRenderOneNameTwoWorkloads(t *testing.T) {
	const body = `metadata:
  name: api
  namespace: ml
  annotations:
` + gatewayWorkloadTail
	in := "apiVersion: apps/v1\nkind: Deployment\n" + body + "---\napiVersion: apps/v1\nkind: StatefulSet\n" + body
	r := runCLI(t, in, "render", "-f", "-")
	if r.Code != ExitFailure {
		t.Errorf("exit %d, want %d", r.Code, ExitFailure)
	}
	if n := strings.Count(r.Out, "kind: ScaledObject"); n != 1 {
		t.Errorf("%d ScaledObjects, want the first workload's only:\n%s", n, r.Out)
	}
	if want := "<stdin>: document 2 (line 14): StatefulSet ml/api would make ScaledObject ml/api, which Deployment ml/api makes too"; !strings.Contains(r.ErrOut, want) {
		t.Errorf("stderr does not contain %q:\n%s", want, r.ErrOut)
	}
}

// TestRenderOldAPIVersion renders an opted-in Deployment of
// extensions/v1beta1: the warning says the apiVersion is the problem.
func TestRenderOldAPIVersion(t *testing.T) {
	in := `apiVersion: extensions/v1beta1
kind: Deployment
metadata:
  name: api
  namespace: ml
  annotations:
    mlscale.io/autoscale: "true"
`
	r := runCLI(t, in, "render", "-f", "-")
	if r.Code != ExitOK || r.Out != "" {
		t.Errorf("exit %d, stdout:\n%s", r.Code, r.Out)
	}
	if want := "Deployment ml/api: mlscale.io/autoscale is set, but apiVersion extensions/v1beta1 is not one mlscale scales"; !strings.Contains(r.ErrOut, want) || !strings.Contains(r.ErrOut, "use apps/v1") {
		t.Errorf("stderr does not contain %q and the fix:\n%s", want, r.ErrOut)
	}
}

func isWorkloadDoc(d manifest.Document) bool {
	_, ok := workload.KindOf(d.GVK().GroupKind())
	return ok
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

// TestNeverSilentlyWrongOffline: render and policy eval refuse what
// admission refuses, with the same message: a workload that could never
// wake from zero, an unknown key; and render says what a trigger reads.
func TestNeverSilentlyWrongOffline(t *testing.T) {
	const llm = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm
  namespace: ml
  annotations:
    mlscale.io/autoscale: "true"
    mlscale.io/profile: vllm
    mlscale.io/scale-to-zero: "true"
spec:
  template:
    spec:
      containers:
      - name: vllm
        image: vllm
        resources: {limits: {nvidia.com/gpu: "1"}}
`
	typo := strings.Replace(llm, `    mlscale.io/profile: vllm`, "    mlscale.io/profile: vllm\n    mlscale.io/cooldown-period: \"5m\"", 1)
	for _, tc := range []struct{ in, want string }{
		{llm, `mlscale: Deployment ml/llm: mlscale.io/scale-to-zero: "true" asks for scale-to-zero, but no trigger can wake the workload from zero replicas: trigger vllm: vllm:num_requests_waiting is exported by vLLM's own pods`},
		{typo, `mlscale: Deployment ml/llm: mlscale.io/cooldown-period: "5m" is not an annotation mlscale knows (did you mean mlscale.io/cooldown?)`},
	} {
		for _, args := range [][]string{{"render", "-f", "-"}, {"policy", "eval", "-f", "-"}} {
			r := runCLI(t, tc.in, args...)
			if r.Code != ExitFailure || !strings.Contains(r.ErrOut, tc.want) {
				t.Errorf("%v: exit %d, want 1 and %q in stderr:\n%s", args, r.Code, tc.want, r.ErrOut)
			}
		}
	}
	fixed := strings.Replace(llm, `    mlscale.io/scale-to-zero: "true"`, "    mlscale.io/scale-to-zero: \"true\"\n    mlscale.io/wake-query: sum(gateway_pending{backend=\"llm\"})", 1)
	r := runCLI(t, fixed, "render", "-f", "-")
	if r.Code != ExitOK || !strings.Contains(r.Out, "# trigger wake reads gateway_pending: ") || !strings.Contains(r.Out, "# trigger gpu reads namespace_workload_pod:mlscale_gpu_utilization_percent:avg: recorded by mlscale's rules") {
		t.Errorf("exit %d; stdout does not say what the triggers read:\n%s\nstderr:\n%s", r.Code, r.Out, r.ErrOut)
	}
	if r = runCLI(t, strings.Replace(typo, `    mlscale.io/scale-to-zero: "true"`+"\n", "", 1), "render", "-f", "-", "--unknown-annotations", "warn"); !strings.Contains(r.ErrOut, "Warning: Deployment ml/llm: unknown annotation mlscale.io/cooldown-period is ignored; did you mean mlscale.io/cooldown?") {
		t.Errorf("--unknown-annotations=warn: stderr %q", r.ErrOut)
	}
}

// TestNamespaceMismatch: -n that contradicts a manifest's own namespace is
// refused for that object, as kubectl refuses it, in render and policy
// eval; without -n the manifest's namespace holds.
func TestNamespaceMismatch(t *testing.T) {
	const in = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ml
  annotations: {mlscale.io/autoscale: "true", mlscale.io/cpu-target: "70"}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web, resources: {requests: {cpu: 100m}}}]}
`
	want := `<stdin>: document 1 (line 1): the object's namespace "ml" does not match --namespace "team"; remove -n, or pass -n ml`
	for _, args := range [][]string{{"render"}, {"policy", "eval"}} {
		r := runCLI(t, in, append(args, "-f", "-", "-n", "team")...)
		if r.Code != ExitFailure || !strings.Contains(r.ErrOut, want) {
			t.Errorf("%v -n team: exit %d, stderr %q, want %q", args, r.Code, r.ErrOut, want)
		}
		for _, ns := range [][]string{nil, {"-n", "ml"}} {
			if r := runCLI(t, in, append(append(args, "-f", "-"), ns...)...); r.Code != ExitOK {
				t.Errorf("%v %v: exit %d, stderr %q", args, ns, r.Code, r.ErrOut)
			}
		}
	}
}
