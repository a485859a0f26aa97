package chartdocs

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSchema(t *testing.T) {
	src := []byte(`# File header, not a key's comment.

# Replicas of the thing.
# @minimum 1
replicas: 2
# The mode.
# @enum a,b
mode: a
# Free-form labels.
# @type object
labels:
  team: ml
# A nullable budget.
# @type integer,null
budget: null
# Nested settings.
nested:
  # A list of names.
  # @items string
  names: []
`)
	b, values, err := Schema(src)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		AdditionalProperties bool `json:"additionalProperties"`
		Properties           map[string]struct {
			Type                 any             `json:"type"`
			Description          string          `json:"description"`
			Minimum              *float64        `json:"minimum"`
			Enum                 []string        `json:"enum"`
			Default              json.RawMessage `json:"default"`
			AdditionalProperties *bool           `json:"additionalProperties"`
			Properties           map[string]struct {
				Items map[string]string `json:"items"`
			} `json:"properties"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	p := s.Properties
	if s.AdditionalProperties || p["replicas"].Type != "integer" || p["replicas"].Minimum == nil || *p["replicas"].Minimum != 1 || string(p["replicas"].Default) != "2" {
		t.Errorf("replicas: %+v", p["replicas"])
	}
	if p["replicas"].Description != "Replicas of the thing." {
		t.Errorf("description %q: the file header must not leak into the first key", p["replicas"].Description)
	}
	if strings.Join(p["mode"].Enum, ",") != "a,b" {
		t.Errorf("mode enum %v", p["mode"].Enum)
	}
	if p["labels"].Type != "object" || p["labels"].AdditionalProperties != nil {
		t.Errorf("labels must be a free-form object: %+v", p["labels"])
	}
	if tt, ok := p["budget"].Type.([]any); !ok || len(tt) != 2 {
		t.Errorf("budget type %v, want [integer null]", p["budget"].Type)
	}
	if p["nested"].AdditionalProperties == nil || *p["nested"].AdditionalProperties || p["nested"].Properties["names"].Items["type"] != "string" {
		t.Errorf("nested: %+v", p["nested"])
	}
	var paths []string
	for _, v := range values {
		paths = append(paths, v.Path)
	}
	if got := strings.Join(paths, " "); got != "replicas mode labels budget nested nested.names" {
		t.Errorf("values in order: %s", got)
	}
	readme, err := Readme("{{ .Values }}", values)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "| `nested.names` | array | `[]` | A list of names. |") {
		t.Errorf("README table:\n%s", readme)
	}
}

func TestSchemaErrors(t *testing.T) {
	for src, want := range map[string]string{
		"a: 1\n":                     "a (line 1) has no comment",
		"# A.\n# @bogus x\na: 1\n":   "unknown schema hint @bogus",
		"# A.\n# @minimum x\na: 1\n": "@minimum \"x\" is not a number",
		"- 1\n":                      "not a mapping",
		"# A.\n# @values {\"enum\": [\"x\"]}\na: 1\n":   "@values needs an object",
		"# A.\n# @type object\n# @values enum\na: {}\n": "@values enum is not a JSON schema object",
	} {
		if _, _, err := Schema([]byte(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Schema(%q): %v, want %q", src, err, want)
		}
	}
}

// TestSchemaValues checks @values: the schema of every value of a
// free-form object (policy actions, budgets), so that helm refuses a bad
// value instead of the pods crash-looping on it.
func TestSchemaValues(t *testing.T) {
	src := []byte(`# Action per policy.
# @type object
# @values {"type": "string", "enum": ["deny", "warn"]}
actions: {}
`)
	b, _, err := Schema(src)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]struct {
			AdditionalProperties struct {
				Type string   `json:"type"`
				Enum []string `json:"enum"`
			} `json:"additionalProperties"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if ap := s.Properties["actions"].AdditionalProperties; ap.Type != "string" || strings.Join(ap.Enum, ",") != "deny,warn" {
		t.Errorf("actions additionalProperties %+v, want the @values schema\n%s", ap, b)
	}
}
