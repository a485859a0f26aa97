package helm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
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
// software exports, by source. Keep this list in step with the dashboards:
// the test fails on an entry no dashboard uses.
var externalMetrics = map[string]string{
	// KEDA's operator (keda.sh/docs/latest/integrations/prometheus).
	"keda_scaler_metrics_value":       "KEDA",
	"keda_scaler_active":              "KEDA",
	"keda_scaled_object_errors_total": "KEDA",
	// kube-state-metrics.
	"kube_namespace_labels":                                "kube-state-metrics",
	"kube_deployment_spec_replicas":                        "kube-state-metrics",
	"kube_deployment_status_replicas":                      "kube-state-metrics",
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

// promQLNames returns the metric names in a PromQL expression (or a
// Grafana label_values(metric, label) query): identifiers that are not
// functions, keywords, label names or numbers.
func promQLNames(expr string) []string {
	e := regexp.MustCompile(`"(?:[^"\\]|\\.)*"`).ReplaceAllString(expr, `""`) // strings
	e = regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(e, " ")              // label matchers
	e = regexp.MustCompile(`\[[^\]]*\]`).ReplaceAllString(e, " ")             // ranges
	e = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`).ReplaceAllString(e, " ")
	e = regexp.MustCompile(`(?i)\boffset\s+\S+`).ReplaceAllString(e, " ")
	e = regexp.MustCompile(`(?i)\b[0-9][0-9a-z.]*`).ReplaceAllString(e, " ") // numbers
	e = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,[^)]*\)`).ReplaceAllString(e, " $1 ")
	keywords := map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true}
	var out []string
	for _, m := range regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?`).FindAllStringSubmatch(e, -1) {
		if m[2] == "(" || keywords[strings.ToLower(m[1])] {
			continue // a function or aggregation, or a keyword
		}
		out = append(out, m[1])
	}
	return out
}

func TestPromQLNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (namespace, kind) (mlscale_keda_objects{namespace=~"$namespace"})`:                          {"mlscale_keda_objects"},
		`histogram_quantile(0.99, sum by (le) (rate(x_bucket{a="b{c}"}[5m]))) > 2.5`:                        {"x_bucket"},
		`sum(rate(a_total[1h])) * 3600 / on(pod) group_left(node) b`:                                        {"a_total", "b"},
		`label_values(kube_namespace_labels, namespace)`:                                                    {"kube_namespace_labels"},
		`sum(vllm:num_requests_waiting) and bool up offset 5m`:                                              {"vllm:num_requests_waiting", "up"},
		`max by (namespace, workload, reason) (mlscale_predictor_fallback{namespace=~"$namespace"}) == 1e3`: {"mlscale_predictor_fallback"},
	} {
		if got := promQLNames(expr); !slices.Equal(got, want) {
			t.Errorf("promQLNames(%q) = %v, want %v", expr, got, want)
		}
	}
}

// dashboardQueries returns every PromQL query of a Grafana dashboard: the
// panels' targets and the query variables.
func dashboardQueries(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Errorf("%s: uid %q title %q with %d panels", path, d.UID, d.Title, len(d.Panels))
	}
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
			t.Fatalf("%s: variable query: %v", path, err)
		}
		out = append(out, q.Query)
	}
	return out
}

// TestDashboardMetrics checks every metric name in the three dashboards'
// queries against the metrics mlscale's packages register (a histogram's
// _bucket, _sum and _count series included) and the documented external
// metrics.
func TestDashboardMetrics(t *testing.T) {
	own := projectMetrics(t)
	for _, n := range []string{"mlscale_reconcile_total", "mlscale_predictor_floor_replicas", "mlscale_gpu_utilization_percent", "mlscale_policy_violations"} {
		if !own[n] {
			t.Fatalf("%s not found among the registered metrics %v: the gathering is broken", n, own)
		}
	}
	files, err := filepath.Glob(filepath.Join(chartDir(t), "files", "dashboards", "*.json"))
	if err != nil || len(files) != 3 {
		t.Fatalf("want 3 dashboards in charts/mlscale/files/dashboards, got %v (%v)", files, err)
	}
	usedExternal := map[string]bool{}
	usedOwn := 0
	for _, f := range files {
		for _, q := range dashboardQueries(t, f) {
			names := promQLNames(q)
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
					t.Errorf("%s: query %q uses %s, which mlscale does not register and externalMetrics does not list", filepath.Base(f), q, n)
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
