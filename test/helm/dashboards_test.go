package helm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promparser "github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/mlscale/mlscale/collector"
	"github.com/mlscale/mlscale/predictor/floorwriter"
	"github.com/mlscale/mlscale/webhook/audit"
	"github.com/mlscale/mlscale/webhook/reconciler"
	"github.com/mlscale/mlscale/webhook/userpolicy"
	"github.com/mlscale/mlscale/webhook/validate"
)

// externalMetrics are the metrics the dashboards may use that other
// software exports, by source: the prerequisites the chart's README names
// (TestDashboardPrerequisitesDocumented). Keep this list in step with the
// dashboards: the test fails on an entry no dashboard uses.
var externalMetrics = map[string]string{
	// KEDA's operator (keda.sh/docs/latest/integrations/prometheus).
	"keda_scaler_metrics_value":       "KEDA",
	"keda_scaler_active":              "KEDA",
	"keda_scaled_object_errors_total": "KEDA",
	// kube-state-metrics.
	"kube_namespace_labels":                                "kube-state-metrics",
	"kube_deployment_spec_replicas":                        "kube-state-metrics",
	"kube_deployment_status_replicas":                      "kube-state-metrics",
	"kube_statefulset_replicas":                            "kube-state-metrics",
	"kube_statefulset_status_replicas":                     "kube-state-metrics",
	"kube_horizontalpodautoscaler_status_current_replicas": "kube-state-metrics",
	"kube_horizontalpodautoscaler_status_desired_replicas": "kube-state-metrics",
	// controller-runtime's webhook server inside `mlscale webhook`
	// (registered at package init in an internal package, so not
	// reachable from here).
	"controller_runtime_webhook_requests_total": "controller-runtime",
	// vLLM's OpenAI server.
	"vllm:num_requests_waiting": "vLLM",
}

// recorder is a Registerer that records the names of the metrics
// registered through it and passes them on.
type recorder struct {
	prometheus.Registerer
	prometheus.Gatherer
	mu    sync.Mutex
	names map[string]bool
}

// Register records c's metric names and registers it with the wrapped
// registry.
func (r *recorder) Register(c prometheus.Collector) error {
	r.record(c)
	return r.Registerer.Register(c)
}

// MustRegister registers cs, panicking on an error.
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) record(c prometheus.Collector) {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range ch {
		if m := descName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
}

// registered records every metric registered in controller-runtime's
// registry (where `mlscale webhook` serves its metrics from) from
// TestMain on.
var registered = &recorder{names: map[string]bool{}}

func TestMain(m *testing.M) {
	registered.Registerer, registered.Gatherer = crmetrics.Registry, crmetrics.Registry
	crmetrics.Registry = registered
	os.Exit(m.Run())
}

// projectMetrics returns the names of the metrics mlscale's packages
// register: the reconciler's, the validating webhook's, the policy audit's and loader's (in
// controller-runtime's registry), the predictor's and the collector's; and
// the series mlscale's recording rules (deploy/prometheus, in the chart's
// PrometheusRule) record.
func projectMetrics(t *testing.T) map[string]bool {
	t.Helper()
	if _, err := reconciler.DefaultMetrics(); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.DefaultMetrics(); err != nil {
		t.Fatal(err)
	}
	if _, err := userpolicy.DefaultMetrics(); err != nil {
		t.Fatal(err)
	}
	if _, err := validate.DefaultMetrics(); err != nil {
		t.Fatal(err)
	}
	own := &recorder{Registerer: prometheus.NewRegistry(), names: map[string]bool{}}
	if err := floorwriter.NewMetrics().Register(own); err != nil {
		t.Fatal(err)
	}
	own.record(collector.New(collector.Config{NodeName: "node"}, nil, nil, nil))
	names := map[string]bool{}
	rules, err := filepath.Glob(filepath.Join(chartDir(t), "files", "generated", "prometheus", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rules {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf struct {
			Groups []struct {
				Rules []struct {
					Record string `json:"record"`
				} `json:"rules"`
			} `json:"groups"`
		}
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					names[r.Record] = true
				}
			}
		}
	}
	for _, r := range []*recorder{registered, own} {
		r.mu.Lock()
		for n := range r.names {
			names[n] = true
		}
		r.mu.Unlock()
	}
	return names
}

// promQL is Prometheus's own PromQL parser, with the features a Prometheus
// server has without feature flags.
var promQL = promparser.NewParser(promparser.Options{})

var (
	// grafanaIntervals are Grafana's interval variables, which stand for a
	// duration.
	grafanaIntervals = regexp.MustCompile(`\$\{?__(rate_interval|interval|range)\}?`)
	// grafanaVariables are the dashboards' own variables ($namespace,
	// ${namespace}, ${namespace:regex}, [[namespace]]), which the dashboards
	// use in label matchers only.
	grafanaVariables = regexp.MustCompile(`\$\{\w+(:\w+)?\}|\[\[\w+\]\]|\$\w+`)
	// labelValues is Grafana's label_values(selector, label) variable query.
	labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
)

// parseQuery parses a dashboard query with Prometheus's parser, after
// replacing Grafana's variables with valid PromQL: the intervals with 5m,
// the other variables with the regexp ".*" (they sit in label matchers; a
// variable elsewhere fails to parse, and the test says so). A
// label_values(selector, label) variable query is returned as its selector.
func parseQuery(q string) (promparser.Expr, error) {
	e := grafanaIntervals.ReplaceAllString(q, "5m")
	e = grafanaVariables.ReplaceAllString(e, ".*")
	if m := labelValues.FindStringSubmatch(e); m != nil {
		e = m[1]
	}
	return promQL.ParseExpr(e)
}

// metricNames returns the metric names of the selectors of expr, and an
// error for a selector without one (the test cannot check what it reads).
func metricNames(expr promparser.Expr) ([]string, error) {
	var names []string
	var err error
	promparser.Inspect(expr, func(n promparser.Node, _ []promparser.Node) error {
		vs, ok := n.(*promparser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			err = fmt.Errorf("selector %s names no metric", vs)
		}
		names = append(names, name)
		return nil
	})
	return names, err
}

func TestParseQuery(t *testing.T) {
	for q, want := range map[string][]string{
		`sum by (namespace, kind) (mlscale_keda_objects{namespace=~"$namespace"})`:                                 {"mlscale_keda_objects"},
		`histogram_quantile(0.99, sum by (le) (rate(x_bucket{a="b{c}"}[5m]))) > 2.5`:                               {"x_bucket"},
		`sum(rate(a_total[1h])) * 3600 / on(pod) group_left(node) b`:                                               {"a_total", "b"},
		`label_values(kube_namespace_labels, namespace)`:                                                           {"kube_namespace_labels"},
		`label_values(kube_deployment_spec_replicas{namespace=~"${namespace:regex}"}, deployment)`:                 {"kube_deployment_spec_replicas"},
		`sum(vllm:num_requests_waiting) > bool 0 and up offset 5m`:                                                 {"vllm:num_requests_waiting", "up"},
		`sum(increase(x_total{namespace=~"[[namespace]]"}[$__rate_interval]))`:                                     {"x_total"},
		`max by (namespace, workload, reason) (mlscale_predictor_fallback{namespace=~"$namespace"}) == 1e3`:        {"mlscale_predictor_fallback"},
		`{__name__="mlscale_policies_active"}`:                                                                     {"mlscale_policies_active"},
		`sum by (namespace) (rate(mlscale_gpu_allocated_cost_total{namespace=~"$namespace"}[${__rate_interval}]))`: {"mlscale_gpu_allocated_cost_total"},
	} {
		expr, err := parseQuery(q)
		if err != nil {
			t.Errorf("parseQuery(%q): %v", q, err)
			continue
		}
		if got, err := metricNames(expr); err != nil || !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %v, %v; want %v", q, got, err, want)
		}
	}
	// What is not PromQL fails, as Prometheus would refuse it.
	for _, q := range []string{`sum(rate(x[5m])`, `rate(x[$window])`, `x{a=~"$ns"} +`, `{job="a"}`} {
		expr, err := parseQuery(q)
		if err == nil {
			_, err = metricNames(expr)
		}
		if err == nil {
			t.Errorf("parseQuery(%q) accepted", q)
		}
	}
}

// dashboard is what the tests read of a Grafana dashboard.
type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

// panel is one panel of a dashboard.
type panel struct {
	Title       string `json:"title"`
	Type        string `json:"type"`
	FieldConfig struct {
		Defaults struct {
			Unit   string         `json:"unit"`
			Custom map[string]any `json:"custom"`
		} `json:"defaults"`
		Overrides []struct {
			Matcher struct {
				ID      string `json:"id"`
				Options any    `json:"options"`
			} `json:"matcher"`
			Properties []struct {
				ID    string `json:"id"`
				Value any    `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// property returns a field property of one query of the panel: the
// override matching its refId, else the defaults' (unit, or custom.X).
func (p panel) property(refID, id string) string {
	for _, o := range p.FieldConfig.Overrides {
		if o.Matcher.ID != "byFrameRefID" || o.Matcher.Options != refID {
			continue
		}
		for _, prop := range o.Properties {
			if prop.ID == id {
				return fmt.Sprint(prop.Value)
			}
		}
	}
	if id == "unit" {
		return p.FieldConfig.Defaults.Unit
	}
	if v, ok := p.FieldConfig.Defaults.Custom[strings.TrimPrefix(id, "custom.")]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

// readDashboard reads a dashboard JSON file.
func readDashboard(t *testing.T, path string) dashboard {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Errorf("%s: uid %q title %q with %d panels", path, d.UID, d.Title, len(d.Panels))
	}
	return d
}

// dashboardFiles returns the chart's dashboards.
func dashboardFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir(t), "files", "dashboards", "*.json"))
	if err != nil || len(files) != 3 {
		t.Fatalf("want 3 dashboards in charts/mlscale/files/dashboards, got %v (%v)", files, err)
	}
	return files
}

// dashboardQueries returns every PromQL query of a Grafana dashboard: the
// panels' targets and the query variables.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	d := readDashboard(t, path)
	var out []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", path, p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			// A plain string query, as older Grafana writes it.
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				t.Fatalf("%s: variable %s query: %v", path, v.Name, err)
			}
		}
		out = append(out, q.Query)
	}
	return out
}

// TestDashboardMetrics parses every query of the three dashboards (panels
// and variables) with Prometheus's PromQL parser and checks every metric
// name against the metrics mlscale's packages register (a histogram's
// _bucket, _sum and _count series included), the series its recording
// rules record, and the documented external metrics.
func TestDashboardMetrics(t *testing.T) {
	own := projectMetrics(t)
	for _, n := range []string{"mlscale_reconcile_total", "mlscale_predictor_floor_replicas", "mlscale_gpu_utilization_percent", "mlscale_policy_violations"} {
		if !own[n] {
			t.Fatalf("%s not found among the registered metrics %v: the gathering is broken", n, own)
		}
	}
	usedExternal := map[string]bool{}
	usedOwn := 0
	for _, f := range dashboardFiles(t) {
		for _, q := range dashboardQueries(t, f) {
			expr, err := parseQuery(q)
			if err != nil {
				t.Errorf("%s: query %q is not PromQL: %v", filepath.Base(f), q, err)
				continue
			}
			names, err := metricNames(expr)
			if err != nil {
				t.Errorf("%s: query %q: %v", filepath.Base(f), q, err)
			}
			if len(names) == 0 {
				t.Errorf("%s: query %q names no metric", filepath.Base(f), q)
			}
			for _, n := range names {
				base := n
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(n, suffix); ok && own[b] {
						base = b
					}
				}
				switch {
				case own[base]:
					usedOwn++
				case externalMetrics[n] != "":
					usedExternal[n] = true
				default:
					t.Errorf("%s: query %q uses %s, which mlscale does not record and externalMetrics does not list", filepath.Base(f), q, n)
				}
			}
		}
	}
	for n, src := range externalMetrics {
		if !usedExternal[n] {
			t.Errorf("externalMetrics lists %s (%s), which no dashboard uses", n, src)
		}
	}
	if usedOwn == 0 {
		t.Error("the dashboards use none of mlscale's metrics")
	}
	t.Logf("%d mlscale metrics registered", len(own))
}

// TestDashboardPrerequisitesDocumented checks that the chart's README names
// every external metric the dashboards read (by name or by a `prefix_*`
// pattern) and the software that exports it.
func TestDashboardPrerequisitesDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var patterns []string
	for _, m := range regexp.MustCompile("`([a-z_:]+)\\*`").FindAllStringSubmatch(readme, -1) {
		patterns = append(patterns, m[1])
	}
	for n, src := range externalMetrics {
		if !strings.Contains(readme, "`"+n+"`") && !slices.ContainsFunc(patterns, func(p string) bool { return strings.HasPrefix(n, p) }) {
			t.Errorf("charts/mlscale/README.md does not name %s (%s), which the dashboards read", n, src)
		}
		if !strings.Contains(readme, src) {
			t.Errorf("charts/mlscale/README.md does not name %s, which exports %s", src, n)
		}
	}
}

// timeUnits are Grafana's units for a duration.
var timeUnits = map[string]bool{"ns": true, "µs": true, "ms": true, "s": true, "m": true, "h": true, "d": true, "dtdurations": true, "dtdurationms": true, "dtdhms": true, "clocks": true, "clockms": true}

// yieldsSeconds reports whether expr is a duration in seconds: a
// histogram_quantile of a _seconds histogram, or a _seconds gauge through
// aggregations. Rates and ratios of seconds are not.
func yieldsSeconds(expr promparser.Expr) bool {
	switch e := expr.(type) {
	case *promparser.ParenExpr:
		return yieldsSeconds(e.Expr)
	case *promparser.AggregateExpr:
		switch e.Op {
		case promparser.COUNT, promparser.COUNT_VALUES, promparser.GROUP:
			return false
		}
		return yieldsSeconds(e.Expr)
	case *promparser.Call:
		if e.Func.Name != "histogram_quantile" || len(e.Args) != 2 {
			return false
		}
		names, _ := metricNames(e.Args[1])
		return slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, "_seconds_bucket") })
	case *promparser.VectorSelector:
		return strings.HasSuffix(e.Name, "_seconds")
	}
	return false
}

// TestDashboardUnits checks the panels' units: a query that yields seconds
// shows a duration unit and no other query does, so seconds and counts never
// share an axis; queries of one panel with different units sit on different
// axes (a field override with custom.axisPlacement); the cost panels use
// currencyUSD, which the chart replaces with dashboards.currency's unit.
func TestDashboardUnits(t *testing.T) {
	for _, f := range dashboardFiles(t) {
		d := readDashboard(t, f)
		for _, p := range d.Panels {
			units := map[string][]string{}
			for _, tg := range p.Targets {
				expr, err := parseQuery(tg.Expr)
				if err != nil {
					continue // TestDashboardMetrics reports it
				}
				unit := p.property(tg.RefID, "unit")
				where := fmt.Sprintf("%s: panel %q query %s (%s)", filepath.Base(f), p.Title, tg.RefID, tg.Expr)
				switch secs := yieldsSeconds(expr); {
				case secs && !timeUnits[unit]:
					t.Errorf("%s yields seconds, shown with unit %q", where, unit)
				case !secs && timeUnits[unit]:
					t.Errorf("%s does not yield seconds, shown with the duration unit %q", where, unit)
				}
				names, _ := metricNames(expr)
				if slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, "_cost") }) != (unit == "currencyUSD") {
					t.Errorf("%s: unit %q; cost queries, and only they, take currencyUSD (dashboards.currency replaces it)", where, unit)
				}
				units[unit] = append(units[unit], tg.RefID)
			}
			if len(units) < 2 {
				continue
			}
			for unit, refs := range units {
				if unit == p.FieldConfig.Defaults.Unit {
					continue
				}
				for _, ref := range refs {
					if axis := p.property(ref, "custom.axisPlacement"); axis != "right" && axis != "hidden" {
						t.Errorf("%s: panel %q shows query %s in %q on the axis of %q (axisPlacement %q); give it its own axis", filepath.Base(f), p.Title, ref, unit, p.FieldConfig.Defaults.Unit, axis)
					}
				}
			}
		}
	}
}

// TestDashboardScalePanels checks that every panel on Deployments'
// replicas shows StatefulSets' too: mlscale scales both.
func TestDashboardScalePanels(t *testing.T) {
	panels := 0
	for _, f := range dashboardFiles(t) {
		for _, p := range readDashboard(t, f).Panels {
			var deployments, statefulSets bool
			for _, tg := range p.Targets {
				expr, err := parseQuery(tg.Expr)
				if err != nil {
					continue
				}
				names, _ := metricNames(expr)
				for _, n := range names {
					deployments = deployments || strings.HasPrefix(n, "kube_deployment_")
					statefulSets = statefulSets || strings.HasPrefix(n, "kube_statefulset_")
				}
			}
			if deployments {
				panels++
				if !statefulSets {
					t.Errorf("%s: panel %q shows Deployments' replicas and not StatefulSets'", filepath.Base(f), p.Title)
				}
			}
		}
	}
	if panels == 0 {
		t.Error("no panel shows workloads' replicas")
	}
}

// TestDashboardCurrency renders the dashboards with dashboards.currency:
// the cost panels take Grafana's unit for a currency it knows, its custom
// currency unit for another, and no currencyUSD is left.
func TestDashboardCurrency(t *testing.T) {
	for currency, want := range map[string]string{"": "currencyUSD", "EUR": "currencyEUR", "CAD": "currency:CAD", "CA$": "currency:CA$"} {
		args := []string{"--set", "dashboards.enabled=true"}
		if currency != "" {
			args = append(args, "--set-string", "dashboards.currency="+currency)
		}
		r := template(t, args...)
		costPanels := 0
		for _, cm := range r.all("ConfigMap") {
			if cm.GetLabels()["grafana_dashboard"] == "" {
				continue
			}
			data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
			for name, body := range data {
				var d dashboard
				if err := json.Unmarshal([]byte(body), &d); err != nil {
					t.Fatalf("ConfigMap %s %s: not JSON with dashboards.currency=%q: %v", cm.GetName(), name, currency, err)
				}
				if currency != "" && strings.Contains(body, "currencyUSD") {
					t.Errorf("ConfigMap %s: currencyUSD left with dashboards.currency=%s", cm.GetName(), currency)
				}
				for _, p := range d.Panels {
					if strings.HasPrefix(p.FieldConfig.Defaults.Unit, "currency") {
						costPanels++
						if p.FieldConfig.Defaults.Unit != want {
							t.Errorf("dashboards.currency=%q: panel %q unit %q, want %q", currency, p.Title, p.FieldConfig.Defaults.Unit, want)
						}
					}
				}
			}
		}
		if costPanels == 0 {
			t.Errorf("dashboards.currency=%q: no cost panel rendered", currency)
		}
	}
}
