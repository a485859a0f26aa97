package reconciler

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/mlscale/mlscale/internal/render"
)

// Reconcile results, the values of the result label of
// mlscale_reconcile_total.
const (
	ResultCreated     = "created"
	ResultUpdated     = "updated"
	ResultUnchanged   = "unchanged"
	ResultDeleted     = "deleted"
	ResultNotEnabled  = "not_enabled"
	ResultGone        = "gone"
	ResultConflict    = "conflict"
	ResultRenderError = "render_error"
	ResultApplyError  = "apply_error"
	ResultError       = "error"
)

// Metrics are the reconciler's Prometheus metrics:
//
//   - mlscale_reconcile_total{kind,result}: reconciles by workload kind and
//     outcome (the Result* constants);
//   - mlscale_reconcile_duration_seconds{kind}: how long reconciles take;
//   - mlscale_keda_objects{namespace,kind}: ScaledObjects and ScaledJobs
//     labelled app.kubernetes.io/managed-by=mlscale, counted from the cache
//     at scrape time, reported by the elected leader only.
type Metrics struct {
	reconciles *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	objects    *objectsCollector
}

// NewMetrics creates the metrics, unregistered.
func NewMetrics() *Metrics {
	return &Metrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlscale_reconcile_total",
			Help: "Reconciles of annotated workloads by workload kind and result.",
		}, []string{"kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mlscale_reconcile_duration_seconds",
			Help:    "Time taken to reconcile one workload, by workload kind.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"kind"}),
		objects: &objectsCollector{desc: prometheus.NewDesc(
			"mlscale_keda_objects",
			"ScaledObjects and ScaledJobs managed by mlscale, by namespace and kind.",
			[]string{"namespace", "kind"}, nil)},
	}
}

// Register registers the metrics with reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.reconciles, m.duration, m.objects} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// DefaultMetrics returns the metrics registered in controller-runtime's
// metrics.Registry (served on the manager's metrics endpoint), registering
// them on first use. Several managers in one process (tests) share them.
func DefaultMetrics() (*Metrics, error) { return defaultMetrics() }

var defaultMetrics = sync.OnceValues(func() (*Metrics, error) {
	m := NewMetrics()
	return m, m.Register(crmetrics.Registry)
})

func (m *Metrics) observe(kind, result string, d time.Duration) {
	m.reconciles.WithLabelValues(kind, result).Inc()
	m.duration.WithLabelValues(kind).Observe(d.Seconds())
}

// objectSource is where objectsCollector counts from: the cache, once this
// replica is the leader (before that the reconciler's informers do not run).
type objectSource struct {
	reader  client.Reader
	elected <-chan struct{}
}

// objectsCollector counts mlscale's KEDA objects at scrape time.
type objectsCollector struct {
	desc   *prometheus.Desc
	source atomic.Pointer[objectSource]
}

func (c *objectsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *objectsCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.source.Load()
	if src == nil {
		return
	}
	select {
	case <-src.elected:
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	managed := client.MatchingLabels{render.LabelManagedBy: render.ManagedByValue}
	count := func(kind string, list client.ObjectList, each func(func(ns string))) {
		if err := src.reader.List(ctx, list, managed); err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		byNS := map[string]int{}
		each(func(ns string) { byNS[ns]++ })
		for ns, n := range byNS {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), ns, kind)
		}
	}
	var sos kedav1alpha1.ScaledObjectList
	count("ScaledObject", &sos, func(add func(string)) {
		for i := range sos.Items {
			add(sos.Items[i].Namespace)
		}
	})
	var sjs kedav1alpha1.ScaledJobList
	count("ScaledJob", &sjs, func(add func(string)) {
		for i := range sjs.Items {
			add(sjs.Items[i].Namespace)
		}
	})
}
