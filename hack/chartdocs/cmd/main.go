// Command chartdocs writes (or, with -check, verifies) the Helm chart's
// generated files: values.schema.json and README.md from values.yaml, and
// the copies of config/rbac/role.yaml, config/webhook/manifests.yaml and
// deploy/prometheus/*.yaml.
// `make chart-docs` and `make chart-docs-check` run it.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/mlscale/mlscale/hack/chartdocs"
)

func main() {
	chart := flag.String("chart", "charts/mlscale", "chart directory")
	root := flag.String("root", ".", "the repository (config/ with controller-gen's output, deploy/prometheus/)")
	check := flag.Bool("check", false, "fail when the generated files differ from what is checked in, instead of writing them")
	flag.Parse()
	files, err := chartdocs.Generate(*chart, *root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartdocs:", err)
		os.Exit(1)
	}
	if *check {
		if stale := chartdocs.Stale(*chart, files); len(stale) > 0 {
			fmt.Fprintf(os.Stderr, "chartdocs: stale in %s: %s; run `make chart-docs`\n", *chart, strings.Join(stale, ", "))
			os.Exit(1)
		}
		return
	}
	if err := chartdocs.Write(*chart, files); err != nil {
		fmt.Fprintln(os.Stderr, "chartdocs:", err)
		os.Exit(1)
	}
}
