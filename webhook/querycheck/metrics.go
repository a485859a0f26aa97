package querycheck

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metrics are the checker's Prometheus metrics:
//
//   - mlscale_trigger_query_series{namespace,kind,workload,trigger}: the
//     series the trigger's query returned at its last check; 0 means the
//     trigger reads nothing (TriggerQueryEmpty);
//   - mlscale_trigger_checks_total{status}: checks by status (ok, empty,
//     error, skipped).
type Metrics struct {
	series *prometheus.GaugeVec
	checks *prometheus.CounterVec
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		series: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mlscale_trigger_query_series",
			Help: "Series returned by a Prometheus trigger's query at its last check (0: the trigger reads nothing and KEDA takes it as 0).",
		}, []string{"namespace", "kind", "workload", "trigger"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlscale_trigger_checks_total",
			Help: "Checks of Prometheus triggers' queries, by status (ok, empty, error, skipped).",
		}, []string{"status"}),
	}
}

// DefaultMetrics returns the metrics registered in controller-runtime's
// registry, registering them on first use; several managers in one process
// (tests) share them.
func DefaultMetrics() (*Metrics, error) { return defaultMetrics() }

var defaultMetrics = sync.OnceValues(func() (*Metrics, error) {
	m := NewMetrics()
	for _, c := range []prometheus.Collector{m.series, m.checks} {
		if err := crmetrics.Registry.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
})

// observe records one trigger's check: its status and the series its query
// returned. A trigger that was not queried (skipped, or an error) has no
// series value.
func (m *Metrics) observe(namespace, kind, name, trigger, status string, series int) {
	if m == nil {
		return
	}
	m.checks.WithLabelValues(status).Inc()
	switch status {
	case StatusOK, StatusEmpty:
		m.series.WithLabelValues(namespace, kind, name, trigger).Set(float64(series))
	default:
		m.series.DeleteLabelValues(namespace, kind, name, trigger)
	}
}
