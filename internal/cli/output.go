package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/internal/render"
)

// list is the JSON output of render: a kubectl-compatible v1 List.
type list struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Items      []map[string]any `json:"items"`
}

// rendered is one object render prints, with what its triggers read.
type rendered struct {
	obj   client.Object
	needs []render.Need
}

// printObjects writes the objects in the output format: a YAML stream with
// "---" before each object, preceded by comment lines saying which series
// each Prometheus trigger reads and what records them, or one JSON v1 List.
func printObjects(w io.Writer, format string, objects []rendered) error {
	items := make([]map[string]any, 0, len(objects))
	for _, r := range objects {
		obj := r.obj
		// The same form as the renderer's golden files.
		u, err := render.ToUnstructured(obj)
		if err != nil {
			return err
		}
		items = append(items, u.Object)
	}
	switch format {
	case outputJSON:
		b, err := json.MarshalIndent(list{APIVersion: "v1", Kind: "List", Items: items}, "", "  ")
		if err != nil {
			return fmt.Errorf("writing JSON: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	default:
		for i, m := range items {
			b, err := yaml.Marshal(m)
			if err != nil {
				return fmt.Errorf("writing YAML: %w", err)
			}
			var notes strings.Builder
			for _, n := range objects[i].needs {
				fmt.Fprintf(&notes, "# %s\n", n)
			}
			if _, err := fmt.Fprintf(w, "---\n%s%s", notes.String(), b); err != nil {
				return err
			}
		}
		return nil
	}
}
