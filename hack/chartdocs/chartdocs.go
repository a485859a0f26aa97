// Package chartdocs generates the Helm chart's values.schema.json and
// README.md from its commented values.yaml, and copies the manifests that
// controller-gen generates into config/ (RBAC rules, webhook
// configurations) into the chart, whose templates read them. `make
// chart-docs` writes the files; `make chart-docs-check` and test/helm fail
// when they are stale. The Prometheus rule files of deploy/prometheus are
// copied too (the chart wraps them in its PrometheusRule).
//
// values.yaml documents each key by the comment lines right above it. Lines
// of that comment that start with "@" are schema hints rather than prose:
//
//	@type object|array|string|integer|number|boolean|null (the type, when the default does not show it; a comma list allows several)
//	@enum A,B,C                                         (allowed values)
//	@minimum N, @maximum N                              (bounds of a number)
//	@pattern REGEXP                                     (pattern of a string)
//	@items TYPE                                         (type of a list's items)
//	@itemPattern REGEXP                                 (pattern of a list's string items)
//	@values {JSON schema}                               (schema of every value of a free-form object, e.g. {"enum":["a","b"]})
//
// A mapping with child keys becomes an object schema that allows only
// those keys; "@type object" makes a free-form object (labels, resources).
package chartdocs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"

	yaml "go.yaml.in/yaml/v3"

	"github.com/mlscale/mlscale/internal/policy"
	"github.com/mlscale/mlscale/internal/vap"
)

// Generated files, relative to the chart directory.
const (
	SchemaFile      = "values.schema.json"
	ReadmeFile      = "README.md"
	ReadmeTemplate  = "README.md.gotmpl"
	GeneratedRole   = "files/generated/role.yaml"
	GeneratedHooks  = "files/generated/webhook.yaml"
	valuesFile      = "values.yaml"
	generatedHeader = "# Copied from %s by `make chart-docs`; do not edit (edit the markers, then run `make manifests chart-docs`).\n"
)

// GeneratedAPIServerPolicies holds the ValidatingAdmissionPolicies and
// bindings of `mlscale policy vap` with the default configuration; the
// chart takes the policies from it and makes the bindings from its values.
const GeneratedAPIServerPolicies = "files/generated/validatingadmissionpolicies.yaml"

// copies maps chart files to the files under config/ they copy.
var copies = []struct{ chart, config string }{
	{GeneratedRole, "rbac/role.yaml"},
	{GeneratedHooks, "webhook/manifests.yaml"},
}

// Value is one documented key of values.yaml.
type Value struct {
	// Path is the dotted key, e.g. webhook.replicas.
	Path string
	// Type is the JSON schema type.
	Type string
	// Default is the default as compact JSON.
	Default string
	// Description is the comment above the key, hints removed.
	Description string
}

// GeneratedRules is the chart directory that holds copies of the
// Prometheus rule files of the repository's deploy/prometheus.
const GeneratedRules = "files/generated/prometheus"

// Generate returns the generated files of the chart in chartDir, keyed by
// their path relative to it; root is the repository (config/ and
// deploy/prometheus/rules/ are read from it).
func Generate(chartDir, root string) (map[string][]byte, error) {
	configDir := filepath.Join(root, "config")
	src, err := os.ReadFile(filepath.Join(chartDir, valuesFile))
	if err != nil {
		return nil, fmt.Errorf("reading the chart's values: %w", err)
	}
	schema, values, err := Schema(src)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{SchemaFile: schema}
	tmpl, err := os.ReadFile(filepath.Join(chartDir, ReadmeTemplate))
	if err != nil {
		return nil, fmt.Errorf("reading the README template: %w", err)
	}
	readme, err := Readme(string(tmpl), values)
	if err != nil {
		return nil, err
	}
	out[ReadmeFile] = readme
	for _, c := range copies {
		b, err := os.ReadFile(filepath.Join(configDir, c.config))
		if err != nil {
			return nil, fmt.Errorf("reading the generated manifests: %w", err)
		}
		out[c.chart] = append([]byte(fmt.Sprintf(generatedHeader, filepath.ToSlash(filepath.Join("config", c.config)))), b...)
	}
	vaps, err := apiServerPolicies()
	if err != nil {
		return nil, err
	}
	out[GeneratedAPIServerPolicies] = vaps
	rules, err := filepath.Glob(filepath.Join(root, "deploy", "prometheus", "rules", "*.yaml"))
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		if strings.HasSuffix(r, ".test.yaml") {
			continue // promtool's unit tests of the rules
		}
		b, err := os.ReadFile(r)
		if err != nil {
			return nil, fmt.Errorf("reading the Prometheus rules: %w", err)
		}
		rel := filepath.ToSlash(filepath.Join("deploy", "prometheus", "rules", filepath.Base(r)))
		out[GeneratedRules+"/"+filepath.Base(r)] = append([]byte(fmt.Sprintf(generatedHeader, rel)), b...)
	}
	return out, nil
}

// apiServerPolicies is the content of GeneratedAPIServerPolicies: the
// output of `mlscale policy vap` for the default configuration.
func apiServerPolicies() ([]byte, error) {
	objs, err := vap.Generate(policy.Config{}, vap.Options{})
	if err != nil {
		return nil, err
	}
	b, err := vap.YAML(objs)
	if err != nil {
		return nil, err
	}
	header := "# Generated from internal/vap by `make chart-docs` (`mlscale policy vap` with the default\n# configuration); do not edit.\n"
	return append([]byte(header), b...), nil
}

// Write writes the generated files into chartDir, and removes copies of
// Prometheus rule files that deploy/prometheus no longer has.
func Write(chartDir string, files map[string][]byte) error {
	for _, name := range extraRules(chartDir, files) {
		if err := os.Remove(filepath.Join(chartDir, name)); err != nil {
			return err
		}
	}
	for name, b := range files {
		p := filepath.Join(chartDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil { //nolint:gosec // checked-in docs, world-readable like the rest of the tree
			return err
		}
	}
	return nil
}

// extraRules lists the rule copies in chartDir that files does not have.
func extraRules(chartDir string, files map[string][]byte) []string {
	have, _ := filepath.Glob(filepath.Join(chartDir, GeneratedRules, "*.yaml"))
	var extra []string
	for _, h := range have {
		name := GeneratedRules + "/" + filepath.Base(h)
		if _, ok := files[name]; !ok {
			extra = append(extra, name)
		}
	}
	return extra
}

// Stale returns the generated files whose content in chartDir differs from
// files (or which are missing, or left over), sorted.
func Stale(chartDir string, files map[string][]byte) []string {
	stale := extraRules(chartDir, files)
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(chartDir, name))
		if err != nil || !bytes.Equal(got, want) {
			stale = append(stale, name)
		}
	}
	slices.Sort(stale)
	return stale
}

// schemaNode is a JSON schema, with properties in values.yaml's order.
type schemaNode struct {
	fields []field
}

type field struct {
	key   string
	value any
}

// MarshalJSON writes the fields in order.
func (s *schemaNode) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range s.fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (s *schemaNode) set(k string, v any) { s.fields = append(s.fields, field{k, v}) }

// Schema returns values.schema.json for values.yaml's source, and the
// documented values in file order. Every key must have a description.
func Schema(src []byte) ([]byte, []Value, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, nil, fmt.Errorf("parsing values.yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, errors.New("values.yaml: not a mapping")
	}
	var values []Value
	root, err := object(doc.Content[0], "", &values)
	if err != nil {
		return nil, nil, err
	}
	top := &schemaNode{}
	top.set("$schema", "https://json-schema.org/draft-07/schema#")
	top.set("title", "Values of the mlscale chart")
	top.fields = append(top.fields, root.fields...)
	b, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	return append(b, '\n'), values, nil
}

// object is the schema of a mapping with documented keys.
func object(n *yaml.Node, prefix string, values *[]Value) (*schemaNode, error) {
	s := &schemaNode{}
	s.set("type", "object")
	props := &schemaNode{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := k.Value
		if prefix != "" {
			path = prefix + "." + k.Value
		}
		desc, hints, err := comment(k.HeadComment)
		if err != nil {
			return nil, fmt.Errorf("values.yaml: %s: %w", path, err)
		}
		if desc == "" {
			return nil, fmt.Errorf("values.yaml: %s (line %d) has no comment: document every key", path, k.Line)
		}
		p, err := property(v, path, desc, hints, values)
		if err != nil {
			return nil, err
		}
		props.set(k.Value, p)
	}
	s.set("properties", props)
	s.set("additionalProperties", false)
	return s, nil
}

// property is the schema of one key; leaves are added to values.
func property(v *yaml.Node, path, desc string, hints map[string]string, values *[]Value) (*schemaNode, error) {
	typ := hints["type"]
	if typ == "" {
		typ = nodeType(v)
	}
	if v.Kind == yaml.MappingNode && typ == "object" && hints["type"] == "" && len(v.Content) > 0 {
		// A structured object: its keys are documented one by one.
		*values = append(*values, Value{Path: path, Type: "object", Description: desc})
		s, err := object(v, path, values)
		if err != nil {
			return nil, err
		}
		s.fields = append([]field{{"description", desc}}, s.fields...)
		return s, nil
	}
	var def any
	if err := v.Decode(&def); err != nil {
		return nil, fmt.Errorf("values.yaml: %s: %w", path, err)
	}
	defJSON, err := json.Marshal(def)
	if err != nil {
		return nil, fmt.Errorf("values.yaml: %s: %w", path, err)
	}
	*values = append(*values, Value{Path: path, Type: typ, Default: string(defJSON), Description: desc})
	s := &schemaNode{}
	s.set("description", desc)
	if strings.Contains(typ, ",") {
		s.set("type", strings.Split(typ, ","))
	} else {
		s.set("type", typ)
	}
	if e := hints["enum"]; e != "" {
		s.set("enum", strings.Split(e, ","))
	}
	for _, h := range []string{"minimum", "maximum"} {
		if x := hints[h]; x != "" {
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return nil, fmt.Errorf("values.yaml: %s: @%s %q is not a number", path, h, x)
			}
			s.set(h, f)
		}
	}
	if p := hints["pattern"]; p != "" {
		s.set("pattern", p)
	}
	if it := hints["items"]; it != "" {
		items := map[string]string{"type": it}
		if p := hints["itemPattern"]; p != "" {
			items["pattern"] = p
		}
		s.set("items", items)
	} else if hints["itemPattern"] != "" {
		return nil, fmt.Errorf("values.yaml: %s: @itemPattern needs @items string", path)
	}
	if vs := hints["values"]; vs != "" {
		if typ != "object" {
			return nil, fmt.Errorf("values.yaml: %s: @values needs an object, not %s", path, typ)
		}
		var spec map[string]any
		if err := json.Unmarshal([]byte(vs), &spec); err != nil {
			return nil, fmt.Errorf("values.yaml: %s: @values %s is not a JSON schema object: %w", path, vs, err)
		}
		s.set("additionalProperties", json.RawMessage(vs))
	}
	s.set("default", json.RawMessage(defJSON))
	return s, nil
}

// nodeType is the JSON schema type of a YAML value.
func nodeType(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "object"
	case yaml.SequenceNode:
		return "array"
	case yaml.ScalarNode:
		switch v.Tag {
		case "!!int":
			return "integer"
		case "!!float":
			return "number"
		case "!!bool":
			return "boolean"
		case "!!null":
			return "null"
		}
	}
	return "string"
}

// knownHints are the schema hints a comment may carry.
var knownHints = map[string]bool{"type": true, "enum": true, "minimum": true, "maximum": true, "pattern": true, "items": true, "itemPattern": true, "values": true}

// comment splits a head comment into prose and hints. Only the last
// paragraph (the lines right above the key) counts.
func comment(c string) (string, map[string]string, error) {
	if i := strings.LastIndex(c, "\n\n"); i >= 0 {
		c = c[i+2:]
	}
	hints := map[string]string{}
	var prose []string
	for _, line := range strings.Split(c, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		if rest, ok := strings.CutPrefix(line, "@"); ok {
			name, arg, _ := strings.Cut(rest, " ")
			if !knownHints[name] {
				return "", nil, fmt.Errorf("unknown schema hint @%s", name)
			}
			hints[name] = strings.TrimSpace(arg)
			continue
		}
		if line != "" {
			prose = append(prose, line)
		}
	}
	return strings.Join(prose, " "), hints, nil
}

// Readme executes the chart README template with the values table
// (.Values, a Markdown table).
func Readme(tmpl string, values []Value) ([]byte, error) {
	t, err := template.New(ReadmeTemplate).Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("parsing the README template: %w", err)
	}
	var table strings.Builder
	table.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
	for _, v := range values {
		def := "`" + v.Default + "`"
		if v.Type == "object" && v.Default == "" {
			def = ""
		}
		desc := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(v.Description)
		fmt.Fprintf(&table, "| `%s` | %s | %s | %s |\n", v.Path, v.Type, strings.ReplaceAll(def, "|", `\|`), desc)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, map[string]string{"Values": table.String()}); err != nil {
		return nil, fmt.Errorf("executing the README template: %w", err)
	}
	return b.Bytes(), nil
}
