package render

import (
	"fmt"
	"slices"
	"strings"

	promparser "github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/mlscale/mlscale/internal/intent"
	"github.com/mlscale/mlscale/internal/workload"
)

// Need is what one Prometheus trigger reads: the series its query selects
// and what records them. A trigger on a series nobody records reads nothing
// (KEDA takes the missing value as 0, ignoreNullValues), so mlscale says
// what must run for it.
type Need struct {
	// Trigger is the trigger's name.
	Trigger string
	// Server is the Prometheus server the trigger queries.
	Server string
	// Query is the trigger's query.
	Query string
	// Series are the metric names the query selects, sorted.
	Series []string
	// Source says what records them.
	Source string
	// Auth is true when the trigger reaches Prometheus with credentials
	// of a TriggerAuthentication.
	Auth bool
}

// String is the need in one line: "trigger gpu reads SERIES: SOURCE".
func (n Need) String() string {
	return fmt.Sprintf("trigger %s reads %s: %s", n.Trigger, strings.Join(n.Series, ", "), n.Source)
}

// GPUSeriesSource says what records GPUUtilizationMetric.
const GPUSeriesSource = "recorded by mlscale's rules (deploy/prometheus/rules/mlscale.rules.yaml; Helm: metrics.prometheusRule.enabled) from the metrics of mlscale collector on the GPU nodes (Helm: collector.enabled); without both the trigger reads nothing"

// needs lists what the rendered object's Prometheus triggers read.
func (r *renderer) needs(obj client.Object) []Need { return NeedsOf(obj) }

// NeedsOf lists what the Prometheus triggers of a ScaledObject or ScaledJob
// read. Triggers with an authenticationRef are listed too; Need.Auth says so.
func NeedsOf(obj client.Object) []Need {
	_, _, ts := KEDASpec(obj)
	var out []Need
	for _, t := range ts {
		if t.Type != "prometheus" {
			continue
		}
		n := Need{Trigger: t.Name, Server: t.Metadata["serverAddress"], Query: t.Metadata["query"], Auth: t.AuthenticationRef != nil}
		if n.Trigger == "" {
			n.Trigger = t.Type
		}
		n.Series = seriesOf(n.Query)
		n.Source = seriesSource(n.Series)
		out = append(out, n)
	}
	return out
}

// seriesOf lists the metric names a query selects.
func seriesOf(query string) []string {
	expr, err := intent.ParsePromQL(query)
	if err != nil {
		return nil
	}
	var names []string
	promparser.Inspect(expr, func(node promparser.Node, _ []promparser.Node) error {
		if vs, ok := node.(*promparser.VectorSelector); ok {
			names = append(names, orAnyMetric(metricName(vs)))
		}
		return nil
	})
	slices.Sort(names)
	return slices.Compact(names)
}

// seriesSource says what records the series.
func seriesSource(series []string) string {
	for _, s := range series {
		if s == GPUUtilizationMetric {
			return GPUSeriesSource
		}
		for _, f := range SelfFamilies {
			if strings.HasPrefix(s, f.Prefix) {
				return fmt.Sprintf("exported by %s's pods and scraped by Prometheus", f.Stack)
			}
		}
	}
	return "exported by whatever serves these metrics and scraped by Prometheus; mlscale's reconciler checks that the query returns a series"
}

// Misplaced warns about mlscale.io/ keys where mlscale does not read them:
// as labels of the workload, or on its pod template. mlscale reads the
// workload's own metadata.annotations only.
func Misplaced(w workload.Workload) []string {
	var out []string
	add := func(m map[string]string, where string) {
		keys := make([]string, 0, len(m))
		for k := range m {
			if strings.HasPrefix(k, intent.Prefix) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			out = append(out, fmt.Sprintf("%s is set %s, where mlscale does not read it; move it to the %s's metadata.annotations", k, where, w.GVK.Kind))
		}
	}
	add(w.Labels, "as a label of the "+w.GVK.Kind+" (metadata.labels)")
	add(w.Template.Annotations, "on the pod template (spec.template.metadata.annotations)")
	add(w.Template.Labels, "as a pod template label (spec.template.metadata.labels)")
	return out
}
